#include "tests/support/temp_dir.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

namespace ptrec::testing {
namespace {

int RemoveEntry(const char* path, const struct stat*, int type, struct FTW*) {
  if (type == FTW_DP)
    ::rmdir(path);
  else
    ::unlink(path);
  return 0;
}

}  // namespace

ScopedTempDir::ScopedTempDir(const std::string& tag) {
  // $TMPDIR when set; else /dev/shm (tmpfs: host trees are thousands of small files, which
  // disk file systems create an order of magnitude slower); else /tmp.
  const char* tmp = ::getenv("TMPDIR");
  std::string base = (tmp && *tmp) ? tmp : "/tmp";
  if (!(tmp && *tmp) && ::access("/dev/shm", W_OK | X_OK) == 0) base = "/dev/shm";
  std::string pattern = base + "/ptrec-" + tag + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp " + pattern + " failed");
  path_ = buf.data();
}

ScopedTempDir::~ScopedTempDir() {
  // Depth first, without following symlinks: the trees hold many links into themselves.
  if (!path_.empty() && path_ != "/") ::nftw(path_.c_str(), RemoveEntry, 64, FTW_DEPTH | FTW_PHYS);
}

}  // namespace ptrec::testing
