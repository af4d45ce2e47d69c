// Clock: the time source of the sync runner (STYLE.md habit 6: every side effect behind a narrow interface).
// SteadyClock is the real one; tests use FakeClock (proxy/sync/fake_clock.h) and move time by hand.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace nodenet::proxy::sync {

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  /// The current time (monotonic).
  virtual TimePoint now() = 0;
  /// Blocks on `cv` (with `lock` held on entry and on return) until it is notified or `deadline` passes on this
  /// clock. May return early (spuriously): callers re-check their condition and the time in a loop.
  virtual void waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, TimePoint deadline) = 0;
};

/// The real monotonic clock.
class SteadyClock final : public Clock {
 public:
  TimePoint now() override { return std::chrono::steady_clock::now(); }
  void waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, TimePoint deadline) override {
    cv.wait_until(lock, deadline);
  }
};

}  // namespace nodenet::proxy::sync
