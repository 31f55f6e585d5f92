// Planning: the pure heart of ptrec. Given what the user wants and what the host is, compute
// the ordered, checked list of changes. No I/O: tests build HostState literals.
//
// Diffs live here rather than in each provider because the kinds interact: a VF's binding
// depends on its PF's count, and IOMMU-group viability spans every binding at once.
#pragma once

#include "reconciler/model.h"

namespace ptrec {

/// Computes the plan that takes \a host to \a desired.
///
/// Order (Phase): load modules -> give devices back (release) -> VF counts -> bind. A VF bind
/// depends on its PF's count action. Within a phase actions are sorted by BDF, so equal inputs
/// give identical plans.
///
/// Rules it enforces (each a Finding of severity kRefusal that names the entry and says what to
/// do; a refused plan still lists the actions it would take, for the operator to read):
///  - selectors must match devices; a numVfs target must be an SR-IOV PF, with a driver bound,
///    and numVfs <= sriov_totalvfs;
///  - vfio-pci needs an active IOMMU (Documentation/driver-api/vfio.rst);
///  - IOMMU group viability: every other device in a hidden device's group must be unbound or
///    on a driver that sets driver_managed_dma (vfio-pci, pci-stub, pcieport), as Linux >= 5.19
///    requires (drivers/pci/pci-driver.c pci_dma_configure -> iommu_device_use_default_domain);
///    with `group: include` the other endpoints are hidden too (bridges are never taken);
///  - a device that carries the default route, an interface up with an address, or a mounted
///    filesystem is not taken from the host without `force: true`;
///  - one device cannot be wanted on two drivers.
/// Devices ptrec bound earlier (host.ledger) and no longer wanted are given back to the driver
/// they had; VF counts ptrec set and no longer wanted go back to the count they had.
/// Plan::persist says what must be re-established at every boot; providers/persist turns it
/// into owned-file actions, added with AppendActions.
Plan ComputePlan(const DesiredState& desired, const HostState& host);

/// Adds \a more (ids ignored; deps are ids among \a more, counted from 0) to \a plan, then
/// orders all actions again by phase and device and renumbers ids and deps.
void AppendActions(Plan& plan, std::vector<Action> more);

}  // namespace ptrec
