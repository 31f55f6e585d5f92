#include "providers/pci/usage.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
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
  for (std::string_view line : SplitLines(text)) {
    if (header) {
      header = false;
      continue;
    }
    auto f = Fields(line);
    if (f.size() < 8) continue;
    auto dest = Hex32(f[1]);
    auto mask = Hex32(f[7]);
    if (!dest || !mask) continue;
    routes.push_back({std::string(f[0]), *dest, *mask});
  }
  return routes;
}

std::vector<std::string> ParseIpv6DefaultRoutes(std::string_view text) {
  constexpr uint32_t kRtfReject = 0x0200;
  std::vector<std::string> out;
  for (std::string_view line : SplitLines(text)) {
    auto f = Fields(line);
    if (f.size() < 10) continue;
    if (f[0] != std::string_view("00000000000000000000000000000000") || f[1] != "00") continue;
    auto flags = Hex32(f[8]);
    if (!flags || (*flags & kRtfReject) || f[9] == "lo") continue;
    out.emplace_back(f[9]);
  }
  return out;
}

std::vector<std::string> ParseIfInet6Global(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view line : SplitLines(text)) {
    auto f = Fields(line);
    if (f.size() < 6 || f[3] != "00") continue;
    out.emplace_back(f[5]);
  }
  return out;
}

std::vector<MountEntry> ParseMountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  for (std::string_view line : SplitLines(text)) {
    auto f = Fields(line);
    if (f.size() < 5) continue;
    out.push_back({std::string(f[2]), Unescape(f[4])});
  }
  return out;
}

std::vector<Ipv4Address> ParseIpv4Addresses(std::string_view text) {
  std::vector<Ipv4Address> out;
  for (std::string_view line : SplitLines(text)) {
    auto f = Fields(line);
    if (f.size() != 2 || f[0].starts_with('#')) continue;
    size_t slash = f[1].find('/');
    if (slash == std::string_view::npos) continue;
    std::string addr(f[1].substr(0, slash));
    std::string_view plen = f[1].substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(plen.data(), plen.data() + plen.size(), prefix);
    in_addr parsed{};
    if (ec != std::errc() || end != plen.data() + plen.size() || prefix < 0 || prefix > 32 ||
        ::inet_pton(AF_INET, addr.c_str(), &parsed) != 1)
      continue;
    out.push_back({std::string(f[0]), std::move(addr), prefix});
  }
  return out;
}

std::string FormatIpv4Addresses(const std::vector<Ipv4Address>& addresses) {
  std::string out;
  for (const auto& a : addresses)
    out += a.iface + " " + a.address + "/" + std::to_string(a.prefix) + "\n";
  return out;
}

NetlinkAddrBatch ParseNetlinkAddrs(std::string_view data,
                                   const std::function<std::string(unsigned)>& ifname) {
  NetlinkAddrBatch batch;
  size_t off = 0;
  // Messages are copied out before use: the buffer's alignment is the caller's.
  while (off + sizeof(nlmsghdr) <= data.size()) {
    nlmsghdr nh;
    std::memcpy(&nh, data.data() + off, sizeof nh);
    if (nh.nlmsg_len < sizeof(nlmsghdr) || off + nh.nlmsg_len > data.size()) break;
    std::string_view msg = data.substr(off + NLMSG_HDRLEN, nh.nlmsg_len - NLMSG_HDRLEN);
    off += NLMSG_ALIGN(nh.nlmsg_len);
    if (nh.nlmsg_type == NLMSG_DONE) {
      batch.done = true;
      break;
    }
    if (nh.nlmsg_type == NLMSG_ERROR) {
      nlmsgerr err{};
      if (msg.size() >= sizeof err) std::memcpy(&err, msg.data(), sizeof err);
      batch.error = err.error < 0 ? -err.error : EIO;
      batch.done = true;
      break;
    }
    if (nh.nlmsg_type != RTM_NEWADDR || msg.size() < sizeof(ifaddrmsg)) continue;
    ifaddrmsg ifa;
    std::memcpy(&ifa, msg.data(), sizeof ifa);
    if (ifa.ifa_family != AF_INET) continue;
    std::string local, address, label;
    size_t at = NLMSG_ALIGN(sizeof(ifaddrmsg));
    while (at + sizeof(rtattr) <= msg.size()) {
      rtattr rta;
      std::memcpy(&rta, msg.data() + at, sizeof rta);
      if (rta.rta_len < sizeof(rtattr) || at + rta.rta_len > msg.size()) break;
      std::string_view payload = msg.substr(at + RTA_LENGTH(0), rta.rta_len - RTA_LENGTH(0));
      if ((rta.rta_type == IFA_LOCAL || rta.rta_type == IFA_ADDRESS) && payload.size() == 4) {
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, payload.data(), text, sizeof text);
        (rta.rta_type == IFA_LOCAL ? local : address) = text;
      } else if (rta.rta_type == IFA_LABEL) {
        label = std::string(payload.substr(0, payload.find('\0')));
      }
      at += RTA_ALIGN(rta.rta_len);
    }
    std::string name = ifname ? ifname(ifa.ifa_index) : std::string();
    if (name.empty()) name = label.substr(0, label.find(':'));  // "eth0:1" is an alias label
    std::string addr = local.empty() ? address : local;
    if (name.empty() || addr.empty()) continue;
    batch.addresses.push_back({std::move(name), std::move(addr), ifa.ifa_prefixlen});
  }
  return batch;
}

