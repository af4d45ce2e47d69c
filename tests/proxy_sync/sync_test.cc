// proxy/sync against FakeNft: what each sync sends, applied-state memory, stale objects, failures, conntrack.
//
// IP plan (every test in this file):
//   node      node-a, zone-a, 192.168.99.2 (other node: node-b); clusterCIDR 10.180.0.0/16
//   pods      10.180.0.1 .. 10.180.0.9 on node-a, 10.180.1.x on node-b
//   services  ns1/svc1 172.30.0.41 tcp 80, ns1/svc2 172.30.0.42 tcp 80, ns2/dns 172.30.0.53 udp 53 (NodePort 30053,
//             externalIP 192.168.99.100), fd00:30::41 for dual-stack cases
#include <gtest/gtest.h>

#include <random>

#include "proxy/rules/names.h"
#include "proxy/rules/ruleset.h"
#include "proxy/sync/fake_clock.h"
#include "proxy/sync/table_sync.h"
#include "tests/proxy_sync/sync_test_util.h"

namespace nodenet::proxy::sync {
namespace {

using namespace testing;

rules::Config v4Config() {
  rules::Config c;
  c.family = IpFamily::V4;
  c.clusterCIDRs = {cidr("10.180.0.0/16")};
  return c;
}

class SyncTest : public ::testing::Test {
 protected:
  SyncTest() : kernel_(fake_) {
    cache_.replaceAll<kube::Node>({node()});
    config_.ipv4 = v4Config();
    config_.nodeName = "node-a";
  }

  Proxier& proxier() {
    if (!proxier_) proxier_ = std::make_unique<Proxier>(cache_, kernel_, &conntrack_, config_, clock_, nullptr);
    return *proxier_;
  }

  /// A Service with the externalIP 192.168.99.100, which two Services claim in the conflict tests.
  static kube::Service withExternalIP(const char* ns, const char* name, const char* clusterIP) {
    kube::Service s = service(ns, name, {clusterIP}, {port("http", 80)});
    s.externalIPs = {ip("192.168.99.100")};
    return s;
  }
  /// ns2/late (synced) claims the externalIP; ns1/early has a slice but no Service yet.
  void setUpConflictingExternalIPs() {
    setServices({withExternalIP("ns2", "late", "172.30.0.42")});
    setSlices({slice("ns2", "late", "a", {{"10.180.0.2"}}, {{"http", 8080}}),
               slice("ns1", "early", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
    ASSERT_TRUE(sync().ok);
  }

  /// kube-proxy's chain per Service and endpoint (the tests of chain mechanics: refills, delayed deletes).
  void chainLayout() {
    config_.ipv4->endpointMaps = false;
    if (config_.ipv6) config_.ipv6->endpointMaps = false;
  }

  void setServices(std::vector<kube::Service> s) { cache_.replaceAll<kube::Service>(std::move(s)); }
  void setSlices(std::vector<kube::EndpointSlice> s) { cache_.replaceAll<kube::EndpointSlice>(std::move(s)); }
  void put(kube::Object o) { ASSERT_TRUE(cache_.apply(kube::Event::added(std::move(o))).has_value()); }
  void del(kube::ObjectKind kind, const std::string& key) {
    ASSERT_TRUE(cache_.apply(kube::Event::deleted(kind, key)).has_value());
  }

  SyncReport sync(bool full = false) {
    size_t before = kernel_.sent.size();
    SyncReport r = proxier().syncNowForTest(full);
    lastTx_.clear();
    for (size_t i = before; i < kernel_.sent.size(); ++i) lastTx_ += kernel_.sent[i];
    return r;
  }

  /// The table as one fresh full sync of the cache's current state leaves it (built with buildRuleset).
  std::string expectedDump(nft::Family family = nft::Family::Ip) {
    auto snap = cache_.snapshot();
    rules::Input input;
    if (const kube::Node* n = snap->node("node-a")) input.node = rules::nodeInputFrom(*n);
    input.node.name = "node-a";
    auto filter = kube::proxyFilter();
    std::map<std::string, std::vector<const kube::EndpointSlice*>> slices;
    snap->forEach<kube::EndpointSlice>(
        [&](const kube::EndpointSlice& s) {
          slices[strCat(s.meta.ns.view(), "/", s.serviceName())].push_back(&s);
        },
        filter);
    for (const auto& [key, obj] : snap->objects(kube::ObjectKind::Service))
      if (filter(*obj)) input.services.push_back({&std::get<kube::Service>(*obj), slices[key]});
    rules::Config c = family == nft::Family::Ip ? *config_.ipv4 : *config_.ipv6;
    nft::FakeNft fresh;
    if (fresh.commit(rules::toTransaction(rules::buildRuleset(input, c))).ok()) return fresh.dumpTable(family, "nodenet");
    // Two Services claim the same map key (buildRuleset emits both; the kernel refuses the second): the oracle is
    // then one full sync on a fresh kernel, where the first Service in namespace/name order owns the key.
    nft::FakeNft fresh2;
    Proxier p(cache_, fresh2, nullptr, config_, clock_, nullptr);
    EXPECT_TRUE(p.syncNowForTest(true).ok);
    return fresh2.dumpTable(family, "nodenet");
  }
  std::string dump(nft::Family family = nft::Family::Ip) { return fake_.dumpTable(family, "nodenet"); }

  kube::Cache cache_;
  nft::FakeNft fake_;
  RecordingKernel kernel_;
  RecordingConntrack conntrack_;
  FakeClock clock_;
  ProxierConfig config_;
  std::unique_ptr<Proxier> proxier_;
  std::string lastTx_;
};

TEST_F(SyncTest, FirstSyncIsFullAndEqualsBuildRuleset) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)}),
               service("ns1", "svc2", {"172.30.0.42"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}, {"10.180.1.1", "node-b"}}, {{"http", 8080}}),
             slice("ns1", "svc2", "a", {{"10.180.0.2"}}, {{"http", 8080}})});
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.full);
  EXPECT_EQ(r.servicesChanged, 2u);
  EXPECT_EQ(dump(), expectedDump());
  EXPECT_NE(lastTx_.find("add table ip nodenet"), std::string::npos);
  EXPECT_NE(lastTx_.find("flush table ip nodenet"), std::string::npos);
  // Nothing changed: no transaction at all.
  size_t commits = kernel_.sent.size();
  r = sync();
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.full);
  EXPECT_EQ(r.servicesChanged, 0u);
  EXPECT_EQ(kernel_.sent.size(), commits);
}

