// The apply journal and lock, kept under the host root in var/lib/ptrec/.
#pragma once

#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "providers/host/host_fs.h"
#include "reconciler/executor.h"

namespace ptrec::state {

/// Journal over a HostFs: var/lib/ptrec/journal.jsonl, JSON Lines, one record per line,
/// each appended and fdatasync'd before the executor goes on:
///   {"format_version":1,"status":"running","fingerprint":"..."}   (Begin: the file is replaced)
///   {"step":{action},"undo":[actions]}                            (StepDone, one per action)
///   {"status":"done"|"needs_attention"}                           (Finish)
/// Appending keeps each step O(1) on hosts with thousands of actions. A journal whose last
/// status is "running" means an apply was cut short: `ptrec plan` reports it.
class FileJournal : public Journal {
 public:
  explicit FileJournal(HostFs& fs) : fs_(fs) {}
  Result<void> Begin(const Plan& plan) override;
  Result<void> StepDone(const Action& done, const std::vector<Action>& undo) override;
  Result<void> Finish(bool ok) override;

 private:
  HostFs& fs_;
  std::mutex mu_;
};

/// Status of the journal left by the last apply: "" when none, else its "status" field.
std::string LastJournalStatus(const HostFs& fs);

/// An exclusive lock on var/lib/ptrec/lock under a host root (flock(2)), held while the
/// object lives: one apply at a time per host, for the CLI and the agent alike.
class ApplyLock {
 public:
  /// Takes the lock without waiting. Errors: kBusy when another ptrec holds it (names it),
  /// kIo / kPermission when the lock file cannot be created.
  static Result<ApplyLock> Acquire(HostFs& fs, const std::string& abs_root);
  ApplyLock(ApplyLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ApplyLock& operator=(ApplyLock&&) = delete;
  ~ApplyLock();

 private:
  explicit ApplyLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ptrec::state
