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
  // examples/no-iommu-on.yaml is planned, then the GRUB edit is reboot_required, the only bind
  // is reboot_required too (vfio-pci waits for the boot; it records e1000e) and the plan says
  // reboot required; after apply the next plan has no action and still says the reboot is
  // pending.
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
  json binds = ActionsOf(j, "bind");
  REQUIRE(binds.size() == 1);
  CHECK(binds[0]["device"] == "0000:02:00.0");
  CHECK(binds[0]["reboot_required"] == true);
  CHECK(ActionsOf(j, "load_module").empty());
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

namespace {

// Reads root/rel whole; "<missing>" when it cannot be read.
std::string ReadUnder(const std::string& root, const std::string& rel) {
  std::ifstream in(root + "/" + rel);
  if (!in) return "<missing>";
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string DriverUnder(const std::string& root, const std::string& bdf) {
  std::error_code ec;
  auto link = std::filesystem::read_symlink(root + "/sys/bus/pci/devices/" + bdf + "/driver", ec);
  return ec ? "" : link.filename().string();
}

}  // namespace

TEST_CASE("example host: a hide deferred to the boot is in the ledger and given back when dropped", "[cli][bootloader]") {
  // Given the no-iommu host after `apply examples/no-iommu-on.yaml` (02:00.0 still on e1000e,
  // its vfio-pci binding left to the boot's udev rule), then state.json records it with its
  // original driver e1000e and no override. Dropping the hide before the reboot forgets it
  // (nothing moves, no warning). Dropping it after the boot that put it on vfio-pci (the same
  // host with the IOMMU on, 02:00.0 on vfio-pci with driver_override vfio-pci, and the ledger
  // carried) gives it back to e1000e at once, override cleared, and empties the ledger.
  ScopedTempDir tmp("deferledger");
  std::string root = tmp.Sub("host");
  std::string spec_file = SourcePath("examples/hosts/no-iommu.yaml");
  REQUIRE(RunPtrec({"sandbox", "create", spec_file, root}).exit_code == 0);
  std::string desired = SourcePath("examples/no-iommu-on.yaml");
  std::string dropped = tmp.Sub("dropped.yaml");
  std::ofstream(dropped) << "apiVersion: ptrec/v1\nkind: HostConfig\nkernelArgs:\n  present: [intel_iommu=on, iommu=pt]\n";
  auto apply = [&](const std::string& host, const std::string& d) {
    Run r = RunPtrec({"apply", "--json", "-f", d, "--root", host, "--simulate", "--auto-approve"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
  };
  apply(root, desired);
  CHECK(DriverUnder(root, "0000:02:00.0") == "e1000e");
  json ledger = json::parse(ReadUnder(root, "var/lib/ptrec/state.json"));
  REQUIRE(ledger["bindings"].size() == 1);
  CHECK(ledger["bindings"][0]["bdf"] == "0000:02:00.0");
  CHECK(ledger["bindings"][0]["driver"] == "vfio-pci");
  CHECK(ledger["bindings"][0]["original_driver"] == "e1000e");
  CHECK(ledger["bindings"][0]["original_override"] == "");
  const std::string carried = ReadUnder(root, "var/lib/ptrec/state.json");

  SECTION("dropped before the reboot: forgotten, nothing moves") {
    Run plan = RunPtrec({"plan", "--json", "-f", dropped, "--root", root});
    INFO(plan.out << plan.err);
    json p = json::parse(plan.out);
    json releases = ActionsOf(p, "release");
    REQUIRE(releases.size() == 1);
    CHECK(releases[0]["device"] == "0000:02:00.0");
    for (const auto& f : p["findings"]) CHECK_THAT(f["message"].get<std::string>(), !Catch::Contains("leaves it as it is"));
    apply(root, dropped);
    CHECK(DriverUnder(root, "0000:02:00.0") == "e1000e");
    CHECK(ReadUnder(root, "sys/bus/pci/devices/0000:02:00.0/driver_override") == "(null)\n");
    CHECK(json::parse(ReadUnder(root, "var/lib/ptrec/state.json"))["bindings"].empty());
    CHECK(ReadUnder(root, "etc/udev/rules.d/70-ptrec.rules") == "<missing>");
  }

  SECTION("dropped after the boot that bound it: back on e1000e at once") {
    // Boot 2: the IOMMU on and the udev rule's work done, as a new host with the ledger carried.
    std::string spec = ReadUnder(std::filesystem::path(spec_file).parent_path(), std::filesystem::path(spec_file).filename());
    auto replace = [&](const std::string& from, const std::string& to) {
      auto at = spec.find(from);
      REQUIRE(at != std::string::npos);
      spec.replace(at, from.size(), to);
    };
    replace("iommu: none", "iommu: intel");
    replace("ro quiet", "ro quiet intel_iommu=on iommu=pt");
    replace("    driver: e1000e\n    msi: true\n    net: {name: enp2s0, up: false}",
            "    driver: vfio-pci\n    driver_override: vfio-pci\n    iommu_group: 7\n    msi: true");
    std::string booted_spec = tmp.Sub("booted.yaml");
    std::ofstream(booted_spec) << spec;
    std::string booted = tmp.Sub("booted");
    Run made = RunPtrec({"sandbox", "create", booted_spec, booted});
    INFO(made.out << made.err);
    REQUIRE(made.exit_code == 0);
    REQUIRE(DriverUnder(booted, "0000:02:00.0") == "vfio-pci");
    std::filesystem::create_directories(booted + "/var/lib/ptrec");
    std::ofstream(booted + "/var/lib/ptrec/state.json") << carried;
    // The boot unit's apply of the same desired state has nothing to do.
    Run again = RunPtrec({"plan", "--json", "-f", desired, "--root", booted});
    INFO(again.out << again.err);
    CHECK(ActionsOf(json::parse(again.out), "bind").empty());
    CHECK(ActionsOf(json::parse(again.out), "release").empty());
    json done = apply(booted, dropped);
    CHECK(DriverUnder(booted, "0000:02:00.0") == "e1000e");
    CHECK(ReadUnder(booted, "sys/bus/pci/devices/0000:02:00.0/driver_override") == "(null)\n");
    CHECK(json::parse(ReadUnder(booted, "var/lib/ptrec/state.json"))["bindings"].empty());
  }
}

TEST_CASE("cli: a saved plan with kernelArgs goes stale when the bootloader file changes", "[cli][bootloader]") {
  // Given the no-iommu host and `plan -out` of examples/no-iommu-on.yaml, then `apply FILE`
  // on the unchanged host applies it (the fingerprint covers the same GRUB text), while after
  // an edit of etc/default/grub between plan and apply it refuses with a stale-plan error and
  // leaves the file as the user wrote it.
  ScopedTempDir tmp("staleboot");
  std::string desired = SourcePath("examples/no-iommu-on.yaml");
  for (bool edit : {false, true}) {
    std::string root = tmp.Sub(edit ? "edited" : "same");
    REQUIRE(RunPtrec({"sandbox", "create", SourcePath("examples/hosts/no-iommu.yaml"), root}).exit_code == 0);
    std::string saved = tmp.Sub(edit ? "edited.json" : "same.json");
    Run plan = RunPtrec({"plan", "-f", desired, "--root", root, "-out", saved});
    INFO(plan.out << plan.err);
    REQUIRE(plan.exit_code == 2);
    std::string grub = ReadUnder(root, "etc/default/grub");
    REQUIRE(grub != "<missing>");
    if (edit) std::ofstream(root + "/etc/default/grub", std::ios::app) << "GRUB_TIMEOUT=1\n";
    const std::string before = ReadUnder(root, "etc/default/grub");
    Run apply = RunPtrec({"apply", saved, "--root", root, "--simulate", "--auto-approve"});
    INFO(edit << ": " << apply.out << apply.err);
    if (edit) {
      CHECK(apply.exit_code != 0);
      CHECK_THAT(apply.err + apply.out, Catch::Contains("stale"));
      CHECK(ReadUnder(root, "etc/default/grub") == before);
    } else {
      CHECK(apply.exit_code == 0);
      CHECK_THAT(ReadUnder(root, "etc/default/grub"), Catch::Contains("intel_iommu=on"));
    }
  }
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
