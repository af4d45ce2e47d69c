// A long-running process a test starts (a daemon under test, a reference server, an echo backend) inside a
// network namespace, with stdout and stderr appended to a log file. Shared by integration/proxy, integration/dns
// and the benchmarks that drive daemons.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace nodenet::itest {

struct BackgroundOptions {
  /// The namespace to run in: a name under /run/netns or a path; empty = the test process's own.
  std::string netns;
  /// stdout and stderr are appended here (required).
  std::string logPath;
  /// Exec through `ip netns exec NAME argv...` instead of setns (same PID after ip's exec), which also
  /// bind-mounts /etc/netns/NAME/* (e.g. resolv.conf) over /etc for the program. Needs `netns`.
  bool viaIpNetnsExec = false;
};

/// Move-only handle of one child process. It dies with the test process (PR_SET_PDEATHSIG), inherits only fds
/// 0-2, and is stopped by its PID only: the destructor sends SIGTERM and SIGKILLs after 3 s.
class BackgroundProcess {
 public:
  /// Forks, enters the namespace, redirects output and execs argv (argv[0] a path, or a name found on PATH
  /// when viaIpNetnsExec). Errors: empty argv, an unopenable namespace or log file, fork failure. An exec
  /// failure shows as exit status 127 (126: setns failed).
  static Result<BackgroundProcess> start(const std::vector<std::string>& argv, const BackgroundOptions& options);

  BackgroundProcess() = default;
  BackgroundProcess(BackgroundProcess&& o) noexcept;
  BackgroundProcess& operator=(BackgroundProcess&& o) noexcept;
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess();

  /// The PID, or -1 once it has been reaped (or never started).
  pid_t pid() const { return pid_; }
  /// True while the child has not exited (reaps it when it has).
  bool running();
  /// Sends `sig` and waits up to `timeout` for the exit, then SIGKILLs. Returns the wait status (WIFEXITED...),
  /// or -1 when it had to be killed after the timeout.
  int stop(int sig = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds(3));
  /// The wait status after the exit (valid once running() is false), -1 before.
  int exitStatus() const { return status_; }
  /// The last `maxBytes` of the log.
  std::string log(size_t maxBytes = static_cast<size_t>(-1)) const;
  /// Waits until the log contains `text`; false on timeout or when the process exited without writing it.
  bool waitForLog(const std::string& text, std::chrono::milliseconds timeout);
  /// VmHWM and VmRSS of the process in KiB (0 when unreadable).
  std::pair<long, long> memoryKib() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string logPath_;
};

}  // namespace nodenet::itest
