// The client against the fake API server on 127.0.0.1 (ephemeral port): lists, watches, failures, TLS, tokens.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "integration/fakeapi/fake_api_server.h"
#include "kube/client/connection.h"
#include "kube/objects/decode.h"

namespace nodenet::kube {
namespace {

using fakeapi::FakeApiServer;
using fakeapi::Resource;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const char* kServices = "/api/v1/services";

json service(const std::string& ns, const std::string& name, const std::string& ip) {
  return {{"metadata", {{"namespace", ns}, {"name", name}}},
          {"spec", {{"clusterIP", ip}, {"ports", json::array({{{"port", 80}}})}}}};
}

std::unique_ptr<FakeApiServer> startServer(fakeapi::Options o = {}) {
  auto s = FakeApiServer::start(std::move(o));
  EXPECT_TRUE(s.ok()) << s.error().message();
  return std::move(s).value();
}

std::unique_ptr<Connection> connect(const FakeApiServer& server, ConnectionOptions opts = {}) {
  auto cfg = masterOnlyConfig(server.url());
  EXPECT_TRUE(cfg.ok());
  cfg->caPem = server.caPem();
  auto c = Connection::create(std::move(cfg).value(), opts);
  EXPECT_TRUE(c.ok()) << c.error().message();
  return std::move(c).value();
}

// Runs a watch on its own thread, decoding every line; stops after `maxLines` lines.
struct Watcher {
  std::vector<Result<WatchEvent>> events;
  std::mutex mu;
  std::future<Result<WatchResult>> done;

