#include "proxy/daemon/config_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/file.h"

namespace nodenet::proxy::daemon {

Result<std::unique_ptr<ConfigWatch>> ConfigWatch::create(const std::string& path, std::string loaded) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Error::fromErrno(errno, "inotify_init1 for --config " + path);
  // Any change of a directory entry: in-place writes (CLOSE_WRITE), editors' and ConfigMaps' renames
  // (MOVED_TO, CREATE of the new ..data symlink), removal.
  if (inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE) < 0) {
    int err = errno;
    ::close(fd);
    return Error::fromErrno(err, "watch directory " + dir + " of --config " + path);
  }
  return std::unique_ptr<ConfigWatch>(new ConfigWatch(fd, path, std::move(loaded)));
}

ConfigWatch::~ConfigWatch() { ::close(fd_); }

bool ConfigWatch::changed() {
  alignas(inotify_event) char buf[4096];
  bool any = false;
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n <= 0) break;  // EAGAIN: drained
    any = true;
  }
  if (!any) return false;
  auto text = readFile(path_);
  return !text.ok() || *text != loaded_;
}

}  // namespace nodenet::proxy::daemon
