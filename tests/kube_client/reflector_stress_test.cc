// The reflector + kube::Cache against the fake API server on 127.0.0.1 under harder conditions: huge objects
// (a 2 MiB Service, a 1,000-endpoint EndpointSlice) through list and watch, 410 Gone in the middle of churn
// (the cache must end exactly at the server's state with no events for untouched objects), and a slow server
// during the list.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
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
using namespace std::chrono_literals;

json service(const std::string& name, int ipSuffix) {
  return {{"metadata", {{"namespace", "ns"}, {"name", name}}},
          {"spec",
           {{"clusterIP", "10.96." + std::to_string((ipSuffix / 250) % 250) + "." + std::to_string(ipSuffix % 250 + 1)},
            {"ports", json::array({{{"port", 80}}})}}}};
}

// ~2 MiB of labels: 512 labels of 4 KiB each (values differ per label and per `generation`).
json hugeService(const std::string& name, int generation) {
  json s = service(name, 7);
  json labels = json::object();
  for (int i = 0; i < 512; ++i)
    labels["huge.example.com/l" + std::to_string(i)] =
        std::string(4096 - 16, static_cast<char>('a' + (i + generation) % 26)) + std::to_string(i);
  s["metadata"]["labels"] = labels;
  s["metadata"]["managedFields"] = json::array({{{"manager", "m"}, {"fieldsV1", {{"f:metadata", labels}}}}});
  return s;
}

json bigSlice(const std::string& name, int endpoints, int generation) {
  json eps = json::array();
  for (int i = 0; i < endpoints; ++i)
    eps.push_back({{"addresses", {"10.244." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)}},
                   {"conditions", {{"ready", (i + generation) % 3 != 0}}},
                   {"nodeName", "node-" + std::to_string(i % 50)},
                   {"targetRef", {{"kind", "Pod"}, {"namespace", "ns"}, {"name", "pod-" + std::to_string(i)}}}});
  return {{"metadata",
           {{"namespace", "ns"}, {"name", name}, {"labels", {{"kubernetes.io/service-name", "big"}}}}},
          {"addressType", "IPv4"},
          {"endpoints", eps},
          {"ports", json::array({{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}})}};
}

struct Running {
  std::unique_ptr<Connection> conn;
  std::unique_ptr<Reflector> reflector;
  std::thread thread;