TEST_F(SyncTest, SyncWaitsForNothingWhenDrivenByHand) {
  // syncNowForTest ignores allSynced (the runner does not: see RunnerTest); an empty cache gives the skeleton.
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(dump(), expectedDump());
  EXPECT_NE(dump().find("chain services"), std::string::npos);
}

TEST_F(SyncTest, IncrementalSendsOnlyTheChangedService) {
  chainLayout();
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)}),
               service("ns1", "svc2", {"172.30.0.42"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}}),
             slice("ns1", "svc2", "a", {{"10.180.0.2"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);

  // +1 endpoint for svc2.
  put(slice("ns1", "svc2", "a", {{"10.180.0.2"}, {"10.180.0.3"}}, {{"http", 8080}}));
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.full);
  EXPECT_EQ(r.servicesChanged, 1u);
  const std::string svc = rules::hashedName(rules::kServicePrefix, "ns1/svc2/tcp/http");
  const std::string ep3 = rules::hashedName(rules::kEndpointPrefix, "ns1/svc2/tcp/http__10.180.0.3/8080");
  const std::string ep2 = rules::hashedName(rules::kEndpointPrefix, "ns1/svc2/tcp/http__10.180.0.2/8080");
  const std::string want = strCat(
      "add chain ip nodenet ", ep3, "\n",                                                       //
      "flush chain ip nodenet ", svc, "\n",                                                     //
      "add rule ip nodenet ", svc, " ip daddr 172.30.0.42 tcp dport 80 ip saddr != 10.180.0.0/16 jump mark-for-masquerade\n",
      "add rule ip nodenet ", svc, " numgen random mod 2 0 goto ", ep2, "\n",  //
      "add rule ip nodenet ", svc, " goto ", ep3, "\n",
      "add rule ip nodenet ", ep3, " ip saddr 10.180.0.3 jump mark-for-masquerade\n",
      "add rule ip nodenet ", ep3, " meta l4proto tcp dnat to 10.180.0.3:8080\n");
  EXPECT_EQ(lastTx_, want);
  EXPECT_EQ(dump(), expectedDump());

  // -1 endpoint: the dispatch chain is refilled, the endpoint chain flushed now and deleted by the next sync.
  put(slice("ns1", "svc2", "a", {{"10.180.0.2"}}, {{"http", 8080}}));
  r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(linesWith(lastTx_, "flush chain ip nodenet " + ep3).size(), 1u) << lastTx_;
  EXPECT_TRUE(linesWith(lastTx_, "delete").empty()) << lastTx_;
  EXPECT_TRUE(linesWith(lastTx_, "svc1").empty()) << lastTx_;
  EXPECT_NE(dump().find("chain " + ep3), std::string::npos);  // still there, empty
  r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(lastTx_, strCat("delete chain ip nodenet ", ep3, "\n"));
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, NewAndDeletedServiceMoveMapElements) {
  chainLayout();
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);

  put(service("ns1", "svc2", {"172.30.0.42"}, {port("http", 80, L4Proto::TCP, 30080)}));
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  // No endpoints yet: reject entries only.
  EXPECT_EQ(lastTx_,
            "add element ip nodenet cluster-ips { 172.30.0.42 }\n"
            "add element ip nodenet no-endpoint-services { 172.30.0.42 . tcp . 80 comment \"ns1/svc2:http\" : goto "
            "reject-chain }\n"
            "add element ip nodenet no-endpoint-nodeports { tcp . 30080 comment \"ns1/svc2:http\" : goto reject-chain "
            "}\n");
  put(slice("ns1", "svc2", "a", {{"10.180.0.2"}}, {{"http", 8080}}));
  r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(linesWith(lastTx_, "delete element ip nodenet no-endpoint-services").size(), 1u) << lastTx_;
  EXPECT_EQ(linesWith(lastTx_, "add element ip nodenet service-ips").size(), 1u) << lastTx_;
  EXPECT_EQ(linesWith(lastTx_, "add element ip nodenet service-nodeports").size(), 1u) << lastTx_;
  EXPECT_EQ(dump(), expectedDump());

  del(kube::ObjectKind::Service, "ns1/svc2");
  r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(linesWith(lastTx_, "delete element").size(), 3u) << lastTx_;  // cluster-ips, service-ips, nodeports
  EXPECT_EQ(linesWith(lastTx_, "flush chain").size(), 3u) << lastTx_;     // service, external, endpoint
  EXPECT_TRUE(linesWith(lastTx_, "svc1").empty());
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(linesWith(lastTx_, "delete chain").size(), 3u) << lastTx_;
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, ChangedVerdictIsDeletedThenAdded) {
  chainLayout();
  // ClusterIP moves from one chain to another (internalTrafficPolicy Local): same key, new verdict.
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  kube::Service s = service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)});
  s.internalTrafficPolicy = kube::TrafficPolicy::Local;
  put(s);
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  auto lines = linesWith(lastTx_, "172.30.0.41 . tcp . 80");
  ASSERT_EQ(lines.size(), 2u) << lastTx_;
  EXPECT_EQ(lines[0].rfind("delete element ip nodenet service-ips", 0), 0u);
  EXPECT_EQ(lines[1].rfind("add element ip nodenet service-ips", 0), 0u);
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, ElementMovingBetweenServicesIsDeletedBeforeAdded) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  ASSERT_TRUE(sync().ok);
  // svc1 goes away and svc2 takes its ClusterIP in the same sync.
  del(kube::ObjectKind::Service, "ns1/svc1");
  put(service("ns1", "svc2", {"172.30.0.41"}, {port("http", 80)}));
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  auto lines = linesWith(lastTx_, "element ip nodenet cluster-ips");
  ASSERT_EQ(lines.size(), 2u) << lastTx_;
  EXPECT_EQ(lines[0].rfind("delete", 0), 0u);
  EXPECT_EQ(lines[1].rfind("add", 0), 0u);
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, ConflictingExternalIPsFirstServiceWinsAndIncrementalAgrees) {
  chainLayout();
  setUpConflictingExternalIPs();
  const std::string lateExt = rules::hashedName(rules::kExternalPrefix, "ns2/late/tcp/http");
  const std::string earlyExt = rules::hashedName(rules::kExternalPrefix, "ns1/early/tcp/http");
  EXPECT_NE(dump().find("192.168.99.100 . tcp . 80 : goto " + lateExt), std::string::npos);

  // ns1/early sorts first: it takes the key over, ns2/late is planned again without it, in one transaction.
  put(withExternalIP("ns1", "early", "172.30.0.41"));
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.full);
  EXPECT_NE(dump().find("192.168.99.100 . tcp . 80 : goto " + earlyExt), std::string::npos);
  EXPECT_EQ(dump(), expectedDump());
  // A change to the loser does not steal it back.
  put(slice("ns2", "late", "a", {{"10.180.0.2"}, {"10.180.0.3"}}, {{"http", 8080}}));
  ASSERT_TRUE(sync().ok);
  EXPECT_NE(dump().find("192.168.99.100 . tcp . 80 : goto " + earlyExt), std::string::npos);
  // The winner goes away: the waiting Service gets the key.
  del(kube::ObjectKind::Service, "ns1/early");
  r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(dump().find("192.168.99.100 . tcp . 80 : goto " + lateExt), std::string::npos);
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, EndpointMapsIncrementalIsElementsOnly) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)}),
               service("ns1", "svc2", {"172.30.0.42"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}}),
             slice("ns1", "svc2", "a", {{"10.180.0.2"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(dump(), expectedDump());

  // +1 endpoint: svc2 moves from the 1-endpoint index (0) to the 2-endpoint ones (1, 2). No chain, no rule.
  put(slice("ns1", "svc2", "a", {{"10.180.0.2"}, {"10.180.0.3"}}, {{"http", 8080}}));
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.full);
  EXPECT_EQ(r.servicesChanged, 1u);
  EXPECT_EQ(lastTx_,
            "delete element ip nodenet endpoints { 172.30.0.42 . tcp . 80 . 0 }\n"
            "add element ip nodenet endpoints { 172.30.0.42 . tcp . 80 . 1 : 10.180.0.2 . 8080 }\n"
            "add element ip nodenet endpoints { 172.30.0.42 . tcp . 80 . 2 : 10.180.0.3 . 8080 }\n"
            "add element ip nodenet hairpin-endpoints { 10.180.0.3 . 10.180.0.3 . 172.30.0.42 }\n");
  EXPECT_EQ(dump(), expectedDump());

  // -1 endpoint, +1 Service, -1 Service: still elements only, and nothing is left for a later sync.
  put(slice("ns1", "svc2", "a", {{"10.180.0.3"}}, {{"http", 8080}}));
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(dump(), expectedDump());
  put(service("ns1", "svc3", {"172.30.0.43"}, {port("http", 80, L4Proto::TCP, 30080)}));
  put(slice("ns1", "svc3", "a", {{"10.180.0.4"}, {"10.180.0.5"}}, {{"http", 8080}}));
  r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(linesWith(lastTx_, "chain").empty()) << lastTx_;
  EXPECT_TRUE(linesWith(lastTx_, "rule").empty()) << lastTx_;
  EXPECT_EQ(linesWith(lastTx_, "add element ip nodenet nodeport-endpoints").size(), 2u) << lastTx_;
  EXPECT_EQ(dump(), expectedDump());
  del(kube::ObjectKind::Service, "ns1/svc3");
  ASSERT_TRUE(sync().ok);
  EXPECT_TRUE(linesWith(lastTx_, "add").empty()) << lastTx_;
  EXPECT_EQ(dump(), expectedDump());
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(lastTx_, "");  // nothing was left flushed for a later sync
}

TEST_F(SyncTest, EndpointMapsServiceSwitchesToChainsAndBack) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  // sessionAffinity needs per-Service state: the port gets chains; the map elements go in the same transaction.
  kube::Service s = service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)});
  s.sessionAffinity = kube::SessionAffinity::ClientIP;
  s.affinityTimeoutSeconds = 10800;
  put(s);
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(linesWith(lastTx_, "delete element ip nodenet endpoints").size(), 1u) << lastTx_;
  EXPECT_EQ(linesWith(lastTx_, "add element ip nodenet service-ips").size(), 1u) << lastTx_;
  EXPECT_EQ(dump(), expectedDump());
  put(service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)}));
  ASSERT_TRUE(sync().ok);
  ASSERT_TRUE(sync().ok);  // deletes the flushed chains and affinity set
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, EndpointMapsConflictingExternalIPsStayConsistent) {
  setUpConflictingExternalIPs();
  const std::string lateKey = "192.168.99.100 . tcp . 80 . 0 : 10.180.0.2 . 8080";
  const std::string earlyKey = "192.168.99.100 . tcp . 80 . 0 : 10.180.0.1 . 8080";
  EXPECT_NE(dump().find(lateKey), std::string::npos);
  put(withExternalIP("ns1", "early", "172.30.0.41"));
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.full);
  EXPECT_NE(dump().find(earlyKey), std::string::npos);
  EXPECT_EQ(dump(), expectedDump());
  del(kube::ObjectKind::Service, "ns1/early");
  ASSERT_TRUE(sync().ok);
  EXPECT_NE(dump().find(lateKey), std::string::npos);
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, EndpointMapsDriftIsRepairedByTheFullResync) {
  config_.syncPeriod = std::chrono::seconds(30);
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  {
    nft::Transaction tx(nft::Family::Ip, "nodenet");
    tx.remove(nft::Element{.set = "endpoints",
                           .key = {nft::Value::ip(ip("172.30.0.41")), nft::Value::proto(L4Proto::TCP),
                                   nft::Value::port(80), nft::Value::integer(0)}});
    ASSERT_TRUE(fake_.commit(tx).ok());
  }
  EXPECT_NE(dump(), expectedDump());
  clock_.advance(std::chrono::seconds(31));
  SyncReport r = sync();
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.full);
  EXPECT_EQ(dump(), expectedDump());
}