  void start(Connection& c, Query q, size_t maxLines) {
    done = std::async(std::launch::async, [this, &c, q, maxLines] {
      return c.watch(kServices, q, [this, maxLines](std::string_view line) {
        std::lock_guard lock(mu);
        events.push_back(decodeWatchEventText(line, ObjectKind::Service));
        return events.size() < maxLines;
      });
    });
  }
  Result<WatchResult> wait() {
    EXPECT_EQ(done.wait_for(10s), std::future_status::ready);
    return done.get();
  }
};

TEST(Client, ListWithPaginationOnOneConnection) {
  auto server = startServer();
  for (int i = 0; i < 5; ++i)
    server->upsert(Resource::Services, service("ns", "svc" + std::to_string(i), "10.96.0." + std::to_string(i + 1)));
  auto conn = connect(*server);
  std::vector<std::string> names;
  std::string cont, rv;
  int pages = 0;
  do {
    Query q = {{"limit", "2"}};
    if (!cont.empty()) q.push_back({"continue", cont});
    auto r = conn->get(kServices, q);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->status, 200u);
    EXPECT_EQ(r->contentType, "application/json");
    auto list = decodeServiceListText(r->body);
    ASSERT_TRUE(list.ok()) << list.error().message();
    EXPECT_EQ(list->kind, "ServiceList");
    if (rv.empty()) rv = list->resourceVersion;
    EXPECT_EQ(list->resourceVersion, rv);  // every page is the first page's snapshot
    for (const auto& s : list->items) names.push_back(s.meta.name);
    cont = list->continueToken;
    // A change between pages does not leak into the paginated snapshot.
    server->upsert(Resource::Services, service("ns", "late" + std::to_string(pages), "10.96.1.1"));
    ++pages;
  } while (!cont.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(names, ElementsAre("svc0", "svc1", "svc2", "svc3", "svc4"));
  EXPECT_EQ(conn->connectCountForTest(), 1u);
  EXPECT_EQ(server->connectionCount(), 1u);

  // An expired continue token is a 410, handed back to the caller as a status.
  auto first = conn->get(kServices, {{"limit", "1"}});
  auto token = decodeServiceListText(first->body)->continueToken;
  server->compact();
  auto expired = conn->get(kServices, {{"limit", "1"}, {"continue", token}});
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->status, 410u);
  EXPECT_EQ(decodeStatus(json::parse(expired->body))->code, 410);
}

TEST(Client, GetSingleNodeAnd404) {
  auto server = startServer();
  server->upsert(Resource::Nodes, {{"metadata", {{"name", "node-a"}}}});
  auto conn = connect(*server);
  auto node = conn->get("/api/v1/nodes/node-a");
  ASSERT_TRUE(node.ok());
  ASSERT_EQ(node->status, 200u);
  EXPECT_EQ(decodeNodeText(node->body)->meta.name, "node-a");
  EXPECT_EQ(conn->get("/api/v1/nodes/node-b")->status, 404u);
  EXPECT_EQ(conn->get("/api/v1/pods")->status, 404u);
}

TEST(Client, WatchStreamsEventsInOrderWithBookmark) {
  auto server = startServer();
  server->upsert(Resource::Services, service("ns", "a", "10.96.0.1"));
  auto conn = connect(*server);
  auto list = decodeServiceListText(conn->get(kServices)->body);
  ASSERT_TRUE(list.ok());
  // A change between list and watch is replayed from the log.
  server->upsert(Resource::Services, service("ns", "b", "10.96.0.2"));

  Watcher w;
  w.start(*conn, {{"watch", "1"}, {"resourceVersion", list->resourceVersion}, {"allowWatchBookmarks", "true"}}, 5);
  ASSERT_TRUE(server->waitForWatches(1, 5s));
  server->upsert(Resource::Services, service("ns", "a", "10.96.0.9"));
  server->remove(Resource::Services, "ns", "b");
  server->sendBookmark();
  std::string rv = server->upsert(Resource::Services, service("ns", "c", "10.96.0.3"));
  auto r = w.wait();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_TRUE(r->stoppedByCallback);
  ASSERT_EQ(w.events.size(), 5u);
  std::vector<std::string> seen;
  for (auto& e : w.events) {
    ASSERT_TRUE(e.ok()) << e.error().message();
    seen.push_back(std::string(watchEventTypeName(e->type)) +
                   (e->object ? " " + metaOf(*e->object).name : " @" + e->resourceVersion));
  }
  int bookmarkRv = std::stoi(rv) - 1;
  EXPECT_THAT(seen,
              ElementsAre("ADDED b", "MODIFIED a", "DELETED b", "BOOKMARK @" + std::to_string(bookmarkRv), "ADDED c"));
  EXPECT_EQ(w.events.back()->resourceVersion, rv);
}

TEST(Client, WatchFromZeroStartsWithSyntheticAdds) {
  auto server = startServer();
  server->upsert(Resource::Services, service("ns", "a", "10.96.0.1"));
  server->upsert(Resource::Services, service("ns", "b", "10.96.0.2"));
  auto conn = connect(*server);
  Watcher w;
  w.start(*conn, {{"watch", "1"}, {"resourceVersion", "0"}}, 2);
  ASSERT_TRUE(w.wait().ok());
  ASSERT_EQ(w.events.size(), 2u);
  EXPECT_EQ(w.events[0]->type, WatchEventType::Added);
  EXPECT_EQ(metaOf(*w.events[1]->object).name, "b");
}

TEST(Client, ServerTimeoutReturnsCleanlyAndConnectionIsReused) {
  auto server = startServer();
  auto conn = connect(*server);
  auto start = std::chrono::steady_clock::now();
  auto r =
      conn->watch(kServices, {{"watch", "1"}, {"resourceVersion", server->resourceVersion()}, {"timeoutSeconds", "1"}},
                  [](std::string_view) { return true; });
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->lines, 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_EQ(conn->get(kServices)->status, 200u);
  EXPECT_EQ(conn->connectCountForTest(), 1u);
}

TEST(Client, AbruptDisconnectIsAnErrorAndTheNextCallReconnects) {
  auto server = startServer();
  auto conn = connect(*server);
  Watcher w;
  w.start(*conn, {{"watch", "1"}, {"resourceVersion", server->resourceVersion()}}, 100);
  ASSERT_TRUE(server->waitForWatches(1, 5s));
  server->upsert(Resource::Services, service("ns", "a", "10.96.0.1"));
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(w.mu);
      if (!w.events.empty()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  server->injectDisconnect();
  auto r = w.wait();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("stream broken after 1 lines"));
  EXPECT_EQ(w.events.size(), 1u);
  EXPECT_EQ(conn->get(kServices)->status, 200u);
  EXPECT_EQ(conn->connectCountForTest(), 2u);
}

TEST(Client, GarbageLineIsADecodeErrorForThatLineOnly) {
  auto server = startServer();
  auto conn = connect(*server);
  Watcher w;
  w.start(*conn, {{"watch", "1"}, {"resourceVersion", server->resourceVersion()}}, 2);
  ASSERT_TRUE(server->waitForWatches(1, 5s));
  server->injectLine("this is not JSON");
  server->upsert(Resource::Services, service("ns", "a", "10.96.0.1"));
  ASSERT_TRUE(w.wait().ok());
  ASSERT_EQ(w.events.size(), 2u);
  ASSERT_FALSE(w.events[0].ok());
  EXPECT_THAT(w.events[0].error().message(), HasSubstr("invalid JSON"));
  ASSERT_TRUE(w.events[1].ok());
  EXPECT_EQ(metaOf(*w.events[1]->object).name, "a");
}

TEST(Client, ExpiredResourceVersionGetsErrorEvent410) {
  auto server = startServer();
  auto conn = connect(*server);
  std::string old = server->resourceVersion();
  server->upsert(Resource::Services, service("ns", "a", "10.96.0.1"));
  server->compact();
  Watcher w;
  w.start(*conn, {{"watch", "1"}, {"resourceVersion", old}}, 10);
  auto r = w.wait();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(r->stoppedByCallback);  // the server ended the stream after the ERROR
  ASSERT_EQ(w.events.size(), 1u);
  ASSERT_TRUE(w.events[0].ok());
  EXPECT_EQ(w.events[0]->type, WatchEventType::Error);
  EXPECT_EQ(w.events[0]->status.code, 410);
  EXPECT_EQ(w.events[0]->status.reason, "Expired");

  // Injected on an open watch too.
  Watcher w2;
  w2.start(*conn, {{"watch", "1"}, {"resourceVersion", server->resourceVersion()}}, 10);
  ASSERT_TRUE(server->waitForWatches(1, 5s));
  server->injectGone();
  ASSERT_TRUE(w2.wait().ok());
  ASSERT_EQ(w2.events.size(), 1u);
  EXPECT_EQ(w2.events[0]->status.code, 410);
}

TEST(Client, SlowResponseTimesOut) {
  auto server = startServer();
  server->setResponseDelay(1500ms);
  ConnectionOptions opts;
  opts.requestTimeout = 200ms;
  auto conn = connect(*server, opts);
  auto r = conn->get(kServices);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("timeout"));
  server->setResponseDelay(0ms);
  EXPECT_EQ(conn->get(kServices)->status, 200u);
}

