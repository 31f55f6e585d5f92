// Error values shared by every layer of ptrec.
//
// Expected failures (a missing sysfs attribute, a refused bind, bad YAML) are values, never
// exceptions: functions return Result<T> (std::expected<T, Error>). Exceptions are reserved for
// bugs and for foreign libraries that throw; those are caught at the library boundary.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace ptrec {

/// What kind of failure an Error is. Callers branch on this, never on message text.
enum class Code {
  kNotFound,     ///< a file, device, driver or domain does not exist (ENOENT, ENODEV)
  kInvalid,      ///< bad input: malformed YAML, a bad BDF, a value out of range (EINVAL, ERANGE)
  kIo,           ///< an I/O error from the host (EIO and anything not listed here)
  kBusy,         ///< the kernel answered EBUSY (e.g. sriov_numvfs N -> M with both non-zero)
  kPermission,   ///< EACCES / EPERM
  kRefused,      ///< ptrec itself refuses: an unsafe change without `force`, a sandbox violation
  kUnsupported,  ///< the host cannot do this (no IOMMU, a driver without sriov_configure)
  kStale,        ///< a saved plan no longer matches the host it was made for
  kTimeout,      ///< a command or a kernel reaction took longer than allowed
  kVerifyFailed, ///< a write succeeded but reading back showed another state
};

/// A failure with enough context to act on. \a message says what failed and where, in the
/// style of libvirt: "unbind 0000:01:00.0 from nouveau: write .../driver/unbind: Device or
/// resource busy". \a path is the host path involved, relative to the host root, or "".
/// \a sys_errno is the errno the kernel returned, or 0 when not a system error.
struct Error {
  Code code = Code::kIo;
  std::string message;
  std::string path;
  int sys_errno = 0;
};

/// Result of an operation that can fail in an expected way.
template <class T>
using Result = std::expected<T, Error>;

/// Shorthand for returning an error: `return Fail(Code::kInvalid, "...")`.
inline std::unexpected<Error> Fail(Code code, std::string message, std::string path = {},
                                   int sys_errno = 0) {
  return std::unexpected(Error{code, std::move(message), std::move(path), sys_errno});
}

/// Maps an errno value to a Code (ENOENT/ENODEV -> kNotFound, EBUSY -> kBusy, ...).
Code CodeFromErrno(int err);

/// Stable lower-case name of \a code for JSON output and logs, e.g. "not_found".
const char* CodeName(Code code);

}  // namespace ptrec
