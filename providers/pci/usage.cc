#include "providers/pci/usage.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "providers/host/sysfs_paths.h"
#include "providers/pci/discovery.h"

namespace ptrec::pci {
namespace {

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    size_t end = pos;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    if (end > pos) out.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

template <class F>
void ForEachLine(std::string_view text, F&& f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    f(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
}

std::optional<uint32_t> Hex32(std::string_view s) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// mountinfo escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c mangle).
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 4, v, 8);
      if (ec == std::errc() && end == s.data() + i + 4) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string Trimmed(const HostFs& fs, const std::string& path) {
  auto text = fs.ReadFile(path);
  return text ? std::string(TrimRight(*text)) : std::string();
}

}  // namespace

std::vector<Ipv4Route> ParseProcNetRoute(std::string_view text) {
  std::vector<Ipv4Route> routes;
  bool header = true;
  ForEachLine(text, [&](std::string_view line) {
    if (header) {
      header = false;
      return;
    }
    auto f = Fields(line);
    if (f.size() < 8) return;
    auto dest = Hex32(f[1]);
    auto mask = Hex32(f[7]);
    if (!dest || !mask) return;
    routes.push_back({std::string(f[0]), *dest, *mask});
  });
  return routes;
}

std::vector<std::string> ParseIpv6DefaultRoutes(std::string_view text) {
  constexpr uint32_t kRtfReject = 0x0200;
  std::vector<std::string> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = Fields(line);
    if (f.size() < 10) return;
    if (f[0] != std::string_view("00000000000000000000000000000000") || f[1] != "00") return;
    auto flags = Hex32(f[8]);
    if (!flags || (*flags & kRtfReject) || f[9] == "lo") return;
    out.emplace_back(f[9]);
  });
  return out;
}

std::vector<std::string> ParseIfInet6Global(std::string_view text) {
  std::vector<std::string> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = Fields(line);
    if (f.size() < 6 || f[3] != "00") return;
    out.emplace_back(f[5]);
  });
  return out;
}

std::vector<MountEntry> ParseMountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = Fields(line);
    if (f.size() < 5) return;
    out.push_back({std::string(f[2]), Unescape(f[4])});
  });
  return out;
}

void ObserveUsage(const HostFs& fs, HostState& host) {
  // --- network -------------------------------------------------------------------------------
  std::set<std::string> default_route, addressed;
  if (auto text = fs.ReadFile(paths::ProcNetRoute())) {
    for (const auto& r : ParseProcNetRoute(*text)) {
      if (r.destination == 0 && r.mask == 0) default_route.insert(r.iface);
      else addressed.insert(r.iface);  // a connected or static route: the interface is in use
    }
  }
  if (auto text = fs.ReadFile(paths::ProcNetIpv6Route()))
    for (auto& i : ParseIpv6DefaultRoutes(*text)) default_route.insert(i);
  if (auto text = fs.ReadFile(paths::ProcNetIfInet6()))
    for (auto& i : ParseIfInet6Global(*text)) addressed.insert(i);

  std::unordered_map<Bdf, size_t> index;
  for (size_t i = 0; i < host.devices.size(); ++i) index[host.devices[i].bdf] = i;

  if (auto names = fs.ListDir(paths::ClassNet())) {
    for (const auto& name : *names) {
      NetInterface ni;
      ni.name = name;
      if (auto link = fs.ReadLink(paths::ClassNet() + "/" + name)) ni.bdf = DeepestBdfInPath(*link);
      if (!ni.bdf) continue;  // virtual interfaces cannot be taken from the host by ptrec
      std::string oper = Trimmed(fs, paths::NetAttr(name, "operstate"));
      auto flags = ParseHexAttr(Trimmed(fs, paths::NetAttr(name, "flags")));
      ni.up = oper == "up" || (flags && (*flags & 0x1));
      ni.has_address = addressed.count(name) > 0;
      ni.default_route = default_route.count(name) > 0;
      if (auto it = index.find(*ni.bdf); it != index.end())
        host.devices[it->second].net_interfaces.push_back(name);
      if (ni.default_route)
        host.usages.push_back({*ni.bdf, "carries the default route (" + name + ")"});
      else if (ni.up && ni.has_address)
        host.usages.push_back({*ni.bdf, "interface " + name + " is up with an address"});
      host.net_interfaces.push_back(std::move(ni));
    }
  }

  // --- storage -------------------------------------------------------------------------------
  // Map "maj:min" of every disk and partition (and of stacked dm/md devices through their
  // slaves) to the PCI function that carries it.
  std::map<std::string, std::pair<Bdf, std::string>> dev_to_disk;  // "8:2" -> (bdf, "sda2")
  std::map<std::string, Bdf> name_to_bdf;
  for (const auto& d : host.devices) {
    for (const auto& disk : d.block_devices) {
      name_to_bdf[disk] = d.bdf;
      dev_to_disk[Trimmed(fs, paths::BlockDev(disk) + "/dev")] = {d.bdf, disk};
      if (auto entries = fs.ListDir(paths::BlockDev(disk))) {
        for (const auto& e : *entries) {
          if (!e.starts_with(disk)) continue;  // partitions are named after the disk
          name_to_bdf[e] = d.bdf;
          dev_to_disk[Trimmed(fs, paths::BlockDev(disk) + "/" + e + "/dev")] = {d.bdf, e};
        }
      }
    }
  }
  if (auto disks = fs.ListDir(paths::Block())) {
    for (const auto& disk : *disks) {
      if (name_to_bdf.count(disk)) continue;
      auto slaves = fs.ListDir(paths::BlockDev(disk) + "/slaves");
      if (!slaves) continue;
      for (const auto& s : *slaves) {
        if (auto it = name_to_bdf.find(s); it != name_to_bdf.end()) {
          dev_to_disk[Trimmed(fs, paths::BlockDev(disk) + "/dev")] = {it->second, disk + " on " + s};
          break;
        }
      }
    }
  }
  dev_to_disk.erase("");
  if (auto text = fs.ReadFile(paths::ProcMountinfo())) {
    for (const auto& m : ParseMountinfo(*text)) {
      auto it = dev_to_disk.find(m.dev);
      if (it == dev_to_disk.end()) continue;
      host.usages.push_back({it->second.first, m.mount_point + " is mounted from " + it->second.second});
    }
  }
}

}  // namespace ptrec::pci
