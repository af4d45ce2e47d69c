// Server-side selectors: the reflector sends kube-proxy's labelSelector and the Node fieldSelector; the fake API
// server filters lists and watches, sending an object that leaves the selector as DELETED and one that enters
// it as ADDED, so the cache holds exactly the selected objects.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "integration/fakeapi/fake_api_server.h"
#include "kube/watch/cache_sink.h"
#include "kube/watch/reflector.h"

namespace nodenet::kube {
namespace {

using fakeapi::FakeApiServer;
using fakeapi::Resource;
using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const char* kProxyName = "service.kubernetes.io/service-proxy-name";
const char* kHeadless = "service.kubernetes.io/headless";

json service(const std::string& name, json labels = json::object()) {
  return {{"metadata", {{"namespace", "ns"}, {"name", name}, {"labels", labels}}},
          {"spec", {{"clusterIP", "10.96.0.10"}, {"ports", json::array({{{"port", 80}}})}}}};
}
json slice(const std::string& name, json labels) {
  labels["kubernetes.io/service-name"] = name;
  return {{"metadata", {{"namespace", "ns"}, {"name", name + "-1"}, {"labels", labels}}},
          {"addressType", "IPv4"},
          {"endpoints", json::array({{{"addresses", {"10.244.0.5"}}}})},
          {"ports", json::array({{{"port", 8080}}})}};
}
json node(const std::string& name, const std::string& ip) {
  return {{"metadata", {{"name", name}}},
          {"status", {{"addresses", json::array({{{"type", "InternalIP"}, {"address", ip}}})}}}};
}

struct Running {
  std::unique_ptr<Connection> conn;
  std::unique_ptr<Reflector> reflector;
  std::thread thread;
  ~Running() {
    if (reflector) reflector->stop();
    if (thread.joinable()) thread.join();
  }
  bool waitRv(const std::string& rv) {
    for (int i = 0; i < 2000; ++i) {
      if (reflector->stats().resourceVersion == rv) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
};

std::unique_ptr<Running> run(FakeApiServer& server, WatchSink& sink, ObjectKind kind, std::string labelSelector,
                             std::string fieldSelector = {}) {
  auto r = std::make_unique<Running>();
  r->conn = std::move(Connection::create(*masterOnlyConfig(server.url()))).value();
  ReflectorOptions o;
  o.kind = kind;
  o.pageSize = 2;
  o.labelSelector = std::move(labelSelector);
  o.fieldSelector = std::move(fieldSelector);
  o.backoffInitial = 10ms;
  o.backoffMax = 50ms;
  r->reflector = std::make_unique<Reflector>(*r->conn, sink, o);
  r->thread = std::thread([p = r.get()] { p->reflector->run(); });
  return r;
}

std::vector<std::string> keys(const Cache& cache, ObjectKind kind) {
  std::vector<std::string> out;
  for (const auto& [k, o] : cache.snapshot()->objects(kind)) out.push_back(k);
  return out;
}

TEST(Selectors, ConsumerSelectors) {
  EXPECT_EQ(proxyLabelSelector(ObjectKind::Service), "!service.kubernetes.io/service-proxy-name");
  EXPECT_EQ(proxyLabelSelector(ObjectKind::EndpointSlice),
            "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless");
  EXPECT_EQ(proxyLabelSelector(ObjectKind::Node), "");
  EXPECT_EQ(nodeFieldSelector("node-a"), "metadata.name=node-a");
}

TEST(Selectors, ProxyLabelSelectorsFilterListsAndWatches) {
  auto server = std::move(FakeApiServer::start()).value();
  server->upsert(Resource::Services, service("mine"));
  server->upsert(Resource::Services, service("other", {{kProxyName, "other-proxy"}}));
  server->upsert(Resource::Services, service("headless", {{kHeadless, ""}}));  // Services keep headless ones
  server->upsert(Resource::EndpointSlices, slice("mine", json::object()));
  server->upsert(Resource::EndpointSlices, slice("headless", {{kHeadless, ""}}));
  server->upsert(Resource::EndpointSlices, slice("other", {{kProxyName, "other-proxy"}}));
  Cache cache;
  CacheSink sink(cache);
  std::mutex mu;
  std::vector<std::string> events;
  cache.subscribe([&](const Event& e) {
    std::lock_guard lock(mu);
    events.push_back(std::string(e.type == EventType::Added      ? "Added "
                                 : e.type == EventType::Modified ? "Modified "
                                                                 : "Deleted ") +
                     e.key);
  });
  auto svc = run(*server, sink, ObjectKind::Service, proxyLabelSelector(ObjectKind::Service));
  auto eps = run(*server, sink, ObjectKind::EndpointSlice, proxyLabelSelector(ObjectKind::EndpointSlice));
  ASSERT_TRUE(server->waitForWatches(2, 10s));
  EXPECT_THAT(keys(cache, ObjectKind::Service), ElementsAre("ns/headless", "ns/mine"));
  EXPECT_THAT(keys(cache, ObjectKind::EndpointSlice), ElementsAre("ns/mine-1"));
  auto targets = server->requestTargets();
  EXPECT_THAT(targets, Contains(HasSubstr("labelSelector=%21service.kubernetes.io%2Fservice-proxy-name%2C%21service."
                                          "kubernetes.io%2Fheadless")));
  EXPECT_THAT(targets, Contains(AllOf(HasSubstr("watch=1"), HasSubstr("labelSelector=%21service.kubernetes.io%2F"
                                                                      "service-proxy-name"))));
  {
    std::lock_guard lock(mu);
    events.clear();
  }

  // "mine" is taken over by another proxy: DELETED; "other" is released: ADDED; unselected changes: nothing.
  server->upsert(Resource::Services, service("mine", {{kProxyName, "other-proxy"}}));
  server->upsert(Resource::Services, service("other"));
  server->upsert(Resource::EndpointSlices, slice("headless", {{kHeadless, ""}, {"x", "y"}}));  // stays out
  server->upsert(Resource::EndpointSlices, slice("mine", {{kHeadless, ""}}));                 // leaves
  std::string rv = server->upsert(Resource::EndpointSlices, slice("other", json::object()));  // enters
  ASSERT_TRUE(eps->waitRv(rv));
  ASSERT_TRUE(svc->waitRv(std::to_string(std::stoll(rv) - 3)));
  EXPECT_THAT(keys(cache, ObjectKind::Service), ElementsAre("ns/headless", "ns/other"));
  EXPECT_THAT(keys(cache, ObjectKind::EndpointSlice), ElementsAre("ns/other-1"));
  {
    std::lock_guard lock(mu);
    std::sort(events.begin(), events.end());
    EXPECT_THAT(events, ElementsAre("Added ns/other", "Added ns/other-1", "Deleted ns/mine", "Deleted ns/mine-1"));
    events.clear();
  }

  // A re-watch replays the log through the selector as well.
  server->injectDisconnect();
  server->upsert(Resource::Services, service("mine"));  // back in
  rv = server->remove(Resource::Services, "ns", "other");
  ASSERT_TRUE(svc->waitRv(rv));
  EXPECT_THAT(keys(cache, ObjectKind::Service), ElementsAre("ns/headless", "ns/mine"));
  EXPECT_EQ(svc->reflector->stats().lists, 1u);
}

TEST(Selectors, NodeFieldSelectorWatchesOneNode) {
  auto server = std::move(FakeApiServer::start()).value();
  server->upsert(Resource::Nodes, node("node-a", "192.0.2.1"));
  server->upsert(Resource::Nodes, node("node-b", "192.0.2.2"));
  Cache cache;
  CacheSink sink(cache);
  auto r = run(*server, sink, ObjectKind::Node, proxyLabelSelector(ObjectKind::Node), nodeFieldSelector("node-a"));
  ASSERT_TRUE(server->waitForWatches(1, 10s));
  EXPECT_THAT(keys(cache, ObjectKind::Node), ElementsAre("node-a"));
  server->upsert(Resource::Nodes, node("node-b", "192.0.2.3"));
  std::string rv = server->upsert(Resource::Nodes, node("node-a", "192.0.2.4"));
  ASSERT_TRUE(r->waitRv(rv));
  EXPECT_THAT(keys(cache, ObjectKind::Node), ElementsAre("node-a"));
  EXPECT_EQ(cache.snapshot()->node("node-a")->addresses.at(0).address, "192.0.2.4");
  EXPECT_THAT(server->requestTargets(), Contains(HasSubstr("fieldSelector=metadata.name%3Dnode-a")));
}

TEST(Selectors, DnsWatchesEverythingAndSetBasedSelectorsAreRejected) {
  auto server = std::move(FakeApiServer::start()).value();
  server->upsert(Resource::EndpointSlices, slice("mine", json::object()));
  server->upsert(Resource::EndpointSlices, slice("headless", {{kHeadless, ""}}));
  Cache cache;
  CacheSink sink(cache);
  auto r = run(*server, sink, ObjectKind::EndpointSlice, "");
  ASSERT_TRUE(server->waitForWatches(1, 10s));
  EXPECT_THAT(keys(cache, ObjectKind::EndpointSlice), ElementsAre("ns/headless-1", "ns/mine-1"));
  auto conn = std::move(Connection::create(*masterOnlyConfig(server->url()))).value();
  auto res = conn->get(resourcePathFor(ObjectKind::Service), {{"labelSelector", "env in (a,b)"}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 400u);
  res = conn->get(resourcePathFor(ObjectKind::EndpointSlice), {{"labelSelector", "kubernetes.io/service-name=mine"}});
  ASSERT_TRUE(res.ok());
  EXPECT_THAT(res->body, HasSubstr("mine-1"));
  EXPECT_THAT(res->body, ::testing::Not(HasSubstr("headless-1")));
}

}  // namespace
}  // namespace nodenet::kube
