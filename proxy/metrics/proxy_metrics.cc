// Names, help texts and buckets follow kubernetes pkg/proxy/metrics/metrics.go (subsystem "kubeproxy").
#include "proxy/metrics/proxy_metrics.h"

#include <chrono>

namespace nodenet::proxy::metrics {
namespace {

// kube-proxy's sync histograms: ExponentialBuckets(0.001, 2, 15) = 1 ms .. 16.384 s.
std::vector<double> syncBuckets() { return exponentialBuckets(0.001, 2, 15); }

// kube-proxy's network programming buckets: 0.25, 0.5, then 1..59 s, 60..115 s by 5, 120..300 s by 30.
std::vector<double> networkProgrammingBuckets() {
  std::vector<double> out;
  for (auto part : {linearBuckets(0.25, 0.25, 2), linearBuckets(1, 1, 59), linearBuckets(60, 5, 12),
                    linearBuckets(120, 30, 7)})
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

double unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

ProxyMetrics::ProxyMetrics()
    : syncDuration_(registry_.histogram("kubeproxy_sync_proxy_rules_duration_seconds",
                                       "SyncProxyRules latency in seconds", syncBuckets())),
      syncFullDuration_(registry_.histogram("kubeproxy_sync_full_proxy_rules_duration_seconds",
                                           "SyncProxyRules latency in seconds for full resyncs", syncBuckets())),
      syncPartialDuration_(registry_.histogram("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                                              "SyncProxyRules latency in seconds for partial resyncs",
                                              syncBuckets())),
      lastTimestamp_(registry_.gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                                     "The last time proxy rules were successfully synced")),
      lastQueuedTimestamp_(registry_.gauge("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
                                           "The last time a sync of proxy rules was queued")),
      networkProgramming_(registry_.histogram("kubeproxy_network_programming_duration_seconds",
                                             "In Cluster Network Programming Latency in seconds",
                                             networkProgrammingBuckets())),
      endpointChangesPending_(registry_.gauge("kubeproxy_sync_proxy_rules_endpoint_changes_pending",
                                              "Pending proxy rules Endpoint changes")),
      endpointChangesTotal_(registry_.counter("kubeproxy_sync_proxy_rules_endpoint_changes_total",
                                              "Cumulative proxy rules Endpoint changes")),
      serviceChangesPending_(registry_.gauge("kubeproxy_sync_proxy_rules_service_changes_pending",
                                             "Pending proxy rules Service changes")),
      serviceChangesTotal_(registry_.counter("kubeproxy_sync_proxy_rules_service_changes_total",
                                             "Cumulative proxy rules Service changes")),
      syncFailures_(registry_.counter("kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
                                      "Cumulative proxy nftables sync failures")),
      cleanupFailures_(registry_.counter("kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total",
                                         "Cumulative proxy nftables cleanup failures")),
      noLocalEndpoints_(registry_.gaugeVec("kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                                           "Number of services with a Local traffic policy and no endpoints",
                                           {"traffic_policy"})),
      healthzTotal_(registry_.counterVec("kubeproxy_proxy_healthz_total", "Cumulative proxy healthz HTTP status",
                                         {"code"})),
      livezTotal_(registry_.counterVec("kubeproxy_proxy_livez_total", "Cumulative proxy livez HTTP status",
                                       {"code"})) {
  // kube-proxy sets both policies on every sync; start them at 0 so the series exist before the first one.
  noLocalEndpoints_.withLabels({"internal"});
  noLocalEndpoints_.withLabels({"external"});
}

void ProxyMetrics::syncDuration(bool full, double seconds) {
  syncDuration_.observe(seconds);
  (full ? syncFullDuration_ : syncPartialDuration_).observe(seconds);
}

void ProxyMetrics::syncSucceeded(std::chrono::system_clock::time_point when) { lastTimestamp_.set(unixSeconds(when)); }

void ProxyMetrics::syncQueued(std::chrono::system_clock::time_point when) {
  lastQueuedTimestamp_.set(unixSeconds(when));
}

void ProxyMetrics::syncFailed() { syncFailures_.inc(); }
void ProxyMetrics::cleanupFailed() { cleanupFailures_.inc(); }

void ProxyMetrics::networkProgrammingLatency(double seconds) {
  if (seconds > 0) networkProgramming_.observe(seconds);
}

void ProxyMetrics::endpointChangesSeen(uint64_t n) { endpointChangesTotal_.inc(static_cast<double>(n)); }
void ProxyMetrics::endpointChangesPending(uint64_t n) { endpointChangesPending_.set(static_cast<double>(n)); }
void ProxyMetrics::serviceChangesSeen(uint64_t n) { serviceChangesTotal_.inc(static_cast<double>(n)); }
void ProxyMetrics::serviceChangesPending(uint64_t n) { serviceChangesPending_.set(static_cast<double>(n)); }

void ProxyMetrics::noLocalEndpoints(uint64_t internal, uint64_t external) {
  noLocalEndpoints_.withLabels({"internal"}).set(static_cast<double>(internal));
  noLocalEndpoints_.withLabels({"external"}).set(static_cast<double>(external));
}

void ProxyMetrics::healthzAnswered(unsigned code) { healthzTotal_.withLabels({std::to_string(code)}).inc(); }
void ProxyMetrics::livezAnswered(unsigned code) { livezTotal_.withLabels({std::to_string(code)}).inc(); }

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(HttpServer& server, const ProxyMetrics& metrics,
                                                            const IpAddress& address, uint16_t port,
                                                            std::string proxyMode) {
  auto bound = server.listen(address, port, [&metrics, mode = std::move(proxyMode)](const HttpRequest& req) {
    return MetricsServer::handle(metrics, mode, req);
  });
  if (!bound.ok()) return std::move(bound).error().context("metrics server");
  return std::unique_ptr<MetricsServer>(new MetricsServer(server, bound->id, bound->port));
}

MetricsServer::~MetricsServer() { server_.close(id_); }

HttpResponse MetricsServer::handle(const ProxyMetrics& metrics, const std::string& proxyMode,
                                   const HttpRequest& req) {
  HttpResponse res;
  std::string path = req.path();
  if (path == "/metrics") {
    res.contentType = kExpositionContentType;
    res.body = metrics.exposition();
  } else if (path == "/healthz") {
    // kube-proxy installs the generic healthz handler here: "ok" while the process serves.
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
    res.body = "ok";
  } else if (path == "/proxyMode") {
    res.body = proxyMode;
  } else {
    res.status = 404;
    res.body = "404 page not found\n";
  }
  return res;
}

}  // namespace nodenet::proxy::metrics
