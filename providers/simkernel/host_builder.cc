#include "providers/simkernel/host_builder.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>
#include <stdexcept>

#include "providers/host/host_fs.h"
#include "providers/host/sysfs_paths.h"
#include "providers/pci/usage.h"
#include "providers/simkernel/sim_kernel.h"
#include "providers/simkernel/sim_tree.h"
#include "providers/vm/sim_domains.h"

namespace ptrec::sim {

using internal::TreeWriter;

DeviceSpec& HostSpec::AddDevice(std::string_view bdf, std::string_view id, uint32_t class_code,
                                std::string driver) {
  auto b = Bdf::Parse(bdf);
  auto i = PciId::Parse(id);
  if (!b) throw std::invalid_argument("bad BDF literal '" + std::string(bdf) + "'");
  if (!i) throw std::invalid_argument("bad PCI id literal '" + std::string(id) + "'");
  DeviceSpec& d = devices.emplace_back();
  d.bdf = *b;
  d.id = *i;
  d.class_code = class_code;
  d.driver = std::move(driver);
  return d;
}

ModuleSpec& HostSpec::AddModule(std::string name, std::string driver,
                                std::vector<std::string_view> ids) {
  ModuleSpec& m = modules.emplace_back();
  m.driver = driver.empty() ? name : std::move(driver);
  m.name = std::move(name);
  for (auto id : ids) {
    auto parsed = PciId::Parse(id);
    if (!parsed) throw std::invalid_argument("bad PCI id literal '" + std::string(id) + "'");
    m.pci_ids.push_back(*parsed);
  }
  return m;
}

namespace {

// Collects the first error of a sequence of tree writes so the build code reads straight.
struct Writer {
  TreeWriter& w;
  std::optional<Error> error;

  void File(std::string_view path, std::string_view data, unsigned mode = 0444) {
    if (!error)
      if (auto r = w.WriteFile(path, data, mode); !r) error = r.error();
  }
  void Dir(std::string_view path) {
    if (!error)
      if (auto r = w.MakeDirs(path); !r) error = r.error();
  }
  void Link(std::string_view link, std::string_view target) {
    if (!error)
      if (auto r = w.Link(link, target); !r) error = r.error();
  }
  void Check(const Result<void>& r) {
    if (!error && !r) error = r.error();
  }
};

std::unexpected<Error> Invalid(std::string message) {
  return Fail(Code::kInvalid, "host spec: " + std::move(message));
}

bool IsBridgeClass(uint32_t class_code) { return (class_code >> 8) == 0x0604; }

// Where a module's .ko typically lives (modules.dep, modules.builtin use these paths).
std::string ModulePath(const ModuleSpec& m) {
  if (!m.path.empty()) return m.path;
  static const std::pair<const char*, const char*> kKnown[] = {
      {"igb", "kernel/drivers/net/ethernet/intel/igb/igb.ko"},
      {"igbvf", "kernel/drivers/net/ethernet/intel/igbvf/igbvf.ko"},
      {"e1000e", "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko"},
      {"ixgbe", "kernel/drivers/net/ethernet/intel/ixgbe/ixgbe.ko"},
      {"ixgbevf", "kernel/drivers/net/ethernet/intel/ixgbevf/ixgbevf.ko"},
      {"i40e", "kernel/drivers/net/ethernet/intel/i40e/i40e.ko"},
      {"iavf", "kernel/drivers/net/ethernet/intel/iavf/iavf.ko"},
      {"ice", "kernel/drivers/net/ethernet/intel/ice/ice.ko"},
      {"tg3", "kernel/drivers/net/ethernet/broadcom/tg3.ko"},
      {"bnx2x", "kernel/drivers/net/ethernet/broadcom/bnx2x/bnx2x.ko"},
      {"mlx5_core", "kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko"},
      {"ahci", "kernel/drivers/ata/ahci.ko"},
      {"nvme", "kernel/drivers/nvme/host/nvme.ko"},
      {"vfio", "kernel/drivers/vfio/vfio.ko"},
      {"vfio_pci", "kernel/drivers/vfio/pci/vfio-pci.ko"},
      {"vfio_pci_core", "kernel/drivers/vfio/pci/vfio-pci-core.ko"},
      {"vfio_iommu_type1", "kernel/drivers/vfio/vfio_iommu_type1.ko"},
      {"pci_stub", "kernel/drivers/pci/pci-stub.ko"},
      {"pcieport", "kernel/drivers/pci/pcie/portdrv.ko"},
  };
  for (const auto& [name, path] : kKnown)
    if (m.name == name) return path;
  std::string file = m.name;
  std::replace(file.begin(), file.end(), '_', '-');
  return "kernel/drivers/misc/" + file + ".ko";
}

std::string AliasLine(PciId id, const std::string& module) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "alias pci:v0000%04Xd0000%04Xsv*sd*bc*sc*i* %s\n", id.vendor,
                id.device, module.c_str());
  return buf;
}

// An IPv4 or IPv6 address with its prefix length, from "192.168.1.10/24".
struct Address {
  int family = AF_INET;
  uint8_t bytes[16] = {};
  int prefix = 0;
};

std::optional<Address> ParseAddress(const std::string& text) {
  Address a;
  size_t slash = text.find('/');
  std::string ip = text.substr(0, slash);
  a.family = ip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (::inet_pton(a.family, ip.c_str(), a.bytes) != 1) return std::nullopt;
  int max = a.family == AF_INET ? 32 : 128;
  a.prefix = max;
  if (slash != std::string::npos) {
    try {
      size_t used = 0;
      a.prefix = std::stoi(text.substr(slash + 1), &used);
      if (used != text.size() - slash - 1) return std::nullopt;
    } catch (...) {
      return std::nullopt;
    }
  }
  if (a.prefix < 0 || a.prefix > max) return std::nullopt;
  return a;
}

