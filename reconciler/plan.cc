#include "reconciler/plan.h"

#include <algorithm>
#include <map>
#include <set>

namespace ptrec {
namespace {

// Drivers that leave an IOMMU group viable for VFIO. Since Linux 5.19 a group may be claimed
// by user space only while no device in it is bound to a driver that uses the kernel's DMA API:
// pci_dma_configure() calls iommu_device_use_default_domain() unless the driver sets
// driver_managed_dma, which vfio-pci (and vendor *-vfio-pci variants), pci-stub and pcieport do
// ("PCI: portdrv: Set driver_managed_dma", "PCI: pci_stub: Set driver_managed_dma"). The older
// rule that let any bridge pass (drivers/vfio/vfio.c vfio_dev_driver_allowed) is gone, so a
// bridge counts like any device: unbound or on one of these drivers.
bool DriverKeepsGroupViable(std::string_view driver) {
  return driver.empty() || driver == "pci-stub" || driver == "pcieport" ||
         driver.starts_with("vfio") || driver.ends_with("vfio-pci") || driver.ends_with("vfio_pci");
}

std::string DriverOrNone(const std::string& driver) { return driver.empty() ? "(none)" : driver; }

struct Want {
  std::string driver;
  std::string entry;  // "hide[0]" or "sriov[1]"
  SourcePos pos;
  Force force = Force::kNo;
  std::optional<VfRef> vf;  // set when the device is (re)created by this plan
  std::string why;          // extra reason text, e.g. "group 16 of 0000:02:00.0"
  bool deferred = false;    // bound at boot (after the reboot that turns the IOMMU on), not now
};

// Whether the desired kernel arguments turn an IOMMU on at the next boot.
bool TurnsIommuOn(const DesiredState& desired) {
  if (!desired.kernel_args) return false;
  for (const auto& a : desired.kernel_args->present)
    if ((a.key == "intel_iommu" || a.key == "amd_iommu") && a.value && a.value->starts_with("on")) return true;
  return false;
}

// Sorts by phase, then device, then kind, and renumbers ids and deps to match.
void OrderActions(std::vector<Action>& acts) {
  std::vector<int> order(acts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    const Action& a = acts[x];
    const Action& b = acts[y];
    if (a.phase != b.phase) return a.phase < b.phase;
    if (a.module != b.module) return a.module < b.module;
    if (a.path != b.path) return a.path < b.path;
    Bdf ka = a.vf ? a.vf->pf : a.device, kb = b.vf ? b.vf->pf : b.device;
    if (ka != kb) return ka < kb;
    int ia = a.vf ? a.vf->index : -1, ib = b.vf ? b.vf->index : -1;
    return ia < ib;
  });
  std::vector<int> new_id(acts.size());
  for (size_t pos = 0; pos < order.size(); ++pos) new_id[order[pos]] = static_cast<int>(pos);
  std::vector<Action> sorted;
  sorted.reserve(acts.size());
  for (int old : order) {
    Action a = std::move(acts[old]);
    a.id = new_id[old];
    for (int& d : a.deps) d = new_id[d];
    std::sort(a.deps.begin(), a.deps.end());
    sorted.push_back(std::move(a));
  }
  acts = std::move(sorted);
}

class Planner {
 public:
  Planner(const DesiredState& desired, const HostState& host) : desired_(desired), host_(host) {}

  Plan Run() {
    plan_.root = host_.root;
    plan_.fingerprint = host_.Fingerprint();
    for (const auto& vm : host_.vms) plan_.vms.push_back(VmSpec{.name = vm.name, .uri = vm.uri, .qmp = vm.qmp});
    PlanVfCounts();
    PlanHides();
    ResolveVms();
    CheckGroupsAndSafety();
    CheckVmGroups();
    PlanBindings();
    PlanReleases();
    PlanVmHostdevs();
    CheckHeldDevices();
    PlanModules();
    FillPersist();
    Order();
    return std::move(plan_);
  }

 private:
  void Refuse(std::string subject, std::string message, std::string hint, SourcePos pos = {}) {
    plan_.findings.push_back({Finding::Severity::kRefusal, std::move(subject), std::move(message),
                              std::move(hint), std::move(pos)});
  }
  void Warn(std::string subject, std::string message, std::string hint = {}, SourcePos pos = {}) {
    plan_.findings.push_back({Finding::Severity::kWarning, std::move(subject), std::move(message),
                              std::move(hint), std::move(pos)});
  }

  int AddAction(Action a) {
    a.id = static_cast<int>(plan_.actions.size());
    plan_.actions.push_back(std::move(a));
    return plan_.actions.back().id;
  }

  std::string Describe(const PciDevice& d) const {
    std::string s = d.bdf.str() + " (" + d.id.str();
    if (!d.driver.empty()) s += ", " + d.driver;
    return s + ")";
  }

  // The BDF VF `index` of `pf` will have, from sriov_offset/stride (PCIe SR-IOV §3.3.10).
  std::optional<Bdf> PredictVf(const PciDevice& pf, int index) const {
    if (!pf.sriov || pf.sriov->offset < 0 || pf.sriov->stride < 0) return std::nullopt;
    uint32_t rid = pf.bdf.routing_id() + pf.sriov->offset + index * pf.sriov->stride;
    if (rid > 0xffff) return std::nullopt;
    return Bdf::FromRoutingId(pf.bdf.domain, rid);
  }

  std::vector<Bdf> Resolve(const Selector& sel, const std::string& entry) {
    std::vector<Bdf> out;
    switch (sel.kind) {
      case Selector::Kind::kBdf:
        if (host_.Find(sel.bdf) || predicted_.count(sel.bdf)) out.push_back(sel.bdf);
        else
          Refuse(entry, "device " + sel.bdf.str() + " does not exist on this host",
                 "check the BDF with `ptrec show` (or `lspci -D`)", sel.pos);
        break;
      case Selector::Kind::kInterface: {
        auto it = std::find_if(host_.net_interfaces.begin(), host_.net_interfaces.end(),
                               [&](const NetInterface& n) { return n.name == sel.interface; });
        if (it != host_.net_interfaces.end() && it->bdf) {
          out.push_back(*it->bdf);
          break;
        }
        // A device ptrec took from the host has lost its interface; the ledger remembers it.
        for (const auto& b : host_.ledger.bindings) {
          if (std::find(b.interfaces.begin(), b.interfaces.end(), sel.interface) != b.interfaces.end()) {
            out.push_back(b.bdf);
            break;
          }
        }
        if (out.empty())
          Refuse(entry, "no PCI network interface named " + sel.interface + " on this host",
                 "check the name with `ip link`, or select the device by BDF", sel.pos);
        break;
      }
      case Selector::Kind::kId: {
        for (const auto& d : host_.devices)
          if (d.id == sel.id) out.push_back(d.bdf);
        if (sel.index >= 0) {
          if (static_cast<size_t>(sel.index) < out.size()) out = {out[sel.index]};
          else {
            Refuse(entry, "id " + sel.id.str() + " index " + std::to_string(sel.index) + " selects nothing: " +
                              std::to_string(out.size()) + " device(s) match",
                   "use an index below " + std::to_string(out.size()), sel.pos);
            out.clear();
          }
        } else if (out.empty()) {
          Refuse(entry, "no device with id " + sel.id.str() + " on this host",
                 "check ids with `ptrec show` (or `lspci -nn`)", sel.pos);
        }
        break;
      }
    }
    return out;
  }

