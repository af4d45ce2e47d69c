// proxy/rules: golden rulesets per feature, applied to FakeNft, plus virtual packets through the Ruleset.
//
// IP plan (every test in this file):
//   node      node-a, zone-a, 192.168.99.2 and fd00:99::2 (another node: node-b, zone-b)
//   pods      clusterCIDR 10.180.0.0/16 and fd00:180::/64; 10.180.0.1, 10.180.0.2 on node-a, 10.180.1.1 on
//             node-b; fd00:180::1 on node-a; a client pod 10.180.0.5
//   services  172.30.0.41 (ns1/svc1), 172.30.0.42 (ns2/svc2), ... and fd00:30::41
//   external  externalIP 192.168.99.100; LoadBalancer 5.6.7.8 (ipMode VIP), 5.6.7.9 (ipMode Proxy);
//             off-cluster client 203.0.113.5; NodePort 30080
//
// Goldens live in testdata/<name>.nft (FakeNft's dump of the table); NODENET_UPDATE_GOLDEN=1 rewrites them
// (review the diff). ctest runs every test twice: with the default layout (endpoint maps) and with
// NODENET_PROXY_RULES_LAYOUT=chains (Config::endpointMaps = false, kube-proxy's chain per Service and endpoint;
// goldens in testdata/chains/), and the packet traces must come out the same in both.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "netlink/fake/fake_nft.h"
#include "proxy/rules/endpoints.h"
#include "proxy/rules/names.h"
#include "proxy/rules/ruleset.h"
#include "tests/proxy_rules/kube_builders.h"
#include "tests/proxy_rules/tracer.h"

namespace nodenet::proxy::rules {
namespace {

bool chainLayout() {
  const char* l = std::getenv("NODENET_PROXY_RULES_LAYOUT");
  return l && std::string(l) == "chains";
}

using testing::Tracer;

using namespace kubetest;

struct Ep {
  const char* ip;
  const char* node = "node-a";
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  std::vector<const char*> zoneHints = {};
};

kube::EndpointSlice slice(const char* svcName, std::vector<Ep> eps, std::vector<std::pair<const char*, uint16_t>> ports,
                          L4Proto proto = L4Proto::TCP) {
  kube::EndpointSlice sl;
  sl.meta.name = std::string(svcName) + "-abcde";
  sl.meta.labels = kube::StringMap({{in(kube::kLabelServiceName), svcName}});
  sl.addressType = eps.empty() || ip(eps[0].ip).isV4() ? kube::AddressType::IPv4 : kube::AddressType::IPv6;
  for (const Ep& e : eps) {
    kube::Endpoint ep;
    ep.addresses.push_back(ip(e.ip));
    ep.conditions.ready = e.ready;
    ep.conditions.serving = e.serving;
    ep.conditions.terminating = e.terminating;
    ep.nodeName = in(e.node);
    ep.zone = in(std::string(e.node) == "node-a" ? "zone-a" : "zone-b");
    for (const char* z : e.zoneHints) ep.hintsForZones.push_back(in(z));
    sl.endpoints.push_back(std::move(ep));
  }
  for (auto& [name, p] : ports) sl.ports.push_back(kube::EndpointPort{in(name), proto, p, {}});
  return sl;
}

/// A test scenario: services and slices owned here, so Input's pointers stay valid.
struct World {
  std::vector<kube::Service> services;
  std::vector<std::vector<kube::EndpointSlice>> slices;
  Config config;

