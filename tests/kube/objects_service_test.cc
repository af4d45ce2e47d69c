// Service decoding from served objects of every type (testdata/service_*.json).
// IP plan: cluster IPs 10.96.0.0/16 and fd00:10:96::/112; LB IPs 192.0.2.0/24; external 198.51.100.0/24.
#include <nlohmann/json.hpp>

#include "tests/kube/testutil.h"

namespace nodenet::kube {
namespace {

using namespace nodenet::kube::testing;
using nlohmann::json;

Service decodeFixture(const std::string& name) {
  Service dom = unwrap(decodeService(loadJson(name)));
  // The filtering text path must agree with the tree path on every served object.
  Service text = unwrap(decodeServiceText(readTestdata(name)));
  EXPECT_EQ(dom, text) << name;
  return dom;
}

TEST(ServiceDecode, ClusterIP) {
  Service s = decodeFixture("service_clusterip.json");
  EXPECT_EQ(s.meta.ns, "default");
  EXPECT_EQ(s.meta.name, "web");
  EXPECT_EQ(s.meta.key(), "default/web");
  EXPECT_EQ(s.meta.uid, "4f9c2b8e-3c1d-4a57-9b8e-2f6d1c0a7e31");
  EXPECT_EQ(s.meta.resourceVersion, "48213");
  EXPECT_EQ(s.meta.generation, 0);
  EXPECT_FALSE(s.meta.deleting);
  EXPECT_EQ(s.meta.labels.size(), 2u);
  EXPECT_EQ(s.meta.labels.get("app"), "web");
  EXPECT_EQ(s.meta.labels.get("app.kubernetes.io/name"), "web");
  // kubectl's last-applied-configuration is not kept.
  EXPECT_TRUE(s.meta.annotations.empty());

  EXPECT_EQ(s.type, ServiceType::ClusterIP);
  EXPECT_FALSE(s.headless);
  ASSERT_EQ(s.clusterIPs.size(), 1u);
  EXPECT_EQ(s.clusterIPs[0], ip("10.96.12.34"));
  EXPECT_EQ(s.clusterIP(IpFamily::V4), ip("10.96.12.34"));
  EXPECT_EQ(s.clusterIP(IpFamily::V6), std::nullopt);
  EXPECT_EQ(s.ipFamilies, std::vector<IpFamily>{IpFamily::V4});
  EXPECT_EQ(s.ipFamilyPolicy, IpFamilyPolicy::SingleStack);
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].name, "http");
  EXPECT_EQ(s.ports[0].protocol, L4Proto::TCP);
  EXPECT_EQ(s.ports[0].port, 80);
  EXPECT_EQ(s.ports[0].targetPort, (TargetPort{8080, {}}));
  EXPECT_EQ(s.ports[0].nodePort, 0);
  EXPECT_TRUE(s.ports[0].appProtocol.empty());
  EXPECT_EQ(s.ports[1].name, "metrics");
  EXPECT_TRUE(s.ports[1].targetPort.isNamed());
  EXPECT_EQ(s.ports[1].targetPort.name, "metrics");
  EXPECT_EQ(s.ports[1].appProtocol, "http");
  EXPECT_TRUE(s.hasSelector);
  EXPECT_EQ(s.sessionAffinity, SessionAffinity::None);
  EXPECT_EQ(s.affinityTimeoutSeconds, kDefaultAffinityTimeoutSeconds);
  EXPECT_EQ(s.externalTrafficPolicy, TrafficPolicy::Cluster);
  EXPECT_EQ(s.internalTrafficPolicy, TrafficPolicy::Cluster);
  EXPECT_EQ(s.trafficDistribution, TrafficDistribution::Unset);
  EXPECT_TRUE(s.loadBalancerIngress.empty());
  EXPECT_FALSE(s.hasServiceProxyName());
}

TEST(ServiceDecode, NodePortWithEveryProtocol) {
  Service s = decodeFixture("service_nodeport.json");
  EXPECT_EQ(s.meta.key(), "infra/dns-udp");
  EXPECT_EQ(s.type, ServiceType::NodePort);
  ASSERT_EQ(s.ports.size(), 3u);
  EXPECT_EQ(s.ports[0].protocol, L4Proto::UDP);
  EXPECT_EQ(s.ports[0].nodePort, 30053);
  EXPECT_EQ(s.ports[1].protocol, L4Proto::TCP);
  EXPECT_EQ(s.ports[1].nodePort, 30054);
  EXPECT_EQ(s.ports[2].protocol, L4Proto::SCTP);
  EXPECT_EQ(s.ports[2].port, 3868);
  EXPECT_EQ(s.externalTrafficPolicy, TrafficPolicy::Cluster);
}

