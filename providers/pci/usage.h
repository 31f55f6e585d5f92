// Who on the host depends on a PCI function: network interfaces that carry the default route or
// are up with an address, and block devices with mounted filesystems. Read from files under the
// host root, so snapshots carry these facts too -- except IPv4 addresses, which procfs and sysfs
// do not list per interface: on the live host they come from rtnetlink, and a snapshot (or a
// sandbox) carries them in ptrec's own file kIpv4AddressesFile.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/host/host_fs.h"
#include "reconciler/model.h"

namespace ptrec::pci {

/// Fills host.net_interfaces and host.usages. Needs host.devices (with block_devices) filled.
/// Sources: sys/class/net/NAME/{device,operstate,flags}, proc/net/route, proc/net/ipv6_route,
/// proc/net/if_inet6, the IPv4 addresses (ReadIpv4Addresses), sys/block/NAME/{dev,slaves,
/// PARTITION/dev}, proc/self/mountinfo. An interface "has an address" when it has an IPv4
/// address, a route in proc/net/route, or a global IPv6 address.
/// Missing files mean "no such use" (a snapshot without proc/net is a host without routes).
void ObserveUsage(const HostFs& fs, HostState& host);

/// ptrec's record of a host's IPv4 addresses, under a host root that is not live (written by
/// `ptrec snapshot` and by the sandbox builder; see providers/snapshot/snapshot.h). One address
/// per line, "IFNAME ADDR/PREFIX\n" ("eth0 192.0.2.1/32"), in the order the kernel dumps them;
/// "#" starts a comment line. A missing file means "no IPv4 address".
inline constexpr const char* kIpv4AddressesFile = "var/lib/ptrec/snapshot/ipv4-addresses";

/// One IPv4 address of an interface (the kernel's struct in_ifaddr: ifa_local/ifa_prefixlen).
struct Ipv4Address {
  std::string iface;    ///< "eth0"
  std::string address;  ///< dotted quad, "192.0.2.1"
  int prefix = 32;      ///< prefix length in bits, 0..32
  bool operator==(const Ipv4Address&) const = default;
};

/// Parses kIpv4AddressesFile's contents. Lines that are not "IFNAME A.B.C.D/N" (N 0..32) are
/// skipped, as are blank and "#" lines.
std::vector<Ipv4Address> ParseIpv4Addresses(std::string_view text);
/// The file's contents for \a addresses; ParseIpv4Addresses reads it back unchanged.
std::string FormatIpv4Addresses(const std::vector<Ipv4Address>& addresses);

/// What one recv() of an RTM_GETADDR dump holds (rtnetlink(7)): the RTM_NEWADDR messages of
/// family AF_INET as addresses, and whether NLMSG_DONE or NLMSG_ERROR ended the dump.
struct NetlinkAddrBatch {
  std::vector<Ipv4Address> addresses;
  bool done = false;  ///< NLMSG_DONE (or an error) seen: the dump is complete
  int error = 0;      ///< errno from an NLMSG_ERROR message (positive), 0 = none
};
/// Parses \a data, a buffer of netlink messages (struct nlmsghdr + struct ifaddrmsg + rtattrs,
/// NLMSG_ALIGN'ed). The address is IFA_LOCAL, else IFA_ADDRESS (they differ only on
/// point-to-point links, where IFA_ADDRESS is the peer). The interface is \a ifname(ifa_index)
/// (if_indextoname on the live host), or IFA_LABEL up to its ':' when that gives "".
/// Truncated messages end the parse.
NetlinkAddrBatch ParseNetlinkAddrs(std::string_view data,
                                   const std::function<std::string(unsigned)>& ifname);

/// The IPv4 addresses of the host at fs.root(). On the live host (IsLiveSysfs(fs.root())):
/// an RTM_GETADDR dump of family AF_INET over a NETLINK_ROUTE socket of this process's
/// network namespace. Elsewhere: kIpv4AddressesFile (missing = none).
/// Errors (live host only): kIo / the errno's code, "netlink RTM_GETADDR dump: ...".
Result<std::vector<Ipv4Address>> ReadIpv4Addresses(const HostFs& fs);

/// An IPv4 route from proc/net/route (fields are hex, host byte order as the kernel prints).
struct Ipv4Route {
  std::string iface;
  uint32_t destination = 0;
  uint32_t mask = 0;
};

/// Parses proc/net/route: a header line, then "Iface Destination Gateway Flags RefCnt Use Metric
/// Mask MTU Window IRTT" rows (net/ipv4/fib_trie.c fib_route_seq_show). Malformed rows are
/// skipped.
std::vector<Ipv4Route> ParseProcNetRoute(std::string_view text);

/// Interfaces with an IPv6 default route in proc/net/ipv6_route (destination ::/0, not a
/// reject route, not "lo"). Format: net/ipv6/route.c ipv6_route_native_seq_show.
std::vector<std::string> ParseIpv6DefaultRoutes(std::string_view text);

/// Interfaces with a global-scope address in proc/net/if_inet6 ("addr idx plen scope flags
/// name", scope 00 = global; net/ipv6/addrconf.c if6_seq_show).
std::vector<std::string> ParseIfInet6Global(std::string_view text);

/// One mount from proc/self/mountinfo: "maj:min" of the source and the mount point
/// (Documentation/filesystems/proc.rst §3.5).
struct MountEntry {
  std::string dev;          ///< "8:2"
  std::string mount_point;  ///< "/", with octal escapes (\040) decoded
};

/// Parses proc/self/mountinfo. Malformed lines are skipped.
std::vector<MountEntry> ParseMountinfo(std::string_view text);

}  // namespace ptrec::pci
