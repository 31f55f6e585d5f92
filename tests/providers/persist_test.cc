// Persistence: the udev rules and unit text, and which owned-file actions a plan gets.
#include <catch2/catch.hpp>

#include "providers/persist/persist.h"

namespace ptrec {
namespace {
Bdf B(const char* s) { return *Bdf::Parse(s); }
}  // namespace

TEST_CASE("persist: udev rules set driver_override on add and VF counts on bind", "[persist]") {
  // Given one hidden device and one PF with VFs for vfio-pci, then two rules, exactly these.
  PersistSpec spec;
  spec.overrides = {{B("0000:03:00.1"), "vfio-pci"}};
  spec.vf_counts = {{B("0000:03:00.0"), 7, true}};
  std::string rules = persist::RenderUdevRules(spec);
  CHECK_THAT(rules, Catch::Contains(
      "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"0000:03:00.1\", ATTR{driver_override}=\"vfio-pci\"\n"));
  CHECK_THAT(rules, Catch::Contains(
      "ACTION==\"bind\", SUBSYSTEM==\"pci\", KERNEL==\"0000:03:00.0\", ATTR{sriov_drivers_autoprobe}=\"0\", "
      "ATTR{sriov_numvfs}=\"7\"\n"));
  CHECK_THAT(rules, Catch::StartsWith("# Written by ptrec"));
}

TEST_CASE("persist: the boot unit runs ptrec apply before libvirtd", "[persist]") {
  std::string unit = persist::RenderApplyUnit("/usr/local/bin/ptrec");
  CHECK_THAT(unit, Catch::Contains("ExecStart=/usr/local/bin/ptrec apply --auto-approve -f /etc/ptrec/host.yaml\n"));
  CHECK_THAT(unit, Catch::Contains("Before=libvirtd.service"));
  CHECK_THAT(unit, Catch::Contains("Type=oneshot"));
}

TEST_CASE("persist: files are written where the mechanism exists, and removed when unneeded", "[persist]") {
  HostState host;
  Plan plan;
  plan.persist.overrides = {{B("0000:03:00.1"), "vfio-pci"}};
  DesiredState desired;
  desired.text = "apiVersion: ptrec/v1\nkind: HostConfig\n";
  SECTION("no udev, no systemd: nothing") {
    CHECK(persist::PersistActions(plan, desired, host, {false, false}, "", "/p").empty());
  }
  SECTION("udev and systemd: rules, the desired-state copy and the unit") {
    auto acts = persist::PersistActions(plan, desired, host, {true, true}, "", "/p");
    REQUIRE(acts.size() == 3);
    CHECK(acts[0].path == persist::kUdevRulesPath);
    CHECK(acts[0].commands == std::vector<std::string>{"udevadm control --reload"});
    CHECK(acts[1].path == persist::kDesiredCopyPath);
    CHECK(acts[1].content == desired.text);
    CHECK(acts[2].path == persist::kUnitPath);
    CHECK(acts[2].commands == std::vector<std::string>{"systemctl daemon-reload", "systemctl enable ptrec-apply.service"});
    for (const auto& a : acts) CHECK(a.symbol() == '+');
  }
  SECTION("already in place: nothing") {
    host.owned_files[persist::kUdevRulesPath] = persist::RenderUdevRules(plan.persist);
    CHECK(persist::PersistActions(plan, desired, host, {true, false}, "", "/p").empty());
  }
  SECTION("nothing left to persist: the old rules go") {
    host.owned_files[persist::kUdevRulesPath] = "old";
    auto acts = persist::PersistActions(Plan{}, desired, host, {true, true}, "", "/p");
    REQUIRE(acts.size() == 1);
    CHECK(acts[0].remove);
    CHECK(acts[0].symbol() == '-');
  }
}

}  // namespace ptrec
