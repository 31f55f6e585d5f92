// Planner tests for vms: attach/detach, implied bindings, refusals. HostState literals only.
#include <catch2/catch.hpp>

#include <algorithm>

#include "reconciler/plan.h"

namespace ptrec {
namespace {

Bdf At(const char* s) { return *Bdf::Parse(s); }

// A host with an I350 (two functions, own groups), an 82576 PF with SR-IOV (offset 128,
// stride 2), a BCM5720 whose two functions share IOMMU group 30, and a management NIC.
struct VmHost {
  HostState host;
  VmHost() {
    host.root = "test";
    host.iommu_active = true;
    host.loaded_drivers = {"igb", "tg3", "e1000e", "vfio-pci"};
    auto add = [&](const char* bdf, const char* id, const char* driver, int group) -> PciDevice& {
      PciDevice d;
      d.bdf = At(bdf);
      d.id = *PciId::Parse(id);
      d.class_code = 0x020000;
      d.driver = driver;
      d.iommu_group = group;
      host.devices.push_back(d);
      host.iommu_groups[group].push_back(d.bdf);
      return host.devices.back();
    };
    add("0000:00:19.0", "8086:10bd", "e1000e", 5);
    add("0000:02:00.0", "8086:1521", "igb", 20);
    add("0000:02:00.1", "8086:1521", "igb", 21);
    add("0000:03:00.0", "8086:10c9", "igb", 22).sriov = SriovFacts{7, 0, true, 128, 2, 0x10ca};
    add("0000:04:00.0", "14e4:165f", "tg3", 30);
    add("0000:04:00.1", "14e4:165f", "tg3", 30);
    host.usages = {{At("0000:00:19.0"), "carries the default route (eno1)"}};
    host.Reindex();
  }
  PciDevice& dev(const char* bdf) {
    auto it = std::find_if(host.devices.begin(), host.devices.end(), [&](auto& d) { return d.bdf == At(bdf); });
    REQUIRE(it != host.devices.end());
    return *it;
  }
  // Gives PF 03:00.0 `n` VFs on `driver`, each in its own group.
  void AddVfs(int n, const char* driver) {
    std::vector<PciDevice> vfs;
    for (int i = 0; i < n; ++i) {
      PciDevice vf;
      vf.bdf = Bdf::FromRoutingId(0, At("0000:03:00.0").routing_id() + 128 + 2 * i);
      vf.id = *PciId::Parse("8086:10ca");
      vf.driver = driver;
      vf.iommu_group = 100 + i;
      vf.physfn = At("0000:03:00.0");
      vf.vf_index = i;
      host.iommu_groups[100 + i] = {vf.bdf};
      vfs.push_back(vf);
    }
    PciDevice& pf = dev("0000:03:00.0");
    pf.sriov->num_vfs = n;
    for (auto& v : vfs) pf.vfs.push_back(v.bdf);
    for (auto& v : vfs) host.devices.push_back(v);
    host.Reindex();
  }
  ObservedVm& Domain(const char* name, bool running, std::vector<const char*> config = {},
                     std::vector<const char*> live = {}) {
    ObservedVm vm;
    vm.name = name;
    vm.exists = true;
    vm.running = running;
    for (auto c : config) vm.config.push_back(VmHostdev{At(c), false, std::nullopt, ""});
    for (auto l : live) vm.live.push_back(VmHostdev{At(l), false, std::nullopt, "hostdev0"});
    host.vms.push_back(vm);
    return host.vms.back();
  }
};

VmDeviceSpec Pci(const char* bdf, bool managed = false) {
  VmDeviceSpec d;
  d.select.kind = Selector::Kind::kBdf;
  d.select.bdf = At(bdf);
  d.managed = managed;
  d.pos = {"host.yaml", 12, 9};
  return d;
}

VmDeviceSpec VfOf(const char* pf, int n) {
  VmDeviceSpec d = Pci(pf);
  d.vf = n;
  return d;
}

VmSpec Vm(const char* name, std::vector<VmDeviceSpec> devices, bool hotplug = false) {
  VmSpec v;
  v.name = name;
  v.hotplug = hotplug;
  v.devices = std::move(devices);
  v.pos = {"host.yaml", 10, 5};
  return v;
}

std::vector<std::string> Messages(const Plan& p, Finding::Severity severity) {
  std::vector<std::string> out;
  for (const auto& f : p.findings)
    if (f.severity == severity) out.push_back(f.message);
  return out;
}
std::vector<std::string> Refusals(const Plan& p) { return Messages(p, Finding::Severity::kRefusal); }

bool AnyContains(const std::vector<std::string>& list, std::string_view text) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& s) { return s.find(text) != std::string::npos; });
}

