// proxy/sync's view of proxy/rules: a Ruleset composed from RulesBuilder pieces equals buildRuleset().
#include <gtest/gtest.h>

#include "proxy/rules/ruleset.h"
#include "tests/proxy_sync/sync_test_util.h"

namespace nodenet::proxy::sync {
namespace {

using namespace testing;

TEST(RulesBuilderTest, PiecesComposeToBuildRuleset) {
  std::vector<kube::Service> svcs{service("ns2", "b", {"172.30.0.42"}, {port("http", 80, L4Proto::TCP, 30080)}),
                                  service("ns1", "a", {"172.30.0.41"}, {port("dns", 53, L4Proto::UDP)})};
  svcs[0].type = kube::ServiceType::NodePort;
  svcs[1].sessionAffinity = kube::SessionAffinity::ClientIP;
  std::vector<kube::EndpointSlice> sl{slice("ns2", "b", "x", {{"10.180.0.1"}}, {{"http", 8080}}),
                                      slice("ns1", "a", "x", {{"10.180.0.2"}, {"10.180.0.3"}}, {{"dns", 53}},
                                            L4Proto::UDP)};
  rules::Input input;
  input.node = rules::NodeInput{"node-a", "zone-a", {ip("192.168.99.2")}};
  input.services = {{&svcs[0], {&sl[0]}}, {&svcs[1], {&sl[1]}}};
  rules::Config cfg;
  cfg.clusterCIDRs = {cidr("10.180.0.0/16")};
  rules::Ruleset whole = rules::buildRuleset(input, cfg);

  rules::RulesBuilder b(input.node, cfg);
  rules::Ruleset composed;
  composed.family = whole.family;
  composed.table = whole.table;
  static_cast<rules::RuleParts&>(composed) = b.shared();
  for (const rules::ServiceInput* si : {&input.services[1], &input.services[0]}) {  // ns1/a before ns2/b
    rules::ServiceRules s = b.service(*si);
    composed.chains.insert(composed.chains.end(), s.chains.begin(), s.chains.end());
    composed.sets.insert(composed.sets.end(), s.sets.begin(), s.sets.end());
    composed.elements.insert(composed.elements.end(), s.elements.begin(), s.elements.end());
    composed.rules.insert(composed.rules.end(), s.rules.begin(), s.rules.end());
  }
  EXPECT_EQ(rules::toTransaction(composed).toString(), rules::toTransaction(whole).toString());

  rules::ServiceRules a = b.service(input.services[1]);
  ASSERT_EQ(a.ports.size(), 1u);
  EXPECT_EQ(a.ports[0].protocol, L4Proto::UDP);
  EXPECT_EQ(a.ports[0].serviceIPs, std::vector<IpAddress>{ip("172.30.0.41")});
  EXPECT_EQ(a.ports[0].endpoints, (std::vector<IpAddress>{ip("10.180.0.2"), ip("10.180.0.3")}));
  EXPECT_EQ(a.ports[0].localReady, 2u);
}

TEST(RulesBuilderTest, EndpointChoiceCascadeUpTo16ThenVmap) {
  auto build = [](int n) {
    std::vector<Ep> eps;
    for (int i = 0; i < n; ++i) eps.push_back(Ep{"10.180.0." + std::to_string(i + 1)});
    kube::Service svc = service("ns1", "a", {"172.30.0.41"}, {port("http", 80)});
    kube::EndpointSlice sl = slice("ns1", "a", "x", eps, {{"http", 8080}});
    rules::Config cfg;
    cfg.endpointMaps = false;
    rules::RulesBuilder b(rules::NodeInput{"node-a", "zone-a", {}}, cfg);
    rules::ServiceRules r = b.service({&svc, {&sl}});
    std::vector<std::string> dispatch;
    for (const auto& rule : r.rules)
      if (rule.chain.rfind("service-", 0) == 0) dispatch.push_back(nft::ruleBodyToString(rule, nft::Family::Ip));
    return dispatch;
  };
  auto one = build(1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].rfind("goto endpoint-", 0), 0u) << one[0];
  auto three = build(3);
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[0].rfind("numgen random mod 3 0 goto endpoint-", 0), 0u) << three[0];
  EXPECT_EQ(three[1].rfind("numgen random mod 2 0 goto endpoint-", 0), 0u) << three[1];
  EXPECT_EQ(three[2].rfind("goto endpoint-", 0), 0u) << three[2];
  auto sixteen = build(16);
  EXPECT_EQ(sixteen.size(), 16u);
  EXPECT_EQ(sixteen[0].rfind("numgen random mod 16 0 goto", 0), 0u) << sixteen[0];
  auto seventeen = build(17);
  ASSERT_EQ(seventeen.size(), 1u);
  EXPECT_EQ(seventeen[0].rfind("numgen random mod 17 vmap {", 0), 0u) << seventeen[0];
}

}  // namespace
}  // namespace nodenet::proxy::sync
