// proxy/sync against the real kernel: full and incremental syncs in a fresh namespace, each result checked by
// `nft -c -f` of its listing in a second, empty namespace (-c never applies, and an empty namespace cannot
// collide), and compared object by object with the same syncs applied to FakeNft.
//
// Ip6TrafficThroughBothLayouts also sends real IPv6 queries (dig, UDP and TCP) through a Service to nodenet-dns
// in a pod namespace, once per layout (endpoint maps, chains).
//
// IP plan: node 192.168.99.2 / fd00:99::2 (zone-a); pods 10.180.0.0/16 (node-a: 10.180.0.x, node-b: 10.180.1.x),
// fd00:180::/64; services 172.30.0.10-17 and fd00:30::10-17; externalIPs 192.168.99.100-102; LB 5.6.7.8;
// NodePorts 30000-30007.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "integration/harness/background.h"
#include "integration/harness/netns.h"
#include "integration/harness/paths.h"
#include "netlink/fake/fake_nft.h"
#include "netlink/nft/netlink_kernel.h"
#include "proxy/sync/fake_clock.h"
#include "tests/proxy_sync/sync_test_util.h"

namespace nodenet::proxy::sync {
namespace {

using namespace testing;

rules::Config config(IpFamily f) {
  rules::Config c;
  c.family = f;
  c.clusterCIDRs = {cidr("10.180.0.0/16"), cidr("fd00:180::/64")};
  return c;
}

class KernelSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    itest::removeStaleNetns("nnt-psync-");
    auto n = itest::TestNetns::create("nnt-psync-", "node");
    ASSERT_TRUE(n.ok()) << n.error().message();
    node_ = std::move(*n);
    auto c = itest::TestNetns::create("nnt-psync-", "check");
    ASSERT_TRUE(c.ok()) << c.error().message();
    check_ = std::move(*c);
    auto t = itest::TempDir::create("nnt-psync-");
    ASSERT_TRUE(t.ok()) << t.error().message();
    tmp_ = std::move(*t);
    auto k = nft::NetlinkKernel::create(node_.path());
    ASSERT_TRUE(k.ok()) << k.error().message();
    kernel_ = std::move(*k);
    cfg_.ipv4 = config(IpFamily::V4);
    cfg_.ipv6 = config(IpFamily::V6);
    cfg_.nodeName = "node-a";
    kube::Node n0 = node();
    kube::NodeAddress a6;
    a6.type = kube::NodeAddressType::InternalIP;
    a6.address = "fd00:99::2";
    a6.ip = ip("fd00:99::2");
    n0.addresses.push_back(a6);
    cache_.replaceAll<kube::Node>({n0});
    cache_.replaceAll<kube::Service>({});
    cache_.replaceAll<kube::EndpointSlice>({});
    real_ = std::make_unique<Proxier>(cache_, *kernel_, nullptr, cfg_, clock_, nullptr);
    fakeProxier_ = std::make_unique<Proxier>(cache_, fake_, nullptr, cfg_, clock_, nullptr);
  }

