// kube/cache: real-change detection, minimal relist diffs, snapshot isolation, consumer filters.
// IP plan: cluster IPs 10.96.0.x, pod IPs 10.85.0.x, node 192.168.0.10.
#include "kube/cache/cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"

namespace nodenet::kube {
namespace {

Object svc(const std::string& name, const std::string& ip, int port = 80, const std::string& rv = "1",
           const std::string& labels = "{}") {
  auto r = decodeObjectText(strCat(R"({"kind":"Service","apiVersion":"v1","metadata":{"namespace":"default","name":")",
                                   name, R"(","resourceVersion":")", rv, R"(","labels":)", labels,
                                   R"(},"spec":{"clusterIP":")", ip, R"(","ports":[{"port":)", port, "}]}}"));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return std::move(r).value();
}

Object slice(const std::string& name, const std::string& service, const std::string& podIp,
             const std::string& extraLabels = "") {
  auto r = decodeObjectText(
      strCat(R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"namespace":"default","name":")",
             name, R"(","labels":{"kubernetes.io/service-name":")", service, "\"", extraLabels,
             R"(}},"addressType":"IPv4","endpoints":[{"addresses":[")", podIp, R"("]}],"ports":[{"port":8080}]})"));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return std::move(r).value();
}

Object node(const std::string& name) {
  auto r = decodeObjectText(strCat(R"({"kind":"Node","apiVersion":"v1","metadata":{"name":")", name,
                                   R"("},"status":{"addresses":[{"type":"InternalIP","address":"192.168.0.10"}]}})"));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return std::move(r).value();
}

std::string describe(const std::vector<Event>& events) {
  std::vector<std::string> parts;
  for (const Event& e : events) parts.push_back(strCat(eventTypeName(e.type), " ", objectKindName(e.kind), " ", e.key));
  return join(parts, ", ");
}

TEST(CacheTest, AddModifyNoOpDelete) {
  Cache cache;
  std::vector<Event> seen;
  cache.subscribe([&](const Event& e) { seen.push_back(e); });

  auto e = cache.apply(Event::added(svc("web", "10.96.0.10")));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::Added);
  EXPECT_EQ(e->key, "default/web");
  EXPECT_EQ(e->previous, nullptr);
  ASSERT_NE(e->current, nullptr);

  // Same content, new resourceVersion: no change, but the cache keeps the newest version.
  EXPECT_FALSE(cache.apply(Event::modified(svc("web", "10.96.0.10", 80, "2"))));
  EXPECT_EQ(metaOf(*cache.get(ObjectKind::Service, "default/web")).resourceVersion, "2");
  // An Added for a known object with new content reports Modified, with the cache's previous copy.
  e = cache.apply(Event::added(svc("web", "10.96.0.10", 8080, "3")));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::Modified);
  EXPECT_EQ(std::get<Service>(*e->previous).ports[0].port, 80);
  EXPECT_EQ(std::get<Service>(*e->current).ports[0].port, 8080);

  e = cache.apply(Event::deleted(ObjectKind::Service, "default/web"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::Deleted);
  EXPECT_EQ(std::get<Service>(*e->previous).ports[0].port, 8080);
  EXPECT_EQ(e->current, nullptr);
  EXPECT_FALSE(cache.apply(Event::deleted(ObjectKind::Service, "default/web")));  // already gone

  EXPECT_EQ(describe(seen), "Added Service default/web, Modified Service default/web, Deleted Service default/web");
  EXPECT_EQ(cache.size(ObjectKind::Service), 0u);
}

TEST(CacheTest, KindsAreSeparate) {
  Cache cache;
  ASSERT_TRUE(cache.apply(Event::added(svc("web", "10.96.0.10"))));
  ASSERT_TRUE(cache.apply(Event::added(slice("web", "web", "10.85.0.5"))));
  ASSERT_TRUE(cache.apply(Event::added(node("node-a"))));
  auto snap = cache.snapshot();
  EXPECT_EQ(snap->size(ObjectKind::Service), 1u);
  EXPECT_EQ(snap->size(ObjectKind::EndpointSlice), 1u);
  ASSERT_NE(snap->node("node-a"), nullptr);
  EXPECT_EQ(snap->node("node-a")->ips(NodeAddressType::InternalIP)[0].toString(), "192.168.0.10");
  ASSERT_NE(snap->endpointSlice("default/web"), nullptr);
  EXPECT_EQ(snap->endpointSlice("default/web")->serviceName(), "web");
  EXPECT_EQ(snap->service("default/nope"), nullptr);
}

