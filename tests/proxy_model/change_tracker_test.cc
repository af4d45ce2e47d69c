// proxy/model: the change tracker over a real kube::Cache.
//
// IP plan: node-a 192.168.99.2 (zone-a), node-b 192.168.99.3; Services ns1/svc1, ns1/svc2; pods 10.180.0.x.
#include <gtest/gtest.h>

#include <thread>

#include "proxy/model/change_tracker.h"

namespace nodenet::proxy::model {
namespace {

kube::InternedString in(std::string_view s) { return kube::InternedString(s); }

kube::Service service(const char* ns, const char* name, const char* ip) {
  kube::Service s;
  s.meta.ns = in(ns);
  s.meta.name = name;
  s.clusterIPs.push_back(*IpAddress::parse(ip));
  kube::ServicePort p;
  p.port = 80;
  s.ports.push_back(p);
  return s;
}

kube::EndpointSlice slice(const char* ns, const char* svc, const char* name, const char* epIp,
                          const char* trigger = nullptr) {
  kube::EndpointSlice sl;
  sl.meta.ns = in(ns);
  sl.meta.name = name;
  sl.meta.labels = kube::StringMap({{in(kube::kLabelServiceName), svc}});
  if (trigger) sl.meta.annotations = kube::StringMap({{in(kube::kAnnotationLastChangeTriggerTime), trigger}});
  kube::Endpoint ep;
  ep.addresses.push_back(*IpAddress::parse(epIp));
  sl.endpoints.push_back(ep);
  return sl;
}

kube::Node node(const char* name, const char* addr, const char* zone) {
  kube::Node n;
  n.meta.name = name;
  n.meta.labels = kube::StringMap({{in(kube::kLabelZone), zone}});
  kube::NodeAddress a;
  a.type = kube::NodeAddressType::InternalIP;
  a.address = addr;
  a.ip = *IpAddress::parse(addr);
  n.addresses.push_back(a);
  return n;
}

class TrackerTest : public ::testing::Test {
 protected:
  TrackerTest() : tracker_("node-a") {
    sub_ = cache_.subscribe([this](const kube::Event& e) { tracker_.record(e); }, kube::proxyFilter());
  }
  ~TrackerTest() override { cache_.unsubscribe(sub_); }
  void put(kube::Object o) { cache_.apply(kube::Event::added(std::move(o))); }
  void del(kube::ObjectKind k, const char* key) { cache_.apply(kube::Event::deleted(k, key)); }
  std::vector<std::string> keys(const Changes& c) {
    std::vector<std::string> out;
    for (const auto& [k, v] : c.services) out.push_back(k);
    return out;
  }