TEST(ServiceDecode, LoadBalancerWithIngressModesAndSourceRanges) {
  Service s = decodeFixture("service_loadbalancer.json");
  EXPECT_EQ(s.type, ServiceType::LoadBalancer);
  EXPECT_EQ(s.externalTrafficPolicy, TrafficPolicy::Local);
  EXPECT_EQ(s.healthCheckNodePort, 32011);
  EXPECT_EQ(s.allocateLoadBalancerNodePorts, false);
  // Whitespace padding is tolerated (validation allowed it); both families are kept.
  EXPECT_EQ(s.loadBalancerSourceRanges,
            (std::vector<Cidr>{cidr("203.0.113.0/24"), cidr("198.51.100.7/32"), cidr("2001:db8:100::/48")}));
  // Only the kept annotations survive.
  EXPECT_EQ(s.meta.annotations.size(), 1u);
  EXPECT_EQ(s.meta.annotations.get(kAnnotationTopologyMode), "Auto");

  ASSERT_EQ(s.loadBalancerIngress.size(), 4u);
  const auto& vip = s.loadBalancerIngress[0];
  EXPECT_EQ(vip.ip, ip("192.0.2.10"));
  EXPECT_EQ(vip.ipMode, LoadBalancerIpMode::VIP);
  EXPECT_TRUE(vip.isVip());
  const auto& proxy = s.loadBalancerIngress[1];
  EXPECT_EQ(proxy.ipMode, LoadBalancerIpMode::Proxy);
  EXPECT_FALSE(proxy.isVip());
  ASSERT_EQ(proxy.ports.size(), 2u);
  EXPECT_EQ(proxy.ports[0], (PortStatus{443, L4Proto::TCP, std::nullopt}));
  EXPECT_EQ(proxy.ports[1], (PortStatus{443, L4Proto::UDP, std::string("UDPNotSupported")}));
  const auto& nilMode = s.loadBalancerIngress[2];
  EXPECT_EQ(nilMode.ipMode, std::nullopt);
  EXPECT_TRUE(nilMode.isVip());  // nil ipMode = VIP
  const auto& host = s.loadBalancerIngress[3];
  EXPECT_EQ(host.ip, std::nullopt);
  EXPECT_EQ(host.hostname, "gw-1234.elb.example.com");
  EXPECT_FALSE(host.isVip());
}

TEST(ServiceDecode, LegacySourceRangesAnnotationAndGlobalPolicy) {
  Service s = decodeFixture("service_loadbalancer_legacy_ranges.json");
  EXPECT_EQ(s.loadBalancerSourceRanges,
            (std::vector<Cidr>{cidr("10.0.0.0/8"), cidr("192.168.0.0/16"), cidr("fd00::/8")}));
  EXPECT_EQ(s.externalTrafficPolicy, TrafficPolicy::Cluster);  // "Global"
  // Pre-1.20 object: only clusterIP, no clusterIPs/ipFamilies; families are derived.
  EXPECT_EQ(s.clusterIPs, std::vector<IpAddress>{ip("10.96.80.2")});
  EXPECT_EQ(s.ipFamilies, std::vector<IpFamily>{IpFamily::V4});
  EXPECT_EQ(s.allocateLoadBalancerNodePorts, std::nullopt);
  ASSERT_EQ(s.ports.size(), 1u);
  EXPECT_TRUE(s.ports[0].name.empty());
}

TEST(ServiceDecode, SpecRangesWinOverAnnotation) {
  json j = loadJson("service_loadbalancer.json");
  j["metadata"]["annotations"][std::string(kAnnotationLoadBalancerSourceRanges)] = "10.0.0.0/8";
  Service s = unwrap(decodeService(j));
  EXPECT_EQ(s.loadBalancerSourceRanges.size(), 3u);
  EXPECT_EQ(s.loadBalancerSourceRanges[0], cidr("203.0.113.0/24"));
}

