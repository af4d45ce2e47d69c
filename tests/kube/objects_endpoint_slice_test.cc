// EndpointSlice decoding: every condition combination, IPv4/IPv6/FQDN slices, hints, ports with nil port.
// IP plan: pods 10.244.0.0/16 and fd00:10:244::/56.
#include <nlohmann/json.hpp>

#include "tests/kube/testutil.h"

namespace nodenet::kube {
namespace {

using namespace nodenet::kube::testing;
using nlohmann::json;

EndpointSlice decodeFixture(const std::string& name) {
  EndpointSlice dom = unwrap(decodeEndpointSlice(loadJson(name)));
  EndpointSlice text = unwrap(decodeEndpointSliceText(readTestdata(name)));
  EXPECT_EQ(dom, text) << name;
  return dom;
}

TEST(EndpointSliceDecode, IPv4ServedSlice) {
  EndpointSlice s = decodeFixture("endpointslice_ipv4.json");
  EXPECT_EQ(s.meta.key(), "default/web-7xk2p");
  EXPECT_EQ(s.meta.generation, 5);
  EXPECT_EQ(s.serviceName(), "web");
  EXPECT_EQ(s.meta.labels.get(kLabelManagedBy), "endpointslice-controller.k8s.io");
  EXPECT_EQ(s.meta.annotations.get(kAnnotationLastChangeTriggerTime), "2024-05-02T09:15:02Z");
  EXPECT_EQ(s.addressType, AddressType::IPv4);
  ASSERT_EQ(s.endpoints.size(), 5u);

  const Endpoint& ready = s.endpoints[0];
  EXPECT_EQ(ready.addresses, std::vector<IpAddress>{ip("10.244.1.17")});
  EXPECT_TRUE(ready.fqdns.empty());
  EXPECT_EQ(ready.conditions.ready, true);
  EXPECT_TRUE(ready.conditions.isReady());
  EXPECT_TRUE(ready.conditions.isServing());
  EXPECT_FALSE(ready.conditions.isTerminating());
  EXPECT_EQ(ready.nodeName, "node-a");
  EXPECT_EQ(ready.zone, "zone-a");
  EXPECT_EQ(ready.hintsForZones, std::vector<InternedString>{InternedString("zone-a")});
  EXPECT_TRUE(ready.hintsForNodes.empty());
  ASSERT_TRUE(ready.targetRef.has_value());
  EXPECT_EQ(ready.targetRef->kind, "Pod");
  EXPECT_EQ(ready.targetRef->ns, "default");
  EXPECT_EQ(ready.targetRef->name, "web-5d8f7c9b6-abcde");

  const Endpoint& terminatingServing = s.endpoints[1];
  EXPECT_FALSE(terminatingServing.conditions.isReady());
  EXPECT_TRUE(terminatingServing.conditions.isServing());
  EXPECT_TRUE(terminatingServing.conditions.isTerminating());
  EXPECT_EQ(terminatingServing.hintsForNodes, std::vector<InternedString>{InternedString("node-b")});

  const Endpoint& notReady = s.endpoints[2];
  EXPECT_FALSE(notReady.conditions.isReady());
  EXPECT_FALSE(notReady.conditions.isServing());
  EXPECT_FALSE(notReady.conditions.isTerminating());

  const Endpoint& allNil = s.endpoints[3];
  EXPECT_EQ(allNil.conditions, EndpointConditions{});
  EXPECT_TRUE(allNil.conditions.isReady());
  EXPECT_TRUE(allNil.conditions.isServing());
  EXPECT_FALSE(allNil.conditions.isTerminating());
  EXPECT_EQ(allNil.hostname, "web-0");
  EXPECT_TRUE(allNil.nodeName.empty());
  EXPECT_FALSE(allNil.targetRef.has_value());

  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0], (EndpointPort{InternedString("http"), L4Proto::TCP, 8080, {}}));
  EXPECT_EQ(s.ports[1], (EndpointPort{InternedString("metrics"), L4Proto::TCP, 9090, InternedString("http")}));
}

