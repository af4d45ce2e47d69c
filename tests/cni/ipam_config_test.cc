// host-local config loading (reference config.go semantics) and resolv.conf parsing.
// IP plan: 10.1.2.0/24 (v4 set), 2001:db8:1::/64 (v6 set), 10.9.0.0/16 (legacy single range).
#include <gtest/gtest.h>

#include <fstream>

#include "cni/ipam/config.h"

namespace nodenet::cni::ipam {
namespace {

using nlohmann::json;

TEST(IpamConfig, DualStackRanges) {
  auto c = loadIpamConfig(json::parse(R"({"cniVersion": "1.0.0", "name": "net", "ipam": {
      "type": "host-local", "dataDir": "/tmp/x",
      "ranges": [[{"subnet": "10.1.2.0/24", "rangeStart": "10.1.2.10"}], [{"subnet": "2001:db8:1::/64"}]],
      "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "2001:db8:1::1"}]}})"), "");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->name, "net");
  EXPECT_EQ(c->dataDir, "/tmp/x");
  ASSERT_EQ(c->ranges.size(), 2u);
  EXPECT_EQ(rangeSetToString(c->ranges[0]), "10.1.2.10-10.1.2.254");
  EXPECT_EQ(c->ranges[1][0].rangeStart->toString(), "2001:db8:1::1");
  ASSERT_EQ(c->routes.size(), 2u);
  EXPECT_EQ(c->routes[1].gw->toString(), "2001:db8:1::1");
}

TEST(IpamConfig, LegacyRangeIsPrependedAndDefaults) {
  auto c = loadIpamConfig(json::parse(R"({"name": "net", "ipam": {"type": "host-local",
      "subnet": "10.9.0.0/16", "gateway": "10.9.0.254", "ranges": [[{"subnet": "2001:db8:1::/64"}]]}})"), "");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->dataDir, "/var/lib/cni/networks");
  EXPECT_EQ(c->cniVersion, "0.1.0");
  ASSERT_EQ(c->ranges.size(), 2u);
  EXPECT_EQ(c->ranges[0][0].gateway->toString(), "10.9.0.254");
}

TEST(IpamConfig, RequestedIpsInReferenceOrder) {
  auto c = loadIpamConfig(json::parse(R"({"cniVersion": "1.0.0", "name": "net",
      "ipam": {"ranges": [[{"subnet": "10.1.2.0/24"}]]},
      "args": {"cni": {"ips": ["10.1.2.7/24"]}}, "runtimeConfig": {"ips": ["10.1.2.8"]}})"),
                          "IgnoreUnknown=1;IP=10.1.2.6;K8S_POD_NAME=x");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->requestedIps.size(), 3u);
  EXPECT_EQ(c->requestedIps[0].toString(), "10.1.2.6");
  EXPECT_EQ(c->requestedIps[1].toString(), "10.1.2.7");
  EXPECT_EQ(c->requestedIps[2].toString(), "10.1.2.8");
}

TEST(IpamConfig, RuntimeIpRangesComeFirst) {
  auto c = loadIpamConfig(json::parse(R"({"cniVersion": "1.0.0", "name": "net",
      "ipam": {"ranges": [[{"subnet": "10.1.2.0/24"}]]},
      "runtimeConfig": {"ipRanges": [[{"subnet": "10.1.3.0/24"}]]}})"), "");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->ranges.size(), 2u);
  EXPECT_EQ(c->ranges[0][0].subnet.toString(), "10.1.3.0/24");
}

TEST(IpamConfig, EveryError) {
  struct Case {
    const char* conf;
    const char* args;
    const char* msg;
  } cases[] = {
      {R"({"name": "n"})", "", "IPAM config missing 'ipam' key"},
      {R"({"name": "n", "ipam": {"type": "host-local"}})", "", "no IP ranges specified"},
      {R"({"name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/31"}]]}})", "",
       "invalid range set 0: Network 10.0.0.0/31 too small to allocate from"},
      {R"({"name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}, {"subnet": "fd00::/64"}]]}})", "",
       "invalid range set 0: mixed address families"},
      {R"({"cniVersion": "0.3.1", "name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}], [{"subnet": "10.0.0.0/16"}]]}})",
       "", "range set 0 overlaps with 1"},
      {R"({"cniVersion": "0.2.0", "name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}], [{"subnet": "10.1.0.0/16"}]]}})",
       "", "CNI version 0.2.0 does not support more than 1 address per family"},
      {R"({"name": "n", "ipam": {"ranges": [[{"rangeStart": "10.0.0.1"}]]}})", "",
       "invalid range set 0: missing \"subnet\""},
      {R"({"name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}]]}})", "FOO=1",
       "ARGS: unknown args [\"FOO=1\"]"},
      {R"({"name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}]]}})", "IP=nope",
       "ARGS: error parsing value of pair \"IP=nope\": invalid IP address nope"},
      {R"({"name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}]]}, "runtimeConfig": {"ips": ["x"]}})", "",
       "cannot understand ip: invalid IP address x"},
      {R"({"name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}]], "dataDir": 5}})", "",
       "invalid \"dataDir\": expected a string, got 5"},
      {R"({"name": "n", "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}]], "routes": [{"gw": "10.0.0.1"}]}})", "",
       "invalid ipam \"routes\": route: missing \"dst\""},
  };
  for (const auto& c : cases) {
    auto r = loadIpamConfig(json::parse(c.conf), c.args);
    ASSERT_FALSE(r.ok()) << c.conf;
    EXPECT_EQ(r.error().message(), c.msg);
  }
}

TEST(IpamResolvConf, Parse) {
  Dns d = parseResolvConfText(
      "# comment\n; other\nnameserver 10.0.0.10\nnameserver  fd00::10\ndomain example.com\n"
      "search a.example b.example\noptions ndots:5 timeout:1\nnameserver\n\n");
  EXPECT_EQ(d.nameservers, (std::vector<std::string>{"10.0.0.10", "fd00::10"}));
  EXPECT_EQ(d.domain, "example.com");
  EXPECT_EQ(d.search, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(d.options, (std::vector<std::string>{"ndots:5", "timeout:1"}));
  std::string path = testing::TempDir() + "/resolv.conf.test";
  std::ofstream(path) << "nameserver 1.1.1.1\n";
  EXPECT_EQ(parseResolvConf(path)->nameservers, std::vector<std::string>{"1.1.1.1"});
  EXPECT_FALSE(parseResolvConf(path + ".missing").ok());
}

}  // namespace
}  // namespace nodenet::cni::ipam
