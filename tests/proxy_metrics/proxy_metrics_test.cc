// kube-proxy's metric names, help texts and buckets (pkg/proxy/metrics/metrics.go) and the event calls.
#include <gtest/gtest.h>

#include "proxy/metrics/proxy_metrics.h"

namespace nodenet::proxy::metrics {
namespace {

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(ProxyMetrics, KubeProxyNamesAndTypes) {
  ProxyMetrics m;
  std::string t = m.exposition();
  for (const char* line : {
           "# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram",
           "# HELP kubeproxy_sync_proxy_rules_duration_seconds SyncProxyRules latency in seconds",
           "# TYPE kubeproxy_sync_full_proxy_rules_duration_seconds histogram",
           "# TYPE kubeproxy_sync_partial_proxy_rules_duration_seconds histogram",
           "# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge",
           "# TYPE kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds gauge",
           "# TYPE kubeproxy_network_programming_duration_seconds histogram",
           "# TYPE kubeproxy_sync_proxy_rules_endpoint_changes_pending gauge",
           "# TYPE kubeproxy_sync_proxy_rules_endpoint_changes_total counter",
           "# TYPE kubeproxy_sync_proxy_rules_service_changes_pending gauge",
           "# TYPE kubeproxy_sync_proxy_rules_service_changes_total counter",
           "# TYPE kubeproxy_sync_proxy_rules_nftables_sync_failures_total counter",
           "# TYPE kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total counter",
           "# TYPE kubeproxy_sync_proxy_rules_no_local_endpoints_total gauge",
           "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"external\"} 0",
           "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\"} 0",
       })
    EXPECT_TRUE(has(t, line)) << line;
  // healthz/livez counters appear once an answer was counted (labelled families start empty).
  EXPECT_EQ(t.find("kubeproxy_proxy_healthz_total"), std::string::npos);
}

TEST(ProxyMetrics, SyncHistogramBucketsAreKubeProxys) {
  ProxyMetrics m;
  m.syncDuration(true, 0.003);
  m.syncDuration(false, 0.0005);
  std::string t = m.exposition();
  // ExponentialBuckets(0.001, 2, 15): 0.001 .. 16.384.
  const char* expected =
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.001\"} 0\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.002\"} 0\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.008\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.016\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.032\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.064\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.128\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.256\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"0.512\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"1.024\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"2.048\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"4.096\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"8.192\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"16.384\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{le=\"+Inf\"} 1\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_sum 0.003\n"
      "kubeproxy_sync_full_proxy_rules_duration_seconds_count 1\n";
  EXPECT_NE(t.find(expected), std::string::npos) << t;
  EXPECT_TRUE(has(t, "kubeproxy_sync_partial_proxy_rules_duration_seconds_bucket{le=\"0.001\"} 1"));
  EXPECT_TRUE(has(t, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count 1"));
  EXPECT_TRUE(has(t, "kubeproxy_sync_proxy_rules_duration_seconds_count 2"));
}

TEST(ProxyMetrics, NetworkProgrammingBuckets) {
  ProxyMetrics m;
  m.networkProgrammingLatency(0.3);
  m.networkProgrammingLatency(-1);  // clock skew: dropped
  std::string t = m.exposition();
  std::vector<std::string> les;
  const std::string prefix = "kubeproxy_network_programming_duration_seconds_bucket{le=\"";
  for (size_t p = t.find(prefix); p != std::string::npos; p = t.find(prefix, p + 1)) {
    size_t s = p + prefix.size();
    les.push_back(t.substr(s, t.find('"', s) - s));
  }
  // 0.25, 0.5, 1..59, 60..115 by 5, 120..300 by 30, +Inf.
  ASSERT_EQ(les.size(), 2u + 59 + 12 + 7 + 1);
  EXPECT_EQ(les[0], "0.25");
  EXPECT_EQ(les[1], "0.5");
  EXPECT_EQ(les[2], "1");
  EXPECT_EQ(les[60], "59");
  EXPECT_EQ(les[61], "60");
  EXPECT_EQ(les[72], "115");
  EXPECT_EQ(les[73], "120");
  EXPECT_EQ(les[79], "300");
  EXPECT_EQ(les[80], "+Inf");
  EXPECT_TRUE(has(t, "kubeproxy_network_programming_duration_seconds_bucket{le=\"0.25\"} 0"));
  EXPECT_TRUE(has(t, "kubeproxy_network_programming_duration_seconds_bucket{le=\"0.5\"} 1"));
  EXPECT_TRUE(has(t, "kubeproxy_network_programming_duration_seconds_count 1"));
}

TEST(ProxyMetrics, EventCalls) {
  ProxyMetrics m;
  using namespace std::chrono;
  m.syncQueued(system_clock::time_point(seconds(1764000000)));
  m.syncSucceeded(system_clock::time_point(milliseconds(1764000001500)));
  m.syncFailed();
  m.syncFailed();
  m.cleanupFailed();
  m.endpointChangesSeen(3);
  m.endpointChangesPending(2);
  m.serviceChangesSeen();
  m.serviceChangesPending(0);
  m.noLocalEndpoints(1, 4);
  m.healthzAnswered(200);
  m.healthzAnswered(503);
  m.healthzAnswered(200);
  m.livezAnswered(200);
  std::string t = m.exposition();
  for (const char* line : {
           "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds 1.764e+09",
           "kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7640000015e+09",
           "kubeproxy_sync_proxy_rules_nftables_sync_failures_total 2",
           "kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total 1",
           "kubeproxy_sync_proxy_rules_endpoint_changes_total 3",
           "kubeproxy_sync_proxy_rules_endpoint_changes_pending 2",
           "kubeproxy_sync_proxy_rules_service_changes_total 1",
           "kubeproxy_sync_proxy_rules_service_changes_pending 0",
           "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"external\"} 4",
           "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\"} 1",
           "# HELP kubeproxy_proxy_healthz_total Cumulative proxy healthz HTTP status",
           "kubeproxy_proxy_healthz_total{code=\"200\"} 2",
           "kubeproxy_proxy_healthz_total{code=\"503\"} 1",
           "kubeproxy_proxy_livez_total{code=\"200\"} 1",
       })
    EXPECT_TRUE(has(t, line)) << line << "\n" << t;
}

}  // namespace
}  // namespace nodenet::proxy::metrics
