// End-to-end tests of the `ptrec` binary on sandbox hosts built from examples/hosts/, with the
// simulated kernel. The only test that looks at this machine's /sys reads it (show), never writes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/run_ptrec.h"
#include "tests/support/temp_dir.h"

namespace ptrec::testing {
namespace {

using nlohmann::json;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A sandbox host built from examples/hosts/NAME.yaml in a temp dir.
struct Sandbox {
  ScopedTempDir tmp{"cli"};
  std::string root = tmp.Sub("host");
  explicit Sandbox(const std::string& name) {
    Run r = RunPtrec({"sandbox", "create", SourcePath("examples/hosts/" + name + ".yaml"), root});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  Run Plan(const std::string& desired, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"plan", "-f", desired, "--root", root};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunPtrec(args);
  }
  Run Apply(const std::string& desired, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"apply", "-f", desired, "--root", root, "--simulate", "--auto-approve"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunPtrec(args);
  }
  // driver of every device, from `show --json`.
  std::map<std::string, std::string> Drivers() const {
    Run r = RunPtrec({"show", "--json", "--root", root});
    REQUIRE(r.exit_code == 0);
    std::map<std::string, std::string> out;
    json doc = json::parse(r.out);
    for (const auto& d : doc["devices"]) out[d["bdf"]] = d["driver"];
    return out;
  }
};

const char* kEmptyDesired = "apiVersion: ptrec/v1\nkind: HostConfig\n";

}  // namespace

TEST_CASE("cli: show on this machine's /sys lists exactly the kernel's PCI devices", "[cli]") {
  // Given the live /sys (read only), then show --json lists the BDFs of ls /sys/bus/pci/devices.
  std::set<std::string> expected;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/bus/pci/devices", ec))
    expected.insert(e.path().filename().string());
  Run r = RunPtrec({"show", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::set<std::string> listed;
  json doc = json::parse(r.out);
  for (const auto& d : doc["devices"]) listed.insert(d["bdf"].get<std::string>());
  CHECK(listed == expected);
}

TEST_CASE("cli: plan, apply and a second apply on every example", "[cli]") {
  // Given each example host and its desired state, then plan says changes pending (exit 2),
  // apply --simulate succeeds, and a second plan is empty (exit 0).
  auto [host, desired] = GENERATE(table<std::string, std::string>({
      {"dual-82576", "examples/82576-vfs.yaml"},
      {"dual-82576", "examples/82576-hide-port.yaml"},
      {"bcm5720-shared-group", "examples/bcm5720-hide-group.yaml"},
      {"bcm57810-bnx2x", "examples/bcm57810-vfs.yaml"},
      {"i350-libvirt", "examples/vm-i350.yaml"},
      {"dual-82576", "examples/vm-82576-vfs.yaml"},
      {"bcm5720-shared-group", "examples/vm-bcm5720-group.yaml"},
  }));
  INFO(host << " + " << desired);
  Sandbox box(host);
  Run plan = box.Plan(SourcePath(desired));
  INFO(plan.out << plan.err);
  CHECK(plan.exit_code == 2);
  Run apply = box.Apply(SourcePath(desired));
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  Run again = box.Plan(SourcePath(desired));
  INFO(again.out);
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("No changes"));
}

TEST_CASE("cli: removing everything from the desired state gives the host back", "[cli]") {
  // Given the 82576 host after applying VFs + a hidden port, when the desired state is empty,
  // then apply restores every driver and VF count as it was before ptrec.
  Sandbox box("dual-82576");
  auto before = box.Drivers();
  REQUIRE(box.Apply(SourcePath("examples/82576-vfs.yaml")).exit_code == 0);
  REQUIRE(box.Drivers() != before);
  WriteText(box.tmp.Sub("empty.yaml"), kEmptyDesired);
  Run plan = box.Plan(box.tmp.Sub("empty.yaml"));
  CHECK(plan.exit_code == 2);
  Run apply = box.Apply(box.tmp.Sub("empty.yaml"));
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(box.Drivers() == before);
  CHECK(box.Plan(box.tmp.Sub("empty.yaml")).exit_code == 0);
}

TEST_CASE("cli: a saved plan applies, and a stale one is refused", "[cli]") {
  Sandbox box("dual-82576");
  std::string plan_file = box.tmp.Sub("plan.json");
  REQUIRE(box.Plan(SourcePath("examples/82576-hide-port.yaml"), {"-out", plan_file}).exit_code == 2);
  SECTION("fresh") {
    Run r = RunPtrec({"apply", plan_file, "--root", box.root, "--simulate", "--auto-approve"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(box.Drivers()["0000:03:00.1"] == "vfio-pci");
  }
  SECTION("stale: the host changed after planning") {
    REQUIRE(box.Apply(SourcePath("examples/82576-vfs.yaml")).exit_code == 0);
    Run r = RunPtrec({"apply", plan_file, "--root", box.root, "--simulate", "--auto-approve"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("stale"));
  }
}

TEST_CASE("cli: a failure mid-apply rolls the whole run back", "[cli]") {
  // Given vfio-pci's probe fails on the simulated kernel, when the VFs are created and bound,
  // then apply exits 1, says it rolled back, and every driver and count is as before.
  Sandbox box("dual-82576");
  auto before = box.Drivers();
  WriteText(box.root + "/.ptrec-sim.yaml", "faults:\n  - match: vfio-pci\n    errno: EIO\n    after: 2\n");
  Run r = box.Apply(SourcePath("examples/82576-vfs.yaml"));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("undone"));
  CHECK(box.Drivers() == before);
  std::filesystem::remove(box.root + "/.ptrec-sim.yaml");
  CHECK(box.Plan(SourcePath("examples/82576-vfs.yaml")).exit_code == 2);
}

TEST_CASE("cli: sandboxes need --simulate, and --simulate refuses the live host", "[cli]") {
  Sandbox box("dual-82576");
  Run r = RunPtrec({"apply", "-f", SourcePath("examples/82576-hide-port.yaml"), "--root", box.root, "--auto-approve"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--simulate"));
  Run live = RunPtrec({"apply", "-f", SourcePath("examples/82576-hide-port.yaml"), "--simulate", "--auto-approve"});
  CHECK(live.exit_code == 1);
  CHECK_THAT(live.err, Catch::Contains("live"));
}

TEST_CASE("cli: refusals exit 1 and change nothing", "[cli]") {
  // Given the management NIC carries the default route, when it is hidden without force,
  // then plan and apply exit 1 and name the reason.
  Sandbox box("dual-82576");
  WriteText(box.tmp.Sub("mgmt.yaml"), std::string(kEmptyDesired) + "hide:\n  - device: \"0000:00:19.0\"\n");
  Run plan = box.Plan(box.tmp.Sub("mgmt.yaml"));
  CHECK(plan.exit_code == 1);
  CHECK_THAT(plan.out, Catch::Contains("default route"));
  auto before = box.Drivers();
  CHECK(box.Apply(box.tmp.Sub("mgmt.yaml")).exit_code == 1);
  CHECK(box.Drivers() == before);
}

TEST_CASE("cli: bad YAML names file, line and column and exits 1", "[cli]") {
  ScopedTempDir tmp{"cli"};
  WriteText(tmp.Sub("bad.yaml"), std::string(kEmptyDesired) + "sriov:\n  - device: \"0000:03:00.0\"\n    numVfs: four\n");
  Run r = RunPtrec({"validate", "-f", tmp.Sub("bad.yaml")});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("bad.yaml:5:13"));
}

TEST_CASE("cli: plan --json carries format_version and the actions", "[cli]") {
  Sandbox box("dual-82576");
  Run r = box.Plan(SourcePath("examples/82576-hide-port.yaml"), {"--json"});
  REQUIRE(r.exit_code == 2);
  json j = json::parse(r.out);
  CHECK(j["format_version"] == 1);
  CHECK(j["kind"] == "plan");
  REQUIRE(j["actions"].size() == 1);
  CHECK(j["actions"][0]["device"] == "0000:03:00.1");
  CHECK(j["actions"][0]["after"] == "vfio-pci");
}

TEST_CASE("cli: a snapshot plans like the host it was taken from", "[cli]") {
  // Given a sandbox host, when snapshotted, then plan --json on both gives the same actions.
  Sandbox box("bcm5720-shared-group");
  std::string snap = box.tmp.Sub("snap");
  Run s = RunPtrec({"snapshot", "--root", box.root, "--out", snap});
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  // The VM example too: the snapshot carries the domain XML (etc/libvirt/qemu/fw1.xml).
  for (const char* example : {"examples/bcm5720-hide-group.yaml", "examples/vm-bcm5720-group.yaml"}) {
    std::string desired = SourcePath(example);
    Run a = RunPtrec({"plan", "--json", "-f", desired, "--root", box.root});
    Run b = RunPtrec({"plan", "--json", "-f", desired, "--root", snap});
    INFO(example << "\n" << b.err);
    json ja = json::parse(a.out), jb = json::parse(b.out);
    CHECK(ja["actions"] == jb["actions"]);
    CHECK(ja["fingerprint"] == jb["fingerprint"]);
    CHECK(jb["refused"] == false);
  }
}

}  // namespace ptrec::testing

namespace ptrec::testing {

TEST_CASE("cli: a driver whose module is not loaded is loaded first (simulated modprobe)", "[cli]") {
  // Given the 82576 host with pci_stub available as a module but not loaded, when a port is
  // hidden on pci-stub, then the plan loads the module first and apply ends on pci-stub.
  ScopedTempDir tmp{"cli"};
  std::string spec = tmp.Sub("host.yaml");
  std::ifstream in(SourcePath("examples/hosts/dual-82576.yaml"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = text.find("{name: pci_stub, driver: pci-stub, builtin: true}");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("{name: pci_stub, driver: pci-stub, builtin: true}").size(),
               "{name: pci_stub, driver: pci-stub, loaded: false}");
  WriteText(spec, text);
  std::string root = tmp.Sub("host");
  REQUIRE(RunPtrec({"sandbox", "create", spec, root}).exit_code == 0);
  WriteText(tmp.Sub("stub.yaml"), std::string(kEmptyDesired) + "hide:\n  - device: \"0000:03:00.0\"\n    driver: pci-stub\n");
  Run plan = RunPtrec({"plan", "--json", "-f", tmp.Sub("stub.yaml"), "--root", root});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 2);
  json j = json::parse(plan.out);
  REQUIRE(j["actions"].size() == 2);
  CHECK(j["actions"][0]["kind"] == "load_module");
  CHECK(j["actions"][0]["module"] == "pci_stub");
  Run apply = RunPtrec({"apply", "-f", tmp.Sub("stub.yaml"), "--root", root, "--simulate", "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(RunPtrec({"plan", "-f", tmp.Sub("stub.yaml"), "--root", root}).exit_code == 0);
}

}  // namespace ptrec::testing

namespace ptrec::testing {

TEST_CASE("cli: on a host with udev and systemd, apply persists the state and cleans it up", "[cli]") {
  // Given a sandbox that runs udev and systemd, when a port is hidden, then the udev rule, the
  // boot unit and the desired-state copy appear (commands recorded, not run); a second plan is
  // empty; with an empty desired state they are removed again.
  Sandbox box("dual-82576");
  std::filesystem::create_directories(box.root + "/run/systemd/system");
  std::filesystem::create_directories(box.root + "/run/udev");
  WriteText(box.root + "/run/udev/control", "");
  Run apply = box.Apply(SourcePath("examples/82576-hide-port.yaml"));
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK_THAT(apply.out, Catch::Contains("then runs: udevadm control --reload"));
  std::ifstream rules(box.root + "/etc/udev/rules.d/70-ptrec.rules");
  std::string text((std::istreambuf_iterator<char>(rules)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Catch::Contains("KERNEL==\"0000:03:00.1\", ATTR{driver_override}=\"vfio-pci\""));
  CHECK(std::filesystem::exists(box.root + "/etc/systemd/system/ptrec-apply.service"));
  CHECK(std::filesystem::exists(box.root + "/etc/ptrec/host.yaml"));
  CHECK(box.Plan(SourcePath("examples/82576-hide-port.yaml")).exit_code == 0);
  WriteText(box.tmp.Sub("empty.yaml"), kEmptyDesired);
  REQUIRE(box.Apply(box.tmp.Sub("empty.yaml")).exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(box.root + "/etc/udev/rules.d/70-ptrec.rules"));
  CHECK_FALSE(std::filesystem::exists(box.root + "/etc/systemd/system/ptrec-apply.service"));
  CHECK_FALSE(std::filesystem::exists(box.root + "/etc/ptrec/host.yaml"));
  CHECK(box.Plan(box.tmp.Sub("empty.yaml")).exit_code == 0);
}

}  // namespace ptrec::testing

namespace ptrec::testing {

TEST_CASE("cli: turning the IOMMU on edits GRUB, defers vfio-pci and reports the pending reboot", "[cli]") {
  // Given the no-IOMMU host with a Debian /etc/default/grub, when the desired state adds
  // intel_iommu=on iommu=pt and hides its spare NIC, then: the plan edits GRUB (reboot
  // required) and binds nothing now (its bind is reboot_required); apply writes the file (with a backup) and records
  // update-grub; the next plan has no action and still says a reboot is pending.
  Sandbox box("no-iommu");
  std::filesystem::create_directories(box.root + "/etc/default");
  std::filesystem::create_directories(box.root + "/usr/sbin");
  const std::string grub =
      "# If you change this file, run 'update-grub' afterwards.\n"
      "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n"
      "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
      "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n";
  WriteText(box.root + "/etc/default/grub", grub);
  WriteText(box.root + "/usr/sbin/update-grub", "");
  WriteText(box.tmp.Sub("on.yaml"), std::string(kEmptyDesired) +
                                        "kernelArgs:\n  present: [intel_iommu=on, iommu=pt]\n"
                                        "hide:\n  - device: \"0000:02:00.0\"\n");
  Run plan = RunPtrec({"plan", "--json", "-f", box.tmp.Sub("on.yaml"), "--root", box.root});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 2);
  json j = json::parse(plan.out);
  REQUIRE(j["actions"].size() == 2);
  CHECK(j["actions"][0]["kind"] == "edit_bootloader");
  CHECK(j["actions"][0]["reboot_required"] == true);
  CHECK(j["actions"][0]["commands"] == json::array({json::array({"update-grub"})}));
  // The bind only records e1000e for the ledger; the boot's udev rule moves the device.
  CHECK(j["actions"][1]["kind"] == "bind");
  CHECK(j["actions"][1]["device"] == "0000:02:00.0");
  CHECK(j["actions"][1]["reboot_required"] == true);
  CHECK(j["reboot_required"] == true);
  Run apply = box.Apply(box.tmp.Sub("on.yaml"));
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  std::ifstream in(box.root + "/etc/default/grub");
  std::string edited((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(edited == "# If you change this file, run 'update-grub' afterwards.\n"
                  "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n"
                  "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
                  "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n");
  CHECK(std::filesystem::exists(box.root + "/var/lib/ptrec/backup/etc/default"));
  Run again = RunPtrec({"plan", "--json", "-f", box.tmp.Sub("on.yaml"), "--root", box.root});
  INFO(again.out);
  CHECK(again.exit_code == 0);
  json k = json::parse(again.out);
  CHECK(k["actions"].empty());
  CHECK(k["reboot_required"] == true);
  REQUIRE(k["pending_reboot"].size() == 1);
  CHECK_THAT(k["pending_reboot"][0].get<std::string>(), Catch::Contains("not running"));
}

}  // namespace ptrec::testing

namespace ptrec::testing {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Host BDFs of the PCI hostdevs in `show --json`'s vms[name].config (or .live).
std::set<std::string> Hostdevs(const Sandbox& box, const std::string& vm, const char* which) {
  Run r = RunPtrec({"show", "--json", "--root", box.root});
  REQUIRE(r.exit_code == 0);
  std::set<std::string> out;
  json doc = json::parse(r.out);  // kept: a range-for over a temporary's member would dangle
  for (const auto& v : doc["vms"])
    if (v["name"] == vm)
      for (const auto& h : v[which]) out.insert(h["source"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("cli: VFs given as PF + index end up in the running domain's config and live XML", "[cli][vm]") {
  // Given dual-82576 with the running guest1, when vm-82576-vfs.yaml is applied, then both VFs
  // are on vfio-pci and in guest1's persistent and live definitions, with the guest address.
  Sandbox box("dual-82576");
  Run plan = box.Plan(SourcePath("examples/vm-82576-vfs.yaml"));
  INFO(plan.out << plan.err);
  CHECK_THAT(plan.out, Catch::Contains("vm guest1: VF 1 of 0000:03:00.0 (0000:03:10.2)"));
  CHECK_THAT(plan.out, Catch::Contains("attach to guest1 (config and live, guest 0000:07:00.0)"));
  Run apply = box.Apply(SourcePath("examples/vm-82576-vfs.yaml"));
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(box.Drivers()["0000:03:10.2"] == "vfio-pci");
  std::set<std::string> both = {"0000:03:10.0", "0000:03:10.2"};
  CHECK(Hostdevs(box, "guest1", "config") == both);
  CHECK(Hostdevs(box, "guest1", "live") == both);
  std::string xml = ReadText(box.root + "/etc/libvirt/qemu/guest1.xml");
  CHECK_THAT(xml, Catch::Contains("managed=\"no\""));
  CHECK_THAT(xml, Catch::Contains("bus=\"0x07\""));
  CHECK_THAT(ReadText(box.root + "/var/lib/ptrec/state.json"), Catch::Contains("\"vm\": \"guest1\""));

  SECTION("dropping the VM's devices detaches them live before the VF count goes back") {
    WriteText(box.tmp.Sub("none.yaml"), std::string(kEmptyDesired) + "vms:\n  - {name: guest1, hotplug: true}\n");
    Run p2 = box.Plan(box.tmp.Sub("none.yaml"));
    INFO(p2.out);
    CHECK_THAT(p2.out, Catch::Contains("vm guest1 loses VF 0000:03:10.0"));
    Run a2 = box.Apply(box.tmp.Sub("none.yaml"));
    INFO(a2.out << a2.err);
    REQUIRE(a2.exit_code == 0);
    CHECK(Hostdevs(box, "guest1", "config").empty());
    CHECK(Hostdevs(box, "guest1", "live").empty());
    CHECK_FALSE(box.Drivers().count("0000:03:10.0"));
  }
  SECTION("an empty desired state is refused while the running guest holds the VFs") {
    WriteText(box.tmp.Sub("empty.yaml"), kEmptyDesired);
    Run p2 = box.Plan(box.tmp.Sub("empty.yaml"));
    CHECK(p2.exit_code == 1);
    CHECK_THAT(p2.out, Catch::Contains("which the running vm guest1 holds"));
    CHECK(Hostdevs(box, "guest1", "live") == both);
  }
}

TEST_CASE("cli: managed: true adds the hostdev without touching the driver", "[cli][vm]") {
  Sandbox box("i350-libvirt");
  Run apply = box.Apply(SourcePath("examples/vm-i350.yaml"));
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(box.Drivers()["0000:07:00.0"] == "igb");
  CHECK(Hostdevs(box, "rhel7.3", "config") == std::set<std::string>{"0000:07:00.0"});
  CHECK_THAT(ReadText(box.root + "/etc/libvirt/qemu/rhel7.3.xml"), Catch::Contains("managed=\"yes\""));
}

TEST_CASE("cli: VM refusals: missing domain, split IOMMU group", "[cli][vm]") {
  Sandbox box("bcm5720-shared-group");
  SECTION("a domain that does not exist") {
    WriteText(box.tmp.Sub("d.yaml"), std::string(kEmptyDesired) + "vms:\n  - {name: nosuch, devices: [{device: \"0000:02:00.0\"}]}\n");
    Run r = box.Plan(box.tmp.Sub("d.yaml"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("domain nosuch does not exist"));
  }
  SECTION("one function of the group only") {
    WriteText(box.tmp.Sub("d.yaml"), std::string(kEmptyDesired) + "vms:\n  - {name: fw1, devices: [{device: \"0000:02:00.0\", managed: true}]}\n");
    Run r = box.Plan(box.tmp.Sub("d.yaml"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("IOMMU group 16 would be split between vm fw1"));
  }
}

TEST_CASE("cli: a saved VM plan is stale once the domain changed", "[cli][vm]") {
  Sandbox box("bcm5720-shared-group");
  std::string plan_file = box.tmp.Sub("plan.json");
  REQUIRE(box.Plan(SourcePath("examples/vm-bcm5720-group.yaml"), {"-out", plan_file}).exit_code == 2);
  SECTION("fresh: the plan file names the domains, which are described again and match") {
    Run r = RunPtrec({"apply", plan_file, "--root", box.root, "--simulate", "--auto-approve"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(Hostdevs(box, "fw1", "config") == std::set<std::string>{"0000:02:00.0", "0000:02:00.1"});
  }
  SECTION("stale: the domain starts (its live XML appears) after planning") {
    std::filesystem::create_directories(box.root + "/run/libvirt/qemu");
    std::filesystem::copy_file(box.root + "/etc/libvirt/qemu/fw1.xml", box.root + "/run/libvirt/qemu/fw1.xml");
    Run r = RunPtrec({"apply", plan_file, "--root", box.root, "--simulate", "--auto-approve"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("stale"));
  }
}

TEST_CASE("cli: a sandbox VM with an explicit URI is not simulated", "[cli][vm]") {
  // The default connection is simulated under a sandbox root; an explicit uri goes to libvirt,
  // and a socket that does not exist makes the VM unreachable: refused, nothing planned.
  Sandbox box("bcm5720-shared-group");
  WriteText(box.tmp.Sub("d.yaml"), std::string(kEmptyDesired) + "vms:\n  - name: fw1\n    uri: \"qemu:///system?socket=" +
                                       box.tmp.Sub("no-libvirt-sock") + "\"\n    devices: [{device: \"0000:02:00.0\"}, {device: \"0000:02:00.1\"}]\n");
  Run r = box.Plan(box.tmp.Sub("d.yaml"));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("Refused vms[0]"));
}

}  // namespace ptrec::testing

#include "tests/support/qmp_fixtures.h"

namespace ptrec::testing {

TEST_CASE("cli: a QEMU over QMP: live-only plan, and a failed device_add rolls the binds back", "[cli][vm][qemu]") {
  // Given a real QEMU (TCG, -S) with two free root ports and a sandbox whose BCM5720 functions
  // this machine does not have, when a vms entry gives both to the QEMU over its QMP socket,
  // then the plan attaches them live only; apply binds them in the sandbox, QEMU's device_add
  // fails (no such host device here), and the whole run is undone: both back on tg3.
  REQUIRE_FALSE(std::filesystem::exists("/sys/bus/pci/devices/0000:02:00.0"));
  ScopedTempDir qdir{"cli-qemu"};
  QemuProcess qemu(qdir.path(), {"-device", "pcie-root-port,id=rp1,chassis=1,bus=pcie.0", "-device",
                                 "pcie-root-port,id=rp2,chassis=2,bus=pcie.0"});
  Sandbox box("bcm5720-shared-group");
  std::string head = std::string(kEmptyDesired) + "vms:\n  - name: fwq\n    qmp: " + qemu.socket_path() + "\n";
  std::string devices = "    devices: [{device: \"0000:02:00.0\"}, {device: \"0000:02:00.1\"}]\n";
  SECTION("hotplug: true") {
    WriteText(box.tmp.Sub("q.yaml"), head + "    hotplug: true\n" + devices);
    Run plan = box.Plan(box.tmp.Sub("q.yaml"));
    INFO(plan.out << plan.err << qemu.log());
    CHECK(plan.exit_code == 2);
    CHECK_THAT(plan.out, Catch::Contains("vm fwq: 0000:02:00.1  attach to fwq (live only)"));
    Run apply = box.Apply(box.tmp.Sub("q.yaml"));
    INFO(apply.out << apply.err);
    CHECK(apply.exit_code == 1);
    CHECK_THAT(apply.out, Catch::Contains("0000:02:00.0"));
    CHECK_THAT(apply.out, Catch::Contains("Every step this run made was undone"));
    CHECK(box.Drivers()["0000:02:00.0"] == "tg3");
    CHECK(box.Drivers()["0000:02:00.1"] == "tg3");
  }
  SECTION("hotplug: false cannot change a VM that has no persistent definition") {
    WriteText(box.tmp.Sub("q.yaml"), head + devices);
    Run plan = box.Plan(box.tmp.Sub("q.yaml"));
    CHECK(plan.exit_code == 1);
    CHECK_THAT(plan.out, Catch::Contains("is reached over QMP, which has no persistent definition"));
  }
}

}  // namespace ptrec::testing
