#include "providers/snapshot/snapshot.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "providers/host/sysfs_paths.h"
#include "providers/pci/discovery.h"
#include "providers/pci/usage.h"
#include "providers/persist/persist.h"

namespace ptrec::snapshot {
namespace {
namespace fs = std::filesystem;

// Attributes of a PCI function that ptrec reads or that the simulated kernel needs.
constexpr const char* kDeviceAttrs[] = {
    "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision", "driver_override",
    "numa_node", "config", "modalias", "local_cpulist", "sriov_totalvfs", "sriov_numvfs", "sriov_offset",
    "sriov_stride", "sriov_vf_device", "sriov_drivers_autoprobe"};
constexpr const char* kDeviceLinks[] = {"driver", "iommu_group", "physfn"};

class Copier {
 public:
  Copier(const HostFs& src, fs::path out) : src_(src), out_(std::move(out)) {}

  Result<void> File(const std::string& rel, const std::string& data) {
    std::error_code ec;
    fs::create_directories((out_ / rel).parent_path(), ec);
    std::ofstream f(out_ / rel, std::ios::binary);
    f << data;
    if (!f) return Fail(Code::kIo, "write " + (out_ / rel).string());
    ++stats_.files;
    return {};
  }
  // Copies \a rel if it can be read; absence is fine.
  void CopyIfPresent(const std::string& rel) {
    if (auto data = src_.ReadFile(rel)) (void)File(rel, *data);
  }
  void Link(const std::string& rel, const std::string& target) {
    std::error_code ec;
    fs::create_directories((out_ / rel).parent_path(), ec);
    fs::create_symlink(target, out_ / rel, ec);
    if (!ec) ++stats_.links;
  }
  // Copies the link at \a rel verbatim; returns its target ("" when absent).
  std::string CopyLink(const std::string& rel) {
    auto target = src_.ReadLink(rel);
    if (!target) return {};
    Link(rel, *target);
    return *target;
  }
  void Dir(const std::string& rel) {
    std::error_code ec;
    fs::create_directories(out_ / rel, ec);
  }
  // The directory a relative link at \a link_rel points to, relative to the root.
  static std::string LinkDir(const std::string& link_rel, const std::string& target) {
    return fs::path(link_rel).parent_path().append(target).lexically_normal().string();
  }
  const SnapshotStats& stats() const { return stats_; }

