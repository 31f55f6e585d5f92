// Planner tests: HostState literals in, Plan out. No filesystem.
#include <catch2/catch.hpp>

#include "reconciler/json_io.h"
#include "reconciler/plan.h"

namespace ptrec {
namespace {

Bdf B(const char* s) { return *Bdf::Parse(s); }

PciDevice Dev(const char* bdf, const char* id, const char* driver, int group) {
  PciDevice d;
  d.bdf = B(bdf);
  d.id = *PciId::Parse(id);
  d.class_code = 0x020000;
  d.driver = driver;
  d.iommu_group = group;
  d.config_read = true;
  d.msi = d.msix = true;
  return d;
}

// A host shaped like the dual-82576 example: two PFs (7 VFs max, offset 128, stride 2), a
// management NIC on the default route, a root port.
struct HostFixture {
  HostState host;
  HostFixture() {
    host.root = "test";
    host.iommu_active = true;
    host.loaded_drivers = {"igb", "igbvf", "e1000e", "vfio-pci", "pcieport"};
    PciDevice port = Dev("0000:00:01.0", "8086:3c02", "pcieport", 1);
    port.class_code = 0x060400;
    port.header_type = 1;
    PciDevice mgmt = Dev("0000:00:19.0", "8086:10bd", "e1000e", 5);
    mgmt.net_interfaces = {"eno1"};
    PciDevice pf0 = Dev("0000:03:00.0", "8086:10c9", "igb", 14);
    pf0.sriov = SriovFacts{7, 0, true, 128, 2, 0x10ca};
    pf0.net_interfaces = {"enp3s0f0"};
    PciDevice pf1 = Dev("0000:03:00.1", "8086:10c9", "igb", 15);
    pf1.sriov = SriovFacts{7, 0, true, 128, 2, 0x10ca};
    host.devices = {port, mgmt, pf0, pf1};
    host.iommu_groups = {{1, {B("0000:00:01.0")}}, {5, {B("0000:00:19.0")}}, {14, {B("0000:03:00.0")}},
                         {15, {B("0000:03:00.1")}}};
    host.net_interfaces = {{"eno1", B("0000:00:19.0"), true, true, true},
                           {"enp3s0f0", B("0000:03:00.0"), false, false, false}};
    host.usages = {{B("0000:00:19.0"), "carries the default route (eno1)"}};
    host.Reindex();
  }
  PciDevice& dev(const char* bdf) {
    for (auto& d : host.devices)
      if (d.bdf == B(bdf)) return d;
    FAIL("no device " << bdf);
    throw;
  }
  // Adds `n` VFs to PF `pf`, in their own groups, bound to `driver`.
  void AddVfs(const char* pf, int n, const char* driver) {
    PciDevice& p = dev(pf);
    p.sriov->num_vfs = n;
    Bdf pfb = p.bdf;
    std::vector<PciDevice> vfs;
    for (int i = 0; i < n; ++i) {
      PciDevice vf = Dev("0000:03:10.0", "8086:10ca", driver, 100 + i);
      vf.bdf = Bdf::FromRoutingId(0, pfb.routing_id() + 128 + 2 * i);
      vf.physfn = pfb;
      vf.vf_index = i;
      p.vfs.push_back(vf.bdf);
      host.iommu_groups[100 + i] = {vf.bdf};
      vfs.push_back(vf);
    }
    for (auto& v : vfs) host.devices.push_back(v);
    host.Reindex();
  }
};

Selector BySel(const char* bdf) {
  Selector s;
  s.kind = Selector::Kind::kBdf;
  s.bdf = B(bdf);
  return s;
}

HideSpec Hide(const char* bdf, const char* driver = "vfio-pci") {
  HideSpec h;
  h.select = BySel(bdf);
  h.driver = driver;
  h.pos = {"host.yaml", 7, 5};
  return h;
}

SriovSpec Sriov(const char* bdf, int n, const char* vf_driver = "") {
  SriovSpec s;
  s.select = BySel(bdf);
  s.num_vfs = n;
  s.vf_driver = vf_driver;
  s.pos = {"host.yaml", 3, 5};
  return s;
}

std::vector<std::string> Refusals(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& f : p.findings)
    if (f.severity == Finding::Severity::kRefusal) out.push_back(f.message);
  return out;
}

}  // namespace