  void AddWant(Bdf bdf, Want w) {
    auto [it, inserted] = wants_.emplace(bdf, w);
    if (inserted || it->second.driver == w.driver) return;
    Refuse(bdf.str(),
           bdf.str() + " is wanted on " + it->second.driver + " by " + it->second.entry + " (" +
               it->second.pos.str() + ") and on " + w.driver + " by " + w.entry,
           "keep one of the two entries", w.pos);
  }

  // Usage facts that forbid taking `bdf` from the host without force.
  void CheckUsage(Bdf bdf, const std::string& entry, Force force, SourcePos pos, const char* verb) {
    for (const auto& u : host_.usages) {
      if (u.bdf != bdf) continue;
      if (force == Force::kYes) {
        Warn(bdf.str(), bdf.str() + " " + u.what + "; " + entry + " will " + verb + " it anyway (force: true)", {}, pos);
        continue;
      }
      Refuse(bdf.str(), bdf.str() + " " + u.what + ": " + entry + " would " + verb + " it",
             "pick another device, or set force: true on " + entry + " if the host can do without it",
             pos);
    }
  }

  // What goes away when `d` leaves its driver.
  std::vector<std::string> Disruptions(const PciDevice& d) const {
    std::vector<std::string> out;
    for (const auto& n : d.net_interfaces) out.push_back("network interface " + n + " goes away");
    for (const auto& b : d.block_devices) out.push_back("disk " + b + " goes away");
    return out;
  }

  void PlanVfCounts() {
    // First pass: predicted VF BDFs, so hide entries may name VFs this plan creates.
    for (size_t i = 0; i < desired_.sriov.size(); ++i) {
      const auto& spec = desired_.sriov[i];
      if (spec.select.kind != Selector::Kind::kBdf) continue;
      if (const PciDevice* pf = host_.Find(spec.select.bdf); pf && pf->is_pf())
        for (int n = 0; n < spec.num_vfs; ++n)
          if (auto vf = PredictVf(*pf, n)) predicted_[*vf] = VfRef{pf->bdf, n};
    }
    for (size_t i = 0; i < desired_.sriov.size(); ++i) {
      const auto& spec = desired_.sriov[i];
      std::string entry = "sriov[" + std::to_string(i) + "]";
      for (Bdf bdf : Resolve(spec.select, entry)) {
        const PciDevice* pf = host_.Find(bdf);
        if (!pf) continue;
        if (!pf->is_pf()) {
          Refuse(entry, Describe(*pf) + " is not an SR-IOV physical function (it has no sriov_totalvfs)",
                 "numVfs applies to PFs only; `ptrec show` lists each PF with its sriov_totalvfs",
                 spec.pos);
          continue;
        }
        pf_specs_.emplace(bdf, &spec);
        if (!pf_counts_.emplace(bdf, spec.num_vfs).second) {
          Refuse(entry, "PF " + bdf.str() + " is selected by more than one sriov entry",
                 "keep one entry per PF", spec.pos);
          continue;
        }
        if (spec.method == SriovMethod::kModuleParam) {
          PlanModuleParamPf(*pf, spec, entry);
          continue;
        }
        PlanOnePf(*pf, spec, entry);
      }
    }
    // Counts ptrec set earlier that the desired state no longer mentions go back.
    for (const auto& v : host_.ledger.vf_counts) {
      if (pf_counts_.count(v.pf)) continue;
      const PciDevice* pf = host_.Find(v.pf);
      if (!pf || !pf->sriov || pf->sriov->num_vfs == v.original_num_vfs) continue;
      Action a;
      a.kind = ActionKind::kSetNumVfs;
      a.phase = Phase::kVfCount;
      a.device = pf->bdf;
      a.from_num_vfs = pf->sriov->num_vfs;
      a.num_vfs = v.original_num_vfs;
      a.before = std::to_string(a.from_num_vfs);
      a.after = std::to_string(a.num_vfs);
      a.reason = "no longer in the desired state: back to the count it had before ptrec";
      for (Bdf vf : pf->vfs) AddVfDisruption(a, vf);
      recreated_pfs_.insert(pf->bdf);
      AddAction(std::move(a));
    }
  }

  void AddVfDisruption(Action& a, Bdf vf) {
    const PciDevice* d = host_.Find(vf);
    if (!d) return;
    std::string s = "VF " + vf.str();
    if (!d->driver.empty()) s += " (" + d->driver + ")";
    a.disrupts.push_back(s + " is removed");
  }

  // VFs through the driver's module parameter (igb max_vfs): nothing to write now; the count
  // is configured for the next load of the driver and reported as pending until it runs.
  void PlanModuleParamPf(const PciDevice& pf, const SriovSpec& spec, const std::string& entry) {
    frozen_pfs_.insert(pf.bdf);  // the runtime count is the driver's business, not sysfs's
    if (pf.driver.empty()) {
      Refuse(entry, "PF " + pf.bdf.str() + " has no driver, so there is no module parameter to set",
             "bind its driver, or use method: sysfs", spec.pos);
      return;
    }
    if (spec.num_vfs > pf.sriov->total_vfs) {
      Refuse(entry, "numVfs " + std::to_string(spec.num_vfs) + " exceeds sriov_totalvfs " +
                        std::to_string(pf.sriov->total_vfs) + " of " + Describe(pf),
             "set numVfs to at most " + std::to_string(pf.sriov->total_vfs), spec.pos);
      return;
    }
    plan_.persist.module_param_vfs.push_back({pf.bdf, pf.driver, spec.num_vfs});
    if (pf.sriov->num_vfs != spec.num_vfs)
      plan_.pending_reboot.push_back(pf.bdf.str() + " gets " + std::to_string(spec.num_vfs) + " VFs through " +
                                     pf.driver + "'s max_vfs when " + pf.driver + " next loads (reboot, or reload it: "
                                     "that takes every device it drives from the host); it has " +
                                     std::to_string(pf.sriov->num_vfs) + " now");
  }

