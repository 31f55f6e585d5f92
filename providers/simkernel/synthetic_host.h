// Synthetic SR-IOV hosts of any size, laid out as the kernel does, for benchmarks and tests:
// N PFs (each behind its own root port, on its own bus, in its own IOMMU group) with M VFs each
// already created, plus a management NIC with the default route and a SATA root disk.
#pragma once

#include <string>

#include "providers/simkernel/host_builder.h"

namespace ptrec::sim {

/// Shape of a synthetic host.
struct SyntheticShape {
  int pfs = 16;          ///< SR-IOV PFs (Intel E810-like, 8086:1592, driver ice), 1..200
  int vfs_per_pf = 120;  ///< VFs created at boot per PF (8086:1889, driver iavf), 0..128
  int total_vfs = 128;   ///< sriov_totalvfs of each PF
};

/// The host spec: bus b+1 holds PF b at b+1:00.0 (offset 8, stride 1, so its VFs are
/// b+1:01.0 ... on the same bus), behind root port 0000:00:(b/8+1).(b%8). About
/// pfs * (vfs_per_pf + 2) + 4 PCI functions.
HostSpec SyntheticHost(const SyntheticShape& shape);

/// A desired state that touches a realistic share of a synthetic host: every PF keeps its VF
/// count, and the VFs of every fourth PF go to vfio-pci (the rest stay with iavf).
std::string SyntheticDesiredState(const SyntheticShape& shape);

}  // namespace ptrec::sim
