#include "providers/host/sysfs_paths.h"

namespace ptrec::paths {
namespace {
constexpr std::string_view kPci = "sys/bus/pci";

std::string Join(std::string_view a, std::string_view b) {
  std::string s;
  s.reserve(a.size() + 1 + b.size());
  s.append(a).append(1, '/').append(b);
  return s;
}
}  // namespace

std::string PciDevices() { return Join(kPci, "devices"); }
std::string PciDevice(Bdf bdf) { return Join(PciDevices(), bdf.str()); }
std::string PciDeviceAttr(Bdf bdf, std::string_view attr) { return Join(PciDevice(bdf), attr); }
std::string PciVirtfn(Bdf pf, int n) { return PciDeviceAttr(pf, "virtfn" + std::to_string(n)); }
std::string PciDrivers() { return Join(kPci, "drivers"); }
std::string PciDriver(std::string_view driver) { return Join(PciDrivers(), driver); }
std::string PciDriverAttr(std::string_view driver, std::string_view attr) {
  return Join(PciDriver(driver), attr);
}
std::string PciDriversProbe() { return Join(kPci, "drivers_probe"); }

std::string IommuGroups() { return "sys/kernel/iommu_groups"; }
std::string IommuGroupDevices(int group) {
  return Join(Join(IommuGroups(), std::to_string(group)), "devices");
}
std::string ClassIommu() { return "sys/class/iommu"; }
std::string DevVfioGroup(int group) { return Join("dev/vfio", std::to_string(group)); }

std::string ClassNet() { return "sys/class/net"; }
std::string NetAttr(std::string_view ifname, std::string_view attr) {
  return Join(Join(ClassNet(), ifname), attr);
}
std::string Block() { return "sys/block"; }
std::string BlockDev(std::string_view name) { return Join(Block(), name); }

std::string Modules() { return "sys/module"; }
std::string ModuleParam(std::string_view module, std::string_view param) {
  return Join(Join(Join(Modules(), module), "parameters"), param);
}
std::string LibModulesFile(std::string_view release, std::string_view file) {
  return Join(Join("lib/modules", release), file);
}

std::string ProcCmdline() { return "proc/cmdline"; }
std::string ProcOsRelease() { return "proc/sys/kernel/osrelease"; }
std::string ProcNetRoute() { return "proc/net/route"; }
std::string ProcNetIpv6Route() { return "proc/net/ipv6_route"; }
std::string ProcNetIfInet6() { return "proc/net/if_inet6"; }
std::string ProcMountinfo() { return "proc/self/mountinfo"; }

std::string StateDir() { return "var/lib/ptrec"; }
std::string LedgerFile() { return Join(StateDir(), "state.json"); }
std::string JournalFile() { return Join(StateDir(), "journal.jsonl"); }
std::string LockFile() { return Join(StateDir(), "lock"); }

std::string_view Basename(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace ptrec::paths