  void PlanOnePf(const PciDevice& pf, const SriovSpec& spec, const std::string& entry) {
    int current = pf.sriov->num_vfs;
    if (spec.num_vfs > pf.sriov->total_vfs) {
      frozen_pfs_.insert(pf.bdf);
      Refuse(entry,
             "numVfs " + std::to_string(spec.num_vfs) + " exceeds sriov_totalvfs " +
                 std::to_string(pf.sriov->total_vfs) + " of " + Describe(pf),
             "set numVfs to at most " + std::to_string(pf.sriov->total_vfs), spec.pos);
      return;
    }
    if (pf.driver.empty() && spec.num_vfs != current) {
      frozen_pfs_.insert(pf.bdf);
      Refuse(entry, "PF " + pf.bdf.str() + " has no driver bound: the kernel refuses sriov_numvfs without one (ENOENT)",
             "bind the PF's own driver first (e.g. `ptrec apply` after removing it from hide)", spec.pos);
      return;
    }
    bool recreate = spec.num_vfs != current;
    if (recreate) {
      Action a;
      a.kind = ActionKind::kSetNumVfs;
      a.phase = Phase::kVfCount;
      a.device = pf.bdf;
      a.from_num_vfs = current;
      a.num_vfs = spec.num_vfs;
      a.autoprobe_off = !spec.vf_driver.empty();
      a.before = std::to_string(current);
      a.after = std::to_string(spec.num_vfs);
      a.reason = entry + " (" + spec.pos.str() + ") wants numVfs " + std::to_string(spec.num_vfs);
      if (current != 0 && spec.num_vfs != 0)
        a.reason += "; through 0, since the kernel refuses N -> M with both non-zero (EBUSY)";
      if (a.autoprobe_off)
        a.reason += "; VFs created with sriov_drivers_autoprobe=0 so no host driver takes them first";
      for (Bdf vf : pf.vfs) {
        AddVfDisruption(a, vf);
        CheckUsage(vf, entry, spec.force, spec.pos, "remove");
      }
      if (current > 0) recreated_pfs_.insert(pf.bdf);
      vf_count_action_[pf.bdf] = AddAction(std::move(a));
    }
    if (spec.vf_driver.empty()) return;
    for (int n = 0; n < spec.num_vfs; ++n) {
      Want w{spec.vf_driver, entry, spec.pos, spec.force, std::nullopt, ""};
      Bdf bdf;
      if (recreate) {
        w.vf = VfRef{pf.bdf, n};
        bdf = PredictVf(pf, n).value_or(pf.bdf);
        if (!PredictVf(pf, n)) {
          // Unknown layout: key the want by a synthetic slot so each VF stays distinct.
          bdf = Bdf{0xffff, static_cast<uint8_t>(pf.bdf.bus), static_cast<uint8_t>(n >> 3), static_cast<uint8_t>(n & 7)};
        }
      } else {
        if (static_cast<size_t>(n) >= pf.vfs.size()) continue;
        bdf = pf.vfs[n];
      }
      AddWant(bdf, w);
    }
  }

  // The key a VF created by this plan is known by: its predicted BDF, or (unknown layout) a
  // synthetic one in domain 0xffff so each VF stays distinct.
  Bdf NewVfKey(const PciDevice& pf, int n) const {
    if (auto vf = PredictVf(pf, n)) return *vf;
    return Bdf{0xffff, static_cast<uint8_t>(pf.bdf.bus), static_cast<uint8_t>(n >> 3), static_cast<uint8_t>(n & 7)};
  }

  void PlanHides() {
    for (size_t i = 0; i < desired_.hide.size(); ++i) {
      const auto& spec = desired_.hide[i];
      std::string entry = "hide[" + std::to_string(i) + "]";
      for (Bdf bdf : Resolve(spec.select, entry)) {
        Want w{spec.driver, entry, spec.pos, spec.force, std::nullopt, ""};
        if (auto p = predicted_.find(bdf); p != predicted_.end() && !host_.Find(bdf)) {
          w.vf = p->second;
        } else if (const PciDevice* d = host_.Find(bdf)) {
          if (d->is_bridge()) {
            Refuse(entry, Describe(*d) + " is a PCI bridge or port; bridges are not assigned to VMs",
                   "select the endpoint devices behind it instead", spec.pos);
            continue;
          }
          if (spec.driver == "vfio-pci" && d->sriov && d->sriov->num_vfs > 0) {
            // drivers/vfio/pci/vfio_pci.c vfio_pci_probe: "Cannot bind to PF with SR-IOV
            // enabled" (-EBUSY); the e2e test bed saw exactly this.
            Refuse(entry, Describe(*d) + " has " + std::to_string(d->sriov->num_vfs) +
                              " VFs enabled, and vfio-pci refuses a PF with SR-IOV enabled (EBUSY)",
                   "set numVfs: 0 for this PF in an sriov entry of another apply first, or hide its VFs instead",
                   spec.pos);
            continue;
          }
          if (pf_counts_.count(bdf)) {
            Refuse(entry, bdf.str() + " is hidden from the host by " + entry + " and given VFs by an sriov entry",
                   "a PF is either the host's (with VFs) or hidden; drop one of the entries", spec.pos);
            continue;
          }
          if (d->is_vf() && recreated_pfs_.count(*d->physfn)) {
            auto it = pf_counts_.find(*d->physfn);
            int count = it == pf_counts_.end() ? 0 : it->second;
            if (d->vf_index >= count) {
              Refuse(entry, bdf.str() + " will not exist: the VF count of its PF " + d->physfn->str() + " goes to " + std::to_string(count),
                     "raise numVfs or drop this entry", spec.pos);
              continue;
            }
            w.vf = VfRef{*d->physfn, d->vf_index};
          }
          if (spec.group == GroupPolicy::kInclude) include_groups_.insert(bdf);
        }
        AddWant(bdf, w);
      }
    }
  }