TEST(TableSyncTest, FullResyncKeepsTheAppliedRecordsOfUnchangedServices) {
  // A periodic resync rebuilds everything; Services that did not change keep their applied record (one copy
  // in memory, not two), changed ones get a new one.
  kube::Service a = service("ns1", "a", {"172.30.0.41"}, {port("http", 80)});
  kube::Service b = service("ns1", "b", {"172.30.0.42"}, {port("http", 80)});
  kube::EndpointSlice sa = slice("ns1", "a", "x", {{"10.180.0.1"}}, {{"http", 8080}});
  kube::EndpointSlice sb = slice("ns1", "b", "x", {{"10.180.0.2"}}, {{"http", 8080}});
  kube::EndpointSlice sb2 = slice("ns1", "b", "x", {{"10.180.0.3"}}, {{"http", 8080}});
  nft::FakeNft fake;
  TableSync ts(v4Config());
  const rules::NodeInput node{"node-a", "zone-a", {ip("192.168.99.2")}};
  auto plan = ts.planFull({{&a, {&sa}}, {&b, {&sb}}}, node, fake);
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  ASSERT_TRUE(fake.commit(plan->tx).ok());
  ts.applied(std::move(*plan));
  const rules::ServiceRules* ra = ts.serviceRules("ns1/a");
  const rules::ServiceRules* rb = ts.serviceRules("ns1/b");
  ASSERT_TRUE(ra && rb);
  plan = ts.planFull({{&a, {&sa}}, {&b, {&sb2}}}, node, fake);
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  ASSERT_TRUE(fake.commit(plan->tx).ok());
  ts.applied(std::move(*plan));
  EXPECT_EQ(ts.serviceRules("ns1/a"), ra);
  ASSERT_NE(ts.serviceRules("ns1/b"), nullptr);
  EXPECT_EQ(ts.serviceRules("ns1/b")->ports.at(0).endpoints, (std::vector<IpAddress>{ip("10.180.0.3")}));
}