// Every combination of ready/serving/terminating in {nil, true, false}: the tri-state is kept and the effective
// values follow the API's nil rules (ready nil = true, serving nil = ready, terminating nil = false).
TEST(EndpointSliceDecode, EveryConditionCombination) {
  const json states[] = {json(nullptr), json(true), json(false)};
  json slice = {{"metadata", {{"name", "combos"}, {"namespace", "ns"}}}, {"addressType", "IPv4"}};
  json endpoints = json::array();
  int n = 0;
  for (const json& r : states)
    for (const json& s : states)
      for (const json& t : states) {
        json cond = json::object();
        if (!r.is_null()) cond["ready"] = r;
        if (!s.is_null()) cond["serving"] = s;
        if (!t.is_null()) cond["terminating"] = t;
        endpoints.push_back({{"addresses", {"10.244.0." + std::to_string(++n)}}, {"conditions", cond}});
      }
  slice["endpoints"] = endpoints;
  EndpointSlice es = unwrap(decodeEndpointSliceText(slice.dump()));
  ASSERT_EQ(es.endpoints.size(), 27u);
  size_t i = 0;
  for (const json& r : states)
    for (const json& s : states)
      for (const json& t : states) {
        const EndpointConditions& c = es.endpoints[i++].conditions;
        auto tri = [](const json& j) { return j.is_null() ? std::nullopt : std::optional<bool>(j.get<bool>()); };
        SCOPED_TRACE(strCat("ready=", r.dump(), " serving=", s.dump(), " terminating=", t.dump()));
        EXPECT_EQ(c.ready, tri(r));
        EXPECT_EQ(c.serving, tri(s));
        EXPECT_EQ(c.terminating, tri(t));
        bool ready = r.is_null() ? true : r.get<bool>();
        EXPECT_EQ(c.isReady(), ready);
        EXPECT_EQ(c.isServing(), s.is_null() ? ready : s.get<bool>());
        EXPECT_EQ(c.isTerminating(), t.is_null() ? false : t.get<bool>());
      }
}

TEST(EndpointSliceDecode, IPv6Slice) {
  EndpointSlice s = decodeFixture("endpointslice_ipv6.json");
  EXPECT_EQ(s.addressType, AddressType::IPv6);
  ASSERT_EQ(s.endpoints.size(), 2u);
  EXPECT_EQ(s.endpoints[0].addresses, std::vector<IpAddress>{ip("fd00:10:244:1::17")});
  EXPECT_EQ(s.endpoints[1].addresses, (std::vector<IpAddress>{ip("fd00:10:244:2::2a"), ip("fd00:10:244:2::2b")}));
  EXPECT_EQ(s.endpoints[0].targetRef->ns, "prod");
  EXPECT_EQ(s.ports[0].port, 50051);
  EXPECT_EQ(s.ports[0].appProtocol, "kubernetes.io/h2c");
}

TEST(EndpointSliceDecode, FqdnSliceAndNilPort) {
  EndpointSlice s = decodeFixture("endpointslice_fqdn.json");
  EXPECT_EQ(s.addressType, AddressType::FQDN);
  ASSERT_EQ(s.endpoints.size(), 2u);
  EXPECT_TRUE(s.endpoints[0].addresses.empty());
  EXPECT_EQ(s.endpoints[0].fqdns, std::vector<std::string>{"db1.billing.example.com"});
  EXPECT_FALSE(s.endpoints[1].conditions.isReady());
  EXPECT_FALSE(s.endpoints[1].conditions.isServing());  // serving nil defers to ready=false
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_TRUE(s.ports[0].name.empty());
  EXPECT_EQ(s.ports[0].port, 5432);
  EXPECT_EQ(s.ports[1].protocol, L4Proto::UDP);
  EXPECT_EQ(s.ports[1].port, std::nullopt);  // nil = all ports; kube-proxy skips it
}

TEST(EndpointSliceDecode, EmptySliceAndDefaults) {
  EndpointSlice s = unwrap(decodeEndpointSliceText(
      R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"e","namespace":"n"},
          "addressType":"IPv4","endpoints":null,"ports":[{"port":53}]})"));
  EXPECT_TRUE(s.endpoints.empty());
  EXPECT_EQ(s.ports[0].protocol, L4Proto::TCP);
  EXPECT_EQ(s.serviceName(), "");
}

}  // namespace
}  // namespace nodenet::kube
