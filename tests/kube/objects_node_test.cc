// Node decoding: addresses of every type, dual-stack pod CIDRs, zone label, schedulability.
#include <nlohmann/json.hpp>

#include "tests/kube/testutil.h"

namespace nodenet::kube {
namespace {

using namespace nodenet::kube::testing;
using nlohmann::json;

TEST(NodeDecode, ServedNode) {
  Node dom = unwrap(decodeNode(loadJson("node.json")));
  Node n = unwrap(decodeNodeText(readTestdata("node.json")));
  EXPECT_EQ(dom, n);
  EXPECT_EQ(n.meta.name, "node-a");
  EXPECT_TRUE(n.meta.ns.empty());
  EXPECT_EQ(n.meta.key(), "node-a");
  EXPECT_EQ(n.meta.resourceVersion, "301554");
  EXPECT_EQ(n.zone(), "zone-a");
  EXPECT_EQ(n.meta.labels.get(kLabelHostname), "node-a");
  EXPECT_EQ(n.meta.labels.size(), 8u);
  EXPECT_TRUE(n.meta.annotations.empty());
  EXPECT_TRUE(n.unschedulable);
  ASSERT_EQ(n.taintKeys.size(), 1u);
  EXPECT_EQ(n.taintKeys[0], "node.kubernetes.io/unschedulable");
  EXPECT_EQ(n.podCIDRs, (std::vector<Cidr>{cidr("10.244.1.0/24"), cidr("fd00:10:244:1::/64")}));
  ASSERT_EQ(n.addresses.size(), 5u);
  EXPECT_EQ(n.addresses[0].type, NodeAddressType::InternalIP);
  EXPECT_EQ(n.addresses[0].typeName, "InternalIP");
  EXPECT_EQ(n.addresses[0].ip, ip("172.18.0.2"));
  EXPECT_EQ(n.addresses[3].type, NodeAddressType::Hostname);
  EXPECT_EQ(n.addresses[3].address, "node-a");
  EXPECT_EQ(n.addresses[3].ip, std::nullopt);
  EXPECT_EQ(n.addresses[4].type, NodeAddressType::InternalDNS);
  EXPECT_EQ(n.ips(NodeAddressType::InternalIP),
            (std::vector<IpAddress>{ip("172.18.0.2"), ip("fc00:f853:ccd:e793::2")}));
  EXPECT_EQ(n.ips(NodeAddressType::ExternalIP), std::vector<IpAddress>{ip("203.0.113.21")});
}

TEST(NodeDecode, PodCIDROnlyAndUnknownAddressType) {
  Node n = unwrap(decodeNodeText(R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"old","namespace":"ignored"},
      "spec":{"podCIDR":"10.244.9.0/24"},"status":{"addresses":[{"type":"SomethingNew","address":"x"}]}})"));
  EXPECT_TRUE(n.meta.ns.empty());
  EXPECT_EQ(n.podCIDRs, std::vector<Cidr>{cidr("10.244.9.0/24")});
  EXPECT_FALSE(n.unschedulable);
  EXPECT_TRUE(n.taintKeys.empty());
  EXPECT_EQ(n.zone(), "");
  ASSERT_EQ(n.addresses.size(), 1u);
  EXPECT_EQ(n.addresses[0].type, NodeAddressType::Other);
  EXPECT_EQ(n.addresses[0].typeName, "SomethingNew");
}

}  // namespace
}  // namespace nodenet::kube