const Action* Find(const Plan& p, ActionKind kind, const char* bdf) {
  for (const auto& a : p.actions)
    if (a.kind == kind && a.device == At(bdf)) return &a;
  return nullptr;
}

}  // namespace

TEST_CASE_METHOD(VmHost, "vm plan: a managed: false device is bound to vfio-pci, then attached to the config", "[plan][vm]") {
  // Given a shut-off domain and an I350 function on igb that is not in hide, when a VM entry
  // names it, then the plan binds it (implied hide) and attaches it to the persistent config.
  Domain("win10", false);
  DesiredState d;
  d.vms = {Vm("win10", {Pci("0000:02:00.0")})};
  Plan p = ComputePlan(d, host);
  INFO(Refusals(p).size());
  REQUIRE(Refusals(p).empty());
  const Action* bind = Find(p, ActionKind::kBind, "0000:02:00.0");
  const Action* attach = Find(p, ActionKind::kAttach, "0000:02:00.0");
  REQUIRE(bind);
  REQUIRE(attach);
  CHECK(bind->after == "vfio-pci");
  CHECK(bind->id < attach->id);
  CHECK(attach->phase == Phase::kAttach);
  CHECK(attach->vm == "win10");
  CHECK(attach->config);
  CHECK_FALSE(attach->live);
  CHECK_FALSE(attach->managed);
  CHECK(attach->subject() == "vm win10: 0000:02:00.0");
  // The binding is persisted for boot, so the domain can start after a reboot.
  CHECK(std::any_of(p.persist.overrides.begin(), p.persist.overrides.end(),
                    [](auto& o) { return o.bdf == At("0000:02:00.0") && o.driver == "vfio-pci"; }));
}

TEST_CASE_METHOD(VmHost, "vm plan: live attach only when the domain runs and hotplug is allowed", "[plan][vm]") {
  Domain("win10", true);
  DesiredState d;
  SECTION("hotplug: false changes the config only and warns") {
    d.vms = {Vm("win10", {Pci("0000:02:00.0")}, false)};
    Plan p = ComputePlan(d, host);
    const Action* a = Find(p, ActionKind::kAttach, "0000:02:00.0");
    REQUIRE(a);
    CHECK(a->config);
    CHECK_FALSE(a->live);
    CHECK(AnyContains(Messages(p, Finding::Severity::kWarning), "gets the device at its next start"));
  }
  SECTION("hotplug: true changes both") {
    d.vms = {Vm("win10", {Pci("0000:02:00.0")}, true)};
    Plan p = ComputePlan(d, host);
    const Action* a = Find(p, ActionKind::kAttach, "0000:02:00.0");
    REQUIRE(a);
    CHECK(a->config);
    CHECK(a->live);
  }
}

TEST_CASE_METHOD(VmHost, "vm plan: a device already attached and bound gives no action", "[plan][vm]") {
  dev("0000:02:00.0").driver = "vfio-pci";
  dev("0000:02:00.0").driver_override = "vfio-pci";
  Domain("win10", true, {"0000:02:00.0"}, {"0000:02:00.0"});
  DesiredState d;
  d.vms = {Vm("win10", {Pci("0000:02:00.0")}, true)};
  Plan p = ComputePlan(d, host);
  CHECK(Refusals(p).empty());
  CHECK(p.actions.empty());
}

