#include "base/result.h"

#include <cstring>

namespace nodenet {

Error Error::fromErrno(int err, const std::string& what) {
  if (err < 0) err = -err;
  char buf[128];
  // GNU strerror_r returns the message pointer (which may or may not be buf).
  const char* msg = strerror_r(err, buf, sizeof buf);
  return Error(what + ": " + msg + " (errno " + std::to_string(err) + ")", err);
}

}  // namespace nodenet
