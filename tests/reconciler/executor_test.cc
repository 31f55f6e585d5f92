// Executor tests with a scripted provider: order, stop on failure, rollback newest first.
#include <catch2/catch.hpp>

#include "reconciler/executor.h"

namespace ptrec {
namespace {

// Records every action it is asked to apply; fails the action whose device bus is `fail_bus`.
struct ScriptedProvider : Provider {
  std::vector<std::string> log;
  int fail_bus = -1;
  int fail_undo_bus = -1;
  std::string_view name() const override { return "scripted"; }
  bool Handles(ActionKind) const override { return true; }
  Result<std::vector<Action>> Apply(const Action& a) override {
    bool undo = a.reason == "undo";
    log.push_back((undo ? "undo " : "do ") + a.device.str());
    if (!undo && a.device.bus == fail_bus) return Fail(Code::kBusy, "write: Device or resource busy");
    if (undo && a.device.bus == fail_undo_bus) return Fail(Code::kIo, "undo broke");
    Action u = a;
    u.reason = "undo";
    return std::vector<Action>{u};
  }
};

struct RecordingJournal : Journal {
  std::vector<std::string> events;
  Result<void> Begin(const Plan&) override { events.push_back("begin"); return {}; }
  Result<void> StepDone(const Action& a, const std::vector<Action>&) override {
    events.push_back("done " + a.device.str());
    return {};
  }
  Result<void> Finish(bool ok) override { events.push_back(ok ? "ok" : "bad"); return {}; }
};

Plan ThreeSteps() {
  Plan p;
  for (int i = 1; i <= 3; ++i) {
    Action a;
    a.id = i - 1;
    a.device = Bdf{0, static_cast<uint8_t>(i), 0, 0};
    p.actions.push_back(a);
  }
  return p;
}

}  // namespace

TEST_CASE("apply: every step runs in order and is journaled", "[apply]") {
  // Given three actions that succeed, then all are done in order and the journal says ok.
  ScriptedProvider prov;
  RecordingJournal journal;
  Executor ex({&prov}, &journal);
  ApplyResult r = ex.Run(ThreeSteps());
  CHECK(r.ok);
  CHECK(prov.log == std::vector<std::string>{"do 0000:01:00.0", "do 0000:02:00.0", "do 0000:03:00.0"});
  CHECK(journal.events == std::vector<std::string>{"begin", "done 0000:01:00.0", "done 0000:02:00.0",
                                                   "done 0000:03:00.0", "ok"});
}

TEST_CASE("apply: a failed step stops the run and undoes earlier steps newest first", "[apply]") {
  // Given step 3 fails, then steps 2 and 1 are undone in that order and nothing else runs.
  ScriptedProvider prov;
  prov.fail_bus = 3;
  Executor ex({&prov}, nullptr);
  ApplyResult r = ex.Run(ThreeSteps());
  CHECK_FALSE(r.ok);
  CHECK(r.rolled_back);
  REQUIRE(r.error.has_value());
  CHECK(r.error->code == Code::kBusy);
  CHECK(prov.log == std::vector<std::string>{"do 0000:01:00.0", "do 0000:02:00.0", "do 0000:03:00.0",
                                             "undo 0000:02:00.0", "undo 0000:01:00.0"});
  CHECK(r.steps[0].status == StepOutcome::Status::kUndone);
  CHECK(r.steps[1].status == StepOutcome::Status::kUndone);
  CHECK(r.steps[2].status == StepOutcome::Status::kFailed);
}

TEST_CASE("apply: an undo that fails is reported and the rest still undone", "[apply]") {
  ScriptedProvider prov;
  prov.fail_bus = 3;
  prov.fail_undo_bus = 2;
  Executor ex({&prov}, nullptr);
  ApplyResult r = ex.Run(ThreeSteps());
  CHECK_FALSE(r.rolled_back);
  CHECK(r.steps[1].status == StepOutcome::Status::kUndoFailed);
  CHECK(r.steps[0].status == StepOutcome::Status::kUndone);
  CHECK(prov.log.back() == "undo 0000:01:00.0");
}

TEST_CASE("apply: a refused plan changes nothing", "[apply]") {
  ScriptedProvider prov;
  Executor ex({&prov}, nullptr);
  Plan p = ThreeSteps();
  p.findings.push_back({Finding::Severity::kRefusal, "x", "no", "", {}});
  ApplyResult r = ex.Run(p);
  CHECK_FALSE(r.ok);
  CHECK(r.error->code == Code::kRefused);
  CHECK(prov.log.empty());
}

}  // namespace ptrec
