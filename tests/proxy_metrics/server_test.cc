// The metrics server scraped over real HTTP on 127.0.0.1 (port 0), and HttpServer's lifecycle.
#include <gtest/gtest.h>

#include <atomic>

#include "proxy/metrics/proxy_metrics.h"
#include "tests/proxy_metrics/http_get.h"

namespace nodenet::proxy::metrics {
namespace {

using nodenet::testing::httpGet;
namespace http = boost::beast::http;

const IpAddress kLoopback = IpAddress::v4(0x7f000001);

TEST(MetricsServer, ServesMetricsHealthzAndProxyMode) {
  auto server = HttpServer::create("metrics");
  ASSERT_TRUE(server.ok());
  ProxyMetrics m;
  m.syncFailed();
  auto ms = MetricsServer::start(**server, m, kLoopback, 0);
  ASSERT_TRUE(ms.ok()) << ms.error().message();
  uint16_t port = (*ms)->port();
  ASSERT_NE(port, 0);

  auto r = httpGet("127.0.0.1", port, "/metrics");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, m.exposition());
  EXPECT_NE(r.body.find("kubeproxy_sync_proxy_rules_nftables_sync_failures_total 1\n"), std::string::npos);

  // A later scrape sees later updates.
  m.syncFailed();
  r = httpGet("127.0.0.1", port, "/metrics?x=1");
  EXPECT_NE(r.body.find("kubeproxy_sync_proxy_rules_nftables_sync_failures_total 2\n"), std::string::npos);

  r = httpGet("127.0.0.1", port, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  r = httpGet("127.0.0.1", port, "/proxyMode");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "nftables");
  r = httpGet("127.0.0.1", port, "/nope");
  EXPECT_EQ(r.status, 404);
  r = httpGet("127.0.0.1", port, "/metrics", http::verb::post);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "GET, HEAD");
  r = httpGet("127.0.0.1", port, "/metrics", http::verb::head);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.headers["Content-Length"], std::to_string(m.exposition().size()));
}

TEST(HttpServer, BindConflictIsAnErrorWithErrno) {
  auto server = HttpServer::create("t");
  ASSERT_TRUE(server.ok());
  auto handler = [](const HttpRequest&) { return HttpResponse{}; };
  auto a = (*server)->listen(kLoopback, 0, handler);
  ASSERT_TRUE(a.ok());
  auto b = (*server)->listen(kLoopback, a->port, handler);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().sysErrno(), EADDRINUSE);
  EXPECT_NE(b.error().message().find("127.0.0.1:" + std::to_string(a->port)), std::string::npos)
      << b.error().message();
}

TEST(HttpServer, CloseStopsServingAndFreesThePort) {
  auto server = HttpServer::create("t");
  ASSERT_TRUE(server.ok());
  std::atomic<int> hits{0};
  auto handler = [&](const HttpRequest& req) {
    ++hits;
    HttpResponse res;
    res.body = req.path();
    return res;
  };
  auto a = (*server)->listen(kLoopback, 0, handler);
  ASSERT_TRUE(a.ok());
  auto r = httpGet("127.0.0.1", a->port, "/x?y");
  EXPECT_EQ(r.body, "/x");
  (*server)->close(a->id);
  r = httpGet("127.0.0.1", a->port, "/x");
  EXPECT_EQ(r.status, 0);  // connection refused
  EXPECT_EQ(hits.load(), 1);
  // The same port binds again at once.
  auto again = (*server)->listen(kLoopback, a->port, handler);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(httpGet("127.0.0.1", a->port, "/z").body, "/z");
  (*server)->stop();
  (*server)->stop();  // idempotent
  EXPECT_EQ(httpGet("127.0.0.1", a->port, "/z").status, 0);
  EXPECT_FALSE((*server)->listen(kLoopback, 0, handler).ok());
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = HttpServer::create("t");
  ASSERT_TRUE(server.ok());
  auto a = (*server)->listen(kLoopback, 0, [](const HttpRequest& req) {
    HttpResponse res;
    res.body = req.target;
    return res;
  });
  ASSERT_TRUE(a.ok());
  namespace beast = boost::beast;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect({boost::asio::ip::make_address("127.0.0.1"), a->port});
  for (const char* t : {"/1", "/2", "/3"}) {
    http::request<http::empty_body> req{http::verb::get, t, 11};
    req.set(http::field::host, "x");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    EXPECT_EQ(res.body(), t);
    EXPECT_TRUE(res.keep_alive());
  }
}

}  // namespace
}  // namespace nodenet::proxy::metrics
