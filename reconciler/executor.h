// The executor walks a Plan and has providers carry out each Action, journaling every step.
// If a step fails, it undoes every step this run completed, newest first, so the host ends as
// it began; it never leaves a device half-moved.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reconciler/provider.h"

namespace ptrec {

/// Durable record of the apply in progress, so an interrupted run can be told and undone.
/// Implemented over the host root by providers/state (var/lib/ptrec/journal.jsonl).
class Journal {
 public:
  virtual ~Journal() = default;
  /// Records that \a plan starts. Errors abort the run before any change.
  virtual Result<void> Begin(const Plan& plan) = 0;
  /// Records that \a done completed and how to undo it.
  virtual Result<void> StepDone(const Action& done, const std::vector<Action>& undo) = 0;
  /// Records the end of the run (\a ok: all steps done, or fully rolled back).
  virtual Result<void> Finish(bool ok) = 0;
};

/// What happened to one action.
struct StepOutcome {
  enum class Status {
    kDone,        ///< applied and verified
    kFailed,      ///< the step that stopped the run
    kNotRun,      ///< after the failure, never started
    kUndone,      ///< applied, then rolled back
    kUndoFailed,  ///< applied, and rolling it back failed too: needs a person
  };
  int action_id = 0;
  Status status = Status::kNotRun;
  std::string message;  ///< the error for kFailed / kUndoFailed
  double millis = 0;    ///< wall time of the apply, in milliseconds
};

/// The result of Executor::Run.
struct ApplyResult {
  bool ok = false;             ///< every action done and verified
  std::vector<StepOutcome> steps;  ///< one per plan action, same order
  std::optional<Error> error;  ///< the failure that stopped the run
  bool rolled_back = false;    ///< a failure happened and every completed step was undone
};

/// Runs plans through providers.
///
/// Concurrency: phases run one after another (Phase order is a safety barrier). Within a phase
/// the actions form chains, one per PF (a PF's count and its VFs' binds) or per device; a chain
/// runs in plan order on one worker, and up to `workers` chains run at once, so independent PFs
/// are configured in parallel. An action also waits for its deps. After a failure no new
/// action starts; actions already running finish; then every completed action is undone, the
/// most recently completed first. Providers, the journal and on_step must be thread-safe
/// (on_step is called under the executor's lock, so it needs no lock of its own).
class Executor {
 public:
  /// \a providers must cover every ActionKind in the plans given to Run; \a journal may be null
  /// (tests). Neither is owned. \a workers >= 1: chains run at once (1 = strictly sequential).
  Executor(std::vector<Provider*> providers, Journal* journal, int workers = 1);

  /// Called after each action finishes (for progress output), one call at a time.
  void set_on_step(std::function<void(const Action&, const StepOutcome&)> f) { on_step_ = std::move(f); }

  /// Applies \a plan's actions. A refused plan is not run (error kRefused).
  ApplyResult Run(const Plan& plan);

 private:
  Provider* ProviderFor(ActionKind kind) const;

  std::vector<Provider*> providers_;
  Journal* journal_;
  int workers_;
  std::function<void(const Action&, const StepOutcome&)> on_step_;
};

/// The chain an action belongs to: actions with the same key run in plan order on one worker.
/// VF actions (and a PF's own count) share their PF's key; other actions use their device;
/// module loads share one key. E.g. "0000:03:00.0", "module".
std::string ChainKey(const Action& action, const Plan& plan);

/// "done", "failed", "not_run", "undone", "undo_failed".
const char* StepStatusName(StepOutcome::Status status);

}  // namespace ptrec
