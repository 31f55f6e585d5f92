// Who on the host depends on a PCI function: network interfaces that carry the default route or
// are up with an address, and block devices with mounted filesystems. Read from files under the
// host root, so snapshots carry these facts too.
#pragma once

#include <string_view>
#include <vector>

#include "providers/host/host_fs.h"
#include "reconciler/model.h"

namespace ptrec::pci {

/// Fills host.net_interfaces and host.usages. Needs host.devices (with block_devices) filled.
/// Sources: sys/class/net/NAME/{device,operstate,flags}, proc/net/route, proc/net/ipv6_route,
/// proc/net/if_inet6, sys/block/NAME/{dev,slaves,PARTITION/dev}, proc/self/mountinfo.
/// Missing files mean "no such use" (a snapshot without proc/net is a host without routes).
void ObserveUsage(const HostFs& fs, HostState& host);

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