  void CheckGroupsAndSafety() {
    std::set<std::string> no_iommu_reported;
    std::vector<std::pair<Bdf, Want>> added;
    const bool iommu_after_reboot = TurnsIommuOn(desired_);
    for (auto& [bdf, w] : wants_) {
      if (w.driver != "vfio-pci") continue;
      if (!host_.iommu_active && iommu_after_reboot) {
        // The reboot that turns the IOMMU on binds it: the udev rule sets driver_override as
        // the device appears and the boot unit probes it.
        w.deferred = true;
        if (no_iommu_reported.insert(w.entry).second)
          Warn(w.entry, "no IOMMU is active yet: " + w.entry + " takes effect at the boot that turns it on (kernelArgs)",
               "reboot after apply; until then the device stays with the host", w.pos);
        continue;
      }
      if (!host_.iommu_active) {
        if (no_iommu_reported.insert(w.entry).second)
          Refuse(w.entry, "no IOMMU is active on this host (sys/kernel/iommu_groups is empty): vfio-pci cannot take " + bdf.str(),
                 "enable VT-d/AMD-Vi in the firmware and add intel_iommu=on (or amd_iommu=on) to the kernel command line, then reboot; or use driver: pci-stub",
                 w.pos);
        continue;
      }
      if (w.vf) continue;  // a VF created by this plan gets its own group from the kernel
      const PciDevice* d = host_.Find(bdf);
      if (!d) continue;
      if (d->iommu_group < 0) {
        Refuse(w.entry, bdf.str() + " is in no IOMMU group, so VFIO cannot use it", "check dmesg for DMAR/AMD-Vi errors about this device", w.pos);
        continue;
      }
      std::vector<std::string> blockers;
      auto group = host_.iommu_groups.find(d->iommu_group);
      if (group == host_.iommu_groups.end()) continue;
      for (Bdf m : group->second) {
        if (m == bdf || wants_.count(m)) continue;
        const PciDevice* md = host_.Find(m);
        if (!md) continue;
        // group: include wants every endpoint of the group on the driver, whatever it is on
        // now, so that the next plan still counts them as wanted (and never gives them back).
        if (include_groups_.count(bdf) && !md->is_bridge()) {
          Want extra = w;
          extra.why = "IOMMU group " + std::to_string(d->iommu_group) + " of " + bdf.str() + " (group: include)";
          added.emplace_back(m, extra);
        } else if (!DriverKeepsGroupViable(md->driver)) {
          blockers.push_back(m.str() + " (" + md->driver + ")");
        }
      }
      if (!blockers.empty()) {
        std::string list;
        for (const auto& b : blockers) list += (list.empty() ? "" : ", ") + b;
        Refuse(w.entry,
               "IOMMU group " + std::to_string(d->iommu_group) + " of " + bdf.str() +
                   " is not viable for VFIO: " + list + " still on a host driver",
               "hide those devices too, or set group: include on " + w.entry, w.pos);
      }
    }
    for (auto& [bdf, w] : added) AddWant(bdf, w);
    // vfio_iommu_type1 refuses to attach a group to a container without interrupt remapping
    // unless allow_unsafe_interrupts=1 ("No interrupt remapping support. Use the module param
    // allow_unsafe_interrupts...", drivers/vfio/vfio_iommu_type1.c).
    bool vfio_wanted = std::any_of(wants_.begin(), wants_.end(), [](const auto& w) { return w.second.driver == "vfio-pci"; });
    if (vfio_wanted && host_.iommu_active && host_.interrupt_remapping == false && host_.allow_unsafe_interrupts != "Y") {
      bool configured = false;
      for (const auto& m : desired_.modules)
        if (m.name == "vfio_iommu_type1" && m.parameters.count("allow_unsafe_interrupts") &&
            m.parameters.at("allow_unsafe_interrupts") != "0")
          configured = true;
      if (!configured)
        Warn("vfio_iommu_type1", "this IOMMU does not remap interrupts, so assigning a device to a VM will fail "
                                 "(vfio_iommu_type1: \"No interrupt remapping support\")",
             "if you accept the risk (a guest can inject interrupts), add a modules entry: name: vfio_iommu_type1, "
             "parameters: {allow_unsafe_interrupts: 1}");
    }
    for (const auto& [bdf, w] : wants_) {
      const PciDevice* d = host_.Find(bdf);
      if (!d || w.vf || w.deferred) continue;
      if (d->driver == w.driver) continue;
      CheckUsage(bdf, w.entry, w.force, w.pos, "take");
      if (d->config_read && !d->msi && !d->msix)
        Warn(bdf.str(), bdf.str() + " has neither MSI nor MSI-X: a VM can only use it with an exclusive legacy INTx line",
             "prefer a device with MSI/MSI-X for passthrough", w.pos);
    }
  }

  void PlanBindings() {
    for (const auto& [bdf, w] : wants_) {
      if (w.deferred && w.vf) continue;
      Action a;
      a.kind = ActionKind::kBind;
      a.phase = Phase::kBind;
      a.driver = w.driver;
      a.after = w.driver;
      a.reason = w.entry + " (" + w.pos.str() + ") wants " + w.driver;
      if (!w.why.empty()) a.reason += ": " + w.why;
      if (w.vf) {
        a.vf = w.vf;
        a.device = bdf.domain == 0xffff ? w.vf->pf : bdf;
        a.before = "(new VF)";
        if (auto c = vf_count_action_.find(w.vf->pf); c != vf_count_action_.end()) a.deps.push_back(c->second);
        AddAction(std::move(a));
        continue;
      }
      const PciDevice* d = host_.Find(bdf);
      if (!d) continue;
      if (d->driver == w.driver && d->driver_override == w.driver) continue;
      a.device = bdf;
      a.before = DriverOrNone(d->driver);
      if (w.deferred) {
        // The udev rule binds it at the boot that turns the IOMMU on; this action only
        // records its driver and override now, so that dropping the entry later (before or
        // after that boot) gives it back at once.
        const Ledger::Binding* owned = host_.ledger.FindBinding(bdf);
        if (owned && owned->driver == w.driver) continue;  // recorded by an earlier apply
        a.reboot_required = true;
        a.reason += "; bound at the boot that turns the IOMMU on (udev rule); ptrec records " +
                    DriverOrNone(d->driver) + " now to give it back";
        a.disrupts = Disruptions(*d);
        AddAction(std::move(a));
        continue;
      }
      if (d->driver == w.driver) a.reason += "; set driver_override so it stays there";
      a.disrupts = Disruptions(*d);
      AddAction(std::move(a));
    }
  }

