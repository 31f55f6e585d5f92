// The one door between ptrec and a host's files: sysfs, procfs, /etc, /lib/modules and ptrec's
// own state, all addressed relative to a host root ("/" for the running host, a snapshot or an
// example host otherwise).
//
// Three implementations:
//  - RealHostFs(root): plain system calls under root. On root "/" writes reach the kernel.
//  - SimKernelFs (providers/simkernel): a RealHostFs whose sysfs writes get the kernel's
//    reactions (VFs appear, driver links move), for --simulate and tests.
//  - tests' fakes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/error.h"

namespace ptrec {

/// Access to host files. Paths are relative to the host root and have no leading '/':
/// "sys/bus/pci/devices/0000:03:00.0/vendor". An absolute or ".."-escaping path is a bug and
/// yields Code::kRefused, so no call can reach outside the root.
class HostFs {
 public:
  virtual ~HostFs() = default;

  /// The host root as given ("/" or a directory), for messages.
  virtual const std::string& root() const = 0;

  /// Whole contents of \a path, e.g. "0x8086\n" for .../vendor.
  /// Errors: kNotFound (ENOENT), kPermission, kIo.
  virtual Result<std::string> ReadFile(const std::string& path) const = 0;

  /// Contents of the sysfs attribute \a path read with ONE read(2) of up to 8 KiB: sysfs hands
  /// out a whole attribute in one read (fs/sysfs/file.c: show() fills at most PAGE_SIZE; the
  /// `config` binary attribute is at most 4096 bytes), which saves the read that finds EOF.
  /// Not for procfs or regular files of unknown size: use ReadFile. Errors: as ReadFile.
  /// The default reads the whole file with ReadFile (fakes and simulators need nothing more).
  virtual Result<std::string> ReadAttribute(const std::string& path) const { return ReadFile(path); }

  /// Target of the symlink \a path, verbatim, e.g. "../../../bus/pci/drivers/igb".
  /// Errors: kNotFound when \a path does not exist, kInvalid when it is not a link.
  virtual Result<std::string> ReadLink(const std::string& path) const = 0;

  /// Names in directory \a path (no "." or ".."), sorted. Errors: kNotFound, kIo.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) const = 0;

  /// True when \a path exists (following links).
  virtual bool Exists(const std::string& path) const = 0;

  /// Writes \a data to the existing attribute \a path with one write(2), as `echo` does to
  /// sysfs: no O_CREAT, no truncation semantics beyond the kernel's. The kernel's errno comes
  /// back in Error::sys_errno (EBUSY -> kBusy, ENODEV/ENOENT -> kNotFound, EINVAL -> kInvalid).
  /// An empty \a data is a no-op in sysfs (fs/sysfs/file.c sysfs_kf_write returns early): to
  /// clear an attribute such as driver_override, write "\n".
  virtual Result<void> WriteAttribute(const std::string& path, std::string_view data) = 0;

  /// Replaces regular file \a path atomically: temp file in the same directory, fsync, rename;
  /// creates missing parent directories (mode 0755). Keeps the old file's mode when it existed,
  /// else uses \a mode. For files ptrec owns (state, modprobe.d, udev rules).
  virtual Result<void> WriteFileAtomic(const std::string& path, std::string_view data,
                                       unsigned mode = 0644) = 0;

  /// Removes regular file \a path. A missing file is success.
  virtual Result<void> RemoveFile(const std::string& path) = 0;

  /// Appends \a data to regular file \a path (created, mode 0644, when missing) with one
  /// write(2) and fdatasync(2): a log whose every record is on disk when this returns.
  /// Errors: kIo, kPermission; kRefused outside the root.
  virtual Result<void> AppendFile(const std::string& path, std::string_view data) = 0;
};

/// HostFs over the real filesystem, every path prefixed with root.
class RealHostFs : public HostFs {
 public:
  /// \a root: "/" or an existing directory (a trailing '/' is dropped).
  explicit RealHostFs(std::string root);

  const std::string& root() const override { return root_; }
  Result<std::string> ReadFile(const std::string& path) const override;
  Result<std::string> ReadAttribute(const std::string& path) const override;
  Result<std::string> ReadLink(const std::string& path) const override;
  Result<std::vector<std::string>> ListDir(const std::string& path) const override;
  bool Exists(const std::string& path) const override;
  Result<void> WriteAttribute(const std::string& path, std::string_view data) override;
  Result<void> WriteFileAtomic(const std::string& path, std::string_view data,
                               unsigned mode = 0644) override;
  Result<void> RemoveFile(const std::string& path) override;
  Result<void> AppendFile(const std::string& path, std::string_view data) override;

  /// The absolute path of \a path under the root, or kRefused if \a path is absolute or
  /// climbs out with "..".
  Result<std::string> Resolve(const std::string& path) const;

 private:
  std::string root_;    ///< as given, for messages
  std::string prefix_;  ///< "" for "/", else root without trailing '/'
};

/// Whether \a root is the running kernel's root: true when ROOT/sys is a mounted sysfs
/// (statfs f_type == SYSFS_MAGIC). False for snapshots and example hosts, which are plain
/// directories. Used to refuse --simulate on a live host and real writes on a snapshot.
bool IsLiveSysfs(const std::string& root);

/// Trims trailing whitespace/newlines: sysfs attributes end in "\n".
std::string_view TrimRight(std::string_view s);

/// The lines of \a text without their "\n" (a final line without one counts; no empty line
/// after a final "\n"). Views into \a text. For procfs tables, modules.dep and config files.
std::vector<std::string_view> SplitLines(std::string_view text);

/// A boolean as the kernel's kstrtobool reads it (lib/kstrtox.c, 6.1): the first character
/// decides (y Y t T 1 true; n N f F 0 false), "on"/"off" need the second; nullopt otherwise.
std::optional<bool> KernelStrToBool(std::string_view s);

}  // namespace ptrec