TEST_F(SyncTest, FailedCommitChangesNothingAndNextSyncIsFull) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  const std::string before = dump();

  put(slice("ns1", "svc1", "a", {{"10.180.0.1"}, {"10.180.0.2"}}, {{"http", 8080}}));
  kernel_.failNext();
  SyncReport r = sync();
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.full);
  EXPECT_NE(r.error.find("ip nodenet: injected failure"), std::string::npos) << r.error;
  EXPECT_EQ(dump(), before);

  // The change was consumed by the failed sync; the full resync must still program it.
  r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.full);
  EXPECT_EQ(dump(), expectedDump());
  // And partial syncs work again afterwards, from the state the full sync recorded.
  put(slice("ns1", "svc1", "a", {{"10.180.0.2"}}, {{"http", 8080}}));
  r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.full);
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, FullSyncReplacesOldStateAndDeletesLeftoversLater) {
  // A previous run left a chain referenced from a map element, an affinity set and rules.
  {
    nft::Transaction tx(nft::Family::Ip, "nodenet");
    tx.add(nft::Table{nft::Family::Ip, "nodenet", "rules for nodenet-proxy"});
    tx.add(nft::Chain{.name = "service-OLDOLDOL-ns9/gone/tcp/p80"});
    tx.add(nft::Chain{.name = "services"});
    tx.add(nft::Set{.name = "service-ips",
                    .key = {nft::DataType::Ipv4Addr, nft::DataType::InetProto, nft::DataType::InetService},
                    .data = nft::DataType::Verdict});
    tx.add(nft::Set{.name = "affinity-OLD", .key = {nft::DataType::Ipv4Addr},
                    .flags = nft::kSetDynamic | nft::kSetTimeout, .timeoutSec = 10800});
    tx.add(nft::Element{.set = "service-ips",
                        .key = {nft::Value::ip(ip("172.30.9.9")), nft::Value::proto(L4Proto::TCP), nft::Value::port(80)},
                        .verdict = nft::Verdict::goTo("service-OLDOLDOL-ns9/gone/tcp/p80")});
    tx.add(nft::Rule{.chain = "service-OLDOLDOL-ns9/gone/tcp/p80",
                     .statements = {nft::lookup({nft::Field::IpSaddr}, "affinity-OLD"), nft::Verdict::drop()}});
    ASSERT_TRUE(fake_.commit(tx).ok());
  }
  // Another table is never touched.
  {
    nft::Transaction tx(nft::Family::Inet, "other");
    tx.add(nft::Table{nft::Family::Inet, "other"});
    tx.add(nft::Chain{.name = "c"});
    ASSERT_TRUE(fake_.commit(tx).ok());
  }
  const std::string other = fake_.dumpTable(nft::Family::Inet, "other");
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.full);
  EXPECT_EQ(linesWith(lastTx_, "flush set ip nodenet affinity-OLD").size(), 1u) << lastTx_;
  // Only the map whose definition differs (no comment) is replaced at once; the leftovers wait a sync.
  EXPECT_EQ(linesWith(lastTx_, "delete"), std::vector<std::string>{"delete map ip nodenet service-ips"}) << lastTx_;
  EXPECT_EQ(dump().find("172.30.9.9"), std::string::npos);
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(linesWith(lastTx_, "delete chain ip nodenet service-OLDOLDOL").size(), 1u) << lastTx_;
  EXPECT_EQ(linesWith(lastTx_, "delete set ip nodenet affinity-OLD").size(), 1u) << lastTx_;
  EXPECT_EQ(dump(), expectedDump());
  EXPECT_EQ(fake_.dumpTable(nft::Family::Inet, "other"), other);
}

