// FlowFilter matching, validation and the strings that end up in logs and errors.
// IP plan: client 10.0.0.2, service 172.30.0.10:53, endpoints 10.180.0.5 and 10.180.0.6 (:5353).
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "netlink/conntrack/conntrack.h"

namespace nodenet::conntrack {
namespace {

IpAddress ip(const char* s) { return IpAddress::parse(s).value(); }

Flow flow(const char* endpoint, uint16_t dport = 53, uint8_t proto = IPPROTO_UDP) {
  Flow f;
  f.l4proto = proto;
  f.orig = {ip("10.0.0.2"), ip("172.30.0.10"), 40000, dport};
  f.reply = {ip(endpoint), ip("10.0.0.2"), 5353, 40000};
  return f;
}

TEST(FlowFilter, EmptyFilterMatchesFamilyAndProtocolOnly) {
  FlowFilter all;
  EXPECT_TRUE(all.matches(flow("10.180.0.5")));
  EXPECT_FALSE(all.matches(flow("10.180.0.5", 53, IPPROTO_TCP)));
  Flow v6 = flow("10.180.0.5");
  v6.family = IpFamily::V6;
  EXPECT_FALSE(all.matches(v6));
}

TEST(FlowFilter, ServiceAndEndpointFields) {
  FlowFilter svc;
  svc.origDst = ip("172.30.0.10");
  svc.origDstPort = 53;
  EXPECT_TRUE(svc.matches(flow("10.180.0.5")));
  EXPECT_FALSE(svc.matches(flow("10.180.0.5", 54)));

  FlowFilter ep = svc;
  ep.replySrc = ip("10.180.0.5");
  EXPECT_TRUE(ep.matches(flow("10.180.0.5")));
  EXPECT_FALSE(ep.matches(flow("10.180.0.6")));
  ep.replySrcPort = 5353;
  EXPECT_TRUE(ep.matches(flow("10.180.0.5")));
  ep.replySrcPort = 80;
  EXPECT_FALSE(ep.matches(flow("10.180.0.5")));

  // A NodePort: the port alone, any local address.
  FlowFilter nodePort;
  nodePort.origDstPort = 53;
  EXPECT_TRUE(nodePort.matches(flow("10.180.0.6")));
}

TEST(FlowFilter, ReplySourceNotAmongTheEndpoints) {
  FlowFilter f;
  f.origDst = ip("172.30.0.10");
  f.origDstPort = 53;
  f.replySrcNotIn = std::vector<IpAddress>{ip("10.180.0.5")};
  EXPECT_FALSE(f.matches(flow("10.180.0.5")));  // a current endpoint: kept
  EXPECT_TRUE(f.matches(flow("10.180.0.6")));   // gone: deleted
  EXPECT_TRUE(f.matches(flow("172.30.0.10")));  // never DNATed: deleted
  EXPECT_FALSE(f.matches(flow("10.180.0.6", 54)));
  f.replySrcNotIn = std::vector<IpAddress>{};  // no endpoints: every flow to the port
  EXPECT_TRUE(f.matches(flow("10.180.0.5")));
  EXPECT_EQ(f.toString(), "udp ipv4 origDst=172.30.0.10 origDstPort=53 replySrcNotIn={}");
  f.replySrcNotIn = std::vector<IpAddress>{ip("fd00::5")};
  auto st = f.validate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("replySrcNotIn fd00::5 is not ipv4"), std::string::npos) << st.error().message();
}

TEST(FlowFilter, ValidateNamesTheField) {
  FlowFilter f;
  f.origDst = ip("fd00::10");
  auto st = f.validate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("origDst fd00::10 is not ipv4"), std::string::npos) << st.error().message();
  f = FlowFilter{};
  f.family = IpFamily::V6;
  f.replySrc = ip("10.180.0.5");
  st = f.validate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("replySrc 10.180.0.5 is not ipv6"), std::string::npos);
  f.replySrc = ip("fd00::5");
  EXPECT_TRUE(f.validate().ok());
}

TEST(FlowFilter, Strings) {
  FlowFilter f;
  f.origDst = ip("172.30.0.10");
  f.origDstPort = 53;
  f.replySrc = ip("10.180.0.5");
  EXPECT_EQ(f.toString(), "udp ipv4 origDst=172.30.0.10 origDstPort=53 replySrc=10.180.0.5");
  EXPECT_EQ(flow("10.180.0.5").toString(), "udp 10.0.0.2:40000 -> 172.30.0.10:53 reply 10.180.0.5:5353 -> 10.0.0.2:40000");
  Flow v6;
  v6.family = IpFamily::V6;
  v6.l4proto = IPPROTO_TCP;
  v6.orig = {ip("fd00::2"), ip("fd00::10"), 1, 80};
  v6.reply = {ip("fd00::5"), ip("fd00::2"), 8080, 1};
  v6.zone = 3;
  EXPECT_EQ(v6.toString(), "tcp [fd00::2]:1 -> [fd00::10]:80 reply [fd00::5]:8080 -> [fd00::2]:1 zone 3");
}

}  // namespace
}  // namespace nodenet::conntrack