  /// Syncs both proxiers; checks the kernel's table with nft -c and against the fake's.
  void syncAndCheck(const std::string& what, bool full = false) {
    SyncReport r = real_->syncNowForTest(full);
    ASSERT_TRUE(r.ok) << what << ": " << r.error;
    SyncReport f = fakeProxier_->syncNowForTest(full);
    ASSERT_TRUE(f.ok) << what << ": " << f.error;
    ASSERT_EQ(r.full, f.full) << what;
    for (const char* fam : {"ip", "ip6"}) {
      auto listed = node_.exec({"nft", "list", "table", fam, "nodenet"});
      ASSERT_TRUE(listed.ok() && listed->ok()) << what << ": nft list: " << (listed.ok() ? listed->err : "");
      const std::string file = tmp_.path() + "/ruleset-" + fam + ".nft";
      std::ofstream(file) << listed->out;
      auto checked = check_.exec({"nft", "-c", "-f", file});
      ASSERT_TRUE(checked.ok());
      ASSERT_EQ(checked->exitCode, 0) << what << ": nft -c -f rejected the listing:\n"
                                      << checked->err << "\n" << listed->out;
    }
    for (nft::Family fam : {nft::Family::Ip, nft::Family::Ip6}) {
      auto kc = kernel_->listChains(fam, "nodenet");
      auto fc = fake_.listChains(fam, "nodenet");
      ASSERT_TRUE(kc.ok() && fc.ok());
      std::vector<std::string> kn, fn;
      for (const auto& c : *kc) kn.push_back(c.name);
      for (const auto& c : *fc) fn.push_back(c.name);
      std::sort(kn.begin(), kn.end());
      std::sort(fn.begin(), fn.end());
      ASSERT_EQ(kn, fn) << what;
      for (const auto& c : *fc) {
        auto kr = kernel_->listRules(fam, "nodenet", c.name);
        ASSERT_TRUE(kr.ok()) << kr.error().message();
        ASSERT_EQ(kr->size(), fake_.table(fam, "nodenet")->chains.at(c.name).rules.size()) << what << " " << c.name;
      }
      auto ks = kernel_->listSets(fam, "nodenet");
      ASSERT_TRUE(ks.ok());
      for (const auto& s : *ks) {
        auto ke = kernel_->listElements(fam, "nodenet", s.name);
        ASSERT_TRUE(ke.ok()) << ke.error().message();
        const auto* fs = fake_.table(fam, "nodenet");
        ASSERT_TRUE(fs->sets.contains(s.name)) << what << " " << s.name;
        if (s.flags & nft::kSetDynamic) continue;  // no packets here, but be lenient about live state
        ASSERT_EQ(ke->size(), fs->sets.at(s.name).elements.size()) << what << " " << s.name;
      }
      ASSERT_EQ(ks->size(), fake_.table(fam, "nodenet")->sets.size()) << what;
    }
  }

  itest::TestNetns node_, check_;
  itest::TempDir tmp_;
  std::unique_ptr<nft::NetlinkKernel> kernel_;
  nft::FakeNft fake_;
  kube::Cache cache_;
  FakeClock clock_;
  ProxierConfig cfg_;
  std::unique_ptr<Proxier> real_, fakeProxier_;
};