TEST_CASE_METHOD(VmHost, "vm plan: only hostdevs ptrec attached or the desired state names are detached", "[plan][vm]") {
  // Given win10 holds 02:00.0 (ptrec attached it, per the ledger) and 02:00.1 (someone else
  // did), when the desired state gives win10 nothing, then only 02:00.0 is detached.
  dev("0000:02:00.0").driver = "vfio-pci";
  dev("0000:02:00.1").driver = "vfio-pci";
  Domain("win10", false, {"0000:02:00.0", "0000:02:00.1"});
  host.ledger.hostdevs = {{"win10", "", "", At("0000:02:00.0"), false}};
  DesiredState d;
  d.vms = {Vm("win10", {})};
  Plan p = ComputePlan(d, host);
  REQUIRE(Refusals(p).empty());
  const Action* detach = Find(p, ActionKind::kDetach, "0000:02:00.0");
  REQUIRE(detach);
  CHECK(detach->phase == Phase::kDetach);
  CHECK(detach->config);
  CHECK_FALSE(Find(p, ActionKind::kDetach, "0000:02:00.1"));
}

TEST_CASE_METHOD(VmHost, "vm plan: detach comes before giving the device back to the host", "[plan][vm]") {
  // Given ptrec bound 02:00.0 and attached it to win10, when both entries are gone, then the
  // detach runs in an earlier phase than the release.
  dev("0000:02:00.0").driver = "vfio-pci";
  host.ledger.bindings = {{At("0000:02:00.0"), "vfio-pci", "igb", "", {}}};
  host.ledger.hostdevs = {{"win10", "", "", At("0000:02:00.0"), false}};
  Domain("win10", false, {"0000:02:00.0"});
  DesiredState d;
  Plan p = ComputePlan(d, host);
  REQUIRE(Refusals(p).empty());
  const Action* detach = Find(p, ActionKind::kDetach, "0000:02:00.0");
  const Action* release = Find(p, ActionKind::kRelease, "0000:02:00.0");
  REQUIRE(detach);
  REQUIRE(release);
  CHECK(detach->id < release->id);
  CHECK(detach->phase < release->phase);
}

TEST_CASE_METHOD(VmHost, "vm plan: a device the running domain keeps (hotplug: false) is not given back", "[plan][vm]") {
  dev("0000:02:00.0").driver = "vfio-pci";
  host.ledger.bindings = {{At("0000:02:00.0"), "vfio-pci", "igb", "", {}}};
  host.ledger.hostdevs = {{"win10", "", "", At("0000:02:00.0"), false}};
  Domain("win10", true, {"0000:02:00.0"}, {"0000:02:00.0"});
  DesiredState d;
  d.vms = {Vm("win10", {}, false)};
  Plan p = ComputePlan(d, host);
  CHECK(AnyContains(Refusals(p), "the running vm win10 still holds it"));
  SECTION("with hotplug: true it is detached live, then released") {
    d.vms = {Vm("win10", {}, true)};
    Plan q = ComputePlan(d, host);
    REQUIRE(Refusals(q).empty());
    const Action* detach = Find(q, ActionKind::kDetach, "0000:02:00.0");
    REQUIRE(detach);
    CHECK(detach->live);
    CHECK(detach->config);
    CHECK(Find(q, ActionKind::kRelease, "0000:02:00.0"));
  }
}

TEST_CASE_METHOD(VmHost, "vm plan: managed: true leaves the binding to libvirt", "[plan][vm]") {
  Domain("win10", false);
  DesiredState d;
  d.vms = {Vm("win10", {Pci("0000:02:00.0", true)})};
  Plan p = ComputePlan(d, host);
  REQUIRE(Refusals(p).empty());
  CHECK_FALSE(Find(p, ActionKind::kBind, "0000:02:00.0"));
  const Action* attach = Find(p, ActionKind::kAttach, "0000:02:00.0");
  REQUIRE(attach);
  CHECK(attach->managed);
  SECTION("and refuses a managed device that hide binds too") {
    HideSpec h;
    h.select = Pci("0000:02:00.0").select;
    h.pos = {"host.yaml", 5, 5};
    d.hide = {h};
    CHECK(AnyContains(Refusals(ComputePlan(d, host)), "has managed: true, so libvirt binds it at attach"));
  }
}