TEST_CASE_METHOD(HostFixture, "plan: hiding a NIC binds it to vfio-pci with a reason", "[plan]") {
  // Given an igb PF, when the desired state hides it, then one bind igb -> vfio-pci is planned.
  DesiredState d;
  d.hide = {Hide("0000:03:00.1")};
  Plan p = ComputePlan(d, host);
  REQUIRE(Refusals(p).empty());
  REQUIRE(p.actions.size() == 1);
  const Action& a = p.actions[0];
  CHECK(a.kind == ActionKind::kBind);
  CHECK(a.device == B("0000:03:00.1"));
  CHECK(a.before == "igb");
  CHECK(a.after == "vfio-pci");
  CHECK(a.symbol() == '+');
  CHECK_THAT(a.reason, Catch::Contains("hide[0]") && Catch::Contains("host.yaml:7:5"));
}

TEST_CASE_METHOD(HostFixture, "plan: a device already on its driver with the override plans nothing", "[plan]") {
  // Given 03:00.1 on vfio-pci with driver_override vfio-pci, then hiding it again is a no-op.
  dev("0000:03:00.1").driver = "vfio-pci";
  dev("0000:03:00.1").driver_override = "vfio-pci";
  DesiredState d;
  d.hide = {Hide("0000:03:00.1")};
  Plan p = ComputePlan(d, host);
  CHECK(p.actions.empty());
  CHECK(p.findings.empty());

  SECTION("without the override, only the override is set") {
    dev("0000:03:00.1").driver_override = "";
    Plan q = ComputePlan(d, host);
    REQUIRE(q.actions.size() == 1);
    CHECK_THAT(q.actions[0].reason, Catch::Contains("driver_override"));
  }
}

TEST_CASE_METHOD(HostFixture, "plan: VFs for vfio-pci are created first, then bound in index order", "[plan]") {
  // Given PF 03:00.0 with 0 VFs, when 3 VFs on vfio-pci are wanted, then the count action comes
  // first with autoprobe off, and each VF bind depends on it, at the predicted BDFs.
  DesiredState d;
  d.sriov = {Sriov("0000:03:00.0", 3, "vfio-pci")};
  Plan p = ComputePlan(d, host);
  REQUIRE(Refusals(p).empty());
  REQUIRE(p.actions.size() == 4);
  CHECK(p.actions[0].kind == ActionKind::kSetNumVfs);
  CHECK(p.actions[0].autoprobe_off);
  CHECK(p.actions[0].before == "0");
  CHECK(p.actions[0].after == "3");
  const char* expected[] = {"0000:03:10.0", "0000:03:10.2", "0000:03:10.4"};
  for (int i = 0; i < 3; ++i) {
    const Action& b = p.actions[i + 1];
    CHECK(b.kind == ActionKind::kBind);
    REQUIRE(b.vf.has_value());
    CHECK(b.vf->index == i);
    CHECK(b.device == B(expected[i]));
    CHECK(b.deps == std::vector<int>{0});
  }
}

TEST_CASE_METHOD(HostFixture, "plan: changing a non-zero VF count goes through 0", "[plan]") {
  // Given 2 VFs on igbvf, when 3 are wanted, then one action 2 -> 3 whose reason names EBUSY.
  AddVfs("0000:03:00.0", 2, "igbvf");
  DesiredState d;
  d.sriov = {Sriov("0000:03:00.0", 3)};
  Plan p = ComputePlan(d, host);
  REQUIRE(p.actions.size() == 1);
  CHECK(p.actions[0].from_num_vfs == 2);
  CHECK(p.actions[0].num_vfs == 3);
  CHECK(p.actions[0].symbol() == '~');
  CHECK_THAT(p.actions[0].reason, Catch::Contains("EBUSY"));
  CHECK(p.actions[0].disrupts.size() == 2);
}

TEST_CASE_METHOD(HostFixture, "plan: refusals for bad SR-IOV targets", "[plan]") {
  DesiredState d;
  SECTION("numVfs above sriov_totalvfs") {
    // Given sriov_totalvfs 7, when 8 are asked, then the plan is refused with the limit.
    d.sriov = {Sriov("0000:03:00.0", 8)};
    auto r = Refusals(ComputePlan(d, host));
    REQUIRE(r.size() == 1);
    CHECK_THAT(r[0], Catch::Contains("exceeds sriov_totalvfs 7"));
  }
  SECTION("not a PF") {
    d.sriov = {Sriov("0000:00:19.0", 2)};
    auto r = Refusals(ComputePlan(d, host));
    REQUIRE(r.size() == 1);
    CHECK_THAT(r[0], Catch::Contains("not an SR-IOV physical function"));
  }
  SECTION("a PF without a driver") {
    dev("0000:03:00.0").driver = "";
    d.sriov = {Sriov("0000:03:00.0", 2)};
    auto r = Refusals(ComputePlan(d, host));
    REQUIRE(r.size() == 1);
    CHECK_THAT(r[0], Catch::Contains("ENOENT"));
  }
  SECTION("a device that does not exist") {
    d.hide = {Hide("0000:09:00.0")};
    auto r = Refusals(ComputePlan(d, host));
    REQUIRE(r.size() == 1);
    CHECK_THAT(r[0], Catch::Contains("does not exist"));
  }
}