TEST(Client, WatchIdleTimeoutIsAnError) {
  auto server = startServer();
  ConnectionOptions opts;
  opts.watchIdleTimeout = 300ms;
  auto conn = connect(*server, opts);
  auto r = conn->watch(kServices, {{"watch", "1"}}, [](std::string_view) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("no data for 300 ms"));
}

TEST(Client, StopFromAnotherThreadEndsABlockedWatch) {
  auto server = startServer();
  auto conn = connect(*server);
  Watcher w;
  w.start(*conn, {{"watch", "1"}}, 100);
  ASSERT_TRUE(server->waitForWatches(1, 5s));
  auto start = std::chrono::steady_clock::now();
  conn->stop();
  auto r = w.wait();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("stopped"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_THAT(conn->get(kServices).error().message(), HasSubstr("stopped"));
  // The server notices the client went away.
  for (int i = 0; i < 200 && server->activeWatches() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server->activeWatches(), 0u);
}

TEST(Client, ConnectRefusedIsAnError) {
  uint16_t port;
  {
    auto server = startServer();
    port = server->port();
  }
  auto cfg = masterOnlyConfig("http://127.0.0.1:" + std::to_string(port));
  auto conn = Connection::create(std::move(cfg).value());
  auto r = (*conn)->get(kServices);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("connect 127.0.0.1:" + std::to_string(port)));
}

// ---- TLS ----

TEST(ClientTls, RightCaWorks) {
  fakeapi::Options o;
  o.tls = true;
  auto server = startServer(o);
  ASSERT_EQ(server->url().substr(0, 8), "https://");
  server->upsert(Resource::Services, service("ns", "a", "10.96.0.1"));
  auto conn = connect(*server);
  auto r = conn->get(kServices);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(decodeServiceListText(r->body)->items.size(), 1u);
  Watcher w;
  w.start(*conn, {{"watch", "1"}, {"resourceVersion", "0"}}, 1);
  ASSERT_TRUE(w.wait().ok());
  EXPECT_EQ(w.events.size(), 1u);
  EXPECT_EQ(conn->connectCountForTest(), 1u);
}

TEST(ClientTls, WrongCaIsRefused) {
  fakeapi::Options o;
  o.tls = true;
  auto server = startServer(o);
  auto other = fakeapi::generateSelfSigned("someone-else", {"127.0.0.1"});
  ASSERT_TRUE(other.ok());
  auto cfg = masterOnlyConfig(server->url());
  cfg->caPem = other->certPem;
  auto conn = Connection::create(*cfg);
  ASSERT_TRUE(conn.ok());
  auto r = (*conn)->get(kServices);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("TLS handshake with 127.0.0.1:"));
  EXPECT_THAT(r.error().message(), HasSubstr("self-signed certificate"));
  EXPECT_EQ(server->requestCount(), 0u);

  // insecure-skip-tls-verify accepts it.
  cfg->insecureSkipTlsVerify = true;
  auto insecure = Connection::create(*cfg);
  EXPECT_EQ((*insecure)->get(kServices)->status, 200u);
}

