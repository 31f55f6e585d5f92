// Executor tests with a scripted provider: order, stop on failure, rollback newest first.
#include <catch2/catch.hpp>

#include <mutex>
#include <optional>

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

namespace ptrec {
namespace {

// Thread-safe recorder; fails actions on a chosen device; can hold a device until another one
// has started, to prove that two chains overlap.
struct ConcurrentProvider : Provider {
  std::mutex mu;
  std::vector<std::string> log;
  std::optional<Bdf> fail;
  std::string_view name() const override { return "concurrent"; }
  bool Handles(ActionKind) const override { return true; }
  Result<std::vector<Action>> Apply(const Action& a) override {
    std::string what = (a.reason == "undo" ? "undo " : "do ") + a.subject();
    {
      std::lock_guard lock(mu);
      log.push_back(what);
    }
    if (a.reason != "undo" && fail && a.device == *fail) return Fail(Code::kIo, "injected");
    Action u = a;
    u.reason = "undo";
    return std::vector<Action>{u};
  }
};

Action VfBind(int pf_bus, int index, int id) {
  Action a;
  a.id = id;
  a.kind = ActionKind::kBind;
  a.phase = Phase::kBind;
  a.vf = VfRef{Bdf{0, static_cast<uint8_t>(pf_bus), 0, 0}, index};
  a.device = Bdf{0, static_cast<uint8_t>(pf_bus), 0x10, static_cast<uint8_t>(index)};
  return a;
}

Action Count(int pf_bus, int id) {
  Action a;
  a.id = id;
  a.kind = ActionKind::kSetNumVfs;
  a.phase = Phase::kVfCount;
  a.device = Bdf{0, static_cast<uint8_t>(pf_bus), 0, 0};
  return a;
}

// Two PFs: counts, then 3 VF binds each.
Plan TwoPfs() {
  Plan p;
  p.actions = {Count(1, 0), Count(2, 1)};
  int id = 2;
  for (int pf : {1, 2})
    for (int i = 0; i < 3; ++i) {
      Action b = VfBind(pf, i, id++);
      b.deps = {pf - 1};
      p.actions.push_back(b);
    }
  return p;
}

std::vector<std::string> Only(const std::vector<std::string>& log, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& l : log)
    if (l.find(needle) != std::string::npos) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("apply: with several workers each PF's actions keep their order", "[apply]") {
  // Given two PFs with a count and three binds each, when run on 4 workers, then every action
  // runs once, counts come before binds (phase barrier), and each PF's binds are in VF order.
  ConcurrentProvider prov;
  Executor ex({&prov}, nullptr, 4);
  ApplyResult r = ex.Run(TwoPfs());
  REQUIRE(r.ok);
  REQUIRE(prov.log.size() == 8);
  CHECK(Only({prov.log.begin(), prov.log.begin() + 2}, "do 0000:0").size() == 2);
  for (const char* pf : {"of 0000:01:00.0", "of 0000:02:00.0"}) {
    auto binds = Only(prov.log, pf);
    REQUIRE(binds.size() == 3);
    for (int i = 0; i < 3; ++i) CHECK_THAT(binds[i], Catch::StartsWith("do VF " + std::to_string(i)));
  }
  for (const auto& s : r.steps) CHECK(s.status == StepOutcome::Status::kDone);
}

TEST_CASE("apply: a failure in one worker rolls back every worker's steps", "[apply]") {
  // Given VF 1 of PF 2 fails, then no step is left done: each completed step is undone, and the
  // counts (phase before) are undone after the binds.
  ConcurrentProvider prov;
  prov.fail = Bdf{0, 2, 0x10, 1};
  Executor ex({&prov}, nullptr, 4);
  ApplyResult r = ex.Run(TwoPfs());
  CHECK_FALSE(r.ok);
  CHECK(r.rolled_back);
  for (const auto& s : r.steps)
    CHECK((s.status == StepOutcome::Status::kUndone || s.status == StepOutcome::Status::kFailed ||
           s.status == StepOutcome::Status::kNotRun));
  auto undos = Only(prov.log, "undo");
  REQUIRE(undos.size() >= 2);
  CHECK_THAT(undos[undos.size() - 1], Catch::StartsWith("undo 0000:0"));  // a count, last
  CHECK_THAT(undos[undos.size() - 2], Catch::StartsWith("undo 0000:0"));
}

TEST_CASE("apply: a dependency on a later action is refused before any change", "[apply]") {
  ConcurrentProvider prov;
  Plan p = TwoPfs();
  p.actions[2].deps = {7};
  Executor ex({&prov}, nullptr, 2);
  ApplyResult r = ex.Run(p);
  CHECK_FALSE(r.ok);
  CHECK(r.error->code == Code::kInvalid);
  CHECK(prov.log.empty());
}

}  // namespace ptrec