/// Every feature at once, so the kernel sees every kind of object the rules produce.
void everyFeature(kube::Cache& cache) {
  std::vector<kube::Service> svcs;
  svcs.push_back(service("ns1", "plain", {"172.30.0.10", "fd00:30::10"}, {port("http", 80), port("https", 443)}));
  kube::Service np = service("ns1", "nodeport", {"172.30.0.11"}, {port("http", 80, L4Proto::TCP, 30001)});
  np.type = kube::ServiceType::NodePort;
  np.externalIPs = {ip("192.168.99.100")};
  svcs.push_back(np);
  kube::Service lb = service("ns1", "lb", {"172.30.0.12"}, {port("http", 80, L4Proto::TCP, 30002)});
  lb.type = kube::ServiceType::LoadBalancer;
  lb.externalTrafficPolicy = kube::TrafficPolicy::Local;
  lb.healthCheckNodePort = 32000;
  lb.loadBalancerSourceRanges = {cidr("203.0.113.0/24"), cidr("192.168.99.0/24")};
  kube::LoadBalancerIngress ing;
  ing.ip = ip("5.6.7.8");
  lb.loadBalancerIngress = {ing};
  svcs.push_back(lb);
  kube::Service aff = service("ns1", "affinity", {"172.30.0.13"}, {port("http", 80)});
  aff.sessionAffinity = kube::SessionAffinity::ClientIP;
  aff.affinityTimeoutSeconds = 600;
  svcs.push_back(aff);
  kube::Service itp = service("ns1", "itp", {"172.30.0.14"}, {port("http", 80)});
  itp.internalTrafficPolicy = kube::TrafficPolicy::Local;
  svcs.push_back(itp);
  svcs.push_back(service("ns2", "dns", {"172.30.0.15"}, {port("dns", 53, L4Proto::UDP), port("dns-tcp", 53)}));
  svcs.push_back(service("ns2", "sctp", {"172.30.0.16"}, {port("s", 9999, L4Proto::SCTP)}));
  svcs.push_back(service("ns2", "big", {"172.30.0.18"}, {port("http", 80)}));
  svcs.push_back(service("ns2", "empty", {"172.30.0.17"}, {port("http", 80, L4Proto::TCP, 30007)}));
  svcs.back().type = kube::ServiceType::NodePort;
  cache.replaceAll<kube::Service>(std::move(svcs));
  std::vector<kube::EndpointSlice> sl;
  sl.push_back(slice("ns1", "plain", "a", {{"10.180.0.1"}, {"10.180.1.1", "node-b"}}, {{"http", 8080}, {"https", 8443}}));
  sl.push_back(slice("ns1", "plain", "b", {{"fd00:180::1"}}, {{"http", 8080}, {"https", 8443}}));
  sl.push_back(slice("ns1", "nodeport", "a", {{"10.180.0.2"}}, {{"http", 8080}}));
  sl.push_back(slice("ns1", "lb", "a", {{"10.180.0.3"}, {"10.180.1.3", "node-b"}}, {{"http", 8080}}));
  sl.push_back(slice("ns1", "affinity", "a", {{"10.180.0.4"}, {"10.180.0.5"}}, {{"http", 8080}}));
  sl.push_back(slice("ns1", "itp", "a", {{"10.180.1.6", "node-b"}}, {{"http", 8080}}));
  sl.push_back(slice("ns2", "dns", "a", {{"10.180.0.7"}}, {{"dns", 53}}, L4Proto::UDP));
  sl.push_back(slice("ns2", "dns", "b", {{"10.180.0.7"}}, {{"dns-tcp", 53}}));
  sl.push_back(slice("ns2", "sctp", "a", {{"10.180.0.8"}}, {{"s", 9999}}, L4Proto::SCTP));
  // More endpoints than a cascade handles: the numgen vmap (anonymous map) path.
  std::vector<Ep> many;
  for (int i = 1; i <= 20; ++i) many.push_back(Ep{"10.180.2." + std::to_string(i)});
  sl.push_back(slice("ns2", "big", "a", many, {{"http", 8080}}));
  cache.replaceAll<kube::EndpointSlice>(std::move(sl));
}

