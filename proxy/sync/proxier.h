// Proxier: what nodenet-proxy runs. It subscribes to the kube::Cache, records changes (proxy/model), and a
// bounded-frequency runner thread turns them into nftables transactions (one netlink batch per family per sync):
//
//   kube::Cache --events--> model::ChangeTracker --checkout--> TableSync (per family) --> nft::Kernel::commit
//                                                         \--> ConntrackCleaner (stale UDP flows)
//
// The first sync is a full one (it replaces whatever an earlier run left in our tables, atomically); later syncs
// touch only the Services that changed; every syncPeriod and after any failure a full sync repairs drift.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "kube/cache/cache.h"
#include "netlink/nft/kernel.h"
#include "proxy/rules/ruleset.h"
#include "proxy/sync/clock.h"
#include "proxy/sync/conntrack_cleaner.h"

namespace nodenet::proxy::sync {

struct ProxierConfig {
  /// The families to program: `ip nodenet` when ipv4 is set, `ip6 nodenet` when ipv6 is set (each config's
  /// `family` must match). At least one.
  std::optional<rules::Config> ipv4, ipv6;
  /// This node's name (--hostname-override): decides which endpoints are local and which Node to watch.
  std::string nodeName;
  /// Two syncs start at least this far apart (kube-proxy's minSyncPeriod, default 1 s).
  std::chrono::milliseconds minSyncPeriod{1000};
  /// A full resync at least this often (kube-proxy's syncPeriod, default 30 s).
  std::chrono::milliseconds syncPeriod{30000};
  /// After a failed sync: retry after retryInitial, doubling per consecutive failure up to retryMax.
  std::chrono::milliseconds retryInitial{1000}, retryMax{30000};
};

/// What one sync did (for metrics and logs).
struct SyncReport {
  /// A full sync (table replaced) rather than an incremental one.
  bool full = false;
  bool ok = false;
  /// From checking out the changes to the kernel's ack.
  std::chrono::nanoseconds duration{0};
  /// Services whose rules were (re)written.
  size_t servicesChanged = 0;
  /// The error of a failed sync ("ip nodenet: add element ...: File exists (errno 17)").
  std::string error;
  /// For each EndpointSlice change with a last-change-trigger-time annotation that this sync programmed: the
  /// time from that trigger to the commit (kube-proxy's network_programming_duration_seconds).
  std::vector<std::chrono::nanoseconds> networkProgrammingLatencies;
};

class SyncObserver {
 public:
  virtual ~SyncObserver() = default;
  /// A change arrived and a sync is queued (kube-proxy's sync_proxy_rules_last_queued_timestamp). Called on the
  /// cache's writer thread: must be quick.
  virtual void onSyncQueued() {}
  /// A sync ended (successfully or not). Called on the runner thread.
  virtual void onSync(const SyncReport& report) = 0;
};

class Proxier {
 public:
  /// `conntrack` and `observer` may be null (no UDP cleanup; no reports). Everything passed by reference or
  /// pointer must outlive the Proxier. Nothing happens until start().
  Proxier(kube::Cache& cache, nft::Kernel& kernel, ConntrackCleaner* conntrack, ProxierConfig config, Clock& clock,
          SyncObserver* observer);
  ~Proxier();
  Proxier(const Proxier&) = delete;
  Proxier& operator=(const Proxier&) = delete;

  /// Validates the config, subscribes to the cache (kube::proxyFilter()) and starts the runner thread. The first
  /// sync (full) runs once the cache reports allSynced(). Error: an invalid config (no family, a family mismatch)
  /// or start() while running. start() after stop() resumes with a full sync (changes made meanwhile were not
  /// tracked).
  Status start();
  /// Stops the runner thread and unsubscribes; waits for a sync in progress. LEAVES the rules in place, so
  /// established and new connections keep working while the proxy is down. Idempotent.
  void stop();

  /// Per-service local endpoint counts for externalTrafficPolicy=Local Services with a healthCheckNodePort (the
  /// health server answers 200 when the count is > 0). As of the last successful sync.
  std::map<std::string /*ns/name*/, std::pair<uint16_t /*hcnp*/, size_t /*local endpoints*/>> healthCheckServices()
      const;

  /// Runs one sync now on the caller's thread, as the runner would (full when needed). For tests and tools
  /// that drive the Proxier without start()'s thread; must not be used while the runner thread runs.
  SyncReport syncNowForTest(bool forceFull = false);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// --cleanup: deletes the tables `ip nodenet` and `ip6 nodenet` when present (one transaction each) and
/// nothing else. Error: a table that exists but could not be deleted.
Status cleanupTables(nft::Kernel& kernel);

}  // namespace nodenet::proxy::sync