TEST(ServiceDecode, AnnotationIgnoredOnNonLoadBalancer) {
  json j = loadJson("service_clusterip.json");
  j["metadata"]["annotations"][std::string(kAnnotationLoadBalancerSourceRanges)] = "not a cidr";
  Service s = unwrap(decodeService(j));
  EXPECT_TRUE(s.loadBalancerSourceRanges.empty());
}

TEST(ServiceDecode, EmptyAnnotationMeansNoRestriction) {
  json j = loadJson("service_loadbalancer_legacy_ranges.json");
  j["metadata"]["annotations"][std::string(kAnnotationLoadBalancerSourceRanges)] = "  ";
  EXPECT_TRUE(unwrap(decodeService(j)).loadBalancerSourceRanges.empty());
}

TEST(ServiceDecode, ExternalName) {
  Service s = decodeFixture("service_externalname.json");
  EXPECT_EQ(s.type, ServiceType::ExternalName);
  EXPECT_EQ(s.externalName, "billing.db.example.com");
  EXPECT_TRUE(s.clusterIPs.empty());
  EXPECT_FALSE(s.headless);
  EXPECT_TRUE(s.ports.empty());
  EXPECT_FALSE(s.hasSelector);
}

TEST(ServiceDecode, Headless) {
  Service s = decodeFixture("service_headless.json");
  EXPECT_TRUE(s.headless);
  EXPECT_TRUE(s.clusterIPs.empty());
  EXPECT_TRUE(s.publishNotReadyAddresses);
  EXPECT_EQ(s.ipFamilies, (std::vector<IpFamily>{IpFamily::V4, IpFamily::V6}));
  EXPECT_EQ(s.ipFamilyPolicy, IpFamilyPolicy::RequireDualStack);
  EXPECT_TRUE(s.meta.labels.contains(kLabelHeadless));
}

TEST(ServiceDecode, HeadlessFromClusterIPOnly) {
  json j = loadJson("service_headless.json");
  j["spec"].erase("clusterIPs");
  EXPECT_TRUE(unwrap(decodeService(j)).headless);
}

TEST(ServiceDecode, DualStackPrimaryFamilyFirst) {
  Service s = decodeFixture("service_dualstack.json");
  EXPECT_EQ(s.clusterIPs, (std::vector<IpAddress>{ip("fd00:10:96::3f2a"), ip("10.96.44.9")}));
  EXPECT_EQ(s.ipFamilies, (std::vector<IpFamily>{IpFamily::V6, IpFamily::V4}));
  EXPECT_EQ(s.ipFamilyPolicy, IpFamilyPolicy::PreferDualStack);
  EXPECT_EQ(s.clusterIP(IpFamily::V4), ip("10.96.44.9"));
  EXPECT_EQ(s.clusterIP(IpFamily::V6), ip("fd00:10:96::3f2a"));
  EXPECT_EQ(s.trafficDistribution, TrafficDistribution::PreferClose);
  EXPECT_EQ(s.ports[0].appProtocol, "kubernetes.io/h2c");
}

TEST(ServiceDecode, AffinityLocalPoliciesExternalIPsAndDeletion) {
  Service s = decodeFixture("service_affinity_local.json");
  EXPECT_EQ(s.sessionAffinity, SessionAffinity::ClientIP);
  EXPECT_EQ(s.affinityTimeoutSeconds, 600u);
  EXPECT_EQ(s.externalTrafficPolicy, TrafficPolicy::Local);
  EXPECT_EQ(s.internalTrafficPolicy, TrafficPolicy::Local);
  EXPECT_EQ(s.healthCheckNodePort, 31999);
  EXPECT_EQ(s.externalIPs, (std::vector<IpAddress>{ip("198.51.100.50"), ip("2001:db8::50")}));
  EXPECT_EQ(s.trafficDistribution, TrafficDistribution::PreferSameNode);
  EXPECT_EQ(s.meta.generation, 3);
  EXPECT_TRUE(s.meta.deleting);
  EXPECT_TRUE(s.hasServiceProxyName());
}

TEST(ServiceDecode, AffinityTimeoutDefault) {
  json j = loadJson("service_affinity_local.json");
  j["spec"]["sessionAffinityConfig"]["clientIP"].erase("timeoutSeconds");
  EXPECT_EQ(unwrap(decodeService(j)).affinityTimeoutSeconds, 10800u);
}

