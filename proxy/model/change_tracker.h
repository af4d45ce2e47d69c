// ChangeTracker: records what changed since the last sync, in the spirit of kube-proxy's ServiceChangeTracker
// and EndpointsChangeTracker (pkg/proxy/servicechangetracker.go, endpointschangetracker.go).
//
// Watch handlers only record: per Service and per EndpointSlice the version before the first change since the
// last checkout (`previous`) and the newest one (`current`); for the Node whether anything the rules read changed.
// A change that returns to where it started (added then deleted, modified and modified back) vanishes. The sync
// calls checkout() and receives the touched Service keys, which drive partial syncs and UDP conntrack cleanup.
//
// Thread safety: record() runs on the cache's writer thread, checkout() on the sync thread; one mutex guards all.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "kube/cache/cache.h"

namespace nodenet::proxy::model {

/// What a sync must look at.
struct Changes {
  /// The cache state the changes are part of: every recorded change is in it (it may hold newer ones too, which
  /// the next checkout reports again).
  kube::CacheSnapshotPtr snapshot;
  /// Touched Services by key ("ns/name"), each with the keys of the EndpointSlices that belong to it in
  /// `snapshot` (label kubernetes.io/service-name), sorted. A deleted Service is touched too (absent from snapshot).
  std::map<std::string, std::vector<std::string>> services;
  /// This node's topology or addresses changed (the rules depend on both everywhere: resync everything).
  bool nodeChanged = false;
  /// last-change-trigger-time of the recorded EndpointSlice changes (current versions), oldest first.
  std::vector<std::chrono::system_clock::time_point> triggerTimes;

  /// The oldest trigger time, if any.
  std::optional<std::chrono::system_clock::time_point> earliestTrigger() const {
    if (triggerTimes.empty()) return std::nullopt;
    return triggerTimes.front();
  }
  bool empty() const { return services.empty() && !nodeChanged; }
};

class ChangeTracker {
 public:
  /// `nodeName`: the only Node whose events matter (--hostname-override).
  explicit ChangeTracker(std::string nodeName);

  /// Records one cache event (as filtered by kube::proxyFilter()). Returns true when a sync is now needed
  /// (false for events that change nothing the proxy reads, e.g. another Node).
  bool record(const kube::Event& event);

  /// Forgets pending changes and rebuilds the Service -> EndpointSlice index from the cache. Call once after
  /// subscribing and before the first (full) sync, so objects that were in the cache before the subscription
  /// are indexed.
  void reset(const kube::Cache& cache, const kube::ObjectFilter& filter);

  /// Returns and clears the pending changes, with a snapshot of `cache` taken under the same lock (so every
  /// change reported is visible in the snapshot).
  Changes checkout(const kube::Cache& cache);

  /// Whether changes are pending.
  bool pending() const;

  /// The keys of the EndpointSlices of Service `serviceKey` (sorted), as currently indexed.
  std::vector<std::string> slicesOf(const std::string& serviceKey) const;

 private:
  struct Change {
    kube::ObjectPtr previous;
    kube::ObjectPtr current;
  };
  void indexSlice(const std::string& sliceKey, const kube::ObjectPtr& previous, const kube::ObjectPtr& current);
  void recordSlice(const kube::Event& e);
  void recordService(const kube::Event& e);
  bool recordNode(const kube::Event& e);

  const std::string nodeName_;
  mutable std::mutex mu_;
  std::map<std::string, Change> services_;  // by Service key
  std::map<std::string, Change> slices_;    // by EndpointSlice key
  bool nodeChanged_ = false;
  std::unordered_map<std::string, std::set<std::string>> sliceIndex_;  // Service key -> slice keys
};

/// The Service key ("ns/name") an EndpointSlice belongs to, or "" when it has no kubernetes.io/service-name label.
std::string serviceKeyOf(const kube::EndpointSlice& slice);

/// Parses an RFC 3339 time ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456+02:00"), as the
/// endpoints.kubernetes.io/last-change-trigger-time annotation carries. nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parseRfc3339(std::string_view text);

/// Whether two versions of this node differ in what the rules read: the zone label and the addresses.
bool nodeRelevantChange(const kube::Node* a, const kube::Node* b);

}  // namespace nodenet::proxy::model
