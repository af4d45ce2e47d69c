// The daemon's ConntrackCleaner maps proxy/sync's UDP filters onto netlink/conntrack's FlowFilter exactly.
#include "proxy/daemon/conntrack_cleaner.h"

#include <gtest/gtest.h>

namespace nodenet::proxy::daemon {
namespace {

TEST(NetlinkConntrackCleaner, ClusterIpEndpointFilter) {
  sync::UdpFlowFilter f{.origDst = *IpAddress::parse("10.96.0.10"),
                        .origDstPort = 53,
                        .replySrc = *IpAddress::parse("10.85.0.5"),
                        .family = IpFamily::V4};
  conntrack::FlowFilter c = NetlinkConntrackCleaner::toFlowFilter(f);
  EXPECT_EQ(c.family, IpFamily::V4);
  EXPECT_EQ(c.l4proto, L4Proto::UDP);
  EXPECT_EQ(c.origDst, f.origDst);
  EXPECT_EQ(c.origDstPort, std::optional<uint16_t>(53));
  EXPECT_EQ(c.replySrc, f.replySrc);
  EXPECT_FALSE(c.replySrcPort);
  EXPECT_TRUE(c.validate().ok());
}

TEST(NetlinkConntrackCleaner, NodePortFilterMatchesAnyLocalAddress) {
  sync::UdpFlowFilter f{.origDstPort = 30053, .family = IpFamily::V6};
  conntrack::FlowFilter c = NetlinkConntrackCleaner::toFlowFilter(f);
  EXPECT_EQ(c.family, IpFamily::V6);
  EXPECT_FALSE(c.origDst);
  EXPECT_EQ(c.origDstPort, std::optional<uint16_t>(30053));
  EXPECT_FALSE(c.replySrc);
}

}  // namespace
}  // namespace nodenet::proxy::daemon