// Network address of \a a (host bits cleared).
Address NetworkOf(Address a) {
  int bytes = a.family == AF_INET ? 4 : 16;
  for (int i = 0; i < bytes; ++i) {
    int keep = std::clamp(a.prefix - i * 8, 0, 8);
    a.bytes[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  return a;
}

// An IPv4 address as proc/net/route prints a __be32 with %08X on a little-endian host.
uint32_t Be32AsHost(const uint8_t* b) {
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

std::string Hex128(const uint8_t* b) {
  std::string out;
  char buf[3];
  for (int i = 0; i < 16; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", b[i]);
    out += buf;
  }
  return out;
}

// One row of proc/net/route (net/ipv4/fib_trie.c fib_route_seq_show): tab-separated fields,
// padded with spaces to 127 characters.
std::string RouteRow(const std::string& iface, uint32_t dest, uint32_t gw, unsigned flags,
                     uint32_t mask) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s\t%08X\t%08X\t%04X\t%d\t%u\t%d\t%08X\t%d\t%u\t%u",
                iface.c_str(), dest, gw, flags, 0, 0u, 0, mask, 0, 0u, 0u);
  std::string row = buf;
  if (row.size() < 127) row.append(127 - row.size(), ' ');
  return row + "\n";
}

// One row of proc/net/ipv6_route (net/ipv6/route.c ipv6_route_native_seq_show).
std::string Route6Row(const uint8_t* dest, int plen, const uint8_t* gw, unsigned metric,
                      unsigned flags, const std::string& iface) {
  static const uint8_t kZero[16] = {};
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s %02x %s %02x %s %08x %08x %08x %08x %8s\n",
                Hex128(dest).c_str(), plen, Hex128(kZero).c_str(), 0, Hex128(gw).c_str(), metric,
                1u, 0u, flags, iface.c_str());
  return buf;
}

// One row of proc/net/if_inet6 (net/ipv6/addrconf.c if6_seq_show).
std::string Inet6Row(const uint8_t* addr, int ifindex, int plen, int scope, int flags,
                     const std::string& iface) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s %02x %02x %02x %02x %8s\n", Hex128(addr).c_str(), ifindex,
                plen, scope, flags, iface.c_str());
  return buf;
}

// A block device below a PCI function and the names it answers to.
struct Disk {
  std::string name;  ///< "nvme0n1", "sda"
  const DeviceSpec* dev;
  int partitions = 0;
  std::string part_prefix;  ///< "nvme0n1p" or "sda"
};

std::optional<Disk> DiskOf(const std::string& name, const DeviceSpec* dev) {
  if (name.rfind("nvme", 0) == 0 && name.find('n', 4) != std::string::npos)
    return Disk{name, dev, 0, name + "p"};
  if (name.size() == 3 && name.rfind("sd", 0) == 0 && name[2] >= 'a' && name[2] <= 'z')
    return Disk{name, dev, 0, name};
  return std::nullopt;
}

// Partition number of \a source on \a disk ("sda2" on sda -> 2), 0 for the whole disk, -1 when
// it is not on that disk.
int PartitionOf(const std::string& source, const Disk& disk) {
  if (source == disk.name) return 0;
  if (source.rfind(disk.part_prefix, 0) != 0 || source.size() == disk.part_prefix.size()) return -1;
  std::string rest = source.substr(disk.part_prefix.size());
  if (!std::all_of(rest.begin(), rest.end(), ::isdigit) || rest.size() > 3) return -1;
  return std::stoi(rest);
}

std::string Mac(const DeviceSpec& d) {
  if (!d.mac.empty()) return d.mac;
  // Intel's OUI and the BDF: stable across builds, distinct per function.
  char buf[32];
  std::snprintf(buf, sizeof buf, "00:1b:21:%02x:%02x:%02x", d.bdf.bus,
                (d.bdf.device << 3 | d.bdf.function) & 0xff, d.bdf.domain & 0xff);
  return buf;
}

// The link-local address the kernel derives from a MAC (EUI-64, RFC 4291 §2.5.1).
void LinkLocal(const std::string& mac, uint8_t* out) {
  unsigned m[6] = {};
  std::sscanf(mac.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]);
  std::memset(out, 0, 16);
  out[0] = 0xfe;
  out[1] = 0x80;
  out[8] = static_cast<uint8_t>(m[0] ^ 0x02);
  out[9] = static_cast<uint8_t>(m[1]);
  out[10] = static_cast<uint8_t>(m[2]);
  out[11] = 0xff;
  out[12] = 0xfe;
  out[13] = static_cast<uint8_t>(m[3]);
  out[14] = static_cast<uint8_t>(m[4]);
  out[15] = static_cast<uint8_t>(m[5]);
}

bool CmdlineHas(const std::string& cmdline, std::string_view token) {
  size_t start = 0;
  while (start < cmdline.size()) {
    size_t end = cmdline.find(' ', start);
    if (end == std::string::npos) end = cmdline.size();
    if (std::string_view(cmdline).substr(start, end - start) == token) return true;
    start = end + 1;
  }
  return false;
}

bool IsVfio(const std::string& driver) { return driver.find("vfio") != std::string::npos; }

// Everything BuildHost derives from the spec before writing.
struct Layout {
  std::map<Bdf, const DeviceSpec*> devices;                // BDF order
  std::map<Bdf, std::string> dirs;                         // canonical dirs
  std::map<Bdf, int> groups;                               // final IOMMU groups
  std::map<std::string, const ModuleSpec*> driver_module;  // present drivers
  std::vector<Disk> disks;
  std::map<std::string, const DeviceSpec*> ifaces;
};

