// ProxyMetrics: kube-proxy's metrics (pkg/proxy/metrics/metrics.go, nftables mode) registered under their
// kube-proxy names and buckets, with one call per event so the daemon never touches a metric name; and
// MetricsServer, which serves them on --metrics-bind-address like kube-proxy's metrics server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/ip.h"
#include "base/result.h"
#include "proxy/metrics/http_server.h"
#include "proxy/metrics/registry.h"

namespace nodenet::proxy::metrics {

/// Every metric the proxy exports. Thread-safe (atomics); create one per process and share it.
class ProxyMetrics {
 public:
  ProxyMetrics();

  /// One sync took `seconds`: observed in kubeproxy_sync_proxy_rules_duration_seconds and in the full or
  /// partial histogram (kubeproxy_sync_{full,partial}_proxy_rules_duration_seconds).
  void syncDuration(bool full, double seconds);
  /// A sync was committed at `when`: kubeproxy_sync_proxy_rules_last_timestamp_seconds.
  void syncSucceeded(std::chrono::system_clock::time_point when = std::chrono::system_clock::now());
  /// A sync was requested at `when`: kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds.
  void syncQueued(std::chrono::system_clock::time_point when = std::chrono::system_clock::now());
  /// A transaction failed: kubeproxy_sync_proxy_rules_nftables_sync_failures_total.
  void syncFailed();
  /// Deleting stale chains failed: kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total.
  void cleanupFailed();
  /// From a change (the EndpointSlice's endpoints.kubernetes.io/last-change-trigger-time, or the Service's
  /// creation) to its rules being committed: kubeproxy_network_programming_duration_seconds. Negative
  /// values (clock skew with the control plane) are dropped, as kube-proxy only records positive latencies.
  void networkProgrammingLatency(double seconds);
  /// `n` new EndpointSlice changes were seen: kubeproxy_sync_proxy_rules_endpoint_changes_total.
  void endpointChangesSeen(uint64_t n = 1);
  /// Changes waiting for the next sync: kubeproxy_sync_proxy_rules_endpoint_changes_pending.
  void endpointChangesPending(uint64_t n);
  /// `n` new Service changes: kubeproxy_sync_proxy_rules_service_changes_total.
  void serviceChangesSeen(uint64_t n = 1);
  /// kubeproxy_sync_proxy_rules_service_changes_pending.
  void serviceChangesPending(uint64_t n);
  /// Services with a Local policy and no local endpoints, set after each sync:
  /// kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="internal"|"external"}.
  void noLocalEndpoints(uint64_t internal, uint64_t external);
  /// One /healthz or /livez answer: kubeproxy_proxy_healthz_total{code} / kubeproxy_proxy_livez_total{code}.
  void healthzAnswered(unsigned code);
  void livezAnswered(unsigned code);

  Registry& registry() { return registry_; }
  const Registry& registry() const { return registry_; }
  /// registry().exposition().
  std::string exposition() const { return registry_.exposition(); }

 private:
  Registry registry_;
  Histogram& syncDuration_;
  Histogram& syncFullDuration_;
  Histogram& syncPartialDuration_;
  Gauge& lastTimestamp_;
  Gauge& lastQueuedTimestamp_;
  Histogram& networkProgramming_;
  Gauge& endpointChangesPending_;
  Counter& endpointChangesTotal_;
  Gauge& serviceChangesPending_;
  Counter& serviceChangesTotal_;
  Counter& syncFailures_;
  Counter& cleanupFailures_;
  GaugeVec& noLocalEndpoints_;
  CounterVec& healthzTotal_;
  CounterVec& livezTotal_;
};

/// kube-proxy's metrics server: GET /metrics (exposition format 0.0.4), /healthz ("ok", the server is up),
/// /proxyMode (the mode name, "nftables"). Other paths: 404.
class MetricsServer {
 public:
  /// Serves `metrics` (must outlive the server) on address:port through `server` (must outlive it too).
  /// Errors: the bind failure, naming the address and errno.
  static Result<std::unique_ptr<MetricsServer>> start(HttpServer& server, const ProxyMetrics& metrics,
                                                      const IpAddress& address, uint16_t port,
                                                      std::string proxyMode = "nftables");
  /// Closes the listener.
  ~MetricsServer();
  /// The bound port (useful with port 0).
  uint16_t port() const { return port_; }

  /// The answer for one request (pure; what the listener serves).
  static HttpResponse handle(const ProxyMetrics& metrics, const std::string& proxyMode, const HttpRequest& req);

 private:
  MetricsServer(HttpServer& server, HttpServer::ListenerId id, uint16_t port)
      : server_(server), id_(id), port_(port) {}
  HttpServer& server_;
  HttpServer::ListenerId id_;
  uint16_t port_;
};

}  // namespace nodenet::proxy::metrics
