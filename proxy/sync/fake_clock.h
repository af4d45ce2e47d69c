// FakeClock: a Clock whose time moves only when a test calls advance(). Header-only, for tests.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "proxy/sync/clock.h"

namespace nodenet::proxy::sync {

class FakeClock final : public Clock {
 public:
  /// Starts at an arbitrary fixed point (not the epoch, so "time since 0" is never mistaken for a real time).
  FakeClock() : now_(TimePoint(std::chrono::hours(1000)).time_since_epoch().count()) {}

  TimePoint now() override { return TimePoint(Duration(now_.load())); }
  /// Moves time forward; waiters notice within a millisecond of real time.
  void advance(Duration d) { now_ += d.count(); }

  /// Waits for a notification or ~1 ms of real time, whichever comes first, so a waiter sees advance() soon
  /// without the clock having to know the waiter's condition variable.
  void waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, TimePoint deadline) override {
    if (now() >= deadline) return;
    cv.wait_for(lock, std::chrono::milliseconds(1));
  }

 private:
  std::atomic<Duration::rep> now_;
};

}  // namespace nodenet::proxy::sync