Result<Layout> Check(const HostSpec& spec) {
  Layout l;
  std::set<std::string> module_names;
  for (const auto& m : spec.modules) {
    if (m.name.empty()) return Invalid("a module without a name");
    if (!module_names.insert(m.name).second) return Invalid("module " + m.name + " listed twice");
    if (!m.driver.empty() && (m.loaded || m.builtin)) {
      if (l.driver_module.count(m.driver))
        return Invalid("driver " + m.driver + " registered by two modules");
      l.driver_module[m.driver] = &m;
    }
  }
  for (const auto& d : spec.devices)
    if (!l.devices.emplace(d.bdf, &d).second)
      return Invalid("device " + d.bdf.str() + " listed twice");

  std::function<Result<std::string>(Bdf, int)> dir_of = [&](Bdf bdf,
                                                            int depth) -> Result<std::string> {
    if (auto it = l.dirs.find(bdf); it != l.dirs.end()) return it->second;
    const DeviceSpec& d = *l.devices.at(bdf);
    std::string dir;
    if (!d.parent) {
      char root[32];
      std::snprintf(root, sizeof root, "sys/devices/pci%04x:%02x", bdf.domain, bdf.bus);
      dir = std::string(root) + "/" + bdf.str();
    } else {
      auto parent = l.devices.find(*d.parent);
      if (parent == l.devices.end())
        return Invalid("device " + bdf.str() + ": parent " + d.parent->str() + " is not listed");
      if (!IsBridgeClass(parent->second->class_code))
        return Invalid("device " + bdf.str() + ": parent " + d.parent->str() +
                       " is not a PCI bridge (class 0x0604xx)");
      if (depth > 32) return Invalid("device " + bdf.str() + ": parent chain loops");
      auto up = dir_of(*d.parent, depth + 1);
      if (!up) return up;
      dir = *up + "/" + bdf.str();
    }
    l.dirs[bdf] = dir;
    return dir;
  };

  const bool iommu = spec.iommu != HostSpec::Iommu::kNone;
  int next_group = 0;
  for (const auto& d : spec.devices) next_group = std::max(next_group, d.iommu_group + 1);

  for (const auto& [bdf, d] : l.devices) {
    if (auto dir = dir_of(bdf, 0); !dir) return std::unexpected(dir.error());
    if (!d->driver.empty() && !l.driver_module.count(d->driver))
      return Invalid("device " + bdf.str() + ": driver " + d->driver +
                     " is not registered by a loaded or built-in module");
    if (d->iommu_group >= 0 && !iommu)
      return Invalid("device " + bdf.str() + ": iommu_group set but the host has no IOMMU");
    if (iommu) l.groups[bdf] = d->iommu_group >= 0 ? d->iommu_group : next_group++;
    if (d->sriov) {
      const auto& s = *d->sriov;
      if (s.total_vfs < 0 || s.num_vfs < 0 || s.num_vfs > s.total_vfs)
        return Invalid("device " + bdf.str() + ": sriov num_vfs must be 0..total_vfs");
      if (s.total_vfs > 0 && (s.vf_device == 0 || s.stride < 1 || s.offset < 1))
        return Invalid("device " + bdf.str() + ": sriov needs vf_device, offset >= 1, stride >= 1");
    }
    if (!d->net_interface.empty()) {
      if (d->driver.empty())
        return Invalid("device " + bdf.str() + ": interface " + d->net_interface +
                       " needs a bound driver");
      if (!l.ifaces.emplace(d->net_interface, d).second)
        return Invalid("interface " + d->net_interface + " listed twice");
    }
    for (const auto& name : d->block_devices) {
      if (d->driver.empty())
        return Invalid("device " + bdf.str() + ": disk " + name + " needs a bound driver");
      auto disk = DiskOf(name, d);
      if (!disk)
        return Invalid("device " + bdf.str() + ": disk name " + name +
                       " is neither nvmeXnY nor sdX");
      disk->partitions = d->partitions;
      for (const auto& other : l.disks)
        if (other.name == name) return Invalid("disk " + name + " listed twice");
      l.disks.push_back(*disk);
    }
  }
  std::set<std::string> file_paths;
  for (const auto& f : spec.files) {
    std::string_view p = f.path;
    bool bad = p.empty() || p[0] == '/' || p.back() == '/' || ("/" + f.path + "/").find("/../") != std::string::npos ||
               ("/" + f.path + "/").find("/./") != std::string::npos;
    for (std::string_view kernel : {"sys", "proc", "dev"})
      if (p == kernel || p.starts_with(std::string(kernel) + "/")) bad = true;
    if (bad)
      return Invalid("file '" + f.path + "': a path relative to the root, without '..', outside sys/, proc/ and dev/");
    if (!file_paths.insert(f.path).second) return Invalid("file " + f.path + " listed twice");
  }
  for (const auto& m : spec.mounts) {
    if (m.target.empty() || m.target[0] != '/')
      return Invalid("mount of " + m.source + ": target must be an absolute path");
    for (auto& disk : l.disks) {
      int part = PartitionOf(m.source, disk);
      if (part > 0) disk.partitions = std::max(disk.partitions, part);
    }
  }
  for (const auto& [name, addrs] : spec.network.addresses) {
    if (!l.ifaces.count(name)) return Invalid("addresses for unknown interface " + name);
    for (const auto& a : addrs)
      if (!ParseAddress(a)) return Invalid("interface " + name + ": bad address " + a);
  }
  if (!spec.network.default_route.empty()) {
    auto it = l.ifaces.find(spec.network.default_route);
    if (it == l.ifaces.end())
      return Invalid("default route on unknown interface " + spec.network.default_route);
    if (!it->second->net_up)
      return Invalid("default route on interface " + spec.network.default_route +
                     ", which is down");
    bool has_v4 = false;
    if (auto a = spec.network.addresses.find(spec.network.default_route);
        a != spec.network.addresses.end())
      for (const auto& text : a->second) has_v4 |= ParseAddress(text)->family == AF_INET;
    if (!has_v4)
      return Invalid("default route on interface " + spec.network.default_route +
                     ", which has no IPv4 address");
  }
  if (uint8_t gw[4];
      !spec.network.gateway.empty() && ::inet_pton(AF_INET, spec.network.gateway.c_str(), gw) != 1)
    return Invalid("gateway " + spec.network.gateway + " is not an IPv4 address");
  return l;
}

