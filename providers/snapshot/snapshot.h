// `ptrec snapshot`: copies the files discovery reads from a host root into a new directory with
// the same layout (real directories where the kernel has them, the same relative symlinks), so
// that plan, show and apply --simulate run offline against it exactly as against the host.
//
// Read-only on the source; copies nothing but PCI/IOMMU/SR-IOV/driver/module facts, the network
// and mount facts the safety checks use, the kernel command line, ptrec's own state, and
// libvirt's domain XML (etc/libvirt/qemu/*.xml, run/libvirt/qemu/*.xml) so that VMs plan
// offline from the host's real definitions (providers/vm/sim_domains.h).
//
// One file has no counterpart on a real host: var/lib/ptrec/snapshot/ipv4-addresses
// (pci::kIpv4AddressesFile). The kernel shows IPv4 addresses in no procfs or sysfs file
// (proc/net/route has only routes, and a /32 makes none), so the snapshot asks the kernel over
// rtnetlink (RTM_GETADDR, pci::ReadIpv4Addresses) and writes what it answered, one
// "IFNAME ADDR/PREFIX" per line ("eth0 192.0.2.1/32"); discovery reads that file whenever the
// root is not live. It is always written, empty when the host has no IPv4 address; the
// sandbox builder writes it too, and the simulated kernel drops and restores an interface's
// lines with the interface.
#pragma once

#include <string>

#include "providers/host/host_fs.h"

namespace ptrec::snapshot {

/// What a snapshot wrote.
struct SnapshotStats {
  int files = 0;
  int links = 0;
};

/// Copies from \a source into \a out_dir, which must not exist or be empty, and is not "/".
/// Unreadable optional files (e.g. `config` beyond 64 bytes without root) are copied as far as
/// they can be read. Errors: kRefused for a bad \a out_dir, kNotFound when \a source has no
/// sys/bus/pci/devices, kIo for write failures; on the live host, the netlink error when the
/// IPv4 addresses cannot be read (a snapshot without them would plan as if no interface had
/// an address).
Result<SnapshotStats> TakeSnapshot(const HostFs& source, const std::string& out_dir);

}  // namespace ptrec::snapshot
