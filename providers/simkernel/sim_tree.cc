#include "providers/simkernel/sim_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <thread>

#include "providers/host/sysfs_paths.h"

namespace ptrec::sim::internal {
namespace {

Error SysError(std::string_view op, const std::string& path, int err) {
  return Error{CodeFromErrno(err), std::string(op) + " " + path + ": " + std::strerror(err), path,
               err};
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string Hex(const char* fmt, unsigned value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

void Put16(std::string& cfg, size_t at, uint16_t v) {
  cfg[at] = static_cast<char>(v & 0xff);
  cfg[at + 1] = static_cast<char>(v >> 8);
}
void Put32(std::string& cfg, size_t at, uint32_t v) {
  Put16(cfg, at, static_cast<uint16_t>(v & 0xffff));
  Put16(cfg, at + 2, static_cast<uint16_t>(v >> 16));
}

}  // namespace

std::string_view Dirname(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string RelativeLinkTarget(std::string_view link_dir, std::string_view target) {
  auto from = Split(link_dir);
  auto to = Split(target);
  // The base must be an ancestor of the target's parent (kernfs walks target->parent upwards),
  // so the common prefix is taken against the target without its last component.
  size_t limit = to.empty() ? 0 : to.size() - 1;
  size_t common = 0;
  while (common < from.size() && common < limit && from[common] == to[common]) ++common;
  std::string out;
  for (size_t i = common; i < from.size(); ++i) out += "../";
  for (size_t i = common; i < to.size(); ++i) {
    out.append(to[i]);
    if (i + 1 < to.size()) out += '/';
  }
  return out;
}

std::string ResolveLinkTarget(std::string_view dir, std::string_view target) {
  std::vector<std::string_view> parts;
  if (target.empty() || target.front() != '/') parts = Split(dir);
  for (auto part : Split(target)) {
    if (part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += '/';
    out.append(parts[i]);
  }
  return out;
}

TreeWriter::TreeWriter(std::string root) : prefix_(std::move(root)) {
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

std::string TreeWriter::Abs(std::string_view rel) const {
  std::string out;
  out.reserve(prefix_.size() + 1 + rel.size());
  out.append(prefix_).append(1, '/').append(rel);
  return out;
}

Result<void> TreeWriter::MakeDirs(std::string_view rel) {
  std::string abs = Abs(rel);
  if (::mkdir(abs.c_str(), 0755) == 0 || errno == EEXIST) return {};
  if (errno != ENOENT) return std::unexpected(SysError("mkdir", abs, errno));
  std::string_view parent = Dirname(rel);
  if (parent.empty()) return std::unexpected(SysError("mkdir", abs, ENOENT));
  if (auto made = MakeDirs(parent); !made) return made;
  if (::mkdir(abs.c_str(), 0755) != 0 && errno != EEXIST)
    return std::unexpected(SysError("mkdir", abs, errno));
  return {};
}

Result<void> TreeWriter::WriteFile(std::string_view rel, std::string_view data, unsigned mode) {
  std::string abs = Abs(rel);
  int fd = ::open(abs.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return std::unexpected(SysError("open", abs, errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return std::unexpected(SysError("write", abs, err));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return {};
}

Result<void> TreeWriter::Link(std::string_view rel_link, std::string_view rel_target) {
  std::string abs = Abs(rel_link);
  std::string target = RelativeLinkTarget(Dirname(rel_link), rel_target);
  if (::symlink(target.c_str(), abs.c_str()) == 0) return {};
  if (errno != EEXIST) return std::unexpected(SysError("symlink", abs, errno));
  ::unlink(abs.c_str());
  if (::symlink(target.c_str(), abs.c_str()) != 0)
    return std::unexpected(SysError("symlink", abs, errno));
  return {};
}

Result<void> TreeWriter::Remove(std::string_view rel) {
  std::string abs = Abs(rel);
  if (::unlink(abs.c_str()) != 0 && errno != ENOENT)
    return std::unexpected(SysError("unlink", abs, errno));
  return {};
}

Result<void> TreeWriter::RemoveTree(std::string_view rel) {
  std::string abs = Abs(rel);
  struct stat st {};
  if (::lstat(abs.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return std::unexpected(SysError("lstat", abs, errno));
  }
  if (!S_ISDIR(st.st_mode)) return Remove(rel);
  DIR* dir = ::opendir(abs.c_str());
  if (!dir) return std::unexpected(SysError("opendir", abs, errno));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(dir);
  std::string child(rel);
  for (const auto& name : names) {
    child.resize(rel.size());
    child.append(1, '/').append(name);
    if (auto removed = RemoveTree(child); !removed) return removed;
  }
  if (::rmdir(abs.c_str()) != 0 && errno != ENOENT)
    return std::unexpected(SysError("rmdir", abs, errno));
  return {};
}

Result<void> TreeWriter::Rename(std::string_view from, std::string_view to) {
  if (auto made = MakeDirs(Dirname(to)); !made) return made;
  std::string a = Abs(from), b = Abs(to);
  if (::rename(a.c_str(), b.c_str()) != 0) return std::unexpected(SysError("rename", a, errno));
  return {};
}

bool TreeWriter::Present(std::string_view rel) const {
  struct stat st {};
  return ::lstat(Abs(rel).c_str(), &st) == 0;
}

std::string ConfigSpace(const FunctionAttrs& f) {
  std::string cfg(256, '\0');
  Put16(cfg, 0x00, f.vf ? 0xffff : f.id.vendor);
  Put16(cfg, 0x02, f.vf ? 0xffff : f.id.device);
  // Command: memory space + bus master once a driver enabled the device.
  Put16(cfg, 0x04, f.enabled ? 0x0006 : 0x0000);
  cfg[0x08] = static_cast<char>(f.revision);
  cfg[0x09] = static_cast<char>(f.class_code & 0xff);
  cfg[0x0a] = static_cast<char>((f.class_code >> 8) & 0xff);
  cfg[0x0b] = static_cast<char>((f.class_code >> 16) & 0xff);
  cfg[0x0e] = static_cast<char>((f.bridge ? 0x01 : 0x00) | (f.multifunction ? 0x80 : 0x00));
  if (f.bridge) {
    cfg[0x18] = static_cast<char>(f.bdf.bus);
    cfg[0x19] = static_cast<char>(f.secondary_bus);
    cfg[0x1a] = static_cast<char>(f.subordinate_bus);
  } else {
    Put16(cfg, 0x2c, f.subsystem.vendor);
    Put16(cfg, 0x2e, f.subsystem.device);
  }
  if (!f.vf) {
    cfg[0x3c] = static_cast<char>(f.irq & 0xff);  // interrupt line
    cfg[0x3d] = 0x01;                             // interrupt pin INTA#
  }

  struct Cap {
    uint8_t at, id;
  };
  std::vector<Cap> caps;
  if (!f.vf) caps.push_back({0x40, 0x01});
  if (f.msi) caps.push_back({0x50, 0x05});
  if (f.msix) caps.push_back({0x70, 0x11});
  if (f.pcie) caps.push_back({0xa0, 0x10});
  if (caps.empty()) return cfg;
  Put16(cfg, 0x06, 0x0010);  // status: capabilities list
  cfg[0x34] = static_cast<char>(caps.front().at);
  for (size_t i = 0; i < caps.size(); ++i) {
    uint8_t at = caps[i].at;
    cfg[at] = static_cast<char>(caps[i].id);
    cfg[at + 1] = static_cast<char>(i + 1 < caps.size() ? caps[i + 1].at : 0);
    switch (caps[i].id) {
      case 0x01:  // PM: version 3, D1/D2, PME from D0/D3hot/D3cold
        Put16(cfg, at + 2, 0xc823);
        break;
      case 0x05:  // MSI: 64-bit address, per-vector masking, 1 vector
        Put16(cfg, at + 2, 0x0180);
        break;
      case 0x11:  // MSI-X: table size - 1; table and PBA in BAR 3
        Put16(cfg, at + 2, f.vf ? 0x0002 : 0x0009);
        Put32(cfg, at + 4, 0x00000003);
        Put32(cfg, at + 8, 0x00002003);
        break;
      case 0x10: {            // PCI Express capability version 2, device/port type in bits 7:4
        uint16_t type = 0x0;  // PCI_EXP_TYPE_ENDPOINT
        if (f.bridge) type = f.bdf.bus == 0 ? 0x4 : 0x6;  // root port / downstream port
        Put16(cfg, at + 2, static_cast<uint16_t>(0x0002 | (type << 4)));
        break;
      }
    }
  }
  return cfg;
}

std::string Modalias(PciId id, PciId subsystem, uint32_t class_code) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", id.vendor,
                id.device, subsystem.vendor, subsystem.device, (class_code >> 16) & 0xff,
                (class_code >> 8) & 0xff, class_code & 0xff);
  return buf;
}

Result<void> WriteFunction(TreeWriter& w, const FunctionAttrs& f) {
  if (auto made = w.MakeDirs(f.dir); !made) return made;
  std::string path = f.dir;
  path += '/';
  const size_t base = path.size();
  auto put = [&](std::string_view name, std::string_view data, unsigned mode) {
    path.resize(base);
    path.append(name);
    return w.WriteFile(path, data, mode);
  };
  struct Attr {
    std::string_view name;
    std::string data;
    unsigned mode;
  };
  std::vector<Attr> attrs = {
      {"vendor", Hex("0x%04x\n", f.id.vendor), 0444},
      {"device", Hex("0x%04x\n", f.id.device), 0444},
      {"subsystem_vendor", Hex("0x%04x\n", f.subsystem.vendor), 0444},
      {"subsystem_device", Hex("0x%04x\n", f.subsystem.device), 0444},
      {"class", Hex("0x%06x\n", f.class_code), 0444},
      {"revision", Hex("0x%02x\n", f.revision), 0444},
      {"config", ConfigSpace(f), 0644},
      {"driver_override", "(null)\n", 0644},
      {"numa_node", std::to_string(f.numa_node) + "\n", 0644},
      {"irq", std::to_string(f.irq) + "\n", 0444},
      {"enable", f.enabled ? "1\n" : "0\n", 0644},
      {"local_cpus", f.local_cpus + "\n", 0444},
      {"local_cpulist", f.local_cpulist + "\n", 0444},
      {"modalias", Modalias(f.id, f.subsystem, f.class_code) + "\n", 0444},
      {"remove", "", 0200},
  };
  if (f.sriov) {
    const SriovAttrs& s = *f.sriov;
    attrs.push_back({"sriov_totalvfs", std::to_string(s.total_vfs) + "\n", 0444});
    attrs.push_back({"sriov_numvfs", std::to_string(s.num_vfs) + "\n", 0644});
    attrs.push_back({"sriov_offset", std::to_string(s.offset) + "\n", 0444});
    attrs.push_back({"sriov_stride", std::to_string(s.stride) + "\n", 0444});
    attrs.push_back({"sriov_vf_device", Hex("%x\n", s.vf_device), 0444});
    attrs.push_back({"sriov_drivers_autoprobe", s.drivers_autoprobe ? "1\n" : "0\n", 0644});
    attrs.push_back({"sriov_vf_total_msix", "0\n", 0444});
  }
  for (const auto& a : attrs)
    if (auto ok = put(a.name, a.data, a.mode); !ok) return ok;

  path.resize(base);
  path += "subsystem";
  if (auto ok = w.Link(path, Dirname(paths::PciDevices())); !ok) return ok;
  return w.Link(paths::PciDevice(f.bdf), f.dir);
}

Result<void> LinkDriver(TreeWriter& w, Bdf bdf, std::string_view dir, std::string_view driver) {
  std::string link(dir);
  link += "/driver";
  if (auto ok = w.Link(link, paths::PciDriver(driver)); !ok) return ok;
  return w.Link(paths::PciDriverAttr(driver, bdf.str()), dir);
}

Result<void> UnlinkDriver(TreeWriter& w, Bdf bdf, std::string_view dir, std::string_view driver) {
  std::string link(dir);
  link += "/driver";
  if (auto ok = w.Remove(link); !ok) return ok;
  return w.Remove(paths::PciDriverAttr(driver, bdf.str()));
}

Result<void> AddVfioGroup(TreeWriter& w, int group) {
  std::string n = std::to_string(group);
  std::string dev = "sys/devices/virtual/vfio/" + n;
  if (auto ok = w.MakeDirs(dev); !ok) return ok;
  if (auto ok = w.WriteFile(dev + "/dev", "246:" + n + "\n"); !ok) return ok;
  if (auto ok = w.MakeDirs("sys/class/vfio"); !ok) return ok;
  if (auto ok = w.Link("sys/class/vfio/" + n, dev); !ok) return ok;
  if (auto ok = w.MakeDirs(Dirname(paths::DevVfioGroup(group))); !ok) return ok;
  return w.WriteFile(paths::DevVfioGroup(group), "", 0600);
}

void RemoveVfioGroup(TreeWriter& w, int group) {
  std::string n = std::to_string(group);
  (void)w.Remove(paths::DevVfioGroup(group));
  (void)w.Remove("sys/class/vfio/" + n);
  (void)w.RemoveTree("sys/devices/virtual/vfio/" + n);
}

Result<void> WriteNetInterface(TreeWriter& w, const NetInterfaceAttrs& n) {
  const std::string& d = n.dir;
  std::string flags = !n.flags.empty() ? n.flags : n.up ? "0x1003" : "0x1002";
  std::string oper = !n.operstate.empty() ? n.operstate : n.up ? "up" : "down";
  std::string idx = std::to_string(n.ifindex) + "\n";
  Result<void> r = w.MakeDirs(d);
  auto file = [&](const char* attr, std::string_view data, unsigned mode = 0444) {
    if (r) r = w.WriteFile(d + "/" + attr, data, mode);
  };
  file("address", n.mac + "\n");
  file("addr_len", "6\n");
  file("broadcast", n.type == 1 ? "ff:ff:ff:ff:ff:ff\n" : "00:00:00:00:00:00\n");
  file("flags", flags + "\n", 0644);
  file("ifindex", idx);
  file("iflink", idx);
  file("mtu", std::to_string(n.mtu) + "\n", 0644);
  file("operstate", oper + "\n");
  if (oper == "up") file("carrier", "1\n", 0644);
  file("type", std::to_string(n.type) + "\n");
  file("uevent", "INTERFACE=" + n.name + "\nIFINDEX=" + idx, 0644);
  if (r) r = w.Link(d + "/subsystem", paths::ClassNet());
  if (r && !n.device_dir.empty()) r = w.Link(d + "/device", n.device_dir);
  if (r) r = w.MakeDirs(paths::ClassNet());
  if (r) r = w.Link(paths::ClassNet() + "/" + n.name, d);
  return r;
}

std::string IommuGroupDir(int group) {
  return std::string(Dirname(paths::IommuGroupDevices(group)));
}

Result<void> AddToIommuGroup(TreeWriter& w, Bdf bdf, std::string_view dir, int group,
                             std::string_view type, std::string_view iommu_unit) {
  std::string group_dir = IommuGroupDir(group);
  std::string devices = paths::IommuGroupDevices(group);
  if (!w.Present(devices)) {
    if (auto ok = w.MakeDirs(devices); !ok) return ok;
    if (auto ok = w.WriteFile(group_dir + "/type", std::string(type) + "\n", 0644); !ok) return ok;
    // The interrupt range every x86 group reserves (drivers/iommu/intel/iommu.c
    // intel_iommu_get_resv_regions: IOAPIC_RANGE_START..END as "msi").
    if (auto ok = w.WriteFile(group_dir + "/reserved_regions",
                              "0x00000000fee00000 0x00000000feefffff msi\n", 0444);
        !ok)
      return ok;
  }
  if (auto ok = w.Link(devices + "/" + bdf.str(), dir); !ok) return ok;
  std::string link(dir);
  if (auto ok = w.Link(link + "/iommu_group", group_dir); !ok) return ok;
  if (!iommu_unit.empty()) {
    std::string unit = "sys/devices/virtual/iommu/";
    unit.append(iommu_unit);
    if (auto ok = w.Link(link + "/iommu", unit); !ok) return ok;
  }
  return {};
}

std::string CpuMask(int first, int count, int total) {
  if (total < 1) total = 1;
  std::vector<uint32_t> words(static_cast<size_t>((total + 31) / 32), 0);
  for (int cpu = first; cpu < first + count && cpu < total; ++cpu)
    words[static_cast<size_t>(cpu / 32)] |= 1u << (cpu % 32);
  std::string out;
  for (size_t i = words.size(); i-- > 0;) {
    // The top word is printed only as wide as nr_cpu_ids needs; lower words are 8 digits.
    if (i + 1 == words.size()) {
      int bits = total - static_cast<int>(i) * 32;
      int digits = (bits + 3) / 4;
      char buf[16];
      std::snprintf(buf, sizeof buf, "%0*x", digits, words[i]);
      out += buf;
    } else {
      out += Hex(",%08x", words[i]);
    }
  }
  return out;
}

std::string CpuList(int first, int count) {
  if (count <= 0) return "";
  if (count == 1) return std::to_string(first);
  return std::to_string(first) + "-" + std::to_string(first + count - 1);
}

void ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  constexpr size_t kMinPerThread = 16;
  size_t threads =
      std::min<size_t>({std::max(1u, std::thread::hardware_concurrency()), 4, n / kMinPerThread});
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

std::optional<uint32_t> ParseHexAttr(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    text.remove_prefix(2);
  if (text.empty()) return std::nullopt;
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace ptrec::sim::internal