// The whole write-out, in the order the kernel would create things at boot.
class Build {
 public:
  Build(const HostSpec& spec, const Layout& layout, TreeWriter& tree)
      : spec_(spec), l_(layout), w_{tree} {}

  Result<void> Run() {
    Skeleton();
    Modules();
    Devices();
    Network();
    Block();
    Proc();
    for (const auto& f : spec_.files) {
      if (size_t slash = f.path.rfind('/'); slash != std::string::npos) w_.Dir(f.path.substr(0, slash));
      w_.File(f.path, f.content, f.mode);
    }
    if (w_.error) return std::unexpected(*w_.error);
    return {};
  }

 private:
  std::string IommuUnit() const {
    switch (spec_.iommu) {
      case HostSpec::Iommu::kIntel:
        return "dmar0";
      case HostSpec::Iommu::kAmd:
        return "ivhd0";
      case HostSpec::Iommu::kNone:
        break;
    }
    return "";
  }

  std::string GroupType() const {
    if (!spec_.iommu_domain_type.empty()) return spec_.iommu_domain_type;
    // iommu=pt / iommu.passthrough=1: identity default domains (drivers/iommu/iommu.c).
    bool pt =
        CmdlineHas(spec_.cmdline, "iommu=pt") || CmdlineHas(spec_.cmdline, "iommu.passthrough=1");
    return pt ? "identity" : "DMA";
  }

  void Skeleton() {
    w_.Dir(paths::PciDevices());
    w_.Dir(paths::PciDrivers());
    std::string bus(internal::Dirname(paths::PciDevices()));
    w_.File(paths::PciDriversProbe(), "", 0200);
    w_.File(bus + "/rescan", "", 0200);
    w_.File(bus + "/drivers_autoprobe", "1\n", 0644);
    w_.File(bus + "/resource_alignment", "\n", 0644);
    w_.File(bus + "/uevent", "", 0200);
    // The iommu_groups kset and the iommu class exist even without an IOMMU; only their entries
    // depend on one (drivers/iommu/iommu.c iommu_init, iommu-sysfs.c iommu_dev_init).
    w_.Dir(paths::IommuGroups());
    w_.Dir(paths::ClassIommu());
    w_.Dir(paths::ClassNet());
    w_.Dir(paths::Block());
    w_.Dir("sys/class/block");
    w_.Dir(paths::Modules());
    w_.Dir("dev");
    if (!IommuUnit().empty()) {
      std::string unit = "sys/devices/virtual/iommu/" + IommuUnit();
      w_.Dir(unit + "/devices");
      w_.Dir(unit + (spec_.iommu == HostSpec::Iommu::kIntel ? "/intel-iommu" : "/amd-iommu"));
      w_.File(unit + "/uevent", "", 0644);
      w_.Link(unit + "/subsystem", paths::ClassIommu());
      w_.Link(paths::ClassIommu() + "/" + IommuUnit(), unit);
    }
  }

  void Modules() {
    std::string dep, builtin, alias = "# Aliases extracted from modules themselves.\n",
                              builtin_alias;
    std::string proc_modules;
    bool vfio = false;
    for (const auto& m : spec_.modules) {
      std::string path = ModulePath(m);
      std::string lines;
      for (auto id : m.pci_ids) lines += AliasLine(id, m.name);
      for (const auto& a : m.aliases) lines += "alias " + a + " " + m.name + "\n";
      if (m.builtin) {
        builtin += path + "\n";
        builtin_alias += lines;
      } else {
        dep += path + ":\n";
        alias += lines;
      }
      if (!m.loaded && !m.builtin) continue;
      if (m.name == "vfio" || m.name == "vfio_pci") vfio = true;
      std::string dir = paths::Modules() + "/" + m.name;
      // A built-in module has a sys/module entry only when it has parameters (kernel/params.c
      // param_sysfs_builtin), and module_add_driver() links a driver only to an existing one:
      // a built-in pcieport has neither sys/module/pcieport nor drivers/pcieport/module.
      const bool has_entry = !m.builtin || !m.parameters.empty();
      if (!m.driver.empty()) {
        std::string drv = paths::PciDriver(m.driver);
        w_.Dir(drv);
        for (const char* attr : {"bind", "unbind", "new_id", "remove_id", "uevent"})
          w_.File(paths::PciDriverAttr(m.driver, attr), "", 0200);
      }
      if (!has_entry) continue;
      w_.Dir(dir);
      if (!m.builtin) {
        // Loadable modules only (kernel/module/sysfs.c): builtin ones have no initstate/refcnt.
        w_.File(dir + "/initstate", "live\n");
        w_.File(dir + "/refcnt", "0\n");
        w_.Dir(dir + "/holders");
        proc_modules += m.name + " 16384 0 - Live 0x0000000000000000\n";
      }
      if (!m.parameters.empty()) {
        w_.Dir(dir + "/parameters");
        for (const auto& [param, value] : m.parameters)
          w_.File(paths::ModuleParam(m.name, param), value + "\n", 0644);
      }
      if (m.driver.empty()) continue;
      // drivers/base/module.c module_add_driver(): sys/module/M/drivers/pci:D and the driver's
      // `module` link.
      std::string drv = paths::PciDriver(m.driver);
      w_.Link(paths::PciDriverAttr(m.driver, "module"), dir);
      w_.Dir(dir + "/drivers");
      w_.Link(dir + "/drivers/pci:" + m.driver, drv);
    }
    std::string lib = paths::LibModulesFile(spec_.release, "");
    w_.Dir(lib.substr(0, lib.size() - 1));
    w_.File(paths::LibModulesFile(spec_.release, "modules.dep"), dep, 0644);
    w_.File(paths::LibModulesFile(spec_.release, "modules.builtin"), builtin, 0644);
    w_.File(paths::LibModulesFile(spec_.release, "modules.alias"), alias, 0644);
    w_.File(paths::LibModulesFile(spec_.release, "modules.builtin.alias"), builtin_alias, 0644);
    w_.Dir("proc");
    w_.File("proc/modules", proc_modules);
    if (vfio) {
      w_.Dir("dev/vfio");
      w_.File("dev/vfio/vfio", "", 0666);
      w_.Dir("sys/class/vfio");
    }
  }

