#include "providers/pci/discovery.h"

#include <algorithm>
#include <charconv>

#include "providers/host/sysfs_paths.h"
#include "providers/pci/usage.h"
#include "providers/state/ledger_store.h"

namespace ptrec::pci {
namespace {

std::optional<int> ParseDecAttr(std::string_view text) {
  text = TrimRight(text);
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Reads a small attribute; nullopt when absent or unreadable.
std::optional<std::string> ReadAttr(const HostFs& fs, Bdf bdf, std::string_view attr) {
  auto text = fs.ReadAttribute(paths::PciDeviceAttr(bdf, attr));
  if (!text) return std::nullopt;
  return std::string(TrimRight(*text));
}

uint16_t ReadHex16(const HostFs& fs, Bdf bdf, std::string_view attr) {
  auto text = ReadAttr(fs, bdf, attr);
  auto value = text ? ParseHexAttr(*text) : std::nullopt;
  return static_cast<uint16_t>(value.value_or(0));
}

// "../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0" -> "sys/devices/pci0000:00/...".
std::string CanonicalDeviceDir(std::string_view link) {
  while (link.starts_with("../")) link.remove_prefix(3);
  return "sys/" + std::string(link);
}

std::optional<Bdf> ParentFromDir(std::string_view dir) {
  size_t last = dir.rfind('/');
  if (last == std::string_view::npos) return std::nullopt;
  std::string_view up = dir.substr(0, last);
  return Bdf::Parse(paths::Basename(up));
}

// Adds the module names (basename without .ko*) listed in modules.dep / modules.builtin
// to \a out when they are in \a wanted.
void CollectModules(std::string_view text, const std::set<std::string>& wanted,
                    std::set<std::string>& out) {
  for (std::string_view line : SplitLines(text)) {
    std::string name = ModuleName(ModuleFileName(line));
    if (wanted.count(name)) out.insert(name);
  }
}

void ObserveModules(const HostFs& fs, const DiscoverOptions& options, HostState& host) {
  if (auto names = fs.ListDir(paths::PciDrivers())) host.loaded_drivers.insert(names->begin(), names->end());
  if (auto names = fs.ListDir(paths::Modules())) host.loaded_modules.insert(names->begin(), names->end());
  // Running parameters: one file each; mode-0 parameters (igb's max_vfs) have none, and
  // write-only ones (0200) do not read: both are left out.
  for (const auto& m : options.module_params_of) {
    if (!host.loaded_modules.count(m)) continue;
    auto params = fs.ListDir(paths::Modules() + "/" + m + "/parameters");
    if (!params) continue;
    for (const auto& p : *params)
      if (auto value = fs.ReadAttribute(paths::ModuleParam(m, p)))
        host.module_params[m][p] = std::string(TrimRight(*value));
  }
  std::set<std::string> missing;
  for (const auto& m : options.modules_of_interest)
    if (!host.loaded_modules.count(m)) missing.insert(m);
  if (missing.empty() || host.kernel_release.empty()) return;
  for (const char* file : {"modules.dep", "modules.builtin"}) {
    if (auto text = fs.ReadFile(paths::LibModulesFile(host.kernel_release, file)))
      CollectModules(*text, missing, host.available_modules);
  }
}

void ObserveIommu(const HostFs& fs, HostState& host) {
  if (auto units = fs.ListDir(paths::ClassIommu())) host.iommu_units = *units;
  // Intel VT-d: ECAP bit 3 (IR) says a unit can remap interrupts (VT-d spec §11.4.3,
  // drivers/iommu/intel/irq_remapping.c); "intremap=off"/"nointremap" turns it off.
  bool all_ir = !host.iommu_units.empty();
  for (const auto& u : host.iommu_units) {
    auto ecap = fs.ReadAttribute(paths::ClassIommu() + "/" + u + "/intel-iommu/ecap");
    auto value = ecap ? ParseHexAttr(*ecap) : std::nullopt;
    if (!value) {
      all_ir = false;
      host.interrupt_remapping.reset();
      break;
    }
    all_ir = all_ir && (*value & 0x8);
    host.interrupt_remapping = all_ir;
  }
  if (host.interrupt_remapping && (host.cmdline.find("intremap=off") != std::string::npos ||
                                   host.cmdline.find("nointremap") != std::string::npos))
    host.interrupt_remapping = false;
  if (auto unsafe = fs.ReadAttribute(paths::ModuleParam("vfio_iommu_type1", "allow_unsafe_interrupts")))
    host.allow_unsafe_interrupts = std::string(TrimRight(*unsafe));
  // Group members: the inverse of each device's iommu_group link (devices are in BDF order,
  // so each member list comes out sorted).
  for (const auto& d : host.devices)
    if (d.iommu_group >= 0) host.iommu_groups[d.iommu_group].push_back(d.bdf);
  host.iommu_active = !host.iommu_groups.empty() || !host.iommu_units.empty();
}

// The PCI functions behind a disk, from its sys/block link target. Most disks sit below their
// controller ("../devices/pci0000:00/0000:00:1f.2/ata1/.../block/sda"). A multipath NVMe head
// (the default of Debian's kernels, nvme_core.multipath=Y) sits under
// "../devices/virtual/nvme-subsystem/nvme-subsysN/nvme0n1" instead; the subsystem directory links
// to each controller of the subsystem (drivers/nvme/host/core.c nvme_init_subsystem:
// sysfs_create_link(&subsys->dev.kobj, &ctrl->device->kobj, ...)), and each controller is below
// its PCI function. A disk reached through two controllers belongs to both.
std::vector<Bdf> DiskControllers(const HostFs& fs, std::string_view link) {
  if (auto bdf = DeepestBdfInPath(link)) return {*bdf};
  std::string dir = CanonicalDeviceDir(link);
  size_t cut = dir.rfind('/');
  if (cut == std::string::npos || dir.find("/nvme-subsystem/") == std::string::npos) return {};
  std::string subsys = dir.substr(0, cut);
  std::vector<Bdf> out;
  for (const auto& entry : fs.ListDir(subsys).value_or(std::vector<std::string>{})) {
    if (!entry.starts_with("nvme")) continue;
    auto ctrl = fs.ReadLink(subsys + "/" + entry);
    if (!ctrl) continue;  // namespace heads are directories, controllers are links
    if (auto bdf = DeepestBdfInPath(*ctrl)) out.push_back(*bdf);
  }
  return out;
}

// Gives VFs their index and links devices to their IOMMU group, network interfaces and disks.
void LinkDevices(const HostFs& fs, HostState& host) {
  std::unordered_map<Bdf, PciDevice*> by_bdf;
  for (auto& d : host.devices) by_bdf[d.bdf] = &d;
  for (const auto& pf : host.devices) {
    for (size_t n = 0; n < pf.vfs.size(); ++n) {
      auto it = by_bdf.find(pf.vfs[n]);
      if (it == by_bdf.end()) continue;
      PciDevice& vf = *it->second;
      vf.vf_index = static_cast<int>(n);
      if (vf.id.vendor == 0 && pf.sriov) {  // not read: derive as the kernel does
        vf.id = {pf.id.vendor, pf.sriov->vf_device};
        vf.class_code = pf.class_code;
      }
    }
  }
  if (auto disks = fs.ListDir(paths::Block())) {
    for (const auto& disk : *disks) {
      auto link = fs.ReadLink(paths::BlockDev(disk));
      if (!link) continue;
      for (Bdf bdf : DiskControllers(fs, *link))
        if (auto it = by_bdf.find(bdf); it != by_bdf.end()) it->second->block_devices.push_back(disk);
    }
  }
}

}  // namespace

std::optional<uint32_t> ParseHexAttr(std::string_view text) {
  text = TrimRight(text);
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  if (text.empty()) return std::nullopt;
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<Bdf> DeepestBdfInPath(std::string_view path) {
  std::optional<Bdf> found;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (auto bdf = Bdf::Parse(path.substr(pos, slash - pos))) found = bdf;
    pos = slash + 1;
  }
  return found;
}

ConfigCaps ParseConfigCaps(std::string_view config) {
  ConfigCaps caps;
  auto byte = [&](size_t off) { return static_cast<uint8_t>(config[off]); };
  if (config.size() < 0x40) return caps;
  caps.header_type = byte(0x0e) & 0x7f;
  uint16_t status = static_cast<uint16_t>(byte(0x06) | (byte(0x07) << 8));
  caps.parsed = true;
  if (!(status & 0x10)) return caps;  // no capability list
  size_t ptr = byte(caps.header_type == 2 ? 0x14 : 0x34) & 0xfc;
  for (int hops = 0; ptr >= 0x40 && hops < 48; ++hops) {
    if (ptr + 1 >= config.size()) {
      caps.parsed = false;  // the list continues past what we may read (unprivileged read)
      break;
    }
    switch (byte(ptr)) {
      case 0x05: caps.msi = true; break;
      case 0x10: caps.pcie = true; break;
      case 0x11: caps.msix = true; break;
    }
    ptr = byte(ptr + 1) & 0xfc;
  }
  return caps;
}

Result<std::string> ReadDriver(const HostFs& fs, Bdf bdf) {
  auto link = fs.ReadLink(paths::PciDeviceAttr(bdf, "driver"));
  if (link) return std::string(paths::Basename(*link));
  if (link.error().code != Code::kNotFound) return std::unexpected(link.error());
  if (!fs.Exists(paths::PciDevice(bdf)))
    return Fail(Code::kNotFound, "device " + bdf.str() + " does not exist", paths::PciDevice(bdf));
  return std::string();  // no driver link: unbound, a real state
}

Result<std::string> ReadDriverOverride(const HostFs& fs, Bdf bdf) {
  auto text = fs.ReadAttribute(paths::PciDeviceAttr(bdf, "driver_override"));
  if (!text) return std::unexpected(text.error());
  std::string_view value = TrimRight(*text);
  return value == "(null)" ? std::string() : std::string(value);
}

Result<PciDevice> ReadDevice(const HostFs& fs, Bdf bdf, const DiscoverOptions& options) {
  PciDevice d;
  d.bdf = bdf;
  auto link = fs.ReadLink(paths::PciDevice(bdf));
  if (!link) return std::unexpected(link.error());
  d.sysfs_dir = CanonicalDeviceDir(*link);
  d.parent = ParentFromDir(d.sysfs_dir);
  if (auto pf = fs.ReadLink(paths::PciDeviceAttr(bdf, "physfn"))) d.physfn = Bdf::Parse(paths::Basename(*pf));
  // A plan does not need to read what the kernel derives for a VF from its PF (vendor,
  // device = sriov_vf_device, class: drivers/pci/iov.c pci_iov_add_virtfn); DiscoverHost fills
  // them in. Nor its config space: VFs have MSI or MSI-X, never INTx alone (PCIe SR-IOV 1.1
  // §2.1.2). On hosts with thousands of VFs this halves the system calls.
  const bool derive_from_pf = d.physfn && !options.display_facts;
  if (!derive_from_pf) {
    d.id = {ReadHex16(fs, bdf, "vendor"), ReadHex16(fs, bdf, "device")};
    if (auto cls = ReadAttr(fs, bdf, "class")) d.class_code = ParseHexAttr(*cls).value_or(0);
  }
  if (options.display_facts) {
    d.subsystem = {ReadHex16(fs, bdf, "subsystem_vendor"), ReadHex16(fs, bdf, "subsystem_device")};
    if (auto numa = ReadAttr(fs, bdf, "numa_node")) d.numa_node = ParseDecAttr(*numa).value_or(-1);
  }
  // No `driver` link means unbound: a real state, not an error.
  if (auto driver = fs.ReadLink(paths::PciDeviceAttr(bdf, "driver"))) d.driver = paths::Basename(*driver);
  if (auto ov = ReadAttr(fs, bdf, "driver_override"); ov && *ov != "(null)") d.driver_override = *ov;
  if (auto group = fs.ReadLink(paths::PciDeviceAttr(bdf, "iommu_group")))
    d.iommu_group = ParseDecAttr(paths::Basename(*group)).value_or(-1);
  if (derive_from_pf) return d;
  if (auto config = fs.ReadAttribute(paths::PciDeviceAttr(bdf, "config"))) {
    ConfigCaps caps = ParseConfigCaps(*config);
    d.header_type = caps.header_type;
    d.msi = caps.msi;
    d.msix = caps.msix;
    d.config_read = caps.parsed;
  }
  if (d.physfn) return d;  // a VF is never a PF itself
  if (auto total = ReadAttr(fs, bdf, "sriov_totalvfs")) {
    SriovFacts s;
    auto dec = [&](std::string_view attr, int fallback) {
      auto t = ReadAttr(fs, bdf, attr);
      return t ? ParseDecAttr(*t).value_or(fallback) : fallback;
    };
    s.total_vfs = ParseDecAttr(*total).value_or(0);
    s.num_vfs = dec("sriov_numvfs", 0);
    s.drivers_autoprobe = dec("sriov_drivers_autoprobe", 1) != 0;
    s.offset = dec("sriov_offset", -1);
    s.stride = dec("sriov_stride", -1);
    if (auto vf = ReadAttr(fs, bdf, "sriov_vf_device"))
      s.vf_device = static_cast<uint16_t>(ParseHexAttr(*vf).value_or(0));
    d.sriov = s;
    // virtfn<n> name VF n (drivers/pci/iov.c pci_iov_sysfs_link), n < sriov_numvfs.
    for (int n = 0; n < s.num_vfs; ++n) {
      auto vf = fs.ReadLink(paths::PciVirtfn(bdf, n));
      if (!vf) break;
      if (auto vf_bdf = Bdf::Parse(paths::Basename(*vf))) d.vfs.push_back(*vf_bdf);
    }
  }
  return d;
}

Result<HostState> DiscoverHost(const HostFs& fs, const DiscoverOptions& options) {
  HostState host;
  host.root = fs.root();
  auto names = fs.ListDir(paths::PciDevices());
  if (!names) {
    return Fail(Code::kNotFound,
                "no PCI devices under " + fs.root() + " (" + paths::PciDevices() +
                    " is missing): is this a host root? Use --root with a snapshot or '/'",
                paths::PciDevices());
  }
  if (auto cmdline = fs.ReadFile(paths::ProcCmdline())) host.cmdline = std::string(TrimRight(*cmdline));
  if (auto release = fs.ReadFile(paths::ProcOsRelease()))
    host.kernel_release = std::string(TrimRight(*release));

  host.devices.reserve(names->size());
  for (const auto& name : *names) {
    auto bdf = Bdf::Parse(name);
    if (!bdf) continue;
    auto dev = ReadDevice(fs, *bdf, options);
    if (!dev) continue;  // vanished between listing and reading (hot unplug): not ours to report
    host.devices.push_back(std::move(*dev));
  }
  host.Reindex();
  ObserveIommu(fs, host);
  LinkDevices(fs, host);
  ObserveModules(fs, options, host);
  ObserveUsage(fs, host);
  auto ledger = state::LoadLedger(fs);
  if (!ledger) return std::unexpected(ledger.error());
  host.ledger = std::move(*ledger);
  return host;
}

}  // namespace ptrec::pci