  kube::Cache cache_;
  ChangeTracker tracker_;
  kube::Cache::SubscriptionId sub_;
};

TEST_F(TrackerTest, ServicesAndSlicesTouchTheirServiceKeys) {
  put(service("ns1", "svc1", "172.30.0.41"));
  put(slice("ns1", "svc2", "svc2-a", "10.180.0.1"));
  EXPECT_TRUE(tracker_.pending());
  Changes c = tracker_.checkout(cache_);
  EXPECT_EQ(keys(c), (std::vector<std::string>{"ns1/svc1", "ns1/svc2"}));
  EXPECT_EQ(c.services["ns1/svc2"], std::vector<std::string>{"ns1/svc2-a"});
  EXPECT_TRUE(c.services["ns1/svc1"].empty());
  ASSERT_TRUE(c.snapshot);
  EXPECT_NE(c.snapshot->service("ns1/svc1"), nullptr);
  EXPECT_FALSE(tracker_.pending());
  EXPECT_TRUE(tracker_.checkout(cache_).empty());
}

TEST_F(TrackerTest, ChangeBackToStartVanishes) {
  put(service("ns1", "svc1", "172.30.0.41"));
  tracker_.checkout(cache_);
  put(service("ns1", "svc1", "172.30.0.99"));
  put(service("ns1", "svc1", "172.30.0.41"));
  EXPECT_TRUE(tracker_.checkout(cache_).empty());
  put(service("ns1", "svc2", "172.30.0.42"));
  del(kube::ObjectKind::Service, "ns1/svc2");
  EXPECT_TRUE(tracker_.checkout(cache_).empty());
}

TEST_F(TrackerTest, SliceMovingBetweenServicesTouchesBoth) {
  put(slice("ns1", "svc1", "s", "10.180.0.1"));
  tracker_.checkout(cache_);
  put(slice("ns1", "svc2", "s", "10.180.0.1"));
  Changes c = tracker_.checkout(cache_);
  EXPECT_EQ(keys(c), (std::vector<std::string>{"ns1/svc1", "ns1/svc2"}));
  EXPECT_TRUE(c.services["ns1/svc1"].empty());
  EXPECT_EQ(c.services["ns1/svc2"], std::vector<std::string>{"ns1/s"});
  EXPECT_EQ(tracker_.slicesOf("ns1/svc2"), std::vector<std::string>{"ns1/s"});
  EXPECT_TRUE(tracker_.slicesOf("ns1/svc1").empty());
}

TEST_F(TrackerTest, OnlyOwnNodeAndOnlyRelevantFields) {
  put(node("node-b", "192.168.99.3", "zone-b"));
  EXPECT_FALSE(tracker_.pending());
  put(node("node-a", "192.168.99.2", "zone-a"));
  Changes c = tracker_.checkout(cache_);
  EXPECT_TRUE(c.nodeChanged);
  kube::Node same = node("node-a", "192.168.99.2", "zone-a");
  same.unschedulable = true;  // not read by the rules
  put(same);
  EXPECT_FALSE(tracker_.checkout(cache_).nodeChanged);
  put(node("node-a", "192.168.99.2", "zone-z"));
  EXPECT_TRUE(tracker_.checkout(cache_).nodeChanged);
}

TEST_F(TrackerTest, FilteredObjectsAreInvisible) {
  kube::Service s = service("ns1", "other", "172.30.0.43");
  s.meta.labels = kube::StringMap({{in(kube::kLabelServiceProxyName), "x"}});
  put(s);
  EXPECT_FALSE(tracker_.pending());
  // Gaining the label looks like a deletion.
  put(service("ns1", "svc1", "172.30.0.41"));
  tracker_.checkout(cache_);
  kube::Service l = service("ns1", "svc1", "172.30.0.41");
  l.meta.labels = kube::StringMap({{in(kube::kLabelServiceProxyName), "x"}});
  put(l);
  EXPECT_EQ(keys(tracker_.checkout(cache_)), std::vector<std::string>{"ns1/svc1"});
}

TEST_F(TrackerTest, TriggerTimesOldestFirst) {
  put(slice("ns1", "svc1", "a", "10.180.0.1", "2024-05-01T10:00:05Z"));
  put(slice("ns1", "svc2", "b", "10.180.0.2", "2024-05-01T10:00:01.5Z"));
  Changes c = tracker_.checkout(cache_);
  ASSERT_EQ(c.triggerTimes.size(), 2u);
  EXPECT_EQ(c.earliestTrigger(), parseRfc3339("2024-05-01T10:00:01.500Z"));
  EXPECT_EQ(c.triggerTimes[1] - c.triggerTimes[0], std::chrono::milliseconds(3500));
}

TEST_F(TrackerTest, ResetIndexesAWarmCache) {
  kube::Cache warm;
  warm.replaceAll<kube::EndpointSlice>({slice("ns1", "svc1", "a", "10.180.0.1"), slice("ns1", "svc1", "b", "10.180.0.2")});
  ChangeTracker t("node-a");
  t.reset(warm, kube::proxyFilter());
  EXPECT_EQ(t.slicesOf("ns1/svc1"), (std::vector<std::string>{"ns1/a", "ns1/b"}));
  EXPECT_FALSE(t.pending());
}

TEST_F(TrackerTest, RecordFromAnotherThreadWhileCheckingOut) {
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) put(slice("ns1", "svc1", "a", i % 2 ? "10.180.0.1" : "10.180.0.2"));
  });
  size_t seen = 0;
  for (int i = 0; i < 200; ++i) seen += tracker_.checkout(cache_).services.size();
  writer.join();
  seen += tracker_.checkout(cache_).services.size();
  EXPECT_GE(seen, 1u);
  EXPECT_FALSE(tracker_.pending());
}

TEST(Rfc3339Test, Parses) {
  using namespace std::chrono;
  auto t = parseRfc3339("1970-01-01T00:00:10Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->time_since_epoch(), seconds(10));
  EXPECT_EQ(parseRfc3339("1970-01-01T01:00:10+01:00")->time_since_epoch(), seconds(10));
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:10.25Z")->time_since_epoch(), milliseconds(10250));
  EXPECT_FALSE(parseRfc3339("1970-01-01 00:00:10Z"));
  EXPECT_FALSE(parseRfc3339("1970-01-01T00:00:10"));
  EXPECT_FALSE(parseRfc3339("garbage"));
  EXPECT_FALSE(parseRfc3339("1970-13-01T00:00:10Z"));
}

}  // namespace
}  // namespace nodenet::proxy::model