  void Devices() {
    // Functions per slot, for the multi-function bit; descendants' buses, for bridge windows.
    std::map<std::tuple<int, int, int>, int> per_slot;
    for (const auto& [bdf, d] : l_.devices) ++per_slot[{bdf.domain, bdf.bus, bdf.device}];
    std::map<Bdf, std::pair<int, int>> bus_range;  // bridge -> {secondary, subordinate}
    for (const auto& [bdf, d] : l_.devices) {
      int last_bus = bdf.bus;
      if (d->sriov && d->sriov->total_vfs > 0) {
        uint32_t rid =
            bdf.routing_id() +
            static_cast<uint32_t>(d->sriov->offset + (d->sriov->total_vfs - 1) * d->sriov->stride);
        last_bus = static_cast<int>(std::min<uint32_t>(rid >> 8, 0xff));
      }
      for (std::optional<Bdf> up = d->parent; up; up = l_.devices.at(*up)->parent) {
        auto [it, fresh] = bus_range.try_emplace(*up, bdf.bus, last_bus);
        if (!fresh) {
          if (l_.devices.at(bdf)->parent == *up)
            it->second.first = std::min(it->second.first, int{bdf.bus});
          it->second.second = std::max(it->second.second, last_bus);
        }
      }
    }

    const int per_node = std::max(1, spec_.cpus / std::max(1, spec_.numa_nodes));
    const std::string group_type = GroupType();
    const std::string unit = IommuUnit();
    std::set<int> vfio_groups;
    // Parents before children: shorter canonical paths first.
    std::vector<Bdf> order;
    for (const auto& [bdf, d] : l_.devices) order.push_back(bdf);
    std::stable_sort(order.begin(), order.end(),
                     [&](Bdf a, Bdf b) { return l_.dirs.at(a).size() < l_.dirs.at(b).size(); });
    for (Bdf bdf : order)
      if (auto g = l_.groups.find(bdf); g != l_.groups.end() && IsVfio(l_.devices.at(bdf)->driver))
        vfio_groups.insert(g->second);
    // Devices in parallel: each writes its own directory and links; shared directories (a
    // bridge's, an IOMMU group's) are created idempotently.
    std::vector<std::optional<Error>> errors(order.size());
    internal::ParallelFor(order.size(), [&](size_t index) {
      Writer w{w_.w};
      WriteDevice(w, order[index], per_slot, bus_range, per_node, group_type, unit);
      errors[index] = w.error;
    });
    for (auto& e : errors)
      if (e && !w_.error) w_.error = e;
    for (int g : vfio_groups) w_.Check(internal::AddVfioGroup(w_.w, g));
  }

  void WriteDevice(Writer& w, Bdf bdf, const std::map<std::tuple<int, int, int>, int>& per_slot,
                   const std::map<Bdf, std::pair<int, int>>& bus_range, int per_node,
                   const std::string& group_type, const std::string& unit) const {
    const DeviceSpec& d = *l_.devices.at(bdf);
    internal::FunctionAttrs f;
    f.bdf = bdf;
    f.dir = l_.dirs.at(bdf);
    f.id = d.id;
    f.subsystem = (d.subsystem.vendor || d.subsystem.device) ? d.subsystem : d.id;
    f.class_code = d.class_code;
    f.revision = d.revision;
    f.bridge = IsBridgeClass(d.class_code);
    f.multifunction = per_slot.at({bdf.domain, bdf.bus, bdf.device}) > 1;
    if (auto r = bus_range.find(bdf); r != bus_range.end()) {
      f.secondary_bus = static_cast<uint8_t>(r->second.first);
      f.subordinate_bus = static_cast<uint8_t>(r->second.second);
    }
    f.msi = d.msi;
    f.msix = d.msix;
    f.pcie = d.pcie;
    f.numa_node = d.numa_node;
    f.irq = d.irq;
    if (d.numa_node >= 0) {
      f.local_cpus = internal::CpuMask(d.numa_node * per_node, per_node, spec_.cpus);
      f.local_cpulist = internal::CpuList(d.numa_node * per_node, per_node);
    } else {
      f.local_cpus = internal::CpuMask(0, spec_.cpus, spec_.cpus);
      f.local_cpulist = internal::CpuList(0, spec_.cpus);
    }
    f.enabled = !d.driver.empty() && !IsVfio(d.driver) && d.driver != "pci-stub";
    if (d.sriov) {
      internal::SriovAttrs s;
      s.total_vfs = d.sriov->total_vfs;
      s.vf_device = d.sriov->vf_device;
      s.offset = d.sriov->offset;
      s.stride = d.sriov->stride;
      s.drivers_autoprobe = d.sriov->drivers_autoprobe;
      f.sriov = s;
    }
    w.Check(internal::WriteFunction(w.w, f));
    if (!d.driver_override.empty())
      w.File(f.dir + "/driver_override", d.driver_override + "\n", 0644);
    if (!d.driver.empty()) w.Check(internal::LinkDriver(w.w, bdf, f.dir, d.driver));
    if (auto g = l_.groups.find(bdf); g != l_.groups.end()) {
      w.Check(internal::AddToIommuGroup(w.w, bdf, f.dir, g->second, group_type, unit));
      w.Link("sys/devices/virtual/iommu/" + unit + "/devices/" + bdf.str(), f.dir);
    }
  }

  void NetDir(const std::string& dir, const std::string& name, int ifindex, const std::string& mac,
              const char* flags, const char* operstate, int mtu, int type,
              const std::string& device_dir) {
    internal::NetInterfaceAttrs n;
    n.dir = dir;
    n.name = name;
    n.ifindex = ifindex;
    n.mac = mac;
    n.flags = flags;
    n.operstate = operstate;
    n.mtu = mtu;
    n.type = type;
    n.device_dir = device_dir;
    w_.Check(internal::WriteNetInterface(w_.w, n));
  }

