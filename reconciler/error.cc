#include "reconciler/error.h"

#include <cerrno>

namespace ptrec {

Code CodeFromErrno(int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return Code::kNotFound;
    case EINVAL:
    case ERANGE:
      return Code::kInvalid;
    case EBUSY:
      return Code::kBusy;
    case EACCES:
    case EPERM:
    case EROFS:
      return Code::kPermission;
    case EOPNOTSUPP:
      return Code::kUnsupported;
    case ETIMEDOUT:
      return Code::kTimeout;
    default:
      return Code::kIo;
  }
}

const char* CodeName(Code code) {
  switch (code) {
    case Code::kNotFound: return "not_found";
    case Code::kInvalid: return "invalid";
    case Code::kIo: return "io";
    case Code::kBusy: return "busy";
    case Code::kPermission: return "permission";
    case Code::kRefused: return "refused";
    case Code::kUnsupported: return "unsupported";
    case Code::kStale: return "stale";
    case Code::kTimeout: return "timeout";
    case Code::kVerifyFailed: return "verify_failed";
  }
  return "io";
}

}  // namespace ptrec
