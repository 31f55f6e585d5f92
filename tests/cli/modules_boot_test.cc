// Module reloads (modules[].allowReload) end to end on the dual-82576 sandbox host: which
// parameter changes are reloaded now, which wait for the next boot, what the plan lists as
// disrupted, and what the simulated kernel does on `modprobe -r` + `modprobe M P=V`.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/run_ptrec.h"
#include "tests/support/temp_dir.h"

namespace ptrec::testing {
namespace {

using nlohmann::json;

struct ReloadBox {
  ScopedTempDir tmp{"reload"};
  std::string root = tmp.Sub("host");
  ReloadBox() {
    Run r = RunPtrec({"sandbox", "create", SourcePath("examples/hosts/dual-82576.yaml"), root});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  std::string Desired(const std::string& name, const std::string& body) {
    std::string path = tmp.Sub(name);
    std::ofstream(path) << "apiVersion: ptrec/v1\nkind: HostConfig\n" << body;
    return path;
  }
  json Plan(const std::string& desired) {
    Run r = RunPtrec({"plan", "--json", "-f", desired, "--root", root});
    INFO(r.out << r.err);
    REQUIRE((r.exit_code == 0 || r.exit_code == 2));
    return json::parse(r.out);
  }
  Run Apply(const std::string& desired) {
    return RunPtrec({"apply", "--json", "-f", desired, "--root", root, "--simulate", "--auto-approve"});
  }
  std::string Read(const std::string& rel) {
    std::ifstream in(root + "/" + rel);
    if (!in) return "<missing>";
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string Driver(const std::string& bdf) {
    std::error_code ec;
    auto link = std::filesystem::read_symlink(root + "/sys/bus/pci/devices/" + bdf + "/driver", ec);
    return ec ? "" : link.filename().string();
  }
};

json ActionsOf(const json& plan, const std::string& kind) {
  json out = json::array();
  for (const auto& a : plan["actions"])
    if (a["kind"] == kind) out.push_back(a);
  return out;
}

const char* kHidePort1 = "hide:\n  - device: \"0000:03:00.1\"\n    driver: vfio-pci\n    force: true\n";

}  // namespace

TEST_CASE("reload: an unused module is reloaded with its new parameter", "[cli][modules]") {
  // Given vfio_pci loaded and driving no device, when disable_idle_d3 changes, then the plan
  // reloads it now (no allowReload needed: nothing is disrupted) after writing modprobe.d.
  ReloadBox box;
  auto d = box.Desired("d.yaml", "modules:\n  - name: vfio_pci\n    parameters: {disable_idle_d3: 1}\n");
  json plan = box.Plan(d);
  json reloads = ActionsOf(plan, "reload_module");
  REQUIRE(reloads.size() == 1);
  CHECK(reloads[0]["module"] == "vfio_pci");
  CHECK(reloads[0]["phase"] == "modules");
  CHECK(reloads[0]["before"] == "disable_idle_d3=N");
  CHECK(reloads[0]["after"] == "disable_idle_d3=1");
  CHECK(reloads[0]["disrupts"].empty());
  CHECK(reloads[0]["commands"] == json::parse(R"([["modprobe","-r","vfio_pci"],["modprobe","vfio_pci","disable_idle_d3=1"]])"));
  CHECK(plan["pending_reboot"].empty());
  REQUIRE(ActionsOf(plan, "write_file").size() == 1);  // etc/modprobe.d/ptrec.conf, phase boot, first
  CHECK(plan["actions"][0]["path"] == "etc/modprobe.d/ptrec.conf");

  Run apply = box.Apply(d);
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(box.Read("sys/module/vfio_pci/parameters/disable_idle_d3") == "1\n");
  CHECK(box.Read("sys/module/vfio_pci/parameters/enable_sriov") == "N\n");  // kept across the reload
  json again = box.Plan(d);
  CHECK(again["actions"].empty());
  CHECK(again["pending_reboot"].empty());
  CHECK(again["reboot_required"] == false);
}

TEST_CASE("reload: a module driving devices waits for the boot unless allowReload", "[cli][modules]") {
  // Given port 1 hidden on vfio-pci, when vfio_pci's parameter changes without allowReload,
  // then no reload: the plan says "at next boot"; with allowReload: true the reload lists port 1
  // as disrupted, and after it port 1 is on vfio-pci again (driver_override survives).
  ReloadBox box;
  auto hide = box.Desired("hide.yaml", kHidePort1);
  Run hidden = box.Apply(hide);
  INFO(hidden.out << hidden.err);
  REQUIRE(hidden.exit_code == 0);
  REQUIRE(box.Driver("0000:03:00.1") == "vfio-pci");

  auto no = box.Desired("no.yaml", std::string(kHidePort1) +
                                       "modules:\n  - name: vfio_pci\n    parameters: {disable_idle_d3: \"Y\"}\n");
  json plan = box.Plan(no);
  CHECK(ActionsOf(plan, "reload_module").empty());
  REQUIRE(plan["pending_reboot"].size() == 1);
  std::string pending = plan["pending_reboot"][0];
  CHECK_THAT(pending, Catch::Contains("vfio_pci disable_idle_d3=Y at next boot"));
  CHECK_THAT(pending, Catch::Contains("1 device(s) use it and allowReload is not set"));
  CHECK(plan["reboot_required"] == true);

  auto yes = box.Desired("yes.yaml", std::string(kHidePort1) +
                                         "modules:\n  - name: vfio_pci\n    parameters: {disable_idle_d3: \"Y\"}\n"
                                         "    allowReload: true\n");
  plan = box.Plan(yes);
  json reloads = ActionsOf(plan, "reload_module");
  REQUIRE(reloads.size() == 1);
  REQUIRE(reloads[0]["disrupts"].size() == 1);
  CHECK_THAT(reloads[0]["disrupts"][0].get<std::string>(), Catch::StartsWith("0000:03:00.1 leaves vfio-pci"));
  CHECK(plan["pending_reboot"].empty());
  Run apply = box.Apply(yes);
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(box.Read("sys/module/vfio_pci/parameters/disable_idle_d3") == "Y\n");
  CHECK(box.Driver("0000:03:00.1") == "vfio-pci");
  CHECK(box.Read("sys/bus/pci/devices/0000:03:00.1/driver_override") == "vfio-pci\n");
  CHECK(box.Plan(yes)["actions"].empty());
}

TEST_CASE("reload: a module in use is not reloaded even with allowReload", "[cli][modules]") {
  // Given vfio_pci's refcnt at 1 (a VM has a device open), when its parameter changes with
  // allowReload, then no reload (modprobe -r would fail with "in use"): pending plus a warning.
  ReloadBox box;
  std::ofstream(box.root + "/sys/module/vfio_pci/refcnt") << "1\n";
  auto d = box.Desired("d.yaml", "modules:\n  - name: vfio_pci\n    parameters: {disable_idle_d3: 1}\n"
                                 "    allowReload: true\n");
  json plan = box.Plan(d);
  CHECK(ActionsOf(plan, "reload_module").empty());
  REQUIRE(plan["pending_reboot"].size() == 1);
  CHECK_THAT(plan["pending_reboot"][0].get<std::string>(), Catch::Contains("in use (refcnt 1"));
  bool warned = false;
  for (const auto& f : plan["findings"])
    warned = warned || (f["severity"] == "warning" &&
                        f["message"].get<std::string>().find("allowReload is set but vfio_pci cannot be reloaded") != std::string::npos);
  CHECK(warned);
}

TEST_CASE("reload: the plan fingerprint covers module parameters", "[cli][modules]") {
  // Given a saved plan, when a parameter of a module the desired state configures changes on
  // the host, then `apply FILE` refuses the plan as stale.
  ReloadBox box;
  auto d = box.Desired("d.yaml", "modules:\n  - name: vfio_pci\n    parameters: {disable_idle_d3: 1}\n");
  std::string saved = box.tmp.Sub("plan.json");
  Run plan = RunPtrec({"plan", "-f", d, "--root", box.root, "-out", saved});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 2);
  std::ofstream(box.root + "/sys/module/vfio_pci/parameters/disable_idle_d3") << "Y\n";
  Run apply = RunPtrec({"apply", saved, "--root", box.root, "--simulate", "--auto-approve"});
  CHECK(apply.exit_code != 0);
  CHECK_THAT(apply.err + apply.out, Catch::Contains("stale"));
}

}  // namespace ptrec::testing

namespace ptrec::testing {

TEST_CASE("example host: iommu-on plans a GRUB edit on dual-82576 (files: in the host spec)", "[cli][bootloader]") {
  // Given dual-82576 built with its etc/default/grub (intel_iommu=on but not iommu=pt, which
  // only runs) and usr/sbin/update-grub, when examples/iommu-on.yaml is planned, then one
  // bootloader edit adds iommu=pt and names update-grub, with no reboot (it already runs);
  // after apply --simulate the file has it and the next plan has no edit.
  ReloadBox box;
  json plan = box.Plan(SourcePath("examples/iommu-on.yaml"));
  json edits = ActionsOf(plan, "edit_bootloader");
  REQUIRE(edits.size() == 1);
  CHECK(edits[0]["path"] == "etc/default/grub");
  CHECK(edits[0]["commands"] == json::parse(R"([["update-grub"]])"));
  CHECK(edits[0]["reboot_required"] == false);
  Run apply = box.Apply(SourcePath("examples/iommu-on.yaml"));
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK_THAT(box.Read("etc/default/grub"), Catch::Contains("GRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n"));
  json again = box.Plan(SourcePath("examples/iommu-on.yaml"));
  CHECK(ActionsOf(again, "edit_bootloader").empty());
}

TEST_CASE("example host: no-iommu-on turns the IOMMU on for the next boot", "[cli][bootloader]") {
  // Given the no-iommu host (no groups, GRUB without intel_iommu=on), when
  // examples/no-iommu-on.yaml is planned, then the GRUB edit is reboot_required, no bind is
  // planned (vfio-pci waits for the boot) and the plan says reboot required; after apply the
  // next plan has no action and still says the reboot is pending.
  ScopedTempDir tmp("noiommu");
  std::string root = tmp.Sub("host");
  REQUIRE(RunPtrec({"sandbox", "create", SourcePath("examples/hosts/no-iommu.yaml"), root}).exit_code == 0);
  std::string desired = SourcePath("examples/no-iommu-on.yaml");
  Run plan = RunPtrec({"plan", "--json", "-f", desired, "--root", root});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 2);
  json j = json::parse(plan.out);
  json edits = ActionsOf(j, "edit_bootloader");
  REQUIRE(edits.size() == 1);
  CHECK(edits[0]["reboot_required"] == true);
  CHECK(edits[0]["commands"] == json::parse(R"([["update-grub"]])"));
  CHECK(ActionsOf(j, "bind").empty());
  CHECK(j["reboot_required"] == true);
  Run apply = RunPtrec({"apply", "-f", desired, "--root", root, "--simulate", "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK_THAT(apply.out, Catch::Contains("Reboot required"));
  Run again = RunPtrec({"plan", "--json", "-f", desired, "--root", root});
  json k = json::parse(again.out);
  CHECK(k["actions"].empty());
  CHECK(k["reboot_required"] == true);
}

TEST_CASE("snapshot: carries module parameters and the boot configuration", "[cli][snapshot]") {
  // Given the dual-82576 sandbox, when it is snapshotted, then the snapshot has the running
  // module parameters, refcnt/initstate and etc/default/grub, and a plan with kernelArgs and a
  // module parameter made on the snapshot equals the plan made on the host (fingerprint too).
  ReloadBox box;
  std::string snap = box.tmp.Sub("snap");
  Run s = RunPtrec({"snapshot", "--root", box.root, "--out", snap});
  INFO(s.out << s.err);
  REQUIRE(s.exit_code == 0);
  CHECK(std::filesystem::exists(snap + "/sys/module/vfio_pci/parameters/disable_idle_d3"));
  CHECK(std::filesystem::exists(snap + "/sys/module/vfio_pci/refcnt"));
  CHECK(std::filesystem::exists(snap + "/etc/default/grub"));
  CHECK(std::filesystem::exists(snap + "/usr/sbin/update-grub"));
  auto d = box.Desired("d.yaml", "kernelArgs:\n  present: [intel_iommu=on, iommu=pt]\n"
                                 "modules:\n  - name: vfio_pci\n    parameters: {disable_idle_d3: 1}\n");
  json on_host = box.Plan(d);
  Run on_snap = RunPtrec({"plan", "--json", "-f", d, "--root", snap});
  INFO(on_snap.out << on_snap.err);
  json j = json::parse(on_snap.out);
  CHECK(j["fingerprint"] == on_host["fingerprint"]);
  CHECK(j["actions"] == on_host["actions"]);
  CHECK(j["pending_reboot"] == on_host["pending_reboot"]);
}

}  // namespace ptrec::testing