 private:
  const HostFs& src_;
  fs::path out_;
  SnapshotStats stats_;
};

void CopyDevices(const HostFs& src, Copier& c) {
  auto names = src.ListDir(paths::PciDevices());
  for (const auto& name : *names) {
    auto bdf = Bdf::Parse(name);
    if (!bdf) continue;
    std::string target = c.CopyLink(paths::PciDevice(*bdf));
    if (target.empty()) continue;
    std::string dir = Copier::LinkDir(paths::PciDevice(*bdf), target);
    c.Dir(dir);
    for (const char* attr : kDeviceAttrs) c.CopyIfPresent(dir + "/" + attr);
    for (const char* link : kDeviceLinks) c.CopyLink(dir + "/" + link);
    if (auto entries = src.ListDir(dir)) {
      for (const auto& e : *entries)
        if (e.starts_with("virtfn")) c.CopyLink(dir + "/" + e);
    }
  }
}

void CopyDrivers(const HostFs& src, Copier& c) {
  c.File(paths::PciDriversProbe(), "");
  auto drivers = src.ListDir(paths::PciDrivers());
  if (!drivers) return;
  for (const auto& d : *drivers) {
    for (const char* attr : {"bind", "unbind", "new_id", "remove_id"}) c.File(paths::PciDriverAttr(d, attr), "");
    if (auto entries = src.ListDir(paths::PciDriver(d)))
      for (const auto& e : *entries)
        if (Bdf::Parse(e)) c.CopyLink(paths::PciDriverAttr(d, e));
  }
}

void CopyIommu(const HostFs& src, Copier& c) {
  if (auto groups = src.ListDir(paths::IommuGroups())) {
    for (const auto& g : *groups) {
      c.CopyIfPresent(paths::IommuGroups() + "/" + g + "/type");
      std::string devs = paths::IommuGroups() + "/" + g + "/devices";
      c.Dir(devs);
      if (auto members = src.ListDir(devs))
        for (const auto& m : *members) c.CopyLink(devs + "/" + m);
    }
  }
  if (auto units = src.ListDir(paths::ClassIommu())) {
    for (const auto& u : *units) {
      std::string rel = paths::ClassIommu() + "/" + u;
      std::string target = c.CopyLink(rel);
      if (target.empty()) continue;
      std::string dir = Copier::LinkDir(rel, target);
      c.Dir(dir);
      // VT-d capability registers: ECAP bit 3 says whether the unit remaps interrupts.
      for (const char* reg : {"intel-iommu/cap", "intel-iommu/ecap"}) c.CopyIfPresent(dir + "/" + reg);
    }
  }
}

void CopyNetAndBlock(const HostFs& src, Copier& c) {
  if (auto names = src.ListDir(paths::ClassNet())) {
    for (const auto& n : *names) {
      std::string rel = paths::ClassNet() + "/" + n;
      std::string target = c.CopyLink(rel);
      if (target.empty()) continue;
      std::string dir = Copier::LinkDir(rel, target);
      c.CopyIfPresent(dir + "/operstate");
      c.CopyIfPresent(dir + "/flags");
    }
  }
  if (auto disks = src.ListDir(paths::Block())) {
    for (const auto& d : *disks) {
      std::string rel = paths::BlockDev(d);
      std::string target = c.CopyLink(rel);
      if (target.empty()) continue;
      std::string dir = Copier::LinkDir(rel, target);
      c.CopyIfPresent(dir + "/dev");
      if (auto entries = src.ListDir(dir)) {
        for (const auto& e : *entries)
          if (e.starts_with(d)) c.CopyIfPresent(dir + "/" + e + "/dev");
      }
      if (auto slaves = src.ListDir(dir + "/slaves"))
        for (const auto& s : *slaves) c.CopyLink(dir + "/slaves/" + s);
      // A multipath NVMe head lives under devices/virtual/nvme-subsystem/nvme-subsysN, whose
      // links to the controllers tie it to PCI functions (see pci::DiskControllers).
      if (dir.find("/nvme-subsystem/") != std::string::npos) {
        std::string subsys = dir.substr(0, dir.rfind('/'));
        for (const auto& e : src.ListDir(subsys).value_or(std::vector<std::string>{}))
          if (e.starts_with("nvme")) c.CopyLink(subsys + "/" + e);
      }
    }
  }
}

void CopyModules(const HostFs& src, Copier& c, const std::string& release) {
  if (auto mods = src.ListDir(paths::Modules())) {
    for (const auto& m : *mods) {
      std::string dir = paths::Modules() + "/" + m;
      c.Dir(dir);
      if (auto drivers = src.ListDir(dir + "/drivers"))
        for (const auto& d : *drivers)
          if (d.starts_with("pci:")) c.CopyLink(dir + "/drivers/" + d);
      // What module parameter plans compare and reloads check: the running parameters (any
      // module may be configured; write-only and mode-0 ones have no readable file), whether
      // it is loadable (initstate) and in use (refcnt, holders/).
      for (const auto& p : src.ListDir(dir + "/parameters").value_or(std::vector<std::string>{}))
        c.CopyIfPresent(dir + "/parameters/" + p);
      c.CopyIfPresent(dir + "/initstate");
      c.CopyIfPresent(dir + "/refcnt");
      for (const auto& h : src.ListDir(dir + "/holders").value_or(std::vector<std::string>{}))
        c.CopyLink(dir + "/holders/" + h);
    }
  }
  if (release.empty()) return;
  c.CopyIfPresent(paths::LibModulesFile(release, "modules.dep"));
  c.CopyIfPresent(paths::LibModulesFile(release, "modules.builtin"));
  if (auto alias = src.ReadFile(paths::LibModulesFile(release, "modules.alias"))) {
    std::string pci;  // only PCI aliases: the rest is large and of no use to ptrec
    size_t pos = 0;
    while (pos < alias->size()) {
      size_t eol = alias->find('\n', pos);
      if (eol == std::string::npos) eol = alias->size();
      std::string_view line(alias->data() + pos, eol - pos);
      if (line.starts_with("alias pci:")) pci.append(line).append("\n");
      pos = eol + 1;
    }
    (void)c.File(paths::LibModulesFile(release, "modules.alias"), pci);
  }
}

}  // namespace

Result<SnapshotStats> TakeSnapshot(const HostFs& source, const std::string& out_dir) {
  std::error_code ec;
  fs::path out = fs::absolute(out_dir, ec);
  if (ec || out_dir.empty() || out == "/" || out.lexically_normal() == "/")
    return Fail(Code::kRefused, "refusing to write a snapshot to '" + out_dir + "'");
  if (fs::exists(out) && !fs::is_empty(out, ec))
    return Fail(Code::kRefused, out_dir + " exists and is not empty: give a new directory");
  if (!source.ListDir(paths::PciDevices()))
    return Fail(Code::kNotFound, source.root() + " has no " + paths::PciDevices());
  // Before anything is written: a failed netlink dump leaves no half-made snapshot.
  auto ipv4 = pci::ReadIpv4Addresses(source);
  if (!ipv4)
    return Fail(ipv4.error().code, "snapshot: IPv4 addresses: " + ipv4.error().message, "",
                ipv4.error().sys_errno);
  fs::create_directories(out, ec);
  if (ec) return Fail(Code::kIo, "mkdir " + out_dir + ": " + ec.message());

  Copier c(source, out);
  CopyDevices(source, c);
  CopyDrivers(source, c);
  CopyIommu(source, c);
  CopyNetAndBlock(source, c);
  std::string release;
  if (auto r = source.ReadFile(paths::ProcOsRelease())) release = std::string(TrimRight(*r));
  CopyModules(source, c, release);
  for (const std::string& f : {paths::ProcCmdline(), paths::ProcOsRelease(), paths::ProcNetRoute(),
                               paths::ProcNetIpv6Route(), paths::ProcNetIfInet6(), paths::ProcMountinfo(),
                               paths::LedgerFile()})
    c.CopyIfPresent(f);
  if (auto ok = c.File(pci::kIpv4AddressesFile, pci::FormatIpv4Addresses(*ipv4)); !ok)
    return std::unexpected(ok.error());
  // Boot configuration and persistence: what kernelArgs, modules and the owned files are
  // planned against (bootloader files, modprobe.d, ptrec's udev rules and unit), and the
  // markers of which tools the host has (their contents are not needed: empty files).
  for (const std::string& f : {std::string("etc/default/grub"), std::string("etc/kernel/cmdline"),
                               std::string(persist::kUdevRulesPath), std::string(persist::kUnitPath),
                               std::string(persist::kDesiredCopyPath)})
    c.CopyIfPresent(f);
  for (const char* dir : {"etc/default/grub.d", "boot/loader/entries", "etc/modprobe.d", "run/modprobe.d",
                          "usr/lib/modprobe.d", "lib/modprobe.d"})
    for (const auto& name : source.ListDir(dir).value_or(std::vector<std::string>{}))
      c.CopyIfPresent(std::string(dir) + "/" + name);
  for (const auto& id : source.ListDir("boot/efi/EFI").value_or(std::vector<std::string>{}))
    c.CopyIfPresent("boot/efi/EFI/" + id + "/grub.cfg");
  for (const char* marker : {"usr/sbin/update-grub", "usr/sbin/grub2-mkconfig", "usr/sbin/grubby",
                             "usr/sbin/update-initramfs", "usr/bin/dracut", "run/udev/control"})
    if (source.Exists(marker)) (void)c.File(marker, "");
  if (source.Exists("run/systemd/system")) c.Dir("run/systemd/system");
  // libvirt domains: persistent definitions and live status (libvirtd's configDir and
  // stateDir), so VM plans run offline as against the simulated domains of a sandbox.
  for (const char* dir : {"etc/libvirt/qemu", "run/libvirt/qemu"})
    if (auto names = source.ListDir(dir))
      for (const auto& n : *names)
        if (n.ends_with(".xml")) c.CopyIfPresent(std::string(dir) + "/" + n);
  if (auto vfio = source.ListDir("dev/vfio"))
    for (const auto& v : *vfio) (void)c.File("dev/vfio/" + v, "");
  return c.stats();
}

}  // namespace ptrec::snapshot
