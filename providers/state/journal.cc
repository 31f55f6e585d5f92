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
  json head = {{"format_version", kJsonFormatVersion}, {"status", "running"}, {"fingerprint", plan.fingerprint}};
  return fs_.WriteFileAtomic(paths::JournalFile(), head.dump() + "\n");
}

Result<void> FileJournal::StepDone(const Action& done, const std::vector<Action>& undo) {
  json u = json::array();
  for (const auto& a : undo) u.push_back(ActionToJson(a));
  std::string line = json{{"step", ActionToJson(done)}, {"undo", std::move(u)}}.dump() + "\n";
  std::lock_guard lock(mu_);
  return fs_.AppendFile(paths::JournalFile(), line);
}

Result<void> FileJournal::Finish(bool ok) {
  std::lock_guard lock(mu_);
  return fs_.AppendFile(paths::JournalFile(), json{{"status", ok ? "done" : "needs_attention"}}.dump() + "\n");
}

std::string LastJournalStatus(const HostFs& fs) {
  auto text = fs.ReadFile(paths::JournalFile());
  if (!text) return {};
  std::string status = "unreadable";
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    json j = json::parse(text->substr(start, end - start), nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("status")) status = j.value("status", "unreadable");
    start = end + 1;
  }
  return status;
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