TEST_CASE_METHOD(VmHost, "vm plan: one device in two VMs is refused", "[plan][vm]") {
  Domain("a", false);
  Domain("b", false);
  DesiredState d;
  VmDeviceSpec by_id;
  by_id.select.kind = Selector::Kind::kId;
  by_id.select.id = *PciId::Parse("8086:1521");
  by_id.select.index = 0;
  d.vms = {Vm("a", {Pci("0000:02:00.0")}), Vm("b", {by_id})};
  CHECK(AnyContains(Refusals(ComputePlan(d, host)), "is given to vm a by vms[0].devices[0]"));
}

TEST_CASE_METHOD(VmHost, "vm plan: an IOMMU group is not split across VMs or between a VM and the host", "[plan][vm]") {
  Domain("a", false);
  Domain("b", false);
  DesiredState d;
  SECTION("across VMs") {
    d.vms = {Vm("a", {Pci("0000:04:00.0")}), Vm("b", {Pci("0000:04:00.1")})};
    CHECK(AnyContains(Refusals(ComputePlan(d, host)), "IOMMU group 30 is split across VMs"));
  }
  SECTION("between a VM and the host (managed: true, the other function on tg3)") {
    d.vms = {Vm("a", {Pci("0000:04:00.0", true)})};
    CHECK(AnyContains(Refusals(ComputePlan(d, host)), "would be split between vm a (0000:04:00.0) and the host"));
  }
  SECTION("between a VM and the host (managed: false)") {
    d.vms = {Vm("a", {Pci("0000:04:00.0")})};
    CHECK(AnyContains(Refusals(ComputePlan(d, host)), "IOMMU group 30 of 0000:04:00.0 is not viable"));
  }
  SECTION("the whole group to one VM is fine") {
    d.vms = {Vm("a", {Pci("0000:04:00.0"), Pci("0000:04:00.1")})};
    Plan p = ComputePlan(d, host);
    CHECK(Refusals(p).empty());
    CHECK(Find(p, ActionKind::kAttach, "0000:04:00.0"));
    CHECK(Find(p, ActionKind::kAttach, "0000:04:00.1"));
  }
}

TEST_CASE_METHOD(VmHost, "vm plan: a missing domain is refused unless missing: skip", "[plan][vm]") {
  DesiredState d;
  d.vms = {Vm("nosuch", {Pci("0000:02:00.0")})};
  Plan p = ComputePlan(d, host);
  CHECK(AnyContains(Refusals(p), "domain nosuch does not exist"));
  d.vms[0].missing = MissingDomain::kSkip;
  Plan q = ComputePlan(d, host);
  CHECK(Refusals(q).empty());
  CHECK(q.actions.empty());
  CHECK(AnyContains(Messages(q, Finding::Severity::kWarning), "is skipped (missing: skip)"));
}

TEST_CASE_METHOD(VmHost, "vm plan: a device that does not exist is refused", "[plan][vm]") {
  Domain("a", false);
  DesiredState d;
  d.vms = {Vm("a", {Pci("0000:09:00.0")})};
  CHECK(AnyContains(Refusals(ComputePlan(d, host)), "device 0000:09:00.0 does not exist"));
  d.vms = {Vm("a", {VfOf("0000:03:00.0", 2)})};
  CHECK(AnyContains(Refusals(ComputePlan(d, host)), "has 0 VF(s), so VF 2 does not exist"));
}