  void PlanReleases() {
    for (const auto& b : host_.ledger.bindings) {
      if (wants_.count(b.bdf)) continue;
      if (managed_.count(b.bdf)) {
        Warn(b.bdf.str(), b.bdf.str() + " was bound to " + b.driver + " by ptrec and is now managed: true; ptrec leaves its "
                          "driver to libvirt");
        continue;
      }
      const PciDevice* d = host_.Find(b.bdf);
      if (!d) continue;  // gone (a VF removed since): nothing to give back
      if (d->is_vf() && recreated_pfs_.count(*d->physfn)) continue;  // removed by this plan
      // The PF's entry was refused: its VFs stay as they are rather than being given back.
      if (d->is_vf() && frozen_pfs_.count(*d->physfn)) continue;
      // A hide that waited for a boot which has not come: the device never left its driver,
      // and the release only forgets it (the binding provider moves nothing).
      const bool never_moved =
          d->driver != b.driver && d->driver == b.original_driver && d->driver_override == b.original_override;
      if (d->driver != b.driver && !never_moved) {
        Warn(b.bdf.str(), b.bdf.str() + " was bound to " + b.driver + " by ptrec but is on " + DriverOrNone(d->driver) +
                              " now; ptrec leaves it as it is");
        continue;
      }
      Action a;
      a.kind = ActionKind::kRelease;
      a.phase = Phase::kRelease;
      a.device = b.bdf;
      a.driver = b.original_driver;
      a.driver_override = b.original_override;
      a.before = DriverOrNone(d->driver);
      a.after = DriverOrNone(b.original_driver);
      a.reason = never_moved ? "no longer in the desired state; its " + b.driver +
                                   " binding waited for a boot and never took effect: ptrec forgets it"
                             : "no longer in the desired state: back to the driver it had before ptrec";
      AddAction(std::move(a));
    }
  }

  void PlanModules() {
    std::map<std::string, int> loads;
    for (size_t i = 0; i < plan_.actions.size(); ++i) {
      const Action& a = plan_.actions[i];
      if (a.kind != ActionKind::kBind || a.reboot_required || host_.loaded_drivers.count(a.driver)) continue;
      auto it = loads.find(a.driver);
      if (it == loads.end()) {
        std::string module = ModuleName(a.driver);
        if (!host_.available_modules.count(module)) {
          Refuse(a.driver, "driver " + a.driver + " is not loaded and module " + module +
                               " is not in lib/modules/" + host_.kernel_release,
                 "install the kernel package that ships " + module + ", or load it by hand");
          loads[a.driver] = -1;
          continue;
        }
        Action load;
        load.kind = ActionKind::kLoadModule;
        load.phase = Phase::kModules;
        load.module = module;
        load.before = "not loaded";
        load.after = "loaded";
        load.reason = "driver " + a.driver + " is needed and not loaded";
        it = loads.emplace(a.driver, AddAction(std::move(load))).first;
      }
      if (it->second >= 0) plan_.actions[i].deps.push_back(it->second);
    }
  }

  // What to re-establish at boot: every wanted binding whose BDF is known, and every VF count
  // the desired state sets.
  void FillPersist() {
    for (const auto& [bdf, w] : wants_)
      if (bdf.domain != 0xffff) plan_.persist.overrides.push_back({bdf, w.driver});
    for (const auto& [pf, spec] : pf_specs_)
      if (!frozen_pfs_.count(pf) && spec->method == SriovMethod::kSysfs)
        plan_.persist.vf_counts.push_back({pf, spec->num_vfs, !spec->vf_driver.empty()});
  }

  void Order() { OrderActions(plan_.actions); }

  // ---- VMs ------------------------------------------------------------------------------------

  // One resolved vms[].devices entry.
  struct VmDev {
    size_t vm = 0;                 // index in desired_.vms
    const VmDeviceSpec* spec = nullptr;
    std::string entry;             // "vms[0].devices[1]"
    Bdf bdf;                       // its BDF (predicted for a VF this plan creates)
    std::optional<VfRef> vf;       // set when this plan (re)creates the VF
  };

  static bool Holds(const std::vector<VmHostdev>& list, Bdf bdf) {
    return std::any_of(list.begin(), list.end(), [&](const VmHostdev& h) { return h.source == bdf; });
  }
  static const VmHostdev* FindHostdev(const std::vector<VmHostdev>& list, Bdf bdf) {
    auto it = std::find_if(list.begin(), list.end(), [&](const VmHostdev& h) { return h.source == bdf; });
    return it == list.end() ? nullptr : &*it;
  }

  // The device a vms entry names, or nullopt (refused).
  std::optional<VmDev> ResolveVmDevice(size_t i, size_t j) {
    const VmSpec& vm = desired_.vms[i];
    const VmDeviceSpec& spec = vm.devices[j];
    VmDev out{i, &spec, "vms[" + std::to_string(i) + "].devices[" + std::to_string(j) + "]", {}, std::nullopt};
    std::vector<Bdf> found = Resolve(spec.select, out.entry);
    if (found.empty()) return std::nullopt;
    if (found.size() > 1) {
      Refuse(out.entry, spec.select.str() + " selects " + std::to_string(found.size()) + " devices; a VM device entry takes one",
             "add index: N to pick one (counting from 0 in BDF order), or select by device", spec.pos);
      return std::nullopt;
    }
    Bdf bdf = found[0];
    if (spec.vf < 0) {
      out.bdf = bdf;
      if (auto p = predicted_.find(bdf); p != predicted_.end() && !host_.Find(bdf)) {
        out.vf = p->second;
        return out;
      }
      const PciDevice* d = host_.Find(bdf);
      if (!d) return std::nullopt;
      if (d->is_bridge()) {
        Refuse(out.entry, Describe(*d) + " is a PCI bridge or port; bridges are not assigned to VMs",
               "select the endpoint devices behind it instead", spec.pos);
        return std::nullopt;
      }
      if (d->is_vf() && recreated_pfs_.count(*d->physfn)) {
        auto it = pf_counts_.find(*d->physfn);
        int count = it == pf_counts_.end() ? 0 : it->second;
        if (d->vf_index >= count) {
          Refuse(out.entry, bdf.str() + " will not exist: the VF count of its PF " + d->physfn->str() + " goes to " +
                                std::to_string(count),
                 "raise numVfs or drop this entry", spec.pos);
          return std::nullopt;
        }
        out.vf = VfRef{*d->physfn, d->vf_index};
      }
      return out;
    }
    // vf: N of the selected PF.
    const PciDevice* pf = host_.Find(bdf);
    if (!pf) return std::nullopt;
    if (!pf->is_pf()) {
      Refuse(out.entry, Describe(*pf) + " is not an SR-IOV physical function, so it has no VF " + std::to_string(spec.vf),
             "select the PF (`ptrec show` lists PFs with their sriov_totalvfs), or drop vf: to give the device itself",
             spec.pos);
      return std::nullopt;
    }
    auto want = pf_counts_.find(pf->bdf);
    bool counted_here = want != pf_counts_.end() && !frozen_pfs_.count(pf->bdf);
    int count = counted_here ? want->second : pf->sriov->num_vfs;
    if (spec.vf >= count) {
      Refuse(out.entry, "PF " + pf->bdf.str() + (counted_here ? " will have " : " has ") + std::to_string(count) +
                            " VF(s), so VF " + std::to_string(spec.vf) + " does not exist",
             "add or raise an sriov entry for " + pf->bdf.str() + ": numVfs: " + std::to_string(spec.vf + 1) +
                 " or more (sriov_totalvfs " + std::to_string(pf->sriov->total_vfs) + ")",
             spec.pos);
      return std::nullopt;
    }
    if (vf_count_action_.count(pf->bdf) || static_cast<size_t>(spec.vf) >= pf->vfs.size()) {
      out.vf = VfRef{pf->bdf, spec.vf};
      out.bdf = NewVfKey(*pf, spec.vf);
    } else {
      out.bdf = pf->vfs[spec.vf];
    }
    return out;
  }

