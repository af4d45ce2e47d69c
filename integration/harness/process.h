// Runs a program without a shell (fork + execve), optionally inside a network namespace, feeding stdin and
// collecting stdout/stderr, with a timeout that kills only the child this call started (by PID).
//
// Safe to call from several threads at once: everything the child needs is prepared before fork(), and the
// child only calls async-signal-safe functions (setns, dup2, sigprocmask, execve) before exec.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace nodenet::itest {

/// How a child is placed inside a network namespace.
enum class NetnsLauncher {
  /// setns(CLONE_NEWNET) in the child after fork, before execve. One exec; /sys stays the caller's.
  Setns,
  /// `ip netns exec NAME argv...`: an extra exec of ip(8), which also remounts /sys for the namespace.
  IpNetnsExec,
};

struct RunOptions {
  /// Extra "KEY=VALUE" entries; they replace inherited entries with the same key.
  std::vector<std::string> env;
  /// Start from the caller's environment (minus keys in dropEnvPrefixes); false starts empty.
  bool inheritEnv = true;
  /// Inherited keys starting with any of these are dropped (libcni drops the caller's CNI_* variables).
  std::vector<std::string> dropEnvPrefixes;
  std::string stdinData;
  /// Network namespace name (as in /run/netns/NAME) or absolute path; empty runs in the caller's namespace.
  std::string netns;
  NetnsLauncher launcher = NetnsLauncher::Setns;
  /// After this the child gets SIGKILL; the result has timedOut set.
  std::chrono::milliseconds timeout{30000};
  /// When false, an interrupt (installInterruptHandlers) neither refuses nor kills this run: cleanup commands
  /// (`ip netns del`) must still work while the program unwinds after Ctrl-C.
  bool interruptible = true;
};

struct RunResult {
  /// The exit status, or 128 + signal number when the child was killed by a signal.
  int exitCode = -1;
  /// The signal that ended the child, 0 when it exited.
  int termSignal = 0;
  bool timedOut = false;
  std::string out;
  std::string err;
  /// From just before fork() to the reaped exit.
  std::chrono::nanoseconds elapsed{0};

  bool ok() const { return exitCode == 0 && !timedOut; }
  double elapsedMs() const { return std::chrono::duration<double, std::milli>(elapsed).count(); }
  /// "exit 1 (stderr: ...)" for assertion messages.
  std::string describe() const;
};

/// Runs argv[0] (a path, or a name looked up in PATH) with the options. Errors mean the harness could not run
/// the program at all (not found, no such netns, fork failed, interrupted); a program that ran and failed is
/// a RunResult with a non-zero exitCode.
Result<RunResult> run(const std::vector<std::string>& argv, const RunOptions& options = {});

/// Resolves a program name through a colon-separated search path; a name with a '/' is returned as is when it
/// exists and is executable.
Result<std::string> findExecutable(const std::string& name, const std::string& searchPath);

/// Installs SIGINT/SIGTERM/SIGHUP handlers that only set a flag: run() then kills its child and returns an
/// "interrupted" error, so callers unwind and their destructors delete what they created. A second signal
/// gets the default action (the user insists).
void installInterruptHandlers();
/// True once one of those signals arrived.
bool interrupted();

}  // namespace nodenet::itest
