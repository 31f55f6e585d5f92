#include "reconciler/executor.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace ptrec {
namespace {

using Clock = std::chrono::steady_clock;

// The state of one Run, shared by the workers under `mu`.
struct RunState {
  const Plan& plan;
  ApplyResult& result;
  std::mutex mu;
  std::condition_variable changed;
  std::vector<bool> finished;          // by action index: done or failed
  std::deque<std::vector<size_t>> ready;  // chains of the current phase not started yet
  int running = 0;
  bool failed = false;
  struct Done {
    size_t step;
    std::vector<Action> undo;
  };
  std::vector<Done> done;  // completion order
};

}  // namespace

std::string ChainKey(const Action& a, const Plan& /*plan*/) {
  if (a.kind == ActionKind::kLoadModule || a.kind == ActionKind::kReloadModule) return "module";
  if (a.vf) return a.vf->pf.str();
  return a.device.str();
}

Executor::Executor(std::vector<Provider*> providers, Journal* journal, int workers)
    : providers_(std::move(providers)), journal_(journal), workers_(workers < 1 ? 1 : workers) {}

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
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    for (int d : plan.actions[i].deps) {
      bool earlier = false;
      for (size_t j = 0; j < i; ++j) earlier = earlier || plan.actions[j].id == d;
      if (!earlier) {
        result.error = Error{Code::kInvalid, "action " + std::to_string(plan.actions[i].id) + " depends on " +
                                                 std::to_string(d) + ", which does not come before it; nothing was changed"};
        return result;
      }
    }
  }
  if (journal_) {
    if (auto begun = journal_->Begin(plan); !begun) {
      result.error = begun.error();
      return result;
    }
  }

  RunState st{plan, result, {}, {}, std::vector<bool>(plan.actions.size(), false), {}, 0, false, {}};
  std::map<int, size_t> index_of;
  for (size_t i = 0; i < plan.actions.size(); ++i) index_of[plan.actions[i].id] = i;

  // Runs one chain: its actions in order, each after its deps. Called on a worker thread.
  auto run_chain = [&](const std::vector<size_t>& chain) {
    for (size_t i : chain) {
      const Action& a = plan.actions[i];
      {
        std::unique_lock lock(st.mu);
        st.changed.wait(lock, [&] {
          if (st.failed) return true;
          for (int d : a.deps)
            if (auto it = index_of.find(d); it != index_of.end() && !st.finished[it->second]) return false;
          return true;
        });
        if (st.failed) return;
      }
      auto start = Clock::now();
      auto applied = ProviderFor(a.kind)->Apply(a);
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (applied && journal_) (void)journal_->StepDone(a, *applied);  // best effort: the change is made
      std::lock_guard lock(st.mu);
      auto& step = st.result.steps[i];
      step.millis = ms;
      st.finished[i] = true;
      if (!applied) {
        step.status = StepOutcome::Status::kFailed;
        step.message = applied.error().message;
        if (!st.failed) st.result.error = applied.error();
        st.failed = true;
      } else {
        step.status = StepOutcome::Status::kDone;
        st.done.push_back({i, std::move(*applied)});
      }
      if (on_step_) on_step_(a, step);
      st.changed.notify_all();
      if (st.failed) return;
    }
  };

  // Phase by phase: group the phase's actions into chains, run chains on the pool.
  size_t begin = 0;
  while (begin < plan.actions.size() && !st.failed) {
    size_t end = begin;
    while (end < plan.actions.size() && plan.actions[end].phase == plan.actions[begin].phase) ++end;
    std::map<std::string, std::vector<size_t>> chains;
    std::vector<std::string> order;  // chains in order of first appearance: deterministic starts
    std::map<size_t, std::string> key_of;
    for (size_t i = begin; i < end; ++i) {
      std::string key = ChainKey(plan.actions[i], plan);
      // An action that depends on one of this phase joins that action's chain, so no worker
      // ever waits on a chain that has not started.
      for (int d : plan.actions[i].deps)
        if (auto it = index_of.find(d); it != index_of.end() && key_of.count(it->second)) key = key_of[it->second];
      key_of[i] = key;
      if (!chains.count(key)) order.push_back(key);
      chains[key].push_back(i);
    }
    for (const auto& key : order) st.ready.push_back(std::move(chains[key]));
    int pool = std::min<int>(workers_, static_cast<int>(st.ready.size()));
    std::vector<std::thread> threads;
    auto worker = [&] {
      for (;;) {
        std::vector<size_t> chain;
        {
          std::lock_guard lock(st.mu);
          if (st.failed || st.ready.empty()) return;
          chain = std::move(st.ready.front());
          st.ready.pop_front();
        }
        run_chain(chain);
      }
    };
    if (pool <= 1) worker();
    else {
      for (int t = 0; t < pool; ++t) threads.emplace_back(worker);
      for (auto& t : threads) t.join();
    }
    st.ready.clear();
    begin = end;
  }

  if (!st.failed) {
    result.ok = true;
    if (journal_) (void)journal_->Finish(true);
    return result;
  }

  // Roll back, most recently completed first. Keep going after an undo failure: undo as much
  // as possible and report each step that could not be undone.
  bool all_undone = true;
  for (auto it = st.done.rbegin(); it != st.done.rend(); ++it) {
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
