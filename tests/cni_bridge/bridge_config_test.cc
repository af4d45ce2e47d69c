// Config parsing for the bridge plugin: every reference key, the reference's rejections, MAC precedence.
#include "cni/bridge/config.h"

#include <gtest/gtest.h>

namespace nodenet::cni::bridge {
namespace {

using nlohmann::json;

BridgeConf parseOk(const std::string& text, const std::string& args = "") {
  auto r = parseBridgeConf(json::parse(text), args);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : BridgeConf{};
}

std::string parseErr(const std::string& text, const std::string& args = "") {
  auto r = parseBridgeConf(json::parse(text), args);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error().message();
}

TEST(BridgeConf, CrioSeedConfig) {
  auto c = parseOk(R"({"cniVersion":"1.0.0","name":"crio","type":"bridge","bridge":"cni0","isGateway":true,
    "ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","routes":[{"dst":"0.0.0.0/0"}],
    "ranges":[[{"subnet":"10.85.0.0/16"}]]}})");
  EXPECT_EQ(c.bridge, "cni0");
  EXPECT_TRUE(c.isGateway);
  EXPECT_FALSE(c.isDefaultGateway);
  EXPECT_TRUE(c.ipMasq);
  EXPECT_TRUE(c.hairpinMode);
  EXPECT_EQ(c.ipamType, "host-local");
  EXPECT_TRUE(c.preserveDefaultVlan);
  EXPECT_FALSE(c.vlanFiltering());
}

TEST(BridgeConf, Defaults) {
  auto c = parseOk(R"({"type":"bridge"})");
  EXPECT_EQ(c.bridge, "cni0");
  EXPECT_EQ(c.mtu, 0);
  EXPECT_TRUE(c.ipamType.empty());
}

TEST(BridgeConf, DefaultGatewayImpliesGateway) {
  auto c = parseOk(R"({"isDefaultGateway":true})");
  EXPECT_TRUE(c.isGateway);
}

TEST(BridgeConf, AllKeys) {
  auto c = parseOk(R"({"bridge":"br-x","forceAddress":true,"mtu":1400,"promiscMode":true,"vlan":100,
    "preserveDefaultVlan":false,"macspoofchk":true,"enabledad":true,"portIsolation":true,
    "ipMasqBackend":"nftables","disableContainerInterface":false})");
  EXPECT_EQ(c.bridge, "br-x");
  EXPECT_TRUE(c.forceAddress);
  EXPECT_EQ(c.mtu, 1400);
  EXPECT_TRUE(c.promiscMode);
  EXPECT_EQ(c.vlan, 100);
  EXPECT_FALSE(c.preserveDefaultVlan);
  EXPECT_TRUE(c.macSpoofChk);
  EXPECT_TRUE(c.enableDad);
  EXPECT_TRUE(c.portIsolation);
  EXPECT_TRUE(c.vlanFiltering());
}

TEST(BridgeConf, VlanTrunkExpandsSortsDedups) {
  auto c = parseOk(R"({"vlanTrunk":[{"id":42},{"minID":10,"maxID":12},{"id":11}]})");
  EXPECT_EQ(c.vlanTrunk, (std::vector<uint16_t>{10, 11, 12, 42}));
  EXPECT_TRUE(c.vlanFiltering());
}

TEST(BridgeConf, ReferenceRejections) {
  EXPECT_EQ(parseErr(R"({"vlan":5000})"), "invalid VLAN ID 5000 (must be between 0 and 4094)");
  EXPECT_EQ(parseErr(R"({"vlan":-1})"), "invalid VLAN ID -1 (must be between 0 and 4094)");
  EXPECT_EQ(parseErr(R"({"vlan":10,"vlanTrunk":[{"id":11}]})"), "cannot set vlan and vlanTrunk at the same time");
  EXPECT_EQ(parseErr(R"({"vlanTrunk":[{"minID":0,"maxID":3}]})"), "incorrect trunk minID parameter");
  EXPECT_EQ(parseErr(R"({"vlanTrunk":[{"minID":1,"maxID":4095}]})"), "incorrect trunk maxID parameter");
  EXPECT_EQ(parseErr(R"({"vlanTrunk":[{"minID":5,"maxID":3}]})"), "minID is greater than maxID in trunk parameter");
  EXPECT_EQ(parseErr(R"({"vlanTrunk":[{"maxID":3}]})"),
            "minID and maxID should be configured simultaneously, minID is missing");
  EXPECT_EQ(parseErr(R"({"vlanTrunk":[{"minID":3}]})"),
            "minID and maxID should be configured simultaneously, maxID is missing");
  EXPECT_EQ(parseErr(R"({"vlanTrunk":[{"id":0}]})"), "incorrect trunk id parameter");
  EXPECT_EQ(parseErr(R"({"hairpinMode":true,"promiscMode":true})"),
            "cannot set hairpin mode and promiscuous mode at the same time");
  EXPECT_EQ(parseErr(R"({"disableContainerInterface":true,"ipam":{"type":"host-local"}})"),
            "cannot use IPAM when DisableContainerInterface flag is set");
}

TEST(BridgeConf, WrongTypesNameTheKey) {
  EXPECT_EQ(parseErr(R"({"isGateway":"yes"})"), "invalid \"isGateway\": expected a boolean, got \"yes\"");
  EXPECT_EQ(parseErr(R"({"mtu":"1500"})"), "invalid \"mtu\": expected an integer, got \"1500\"");
  EXPECT_EQ(parseErr(R"({"bridge":7})"), "invalid \"bridge\": expected a string, got 7");
  EXPECT_EQ(parseErr(R"({"bridge":"a-very-long-bridge-name"})"),
            "invalid \"bridge\": \"a-very-long-bridge-name\" is not a valid interface name");
  EXPECT_EQ(parseErr(R"({"bridge":"../x"})"), "invalid \"bridge\": \"../x\" is not a valid interface name");
  EXPECT_EQ(parseErr(R"({"mtu":70000})"), "invalid \"mtu\": 70000");
  EXPECT_NE(parseErr(R"({"ipMasqBackend":"iptables"})").find("not supported"), std::string::npos);
}

TEST(BridgeConf, MacPrecedence) {
  EXPECT_EQ(parseOk("{}", "IgnoreUnknown=1;MAC=02:00:00:00:00:01").mac, "02:00:00:00:00:01");
  EXPECT_EQ(parseOk(R"({"args":{"cni":{"mac":"02:00:00:00:00:02"}}})", "MAC=02:00:00:00:00:01").mac,
            "02:00:00:00:00:02");
  EXPECT_EQ(parseOk(R"({"args":{"cni":{"mac":"02:00:00:00:00:02"}},"runtimeConfig":{"mac":"02:00:00:00:00:03"}})",
                    "MAC=02:00:00:00:00:01")
                .mac,
            "02:00:00:00:00:03");
  EXPECT_EQ(parseErr(R"({"runtimeConfig":{"mac":"zz:00:00:00:00:03"}})"), "invalid MAC address \"zz:00:00:00:00:03\"");
  EXPECT_EQ(parseErr(R"({"runtimeConfig":{"mac":"01:00:00:00:00:03"}})"),
            "invalid MAC address \"01:00:00:00:00:03\": multicast bit set");
}

}  // namespace
}  // namespace nodenet::cni::bridge