TEST_CASE_METHOD(HostFixture, "plan: a shared IOMMU group is refused unless group: include", "[plan]") {
  // Given 03:00.0 and 03:00.1 in one group, when only 03:00.0 is hidden, then the plan refuses
  // and names 03:00.1; with group: include both are bound.
  host.iommu_groups = {{14, {B("0000:03:00.0"), B("0000:03:00.1")}}, {5, {B("0000:00:19.0")}}};
  dev("0000:03:00.1").iommu_group = 14;
  DesiredState d;
  d.hide = {Hide("0000:03:00.0")};
  auto r = Refusals(ComputePlan(d, host));
  REQUIRE(r.size() == 1);
  CHECK_THAT(r[0], Catch::Contains("not viable") && Catch::Contains("0000:03:00.1 (igb)"));

  d.hide[0].group = GroupPolicy::kInclude;
  Plan p = ComputePlan(d, host);
  CHECK(Refusals(p).empty());
  REQUIRE(p.actions.size() == 2);
  CHECK(p.actions[0].device == B("0000:03:00.0"));
  CHECK(p.actions[1].device == B("0000:03:00.1"));
  CHECK_THAT(p.actions[1].reason, Catch::Contains("group: include"));

  SECTION("members on pci-stub, pcieport or no driver keep the group viable") {
    for (const char* driver : {"pci-stub", "", "vfio-pci"}) {
      dev("0000:03:00.1").driver = driver;
      d.hide[0].group = GroupPolicy::kStrict;
      CHECK(Refusals(ComputePlan(d, host)).empty());
    }
  }
}

TEST_CASE_METHOD(HostFixture, "plan: vfio-pci needs an active IOMMU; pci-stub does not", "[plan]") {
  host.iommu_active = false;
  host.iommu_groups.clear();
  DesiredState d;
  d.hide = {Hide("0000:03:00.1")};
  auto r = Refusals(ComputePlan(d, host));
  REQUIRE(r.size() == 1);
  CHECK_THAT(r[0], Catch::Contains("no IOMMU is active"));
  d.hide[0].driver = "pci-stub";
  host.loaded_drivers.insert("pci-stub");
  Plan p = ComputePlan(d, host);
  CHECK(Refusals(p).empty());
  CHECK(p.actions.size() == 1);
}

TEST_CASE_METHOD(HostFixture, "plan: the default-route NIC needs force", "[plan]") {
  // Given eno1 carries the default route, when it is hidden, then refused; with force, a warning.
  DesiredState d;
  d.hide = {Hide("0000:00:19.0")};
  auto r = Refusals(ComputePlan(d, host));
  REQUIRE(r.size() == 1);
  CHECK_THAT(r[0], Catch::Contains("default route"));
  d.hide[0].force = Force::kYes;
  Plan p = ComputePlan(d, host);
  CHECK(Refusals(p).empty());
  REQUIRE(p.actions.size() == 1);
  CHECK(p.findings.size() == 1);
  CHECK(p.actions[0].disrupts == std::vector<std::string>{"network interface eno1 goes away"});
}

TEST_CASE_METHOD(HostFixture, "plan: what ptrec bound earlier and is no longer wanted goes back", "[plan]") {
  // Given the ledger says ptrec moved 03:00.1 from igb to vfio-pci, when the desired state is
  // empty, then a release restores igb and the empty override.
  dev("0000:03:00.1").driver = "vfio-pci";
  dev("0000:03:00.1").driver_override = "vfio-pci";
  host.ledger.bindings = {{B("0000:03:00.1"), "vfio-pci", "igb", ""}};
  Plan p = ComputePlan(DesiredState{}, host);
  REQUIRE(p.actions.size() == 1);
  CHECK(p.actions[0].kind == ActionKind::kRelease);
  CHECK(p.actions[0].driver == "igb");
  CHECK(p.actions[0].driver_override == "");
  CHECK(p.actions[0].symbol() == '-');

  SECTION("someone else moved it since: leave it, warn") {
    dev("0000:03:00.1").driver = "pci-stub";
    Plan q = ComputePlan(DesiredState{}, host);
    CHECK(q.actions.empty());
    REQUIRE(q.findings.size() == 1);
    CHECK_THAT(q.findings[0].message, Catch::Contains("leaves it"));
  }
}

