#include "providers/host/host_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <linux/magic.h>

namespace ptrec {
namespace {

Error SysError(std::string_view op, const std::string& path, int err) {
  return Error{CodeFromErrno(err), std::string(op) + " " + path + ": " + std::strerror(err), path,
               err};
}

// Closes a file descriptor on scope exit.
struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

Result<void> MakeDirs(const std::string& abs_dir) {
  // abs_dir is absolute; create each missing component.
  for (size_t pos = 1; pos <= abs_dir.size(); ++pos) {
    if (pos != abs_dir.size() && abs_dir[pos] != '/') continue;
    std::string part = abs_dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return std::unexpected(SysError("mkdir", part, errno));
  }
  return {};
}

}  // namespace

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\0'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return lines;
}

std::optional<bool> KernelStrToBool(std::string_view s) {
  if (s.empty()) return std::nullopt;
  switch (s[0]) {
    case 'y': case 'Y': case 't': case 'T': case '1':
      return true;
    case 'n': case 'N': case 'f': case 'F': case '0':
      return false;
    case 'o': case 'O':
      if (s.size() > 1 && (s[1] == 'n' || s[1] == 'N')) return true;
      if (s.size() > 1 && (s[1] == 'f' || s[1] == 'F')) return false;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

RealHostFs::RealHostFs(std::string root) : root_(std::move(root)) {
  prefix_ = root_;
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

Result<std::string> RealHostFs::Resolve(const std::string& path) const {
  if (path.empty() || path.front() == '/')
    return Fail(Code::kRefused, "path '" + path + "' is not relative to the host root", path);
  // Reject any ".." component so no relative path climbs out of the root.
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0)
      return Fail(Code::kRefused, "path '" + path + "' leaves the host root", path);
    start = end + 1;
  }
  return prefix_ + "/" + path;
}

Result<std::string> RealHostFs::ReadFile(const std::string& path) const {
  auto abs = Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  Fd fd(::open(abs->c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) return std::unexpected(SysError("open", *abs, errno));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(SysError("read", *abs, errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> RealHostFs::ReadAttribute(const std::string& path) const {
  auto abs = Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  Fd fd(::open(abs->c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) return std::unexpected(SysError("open", *abs, errno));
  char buf[8192];
  ssize_t n;
  do n = ::read(fd.fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n < 0) return std::unexpected(SysError("read", *abs, errno));
  std::string out(buf, static_cast<size_t>(n));
  // A regular file (a snapshot's copy) larger than the buffer: read the rest.
  if (static_cast<size_t>(n) == sizeof buf) {
    for (;;) {
      ssize_t more = ::read(fd.fd, buf, sizeof buf);
      if (more < 0 && errno == EINTR) continue;
      if (more <= 0) break;
      out.append(buf, static_cast<size_t>(more));
    }
  }
  return out;
}

Result<std::string> RealHostFs::ReadLink(const std::string& path) const {
  auto abs = Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  char buf[4096];
  ssize_t n = ::readlink(abs->c_str(), buf, sizeof buf);
  if (n < 0) return std::unexpected(SysError("readlink", *abs, errno));
  return std::string(buf, static_cast<size_t>(n));
}

Result<std::vector<std::string>> RealHostFs::ListDir(const std::string& path) const {
  auto abs = Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  DIR* dir = ::opendir(abs->c_str());
  if (!dir) return std::unexpected(SysError("opendir", *abs, errno));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0)))
      continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool RealHostFs::Exists(const std::string& path) const {
  auto abs = Resolve(path);
  return abs && ::access(abs->c_str(), F_OK) == 0;
}

Result<void> RealHostFs::WriteAttribute(const std::string& path, std::string_view data) {
  auto abs = Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  Fd fd(::open(abs->c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.fd < 0) return std::unexpected(SysError("open", *abs, errno));
  ssize_t n = ::write(fd.fd, data.data(), data.size());
  if (n < 0) return std::unexpected(SysError("write", *abs, errno));
  if (static_cast<size_t>(n) != data.size())
    return Fail(Code::kIo, "write " + *abs + ": short write", path);
  return {};
}

Result<void> RealHostFs::WriteFileAtomic(const std::string& path, std::string_view data,
                                         unsigned mode) {
  auto abs = Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  std::string dir = abs->substr(0, abs->rfind('/'));
  if (auto made = MakeDirs(dir); !made) return made;
  struct stat old {};
  if (::stat(abs->c_str(), &old) == 0) mode = old.st_mode & 07777;
  std::string tmp = *abs + ".ptrec-tmp." + std::to_string(::getpid());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (fd.fd < 0) return std::unexpected(SysError("open", tmp, errno));
    if (::fchmod(fd.fd, mode) != 0) return std::unexpected(SysError("fchmod", tmp, errno));
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd.fd, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::unlink(tmp.c_str());
        return std::unexpected(SysError("write", tmp, err));
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.fd) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return std::unexpected(SysError("fsync", tmp, err));
    }
  }
  if (::rename(tmp.c_str(), abs->c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return std::unexpected(SysError("rename", *abs, err));
  }
  return {};
}

Result<void> RealHostFs::RemoveFile(const std::string& path) {
  auto abs = Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  if (::unlink(abs->c_str()) != 0 && errno != ENOENT)
    return std::unexpected(SysError("unlink", *abs, errno));
  return {};
}

Result<void> RealHostFs::AppendFile(const std::string& path, std::string_view data) {
  auto abs = Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  Fd fd(::open(abs->c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (fd.fd < 0) return std::unexpected(SysError("open", *abs, errno));
  ssize_t n = ::write(fd.fd, data.data(), data.size());
  if (n < 0) return std::unexpected(SysError("write", *abs, errno));
  if (static_cast<size_t>(n) != data.size()) return Fail(Code::kIo, "write " + *abs + ": short write", path);
  if (::fdatasync(fd.fd) != 0) return std::unexpected(SysError("fdatasync", *abs, errno));
  return {};
}

bool IsLiveSysfs(const std::string& root) {
  std::string sys = (root == "/" ? std::string() : root) + "/sys";
  struct statfs st {};
  if (::statfs(sys.c_str(), &st) != 0) return false;
  return st.f_type == SYSFS_MAGIC;
}

}  // namespace ptrec
