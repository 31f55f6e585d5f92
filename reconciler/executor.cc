#include "reconciler/executor.h"

#include <chrono>

namespace ptrec {

Executor::Executor(std::vector<Provider*> providers, Journal* journal)
    : providers_(std::move(providers)), journal_(journal) {}

Provider* Executor::ProviderFor(ActionKind kind) const {
  for (Provider* p : providers_)
    if (p->Handles(kind)) return p;
  return nullptr;
}

ApplyResult Executor::Run(const Plan& plan) {
  ApplyResult result;
  for (const Action& a : plan.actions) result.steps.push_back({a.id, StepOutcome::Status::kNotRun, {}, 0});
  if (plan.refused()) {
    result.error = Error{Code::kRefused, "the plan has refusals; nothing was changed"};
    return result;
  }
  for (const Action& a : plan.actions) {
    if (!ProviderFor(a.kind)) {
      result.error = Error{Code::kUnsupported, std::string("no provider for ") + ActionKindName(a.kind) + "; nothing was changed"};
      return result;
    }
  }
  if (journal_) {
    if (auto begun = journal_->Begin(plan); !begun) {
      result.error = begun.error();
      return result;
    }
  }

  struct Done {
    size_t step;
    std::vector<Action> undo;
  };
  std::vector<Done> done;
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const Action& a = plan.actions[i];
    auto start = std::chrono::steady_clock::now();
    auto applied = ProviderFor(a.kind)->Apply(a);
    auto& step = result.steps[i];
    step.millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!applied) {
      step.status = StepOutcome::Status::kFailed;
      step.message = applied.error().message;
      result.error = applied.error();
      if (on_step_) on_step_(a, step);
      break;
    }
    step.status = StepOutcome::Status::kDone;
    if (journal_) (void)journal_->StepDone(a, *applied);  // best effort: the change is made
    done.push_back({i, std::move(*applied)});
    if (on_step_) on_step_(a, step);
  }

  if (!result.error) {
    result.ok = true;
    if (journal_) (void)journal_->Finish(true);
    return result;
  }

  // Roll back newest first. Keep going after an undo failure: undo as much as possible and
  // report each step that could not be undone.
  bool all_undone = true;
  for (auto it = done.rbegin(); it != done.rend(); ++it) {
    auto& step = result.steps[it->step];
    step.status = StepOutcome::Status::kUndone;
    for (const Action& undo : it->undo) {
      Provider* p = ProviderFor(undo.kind);
      auto undone = p ? p->Apply(undo) : Result<std::vector<Action>>(Fail(Code::kUnsupported, "no provider"));
      if (!undone) {
        step.status = StepOutcome::Status::kUndoFailed;
        step.message = "undo failed: " + undone.error().message;
        all_undone = false;
        break;
      }
    }
    if (on_step_) on_step_(plan.actions[it->step], step);
  }
  result.rolled_back = all_undone;
  if (journal_) (void)journal_->Finish(all_undone);
  return result;
}

const char* StepStatusName(StepOutcome::Status status) {
  switch (status) {
    case StepOutcome::Status::kDone: return "done";
    case StepOutcome::Status::kFailed: return "failed";
    case StepOutcome::Status::kNotRun: return "not_run";
    case StepOutcome::Status::kUndone: return "undone";
    case StepOutcome::Status::kUndoFailed: return "undo_failed";
  }
  return "";
}

}  // namespace ptrec
