#include "providers/state/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "providers/host/sysfs_paths.h"
#include "reconciler/json_io.h"

namespace ptrec::state {
using nlohmann::json;

Result<void> FileJournal::Begin(const Plan& plan) {
  std::lock_guard lock(mu_);
  fingerprint_ = plan.fingerprint;
  steps_json_ = "[]";
  return Write("running");
}

Result<void> FileJournal::StepDone(const Action& done, const std::vector<Action>& undo) {
  std::lock_guard lock(mu_);
  json steps = json::parse(steps_json_);
  json u = json::array();
  for (const auto& a : undo) u.push_back(ActionToJson(a));
  steps.push_back({{"action", ActionToJson(done)}, {"undo", u}});
  steps_json_ = steps.dump();
  return Write("running");
}

Result<void> FileJournal::Finish(bool ok) {
  std::lock_guard lock(mu_);
  return Write(ok ? "done" : "needs_attention");
}

Result<void> FileJournal::Write(const std::string& status) {
  json j = {{"format_version", kJsonFormatVersion},
            {"status", status},
            {"fingerprint", fingerprint_},
            {"steps", json::parse(steps_json_)}};
  return fs_.WriteFileAtomic(paths::JournalFile(), j.dump(2) + "\n");
}

std::string LastJournalStatus(const HostFs& fs) {
  auto text = fs.ReadFile(paths::JournalFile());
  if (!text) return {};
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "unreadable";
  return j.value("status", "unreadable");
}

Result<ApplyLock> ApplyLock::Acquire(HostFs& fs, const std::string& abs_root) {
  // Make sure the state directory exists (WriteFileAtomic creates parents), then lock.
  if (!fs.Exists(paths::LockFile())) {
    if (auto w = fs.WriteFileAtomic(paths::LockFile(), ""); !w) return std::unexpected(w.error());
  }
  std::string path = (abs_root == "/" ? std::string() : abs_root) + "/" + paths::LockFile();
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Fail(CodeFromErrno(errno), "open " + path + ": " + std::strerror(errno), path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return Fail(Code::kBusy, "another ptrec apply holds " + path + "; wait for it to finish", path, err);
    return Fail(CodeFromErrno(err), "flock " + path + ": " + std::strerror(err), path, err);
  }
  return ApplyLock(fd);
}

ApplyLock::~ApplyLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ptrec::state
