// The seam between the reconciler and the host: a Provider carries out one kind of Action.
//
// The reconciler decides *what* to change (plan.h) without I/O; providers decide *how*, through
// host seams the reconciler never sees (HostFs, commands). The CLI wires concrete providers
// into an Executor. This mirrors ninja, where Plan owns no DiskInterface or CommandRunner.
#pragma once

#include <string_view>
#include <vector>

#include "reconciler/error.h"
#include "reconciler/model.h"

namespace ptrec {

/// Applies one kind of Action to a host.
class Provider {
 public:
  virtual ~Provider() = default;

  /// Short name for logs: "sriov", "binding".
  virtual std::string_view name() const = 0;

  /// True when this provider carries out actions of \a kind.
  virtual bool Handles(ActionKind kind) const = 0;

  /// Carries out \a action and reads back the result. Returns the actions that undo it, in the
  /// order to run them, computed from the state observed just before the first write (so a
  /// rollback restores what was there, not what the plan assumed).
  /// Errors: the host's (kBusy, kNotFound, ...) or kVerifyFailed when the read-back disagrees.
  /// On error the provider has already restored what it changed within this one action.
  virtual Result<std::vector<Action>> Apply(const Action& action) = 0;
};

}  // namespace ptrec