TEST(CacheTest, ReplaceAllEmitsOnlyTheDifferences) {
  Cache cache;
  EXPECT_FALSE(cache.synced(ObjectKind::Service));
  auto events = cache.replaceAll(ObjectKind::Service,
                                 {svc("a", "10.96.0.1"), svc("b", "10.96.0.2"), svc("c", "10.96.0.3")}, "100");
  EXPECT_EQ(describe(events), "Added Service default/a, Added Service default/b, Added Service default/c");
  EXPECT_TRUE(cache.synced(ObjectKind::Service));
  EXPECT_FALSE(cache.synced(ObjectKind::EndpointSlice));
  EXPECT_EQ(cache.resourceVersion(ObjectKind::Service), "100");

  std::vector<Event> seen;
  cache.subscribe([&](const Event& e) { seen.push_back(e); });
  // Relist after 410: a unchanged (new resourceVersion only), b changed, c gone, d new.
  events = cache.replaceAll(ObjectKind::Service,
                            {svc("d", "10.96.0.4"), svc("b", "10.96.0.2", 443), svc("a", "10.96.0.1", 80, "7")}, "200");
  EXPECT_EQ(describe(events), "Deleted Service default/c, Modified Service default/b, Added Service default/d");
  EXPECT_EQ(describe(seen), describe(events));
  EXPECT_EQ(cache.resourceVersion(ObjectKind::Service), "200");
  EXPECT_EQ(metaOf(*cache.get(ObjectKind::Service, "default/a")).resourceVersion, "7");

  // The same list again: nothing.
  events = cache.replaceAll(ObjectKind::Service,
                            {svc("d", "10.96.0.4"), svc("b", "10.96.0.2", 443), svc("a", "10.96.0.1", 80, "7")});
  EXPECT_TRUE(events.empty()) << describe(events);
  // Other kinds are untouched by a Service relist; an empty list deletes everything of the kind.
  ASSERT_TRUE(cache.apply(Event::added(node("node-a"))));
  events = cache.replaceAll(ObjectKind::Service, {});
  EXPECT_EQ(describe(events), "Deleted Service default/a, Deleted Service default/b, Deleted Service default/d");
  EXPECT_EQ(cache.size(ObjectKind::Node), 1u);
}

TEST(CacheTest, ReplaceAllSharedKeepsTheCallersCopyOfUnchangedObjects) {
  Cache cache;
  auto ptr = [](Object o) { return std::make_shared<const Object>(std::move(o)); };
  ObjectPtr a1 = ptr(svc("a", "10.96.0.1")), b1 = ptr(svc("b", "10.96.0.2"));
  auto events = cache.replaceAllShared(ObjectKind::Service, {a1, b1});
  EXPECT_EQ(describe(events), "Added Service default/a, Added Service default/b");
  EXPECT_EQ(cache.get(ObjectKind::Service, "default/a"), a1);  // stored, not copied
  auto before = cache.snapshot();

  // The caller re-read its files: equal content in new objects. No event, and the cache now holds the
  // caller's objects, so the two no longer keep two equal copies.
  ObjectPtr a2 = ptr(svc("a", "10.96.0.1")), b2 = ptr(svc("b", "10.96.0.2", 443));
  std::vector<Event> seen;
  cache.subscribe([&](const Event& e) { seen.push_back(e); });
  events = cache.replaceAllShared(ObjectKind::Service, {a2, b2});
  EXPECT_EQ(describe(events), "Modified Service default/b");
  EXPECT_EQ(describe(seen), describe(events));
  EXPECT_EQ(cache.get(ObjectKind::Service, "default/a"), a2);
  EXPECT_EQ(cache.get(ObjectKind::Service, "default/b"), b2);
  EXPECT_EQ(before->service("default/a"), &std::get<Service>(*a1));  // a snapshot keeps what it saw
  EXPECT_EQ(a1.use_count(), 2);                                      // ours and the old snapshot's map
  before.reset();
  EXPECT_EQ(a1.use_count(), 1);

  // The plain replaceAll still keeps the cache's own copy of an unchanged object.
  events = cache.replaceAll(ObjectKind::Service, {svc("a", "10.96.0.1"), svc("b", "10.96.0.2", 443)});
  EXPECT_TRUE(events.empty()) << describe(events);
  EXPECT_EQ(cache.get(ObjectKind::Service, "default/a"), a2);
}

