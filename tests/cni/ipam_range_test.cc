// Range math (pure). IP plan: 10.1.2.0/24, 10.1.3.0/24, 2001:db8:1::/64, 2001:db8:2::/64.
#include <gtest/gtest.h>

#include "cni/ipam/range.h"

namespace nodenet::cni::ipam {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Range range(const char* subnet) { return Range{*Cidr::parse(subnet), std::nullopt, std::nullopt, std::nullopt}; }

TEST(IpamRange, V4Defaults) {
  Range r = range("10.1.2.0/24");
  ASSERT_TRUE(r.canonicalize().ok());
  EXPECT_EQ(*r.rangeStart, ip("10.1.2.1"));
  EXPECT_EQ(*r.rangeEnd, ip("10.1.2.254"));  // broadcast - 1
  EXPECT_EQ(*r.gateway, ip("10.1.2.1"));
  EXPECT_EQ(r.toString(), "10.1.2.1-10.1.2.254");
}

TEST(IpamRange, V6Defaults) {
  Range r = range("2001:db8:1::/64");
  ASSERT_TRUE(r.canonicalize().ok());
  EXPECT_EQ(*r.rangeStart, ip("2001:db8:1::1"));
  EXPECT_EQ(*r.rangeEnd, ip("2001:db8:1:0:ffff:ffff:ffff:ffff"));  // the last address (no broadcast in v6)
  EXPECT_EQ(*r.gateway, ip("2001:db8:1::1"));
}

TEST(IpamRange, SmallestNetworks) {
  Range r30 = range("10.0.0.0/30");
  ASSERT_TRUE(r30.canonicalize().ok());
  EXPECT_EQ(r30.toString(), "10.0.0.1-10.0.0.2");
  Range r126 = range("fd00::/126");
  ASSERT_TRUE(r126.canonicalize().ok());
  EXPECT_EQ(r126.toString(), "fd00::1-fd00::3");
}

TEST(IpamRange, ExplicitValues) {
  Range r{*Cidr::parse("10.1.2.0/24"), ip("10.1.2.10"), ip("10.1.2.20"), ip("10.1.2.254")};
  ASSERT_TRUE(r.canonicalize().ok());
  EXPECT_EQ(r.toString(), "10.1.2.10-10.1.2.20");
  EXPECT_TRUE(r.contains(ip("10.1.2.10")));
  EXPECT_TRUE(r.contains(ip("10.1.2.20")));
  EXPECT_FALSE(r.contains(ip("10.1.2.9")));
  EXPECT_FALSE(r.contains(ip("10.1.2.21")));
  EXPECT_FALSE(r.contains(ip("2001:db8::1")));
  // The gateway is not required to be inside the subnet (reference behaviour).
  Range g{*Cidr::parse("10.1.2.0/24"), std::nullopt, std::nullopt, ip("192.168.0.1")};
  EXPECT_TRUE(g.canonicalize().ok());
}

TEST(IpamRange, Errors) {
  struct Case {
    Range r;
    const char* msg;
  } cases[] = {
      {range("10.0.0.0/31"), "Network 10.0.0.0/31 too small to allocate from"},
      {range("10.0.0.0/32"), "Network 10.0.0.0/32 too small to allocate from"},
      {range("fd00::/127"), "Network fd00::/127 too small to allocate from"},
      {range("fd00::/128"), "Network fd00::/128 too small to allocate from"},
      {range("10.1.2.3/24"), "Network has host bits set. For a subnet mask of length 24 the network address is 10.1.2.0"},
      {Range{*Cidr::parse("10.1.2.0/24"), ip("10.1.3.1"), std::nullopt, std::nullopt},
       "RangeStart 10.1.3.1 not in network 10.1.2.0/24"},
      {Range{*Cidr::parse("10.1.2.0/24"), std::nullopt, ip("10.1.3.1"), std::nullopt},
       "RangeEnd 10.1.3.1 not in network 10.1.2.0/24"},
      {Range{*Cidr::parse("10.1.2.0/24"), ip("fd00::1"), std::nullopt, std::nullopt},
       "RangeStart fd00::1 not in network 10.1.2.0/24"},
      {Range{*Cidr::parse("10.1.2.0/24"), ip("10.1.2.50"), ip("10.1.2.40"), std::nullopt},
       // The reference checks RangeStart against the configured RangeEnd: start > end reads "not in network".
       "RangeStart 10.1.2.50 not in network 10.1.2.0/24"},
  };
  for (auto& c : cases) {
    auto st = c.r.canonicalize();
    ASSERT_FALSE(st.ok()) << c.msg;
    EXPECT_EQ(st.error().message(), c.msg);
  }
}

TEST(IpamRangeSet, CanonicalizeAndLookup) {
  RangeSet s{range("10.1.2.0/24"), range("10.1.3.0/24")};
  ASSERT_TRUE(canonicalizeRangeSet(s).ok());
  EXPECT_EQ(rangeSetToString(s), "10.1.2.1-10.1.2.254,10.1.3.1-10.1.3.254");
  EXPECT_EQ(rangeFor(s, ip("10.1.3.7")), &s[1]);
  EXPECT_EQ(rangeFor(s, ip("10.1.4.7")), nullptr);
  EXPECT_FALSE(rangeSetContains(s, ip("10.1.2.255")));
}

TEST(IpamRangeSet, Errors) {
  RangeSet empty;
  EXPECT_EQ(canonicalizeRangeSet(empty).error().message(), "empty range set");
  RangeSet mixed{range("10.1.2.0/24"), range("2001:db8:1::/64")};
  EXPECT_EQ(canonicalizeRangeSet(mixed).error().message(), "mixed address families");
  RangeSet overlap{range("10.1.2.0/24"), range("10.1.2.0/25")};
  EXPECT_EQ(canonicalizeRangeSet(overlap).error().message(),
            "subnets 10.1.2.1-10.1.2.254 and 10.1.2.1-10.1.2.126 overlap");
  RangeSet bad{range("10.1.2.0/24"), range("10.1.3.0/32")};
  EXPECT_EQ(canonicalizeRangeSet(bad).error().message(), "Network 10.1.3.0/32 too small to allocate from");
  // Disjoint ranges of the same subnet do not overlap.
  RangeSet split{Range{*Cidr::parse("10.1.2.0/24"), ip("10.1.2.1"), ip("10.1.2.100"), std::nullopt},
                 Range{*Cidr::parse("10.1.2.0/24"), ip("10.1.2.101"), ip("10.1.2.200"), std::nullopt}};
  EXPECT_TRUE(canonicalizeRangeSet(split).ok());
  RangeSet a{range("10.1.2.0/24")}, b{range("10.1.0.0/16")};
  ASSERT_TRUE(canonicalizeRangeSet(a).ok());
  ASSERT_TRUE(canonicalizeRangeSet(b).ok());
  EXPECT_TRUE(rangeSetsOverlap(a, b));
}

}  // namespace
}  // namespace nodenet::cni::ipam
