#include "integration/harness/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "base/strings.h"

extern char** environ;

namespace nodenet::itest {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> gInterrupted{false};

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

Status makePipe(Fd& readEnd, Fd& writeEnd) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::fromErrno(errno, "pipe2");
  readEnd.reset(p[0]);
  writeEnd.reset(p[1]);
  return okStatus();
}

void ignoreSigpipeOnce() {
  // A child that exits before reading all of stdin must not kill the harness with SIGPIPE; write() then
  // fails with EPIPE instead. The child gets the default disposition back before exec.
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    ::sigaction(SIGPIPE, nullptr, &old);
    if (old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  });
}

void onInterrupt(int sig) {
  if (gInterrupted.exchange(true)) {
    // Second signal: the user insists; die the default way.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

std::string keyOf(const std::string& kv) { return kv.substr(0, kv.find('=')); }

std::vector<std::string> buildEnv(const RunOptions& o) {
  std::vector<std::string> env;
  if (o.inheritEnv) {
    for (char** e = environ; e && *e; ++e) {
      std::string kv(*e);
      const std::string key = keyOf(kv);
      bool drop = std::any_of(o.dropEnvPrefixes.begin(), o.dropEnvPrefixes.end(),
                              [&](const std::string& p) { return startsWith(key, p); });
      drop = drop || std::any_of(o.env.begin(), o.env.end(),
                                 [&](const std::string& x) { return keyOf(x) == key; });
      if (!drop) env.push_back(std::move(kv));
    }
  }
  env.insert(env.end(), o.env.begin(), o.env.end());
  return env;
}

std::vector<char*> cArray(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Child side of run(): only async-signal-safe calls. Reports a failure as errno on statusFd, then _exit(127).
[[noreturn]] void execChild(int nsFd, int inFd, int outFd, int errFd, int statusFd, const char* path,
                            char* const* argv, char* const* envp) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
  int stage = 0;  // 0: setns, 1: dup2, 2: execve
  if (nsFd >= 0 && ::setns(nsFd, CLONE_NEWNET) != 0) goto fail;
  stage = 1;
  if (::dup2(inFd, 0) < 0 || ::dup2(outFd, 1) < 0 || ::dup2(errFd, 2) < 0) goto fail;
#ifdef SYS_close_range
  // Anything else the harness opened without O_CLOEXEC must not leak into plugins (CLOSE_RANGE_CLOEXEC = 4).
  ::syscall(SYS_close_range, 3U, ~0U, 4U);
#endif
  stage = 2;
  ::execve(path, argv, envp);
fail:
  int report[2] = {stage, errno};
  (void)!::write(statusFd, report, sizeof report);
  ::_exit(127);
}

}  // namespace

std::string RunResult::describe() const {
  std::string s = timedOut ? std::string("timed out") : strCat("exit ", exitCode);
  if (termSignal) s += strCat(" (signal ", termSignal, ")");
  std::string_view e = trim(err);
  if (!e.empty()) s += strCat(" stderr: ", e);
  std::string_view o = trim(out);
  if (!o.empty()) s += strCat(" stdout: ", o.substr(0, 2000));
  return s;
}

Result<std::string> findExecutable(const std::string& name, const std::string& searchPath) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return Error::fromErrno(errno, "executable " + name);
  }
  for (const std::string& dir : split(searchPath, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return Error(strCat("executable \"", name, "\" not found in \"", searchPath, "\""), ENOENT);
}

void installInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking poll() wakes up with EINTR
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

bool interrupted() { return gInterrupted.load(); }

Result<RunResult> run(const std::vector<std::string>& argvIn, const RunOptions& o) {
  if (argvIn.empty()) return Error("run: empty argv");
  if (o.interruptible && interrupted()) return Error("interrupted", EINTR);
  ignoreSigpipeOnce();

  const char* pathEnv = ::getenv("PATH");
  const std::string searchPath = pathEnv ? pathEnv : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

  std::vector<std::string> argv = argvIn;
  Fd nsFd;
  if (!o.netns.empty()) {
    const std::string nsPath = o.netns.front() == '/' ? o.netns : "/run/netns/" + o.netns;
    if (o.launcher == NetnsLauncher::Setns) {
      nsFd.reset(::open(nsPath.c_str(), O_RDONLY | O_CLOEXEC));
      if (!nsFd.valid()) return Error::fromErrno(errno, "open netns " + nsPath);
    } else {
      const std::string prefix = "/run/netns/";
      if (!startsWith(nsPath, prefix)) return Error("ip netns exec needs a namespace under /run/netns: " + nsPath);
      std::vector<std::string> wrapped = {"ip", "netns", "exec", nsPath.substr(prefix.size())};
      wrapped.insert(wrapped.end(), argv.begin(), argv.end());
      argv = std::move(wrapped);
    }
  }
  NN_ASSIGN_OR_RETURN(const std::string exePath, findExecutable(argv[0], searchPath));
  std::vector<std::string> env = buildEnv(o);
  std::vector<char*> cArgv = cArray(argv);
  std::vector<char*> cEnv = cArray(env);

  Fd inR, inW, outR, outW, errR, errW, stR, stW;
  NN_TRY(makePipe(inR, inW));
  NN_TRY(makePipe(outR, outW));
  NN_TRY(makePipe(errR, errW));
  NN_TRY(makePipe(stR, stW));

  RunResult res;
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno(errno, "fork " + argv[0]);
  if (pid == 0)
    execChild(nsFd.get(), inR.get(), outW.get(), errW.get(), stW.get(), exePath.c_str(), cArgv.data(), cEnv.data());

  inR.reset();
  outW.reset();
  errW.reset();
  stW.reset();
  nsFd.reset();

  // Did the child reach execve? The status pipe closes on exec (EOF) or carries {stage, errno}.
  int report[2] = {0, 0};
  ssize_t got;
  do got = ::read(stR.get(), report, sizeof report);
  while (got < 0 && errno == EINTR);
  if (got == sizeof report) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const char* what = report[0] == 0 ? "setns into netns for " : report[0] == 1 ? "dup2 for " : "execve ";
    return Error::fromErrno(report[1], strCat(what, exePath));
  }

  // pidfd (Linux 5.3) tells us the child exited even when a grandchild still holds stdout open.
  Fd pidFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ::fcntl(inW.get(), F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (o.stdinData.empty()) inW.reset();

  bool exited = false, reaped = false, killed = false, wasInterrupted = false;
  int status = 0;
  Clock::time_point exitSeen{};
  const auto deadline = start + o.timeout;
  // After the child exits, keep draining pipes this long in case a grandchild holds them.
  constexpr auto kDrainGrace = std::chrono::milliseconds(500);
  char buf[16384];

  for (;;) {
    const bool pipesOpen = outR.valid() || errR.valid();
    if (exited && !pipesOpen) break;
    const auto now = Clock::now();
    if (exited && now - exitSeen > kDrainGrace) break;
    const bool stop = o.interruptible && interrupted();
    if (!killed && (stop || now >= deadline)) {
      wasInterrupted = stop;
      res.timedOut = !wasInterrupted;
      ::kill(pid, SIGKILL);  // our own, not yet reaped child: the PID cannot have been reused
      killed = true;
      inW.reset();
    }

    pollfd fds[4];
    int n = 0, iIn = -1, iOut = -1, iErr = -1, iPid = -1;
    if (inW.valid()) fds[iIn = n++] = {inW.get(), POLLOUT, 0};
    if (outR.valid()) fds[iOut = n++] = {outR.get(), POLLIN, 0};
    if (errR.valid()) fds[iErr = n++] = {errR.get(), POLLIN, 0};
    if (!exited && pidFd.valid()) fds[iPid = n++] = {pidFd.get(), POLLIN, 0};
    // Short slices keep interrupt and timeout checks responsive; without a pidfd they also poll waitpid.
    auto slice = std::chrono::milliseconds(pidFd.valid() ? 100 : 5);
    if (!killed) slice = std::min(slice, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                                             std::chrono::milliseconds(1));
    int pr = ::poll(fds, n, static_cast<int>(slice.count()));
    if (pr < 0 && errno != EINTR) {
      if (!killed) ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (pr > 0) {
      if (iIn >= 0 && (fds[iIn].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t w = ::write(inW.get(), o.stdinData.data() + written, o.stdinData.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == o.stdinData.size()) inW.reset();
      }
      for (auto [idx, fd, sink] : {std::tuple{iOut, &outR, &res.out}, std::tuple{iErr, &errR, &res.err}}) {
        if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t r = ::read(fd->get(), buf, sizeof buf);
        if (r > 0)
          sink->append(buf, static_cast<size_t>(r));
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
          fd->reset();
      }
      if (iPid >= 0 && (fds[iPid].revents & POLLIN)) {
        exited = true;
        exitSeen = Clock::now();
      }
    }
    if (!pidFd.valid() && !exited) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = reaped = true;
        exitSeen = Clock::now();
      }
    }
  }
  if (!reaped) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  res.elapsed = Clock::now() - start;
  if (WIFEXITED(status)) {
    res.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    res.termSignal = WTERMSIG(status);
    res.exitCode = 128 + res.termSignal;
  }
  if (wasInterrupted) return Error(strCat("interrupted while running ", exePath), EINTR);
  return res;
}

}  // namespace nodenet::itest