/// Real IPv6 packets through both layouts: a DNS server (nodenet-dns) in a pod namespace behind the Service
/// fd00:30::53 (UDP and TCP 53 -> 5353), queried with dig from the node namespace (nat output hook). Checks the
/// endpoint maps' `dnat ip6 to ... map` register layout and the chain layout's `dnat to [addr]:port` with traffic.
TEST_F(KernelSyncTest, Ip6TrafficThroughBothLayouts) {
  auto pod = itest::TestNetns::create("nnt-psync-", "pod");
  ASSERT_TRUE(pod.ok()) << pod.error().message();
  const std::string host = "nnp" + std::to_string(::getpid() % 100000);
  auto sh = [](const itest::TestNetns& ns, const std::string& cmd) {
    auto r = ns.exec({"sh", "-c", cmd});
    return r.ok() && r->ok() ? std::string() : (r.ok() ? r->err + r->out : r.error().message());
  };
  ASSERT_EQ(sh(node_, "ip link set lo up && ip link add " + host + " type veth peer name eth0 netns " + pod->name() +
                          " && ip -6 addr add fd00:180::1/64 dev " + host + " nodad && ip link set " + host +
                          " up && ip -6 route add fd00:30::/64 dev " + host),
            "");
  ASSERT_EQ(sh(*pod, "ip link set lo up && ip -6 addr add fd00:180::5/64 dev eth0 nodad && ip link set eth0 up && "
                     "ip -6 route add default via fd00:180::1"),
            "");
  // What the DNS server serves: one Service, so that `web.demo.svc.cluster.local` has an answer.
  const std::string manifests = tmp_.path() + "/manifests";
  ASSERT_EQ(::mkdir(manifests.c_str(), 0755), 0);
  std::ofstream(manifests + "/web.yaml") << "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo}\n"
                                            "spec:\n  clusterIP: 10.96.0.10\n  ports:\n    - port: 80\n";
  auto dns = itest::BackgroundProcess::start(
      {itest::ourBinary("nodenet-dns"), "--manifests", manifests, "--listen", "[::]:5353", "--upstream", "none"},
      {.netns = pod->path(), .logPath = tmp_.path() + "/dns.log"});
  ASSERT_TRUE(dns.ok()) << dns.error().message();
  ASSERT_TRUE(dns->waitForLog("serving", std::chrono::seconds(10))) << dns->log();

  cache_.replaceAll<kube::Service>(
      {service("demo", "dns", {"172.30.0.53", "fd00:30::53"}, {port("dns", 53, L4Proto::UDP), port("dns-tcp", 53)})});
  cache_.replaceAll<kube::EndpointSlice>({slice("demo", "dns", "u", {{"fd00:180::5"}}, {{"dns", 5353}}, L4Proto::UDP),
                                          slice("demo", "dns", "t", {{"fd00:180::5"}}, {{"dns-tcp", 5353}})});
  for (bool maps : {true, false}) {
    SCOPED_TRACE(maps ? "endpoint maps" : "chain layout");
    cfg_.ipv4->endpointMaps = cfg_.ipv6->endpointMaps = maps;
    real_ = std::make_unique<Proxier>(cache_, *kernel_, nullptr, cfg_, clock_, nullptr);
    SyncReport r = real_->syncNowForTest(true);
    ASSERT_TRUE(r.ok) << r.error;
    auto listed = node_.exec({"nft", "list", "table", "ip6", "nodenet"});
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->out.find("fd00:30::53 . udp . 53 . 0 : fd00:180::5 . 5353") != std::string::npos, maps)
        << listed->out;
    for (const char* transport : {"+notcp", "+tcp"}) {
      auto d = node_.exec({"dig", "-6", "+short", "+tries=1", "+time=2", transport, "@fd00:30::53", "-p", "53",
                           "web.demo.svc.cluster.local", "A"});
      ASSERT_TRUE(d.ok()) << d.error().message();
      EXPECT_EQ(d->out, "10.96.0.10\n") << transport << ": " << d->err << "\n" << listed->out << "\n" << dns->log();
    }
  }
}

TEST_F(KernelSyncTest, FullThenIncrementalSyncsLoadAndListCleanly) {
  everyFeature(cache_);
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("full sync", true));

  // Scale up, scale down, endpoints move, affinity timeout changes, a Service goes, another comes, a ClusterIP
  // moves between Services, the LB loses its source ranges, everything scaled to zero.
  cache_.apply(kube::Event::added(slice("ns1", "plain", "a", {{"10.180.0.1"}, {"10.180.0.9"}}, {{"http", 8080}, {"https", 8443}})));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("endpoints moved"));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("stale endpoint chain deleted"));

  kube::Service aff = *cache_.snapshot()->service("ns1/affinity");
  aff.affinityTimeoutSeconds = 60;
  cache_.apply(kube::Event::added(aff));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("affinity timeout changed"));
  aff.sessionAffinity = kube::SessionAffinity::None;
  cache_.apply(kube::Event::added(aff));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("affinity off"));
  aff.sessionAffinity = kube::SessionAffinity::ClientIP;
  cache_.apply(kube::Event::added(aff));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("affinity back on before the set was deleted"));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("quiet"));

  cache_.apply(kube::Event::deleted(kube::ObjectKind::Service, "ns1/nodeport"));
  kube::Service taker = service("ns2", "taker", {"172.30.0.11"}, {port("http", 80, L4Proto::TCP, 30001)});
  taker.type = kube::ServiceType::NodePort;
  cache_.apply(kube::Event::added(taker));
  cache_.apply(kube::Event::added(slice("ns2", "taker", "a", {{"10.180.0.2"}}, {{"http", 8080}})));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("ClusterIP and NodePort move to another Service"));

  kube::Service lb = *cache_.snapshot()->service("ns1/lb");
  lb.loadBalancerSourceRanges.clear();
  cache_.apply(kube::Event::added(lb));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("source ranges dropped"));

  for (const auto& [key, obj] : cache_.snapshot()->objects(kube::ObjectKind::EndpointSlice)) {
    kube::EndpointSlice s = std::get<kube::EndpointSlice>(*obj);
    s.endpoints.clear();
    cache_.apply(kube::Event::added(std::move(s)));
  }
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("everything scaled to zero"));
  everyFeature(cache_);
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("everything back"));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("periodic full", true));
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("after full"));
}