TEST(ClientTls, CertificateForAnotherAddressIsRefused) {
  fakeapi::Options o;
  o.tls = true;
  auto cert = fakeapi::generateSelfSigned("api", {"10.1.2.3", "kube.example"});
  ASSERT_TRUE(cert.ok());
  o.cert = *cert;
  auto server = startServer(o);
  auto conn = connect(*server);
  auto r = conn->get(kServices);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("IP address mismatch"));

  // tls-server-name names what the certificate must carry.
  auto cfg = masterOnlyConfig(server->url());
  cfg->caPem = server->caPem();
  cfg->tlsServerName = "kube.example";
  EXPECT_EQ((*Connection::create(*cfg))->get(kServices)->status, 200u);
}

TEST(ClientTls, StopFromAnotherThreadEndsABlockedWatch) {
  fakeapi::Options o;
  o.tls = true;
  auto server = startServer(o);
  auto conn = connect(*server);
  Watcher w;
  w.start(*conn, {{"watch", "1"}}, 100);
  ASSERT_TRUE(server->waitForWatches(1, 5s));
  conn->stop();
  auto r = w.wait();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("stopped"));
}

std::string base64(const std::string& in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += a[n >> 18];
    out += a[(n >> 12) & 63];
    out += i + 1 < in.size() ? a[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? a[n & 63] : '=';
  }
  return out;
}

// End to end: a kubeconfig with base64 CA and client certificate data against a server requiring client certs.
TEST(ClientTls, KubeconfigWithClientCertificate) {
  auto client = fakeapi::generateSelfSigned("system:node:a", {});
  ASSERT_TRUE(client.ok());
  fakeapi::Options o;
  o.tls = true;
  o.clientCaPem = client->certPem;
  auto server = startServer(o);
  auto kubeconfig = [&](bool withCert) {
    std::string user = withCert ? "    client-certificate-data: " + base64(client->certPem) +
                                      "\n    client-key-data: " + base64(client->keyPem) + "\n"
                                : "    token: t\n";
    return "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n"
           "  cluster:\n    server: " +
           server->url() + "\n    certificate-authority-data: " + base64(server->caPem()) +
           "\nusers:\n- name: u\n  user:\n" + user;
  };
  auto cfg = parseKubeconfig(kubeconfig(true), "/");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  auto conn = Connection::create(*cfg);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  auto r = (*conn)->get(kServices);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200u);

  // Without a client certificate the server refuses the handshake.
  auto noCert = parseKubeconfig(kubeconfig(false), "/");
  ASSERT_TRUE(noCert.ok()) << noCert.error().message();
  auto r2 = (*Connection::create(*noCert))->get(kServices);
  EXPECT_FALSE(r2.ok() && r2->status == 200);
  EXPECT_EQ(server->requestCount(), 1u);
}

TEST(ClientTls, BadCaPemIsAConfigError) {
  auto cfg = masterOnlyConfig("https://127.0.0.1:1");
  cfg->caPem = "not a certificate";
  auto conn = Connection::create(*cfg);
  ASSERT_FALSE(conn.ok());
  EXPECT_THAT(conn.error().message(), HasSubstr("certificate authority"));
}

// ---- tokens ----

TEST(ClientToken, StaleTokenGets401ThenRotatedFileSucceeds) {
  char tmpl[] = "/tmp/nodenet-kc-tok-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/token";
  std::ofstream(path) << "old\n";
  fakeapi::Options o;
  o.requiredToken = "new";
  auto server = startServer(o);
  auto cfg = masterOnlyConfig(server->url());
  cfg->token = *TokenSource::fromFile(path, std::chrono::seconds(3600));
  auto conn = std::move(Connection::create(*cfg)).value();

  auto r = conn->get(kServices);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401u);  // re-read, unchanged: no retry
  EXPECT_EQ(server->requestCount(), 1u);

  std::ofstream(path) << "new\n";  // the kubelet rotated the token
  r = conn->get(kServices);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(server->requestCount(), 3u);  // 401 with the cached token, then the retry

  // Watches retry the same way.
  server->setRequiredToken("newer");
  std::ofstream(path) << "newer\n";
  auto wr = conn->watch(kServices, {{"watch", "1"}, {"timeoutSeconds", "1"}}, [](std::string_view) { return true; });
  ASSERT_TRUE(wr.ok()) << wr.error().message();
  EXPECT_EQ(wr->status, 200u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nodenet::kube