TEST_F(SyncTest, PeriodicFullResyncRepairsDrift) {
  chainLayout();
  config_.syncPeriod = std::chrono::seconds(30);
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  // Someone deletes our map element behind our back.
  {
    nft::Transaction tx(nft::Family::Ip, "nodenet");
    tx.remove(nft::Element{.set = "service-ips",
                           .key = {nft::Value::ip(ip("172.30.0.41")), nft::Value::proto(L4Proto::TCP),
                                   nft::Value::port(80)}});
    ASSERT_TRUE(fake_.commit(tx).ok());
  }
  clock_.advance(std::chrono::seconds(10));
  SyncReport r = sync();
  EXPECT_FALSE(r.full);
  EXPECT_NE(dump(), expectedDump());
  clock_.advance(std::chrono::seconds(21));
  r = sync();
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.full);
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, ServiceProxyNameAndHeadlessAreIgnored) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  ASSERT_TRUE(sync().ok);
  size_t commits = kernel_.sent.size();
  kube::Service other = service("ns1", "other", {"172.30.0.43"}, {port("http", 80)});
  other.meta.labels = kube::StringMap({{in(kube::kLabelServiceProxyName), "someone-else"}});
  put(other);
  kube::Service headless = service("ns1", "hl", {}, {port("http", 80)});
  headless.headless = true;
  put(headless);
  kube::EndpointSlice hs = slice("ns1", "hl", "a", {{"10.180.0.7"}}, {{"http", 80}});
  put(hs);
  SyncReport r = sync();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.servicesChanged, 0u);
  EXPECT_EQ(kernel_.sent.size(), commits);
  EXPECT_EQ(dump().find("172.30.0.43"), std::string::npos);

  // A Service that gains the label loses its rules.
  kube::Service s1 = service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)});
  s1.meta.labels = kube::StringMap({{in(kube::kLabelServiceProxyName), "someone-else"}});
  put(s1);
  r = sync();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.servicesChanged, 1u);
  EXPECT_EQ(dump().find("172.30.0.41"), std::string::npos);
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, NodeChangeForcesFullSyncOtherNodesDoNot) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  ASSERT_TRUE(sync().ok);
  size_t commits = kernel_.sent.size();
  put(node("node-b", "192.168.99.3"));
  SyncReport r = sync();
  EXPECT_FALSE(r.full);
  EXPECT_EQ(kernel_.sent.size(), commits);
  put(node("node-a", "192.168.99.2", "zone-z"));
  r = sync();
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.full);
}

