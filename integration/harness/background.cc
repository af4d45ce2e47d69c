#include "integration/harness/background.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

#include "base/file.h"
#include "base/strings.h"
#include "integration/harness/process.h"

namespace nodenet::itest {

using Clock = std::chrono::steady_clock;

Result<BackgroundProcess> BackgroundProcess::start(const std::vector<std::string>& argvIn,
                                                   const BackgroundOptions& options) {
  if (argvIn.empty()) return Error("BackgroundProcess::start: empty argv");
  if (options.logPath.empty()) return Error("BackgroundProcess::start: no log path");
  std::vector<std::string> argv = argvIn;
  int nsFd = -1;
  if (options.viaIpNetnsExec) {
    if (options.netns.empty() || options.netns.find('/') != std::string::npos)
      return Error("BackgroundProcess::start: viaIpNetnsExec needs a namespace name");
    // ip(8) execs the program after setns and after bind-mounting /etc/netns/<name>/* over /etc: the PID stays.
    NN_ASSIGN_OR_RETURN(std::string ip, findExecutable("ip", "/usr/sbin:/usr/bin:/sbin:/bin"));
    argv.insert(argv.begin(), {ip, "netns", "exec", options.netns});
  } else if (!options.netns.empty()) {
    std::string path = options.netns.find('/') == std::string::npos ? "/run/netns/" + options.netns : options.netns;
    nsFd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsFd < 0) return Error::fromErrno(errno, "open " + path);
  }
  int logFd = ::open(options.logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) {
    int e = errno;
    if (nsFd >= 0) ::close(nsFd);
    return Error::fromErrno(e, "open " + options.logPath);
  }
  // Everything the child needs is built before fork: it only calls async-signal-safe functions.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(logFd);
    if (nsFd >= 0) ::close(nsFd);
    return Error::fromErrno(e, "fork");
  }
  if (pid == 0) {
    // Dies with the test process even when that is SIGKILLed (no orphaned daemons in our namespaces).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (nsFd >= 0 && ::setns(nsFd, CLONE_NEWNET) != 0) ::_exit(126);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(logFd, 1);
    ::dup2(logFd, 2);
    // Only 0-2 survive the exec: descriptors the test process holds without O_CLOEXEC (Asio's accepted sockets
    // of the fake API server) would otherwise keep those connections open after the server is gone.
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(logFd);
  if (nsFd >= 0) ::close(nsFd);
  BackgroundProcess b;
  b.pid_ = pid;
  b.logPath_ = options.logPath;
  return b;
}

BackgroundProcess::BackgroundProcess(BackgroundProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), status_(o.status_), logPath_(std::move(o.logPath_)) {}

BackgroundProcess& BackgroundProcess::operator=(BackgroundProcess&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    status_ = o.status_;
    logPath_ = std::move(o.logPath_);
  }
  return *this;
}

BackgroundProcess::~BackgroundProcess() { stop(); }

bool BackgroundProcess::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    pid_ = -1;
    return false;
  }
  return true;
}

int BackgroundProcess::stop(int sig, std::chrono::milliseconds timeout) {
  if (!running()) return status_;
  ::kill(pid_, sig);
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!running()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Did not exit in time: make sure (a process we started, by its PID).
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  status_ = st;
  pid_ = -1;
  return -1;
}

std::string BackgroundProcess::log(size_t maxBytes) const {
  auto text = readFile(logPath_);
  if (!text.ok()) return "";
  return text->size() > maxBytes ? text->substr(text->size() - maxBytes) : *text;
}

bool BackgroundProcess::waitForLog(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (log().find(text) != std::string::npos) return true;
    if (!running() || Clock::now() > deadline) return log().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::pair<long, long> BackgroundProcess::memoryKib() const {
  auto status = readFile("/proc/" + std::to_string(pid_) + "/status");
  long hwm = 0, rss = 0;
  if (!status.ok()) return {0, 0};
  for (std::string_view line : split(*status, '\n')) {
    if (line.starts_with("VmHWM:")) hwm = std::strtol(std::string(line.substr(6)).c_str(), nullptr, 10);
    if (line.starts_with("VmRSS:")) rss = std::strtol(std::string(line.substr(6)).c_str(), nullptr, 10);
  }
  return {hwm, rss};
}

}  // namespace nodenet::itest