TEST(CacheTest, TypedReplaceAll) {
  Cache cache;
  std::vector<Service> items{std::get<Service>(svc("a", "10.96.0.1"))};
  auto events = cache.replaceAll(std::move(items), "5");
  EXPECT_EQ(describe(events), "Added Service default/a");
  EXPECT_EQ(cache.resourceVersion(ObjectKind::Service), "5");
}

TEST(CacheTest, SnapshotIsIsolatedFromLaterWrites) {
  Cache cache;
  cache.replaceAll(ObjectKind::Service, {svc("a", "10.96.0.1"), svc("b", "10.96.0.2")});
  auto before = cache.snapshot();
  EXPECT_EQ(before, cache.snapshot()) << "an unchanged cache hands out the same snapshot";
  uint64_t v = before->version();

  ASSERT_TRUE(cache.apply(Event::modified(svc("a", "10.96.0.1", 9090))));
  ASSERT_TRUE(cache.apply(Event::deleted(ObjectKind::Service, "default/b")));
  ASSERT_TRUE(cache.apply(Event::added(svc("c", "10.96.0.3"))));
  cache.markSynced(ObjectKind::Node);

  EXPECT_EQ(before->size(ObjectKind::Service), 2u);
  EXPECT_EQ(before->service("default/a")->ports[0].port, 80);
  EXPECT_NE(before->service("default/b"), nullptr);
  EXPECT_EQ(before->service("default/c"), nullptr);
  EXPECT_FALSE(before->synced(ObjectKind::Node));
  EXPECT_EQ(before->version(), v);

  auto after = cache.snapshot();
  EXPECT_EQ(after->service("default/a")->ports[0].port, 9090);
  EXPECT_EQ(after->service("default/b"), nullptr);
  EXPECT_NE(after->service("default/c"), nullptr);
  EXPECT_TRUE(after->synced(ObjectKind::Node));
  EXPECT_GT(after->version(), v);
  // A kind nobody wrote is shared, not copied.
  EXPECT_EQ(&before->objects(ObjectKind::EndpointSlice), &after->objects(ObjectKind::EndpointSlice));
}

