// Sets a PF's VF count through sriov_numvfs (Documentation/PCI/pci-iov-howto.rst,
// Documentation/ABI/testing/sysfs-bus-pci). The kernel refuses N -> M when both are non-zero
// (drivers/pci/iov.c sriov_numvfs_store: EBUSY), so changes go through 0.
#pragma once

#include "providers/host/host_fs.h"
#include "providers/state/ledger_store.h"
#include "reconciler/provider.h"

namespace ptrec::sriov {

/// Carries out kSetNumVfs actions.
class SriovProvider : public Provider {
 public:
  /// Neither argument is owned; both must outlive the provider.
  SriovProvider(HostFs& fs, state::LedgerBook& ledger) : fs_(fs), ledger_(ledger) {}

  std::string_view name() const override { return "sriov"; }
  bool Handles(ActionKind kind) const override { return kind == ActionKind::kSetNumVfs; }

  /// Writes sriov_numvfs (0 first when both counts are non-zero). With action.autoprobe_off,
  /// sriov_drivers_autoprobe is 0 while the VFs are created and restored afterwards, so no host
  /// driver probes them. Verifies sriov_numvfs and the virtfn0..N-1 links.
  /// Undo: the count it found, and binds for VFs that had a driver_override (ptrec's).
  /// Errors: the kernel's errno (kBusy, kNotFound = no PF driver, kInvalid = ERANGE),
  /// kVerifyFailed; on error the count it found is restored where possible.
  Result<std::vector<Action>> Apply(const Action& action) override;

 private:
  Result<void> SetCount(Bdf pf, int from, int to, bool autoprobe_off);

  HostFs& fs_;
  state::LedgerBook& ledger_;
};

}  // namespace ptrec::sriov
