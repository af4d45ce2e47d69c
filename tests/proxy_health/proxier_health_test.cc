// ProxierHealthServer: kube-proxy's /healthz and /livez semantics with an injected clock, then over HTTP.
#include <gtest/gtest.h>

#include <mutex>

#include "proxy/health/proxier_health.h"
#include "tests/proxy_metrics/http_get.h"

namespace nodenet::proxy::health {
namespace {

using namespace std::chrono;
using nodenet::testing::httpGet;

/// A settable wall clock starting at 2026-11-24 13:23:51.0225 UTC.
struct TestClock {
  system_clock::time_point now = system_clock::time_point(seconds(1795526631) + microseconds(22500));
  WallClock fn() {
    return [this] { return now; };
  }
};

ProxierHealthServer::Options opts(TestClock& c, metrics::ProxyMetrics* m = nullptr) {
  ProxierHealthServer::Options o;
  o.healthTimeout = seconds(60);
  o.clock = c.fn();
  o.metrics = m;
  return o;
}

TEST(GoTimeString, MatchesGoTimeString) {
  EXPECT_EQ(goTimeString(std::nullopt), "0001-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(goTimeString(system_clock::time_point(seconds(1795526631))), "2026-11-24 13:23:51 +0000 UTC");
  EXPECT_EQ(goTimeString(system_clock::time_point(seconds(1795526631) + microseconds(22500))),
            "2026-11-24 13:23:51.0225 +0000 UTC");
  EXPECT_EQ(goTimeString(system_clock::time_point(nanoseconds(1000000001))), "1970-01-01 00:00:01.000000001 +0000 UTC");
}

TEST(NodeEligible, DeletionOrAutoscalerTaint) {
  EXPECT_TRUE(nodeEligibleFor(false, {}));
  EXPECT_TRUE(nodeEligibleFor(false, {"node.kubernetes.io/unschedulable"}));
  EXPECT_FALSE(nodeEligibleFor(true, {}));
  EXPECT_FALSE(nodeEligibleFor(false, {"x", "ToBeDeletedByClusterAutoscaler"}));
}

TEST(ProxierHealth, HealthyAtStartAndReportsNowAsLastUpdated) {
  TestClock c;
  ProxierHealthServer hs(opts(c));
  auto r = hs.healthz();
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.contentType, "application/json");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"X-Content-Type-Options", "nosniff"}));
  EXPECT_EQ(r.body,
            "{\"lastUpdated\": \"2026-11-24 13:23:51.0225 +0000 UTC\",\"currentTime\": \"2026-11-24 13:23:51.0225 "
            "+0000 UTC\", \"nodeEligible\": true}");
  auto l = hs.livez();
  EXPECT_EQ(l.status, 200u);
  EXPECT_EQ(l.body,
            "{\"lastUpdated\": \"2026-11-24 13:23:51.0225 +0000 UTC\",\"currentTime\": \"2026-11-24 13:23:51.0225 "
            "+0000 UTC\"}");
}

TEST(ProxierHealth, QueuedWithoutSyncBecomesUnhealthyAfterTimeout) {
  TestClock c;
  ProxierHealthServer hs(opts(c));
  hs.updated();  // lastUpdated = t0
  auto t0 = c.now;
  c.now += seconds(5);
  hs.queuedUpdate();  // oldest pending = t0+5
  c.now += seconds(30);
  hs.queuedUpdate();  // later queues do not move the deadline
  c.now += seconds(29);  // 59 s after the oldest queue
  EXPECT_TRUE(hs.isHealthy());
  EXPECT_EQ(hs.healthz().status, 200u);
  c.now += seconds(1);  // exactly healthTimeout: unhealthy (kube-proxy: healthy only while < timeout)
  EXPECT_FALSE(hs.isHealthy());
  auto r = hs.healthz();
  EXPECT_EQ(r.status, 503u);
  // Unhealthy answers carry the real last update.
  EXPECT_NE(r.body.find("\"lastUpdated\": \"" + goTimeString(t0) + "\""), std::string::npos) << r.body;
  EXPECT_EQ(hs.livez().status, 503u);

  hs.updated();
  EXPECT_TRUE(hs.isHealthy());
  EXPECT_EQ(hs.healthz().status, 200u);
}

TEST(ProxierHealth, UnhealthyBeforeAnySyncShowsZeroTime) {
  TestClock c;
  ProxierHealthServer hs(opts(c));
  hs.queuedUpdate();
  c.now += minutes(2);
  auto r = hs.healthz();
  EXPECT_EQ(r.status, 503u);
  EXPECT_NE(r.body.find("\"lastUpdated\": \"0001-01-01 00:00:00 +0000 UTC\""), std::string::npos) << r.body;
}

TEST(ProxierHealth, NodeNotEligibleFailsHealthzOnly) {
  TestClock c;
  metrics::ProxyMetrics m;
  ProxierHealthServer hs(opts(c, &m));
  hs.setNodeEligible(false);
  auto r = hs.healthz();
  EXPECT_EQ(r.status, 503u);
  EXPECT_NE(r.body.find("\"nodeEligible\": false}"), std::string::npos);
  EXPECT_EQ(hs.livez().status, 200u);
  EXPECT_TRUE(hs.isHealthy());
  hs.setNodeEligible(true);
  EXPECT_EQ(hs.healthz().status, 200u);
  std::string t = m.exposition();
  EXPECT_NE(t.find("kubeproxy_proxy_healthz_total{code=\"200\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("kubeproxy_proxy_healthz_total{code=\"503\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("kubeproxy_proxy_livez_total{code=\"200\"} 1\n"), std::string::npos);
}

TEST(ProxierHealth, ServedOverHttp) {
  TestClock c;
  auto server = metrics::HttpServer::create("healthz");
  ASSERT_TRUE(server.ok());
  ProxierHealthServer hs(opts(c));
  auto st = hs.start(**server, IpAddress::v4(0x7f000001), 0);
  ASSERT_TRUE(st.ok()) << st.error().message();
  ASSERT_NE(hs.port(), 0);
  EXPECT_FALSE(hs.start(**server, IpAddress::v4(0x7f000001), 0).ok());  // already started

  auto r = httpGet("127.0.0.1", hs.port(), "/healthz");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.headers["Content-Type"], "application/json");
  EXPECT_EQ(r.headers["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(r.body, hs.healthz().body);
  hs.queuedUpdate();
  c.now += seconds(61);
  EXPECT_EQ(httpGet("127.0.0.1", hs.port(), "/healthz").status, 503);
  EXPECT_EQ(httpGet("127.0.0.1", hs.port(), "/livez").status, 503);
  hs.updated();
  EXPECT_EQ(httpGet("127.0.0.1", hs.port(), "/livez").status, 200);
  EXPECT_EQ(httpGet("127.0.0.1", hs.port(), "/other").status, 404);
}

}  // namespace
}  // namespace nodenet::proxy::health