namespace {

// rtnetlink(7): RTM_GETADDR with NLM_F_DUMP for AF_INET, read until NLMSG_DONE.
Result<std::vector<Ipv4Address>> DumpIpv4AddressesNetlink() {
  auto fail = [](const char* what, int err) {
    return Fail(CodeFromErrno(err),
                std::string("netlink RTM_GETADDR dump: ") + what + ": " + std::strerror(err), "",
                err);
  };
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fail("socket(AF_NETLINK)", errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct {
    nlmsghdr nh;
    ifaddrmsg ifa;
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  req.nh.nlmsg_type = RTM_GETADDR;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = 1;
  req.ifa.ifa_family = AF_INET;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &req, req.nh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return fail("sendto", errno);
  auto name_of = [](unsigned index) {
    char name[IF_NAMESIZE] = {};
    return ::if_indextoname(index, name) ? std::string(name) : std::string();
  };
  std::vector<Ipv4Address> out;
  // A dump skb is at most 32 KiB (netlink_dump: max(NLMSG_GOODSIZE, min_dump_alloc), capped
  // by the receive buffer); 64 KiB always holds one.
  std::vector<char> buf(64 * 1024);
  for (int guard = 0; guard < 100000; ++guard) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("recv", errno);
    }
    if (n == 0) return fail("recv", EIO);
    auto batch = ParseNetlinkAddrs(std::string_view(buf.data(), static_cast<size_t>(n)), name_of);
    if (batch.error) return fail("kernel answered", batch.error);
    for (auto& a : batch.addresses) out.push_back(std::move(a));
    if (batch.done) return out;
  }
  return fail("no NLMSG_DONE", EIO);
}

}  // namespace

Result<std::vector<Ipv4Address>> ReadIpv4Addresses(const HostFs& fs) {
  if (IsLiveSysfs(fs.root())) return DumpIpv4AddressesNetlink();
  auto text = fs.ReadFile(kIpv4AddressesFile);
  if (!text) return std::vector<Ipv4Address>{};
  return ParseIpv4Addresses(*text);
}

void ObserveUsage(const HostFs& fs, HostState& host) {
  // --- network -------------------------------------------------------------------------------
  std::set<std::string> default_route, addressed;
  // An address with no route of its own (a /32: fib_add_ifaddr adds no prefix route for it)
  // shows only here. A failed netlink dump leaves the route-based facts below.
  if (auto v4 = ReadIpv4Addresses(fs))
    for (const auto& a : *v4) addressed.insert(a.iface);
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
      ni.has_address = addressed.count(name) > 0;
      ni.default_route = default_route.count(name) > 0;
      // Whether it is up matters only with an address (a usage); reading operstate and flags
      // of every interface would cost a host with thousands of VF netdevs ~6 calls each.
      if (ni.has_address && !ni.default_route) {
        std::string oper = Trimmed(fs, paths::NetAttr(name, "operstate"));
        auto flags = ParseHexAttr(Trimmed(fs, paths::NetAttr(name, "flags")));
        ni.up = oper == "up" || (flags && (*flags & 0x1));
      }
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
