// Carries out kAttach and kDetach: a PCI hostdev into or out of a domain, through the VM's
// backend (vm_backend.h), verified by describing the domain again, and recorded in the ledger
// so that only hostdevs ptrec attached are later ptrec's to remove.
#pragma once

#include "providers/host/host_fs.h"
#include "providers/state/ledger_store.h"
#include "providers/vm/vm_backend.h"
#include "reconciler/provider.h"

namespace ptrec::vm {

/// The executor's provider for VM actions. Thread-safe (one backend call at a time).
class VmProvider : public Provider {
 public:
  /// None of the arguments is owned; all must outlive the provider. \a fs resolves VFs given
  /// as PF + index (virtfnN links) at apply time.
  VmProvider(Backends& backends, state::LedgerBook& ledger, const HostFs& fs)
      : backends_(backends), ledger_(ledger), fs_(fs) {}

  std::string_view name() const override { return "vm"; }
  bool Handles(ActionKind kind) const override { return kind == ActionKind::kAttach || kind == ActionKind::kDetach; }

  /// kAttach: attaches the hostdev (config and/or live), then checks the domain's definitions
  /// hold it; undo = kDetach of the same. kDetach: detaches it (one already gone counts as
  /// detached), then checks it is gone; undo = kAttach of the same. Errors: the backend's;
  /// kVerifyFailed when the domain does not show the change (the change is undone first).
  Result<std::vector<Action>> Apply(const Action& action) override;

 private:
  Backends& backends_;
  state::LedgerBook& ledger_;
  const HostFs& fs_;
};

}  // namespace ptrec::vm
