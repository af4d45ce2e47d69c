// ProxierHealthServer: kube-proxy's /healthz and /livez (pkg/proxy/healthcheck/proxier_health.go) on
// --healthz-bind-address (default 0.0.0.0:10256).
//
// Semantics: the proxy is healthy unless an update was queued (queuedUpdate) and no sync completed
// (updated) within healthTimeout of the OLDEST pending queue time; kube-proxy uses 2 x syncPeriod. /healthz
// additionally answers 503 while the Node is not eligible (being deleted, or tainted
// ToBeDeletedByClusterAutoscaler) so load balancers drain the node; /livez ignores the Node.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "proxy/metrics/http_server.h"
#include "proxy/metrics/proxy_metrics.h"

namespace nodenet::proxy::health {

using metrics::HttpRequest;
using metrics::HttpResponse;
using metrics::HttpServer;

/// Wall-clock source (injectable in tests). The JSON bodies show wall times, as kube-proxy's do.
using WallClock = std::function<std::chrono::system_clock::time_point()>;

/// The Cluster Autoscaler's taint on nodes it is about to delete.
inline constexpr const char* kToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler";

/// kube-proxy's SyncNode rule: eligible unless being deleted or carrying the ToBeDeleted taint.
bool nodeEligibleFor(bool hasDeletionTimestamp, const std::vector<std::string>& taintKeys);

/// Formats a time as Go's time.Time.String() in UTC ("2026-11-24 13:23:51.022504 +0000 UTC"; the zero
/// time_point-like value, used before any sync, as "0001-01-01 00:00:00 +0000 UTC"), which is what
/// kube-proxy's JSON bodies carry.
std::string goTimeString(std::optional<std::chrono::system_clock::time_point> t);

class ProxierHealthServer {
 public:
  struct Options {
    /// kube-proxy: 2 x syncPeriod (the full-resync period).
    std::chrono::nanoseconds healthTimeout = std::chrono::seconds(60);
    WallClock clock = [] { return std::chrono::system_clock::now(); };
    /// Counts answers in kubeproxy_proxy_{healthz,livez}_total{code} when set (must outlive this).
    metrics::ProxyMetrics* metrics = nullptr;
  };

  explicit ProxierHealthServer(Options options);
  /// Closes the listener if start() opened one.
  ~ProxierHealthServer();
  ProxierHealthServer(const ProxierHealthServer&) = delete;
  ProxierHealthServer& operator=(const ProxierHealthServer&) = delete;

  /// Serves /healthz and /livez on address:port through `server` (which must outlive this object).
  /// Errors: already started, or the bind failure naming the address and errno (kube-proxy treats it as
  /// fatal; the daemon decides).
  Status start(HttpServer& server, const IpAddress& address, uint16_t port);
  /// The bound port after start() (useful with port 0), else 0.
  uint16_t port() const { return port_; }

  /// The proxy received a change that needs a sync. Only the oldest pending time counts (compare-and-swap
  /// from "none"), so a steady stream of changes cannot keep pushing the deadline out.
  void queuedUpdate();
  /// A sync completed successfully: nothing is pending any more.
  void updated();
  /// Whether the Node may receive traffic (see nodeEligibleFor). True until told otherwise, as kube-proxy.
  void setNodeEligible(bool eligible);

  /// Proxier health alone (what /livez reports and what service health checks combine with endpoints).
  bool isHealthy() const;

  /// The /healthz and /livez answers at the clock's current time (pure apart from the clock; tested
  /// directly and served by the listener).
  HttpResponse healthz() const;
  HttpResponse livez() const;
  /// Routes a request: /healthz, /livez, else 404.
  HttpResponse handle(const HttpRequest& req) const;

 private:
  struct State {
    bool healthy;
    std::optional<std::chrono::system_clock::time_point> lastUpdated;
    std::chrono::system_clock::time_point now;
  };
  State state() const;

  Options options_;
  // Nanoseconds since the epoch; 0 means "none" (nothing pending / never updated).
  std::atomic<int64_t> oldestPendingQueuedNs_{0};
  std::atomic<int64_t> lastUpdatedNs_{0};
  std::atomic<bool> nodeEligible_{true};
  HttpServer* server_ = nullptr;
  HttpServer::ListenerId listener_ = 0;
  uint16_t port_ = 0;
};

}  // namespace nodenet::proxy::health