  // Resolves every vms device, refuses devices given twice, and adds the vfio-pci binding a
  // managed: false device implies (ptrec owns its host driver, as if it were in hide).
  void ResolveVms() {
    for (size_t i = 0; i < desired_.vms.size(); ++i) {
      const VmSpec& vm = desired_.vms[i];
      std::string entry = "vms[" + std::to_string(i) + "]";
      const ObservedVm* o = host_.FindVm(vm.name);
      if (!o || !o->exists) {
        std::string why = o && !o->problem.empty() ? o->problem : "domain " + vm.name + " does not exist";
        skipped_vms_.insert(i);
        if (vm.missing == MissingDomain::kSkip) {
          Warn(entry, why + "; " + entry + " is skipped (missing: skip)", {}, vm.pos);
          continue;
        }
        Refuse(entry, why,
               vm.qmp.empty() ? "define the domain first (`virsh define`), fix the name (`virsh list --all`), or set "
                                "missing: skip to leave it out while it does not exist"
                              : "start the QEMU with -qmp unix:" + vm.qmp + ",server,wait=off, or set missing: skip",
               vm.pos);
        continue;
      }
      for (size_t j = 0; j < vm.devices.size(); ++j) {
        auto dev = ResolveVmDevice(i, j);
        if (!dev) continue;
        const VmDeviceSpec& spec = *dev->spec;
        if (auto [it, fresh] = vm_of_.emplace(dev->bdf, vm_devs_.size()); !fresh) {
          const VmDev& first = vm_devs_[it->second];
          Refuse(dev->entry,
                 spec.str() + " (" + dev->bdf.str() + ") is given to vm " +
                     desired_.vms[first.vm].name + " by " + first.entry + " (" + first.spec->pos.str() + ") and to vm " +
                     vm.name + " by " + dev->entry,
                 "a PCI function can be assigned to one VM at a time; keep one of the entries", spec.pos);
          continue;
        }
        vm_devs_.push_back(*dev);
        auto wanted = wants_.find(dev->bdf);
        if (spec.managed) {
          if (wanted != wants_.end()) {
            Refuse(dev->entry, dev->bdf.str() + " has managed: true, so libvirt binds it at attach, but " +
                                   wanted->second.entry + " (" + wanted->second.pos.str() + ") binds it to " +
                                   wanted->second.driver + " too",
                   "set managed: false to let ptrec own the binding, or drop it from " + wanted->second.entry, spec.pos);
            continue;
          }
          if (!vm.qmp.empty()) {
            Refuse(dev->entry, "managed: true needs libvirt, but vm " + vm.name + " is reached over QMP",
                   "set managed: false: ptrec binds the device to vfio-pci before device_add", spec.pos);
            continue;
          }
          managed_.insert(dev->bdf);
          if (!dev->vf) CheckUsage(dev->bdf, dev->entry, spec.force, spec.pos, "take");
          continue;
        }
        if (wanted != wants_.end()) {
          if (wanted->second.driver != "vfio-pci")
            Refuse(dev->entry, "vm " + vm.name + " needs " + dev->bdf.str() + " on vfio-pci, but " + wanted->second.entry +
                                   " binds it to " + wanted->second.driver,
                   "set driver: vfio-pci on " + wanted->second.entry + " (pci-stub cannot hand a device to a VM)",
                   spec.pos);
          continue;
        }
        if (const PciDevice* d = host_.Find(dev->bdf); d && !dev->vf) {
          if (d->sriov && d->sriov->num_vfs > 0) {
            Refuse(dev->entry, Describe(*d) + " has " + std::to_string(d->sriov->num_vfs) +
                                   " VFs enabled, and vfio-pci refuses a PF with SR-IOV enabled (EBUSY)",
                   "give the VM one of its VFs (vf: N) instead, or set numVfs: 0 for this PF", spec.pos);
            continue;
          }
          if (pf_counts_.count(dev->bdf)) {
            Refuse(dev->entry, dev->bdf.str() + " is given to vm " + vm.name + " and given VFs by an sriov entry",
                   "a PF is either the host's (with VFs) or a VM's; give the VM a VF (vf: N) instead", spec.pos);
            continue;
          }
        }
        Want w{"vfio-pci", dev->entry, spec.pos, spec.force, dev->vf, "for vm " + vm.name + " (managed: false)"};
        AddWant(dev->bdf, w);
      }
    }
  }