TEST_F(SyncTest, UdpConntrackCleanup) {
  kube::Service dns = service("ns2", "dns", {"172.30.0.53"}, {port("dns", 53, L4Proto::UDP, 30053)});
  dns.type = kube::ServiceType::NodePort;
  dns.externalIPs = {ip("192.168.99.100")};
  setServices({dns, service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  setSlices({slice("ns2", "dns", "a", {{"10.180.0.1"}, {"10.180.0.2"}}, {{"dns", 53}}, L4Proto::UDP),
             slice("ns1", "svc1", "a", {{"10.180.0.3"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  // First sync: no "before"; every flow to a service address or NodePort (on a node address) whose reply does
  // not come from a current endpoint goes: never DNATed (the reply comes from the service IP itself), or DNATed
  // by an earlier run to an endpoint that is gone.
  EXPECT_EQ(conntrack_.calls, (std::vector<std::string>{"udp 172.30.0.53:53 -> not {10.180.0.1,10.180.0.2}",
                                                        "udp 192.168.99.100:53 -> not {10.180.0.1,10.180.0.2}",
                                                        "udp 192.168.99.2:30053 -> not {10.180.0.1,10.180.0.2}"}));
  conntrack_.calls.clear();

  // One endpoint goes away.
  put(slice("ns2", "dns", "a", {{"10.180.0.2"}}, {{"dns", 53}}, L4Proto::UDP));
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(conntrack_.calls, (std::vector<std::string>{"udp 172.30.0.53:53 -> 10.180.0.1",
                                                        "udp 192.168.99.100:53 -> 10.180.0.1",
                                                        "udp nodeport 30053 -> 10.180.0.1"}));
  // Scaled to zero.
  conntrack_.calls.clear();
  put(slice("ns2", "dns", "a", {}, {{"dns", 53}}, L4Proto::UDP));
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(conntrack_.calls, (std::vector<std::string>{"udp 172.30.0.53:53 -> 10.180.0.2",
                                                        "udp 192.168.99.100:53 -> 10.180.0.2",
                                                        "udp nodeport 30053 -> 10.180.0.2"}));
  // First endpoint again: flows to the service that were rejected meanwhile go.
  conntrack_.calls.clear();
  put(slice("ns2", "dns", "a", {{"10.180.0.4"}}, {{"dns", 53}}, L4Proto::UDP));
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(conntrack_.calls, (std::vector<std::string>{"udp 172.30.0.53:53", "udp 192.168.99.100:53",
                                                        "udp nodeport 30053"}));
  // TCP changes never clean conntrack (TCP flows end on their own).
  conntrack_.calls.clear();
  put(slice("ns1", "svc1", "a", {{"10.180.0.5"}}, {{"http", 8080}}));
  ASSERT_TRUE(sync().ok);
  EXPECT_TRUE(conntrack_.calls.empty());
  // A failed commit deletes no flows.
  put(slice("ns2", "dns", "a", {}, {{"dns", 53}}, L4Proto::UDP));
  kernel_.failNext();
  EXPECT_FALSE(sync().ok);
  EXPECT_TRUE(conntrack_.calls.empty());
  // The full resync after it does (the applied state still had the endpoint).
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(conntrack_.calls.size(), 3u);
}

TEST_F(SyncTest, HealthCheckServicesCountLocalReadyEndpoints) {
  kube::Service lb = service("ns1", "lb", {"172.30.0.44"}, {port("http", 80, L4Proto::TCP, 30081)});
  lb.type = kube::ServiceType::LoadBalancer;
  lb.externalTrafficPolicy = kube::TrafficPolicy::Local;
  lb.healthCheckNodePort = 32000;
  setServices({lb, service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  setSlices({slice("ns1", "lb", "a", {{"10.180.0.1"}, {"10.180.0.2"}, {"10.180.1.1", "node-b"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  auto h = proxier().healthCheckServices();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h["ns1/lb"], (std::pair<uint16_t, size_t>{32000, 2}));
  put(slice("ns1", "lb", "a", {{"10.180.1.1", "node-b"}}, {{"http", 8080}}));
  ASSERT_TRUE(sync().ok);
  h = proxier().healthCheckServices();
  EXPECT_EQ(h["ns1/lb"], (std::pair<uint16_t, size_t>{32000, 0}));
}

TEST_F(SyncTest, NetworkProgrammingLatencyFromTriggerTime) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  ASSERT_TRUE(sync().ok);
  kube::EndpointSlice s = slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}});
  s.meta.annotations = kube::StringMap({{in(kube::kAnnotationLastChangeTriggerTime), "2020-01-01T00:00:00Z"}});
  put(s);
  SyncReport r = sync();
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.networkProgrammingLatencies.size(), 1u);
  EXPECT_GT(r.networkProgrammingLatencies[0], std::chrono::hours(24 * 365));
  r = sync();
  EXPECT_TRUE(r.networkProgrammingLatencies.empty());
}

TEST_F(SyncTest, AffinityTimeoutChangeRecreatesTheSet) {
  kube::Service s = service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)});
  s.sessionAffinity = kube::SessionAffinity::ClientIP;
  setServices({s});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
  ASSERT_TRUE(sync().ok);
  s.affinityTimeoutSeconds = 60;
  put(s);
  SyncReport r = sync();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(linesWith(lastTx_, "delete set").size(), 1u) << lastTx_;
  EXPECT_EQ(dump(), expectedDump());
  // Affinity off: the set is flushed, then deleted by the next sync.
  s.sessionAffinity = kube::SessionAffinity::None;
  put(s);
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(linesWith(lastTx_, "flush set").size(), 1u) << lastTx_;
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(linesWith(lastTx_, "delete set").size(), 1u) << lastTx_;
  EXPECT_EQ(dump(), expectedDump());
}

TEST_F(SyncTest, CleanupTablesDeletesOnlyOurs) {
  setServices({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  ASSERT_TRUE(sync().ok);
  nft::Transaction tx(nft::Family::Inet, "other");
  tx.add(nft::Table{nft::Family::Inet, "other"});
  ASSERT_TRUE(fake_.commit(tx).ok());
  ASSERT_TRUE(cleanupTables(kernel_).ok());
  EXPECT_FALSE(*fake_.hasTable(nft::Family::Ip, "nodenet"));
  EXPECT_TRUE(*fake_.hasTable(nft::Family::Inet, "other"));
  EXPECT_TRUE(cleanupTables(kernel_).ok());  // nothing left: still fine
}

TEST_F(SyncTest, DualStackProgramsBothTablesOneTransactionEach) {
  config_.ipv6 = v4Config();
  config_.ipv6->family = IpFamily::V6;
  config_.ipv6->clusterCIDRs = {cidr("fd00:180::/64")};
  setServices({service("ns1", "svc1", {"172.30.0.41", "fd00:30::41"}, {port("http", 80)})});
  setSlices({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}}),
             slice("ns1", "svc1", "b", {{"fd00:180::1"}}, {{"http", 8080}})});
  size_t before = kernel_.sent.size();
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(kernel_.sent.size(), before + 2);
  EXPECT_EQ(dump(nft::Family::Ip), expectedDump(nft::Family::Ip));
  EXPECT_EQ(dump(nft::Family::Ip6), expectedDump(nft::Family::Ip6));
  put(slice("ns1", "svc1", "b", {{"fd00:180::1"}, {"fd00:180::2"}}, {{"http", 8080}}));
  before = kernel_.sent.size();
  ASSERT_TRUE(sync().ok);
  EXPECT_EQ(kernel_.sent.size(), before + 1);  // only ip6 changed
  EXPECT_NE(lastTx_.find("ip6 nodenet"), std::string::npos);
  EXPECT_EQ(dump(nft::Family::Ip6), expectedDump(nft::Family::Ip6));
}

TEST(ProxierConfigTest, InvalidConfigsAreRejected) {
  kube::Cache cache;
  nft::FakeNft fake;
  FakeClock clock;
  ProxierConfig none;
  Proxier p(cache, fake, nullptr, none, clock, nullptr);
  EXPECT_FALSE(p.start().ok());
  ProxierConfig mismatch;
  mismatch.ipv4 = v4Config();
  mismatch.ipv4->family = IpFamily::V6;
  Proxier q(cache, fake, nullptr, mismatch, clock, nullptr);
  Status st = q.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("ipv4"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------
// Property: after any sequence of changes, N incremental syncs leave the same table as one full sync.

class RandomWorld {
 public:
  explicit RandomWorld(uint32_t seed) : rng_(seed) {}

  /// One random change to the cache.
  void step(kube::Cache& cache) {
    int svc = pick(8);
    std::string ns = svc < 4 ? "ns1" : "ns2";
    std::string name = "s" + std::to_string(svc);
    std::string key = ns + "/" + name;
    switch (pick(7)) {
      case 0:  // delete the Service
        cache.apply(kube::Event::deleted(kube::ObjectKind::Service, key));
        break;
      case 1:  // delete a slice
        cache.apply(kube::Event::deleted(kube::ObjectKind::EndpointSlice, key + "-" + std::to_string(pick(2))));
        break;
      case 2:
      case 3: {  // (re)write the Service with random features
        std::string cip = "172.30.0." + std::to_string(10 + svc);
        std::string cip6 = "fd00:30::" + std::to_string(10 + svc);
        bool dual = pick(3) == 0;
        std::vector<const char*> ips{cip.c_str()};
        if (dual) ips.push_back(cip6.c_str());
        L4Proto proto = pick(2) ? L4Proto::TCP : L4Proto::UDP;
        std::vector<kube::ServicePort> ports{port("p", 80, proto, pick(2) ? uint16_t(30000 + svc) : 0)};
        if (pick(3) == 0) ports.push_back(port("q", 81, L4Proto::TCP));
        kube::Service s = service(ns.c_str(), name.c_str(), ips, ports);
        if (ports[0].nodePort) s.type = kube::ServiceType::NodePort;
        if (pick(3) == 0) s.externalIPs = {ip(("192.168.99." + std::to_string(100 + pick(3))).c_str())};
        if (pick(3) == 0) {
          s.sessionAffinity = kube::SessionAffinity::ClientIP;
          s.affinityTimeoutSeconds = pick(2) ? 10800 : 60;
        }
        if (pick(4) == 0) s.externalTrafficPolicy = kube::TrafficPolicy::Local;
        if (pick(4) == 0) s.internalTrafficPolicy = kube::TrafficPolicy::Local;
        if (pick(8) == 0) s.meta.labels = kube::StringMap({{in(kube::kLabelServiceProxyName), "other"}});
        cache.apply(kube::Event::added(std::move(s)));
        break;
      }
      default: {  // (re)write a slice with 0-3 endpoints
        int which = pick(2);
        bool v6 = pick(4) == 0;
        std::vector<Ep> eps;
        int n = pick(4);
        for (int i = 0; i < n; ++i) {
          int host = 1 + pick(6);
          std::string addr = v6 ? "fd00:180::" + std::to_string(host) : "10.180." + std::to_string(pick(2)) + "." +
                                                                              std::to_string(host);
          eps.push_back(Ep{addr, pick(3) ? "node-a" : "node-b", pick(5) != 0});
        }
        L4Proto proto = pick(2) ? L4Proto::TCP : L4Proto::UDP;
        std::vector<std::pair<const char*, uint16_t>> ports{{"p", uint16_t(8080 + pick(2))}};
        if (pick(2)) ports.push_back({"q", 8081});
        kube::EndpointSlice sl = slice(ns.c_str(), name.c_str(), std::to_string(which), eps, ports, proto);
        if (v6) sl.addressType = kube::AddressType::IPv6;
        cache.apply(kube::Event::added(std::move(sl)));
        break;
      }
    }
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::mt19937 rng_;
};

class SyncPropertyTest : public SyncTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(SyncPropertyTest, IncrementalEqualsFull) {
  config_.ipv6 = v4Config();
  config_.ipv6->family = IpFamily::V6;
  config_.ipv6->clusterCIDRs = {cidr("fd00:180::/64")};
  RandomWorld world(GetParam());
  setServices({});
  setSlices({});
  ASSERT_TRUE(sync().ok);
  int partial = 0;
  for (int i = 0; i < 60; ++i) {
    int changes = 1 + (i % 3);
    for (int c = 0; c < changes; ++c) world.step(cache_);
    SyncReport r = sync();
    ASSERT_TRUE(r.ok) << "step " << i << ": " << r.error << "\n" << lastTx_;
    if (!r.full) ++partial;
    // The next sync (no changes) may only delete what this one flushed.
    r = sync();
    ASSERT_TRUE(r.ok) << "step " << i << ": " << r.error << "\n" << lastTx_;
    EXPECT_EQ(linesWith(lastTx_, "delete ").size(), size_t(std::count(lastTx_.begin(), lastTx_.end(), '\n')))
        << lastTx_;
    ASSERT_EQ(dump(nft::Family::Ip), expectedDump(nft::Family::Ip)) << "seed " << GetParam() << " step " << i;
    ASSERT_EQ(dump(nft::Family::Ip6), expectedDump(nft::Family::Ip6)) << "seed " << GetParam() << " step " << i;
  }
  EXPECT_EQ(partial, 60);
}

INSTANTIATE_TEST_SUITE_P(Seeds, SyncPropertyTest, ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u, 12u));

}  // namespace
}  // namespace nodenet::proxy::sync
