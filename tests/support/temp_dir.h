// A temporary directory for tests that need real files (host roots built by BuildHost,
// snapshots): created empty under $TMPDIR, else /dev/shm, else /tmp; removed with everything in
// it on scope exit.
#pragma once

#include <string>

namespace ptrec::testing {

/// mkdtemp(3) directory, "<tmp>/ptrec-<tag>-XXXXXX"; rm -r on destruction (never follows links).
/// Throws std::runtime_error when it cannot be created.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& tag = "test");
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  /// Absolute path, no trailing '/'.
  const std::string& path() const { return path_; }
  /// path() + "/" + \a rel.
  std::string Sub(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

}  // namespace ptrec::testing