  void Network() {
    NetDir("sys/devices/virtual/net/lo", "lo", 1, "00:00:00:00:00:00", "0x9", "unknown", 65536, 772,
           "");
    int ifindex = 2;
    for (const auto& [bdf, d] : l_.devices) {
      if (d->net_interface.empty()) continue;
      int index = ifindex++;
      ifindex_[d->net_interface] = index;
      // IFF_UP|IFF_BROADCAST|IFF_MULTICAST = 0x1003; without IFF_UP 0x1002.
      NetDir(l_.dirs.at(bdf) + "/net/" + d->net_interface, d->net_interface, index, Mac(*d),
             d->net_up ? "0x1003" : "0x1002", d->net_up ? "up" : "down", 1500, 1, l_.dirs.at(bdf));
    }
  }

  void BlockNode(const std::string& dir, const std::string& name, int major, int minor,
                 int partition) {
    w_.Dir(dir);
    w_.File(dir + "/dev", std::to_string(major) + ":" + std::to_string(minor) + "\n");
    w_.File(dir + "/size", partition ? "2097152\n" : "1953525168\n");
    w_.File(dir + "/ro", "0\n");
    if (partition) {
      w_.File(dir + "/partition", std::to_string(partition) + "\n");
      w_.File(dir + "/start", std::to_string(2048 + (partition - 1) * 2099200) + "\n");
    } else {
      w_.File(dir + "/removable", "0\n");
    }
    w_.File(dir + "/uevent",
            "MAJOR=" + std::to_string(major) + "\nMINOR=" + std::to_string(minor) +
                "\nDEVNAME=" + name + "\nDEVTYPE=" + (partition ? "partition" : "disk") + "\n",
            0644);
    w_.Link("sys/class/block/" + name, dir);
    devnums_[name] = {major, minor};
  }

  void Block() {
    // drivers/nvme/host/multipath.c: the module parameter nvme_core.multipath (default Y).
    const bool multipath = !CmdlineHas(spec_.cmdline, "nvme_core.multipath=N") &&
                           !CmdlineHas(spec_.cmdline, "nvme_core.multipath=n") &&
                           !CmdlineHas(spec_.cmdline, "nvme_core.multipath=0");
    int nvme_minor = 0;
    int ata_port = 1;
    for (const auto& disk : l_.disks) {
      const std::string& dev_dir = l_.dirs.at(disk.dev->bdf);
      std::string dir;
      int major = 0, minor = 0;
      if (disk.name.rfind("nvme", 0) == 0) {
        // drivers/nvme/host: the controller nvme/nvmeX under the PCI function; with native
        // multipath (CONFIG_NVME_MULTIPATH=y, as Debian builds it) the namespace's block device
        // nvmeXnY hangs off the subsystem, sys/devices/virtual/nvme-subsystem/nvme-subsysX, and
        // the controller holds the hidden per-path disk nvmeXcXnY. dev_t from the extended range
        // (259 = BLOCK_EXT_MAJOR), partitions next to the disk.
        size_t n = disk.name.find('n', 4);
        std::string ctrl = disk.name.substr(0, n);
        std::string index = ctrl.substr(4);
        std::string ctrl_dir = dev_dir + "/nvme/" + ctrl;
        w_.Dir(ctrl_dir);
        w_.File(ctrl_dir + "/state", "live\n");
        w_.File(ctrl_dir + "/model", "SIMULATED NVMe SSD\n");
        w_.File(ctrl_dir + "/transport", "pcie\n");
        w_.File(ctrl_dir + "/address", disk.dev->bdf.str() + "\n");
        w_.Link(ctrl_dir + "/device", dev_dir);
        w_.Dir("sys/class/nvme");
        w_.Link("sys/class/nvme/" + ctrl, ctrl_dir);
        if (!multipath) {
          // nvme_core.multipath=N: the namespace is a plain disk under its controller.
          dir = ctrl_dir + "/" + disk.name;
          major = 259;
          minor = nvme_minor;
          nvme_minor += 1 + disk.partitions;
          BlockNode(dir, disk.name, major, minor, 0);
          w_.Link(dir + "/device", ctrl_dir);
          w_.Link(paths::BlockDev(disk.name), dir);
          for (int p = 1; p <= disk.partitions; ++p) {
            std::string part = disk.part_prefix + std::to_string(p);
            BlockNode(dir + "/" + part, part, major, minor + p, p);
          }
          continue;
        }
        std::string subsys = "sys/devices/virtual/nvme-subsystem/nvme-subsys" + index;
        w_.Dir(subsys);
        w_.File(subsys + "/subsysnqn", "nqn.2014.08.org.nvmexpress:sim" + index + "\n");
        w_.Link(subsys + "/" + ctrl, ctrl_dir);
        w_.Dir("sys/class/nvme-subsystem");
        w_.Link("sys/class/nvme-subsystem/nvme-subsys" + index, subsys);
        dir = subsys + "/" + disk.name;
        major = 259;
        minor = nvme_minor;
        nvme_minor += 1 + disk.partitions;
        BlockNode(dir, disk.name, major, minor, 0);
        w_.Link(dir + "/device", subsys);
        std::string path_disk = "nvme" + index + "c" + index + disk.name.substr(n);
        BlockNode(ctrl_dir + "/" + path_disk, path_disk, major, nvme_minor++, 0);
        w_.Link(ctrl_dir + "/" + path_disk + "/device", ctrl_dir);
        w_.Link(paths::BlockDev(path_disk), ctrl_dir + "/" + path_disk);
      } else {
        // drivers/ata + scsi: ataN/hostM/targetM:0:0/M:0:0:0/block/sdX, sd majors 8:16*n.
        int host = disk.name[2] - 'a';
        std::string h = std::to_string(host);
        std::string scsi = dev_dir + "/ata" + std::to_string(ata_port++) + "/host" + h + "/target" +
                           h + ":0:0/" + h + ":0:0:0";
        w_.Dir(scsi + "/block");
        dir = scsi + "/block/" + disk.name;
        major = 8;
        minor = host * 16;
        BlockNode(dir, disk.name, major, minor, 0);
        w_.Link(dir + "/device", scsi);
      }
      w_.Link(paths::BlockDev(disk.name), dir);
      for (int p = 1; p <= disk.partitions; ++p) {
        std::string part = disk.part_prefix + std::to_string(p);
        BlockNode(dir + "/" + part, part, major, minor + p, p);
      }
    }
  }