  ~Running() {
    if (reflector) reflector->stop();
    if (thread.joinable()) thread.join();
  }
  bool waitFor(const std::function<bool(const Reflector::Stats&)>& pred, std::chrono::milliseconds limit = 15s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (pred(reflector->stats())) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
};

std::unique_ptr<Running> run(FakeApiServer& server, WatchSink& sink, ObjectKind kind, size_t pageSize,
                             ConnectionOptions copts = {}) {
  auto r = std::make_unique<Running>();
  r->conn = std::move(Connection::create(*masterOnlyConfig(server.url()), copts)).value();
  ReflectorOptions o;
  o.kind = kind;
  o.pageSize = pageSize;
  o.backoffInitial = 10ms;
  o.backoffMax = 100ms;
  r->reflector = std::make_unique<Reflector>(*r->conn, sink, o);
  r->thread = std::thread([p = r.get()] { p->reflector->run(); });
  return r;
}

// key -> resourceVersion of every object of `kind` in the cache.
std::map<std::string, std::string> cacheVersions(const Cache& cache, ObjectKind kind) {
  std::map<std::string, std::string> out;
  for (const auto& [key, obj] : cache.snapshot()->objects(kind)) out[key] = metaOf(*obj).resourceVersion;
  return out;
}

TEST(ReflectorStress, HugeObjectsThroughListAndWatch) {
  auto server = std::move(FakeApiServer::start()).value();
  server->upsert(Resource::Services, hugeService("huge", 0));
  server->upsert(Resource::Services, service("small", 1));
  server->upsert(Resource::EndpointSlices, bigSlice("big-a", 1000, 0));
  Cache cache;
  CacheSink sink(cache);
  auto svc = run(*server, sink, ObjectKind::Service, 1);
  auto eps = run(*server, sink, ObjectKind::EndpointSlice, 500);
  ASSERT_TRUE(server->waitForWatches(2, 15s));

  auto checkService = [&](int generation) {
    const Service* s = cache.snapshot()->service("ns/huge");
    ASSERT_NE(s, nullptr);
    json want = hugeService("huge", generation)["metadata"]["labels"];
    size_t n = 0;
    for (const auto& [k, v] : want.items()) {
      auto got = s->meta.labels.get(k);
      ASSERT_TRUE(got.has_value()) << k;
      EXPECT_EQ(*got, v.get<std::string>()) << k;
      ++n;
    }
    EXPECT_EQ(n, 512u);
  };
  auto checkSlice = [&](const std::string& name, int generation) {
    const EndpointSlice* e = cache.snapshot()->endpointSlice("ns/" + name);
    ASSERT_NE(e, nullptr) << name;
    ASSERT_EQ(e->endpoints.size(), 1000u);
    for (size_t i = 0; i < e->endpoints.size(); ++i) {
      ASSERT_EQ(e->endpoints[i].addresses.size(), 1u);
      EXPECT_EQ(e->endpoints[i].addresses[0].toString(),
                "10.244." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
      EXPECT_EQ(e->endpoints[i].conditions.isReady(), (static_cast<int>(i) + generation) % 3 != 0) << i;
    }
  };
  // Through the list (the huge Service alone on its page).
  checkService(0);
  checkSlice("big-a", 0);
  EXPECT_NE(cache.get(ObjectKind::Service, "ns/small"), nullptr);

  // Through the watch: a 2 MiB MODIFIED line, a 1,000-endpoint ADDED and MODIFIED.
  std::string svcRv = server->upsert(Resource::Services, hugeService("huge", 1));
  server->upsert(Resource::EndpointSlices, bigSlice("big-b", 1000, 2));
  std::string epsRv = server->upsert(Resource::EndpointSlices, bigSlice("big-a", 1000, 1));
  ASSERT_TRUE(svc->waitFor([&](const Reflector::Stats& s) { return std::stoll(s.resourceVersion) >= std::stoll(svcRv); }));
  ASSERT_TRUE(eps->waitFor([&](const Reflector::Stats& s) { return s.resourceVersion == epsRv; }));
  checkService(1);
  checkSlice("big-a", 1);
  checkSlice("big-b", 2);
  EXPECT_EQ(svc->reflector->stats().lists, 1u);
  EXPECT_EQ(eps->reflector->stats().lists, 1u);
  EXPECT_EQ(svc->reflector->stats().badLines, 0u);
  EXPECT_EQ(eps->reflector->stats().failures, 0u);
}

TEST(ReflectorStress, GoneInTheMiddleOfChurnConvergesWithoutSpuriousEvents) {
  auto server = std::move(FakeApiServer::start()).value();
  std::map<std::string, std::string> expected;  // the server's state: key -> resourceVersion
  for (int i = 0; i < 30; ++i)
    expected["ns/stable-" + std::to_string(i)] =
        server->upsert(Resource::Services, service("stable-" + std::to_string(i), i));
  Cache cache;
  CacheSink sink(cache);
  auto r = run(*server, sink, ObjectKind::Service, 7);
  ASSERT_TRUE(server->waitForWatches(1, 15s));
  ASSERT_EQ(cache.size(ObjectKind::Service), 30u);

  std::mutex mu;
  std::map<std::string, int> eventsPerKey;
  cache.subscribe([&](const Event& e) {
    std::lock_guard lock(mu);
    ++eventsPerKey[e.key];
  });

  // Churn: 20 keys, each upserted with a new clusterIP or removed, 1,500 operations.
  std::atomic<bool> churning{true};
  std::thread churn([&] {
    for (int op = 0; op < 1500; ++op) {
      std::string name = "churn-" + std::to_string(op % 20);
      if (op % 7 == 3) {
        if (!server->remove(Resource::Services, "ns", name).empty()) expected.erase("ns/" + name);
      } else {
        expected["ns/" + name] = server->upsert(Resource::Services, service(name, 100 + op));
      }
      if (op % 10 == 0) std::this_thread::sleep_for(2ms);
    }
    churning = false;
  });
  // 410s while the churn runs: an ERROR event on the open watch, and a compaction (the next watch from an old
  // version is refused with 410 too).
  int gones = 0;
  while (churning && gones < 20) {
    if (server->waitForWatches(1, 200ms)) {
      if (gones % 4 == 3) {
        server->compact();
        server->injectDisconnect();
      } else {
        server->injectGone();
      }
      ++gones;
    }
    std::this_thread::sleep_for(15ms);
  }
  churn.join();
  ASSERT_GE(gones, 1);
  std::string finalRv = server->resourceVersion();
  ASSERT_TRUE(r->waitFor([&](const Reflector::Stats& s) { return s.resourceVersion == finalRv; }))
      << "reflector at " << r->reflector->stats().resourceVersion << ", server at " << finalRv;
  EXPECT_GE(r->reflector->stats().relists410, 1u);
  EXPECT_GE(r->reflector->stats().lists, 2u);
  EXPECT_EQ(cacheVersions(cache, ObjectKind::Service), expected);
  std::lock_guard lock(mu);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(eventsPerKey.count("ns/stable-" + std::to_string(i)), 0u) << i;
  // Every event is for a churned key, and a key never sees more events than it had operations (75 each).
  for (const auto& [key, n] : eventsPerKey) {
    EXPECT_THAT(key, ::testing::StartsWith("ns/churn-"));
    EXPECT_LE(n, 75) << key;
  }
}

TEST(ReflectorStress, SlowServerDuringListStillSyncsAndConverges) {
  auto server = std::move(FakeApiServer::start()).value();
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 40; ++i)
    expected["ns/s" + std::to_string(i)] = server->upsert(Resource::Services, service("s" + std::to_string(i), i));
  server->setResponseDelay(150ms);  // every page and the watch: 4 pages of 10 -> >= 600 ms of list
  Cache cache;
  CacheSink sink(cache);
  ConnectionOptions copts;
  copts.requestTimeout = 2s;  // the delay stays inside the client's timeouts
  auto start = std::chrono::steady_clock::now();
  auto r = run(*server, sink, ObjectKind::Service, 10, copts);
  // Changes while the list pages: the list serves its first page's snapshot, the watch replays the rest.
  std::this_thread::sleep_for(200ms);
  expected["ns/s3"] = server->upsert(Resource::Services, service("s3", 203));
  server->remove(Resource::Services, "ns", "s39");
  expected.erase("ns/s39");
  expected["ns/new"] = server->upsert(Resource::Services, service("new", 204));
  ASSERT_TRUE(server->waitForWatches(1, 15s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 600ms);
  EXPECT_TRUE(cache.synced(ObjectKind::Service));
  std::string finalRv = server->resourceVersion();
  ASSERT_TRUE(r->waitFor([&](const Reflector::Stats& s) { return s.resourceVersion == finalRv; }));
  EXPECT_EQ(cacheVersions(cache, ObjectKind::Service), expected);
  auto st = r->reflector->stats();
  EXPECT_EQ(st.lists, 1u);
  EXPECT_EQ(st.failures, 0u);
  EXPECT_EQ(cache.snapshot()->service("ns/s3")->clusterIPs.size(), 1u);
}

TEST(ReflectorStress, ServerSlowerThanTheRequestTimeoutIsRetriedUntilItSyncs) {
  auto server = std::move(FakeApiServer::start()).value();
  for (int i = 0; i < 5; ++i) server->upsert(Resource::Services, service("s" + std::to_string(i), i));
  server->setResponseDelay(1500ms);
  Cache cache;
  CacheSink sink(cache);
  ConnectionOptions copts;
  copts.requestTimeout = 300ms;
  auto r = run(*server, sink, ObjectKind::Service, 2, copts);
  ASSERT_TRUE(r->waitFor([](const Reflector::Stats& s) { return s.failures >= 1; }, 10s));
  EXPECT_FALSE(cache.synced(ObjectKind::Service));
  server->setResponseDelay(50ms);
  ASSERT_TRUE(r->waitFor([](const Reflector::Stats& s) { return s.lists == 1; }, 15s));
  EXPECT_EQ(cache.size(ObjectKind::Service), 5u);
  EXPECT_TRUE(cache.synced(ObjectKind::Service));
}

}  // namespace
}  // namespace nodenet::kube
