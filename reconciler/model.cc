#include "reconciler/model.h"

#include <algorithm>
#include <cstdio>

namespace ptrec {

std::string SourcePos::str() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string KernelArg::str() const {
  if (!value) return key;
  bool quote = value->find_first_of(" \t") != std::string::npos;
  return key + "=" + (quote ? "\"" + *value + "\"" : *value);
}

std::string Selector::str() const {
  switch (kind) {
    case Kind::kBdf:
      return bdf.str();
    case Kind::kInterface:
      return "interface " + interface;
    case Kind::kId:
      return index < 0 ? id.str() : id.str() + " #" + std::to_string(index);
  }
  return {};
}

const Ledger::Binding* Ledger::FindBinding(Bdf bdf) const {
  auto it = std::find_if(bindings.begin(), bindings.end(), [&](auto& b) { return b.bdf == bdf; });
  return it == bindings.end() ? nullptr : &*it;
}

std::string VmDeviceSpec::str() const {
  if (vf < 0) return select.str();
  return "VF " + std::to_string(vf) + " of " + select.str();
}

const Ledger::Hostdev* Ledger::FindHostdev(const std::string& vm, Bdf bdf) const {
  auto it = std::find_if(hostdevs.begin(), hostdevs.end(), [&](auto& h) { return h.vm == vm && h.bdf == bdf; });
  return it == hostdevs.end() ? nullptr : &*it;
}

const ObservedVm* HostState::FindVm(const std::string& name) const {
  auto it = std::find_if(vms.begin(), vms.end(), [&](auto& v) { return v.name == name; });
  return it == vms.end() ? nullptr : &*it;
}

const Ledger::VfCount* Ledger::FindVfCount(Bdf pf) const {
  auto it = std::find_if(vf_counts.begin(), vf_counts.end(), [&](auto& v) { return v.pf == pf; });
  return it == vf_counts.end() ? nullptr : &*it;
}

const PciDevice* HostState::Find(Bdf bdf) const {
  auto it = index_.find(bdf);
  return it == index_.end() ? nullptr : &devices[it->second];
}

void HostState::Reindex() {
  std::sort(devices.begin(), devices.end(),
            [](const PciDevice& a, const PciDevice& b) { return a.bdf < b.bdf; });
  index_.clear();
  index_.reserve(devices.size());
  for (size_t i = 0; i < devices.size(); ++i) index_[devices[i].bdf] = i;
}

namespace {

// FNV-1a, 64 bit: small, stable across runs and platforms, good enough to detect change.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void Add(std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // field separator
  }
  void Add(int64_t v) { Add(std::to_string(v)); }
};

}  // namespace

std::string HostState::Fingerprint() const {
  // Only facts a plan depends on: device identity and binding, SR-IOV counts, groups, IOMMU,
  // usage (safety checks), ptrec's ledger, the running parameters of the modules the desired
  // state configures, and the cmdline and bootloader text for the kernel-args work.
  Fnv f;
  for (const auto& d : devices) {
    f.Add(d.bdf.str());
    f.Add(d.id.str());
    f.Add(d.driver);
    f.Add(d.driver_override);
    f.Add(d.iommu_group);
    if (d.sriov) {
      f.Add(d.sriov->total_vfs);
      f.Add(d.sriov->num_vfs);
      f.Add(d.sriov->drivers_autoprobe ? 1 : 0);
    }
  }
  f.Add(iommu_active ? 1 : 0);
  f.Add(cmdline);
  f.Add(boot.text);
  for (const auto& [path, text] : owned_files) f.Add(path + "\n" + text);
  for (const auto& d : loaded_drivers) f.Add(d);
  for (const auto& [module, params] : module_params)
    for (const auto& [param, value] : params) f.Add(module + "." + param + "=" + value);
  for (const auto& u : usages) f.Add(u.bdf.str() + u.what);
  for (const auto& b : ledger.bindings) f.Add(b.bdf.str() + b.driver + b.original_driver + b.original_override);
  for (const auto& v : ledger.vf_counts) f.Add(v.pf.str() + std::to_string(v.num_vfs) + "/" + std::to_string(v.original_num_vfs));
  for (const auto& h : ledger.hostdevs) f.Add(h.vm + "/" + h.bdf.str() + (h.managed ? "+m" : ""));
  // Domains: existence, state and every hostdev of both definitions (a plan attaches or
  // detaches against exactly these).
  for (const auto& vm : vms) {
    f.Add("vm " + vm.name + (vm.exists ? " exists" : " missing") + (vm.running ? " running" : "") + vm.problem);
    for (const auto& h : vm.config) f.Add("c " + h.source.str() + (h.managed ? "+m" : "") + (h.guest_address ? h.guest_address->str() : ""));
    for (const auto& h : vm.live) f.Add("l " + h.source.str() + (h.managed ? "+m" : ""));
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(f.h));
  return buf;
}

char Action::symbol() const {
  switch (kind) {
    case ActionKind::kLoadModule:
      return '+';
    case ActionKind::kReloadModule:
      return '~';
    case ActionKind::kEditBootloader:
      return '~';
    case ActionKind::kWriteFile:
      return remove ? '-' : (before == "absent" ? '+' : '~');
    case ActionKind::kBind:
      return '+';
    case ActionKind::kRelease:
    case ActionKind::kDetach:
      return '-';
    case ActionKind::kAttach:
      return '+';
    case ActionKind::kSetNumVfs:
      if (from_num_vfs == 0) return '+';
      if (num_vfs == 0) return '-';
      return '~';
  }
  return '~';
}

std::string Action::subject() const {
  if (kind == ActionKind::kLoadModule || kind == ActionKind::kReloadModule) return "module " + module;
  if (kind == ActionKind::kEditBootloader) return "kernel command line (" + path + ")";
  if (kind == ActionKind::kWriteFile) return path;
  std::string s = device.str();
  if (vf) {
    s = "VF " + std::to_string(vf->index) + " of " + vf->pf.str();
    if (device != vf->pf) s += " (" + device.str() + ")";
  }
  if (kind == ActionKind::kAttach || kind == ActionKind::kDetach) s = "vm " + vm + ": " + s;
  return s;
}

bool Plan::refused() const {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Finding::Severity::kRefusal; });
}

bool Plan::reboot_required() const {
  if (!pending_reboot.empty()) return true;
  return std::any_of(actions.begin(), actions.end(),
                     [](const Action& a) { return a.reboot_required; });
}

std::string ModuleName(std::string_view name) {
  std::string m(name);
  std::replace(m.begin(), m.end(), '-', '_');
  return m;
}

std::string_view ModuleFileName(std::string_view path) {
  path = path.substr(0, path.find(':'));  // modules.dep: "path: deps"
  size_t slash = path.rfind('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  return path.substr(0, path.find(".ko"));
}

const char* ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kEditBootloader: return "edit_bootloader";
    case ActionKind::kWriteFile: return "write_file";
    case ActionKind::kLoadModule: return "load_module";
    case ActionKind::kReloadModule: return "reload_module";
    case ActionKind::kSetNumVfs: return "set_num_vfs";
    case ActionKind::kBind: return "bind";
    case ActionKind::kRelease: return "release";
    case ActionKind::kAttach: return "attach";
    case ActionKind::kDetach: return "detach";
  }
  return "";
}

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kBoot: return "boot";
    case Phase::kModules: return "modules";
    case Phase::kDetach: return "detach";
    case Phase::kAttach: return "attach";
    case Phase::kRelease: return "release";
    case Phase::kVfCount: return "vf_count";
    case Phase::kBind: return "bind";
  }
  return "";
}

}  // namespace ptrec
