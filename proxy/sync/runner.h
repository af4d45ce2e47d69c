// The bounded-frequency runner (kube-proxy's async.BoundedFrequencyRunner, habit 4): runs a sync function on its
// own thread when asked, but never more often than minInterval, at least every maxInterval, and after a failure
// again after a retry interval that doubles per consecutive failure (retryInitial .. retryMax).
//
// RunSchedule is the pure decision (which time the next run is due); BoundedRunner adds the thread and the Clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "proxy/sync/clock.h"

namespace nodenet::proxy::sync {

/// What a run reports back.
enum class RunOutcome : uint8_t {
  Ok,        // done
  Failed,    // retry after the backoff interval
  NotReady,  // nothing could be done yet (e.g. caches not synced): poll again after notReadyPoll
};

struct RunnerIntervals {
  Clock::Duration minInterval = std::chrono::seconds(1);
  Clock::Duration maxInterval = std::chrono::seconds(30);
  Clock::Duration retryInitial = std::chrono::seconds(1);
  Clock::Duration retryMax = std::chrono::seconds(30);
  /// How soon a NotReady run is repeated.
  Clock::Duration notReadyPoll = std::chrono::milliseconds(100);
};

class RunSchedule {
 public:
  explicit RunSchedule(RunnerIntervals iv) : iv_(iv) {}

  /// A change arrived: run as soon as minInterval allows.
  void request() { requested_ = true; }
  bool requested() const { return requested_; }

  /// When the next run is due. Before the first run: at once.
  Clock::TimePoint due() const {
    if (notReady_) return *notReady_ + iv_.notReadyPoll;  // nothing can be done before that
    if (!lastRun_) return Clock::TimePoint::min();
    const Clock::TimePoint last = *lastRun_;
    Clock::TimePoint t = last + iv_.maxInterval;
    if (failures_ > 0) t = std::min(t, last + std::max(iv_.minInterval, backoff()));
    if (requested_) t = std::min(t, last + iv_.minInterval);
    return t;
  }

  /// The retry interval after the current number of consecutive failures.
  Clock::Duration backoff() const {
    if (failures_ == 0) return Clock::Duration::zero();
    Clock::Duration d = iv_.retryInitial;
    for (int i = 1; i < failures_ && d < iv_.retryMax; ++i) d *= 2;
    return std::min(d, iv_.retryMax);
  }
  int failures() const { return failures_; }

  /// A run starts: it serves the pending request (a request arriving during the run asks for another one).
  /// Returns whether a request was pending.
  bool takeRequest() { return std::exchange(requested_, false); }

  /// A run that started at `start` ended with `outcome`. A NotReady run does not count as a run (it does not
  /// delay the real first sync by minInterval); the caller puts its request back.
  void ran(Clock::TimePoint start, RunOutcome outcome) {
    if (outcome == RunOutcome::NotReady) {
      notReady_ = start;
      return;
    }
    notReady_.reset();
    lastRun_ = start;
    failures_ = outcome == RunOutcome::Failed ? failures_ + 1 : 0;
  }
  std::optional<Clock::TimePoint> lastRun() const { return lastRun_; }

 private:
  RunnerIntervals iv_;
  std::optional<Clock::TimePoint> lastRun_;
  std::optional<Clock::TimePoint> notReady_;
  bool requested_ = false;
  int failures_ = 0;
};

class BoundedRunner {
 public:
  using Fn = std::function<RunOutcome()>;
  BoundedRunner(Clock& clock, RunnerIntervals iv, Fn fn) : clock_(clock), schedule_(iv), fn_(std::move(fn)) {}
  ~BoundedRunner() { stop(); }

  /// Starts the thread; the first run happens at once.
  void start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { loop(); });
  }
  /// Stops the thread after the run in progress (if any). Idempotent.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }
  /// Asks for a run (as soon as minInterval allows). Cheap; any thread.
  void run() {
    {
      std::lock_guard lock(mu_);
      schedule_.request();
    }
    cv_.notify_all();
  }
  /// Runs completed (Ok or Failed), for tests.
  uint64_t runs() const {
    std::lock_guard lock(mu_);
    return runs_;
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      Clock::TimePoint due = schedule_.due();
      if (clock_.now() < due) {
        clock_.waitUntil(lock, cv_, due);
        continue;
      }
      Clock::TimePoint start = clock_.now();
      bool requested = schedule_.takeRequest();
      lock.unlock();
      RunOutcome outcome = fn_();
      lock.lock();
      schedule_.ran(start, outcome);
      if (outcome == RunOutcome::NotReady && requested) schedule_.request();
      if (outcome != RunOutcome::NotReady) ++runs_;
    }
  }

  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  RunSchedule schedule_;
  Fn fn_;
  bool stopping_ = false;
  uint64_t runs_ = 0;
  std::thread thread_;
};

}  // namespace nodenet::proxy::sync
