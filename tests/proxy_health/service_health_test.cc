// ServiceHealthServer: healthCheckNodePort listeners on 127.0.0.1, probed over HTTP.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "proxy/health/service_health.h"
#include "tests/proxy_metrics/http_get.h"

namespace nodenet::proxy::health {
namespace {

using nodenet::testing::httpGet;

const IpAddress kLoopback = IpAddress::v4(0x7f000001);

/// A currently free TCP port on 127.0.0.1 (the kernel's pick for port 0; released at once). Health check
/// ports come from Services, so the server cannot use port 0 itself.
uint16_t freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class ServiceHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = metrics::HttpServer::create("svc-health");
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    ServiceHealthServer::Options o;
    o.bindAddresses = {kLoopback};
    o.proxyHealthy = [this] { return proxyHealthy_.load(); };
    o.nodeName = "node-a";
    hs_ = std::make_unique<ServiceHealthServer>(*server_, o);
  }

  std::atomic<bool> proxyHealthy_{true};
  std::unique_ptr<metrics::HttpServer> server_;
  std::unique_ptr<ServiceHealthServer> hs_;
};

TEST_F(ServiceHealthTest, AnswersByLocalEndpointsAndProxyHealth) {
  ServiceKey web{"default", "web"};
  uint16_t port = freePort();
  EXPECT_EQ(hs_->syncServices({{web, port}}), 0u);
  EXPECT_EQ(hs_->activeServices(), std::vector<ServiceKey>{web});

  auto r = httpGet("127.0.0.1", port, "/");
  EXPECT_EQ(r.status, 503) << r.error;  // no endpoints yet
  EXPECT_EQ(r.headers["Content-Type"], "application/json");
  EXPECT_EQ(r.headers["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(r.body,
            "{\n\t\"service\": {\n\t\t\"namespace\": \"default\",\n\t\t\"name\": \"web\"\n\t},\n\t\"localEndpoints\": "
            "0,\n\t\"serviceProxyHealthy\": true\n}");

  hs_->syncEndpoints({{web, 2}, {ServiceKey{"other", "unknown"}, 5}});
  r = httpGet("127.0.0.1", port, "/any/path");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"localEndpoints\": 2,"), std::string::npos) << r.body;

  // The proxy itself unhealthy: 503 even with endpoints, and the body says why.
  proxyHealthy_ = false;
  r = httpGet("127.0.0.1", port, "/");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"serviceProxyHealthy\": false"), std::string::npos);
  proxyHealthy_ = true;

  // Absent from the endpoints map: 0.
  hs_->syncEndpoints({});
  EXPECT_EQ(httpGet("127.0.0.1", port, "/").status, 503);
}

TEST_F(ServiceHealthTest, SyncOpensClosesAndMovesListeners) {
  ServiceKey a{"ns", "a"}, b{"ns", "b"};
  uint16_t pa = freePort(), pb = freePort(), pb2 = freePort();
  ASSERT_EQ(hs_->syncServices({{a, pa}, {b, pb}}), 0u);
  hs_->syncEndpoints({{a, 1}, {b, 1}});
  EXPECT_EQ(httpGet("127.0.0.1", pa, "/").status, 200);
  EXPECT_EQ(httpGet("127.0.0.1", pb, "/").status, 200);

  // b moves to another port (fresh listener, endpoint count starts over), a leaves.
  ASSERT_EQ(hs_->syncServices({{b, pb2}}), 0u);
  EXPECT_EQ(httpGet("127.0.0.1", pa, "/").status, 0);  // closed
  EXPECT_EQ(httpGet("127.0.0.1", pb, "/").status, 0);
  EXPECT_EQ(httpGet("127.0.0.1", pb2, "/").status, 503);
  hs_->syncEndpoints({{b, 3}});
  EXPECT_EQ(httpGet("127.0.0.1", pb2, "/").status, 200);

  // An unchanged sync keeps the listener and its count.
  ASSERT_EQ(hs_->syncServices({{b, pb2}}), 0u);
  EXPECT_EQ(httpGet("127.0.0.1", pb2, "/").status, 200);
  EXPECT_EQ(hs_->answer(a).status, 503u);
}

TEST_F(ServiceHealthTest, PortInUseIsRetriedOnTheNextSync) {
  ServiceKey a{"ns", "a"};
  // Someone else holds the port.
  auto squatter = server_->listen(kLoopback, 0, [](const HttpRequest&) {
    HttpResponse r;
    r.body = "squatter";
    return r;
  });
  ASSERT_TRUE(squatter.ok());
  EXPECT_EQ(hs_->syncServices({{a, squatter->port}}), 1u);  // logged, not fatal
  EXPECT_TRUE(hs_->activeServices().empty());
  EXPECT_EQ(httpGet("127.0.0.1", squatter->port, "/").body, "squatter");

  server_->close(squatter->id);
  EXPECT_EQ(hs_->syncServices({{a, squatter->port}}), 0u);  // retried and bound now
  EXPECT_EQ(hs_->activeServices(), std::vector<ServiceKey>{a});
  hs_->syncEndpoints({{a, 1}});
  EXPECT_EQ(httpGet("127.0.0.1", squatter->port, "/").status, 200);
}

TEST_F(ServiceHealthTest, DestructorClosesEveryListener) {
  ServiceKey a{"ns", "a"};
  uint16_t port = freePort();
  ASSERT_EQ(hs_->syncServices({{a, port}}), 0u);
  EXPECT_EQ(httpGet("127.0.0.1", port, "/").status, 503);
  hs_.reset();
  EXPECT_EQ(httpGet("127.0.0.1", port, "/").status, 0);
}

TEST(ServiceHealthDualStack, ListensOnEveryBindAddress) {
  auto server = metrics::HttpServer::create("svc-health");
  ASSERT_TRUE(server.ok());
  IpAddress v6Loopback = IpAddress::parse("::1").value();
  // Skip where the machine has no IPv6 loopback.
  auto probe = (*server)->listen(v6Loopback, 0, [](const HttpRequest&) { return HttpResponse{}; });
  if (!probe.ok()) GTEST_SKIP() << "no ::1 here: " << probe.error().message();
  (*server)->close(probe->id);

  ServiceHealthServer::Options o;
  o.bindAddresses = {kLoopback, v6Loopback};
  ServiceHealthServer hs(**server, o);
  ServiceKey a{"ns", "a"};
  uint16_t port = freePort();
  ASSERT_EQ(hs.syncServices({{a, port}}), 0u);
  hs.syncEndpoints({{a, 1}});
  EXPECT_EQ(httpGet("127.0.0.1", port, "/").status, 200);
  EXPECT_EQ(httpGet("::1", port, "/").status, 200);
  ASSERT_EQ(hs.syncServices({}), 0u);
  EXPECT_EQ(httpGet("127.0.0.1", port, "/").status, 0);
  EXPECT_EQ(httpGet("::1", port, "/").status, 0);
}

}  // namespace
}  // namespace nodenet::proxy::health