  // An IOMMU group is one unit for VFIO: all its endpoints go to one VM, and none stays on a
  // host driver (managed: false devices are checked by the viability rule already).
  void CheckVmGroups() {
    for (const VmDev& dev : vm_devs_) {
      if (dev.vf) continue;  // a VF created by this plan gets its own group from the kernel
      const PciDevice* d = host_.Find(dev.bdf);
      if (!d || d->iommu_group < 0) continue;
      auto group = host_.iommu_groups.find(d->iommu_group);
      if (group == host_.iommu_groups.end()) continue;
      const std::string& name = desired_.vms[dev.vm].name;
      for (Bdf m : group->second) {
        if (m == dev.bdf) continue;
        const PciDevice* md = host_.Find(m);
        if (!md || md->is_bridge()) continue;
        if (auto other = vm_of_.find(m); other != vm_of_.end()) {
          const VmDev& o = vm_devs_[other->second];
          if (o.vm != dev.vm && dev.bdf < m)
            Refuse(dev.entry, "IOMMU group " + std::to_string(d->iommu_group) + " is split across VMs: " + dev.bdf.str() +
                                  " goes to vm " + name + " and " + m.str() + " to vm " + desired_.vms[o.vm].name,
                   "VFIO hands a group to one VM only; give every device of group " + std::to_string(d->iommu_group) +
                       " to the same VM",
                   dev.spec->pos);
          continue;
        }
        if (!dev.spec->managed || wants_.count(m) || DriverKeepsGroupViable(md->driver)) continue;
        Refuse(dev.entry, "IOMMU group " + std::to_string(d->iommu_group) + " would be split between vm " + name + " (" +
                              dev.bdf.str() + ") and the host (" + m.str() + " on " + md->driver + ")",
               "give " + m.str() + " to vm " + name + " too, or hide it", dev.spec->pos);
      }
    }
  }

  // What this plan's VF-count changes do to existing VFs: removed for good (index >= the new
  // count) or only for the moment (N -> 0 -> M recreates the first M at the same BDFs).
  struct VfLoss {
    bool permanent = false;
    int action = -1;  // the kSetNumVfs action
  };
  std::map<Bdf, VfLoss> VfLosses() const {
    std::map<Bdf, VfLoss> out;
    for (const Action& a : plan_.actions) {
      if (a.kind != ActionKind::kSetNumVfs || a.from_num_vfs == 0) continue;
      const PciDevice* pf = host_.Find(a.device);
      if (!pf) continue;
      for (Bdf vf : pf->vfs) {
        const PciDevice* d = host_.Find(vf);
        bool permanent = a.num_vfs == 0 || !d || d->vf_index >= a.num_vfs;
        out[vf] = VfLoss{permanent, a.id};
      }
    }
    return out;
  }

  // Detaches for one observed domain: hostdevs that are ptrec's to remove and that the desired
  // state no longer gives it, and VFs this plan removes. Returns (vm, bdf) pairs it detaches
  // from the config and from the live domain.
  void PlanDetaches(const ObservedVm& o, const VmSpec* spec, const std::map<Bdf, VfLoss>& losses) {
    std::vector<Bdf> held;
    for (const auto& h : o.config) held.push_back(h.source);
    for (const auto& h : o.live)
      if (std::find(held.begin(), held.end(), h.source) == held.end()) held.push_back(h.source);
    const bool hotplug = spec && spec->hotplug;
    for (Bdf bdf : held) {
      const VmDev* want_here = nullptr;
      if (auto it = vm_of_.find(bdf); it != vm_of_.end() && spec && &desired_.vms[vm_devs_[it->second].vm] == spec)
        want_here = &vm_devs_[it->second];
      const Ledger::Hostdev* ledger = host_.ledger.FindHostdev(o.name, bdf);
      auto moves = vm_of_.find(bdf);
      bool named_elsewhere = moves != vm_of_.end() && !want_here;
      bool ours = ledger || named_elsewhere || want_here;
      auto loss = losses.find(bdf);
      bool in_config = Holds(o.config, bdf), in_live = o.running && Holds(o.live, bdf);
      bool detach_config = in_config && !want_here && ours;
      bool detach_live = in_live && !want_here && ours;
      if (loss != losses.end()) {
        if (!ours) {
          Refuse(bdf.str(), "the VF count change of PF " + plan_.actions[loss->second.action].device.str() +
                                " removes VF " + bdf.str() + ", which vm " + o.name + " holds and ptrec did not attach",
                 "detach it from " + o.name + " first (virsh detach-device), or keep the VF count", {});
          continue;
        }
        detach_live = detach_live || in_live;
        detach_config = detach_config || (in_config && loss->second.permanent);
        std::string lost = "vm " + o.name + " loses VF " + bdf.str() +
                           (loss->second.permanent ? "" : " until it is recreated and attached again");
        plan_.actions[loss->second.action].disrupts.push_back(lost);
      }
      if (!detach_config && !detach_live) continue;
      if (detach_live && !hotplug && loss != losses.end()) {
        // The kernel cannot remove a VF a running guest holds (vfio-pci waits for the release).
        Refuse(bdf.str(), "the VF count change of PF " + plan_.actions[loss->second.action].device.str() +
                              " removes VF " + bdf.str() + ", which the running vm " + o.name + " holds",
               "set hotplug: true on the vms entry of " + o.name + " (add one with devices: [] if it has none) so "
               "ptrec detaches it live first, or shut " + o.name + " down",
               spec ? spec->pos : SourcePos{});
      }
      if (detach_live && !hotplug && o.has_config) {
        // Only the definition may change; the running domain keeps the device until it stops.
        live_kept_.insert({o.name, bdf});
        detach_live = false;
        if (!detach_config) continue;
      } else if (detach_live && !hotplug) {
        live_kept_.insert({o.name, bdf});
        continue;
      }
      Action a;
      a.kind = ActionKind::kDetach;
      a.phase = Phase::kDetach;
      a.device = bdf;
      a.vm = o.name;
      a.vm_uri = o.uri;
      a.vm_qmp = o.qmp;
      a.config = detach_config;
      a.live = detach_live;
      const VmHostdev* h = FindHostdev(in_config ? o.config : o.live, bdf);
      a.managed = h && h->managed;
      a.guest_address = h ? h->guest_address : std::nullopt;
      a.before = "attached";
      a.after = "(detached)";
      if (want_here)
        a.reason = "its VF is recreated by the VF count change of its PF; attached again afterwards";
      else if (named_elsewhere)
        a.reason = "moves to vm " + desired_.vms[vm_devs_[moves->second].vm].name + " (" + vm_devs_[moves->second].entry + ")";
      else if (loss != losses.end())
        a.reason = "the VF count change of its PF removes it";
      else
        a.reason = "no longer in vms for " + o.name + "; ptrec attached it";
      if (a.live) a.disrupts.push_back("the running vm " + o.name + " loses " + bdf.str());
      if (a.config) detached_config_.insert({o.name, bdf});
      if (a.live) detached_live_.insert({o.name, bdf});
      AddAction(std::move(a));
    }
  }

