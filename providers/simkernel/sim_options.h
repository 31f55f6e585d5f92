// Knobs of the simulated kernel that are not part of the host: injected failures, latencies,
// which drivers lack sriov_configure or leave SR-IOV enabled when unbound, and IOMMU groups a
// user (a running VM) holds. They live in an optional <root>/.ptrec-sim.yaml so
// that CLI users can rehearse failures with `--simulate`; BuildHost writes that file from
// HostSpec::sim.
//
//   # <root>/.ptrec-sim.yaml
//   faults:
//     - {match: vfio-pci, errno: EBUSY}                        # every vfio-pci probe fails
//     - {match: 0000:03:00.1/sriov_numvfs, errno: ENOMEM, after: 1}   # 2nd write fails
//     - {match: state.json, errno: ENOSPC, times: 1}           # ptrec's ledger write, once
//   latency_ms: {vf_create: 20, bind: 5}
//   drivers_without_sriov_configure: [e1000e, igbvf, pci-stub]
//   drivers_leaving_sriov_enabled: [nvme]     # their remove() keeps the VFs
//   user_owned_iommu_groups: [6]              # a VM holds these through a VFIO container
#pragma once

#include <string>
#include <vector>

#include "reconciler/error.h"

namespace YAML {
class Node;
}

namespace ptrec::sim {

/// One injected failure. \a match is either a driver name (its probes fail: bind, drivers_probe,
/// autoprobe of new VFs) or a path suffix matched on whole components ("sriov_numvfs",
/// "0000:03:00.0/driver_override", "drivers/vfio-pci/bind"); a path suffix applies to the
/// written path and to its canonical sysfs path, and to WriteFileAtomic/RemoveFile too.
struct FaultSpec {
  std::string match;
  int err = 0;         ///< errno returned, e.g. EBUSY
  int after_n_ok = 0;  ///< this many matching events succeed first
  int times = -1;      ///< how many times it fires after that; -1 = every time
};

/// Simulation settings (see the file comment for the YAML form).
struct SimOptions {
  std::vector<FaultSpec> faults;
  int vf_create_latency_ms = 0;  ///< slept per VF created or removed by sriov_numvfs
  int bind_latency_ms = 0;       ///< slept per driver probe (bind, drivers_probe, autoprobe)
  /// PCI drivers whose struct pci_driver has no .sriov_configure: writing sriov_numvfs of a PF
  /// bound to them fails with ENOENT (drivers/pci/iov.c sriov_numvfs_store). A few well-known
  /// ones are always included (SimKernelFs::DriverHasSriovConfigure).
  std::vector<std::string> drivers_without_sriov_configure;
  /// PF drivers whose remove() does not disable SR-IOV, so unbinding them keeps the VFs (the
  /// kernel warns "driver left SR-IOV enabled after remove", drivers/pci/iov.c pci_iov_remove).
  /// Most PF drivers disable SR-IOV there (igb_remove -> igb_disable_sriov, ixgbe_remove, ice,
  /// i40e, bnx2x, bnxt, vfio-pci); nvme (pci_sriov_configure_simple, nothing in nvme_remove)
  /// does not, as the e2e test bed measured. A few known ones are always included
  /// (SimKernelFs::DriverLeavesSriovEnabled).
  std::vector<std::string> drivers_leaving_sriov_enabled;
  /// IOMMU groups whose DMA a user owns: a VFIO container (QEMU running a VM) attached the
  /// group with VFIO_GROUP_SET_CONTAINER, which claims it (drivers/iommu/iommu.c
  /// iommu_group_claim_dma_owner). Probing a driver that manages DMA through the kernel (every
  /// driver but vfio-*, pci-stub and pcieport, which set driver_managed_dma) on a device of
  /// such a group then fails with EBUSY (pci_dma_configure -> iommu_device_use_default_domain),
  /// so giving a device back to its host driver fails while the VM runs. Sysfs does not show
  /// the claim, so neither a snapshot nor the builder can know it: set it here.
  std::vector<int> user_owned_iommu_groups;
};

/// The options file name under a host root.
inline constexpr const char* kSimOptionsFile = ".ptrec-sim.yaml";

/// Parses \a yaml (the file's contents); \a name is used in errors, which read
/// "NAME:LINE:COL: message". errno names (EBUSY, ENOMEM, ...) or numbers are accepted.
/// Errors: kInvalid.
Result<SimOptions> ParseSimOptions(const std::string& yaml, const std::string& name);
/// The same from a parsed node (the `sim:` section of a host spec); \a name is the file.
Result<SimOptions> ParseSimOptionsNode(const YAML::Node& root, const std::string& name);

/// YAML text that ParseSimOptions reads back as \a options.
std::string SimOptionsToYaml(const SimOptions& options);

/// errno value of a name such as "EBUSY"; 0 when unknown.
int ErrnoFromName(const std::string& name);
/// Name of errno \a err ("EBUSY"), or its number as text.
std::string ErrnoName(int err);

}  // namespace ptrec::sim
