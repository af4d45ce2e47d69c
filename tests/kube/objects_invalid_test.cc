// Every invalid-field case rejects the one object with a message naming the object and the exact field path.
// Each case starts from a served fixture and changes one field (a JSON pointer and a new value, or removal).
#include <nlohmann/json.hpp>

#include "tests/kube/testutil.h"

namespace nodenet::kube {
namespace {

using namespace nodenet::kube::testing;
using nlohmann::json;

struct Case {
  const char* pointer;  // JSON pointer into the fixture
  json value;           // the new value; a discarded value removes the field
  const char* message;  // the whole expected error message
};

json removed() { return json(json::value_t::discarded); }

json mutate(json j, const Case& c) {
  json::json_pointer ptr(c.pointer);
  if (c.value.is_discarded()) {
    j[ptr.parent_pointer()].erase(ptr.back());
  } else {
    j[ptr] = c.value;
  }
  return j;
}

template <typename Decode>
void runCases(const char* fixture, const std::vector<Case>& cases, Decode decode) {
  const json base = loadJson(fixture);
  ASSERT_TRUE(decode(base).ok()) << fixture << " must decode before mutation";
  for (const Case& c : cases) {
    SCOPED_TRACE(strCat(fixture, " ", c.pointer, " = ", c.value.is_discarded() ? "<removed>" : c.value.dump()));
    json j = mutate(base, c);
    auto r = decode(j);
    EXPECT_EQ(errorOf(r), c.message);
    // The text path reports exactly the same.
    auto t = decode(json::parse(j.dump()));
    EXPECT_EQ(errorOf(t), c.message);
  }
}

TEST(InvalidFields, Service) {
  runCases(
      "service_clusterip.json",
      {
          {"/spec/ports/1/port", "http",
           R"(Service default/web: spec.ports[1].port: expected integer 1-65535, got "http")"},
          {"/spec/ports/0/port", 0, "Service default/web: spec.ports[0].port: expected integer 1-65535, got 0"},
          {"/spec/ports/0/port", 65536, "Service default/web: spec.ports[0].port: expected integer 1-65535, got 65536"},
          {"/spec/ports/0/port", -80, "Service default/web: spec.ports[0].port: expected integer 1-65535, got -80"},
          {"/spec/ports/0/port", 80.5, "Service default/web: spec.ports[0].port: expected integer 1-65535, got 80.5"},
          {"/spec/ports/0/port", removed(), "Service default/web: spec.ports[0].port: required"},
          {"/spec/ports/0/protocol", "tcp",
           R"(Service default/web: spec.ports[0].protocol: expected one of TCP, UDP, SCTP, got "tcp")"},
          {"/spec/ports/0/protocol", "ICMP",
           R"(Service default/web: spec.ports[0].protocol: expected one of TCP, UDP, SCTP, got "ICMP")"},
          {"/spec/ports/0/targetPort", true,
           "Service default/web: spec.ports[0].targetPort: expected integer 1-65535 or port name, got true"},
          {"/spec/ports/0/targetPort", 70000,
           "Service default/web: spec.ports[0].targetPort: expected integer 1-65535 or port name, got 70000"},
          {"/spec/ports/0/nodePort", -1,
           "Service default/web: spec.ports[0].nodePort: expected integer 0-65535, got -1"},
          {"/spec/ports/0/name", 7, "Service default/web: spec.ports[0].name: expected string, got 7"},
          {"/spec/ports/1/appProtocol", json::array(),
           "Service default/web: spec.ports[1].appProtocol: expected string, got an array"},
          {"/spec/ports", json::object(), "Service default/web: spec.ports: expected array, got an object"},
          {"/spec/ports/0", "x", R"(Service default/web: spec.ports[0]: expected object, got "x")"},
          {"/spec", "x", R"(Service default/web: spec: expected object, got "x")"},
          {"/spec/type", "Bogus",
           R"(Service default/web: spec.type: expected one of ClusterIP, NodePort, LoadBalancer, ExternalName, got "Bogus")"},
      },
      [](const json& j) { return decodeService(j); });
}

TEST(InvalidFields, ServiceClusterIPs) {
  const json base = loadJson("service_clusterip.json");
  auto err = [&](auto edit) {
    json j = base;
    edit(j["spec"]);
    return errorOf(decodeService(j));
  };
  EXPECT_EQ(err([](json& s) {
              s.erase("clusterIPs");
              s["clusterIP"] = "10.96.0.300";
            }),
            R"(Service default/web: spec.clusterIP: expected IP address, got "10.96.0.300")");
  EXPECT_EQ(err([](json& s) {
              s["clusterIP"] = "bogus";
              s["clusterIPs"] = {"bogus"};
            }),
            R"(Service default/web: spec.clusterIPs[0]: expected IP address, got "bogus")");
  EXPECT_EQ(err([](json& s) { s["clusterIP"] = "10.96.12.35"; }),
            R"(Service default/web: spec.clusterIP: "10.96.12.35" does not match clusterIPs[0] "10.96.12.34")");
  EXPECT_EQ(err([](json& s) {
              s["clusterIPs"] = {"10.96.12.34", "10.96.12.35"};
            }),
            "Service default/web: spec.clusterIPs[1]: must be of the other IP family than clusterIPs[0]");
  EXPECT_EQ(err([](json& s) {
              s["clusterIPs"] = {"10.96.12.34", "fd00::1", "10.0.0.1"};
            }),
            "Service default/web: spec.clusterIPs: at most 2 entries allowed, got 3");
  EXPECT_EQ(err([](json& s) {
              s["clusterIPs"] = {"10.96.12.34", 5};
            }),
            "Service default/web: spec.clusterIPs[1]: expected IP address, got 5");
  EXPECT_EQ(err([](json& s) { s["clusterIPs"] = "10.96.12.34"; }),
            R"(Service default/web: spec.clusterIPs: expected array, got "10.96.12.34")");
  EXPECT_EQ(err([](json& s) {
              s["clusterIP"] = "None";
              s["clusterIPs"] = {"None", "fd00::1"};
            }),
            R"(Service default/web: spec.clusterIPs: "None" must be the only entry)");
}

TEST(InvalidFields, ServiceSpecFields) {
  runCases(
      "service_affinity_local.json",
      {
          {"/spec/ipFamilies/0", "IPv5",
           R"(Service shop/sticky: spec.ipFamilies[0]: expected one of IPv4, IPv6, got "IPv5")"},
          {"/spec/ipFamilies", json{"IPv4", "IPv4"}, "Service shop/sticky: spec.ipFamilies[1]: duplicate IP family"},
          {"/spec/ipFamilyPolicy", 3,
           "Service shop/sticky: spec.ipFamilyPolicy: expected one of SingleStack, PreferDualStack, RequireDualStack, got 3"},
          {"/spec/sessionAffinity", "Sticky",
           R"(Service shop/sticky: spec.sessionAffinity: expected one of None, ClientIP, got "Sticky")"},
          {"/spec/sessionAffinityConfig/clientIP/timeoutSeconds", 0,
           "Service shop/sticky: spec.sessionAffinityConfig.clientIP.timeoutSeconds: expected integer 1-86400, got 0"},
          {"/spec/sessionAffinityConfig/clientIP/timeoutSeconds", 86401,
           "Service shop/sticky: spec.sessionAffinityConfig.clientIP.timeoutSeconds: expected integer 1-86400, got 86401"},
          {"/spec/sessionAffinityConfig/clientIP", 1,
           "Service shop/sticky: spec.sessionAffinityConfig.clientIP: expected object, got 1"},
          {"/spec/externalIPs/1", "1.2.3",
           R"(Service shop/sticky: spec.externalIPs[1]: expected IP address, got "1.2.3")"},
          {"/spec/externalTrafficPolicy", "local",
           R"(Service shop/sticky: spec.externalTrafficPolicy: expected one of Cluster, Local, got "local")"},
          {"/spec/internalTrafficPolicy", "Global",
           R"(Service shop/sticky: spec.internalTrafficPolicy: expected one of Cluster, Local, got "Global")"},
          {"/spec/healthCheckNodePort", "31000",
           R"(Service shop/sticky: spec.healthCheckNodePort: expected integer 0-65535, got "31000")"},
          {"/spec/publishNotReadyAddresses", "true",
           R"(Service shop/sticky: spec.publishNotReadyAddresses: expected boolean, got "true")"},
          {"/spec/selector/app", 1, R"(Service shop/sticky: spec.selector["app"]: expected string, got 1)"},
          {"/spec/selector", "app=cart",
           R"(Service shop/sticky: spec.selector: expected object of strings, got "app=cart")"},
          {"/spec/trafficDistribution", false,
           "Service shop/sticky: spec.trafficDistribution: expected string, got false"},
          {"/spec/externalName", 5, "Service shop/sticky: spec.externalName: expected string, got 5"},
          {"/spec/allocateLoadBalancerNodePorts", "no",
           R"(Service shop/sticky: spec.allocateLoadBalancerNodePorts: expected boolean, got "no")"},
          {"/spec/loadBalancerSourceRanges", json{"10.0.0.0/33"},
           R"(Service shop/sticky: spec.loadBalancerSourceRanges[0]: expected CIDR, got "10.0.0.0/33")"},
          {"/spec/loadBalancerSourceRanges", json{"10.0.0.1"},
           R"(Service shop/sticky: spec.loadBalancerSourceRanges[0]: expected CIDR, got "10.0.0.1")"},
      },
      [](const json& j) { return decodeService(j); });
}

TEST(InvalidFields, ServiceMetaAndTypeMeta) {
  runCases(
      "service_clusterip.json",
      {
          {"/metadata/labels/app", 5, R"(Service default/web: metadata.labels["app"]: expected string, got 5)"},
          {"/metadata/labels", json::array(),
           "Service default/web: metadata.labels: expected object of strings, got an array"},
          {"/metadata/annotations/example.com~1x", json::object(),
           R"(Service default/web: metadata.annotations["example.com/x"]: expected string, got an object)"},
          {"/metadata/name", removed(), "Service default/<unnamed>: metadata.name: required"},
          {"/metadata/name", "", "Service default/<unnamed>: metadata.name: required"},
          {"/metadata/name", 5, "Service default/<unnamed>: metadata.name: expected string, got 5"},
          {"/metadata/namespace", json::array(),
           "Service default/web: metadata.namespace: expected string, got an array"},
          {"/metadata/generation", -1,
           "Service default/web: metadata.generation: expected integer 0-9223372036854775807, got -1"},
          {"/metadata/resourceVersion", 48213,
           "Service default/web: metadata.resourceVersion: expected string, got 48213"},
          {"/metadata/deletionTimestamp", 1, "Service default/web: metadata.deletionTimestamp: expected string, got 1"},
          {"/metadata", "x", R"(Service default/<unnamed>: metadata: expected object, got "x")"},
          {"/kind", "Pod", R"(Service default/web: kind: expected "Service", got "Pod")"},
          {"/apiVersion", "v2", R"(Service default/web: apiVersion: expected "v1", got "v2")"},
      },
      [](const json& j) { return decodeService(j); });
}

TEST(InvalidFields, ServiceStatusAndLegacyAnnotation) {
  runCases(
      "service_loadbalancer.json",
      {
          {"/status/loadBalancer/ingress/0/ip", "x",
           R"(Service edge/ingress-gw: status.loadBalancer.ingress[0].ip: expected IP address, got "x")"},
          {"/status/loadBalancer/ingress/1/ipMode", "Bogus",
           R"(Service edge/ingress-gw: status.loadBalancer.ingress[1].ipMode: expected one of VIP, Proxy, got "Bogus")"},
          {"/status/loadBalancer/ingress/1/ports/0/port", removed(),
           "Service edge/ingress-gw: status.loadBalancer.ingress[1].ports[0].port: required"},
          {"/status/loadBalancer/ingress/1/ports/1/protocol", "QUIC",
           R"(Service edge/ingress-gw: status.loadBalancer.ingress[1].ports[1].protocol: expected one of TCP, UDP, SCTP, got "QUIC")"},
          {"/status/loadBalancer/ingress/1/ports/1/error", 3,
           "Service edge/ingress-gw: status.loadBalancer.ingress[1].ports[1].error: expected string, got 3"},
          {"/status/loadBalancer/ingress", json::object(),
           "Service edge/ingress-gw: status.loadBalancer.ingress: expected array, got an object"},
          {"/status/loadBalancer", 1, "Service edge/ingress-gw: status.loadBalancer: expected object, got 1"},
          {"/spec/healthCheckNodePort", 65536,
           "Service edge/ingress-gw: spec.healthCheckNodePort: expected integer 0-65535, got 65536"},
      },
      [](const json& j) { return decodeService(j); });
  runCases(
      "service_loadbalancer_legacy_ranges.json",
      {
          {"/metadata/annotations/service.beta.kubernetes.io~1load-balancer-source-ranges", "10.0.0.0/8, 10.0.0.0/40",
           R"(Service edge/legacy-lb: metadata.annotations["service.beta.kubernetes.io/load-balancer-source-ranges"]: invalid CIDR "10.0.0.0/40")"},
      },
      [](const json& j) { return decodeService(j); });
}

TEST(InvalidFields, EndpointSlice) {
  runCases(
      "endpointslice_ipv4.json",
      {
          {"/addressType", removed(), "EndpointSlice default/web-7xk2p: addressType: required"},
          {"/addressType", "IPv5",
           R"(EndpointSlice default/web-7xk2p: addressType: expected one of IPv4, IPv6, FQDN, got "IPv5")"},
          {"/endpoints/1/addresses/0", "fd00::1",
           R"(EndpointSlice default/web-7xk2p: endpoints[1].addresses[0]: expected IPv4 address, got "fd00::1")"},
          {"/endpoints/1/addresses/0", "10.244.2",
           R"(EndpointSlice default/web-7xk2p: endpoints[1].addresses[0]: expected IPv4 address, got "10.244.2")"},
          {"/endpoints/0/addresses", json::array(),
           "EndpointSlice default/web-7xk2p: endpoints[0].addresses: must contain at least one address"},
          {"/endpoints/0/addresses", removed(), "EndpointSlice default/web-7xk2p: endpoints[0].addresses: required"},
          {"/endpoints/0/conditions/ready", "yes",
           R"(EndpointSlice default/web-7xk2p: endpoints[0].conditions.ready: expected boolean, got "yes")"},
          {"/endpoints/2/conditions/serving", 1,
           "EndpointSlice default/web-7xk2p: endpoints[2].conditions.serving: expected boolean, got 1"},
          {"/endpoints/1/conditions/terminating", "false",
           R"(EndpointSlice default/web-7xk2p: endpoints[1].conditions.terminating: expected boolean, got "false")"},
          {"/endpoints/0/conditions", json::array(),
           "EndpointSlice default/web-7xk2p: endpoints[0].conditions: expected object, got an array"},
          {"/endpoints/0/hints/forZones/0/name", removed(),
           "EndpointSlice default/web-7xk2p: endpoints[0].hints.forZones[0].name: required"},
          {"/endpoints/1/hints/forNodes/0", "node-b",
           R"(EndpointSlice default/web-7xk2p: endpoints[1].hints.forNodes[0]: expected object, got "node-b")"},
          {"/endpoints/0/nodeName", 3,
           "EndpointSlice default/web-7xk2p: endpoints[0].nodeName: expected string, got 3"},
          {"/endpoints/0/zone", true, "EndpointSlice default/web-7xk2p: endpoints[0].zone: expected string, got true"},
          {"/endpoints/3/hostname", 1,
           "EndpointSlice default/web-7xk2p: endpoints[3].hostname: expected string, got 1"},
          {"/endpoints/0/targetRef", "pod",
           R"(EndpointSlice default/web-7xk2p: endpoints[0].targetRef: expected object, got "pod")"},
          {"/endpoints/0/targetRef/name", 9,
           "EndpointSlice default/web-7xk2p: endpoints[0].targetRef.name: expected string, got 9"},
          {"/endpoints", json::object(), "EndpointSlice default/web-7xk2p: endpoints: expected array, got an object"},
          {"/ports/0/port", 0, "EndpointSlice default/web-7xk2p: ports[0].port: expected integer 1-65535, got 0"},
          {"/ports/1/port", "9090",
           R"(EndpointSlice default/web-7xk2p: ports[1].port: expected integer 1-65535, got "9090")"},
          {"/ports/0/protocol", "ICMP",
           R"(EndpointSlice default/web-7xk2p: ports[0].protocol: expected one of TCP, UDP, SCTP, got "ICMP")"},
          {"/ports/0/name", false, "EndpointSlice default/web-7xk2p: ports[0].name: expected string, got false"},
          {"/metadata/labels/kubernetes.io~1service-name", json::object(),
           R"(EndpointSlice default/web-7xk2p: metadata.labels["kubernetes.io/service-name"]: expected string, got an object)"},
          {"/apiVersion", "discovery.k8s.io/v1beta1",
           R"(EndpointSlice default/web-7xk2p: apiVersion: expected "discovery.k8s.io/v1", got "discovery.k8s.io/v1beta1")"},
      },
      [](const json& j) { return decodeEndpointSlice(j); });
  runCases("endpointslice_ipv6.json",
           {
               {"/endpoints/1/addresses/1", "10.0.0.1",
                R"(EndpointSlice prod/api-v6-q9w8e: endpoints[1].addresses[1]: expected IPv6 address, got "10.0.0.1")"},
           },
           [](const json& j) { return decodeEndpointSlice(j); });
  runCases("endpointslice_fqdn.json",
           {
               {"/endpoints/0/addresses/0", 12,
                "EndpointSlice payments/billing-external: endpoints[0].addresses[0]: expected string, got 12"},
           },
           [](const json& j) { return decodeEndpointSlice(j); });
}

TEST(InvalidFields, Node) {
  runCases("node.json",
           {
               {"/status/addresses/0/address", "not-ip",
                R"(Node node-a: status.addresses[0].address: expected IP address, got "not-ip")"},
               {"/status/addresses/2/address", removed(), "Node node-a: status.addresses[2].address: required"},
               {"/status/addresses/2/type", removed(), "Node node-a: status.addresses[2].type: required"},
               {"/spec/podCIDRs/1", "fd00::/129", R"(Node node-a: spec.podCIDRs[1]: expected CIDR, got "fd00::/129")"},
               {"/spec/unschedulable", "yes", R"(Node node-a: spec.unschedulable: expected boolean, got "yes")"},
               {"/spec/taints/0/key", removed(), "Node node-a: spec.taints[0].key: required"},
               {"/spec/taints/0", "NoSchedule", R"(Node node-a: spec.taints[0]: expected object, got "NoSchedule")"},
               {"/metadata/labels/topology.kubernetes.io~1zone", 1,
                R"(Node node-a: metadata.labels["topology.kubernetes.io/zone"]: expected string, got 1)"},
               {"/kind", "Nodes", R"(Node node-a: kind: expected "Node", got "Nodes")"},
           },
           [](const json& j) { return decodeNode(j); });
}

TEST(InvalidFields, NotAnObjectAndBadText) {
  EXPECT_EQ(errorOf(decodeService(json::array())), "Service: expected a JSON object, got an array");
  EXPECT_EQ(errorOf(decodeNode(json("x"))), R"(Node: expected a JSON object, got "x")");
  EXPECT_EQ(errorOf(decodeEndpointSlice(json(nullptr))), "EndpointSlice: expected a JSON object, got null");
  std::string e = errorOf(decodeServiceText("{\"metadata\": "));
  EXPECT_TRUE(startsWith(e, "Service: invalid JSON: [json.exception.parse_error.101] parse error at line 1, column 14"))
      << e;
  EXPECT_TRUE(startsWith(errorOf(decodeObjectText("")), "invalid JSON: ")) << errorOf(decodeObjectText(""));
}

TEST(InvalidFields, LongValuesAreCutInMessages) {
  json j = loadJson("service_clusterip.json");
  j["spec"]["externalIPs"] = {std::string(500, 'x')};
  EXPECT_EQ(errorOf(decodeService(j)), strCat("Service default/web: spec.externalIPs[0]: expected IP address, got \"",
                                              std::string(64, 'x'), "...\""));
}

TEST(InvalidFields, ObjectDispatch) {
  EXPECT_EQ(errorOf(decodeObject(json{{"metadata", {{"name", "x"}}}})), "kind: required");
  EXPECT_EQ(errorOf(decodeObject(json{{"kind", "ConfigMap"}})), R"(unsupported kind "ConfigMap")");
  EXPECT_EQ(errorOf(decodeObject(json{{"kind", 1}})), "kind: expected string, got 1");
  json svc = loadJson("service_clusterip.json");
  svc["spec"]["ports"][0]["port"] = "x";
  EXPECT_EQ(errorOf(decodeObject(svc)),
            R"(Service default/web: spec.ports[0].port: expected integer 1-65535, got "x")");
  Object o = unwrap(decodeObject(loadJson("node.json")));
  EXPECT_EQ(kindOf(o), ObjectKind::Node);
  EXPECT_EQ(metaOf(o).name, "node-a");
}

}  // namespace
}  // namespace nodenet::kube