  World() {
    config.clusterCIDRs = {cidr("10.180.0.0/16"), cidr("fd00:180::/64")};
    config.endpointMaps = !chainLayout();
  }
  kube::Service& add(kube::Service s, std::vector<kube::EndpointSlice> sl = {}) {
    services.reserve(16);
    slices.reserve(16);
    services.push_back(std::move(s));
    slices.push_back(std::move(sl));
    return services.back();
  }
  Input input() const {
    Input input;
    input.node = NodeInput{"node-a", "zone-a", {ip("192.168.99.2"), ip("fd00:99::2")}};
    for (size_t i = 0; i < services.size(); ++i) {
      ServiceInput si{&services[i], {}};
      for (const auto& s : slices[i]) si.slices.push_back(&s);
      input.services.push_back(std::move(si));
    }
    return input;
  }
  Ruleset build(IpFamily family = IpFamily::V4) const {
    Config c = config;
    c.family = family;
    return buildRuleset(input(), c);
  }
};

/// Applies the ruleset to a FakeNft (must succeed), then compares its dump with testdata/<name>.nft.
void expectGolden(const std::string& name, const Ruleset& rs) {
  nft::Transaction tx = toTransaction(rs);
  ASSERT_TRUE(tx.ok()) << tx.status().error().message();
  nft::FakeNft fake;
  Status st = fake.commit(tx);
  ASSERT_TRUE(st.ok()) << st.error().message();
  // A second full sync over the first must apply too (what every resync does).
  st = fake.commit(tx);
  ASSERT_TRUE(st.ok()) << "resync: " << st.error().message();
  std::string got = fake.dumpTable(rs.family, rs.table);
  std::string path = std::string(NODENET_PROXY_RULES_TESTDATA) + (chainLayout() ? "/chains/" : "/") + name + ".nft";
  if (const char* u = std::getenv("NODENET_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(path) << got;
    return;
  }
  std::ifstream f(path);
  ASSERT_TRUE(f.good()) << "missing golden " << path << " (NODENET_UPDATE_GOLDEN=1 writes it)";
  std::stringstream want;
  want << f.rdbuf();
  EXPECT_EQ(want.str(), got) << "golden " << path;
}

Tracer tracer(const Ruleset& rs) { return Tracer(rs, {ip("192.168.99.2"), ip("fd00:99::2")}); }

using Outcomes = std::set<std::string>;

TEST(ProxyRules, NoServices) { expectGolden("no_services", World().build()); }

TEST(ProxyRules, ClusterIPSingleEndpoint) {
  World w;
  w.add(service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80)}),
        {slice("svc1", {{"10.180.0.1"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("clusterip_single", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80"}));
  // Off-cluster source: masqueraded so the reply comes back through this node.
  EXPECT_EQ(t.trace("192.168.99.50", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80 masq"}));
  // Hairpin: the endpoint reaching itself through the Service.
  EXPECT_EQ(t.trace("10.180.0.1", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80 masq"}));
  // Unserved port of a ClusterIP: rejected by cluster-ips-check.
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 81), (Outcomes{"reject"}));
  // UDP to the TCP port: also unserved.
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80, L4Proto::UDP), (Outcomes{"reject"}));
  // Not a service address: untouched.
  EXPECT_EQ(t.trace("10.180.0.5", "8.8.8.8", 53, L4Proto::UDP), (Outcomes{"accept"}));
}

TEST(ProxyRules, ClusterIPMultipleEndpoints) {
  World w;
  w.add(service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80)}),
        {slice("svc1", {{"10.180.0.2"}, {"10.180.0.1"}, {"10.180.1.1", "node-b"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("clusterip_multiple", rs);
  EXPECT_EQ(tracer(rs).trace("10.180.0.5", "172.30.0.41", 80),
            (Outcomes{"dnat 10.180.0.1:80", "dnat 10.180.0.2:80", "dnat 10.180.1.1:80"}));
}

TEST(ProxyRules, MultiplePorts) {
  World w;
  w.add(service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80), port("p443", 443)}),
        {slice("svc1", {{"10.180.0.1"}, {"10.180.0.2"}}, {{"p80", 8080}, {"p443", 8443}})});
  Ruleset rs = w.build();
  expectGolden("multiple_ports", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:8080", "dnat 10.180.0.2:8080"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 443), (Outcomes{"dnat 10.180.0.1:8443", "dnat 10.180.0.2:8443"}));
}

TEST(ProxyRules, UdpAndSctp) {
  World w;
  w.add(service("ns1", "dns", {"172.30.0.10"}, {port("dns", 53, L4Proto::UDP)}),
        {slice("dns", {{"10.180.0.1"}}, {{"dns", 53}}, L4Proto::UDP)});
  w.add(service("ns1", "sig", {"172.30.0.11"}, {port("sig", 3868, L4Proto::SCTP)}),
        {slice("sig", {{"10.180.0.2"}}, {{"sig", 3868}}, L4Proto::SCTP)});
  Ruleset rs = w.build();
  expectGolden("udp_sctp", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.10", 53, L4Proto::UDP), (Outcomes{"dnat 10.180.0.1:53"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.10", 53, L4Proto::TCP), (Outcomes{"reject"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.11", 3868, L4Proto::SCTP), (Outcomes{"dnat 10.180.0.2:3868"}));
}

TEST(ProxyRules, NodePort) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80, L4Proto::TCP, 30080)});
  s.type = kube::ServiceType::NodePort;
  w.add(s, {slice("svc1", {{"10.180.0.1"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("nodeport", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("203.0.113.5", "192.168.99.2", 30080), (Outcomes{"dnat 10.180.0.1:80 masq"}));
  EXPECT_EQ(t.trace("203.0.113.5", "192.168.99.3", 30080), (Outcomes{"accept"}));  // not ours
  EXPECT_EQ(t.trace("203.0.113.5", "192.168.99.2", 30081), (Outcomes{"accept"}));  // local port, not a NodePort

  // --nodeport-addresses primary: the nodeport-ips set instead of fib.
  w.config.nodePortAddresses = *parseNodePortAddresses({"primary"});
  rs = w.build();
  expectGolden("nodeport_primary", rs);
  EXPECT_EQ(tracer(rs).trace("203.0.113.5", "192.168.99.2", 30080), (Outcomes{"dnat 10.180.0.1:80 masq"}));
}

TEST(ProxyRules, LoadBalancerVipAndProxyModes) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80, L4Proto::TCP, 30080)});
  s.type = kube::ServiceType::LoadBalancer;
  s.loadBalancerIngress = {{ip("5.6.7.8"), "", kube::LoadBalancerIpMode::VIP, {}},
                           {ip("5.6.7.9"), "", kube::LoadBalancerIpMode::Proxy, {}}};
  w.add(s, {slice("svc1", {{"10.180.0.1"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("loadbalancer", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("203.0.113.5", "5.6.7.8", 80), (Outcomes{"dnat 10.180.0.1:80 masq"}));
  EXPECT_EQ(t.trace("203.0.113.5", "5.6.7.9", 80), (Outcomes{"accept"}));  // the LB proxies: not captured
}

TEST(ProxyRules, ExternalIPs) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80)});
  s.externalIPs = {ip("192.168.99.100"), ip("fd00:99::100")};
  w.add(s, {slice("svc1", {{"10.180.0.1"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("external_ips", rs);
  EXPECT_EQ(tracer(rs).trace("203.0.113.5", "192.168.99.100", 80), (Outcomes{"dnat 10.180.0.1:80 masq"}));
}

TEST(ProxyRules, SessionAffinity) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80)});
  s.sessionAffinity = kube::SessionAffinity::ClientIP;
  s.affinityTimeoutSeconds = 600;
  w.add(s, {slice("svc1", {{"10.180.0.1"}, {"10.180.0.2"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("affinity", rs);
  EXPECT_EQ(tracer(rs).trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80", "dnat 10.180.0.2:80"}));
}

TEST(ProxyRules, ExternalTrafficPolicyLocal) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80, L4Proto::TCP, 30080)});
  s.type = kube::ServiceType::LoadBalancer;
  s.externalTrafficPolicy = kube::TrafficPolicy::Local;
  s.healthCheckNodePort = 30000;
  s.loadBalancerIngress = {{ip("5.6.7.8"), "", std::nullopt, {}}};
  w.add(s, {slice("svc1", {{"10.180.0.1"}, {"10.180.1.1", "node-b"}}, {{"p80", 80}})});
  // Same, but its only endpoint is on another node: external traffic is dropped here.
  auto s2 = service("ns2", "svc2", {"172.30.0.42"}, {port("p80", 80, L4Proto::TCP, 30081)});
  s2.type = kube::ServiceType::NodePort;
  s2.externalTrafficPolicy = kube::TrafficPolicy::Local;
  w.add(s2, {slice("svc2", {{"10.180.1.1", "node-b"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("etp_local", rs);
  auto t = tracer(rs);
  // External clients keep their source address and reach only the local endpoint.
  EXPECT_EQ(t.trace("203.0.113.5", "5.6.7.8", 80), (Outcomes{"dnat 10.180.0.1:80"}));
  EXPECT_EQ(t.trace("203.0.113.5", "192.168.99.2", 30080), (Outcomes{"dnat 10.180.0.1:80"}));
  // Pods going to the LB IP are short-circuited to the cluster chain.
  EXPECT_EQ(t.trace("10.180.0.5", "5.6.7.8", 80), (Outcomes{"dnat 10.180.0.1:80", "dnat 10.180.1.1:80"}));
  // ClusterIP traffic still uses every endpoint.
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80", "dnat 10.180.1.1:80"}));
  EXPECT_EQ(t.trace("203.0.113.5", "192.168.99.2", 30081), (Outcomes{"drop"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.42", 80), (Outcomes{"dnat 10.180.1.1:80"}));
}

TEST(ProxyRules, InternalTrafficPolicyLocal) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80)});
  s.internalTrafficPolicy = kube::TrafficPolicy::Local;
  w.add(s, {slice("svc1", {{"10.180.0.1"}, {"10.180.1.1", "node-b"}}, {{"p80", 80}})});
  auto s2 = service("ns2", "svc2", {"172.30.0.42"}, {port("p80", 80)});
  s2.internalTrafficPolicy = kube::TrafficPolicy::Local;
  w.add(s2, {slice("svc2", {{"10.180.1.1", "node-b"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("itp_local", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.42", 80), (Outcomes{"drop"}));  // endpoints elsewhere only
}

TEST(ProxyRules, TerminatingFallback) {
  World w;
  // No ready endpoint: the serving+terminating one is used; the non-serving terminating one is not.
  w.add(service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80)}),
        {slice("svc1",
               {{"10.180.0.1", "node-a", false, true, true}, {"10.180.0.2", "node-a", false, false, true}},
               {{"p80", 80}})});
  // A ready endpoint exists: terminating ones are ignored.
  w.add(service("ns2", "svc2", {"172.30.0.42"}, {port("p80", 80)}),
        {slice("svc2", {{"10.180.0.1", "node-a", false, true, true}, {"10.180.0.2"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("terminating", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.42", 80), (Outcomes{"dnat 10.180.0.2:80"}));
}

TEST(ProxyRules, TopologyHints) {
  World w;
  std::vector<Ep> eps = {{"10.180.0.1", "node-a", true, true, false, {"zone-a"}},
                         {"10.180.1.1", "node-b", true, true, false, {"zone-b"}}};
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80)});
  s.trafficDistribution = kube::TrafficDistribution::PreferClose;
  w.add(s, {slice("svc1", eps, {{"p80", 80}})});
  // Hints incomplete (one endpoint has none): all endpoints, as kube-proxy.
  auto s2 = service("ns2", "svc2", {"172.30.0.42"}, {port("p80", 80)});
  s2.meta.annotations = kube::StringMap({{in(kube::kAnnotationTopologyMode), "Auto"}});
  std::vector<Ep> eps2 = eps;
  eps2[1].zoneHints.clear();
  w.add(s2, {slice("svc2", eps2, {{"p80", 80}})});
  // No topology requested: hints ignored.
  w.add(service("ns3", "svc3", {"172.30.0.43"}, {port("p80", 80)}), {slice("svc3", eps, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("topology", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.42", 80), (Outcomes{"dnat 10.180.0.1:80", "dnat 10.180.1.1:80"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.43", 80), (Outcomes{"dnat 10.180.0.1:80", "dnat 10.180.1.1:80"}));
}

TEST(ProxyRules, NoEndpointsRejected) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80, L4Proto::TCP, 30080)});
  s.type = kube::ServiceType::LoadBalancer;
  s.externalIPs = {ip("192.168.99.100")};
  s.loadBalancerIngress = {{ip("5.6.7.8"), "", std::nullopt, {}}};
  w.add(s, {slice("svc1", {{"10.180.0.1", "node-a", false, false, false}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("no_endpoints", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"reject"}));
  EXPECT_EQ(t.trace("10.180.0.5", "172.30.0.41", 80, L4Proto::TCP, /*fromHost=*/true), (Outcomes{"reject"}));
  EXPECT_EQ(t.trace("203.0.113.5", "192.168.99.100", 80), (Outcomes{"reject"}));
  EXPECT_EQ(t.trace("203.0.113.5", "5.6.7.8", 80), (Outcomes{"reject"}));
  EXPECT_EQ(t.trace("203.0.113.5", "192.168.99.2", 30080), (Outcomes{"reject"}));
}

TEST(ProxyRules, LoadBalancerSourceRanges) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80, L4Proto::TCP, 30080)});
  s.type = kube::ServiceType::LoadBalancer;
  s.loadBalancerIngress = {{ip("5.6.7.8"), "", std::nullopt, {}}};
  s.loadBalancerSourceRanges = {cidr("203.0.113.0/25"), cidr("192.168.99.0/24")};
  w.add(s, {slice("svc1", {{"10.180.0.1"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("source_ranges", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("203.0.113.5", "5.6.7.8", 80), (Outcomes{"dnat 10.180.0.1:80 masq"}));
  EXPECT_EQ(t.trace("203.0.113.200", "5.6.7.8", 80), (Outcomes{"drop"}));
  EXPECT_EQ(t.trace("5.6.7.8", "5.6.7.8", 80), (Outcomes{"dnat 10.180.0.1:80 masq"}));  // allowFromNode
  // NodePorts are not subject to source ranges (kube-proxy compatible).
  EXPECT_EQ(t.trace("203.0.113.200", "192.168.99.2", 30080), (Outcomes{"dnat 10.180.0.1:80 masq"}));
}

TEST(ProxyRules, IgnoredServices) {
  World w;
  auto headless = service("ns1", "headless", {}, {port("p80", 80)});
  headless.headless = true;
  w.add(headless, {slice("headless", {{"10.180.0.1"}}, {{"p80", 80}})});
  auto ext = service("ns1", "ext", {}, {});
  ext.type = kube::ServiceType::ExternalName;
  ext.externalName = "example.com";
  w.add(ext);
  auto other = service("ns1", "other", {"172.30.0.44"}, {port("p80", 80)});
  other.meta.labels = kube::StringMap({{in(kube::kLabelServiceProxyName), "someone-else"}});
  w.add(other, {slice("other", {{"10.180.0.1"}}, {{"p80", 80}})});
  Ruleset rs = w.build();
  expectGolden("no_services", rs);  // exactly as if none existed
  EXPECT_EQ(tracer(rs).trace("10.180.0.5", "172.30.0.44", 80), (Outcomes{"accept"}));
}

TEST(ProxyRules, DualStack) {
  World w;
  auto s = service("ns1", "svc1", {"172.30.0.41", "fd00:30::41"}, {port("p80", 80)});
  s.ipFamilyPolicy = kube::IpFamilyPolicy::RequireDualStack;
  w.add(s, {slice("svc1", {{"10.180.0.1"}}, {{"p80", 80}}), slice("svc1", {{"fd00:180::1"}}, {{"p80", 80}})});
  // Single-stack IPv4: absent from the ip6 table.
  w.add(service("ns2", "svc2", {"172.30.0.42"}, {port("p80", 80)}), {slice("svc2", {{"10.180.0.2"}}, {{"p80", 80}})});
  Ruleset v4 = w.build(IpFamily::V4), v6 = w.build(IpFamily::V6);
  EXPECT_EQ(v4.family, nft::Family::Ip);
  EXPECT_EQ(v6.family, nft::Family::Ip6);
  expectGolden("dualstack_ip", v4);
  expectGolden("dualstack_ip6", v6);
  EXPECT_EQ(tracer(v6).trace("fd00:180::5", "fd00:30::41", 80), (Outcomes{"dnat fd00:180::1:80"}));
  EXPECT_EQ(tracer(v4).trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80"}));
}

TEST(ProxyRules, MasqueradeAllAndSeveralClusterCIDRs) {
  World w;
  w.add(service("ns1", "svc1", {"172.30.0.41"}, {port("p80", 80)}), {slice("svc1", {{"10.180.0.1"}}, {{"p80", 80}})});
  w.config.masqueradeAll = true;
  Ruleset rs = w.build();
  expectGolden("masquerade_all", rs);
  EXPECT_EQ(tracer(rs).trace("10.180.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80 masq"}));
  w.config.masqueradeAll = false;
  w.config.clusterCIDRs = {cidr("10.180.0.0/16"), cidr("10.181.0.0/16")};
  rs = w.build();
  expectGolden("two_cluster_cidrs", rs);
  auto t = tracer(rs);
  EXPECT_EQ(t.trace("10.181.0.5", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80"}));
  EXPECT_EQ(t.trace("192.168.99.50", "172.30.0.41", 80), (Outcomes{"dnat 10.180.0.1:80 masq"}));
}

TEST(ProxyRules, NamesAreHashedAndBounded) {
  EXPECT_EQ(hashedName("service", "ns1/svc1/tcp/p80"), hashedName("service", "ns1/svc1/tcp/p80"));
  EXPECT_NE(hashedName("service", "ns1/svc1/tcp/p80"), hashedName("service", "ns1/svc1/tcp/p81"));
  std::string n = hashedName("endpoint", std::string(400, 'x'));
  EXPECT_EQ(n.size(), nft::kMaxNameLen);
  EXPECT_TRUE(n.rfind("endpoint-", 0) == 0);
}

TEST(ProxyRules, ParseNodePortAddresses) {
  auto r = parseNodePortAddresses({"primary", " 192.168.99.0/24 "});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->primary);
  ASSERT_EQ(r->cidrs.size(), 1u);
  EXPECT_FALSE(parseNodePortAddresses({"eth0"}).ok());
  EXPECT_TRUE(parseNodePortAddresses({}).value().all());
}

}  // namespace
}  // namespace nodenet::proxy::rules
