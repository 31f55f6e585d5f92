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
    PlanVfCounts();
    PlanHides();
    CheckGroupsAndSafety();
    PlanBindings();
    PlanReleases();
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