TEST_CASE_METHOD(HostFixture, "plan: VF counts ptrec set go back to the original", "[plan]") {
  AddVfs("0000:03:00.0", 4, "vfio-pci");
  host.ledger.vf_counts = {{B("0000:03:00.0"), 4, 0}};
  Plan p = ComputePlan(DesiredState{}, host);
  REQUIRE(p.actions.size() == 1);
  CHECK(p.actions[0].kind == ActionKind::kSetNumVfs);
  CHECK(p.actions[0].num_vfs == 0);
  CHECK(p.actions[0].symbol() == '-');
}

TEST_CASE_METHOD(HostFixture, "plan: phases order release before VF counts before binds", "[plan]") {
  // Given a ptrec-bound device to give back and new VFs to bind, then release comes first.
  dev("0000:03:00.1").driver = "vfio-pci";
  dev("0000:03:00.1").driver_override = "vfio-pci";
  host.ledger.bindings = {{B("0000:03:00.1"), "vfio-pci", "igb", ""}};
  DesiredState d;
  d.sriov = {Sriov("0000:03:00.0", 1, "vfio-pci")};
  Plan p = ComputePlan(d, host);
  REQUIRE(p.actions.size() == 3);
  CHECK(p.actions[0].kind == ActionKind::kRelease);
  CHECK(p.actions[1].kind == ActionKind::kSetNumVfs);
  CHECK(p.actions[2].kind == ActionKind::kBind);
  CHECK(p.actions[2].deps == std::vector<int>{1});
  for (size_t i = 0; i < p.actions.size(); ++i) CHECK(p.actions[i].id == static_cast<int>(i));
}

TEST_CASE_METHOD(HostFixture, "plan: a driver that is not loaded is loaded first, or refused", "[plan]") {
  host.loaded_drivers.erase("vfio-pci");
  DesiredState d;
  d.hide = {Hide("0000:03:00.1")};
  SECTION("module available") {
    host.available_modules = {"vfio_pci"};
    Plan p = ComputePlan(d, host);
    REQUIRE(p.actions.size() == 2);
    CHECK(p.actions[0].kind == ActionKind::kLoadModule);
    CHECK(p.actions[0].module == "vfio_pci");
    CHECK(p.actions[1].deps == std::vector<int>{0});
  }
  SECTION("module missing") {
    auto r = Refusals(ComputePlan(d, host));
    REQUIRE(r.size() == 1);
    CHECK_THAT(r[0], Catch::Contains("vfio_pci is not in lib/modules"));
  }
}

TEST_CASE_METHOD(HostFixture, "plan: the same device on two drivers is refused", "[plan]") {
  DesiredState d;
  d.hide = {Hide("0000:03:00.1"), Hide("0000:03:00.1", "pci-stub")};
  auto r = Refusals(ComputePlan(d, host));
  REQUIRE(r.size() == 1);
  CHECK_THAT(r[0], Catch::Contains("vfio-pci") && Catch::Contains("pci-stub"));
}

TEST_CASE_METHOD(HostFixture, "plan: equal inputs give identical plans, and JSON round-trips", "[plan]") {
  DesiredState d;
  d.sriov = {Sriov("0000:03:00.0", 2, "vfio-pci")};
  d.hide = {Hide("0000:03:00.1")};
  Plan a = ComputePlan(d, host);
  Plan b = ComputePlan(d, host);
  CHECK(PlanToJson(a, "x").dump() == PlanToJson(b, "x").dump());
  auto back = PlanFromJson(PlanToJson(a, "x"));
  REQUIRE(back.has_value());
  CHECK(PlanToJson(*back, "x").dump() == PlanToJson(a, "x").dump());
}

TEST_CASE_METHOD(HostFixture, "plan: the fingerprint changes when a driver changes", "[plan]") {
  std::string before = host.Fingerprint();
  CHECK(host.Fingerprint() == before);
  dev("0000:03:00.1").driver = "vfio-pci";
  CHECK(host.Fingerprint() != before);
}

}  // namespace ptrec

