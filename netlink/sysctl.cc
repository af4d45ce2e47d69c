#include "netlink/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/strings.h"

namespace nodenet::netlink {
namespace {

Result<std::string> sysctlPath(std::string_view key) {
  bool ok = !key.empty() && key.front() != '/' && key.back() != '/' && key.find('\0') == std::string_view::npos;
  for (const auto& part : split(key, '/'))
    if (part.empty() || part == "." || part == "..") ok = false;
  if (!ok) return Error(strCat("invalid sysctl key \"", key, "\" (want e.g. net/ipv4/ip_forward)"), EINVAL);
  return strCat("/proc/sys/", key);
}

}  // namespace

Result<std::string> readSysctl(const Netns& ns, std::string_view key) {
  NN_ASSIGN_OR_RETURN(std::string path, sysctlPath(key));
  return runInNetnsFor<std::string>(ns, [&]() -> Result<std::string> {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error::fromErrno(errno, strCat("read sysctl ", key, " in ", ns.describe()));
    std::string out;
    char buf[256];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return Error::fromErrno(err, strCat("read sysctl ", key, " in ", ns.describe()));
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return std::string(trim(out));
  });
}

Status writeSysctl(const Netns& ns, std::string_view key, std::string_view value) {
  NN_ASSIGN_OR_RETURN(std::string path, sysctlPath(key));
  return runInNetns(ns, [&]() -> Status {
    const std::string what = strCat("write sysctl ", key, "=", value, " in ", ns.describe());
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Error::fromErrno(errno, what);
    std::string data(value);
    data += '\n';
    // proc_sys handlers parse the whole value from one write.
    ssize_t n;
    do {
      n = ::write(fd, data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    int err = errno;
    ::close(fd);
    if (n < 0) return Error::fromErrno(err, what);
    if (static_cast<size_t>(n) != data.size()) return Error(strCat(what, ": short write"), EIO);
    return okStatus();
  });
}

}  // namespace nodenet::netlink
