// IP plan: 10.85.0.0/16 (pods), fd00:10:85::/64 (pods v6).
#include "base/ip.h"

#include <gtest/gtest.h>

namespace nodenet {
namespace {

TEST(IpAddress, ParseFormat) {
  EXPECT_EQ(IpAddress::parse("10.85.0.1")->toString(), "10.85.0.1");
  EXPECT_EQ(IpAddress::parse("FD00:10:85:0:0:0:0:1")->toString(), "fd00:10:85::1");
  EXPECT_TRUE(IpAddress::parse("::ffff:1.2.3.4")->isV6());
  EXPECT_FALSE(IpAddress::parse("10.85.0.256").ok());
  EXPECT_FALSE(IpAddress::parse("").ok());
  EXPECT_FALSE(IpAddress::parse("1.2.3.4 ").ok());
  EXPECT_EQ(IpAddress::parse("nope").error().message(), "invalid IP address \"nope\"");
}

TEST(IpAddress, OffsetCarriesAndWraps) {
  EXPECT_EQ(IpAddress::parse("10.85.0.255")->next().toString(), "10.85.1.0");
  EXPECT_EQ(IpAddress::parse("10.85.1.0")->prev().toString(), "10.85.0.255");
  EXPECT_EQ(IpAddress::parse("255.255.255.255")->next().toString(), "0.0.0.0");
  EXPECT_EQ(IpAddress::parse("0.0.0.0")->prev().toString(), "255.255.255.255");
  EXPECT_EQ(IpAddress::parse("fd00::ffff")->offset(1).toString(), "fd00::1:0");
  EXPECT_EQ(IpAddress::parse("10.0.0.0")->offset(70000).toString(), "10.1.17.112");
  EXPECT_EQ(IpAddress::parse("10.1.17.112")->offset(-70000).toString(), "10.0.0.0");
}

TEST(IpAddress, Ordering) {
  EXPECT_LT(*IpAddress::parse("10.0.0.9"), *IpAddress::parse("10.0.0.10"));
  EXPECT_LT(*IpAddress::parse("255.0.0.0"), *IpAddress::parse("::1"));  // v4 sorts before v6
}

TEST(Cidr, ParseAndMath) {
  auto c = *Cidr::parse("10.85.3.7/16");
  EXPECT_EQ(c.network().toString(), "10.85.0.0");
  EXPECT_EQ(c.last().toString(), "10.85.255.255");
  EXPECT_EQ(c.mask().toString(), "255.255.0.0");
  EXPECT_FALSE(c.isNetwork());
  EXPECT_TRUE(c.masked().isNetwork());
  EXPECT_TRUE(c.contains(*IpAddress::parse("10.85.200.1")));
  EXPECT_FALSE(c.contains(*IpAddress::parse("10.86.0.1")));
  EXPECT_FALSE(c.contains(*IpAddress::parse("::1")));
  auto v6 = *Cidr::parse("fd00:10:85::/64");
  EXPECT_EQ(v6.last().toString(), "fd00:10:85:0:ffff:ffff:ffff:ffff");
  EXPECT_TRUE(Cidr::parse("10.0.0.0/8")->overlaps(*Cidr::parse("10.85.0.0/16")));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/16")->overlaps(*Cidr::parse("10.1.0.0/16")));
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->toString(), "0.0.0.0/0");
}

TEST(Cidr, Rejects) {
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/a", "x/8", "::/129", "1.2.3.4/-1"})
    EXPECT_FALSE(Cidr::parse(bad).ok()) << bad;
}

TEST(L4Proto, Parse) {
  EXPECT_EQ(*parseL4Proto("TCP"), L4Proto::TCP);
  EXPECT_EQ(*parseL4Proto("sctp"), L4Proto::SCTP);
  EXPECT_FALSE(parseL4Proto("icmp").ok());
}

}  // namespace
}  // namespace nodenet