  void Proc() {
    w_.Dir("proc/sys/kernel");
    w_.Dir("proc/net");
    w_.Dir("proc/self");
    w_.File(paths::ProcCmdline(), spec_.cmdline + "\n");
    w_.File(paths::ProcOsRelease(), spec_.release + "\n");

    // IPv4 routes: connected routes of interfaces that are up, and the default route.
    struct Row {
      uint32_t order;  // destination in host order, for the trie's key order
      int plen;
      std::string text;
    };
    std::vector<Row> rows;
    std::string if6, route6;
    static const uint8_t kZero[16] = {};
    uint8_t lo[16] = {};
    lo[15] = 1;
    if6 += Inet6Row(lo, 1, 128, 0x10, 0x80, "lo");
    for (const auto& [name, d] : l_.ifaces) {
      if (!d->net_up) continue;  // fib_add_ifaddr/addrconf act only on interfaces that are up
      int index = ifindex_[name];
      uint8_t ll[16];
      LinkLocal(Mac(*d), ll);
      uint8_t ll_net[16] = {0xfe, 0x80};
      route6 += Route6Row(ll_net, 64, kZero, 0x100, 0x1, name);
      auto it = spec_.network.addresses.find(name);
      bool default_here = spec_.network.default_route == name;
      bool v4_default_done = false;
      if (it != spec_.network.addresses.end()) {
        for (const auto& text : it->second) {
          Address a = *ParseAddress(text);
          Address net = NetworkOf(a);
          if (a.family == AF_INET) {
            uint32_t mask_host = a.prefix ? ~uint32_t{0} << (32 - a.prefix) : 0;
            uint8_t mask_bytes[4] = {
                static_cast<uint8_t>(mask_host >> 24), static_cast<uint8_t>(mask_host >> 16),
                static_cast<uint8_t>(mask_host >> 8), static_cast<uint8_t>(mask_host)};
            uint32_t order = (uint32_t{net.bytes[0]} << 24) | (uint32_t{net.bytes[1]} << 16) |
                             (uint32_t{net.bytes[2]} << 8) | net.bytes[3];
            // RTF_UP. net/ipv4/fib_frontend.c fib_add_ifaddr(): no prefix route for a /32
            // (prefix == addr), only the local-table one that proc/net/route does not show.
            if (a.prefix < 32)
              rows.push_back(
                  {order, a.prefix,
                   RouteRow(name, Be32AsHost(net.bytes), 0, 0x0001, Be32AsHost(mask_bytes))});
            if (default_here && !v4_default_done) {
              v4_default_done = true;
              uint8_t gw[4];
              if (spec_.network.gateway.empty() ||
                  ::inet_pton(AF_INET, spec_.network.gateway.c_str(), gw) != 1) {
                std::memcpy(gw, net.bytes, 4);  // first host of the subnet
                gw[3] = static_cast<uint8_t>(gw[3] + 1);
              }
              // RTF_UP | RTF_GATEWAY
              rows.push_back({0, 0, RouteRow(name, 0, Be32AsHost(gw), 0x0003, 0)});
            }
          } else {
            if6 += Inet6Row(a.bytes, index, a.prefix, 0x00, 0x80, name);
            route6 += Route6Row(net.bytes, a.prefix, kZero, 0x100, 0x1, name);
            if (default_here) {
              uint8_t gw[16];
              std::memcpy(gw, net.bytes, 16);
              gw[15] = 1;
              route6 += Route6Row(kZero, 0, gw, 0x400, 0x3, name);
            }
          }
        }
      }
      if6 += Inet6Row(ll, index, 64, 0x20, 0x80, name);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return a.order != b.order ? a.order < b.order : a.plen < b.plen;
    });
    char header[160];
    std::snprintf(
        header, sizeof header, "%-127s\n",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT");
    // fib_route_seq_start(): no IPv4 route at all -> no main table -> not even the header.
    std::string route = rows.empty() ? std::string() : std::string(header);
    for (const auto& r : rows) route += r.text;
    w_.File(paths::ProcNetRoute(), route);
    w_.File(paths::ProcNetIpv6Route(), route6);
    w_.File(paths::ProcNetIfInet6(), if6);

    // IPv4 addresses are in no proc or sys file; ptrec's snapshot records them in its own
    // (pci::kIpv4AddressesFile), and so does the builder. Addresses exist on interfaces that
    // are down too (only their routes need IFF_UP).
    std::vector<pci::Ipv4Address> v4;
    for (const auto& [name, addrs] : spec_.network.addresses) {
      for (const auto& text : addrs) {
        Address a = *ParseAddress(text);
        if (a.family != AF_INET) continue;
        char ip[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, a.bytes, ip, sizeof ip);
        v4.push_back({name, ip, a.prefix});
      }
    }
    w_.Dir(std::string(internal::Dirname(pci::kIpv4AddressesFile)));
    w_.File(pci::kIpv4AddressesFile, pci::FormatIpv4Addresses(v4), 0644);

    // proc/self/mountinfo (fs/proc_namespace.c show_mountinfo):
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS OPTIONAL - FSTYPE SOURCE SUPEROPTS".
    std::string info;
    int id = 21, peer = 1, root_id = 1;
    auto line = [&](int parent, const std::string& devnum, const std::string& target,
                    const std::string& opts, const std::string& fstype, const std::string& source,
                    const std::string& super) {
      info += std::to_string(id) + " " + std::to_string(parent) + " " + devnum + " / " + target +
              " " + opts + " shared:" + std::to_string(peer++) + " - " + fstype + " " + source +
              " " + super + "\n";
      return id++;
    };
    auto devnum_of = [&](const MountSpec& m) -> std::pair<std::string, std::string> {
      if (auto it = devnums_.find(m.source); it != devnums_.end())
        return {std::to_string(it->second.first) + ":" + std::to_string(it->second.second),
                "/dev/" + m.source};
      return {"0:" + std::to_string(40 + id), m.source};
    };
    for (const auto& m : spec_.mounts) {
      if (m.target != "/") continue;
      auto [devnum, source] = devnum_of(m);
      root_id = line(1, devnum, "/", m.options, m.fstype, source,
                     m.fstype == "ext4" ? "rw,errors=remount-ro" : "rw");
    }
    line(root_id, "0:21", "/sys", "rw,nosuid,nodev,noexec,relatime", "sysfs", "sysfs", "rw");
    line(root_id, "0:22", "/proc", "rw,nosuid,nodev,noexec,relatime", "proc", "proc", "rw");
    line(root_id, "0:5", "/dev", "rw,nosuid,relatime", "devtmpfs", "udev", "rw,mode=755");
    for (const auto& m : spec_.mounts) {
      if (m.target == "/") continue;
      auto [devnum, source] = devnum_of(m);
      line(root_id, devnum, m.target, m.options, m.fstype, source, "rw");
    }
    w_.File(paths::ProcMountinfo(), info);
  }