namespace ptrec {

TEST_CASE_METHOD(HostFixture, "plan: an interface selector still finds a device ptrec took", "[plan]") {
  // Given enp3s0f0's device is on vfio-pci (its interface gone) and the ledger remembers the
  // name, then `interface: enp3s0f0` resolves to it and nothing is planned.
  dev("0000:03:00.0").driver = "vfio-pci";
  dev("0000:03:00.0").driver_override = "vfio-pci";
  dev("0000:03:00.0").net_interfaces.clear();
  host.net_interfaces.pop_back();  // enp3s0f0
  host.ledger.bindings = {{B("0000:03:00.0"), "vfio-pci", "igb", "", {"enp3s0f0"}}};
  DesiredState d;
  HideSpec h;
  h.select.kind = Selector::Kind::kInterface;
  h.select.interface = "enp3s0f0";
  d.hide = {h};
  Plan p = ComputePlan(d, host);
  CHECK(p.findings.empty());
  CHECK(p.actions.empty());
  host.ledger.bindings[0].interfaces.clear();
  CHECK(Refusals(ComputePlan(d, host)).size() == 1);
}

}  // namespace ptrec

namespace ptrec {

TEST_CASE_METHOD(HostFixture, "plan: vfio-pci cannot take a PF with VFs enabled", "[plan]") {
  // Given PF 03:00.0 with 2 VFs (the kernel's vfio_pci_probe answers EBUSY), then hiding it is
  // refused and names the VF count.
  AddVfs("0000:03:00.0", 2, "igbvf");
  DesiredState d;
  d.hide = {Hide("0000:03:00.0")};
  auto r = Refusals(ComputePlan(d, host));
  REQUIRE(r.size() == 1);
  CHECK_THAT(r[0], Catch::Contains("2 VFs enabled"));
  d.hide[0].driver = "pci-stub";
  host.loaded_drivers.insert("pci-stub");
  CHECK(Refusals(ComputePlan(d, host)).empty());
}

TEST_CASE_METHOD(HostFixture, "plan: a refused sriov entry leaves that PF's VFs alone", "[plan]") {
  // Given ptrec put the 2 VFs of 03:00.0 on vfio-pci, when the entry asks for more than
  // sriov_totalvfs, then the plan is refused and does not give those VFs back.
  AddVfs("0000:03:00.0", 2, "vfio-pci");
  for (Bdf vf : dev("0000:03:00.0").vfs) {
    for (auto& d : host.devices)
      if (d.bdf == vf) d.driver_override = "vfio-pci";
    host.ledger.bindings.push_back({vf, "vfio-pci", "", "", {}});
  }
  host.Reindex();
  DesiredState d;
  d.sriov = {Sriov("0000:03:00.0", 9, "vfio-pci")};
  Plan p = ComputePlan(d, host);
  CHECK(Refusals(p).size() == 1);
  for (const auto& a : p.actions) CHECK(a.kind != ActionKind::kRelease);
}

}  // namespace ptrec