TEST(CacheTest, ConcurrentReadersSeeConsistentSnapshots) {
  Cache cache;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> bad{0};
  // Readers check an invariant the writer keeps in every state it publishes: service i exists with port i+1000.
  auto reader = [&] {
    while (!done.load()) {
      auto s = cache.snapshot();
      for (const auto& [key, obj] : s->objects(ObjectKind::Service)) {
        const Service& sv = std::get<Service>(*obj);
        if (strCat("default/s", sv.ports[0].port - 1000) != key) ++bad;
      }
      ++reads;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int round = 0; round < 200; ++round) {
    int i = round % 20;
    if (round % 3 == 2)
      cache.apply(Event::deleted(ObjectKind::Service, strCat("default/s", i)));
    else
      cache.apply(Event::added(svc(strCat("s", i), strCat("10.96.0.", i + 1), 1000 + i)));
  }
  while (reads.load() < 50) std::this_thread::yield();
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(CacheTest, ProxyFilterDropsForeignAndHeadlessSlices) {
  ObjectFilter proxy = proxyFilter();
  ObjectFilter dns = dnsFilter();
  Object plain = svc("web", "10.96.0.10");
  Object foreign = svc("other", "10.96.0.11", 80, "1", R"({"service.kubernetes.io/service-proxy-name":"foo"})");
  Object headlessSlice = slice("db-abc", "db", "10.85.0.7", R"(,"service.kubernetes.io/headless":"")");
  Object foreignSlice =
      slice("other-abc", "other", "10.85.0.8", R"(,"service.kubernetes.io/service-proxy-name":"foo")");
  Object plainSlice = slice("web-abc", "web", "10.85.0.5");
  EXPECT_TRUE(proxy(plain));
  EXPECT_FALSE(proxy(foreign));
  EXPECT_FALSE(proxy(headlessSlice));
  EXPECT_FALSE(proxy(foreignSlice));
  EXPECT_TRUE(proxy(plainSlice));
  EXPECT_TRUE(proxy(node("node-a")));
  for (const Object* o : {&plain, &foreign, &headlessSlice, &foreignSlice, &plainSlice}) EXPECT_TRUE(dns(*o));

  Cache cache;
  std::vector<Event> proxySeen, dnsSeen;
  cache.subscribe([&](const Event& e) { proxySeen.push_back(e); }, proxyFilter());
  cache.subscribe([&](const Event& e) { dnsSeen.push_back(e); }, dnsFilter());
  cache.replaceAll(ObjectKind::EndpointSlice, {headlessSlice, plainSlice});
  EXPECT_EQ(describe(proxySeen), "Added EndpointSlice default/web-abc");
  EXPECT_EQ(describe(dnsSeen), "Added EndpointSlice default/db-abc, Added EndpointSlice default/web-abc");

  // A label change moves an object across the filter: the proxy sees Deleted, then Added.
  proxySeen.clear();
  cache.apply(Event::modified(slice("web-abc", "web", "10.85.0.5", R"(,"service.kubernetes.io/headless":"")")));
  cache.apply(Event::modified(slice("web-abc", "web", "10.85.0.6")));
  EXPECT_EQ(describe(proxySeen), "Deleted EndpointSlice default/web-abc, Added EndpointSlice default/web-abc");
  EXPECT_NE(proxySeen[0].previous, nullptr);
  EXPECT_EQ(proxySeen[0].current, nullptr);
  EXPECT_EQ(proxySeen[1].previous, nullptr);

  // Snapshots filter on read.
  std::vector<std::string> names;
  cache.snapshot()->forEach<EndpointSlice>([&](const EndpointSlice& s) { names.push_back(s.meta.name); },
                                           proxyFilter());
  EXPECT_EQ(join(names, ","), "web-abc");
  names.clear();
  cache.snapshot()->forEach<EndpointSlice>([&](const EndpointSlice& s) { names.push_back(s.meta.name); });
  EXPECT_EQ(join(names, ","), "db-abc,web-abc");
}

TEST(CacheTest, UnsubscribeAndReadFromHandler) {
  Cache cache;
  int calls = 0;
  size_t sizeInHandler = 0;
  auto id = cache.subscribe([&](const Event&) {
    ++calls;
    sizeInHandler = cache.snapshot()->size(ObjectKind::Service);  // reads are allowed in a handler
  });
  cache.replaceAll(ObjectKind::Service, {svc("a", "10.96.0.1"), svc("b", "10.96.0.2")});
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(sizeInHandler, 2u) << "handlers run after the whole replace is applied";
  cache.unsubscribe(id);
  cache.apply(Event::added(svc("c", "10.96.0.3")));
  EXPECT_EQ(calls, 2);
}

TEST(CacheDeathTest, HandlerWritingToItsCacheAborts) {
  Cache cache;
  cache.subscribe([&](const Event&) { cache.markSynced(ObjectKind::Node); });
  EXPECT_DEATH(cache.apply(Event::added(svc("a", "10.96.0.1"))), "handler wrote to the cache");
}

TEST(CacheTest, WatchEventsMapToCacheChanges) {
  Cache cache;
  auto decode = [](const std::string& text) {
    auto r = decodeWatchEventText(text, ObjectKind::Service);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return std::move(r).value();
  };
  const std::string obj = R"({"metadata":{"namespace":"default","name":"web","resourceVersion":"5"},)"
                          R"("spec":{"clusterIP":"10.96.0.10","ports":[{"port":80}]}})";
  auto e = eventFromWatch(decode(R"({"type":"ADDED","object":)" + obj + "}"), ObjectKind::Service);
  ASSERT_TRUE(e);
  ASSERT_TRUE(cache.apply(*e));
  // The Service became invalid: it must stop being served.
  e = eventFromWatch(decode(R"({"type":"MODIFIED","object":{"metadata":{"namespace":"default","name":"web"},)"
                            R"("spec":{"ports":[{"port":"http"}]}}})"),
                     ObjectKind::Service);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::Deleted);
  EXPECT_EQ(e->key, "default/web");
  ASSERT_TRUE(cache.apply(*e));
  EXPECT_EQ(cache.size(ObjectKind::Service), 0u);
  EXPECT_FALSE(eventFromWatch(decode(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})"),
                              ObjectKind::Service));
  e = eventFromWatch(decode(R"({"type":"DELETED","object":)" + obj + "}"), ObjectKind::Service);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::Deleted);
  EXPECT_FALSE(cache.apply(*e)) << "already gone";
}

TEST(CacheTest, SameContentIgnoresOnlyResourceVersion) {
  EXPECT_TRUE(sameContent(svc("a", "10.96.0.1", 80, "1"), svc("a", "10.96.0.1", 80, "2")));
  EXPECT_FALSE(sameContent(svc("a", "10.96.0.1", 80, "1"), svc("a", "10.96.0.2", 80, "1")));
  EXPECT_FALSE(sameContent(svc("a", "10.96.0.1"), slice("a", "a", "10.85.0.1")));
}

}  // namespace
}  // namespace nodenet::kube
