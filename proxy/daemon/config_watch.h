// ConfigWatch: notices that the --config file's content changed, so the daemon can exit and be restarted
// with it, as kube-proxy does ("content of the proxy server's configuration file was updated"). Watching
// the directory (not the file) also sees a ConfigMap volume's atomic `..data` symlink swap, which replaces
// the file without writing to it.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"

namespace nodenet::proxy::daemon {

class ConfigWatch {
 public:
  /// Watches `path`, whose current content is `loaded` (what the options were parsed from). Errors: the
  /// directory cannot be watched (inotify limits, EACCES), naming it.
  static Result<std::unique_ptr<ConfigWatch>> create(const std::string& path, std::string loaded);
  ~ConfigWatch();
  ConfigWatch(const ConfigWatch&) = delete;
  ConfigWatch& operator=(const ConfigWatch&) = delete;

  /// Non-blocking: drains pending events and returns true when the file's content now differs from
  /// `loaded` (a missing or unreadable file counts as changed). Rewrites with the same bytes return false.
  bool changed();

 private:
  ConfigWatch(int fd, std::string path, std::string loaded)
      : fd_(fd), path_(std::move(path)), loaded_(std::move(loaded)) {}
  int fd_;
  std::string path_;
  std::string loaded_;
};

}  // namespace nodenet::proxy::daemon
