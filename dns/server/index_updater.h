// Keeps the served records::Index current: the IndexHolder publishes immutable indexes to the query threads
// (readers never block), and the IndexUpdater rebuilds one from the kube::Cache after every change.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "base/result.h"
#include "dns/records/records.h"
#include "kube/cache/cache.h"

namespace nodenet::dns::server {

/// The index being served. One writer publishes; any number of query threads read.
///
/// Readers keep their own IndexPtr and compare generation() once per batch of queries, reloading only when it
/// moved, so the shared_ptr's reference count is not touched per query (no cache-line ping-pong between
/// threads). The old index is freed by the last reader that drops it.
class IndexHolder {
 public:
  /// Makes `index` the one served (non-null).
  void publish(records::IndexPtr index) {
    current_.store(std::move(index), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  /// The index being served, or null before the first publish().
  records::IndexPtr load() const { return current_.load(std::memory_order_acquire); }
  /// Increases with every publish(); 0 before the first.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::shared_ptr<const records::Index>> current_;
  std::atomic<uint64_t> generation_{0};
};

struct UpdaterOptions {
  /// After a change, wait this long for more changes before rebuilding, so a burst (a Deployment rollout
  /// updating many slices) costs one rebuild. The change-to-served latency is this plus the build time
  /// (2.4 ms for 2,000 Services), well inside the 100 ms the issue asks for.
  std::chrono::milliseconds debounce{5};
};

/// Counters for logs and tests.
struct UpdaterStats {
  uint64_t builds = 0;
  uint64_t failures = 0;
  /// Duration of the last buildIndex() call.
  std::chrono::microseconds lastBuild{0};
  /// From the first change of the last batch to the new index being published, last and worst so far.
  std::chrono::microseconds lastChangeToServe{0};
  std::chrono::microseconds maxChangeToServe{0};
  size_t services = 0;
  size_t endpoints = 0;
  size_t skipped = 0;
};

/// Rebuilds the index from `cache` after each change and publishes it to an IndexHolder.
class IndexUpdater {
 public:
  /// Builds and publishes the first index from the cache's current contents (on the calling thread), then
  /// subscribes to the cache (kube::dnsFilter()) and rebuilds on a thread of its own. Errors: the records
  /// configuration is unusable (e.g. the zone is not a domain name).
  static Result<std::unique_ptr<IndexUpdater>> start(kube::Cache& cache, records::Config config,
                                                     IndexHolder& holder, UpdaterOptions options = {});
  ~IndexUpdater();
  IndexUpdater(const IndexUpdater&) = delete;
  IndexUpdater& operator=(const IndexUpdater&) = delete;

  /// Unsubscribes and joins the thread. Idempotent. The holder keeps the last index.
  void stop();
  /// Rebuilds now from the current cache contents (a resync), on the calling thread.
  Status rebuild();
  UpdaterStats stats() const;

 private:
  IndexUpdater(kube::Cache& cache, records::Config config, IndexHolder& holder, UpdaterOptions options);
  void run();
  using Clock = std::chrono::steady_clock;
  Status buildAndPublish(Clock::time_point firstChange);

  kube::Cache& cache_;
  const records::Config config_;
  IndexHolder& holder_;
  const UpdaterOptions options_;
  kube::Cache::SubscriptionId subscription_ = 0;
  bool subscribed_ = false;
  std::thread thread_;

  std::mutex buildMu_;  // serializes buildAndPublish (the thread and rebuild())
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = false;
  bool stopping_ = false;
  Clock::time_point firstChange_;
  UpdaterStats stats_;
};

}  // namespace nodenet::dns::server