TEST(ServiceDecode, UnknownTrafficDistributionIsOther) {
  json j = loadJson("service_dualstack.json");
  j["spec"]["trafficDistribution"] = "PreferSomethingNew";
  EXPECT_EQ(unwrap(decodeService(j)).trafficDistribution, TrafficDistribution::Other);
  j["spec"]["trafficDistribution"] = "PreferSameZone";
  EXPECT_EQ(unwrap(decodeService(j)).trafficDistribution, TrafficDistribution::PreferSameZone);
}

TEST(ServiceDecode, ManifestDefaults) {
  // A hand-written manifest: no namespace, no protocol, no targetPort, no type.
  Service s = unwrap(decodeServiceText(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"m"},
      "spec":{"clusterIP":"10.96.5.5","ports":[{"port":8080},{"port":53,"protocol":"UDP","targetPort":0},
      {"port":54,"targetPort":""}]}})"));
  EXPECT_EQ(s.meta.ns, "default");
  EXPECT_EQ(s.type, ServiceType::ClusterIP);
  ASSERT_EQ(s.ports.size(), 3u);
  EXPECT_EQ(s.ports[0].protocol, L4Proto::TCP);
  EXPECT_EQ(s.ports[0].targetPort, (TargetPort{8080, {}}));
  EXPECT_EQ(s.ports[1].targetPort, (TargetPort{53, {}}));
  EXPECT_EQ(s.ports[2].targetPort, (TargetPort{54, {}}));
  EXPECT_EQ(s.ipFamilies, std::vector<IpFamily>{IpFamily::V4});
}

TEST(ServiceDecode, NullMeansAbsent) {
  Service s = unwrap(decodeServiceText(R"({"metadata":{"name":"n","namespace":"x","labels":null,
      "annotations":{"service.kubernetes.io/topology-mode":null}},"spec":{"type":null,"ports":null,
      "selector":null,"clusterIP":null,"externalIPs":null,"sessionAffinityConfig":null},"status":null})"));
  EXPECT_EQ(s.type, ServiceType::ClusterIP);
  EXPECT_TRUE(s.ports.empty());
  EXPECT_FALSE(s.hasSelector);
  EXPECT_EQ(s.meta.annotations.get(kAnnotationTopologyMode), "");  // Go reads a null map value as ""
}

TEST(ServiceDecode, SloppyIPv4LeadingZeros) {
  // Objects created before Kubernetes 1.20 may carry "010.096.000.001"; kube-proxy parses it as decimal.
  json j = loadJson("service_clusterip.json");
  j["spec"]["clusterIP"] = "010.096.000.001";
  j["spec"]["clusterIPs"] = {"010.096.000.001"};
  EXPECT_EQ(unwrap(decodeService(j)).clusterIPs[0], ip("10.96.0.1"));
}

TEST(ServiceDecode, SourceRangesMaskedToNetwork) {
  json j = loadJson("service_loadbalancer.json");
  j["spec"]["loadBalancerSourceRanges"] = {"203.0.113.77/24"};
  EXPECT_EQ(unwrap(decodeService(j)).loadBalancerSourceRanges[0].toString(), "203.0.113.0/24");
}

TEST(ServiceDecode, LabelsSortedAndInterned) {
  Service a = decodeFixture("service_clusterip.json");
  Service b = decodeFixture("service_loadbalancer.json");
  const auto& e = a.meta.labels.entries();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_LT(e[0].key, e[1].key);
  // The same key text shares one pooled copy.
  EXPECT_EQ(a.meta.labels.entries()[1].key.identity(), b.meta.labels.entries()[1].key.identity());
  EXPECT_EQ(a.meta.ns, InternedString("default"));
}

TEST(ServiceDecode, LabelNamedLikeDroppedFieldsIsKept) {
  // The text path drops metadata.managedFields and status.images, not labels that share the name.
  Service s = unwrap(decodeServiceText(R"({"metadata":{"name":"n","labels":{"managedFields":"a","images":"b"},
      "managedFields":[{"manager":"x"}]},"spec":{}})"));
  EXPECT_EQ(s.meta.labels.get("managedFields"), "a");
  EXPECT_EQ(s.meta.labels.get("images"), "b");
}

}  // namespace
}  // namespace nodenet::kube