  const HostSpec& spec_;
  const Layout& l_;
  Writer w_;
  std::map<std::string, int> ifindex_;
  std::map<std::string, std::pair<int, int>> devnums_;
};

}  // namespace

Result<void> BuildHost(const HostSpec& spec, const std::string& out_dir) {
  if (out_dir.empty()) return Fail(Code::kInvalid, "build host: empty output directory");
  // Never the running system: not "/", not anything that resolves to it, not a mounted sysfs.
  std::string trimmed = out_dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  char buf[PATH_MAX];
  bool exists = ::realpath(out_dir.c_str(), buf) != nullptr;
  if (trimmed == "/" || (exists && std::string(buf) == "/"))
    return Fail(Code::kRefused, "build host: refusing to write a simulated host over /", out_dir);
  if (exists && IsLiveSysfs(out_dir))
    return Fail(Code::kRefused, "build host: " + out_dir + " holds a live sysfs", out_dir);
  if (exists) {
    DIR* dir = ::opendir(out_dir.c_str());
    if (!dir)
      return Fail(CodeFromErrno(errno), "build host: " + out_dir + ": " + std::strerror(errno),
                  out_dir, errno);
    bool empty = true;
    while (dirent* e = ::readdir(dir))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
    ::closedir(dir);
    if (!empty)
      return Fail(Code::kRefused, "build host: " + out_dir + " is not empty", out_dir, EEXIST);
  }

  auto layout = Check(spec);
  if (!layout) return std::unexpected(layout.error());

  std::string abs = out_dir;
  if (abs[0] != '/') {
    if (!::getcwd(buf, sizeof buf)) return Fail(Code::kIo, "getcwd failed", out_dir, errno);
    abs = std::string(buf) + "/" + out_dir;
  }
  TreeWriter root("/");
  if (auto made = root.MakeDirs(std::string_view(abs).substr(1)); !made) return made;

  TreeWriter tree(out_dir);
  Build build(spec, *layout, tree);
  if (auto built = build.Run(); !built) return built;

  // .ptrec-sim.yaml: the spec's simulation knobs plus every present driver without
  // sriov_configure, so SimKernelFs::Open answers sriov_numvfs as those drivers would.
  SimOptions options = spec.sim;
  for (const auto& m : spec.modules)
    if (!m.driver.empty() && !m.sriov_configure)
      options.drivers_without_sriov_configure.push_back(m.driver);
  if (auto ok = tree.WriteFile(kSimOptionsFile, SimOptionsToYaml(options), 0644); !ok) return ok;

  // Domains: a minimal q35 KVM definition each, with its hostdevs (libvirt formatdomain).
  for (const auto& d : spec.domains) {
    std::string xml = "<domain type='kvm'>\n  <name>" + d.name + "</name>\n  <memory unit='KiB'>2097152</memory>\n"
                      "  <vcpu>2</vcpu>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"
                      "  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n  </devices>\n</domain>\n";
    for (Bdf b : d.hostdevs) {
      auto with = vm::AddHostdevXml(xml, VmHostdev{b, false, std::nullopt, ""});
      if (!with) return Fail(Code::kInvalid, "host spec: domain " + d.name + ": " + with.error().message);
      xml = std::move(*with);
    }
    for (const auto& path : {vm::SimConfigPath(d.name), vm::SimLivePath(d.name)}) {
      if (path == vm::SimLivePath(d.name) && !d.running) continue;
      if (auto ok = tree.MakeDirs(path.substr(0, path.rfind('/'))); !ok) return ok;
      if (auto ok = tree.WriteFile(path, xml, 0644); !ok) return ok;
    }
  }

  // Boot-time VFs through the simulated kernel's own code path (no latency, no faults at boot).
  SimOptions boot;
  boot.drivers_without_sriov_configure = options.drivers_without_sriov_configure;
  SimKernelFs kernel(out_dir, boot);
  for (const auto& [bdf, d] : layout->devices) {
    if (!d->sriov || d->sriov->num_vfs == 0) continue;
    if (auto ok = kernel.EnableSriov(bdf, d->sriov->num_vfs); !ok)
      return Fail(ok.error().code, "host spec: " + ok.error().message, ok.error().path,
                  ok.error().sys_errno);
  }
  return {};
}

}  // namespace ptrec::sim