TEST_CASE_METHOD(VmHost, "vm plan: a VF given as PF + index is attached after the VF count and its bind", "[plan][vm]") {
  Domain("a", false);
  DesiredState d;
  SriovSpec s;
  s.select = Pci("0000:03:00.0").select;
  s.num_vfs = 2;
  d.sriov = {s};
  d.vms = {Vm("a", {VfOf("0000:03:00.0", 0), VfOf("0000:03:00.0", 1)})};
  Plan p = ComputePlan(d, host);
  REQUIRE(Refusals(p).empty());
  int count = -1, bind = -1, attach = -1;
  for (const auto& a : p.actions) {
    if (a.kind == ActionKind::kSetNumVfs) count = a.id;
    if (a.kind == ActionKind::kBind && a.vf && a.vf->index == 1) bind = a.id;
    if (a.kind == ActionKind::kAttach && a.vf && a.vf->index == 1) attach = a.id;
  }
  REQUIRE(count >= 0);
  REQUIRE(bind >= 0);
  REQUIRE(attach >= 0);
  CHECK(count < bind);
  CHECK(bind < attach);
  // VF 1 of 03:00.0 is routing id 0x300 + 128 + 2 = 03:10.2.
  CHECK(p.actions[attach].device == At("0000:03:10.2"));
  CHECK(p.actions[attach].vf->pf == At("0000:03:00.0"));
}

TEST_CASE_METHOD(VmHost, "vm plan: lowering a VF count detaches the VF a VM loses and names the VM", "[plan][vm]") {
  AddVfs(2, "vfio-pci");
  Bdf vf1 = Bdf::FromRoutingId(0, At("0000:03:00.0").routing_id() + 130);
  Domain("a", true, {}, {});
  host.vms.back().config.push_back({vf1, false, std::nullopt, ""});
  host.vms.back().live.push_back({vf1, false, std::nullopt, "hostdev0"});
  host.ledger.hostdevs = {{"a", "", "", vf1, false}};
  DesiredState d;
  SriovSpec s;
  s.select = Pci("0000:03:00.0").select;
  s.num_vfs = 1;
  s.vf_driver = "vfio-pci";
  d.sriov = {s};
  SECTION("ptrec attached it and may hotplug: detached live and from the config, before the count changes") {
    d.vms = {Vm("a", {}, true)};
    Plan p = ComputePlan(d, host);
    REQUIRE(Refusals(p).empty());
    const Action* detach = Find(p, ActionKind::kDetach, vf1.str().c_str());
    const Action* count = Find(p, ActionKind::kSetNumVfs, "0000:03:00.0");
    REQUIRE(detach);
    REQUIRE(count);
    CHECK(detach->live);
    CHECK(detach->config);
    CHECK(detach->id < count->id);
    CHECK(AnyContains(count->disrupts, "vm a loses VF " + vf1.str()));
  }
  SECTION("a VF some other tool attached is refused") {
    host.ledger.hostdevs.clear();
    d.vms = {Vm("a", {}, true)};
    CHECK(AnyContains(Refusals(ComputePlan(d, host)), "which vm a holds and ptrec did not attach"));
  }
}

TEST_CASE_METHOD(VmHost, "vm plan: a device moving between VMs is detached from one and attached to the other", "[plan][vm]") {
  dev("0000:02:00.0").driver = "vfio-pci";
  dev("0000:02:00.0").driver_override = "vfio-pci";
  Domain("a", false, {"0000:02:00.0"});
  Domain("b", false);
  DesiredState d;
  d.vms = {Vm("a", {}), Vm("b", {Pci("0000:02:00.0")})};
  Plan p = ComputePlan(d, host);
  REQUIRE(Refusals(p).empty());
  const Action* detach = Find(p, ActionKind::kDetach, "0000:02:00.0");
  const Action* attach = Find(p, ActionKind::kAttach, "0000:02:00.0");
  REQUIRE(detach);
  REQUIRE(attach);
  CHECK(detach->vm == "a");
  CHECK(attach->vm == "b");
  CHECK(detach->id < attach->id);
  CHECK(detach->reason.find("moves to vm b") != std::string::npos);
}

}  // namespace ptrec