namespace ptrec {

TEST_CASE_METHOD(HostFixture, "plan: with kernel args that turn the IOMMU on, vfio-pci waits for the reboot", "[plan]") {
  // Given no IOMMU now, when the desired state adds intel_iommu=on and hides a port, then the
  // only bind is one that takes effect at the reboot (it records igb for the ledger; no
  // vfio-pci load now), a warning says why, and the override is persisted for boot.
  host.iommu_active = false;
  host.iommu_groups.clear();
  DesiredState d;
  d.hide = {Hide("0000:03:00.1")};
  d.kernel_args = KernelArgsSpec{};
  d.kernel_args->present = {{"intel_iommu", "on"}, {"iommu", "pt"}};
  Plan p = ComputePlan(d, host);
  CHECK(Refusals(p).empty());
  REQUIRE(p.actions.size() == 1);
  CHECK(p.actions[0].kind == ActionKind::kBind);
  CHECK(p.actions[0].device == B("0000:03:00.1"));
  CHECK(p.actions[0].driver == "vfio-pci");
  CHECK(p.actions[0].before == "igb");
  CHECK(p.actions[0].reboot_required);
  REQUIRE(p.findings.size() == 1);
  CHECK_THAT(p.findings[0].message, Catch::Contains("takes effect at the boot"));
  REQUIRE(p.persist.overrides.size() == 1);
  CHECK(p.persist.overrides[0].bdf == B("0000:03:00.1"));
  d.kernel_args->present = {{"iommu", "pt"}};
  CHECK(Refusals(ComputePlan(d, host)).size() == 1);
}

TEST_CASE_METHOD(HostFixture, "plan: a hide waiting for the boot is in the ledger and given back when dropped", "[plan]") {
  // Given no IOMMU and a ledger entry from the apply that deferred 03:00.1 (vfio-pci, was igb):
  // the same desired state plans nothing more; dropping the hide before the reboot plans a
  // release that only forgets it (the device is still on igb); after the boot that put it on
  // vfio-pci (udev rule), dropping it plans a release back to igb with the override cleared.
  host.iommu_active = false;
  host.iommu_groups.clear();
  host.ledger.bindings = {{B("0000:03:00.1"), "vfio-pci", "igb", "", {}}};
  DesiredState d;
  d.hide = {Hide("0000:03:00.1")};
  d.kernel_args = KernelArgsSpec{};
  d.kernel_args->present = {{"intel_iommu", "on"}};
  CHECK(ComputePlan(d, host).actions.empty());

  DesiredState dropped;
  Plan before_boot = ComputePlan(dropped, host);
  REQUIRE(before_boot.actions.size() == 1);
  const Action& forget = before_boot.actions[0];
  CHECK(forget.kind == ActionKind::kRelease);
  CHECK(forget.before == "igb");
  CHECK(forget.driver == "igb");
  CHECK(forget.driver_override.empty());
  CHECK(before_boot.findings.empty());  // not "bound by ptrec but on igb now"


  host.iommu_active = true;
  host.iommu_groups = {{15, {B("0000:03:00.1")}}};
  PciDevice& nic = dev("0000:03:00.1");
  nic.driver = "vfio-pci";
  nic.driver_override = "vfio-pci";
  nic.iommu_group = 15;
  CHECK(ComputePlan(d, host).actions.empty());
  Plan after_boot = ComputePlan(dropped, host);
  REQUIRE(after_boot.actions.size() == 1);
  CHECK(after_boot.actions[0].kind == ActionKind::kRelease);
  CHECK(after_boot.actions[0].before == "vfio-pci");
  CHECK(after_boot.actions[0].driver == "igb");
  CHECK(after_boot.actions[0].driver_override.empty());
}

TEST_CASE_METHOD(HostFixture, "plan: VF counts by module parameter are configured, not written", "[plan]") {
  // Given igb PFs, when 7 VFs are wanted through the module parameter, then no sysfs action;
  // the count is recorded for modprobe.d and reported as pending until igb reloads.
  DesiredState d;
  d.sriov = {Sriov("0000:03:00.0", 7)};
  d.sriov[0].method = SriovMethod::kModuleParam;
  Plan p = ComputePlan(d, host);
  CHECK(p.actions.empty());
  REQUIRE(p.persist.module_param_vfs.size() == 1);
  CHECK(p.persist.module_param_vfs[0].driver == "igb");
  CHECK(p.persist.module_param_vfs[0].num_vfs == 7);
  REQUIRE(p.pending_reboot.size() == 1);
  CHECK_THAT(p.pending_reboot[0], Catch::Contains("max_vfs"));
  CHECK(p.reboot_required());
}

}  // namespace ptrec

namespace ptrec {

TEST_CASE_METHOD(HostFixture, "plan: without interrupt remapping vfio assignment gets a warning", "[plan]") {
  // Given an IOMMU that cannot remap interrupts, when a device is hidden on vfio-pci, then a
  // warning names allow_unsafe_interrupts; with the parameter set (or wanted) there is none.
  host.interrupt_remapping = false;
  DesiredState d;
  d.hide = {Hide("0000:03:00.1")};
  Plan p = ComputePlan(d, host);
  REQUIRE(p.findings.size() == 1);
  CHECK(p.findings[0].severity == Finding::Severity::kWarning);
  CHECK_THAT(p.findings[0].hint, Catch::Contains("allow_unsafe_interrupts"));
  host.allow_unsafe_interrupts = "Y";
  CHECK(ComputePlan(d, host).findings.empty());
  host.allow_unsafe_interrupts = "N";
  ModuleConfigSpec m;
  m.name = "vfio_iommu_type1";
  m.parameters = {{"allow_unsafe_interrupts", "1"}};
  d.modules = {m};
  CHECK(ComputePlan(d, host).findings.empty());
  host.interrupt_remapping = true;
  d.modules.clear();
  CHECK(ComputePlan(d, host).findings.empty());
}

}  // namespace ptrec