  void PlanVmHostdevs() {
    auto losses = VfLosses();
    std::set<std::string> seen;
    for (size_t i = 0; i < desired_.vms.size(); ++i) {
      const VmSpec& vm = desired_.vms[i];
      seen.insert(vm.name);
      if (skipped_vms_.count(i)) continue;
      const ObservedVm* o = host_.FindVm(vm.name);
      if (!o) continue;
      PlanDetaches(*o, &vm, losses);
      for (const VmDev& dev : vm_devs_) {
        if (dev.vm != i) continue;
        bool in_config = o->has_config && Holds(o->config, dev.bdf) && !detached_config_.count({vm.name, dev.bdf});
        bool in_live = o->running && Holds(o->live, dev.bdf) && !detached_live_.count({vm.name, dev.bdf});
        if (auto loss = losses.find(dev.bdf); loss != losses.end() && in_live) in_live = false;
        bool attach_config = o->has_config && !in_config;
        bool attach_live = o->running && !in_live && vm.hotplug;
        if (o->running && !in_live && !vm.hotplug) {
          if (!o->has_config) {
            Refuse(dev.entry, "vm " + vm.name + " is reached over QMP, which has no persistent definition: only a live "
                                  "device_add can give it " + dev.bdf.str(),
                   "set hotplug: true on vms[" + std::to_string(i) + "]", dev.spec->pos);
            continue;
          }
          Warn(dev.entry, "vm " + vm.name + " is running without " + dev.bdf.str() +
                              "; it gets the device at its next start (hotplug: false)",
               "set hotplug: true to attach it to the running domain now", dev.spec->pos);
        }
        if (in_config && !attach_live) {
          const VmHostdev* h = FindHostdev(o->config, dev.bdf);
          if (h && (h->managed != dev.spec->managed ||
                    (dev.spec->guest_address && h->guest_address != dev.spec->guest_address)))
            Warn(dev.entry, "vm " + vm.name + " has " + dev.bdf.str() + " with other settings (managed='" +
                                (h->managed ? "yes" : "no") + "'" +
                                (h->guest_address ? ", guest " + h->guest_address->str() : "") + ") than " + dev.entry,
                 "ptrec does not re-attach an existing hostdev; detach it by hand to have it attached as written",
                 dev.spec->pos);
        }
        if (!attach_config && !attach_live) continue;
        Action a;
        a.kind = ActionKind::kAttach;
        a.phase = Phase::kAttach;
        a.vf = dev.vf;
        a.device = dev.vf && dev.bdf.domain == 0xffff ? dev.vf->pf : dev.bdf;
        a.vm = vm.name;
        a.vm_uri = vm.uri;
        a.vm_qmp = vm.qmp;
        a.config = attach_config;
        a.live = attach_live;
        a.managed = dev.spec->managed;
        a.guest_address = dev.spec->guest_address;
        a.before = "(not attached)";
        a.after = "attached";
        a.reason = dev.entry + " (" + dev.spec->pos.str() + ") gives " + dev.spec->str() + " to vm " + vm.name;
        if (dev.spec->managed) a.reason += "; managed='yes': libvirt binds it to vfio-pci";
        AddAction(std::move(a));
      }
    }
    // Domains only the ledger still names: ptrec's hostdevs come out of their definition.
    for (const ObservedVm& o : host_.vms)
      if (!seen.count(o.name) && o.exists) PlanDetaches(o, nullptr, losses);
  }

  // A device given back to the host or moved while a domain still holds it (live without
  // hotplug, or in a definition ptrec does not own) would break that domain.
  void CheckHeldDevices() {
    for (const Action& a : plan_.actions) {
      bool gives_back = a.kind == ActionKind::kRelease;
      bool moves = a.kind == ActionKind::kAttach;
      if (!gives_back && !moves) continue;
      for (const ObservedVm& o : host_.vms) {
        if (moves && o.name == a.vm) continue;
        bool live = o.running && Holds(o.live, a.device) && !detached_live_.count({o.name, a.device});
        bool config = Holds(o.config, a.device) && !detached_config_.count({o.name, a.device});
        if (!live && !config) continue;
        std::string what = gives_back ? "given back to the host" : "attached to vm " + a.vm;
        if (live)
          Refuse(a.device.str(), a.device.str() + " is to be " + what + ", but the running vm " + o.name + " still holds it",
                 live_kept_.count({o.name, a.device})
                     ? "set hotplug: true on the vms entry of " + o.name + " (add one with devices: [] if it has none) so "
                           "ptrec detaches it live, or shut " + o.name + " down first"
                     : "detach it from " + o.name + " first (virsh detach-device --live), or shut " + o.name + " down");
        else if (gives_back && !managed_.count(a.device))
          Refuse(a.device.str(), a.device.str() + " is to be " + what + ", but the definition of vm " + o.name +
                                     " lists it (managed='no') and ptrec did not attach it there",
                 "detach it from " + o.name + " (virsh detach-device --config), or keep it hidden");
      }
    }
  }

  const DesiredState& desired_;
  const HostState& host_;
  Plan plan_;
  std::map<Bdf, Want> wants_;
  std::map<Bdf, VfRef> predicted_;     // VFs the plan creates, by predicted BDF
  std::map<Bdf, int> pf_counts_;       // PF -> wanted VF count
  std::map<Bdf, const SriovSpec*> pf_specs_;  // PF -> the entry that selects it
  std::map<Bdf, int> vf_count_action_; // PF -> id of its kSetNumVfs action
  std::set<Bdf> recreated_pfs_;        // PFs whose existing VFs this plan removes
  std::set<Bdf> include_groups_;       // hidden devices with group: include
  std::set<Bdf> frozen_pfs_;           // PFs whose sriov entry was refused: leave their VFs be
  std::vector<VmDev> vm_devs_;         // resolved vms devices
  std::map<Bdf, size_t> vm_of_;        // device -> index in vm_devs_
  std::set<size_t> skipped_vms_;       // vms entries left out (missing domain)
  std::set<Bdf> managed_;              // managed: true devices (libvirt binds them)
  std::set<std::pair<std::string, Bdf>> detached_config_, detached_live_;  // (vm, device) this plan detaches
  std::set<std::pair<std::string, Bdf>> live_kept_;  // held live and not detached: hotplug: false
};

}  // namespace

Plan ComputePlan(const DesiredState& desired, const HostState& host) {
  return Planner(desired, host).Run();
}

void AppendActions(Plan& plan, std::vector<Action> more) {
  const int base = static_cast<int>(plan.actions.size());
  for (auto& a : more) {
    a.id = static_cast<int>(plan.actions.size());
    for (int& d : a.deps) d += base;
    plan.actions.push_back(std::move(a));
  }
  OrderActions(plan.actions);
}

}  // namespace ptrec