TEST_F(KernelSyncTest, RandomChangesMatchTheFake) {
  std::mt19937 rng(42);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  everyFeature(cache_);
  ASSERT_NO_FATAL_FAILURE(syncAndCheck("full", true));
  for (int step = 0; step < 25; ++step) {
    int n = pick(8);
    std::string name = "r" + std::to_string(n);
    if (pick(4) == 0) {
      cache_.apply(kube::Event::deleted(kube::ObjectKind::Service, "ns3/" + name));
    } else {
      std::string cip = "172.30.1." + std::to_string(n);
      kube::Service s = service("ns3", name.c_str(), {cip.c_str()},
                                {port("p", 80, pick(2) ? L4Proto::TCP : L4Proto::UDP, uint16_t(31000 + n))});
      s.type = kube::ServiceType::NodePort;
      if (pick(3) == 0) s.sessionAffinity = kube::SessionAffinity::ClientIP;
      if (pick(3) == 0) s.externalTrafficPolicy = kube::TrafficPolicy::Local;
      cache_.apply(kube::Event::added(s));
      std::vector<Ep> eps;
      for (int i = pick(4); i > 0; --i) eps.push_back(Ep{"10.180." + std::to_string(pick(2)) + "." + std::to_string(1 + pick(9)),
                                                         pick(2) ? "node-a" : "node-b"});
      cache_.apply(kube::Event::added(slice("ns3", name.c_str(), "a", eps, {{"p", 8080}}, s.ports[0].protocol)));
    }
    ASSERT_NO_FATAL_FAILURE(syncAndCheck("random step " + std::to_string(step)));
  }
}

TEST_F(KernelSyncTest, StartReplacesForeignLeftoversOfOurTableOnly) {
  // A previous run's leftovers in our table, and somebody else's table.
  const std::string file = tmp_.path() + "/old.nft";
  std::ofstream(file) << "table ip nodenet {\n"
                         "  chain service-OLD { ip daddr 1.2.3.4 drop; }\n"
                         "  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; "
                         "elements = { 172.30.9.9 . tcp . 80 : goto service-OLD } }\n"
                         "}\n"
                         "table inet other {\n"
                         "  chain keep {\n    type filter hook input priority 0; policy accept;\n  }\n"
                         "}\n";
  auto loaded = node_.exec({"nft", "-f", file});
  ASSERT_TRUE(loaded.ok() && loaded->ok()) << (loaded.ok() ? loaded->err : loaded.error().message());
  everyFeature(cache_);
  SyncReport r = real_->syncNowForTest();
  ASSERT_TRUE(r.ok) << r.error;
  auto listed = node_.exec({"nft", "list", "table", "ip", "nodenet"});
  EXPECT_EQ(listed->out.find("172.30.9.9"), std::string::npos);
  EXPECT_NE(listed->out.find("chain service-OLD"), std::string::npos);  // flushed, deleted next sync
  r = real_->syncNowForTest();
  ASSERT_TRUE(r.ok) << r.error;
  listed = node_.exec({"nft", "list", "table", "ip", "nodenet"});
  EXPECT_EQ(listed->out.find("service-OLD"), std::string::npos);
  auto other = node_.exec({"nft", "list", "table", "inet", "other"});
  ASSERT_TRUE(other.ok() && other->ok());
  EXPECT_NE(other->out.find("chain keep"), std::string::npos);
  // --cleanup removes ours and only ours.
  ASSERT_TRUE(cleanupTables(*kernel_).ok());
  auto tables = node_.exec({"nft", "list", "tables"});
  EXPECT_EQ(tables->out, "table inet other\n");
}

}  // namespace
}  // namespace nodenet::proxy::sync
