// NODENET_SYNC_TRACE=1: per-phase wall and CPU time and memory of each sync on stderr (benchmarks and
// profiling; perf is not always at hand). One timer for the Proxier's phases and the planner's sub-phases.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace nodenet::proxy::sync {

class SyncTrace {
 public:
  /// `indent` sets sub-phases apart ("sync trace:   list kernel").
  explicit SyncTrace(int indent = 0)
      : on_(std::getenv("NODENET_SYNC_TRACE") != nullptr), indent_(indent), lastCpu_(cpuMs()) {}
  bool on() const { return on_; }

  /// Prints the time since the previous mark (or construction), the thread's CPU time in it (kernel time in a
  /// syscall counts), and the process's VmHWM and VmRSS.
  void mark(const char* phase) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    double cpu = cpuMs();
    long hwm = -1, rss = -1;
    if (FILE* f = std::fopen("/proc/self/status", "r")) {
      char line[256];
      while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "VmHWM:", 6) == 0) hwm = std::strtol(line + 6, nullptr, 10);
        if (std::strncmp(line, "VmRSS:", 6) == 0) rss = std::strtol(line + 6, nullptr, 10);
      }
      std::fclose(f);
    }
    std::fprintf(stderr, "sync trace: %*s%-22s %9.3f ms (cpu %9.3f ms)  VmHWM %ld KiB  VmRSS %ld KiB\n", indent_, "",
                 phase, std::chrono::duration<double, std::milli>(now - last_).count(), cpu - lastCpu_, hwm, rss);
    last_ = now;
    lastCpu_ = cpu;
  }

 private:
  static double cpuMs() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  }
  bool on_;
  int indent_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  double lastCpu_;
};

}  // namespace nodenet::proxy::sync
