// Unit tests for the pure nft model: validation with a sticky first error, and nft text.
//
// IP plan: pods 10.85.0.0/16; services 172.30.0.0/16 (172.30.0.41:80/tcp); endpoints 10.180.0.1-2.
#include <gtest/gtest.h>

#include "netlink/nft/model/transaction.h"

namespace nodenet::nft {
namespace {

Value ipv(const char* s) { return Value::ip(*IpAddress::parse(s)); }
Value pfx(const char* s) { return Value::prefix(*Cidr::parse(s)); }

TEST(NftModel, CniTransactionText) {
  Transaction tx(Family::Inet, "nodenet-cni");
  tx.add(Table{Family::Inet, "nodenet-cni"});
  tx.add(Chain{.name = "postrouting", .base = BaseChain{ChainType::Nat, Hook::Postrouting, priority::kSrcNat}});
  tx.add(Set{.name = "pods", .key = {DataType::Ipv4Addr}, .comment = "pods"});
  tx.add(Rule{.chain = "postrouting",
              .statements = {lookup({Field::IpSaddr}, "pods"), notMatch(Field::IpDaddr, pfx("10.85.0.0/16")),
                             notMatch(Field::IpDaddr, pfx("224.0.0.0/4")), Masquerade{}}});
  tx.add(Element{.set = "pods", .key = {ipv("10.85.0.5")}, .comment = "cid/eth0"});
  tx.remove(Element{.set = "pods", .key = {ipv("10.85.0.6")}});
  ASSERT_TRUE(tx.ok()) << tx.status().error().message();
  EXPECT_EQ(tx.toString(),
            "add table inet nodenet-cni\n"
            "add chain inet nodenet-cni postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
            "add set inet nodenet-cni pods { type ipv4_addr; comment \"pods\"; }\n"
            "add rule inet nodenet-cni postrouting ip saddr @pods ip daddr != 10.85.0.0/16 ip daddr != 224.0.0.0/4 "
            "masquerade\n"
            "add element inet nodenet-cni pods { 10.85.0.5 comment \"cid/eth0\" }\n"
            "delete element inet nodenet-cni pods { 10.85.0.6 }\n");
}

TEST(NftModel, ProxyStatementsText) {
  Transaction tx(Family::Ip, "nodenet");
  tx.add(Map{.name = "service-ips",
             .key = {DataType::Ipv4Addr, DataType::InetProto, DataType::InetService},
             .data = DataType::Verdict});
  tx.add(Set{.name = "affinity-x", .key = {DataType::Ipv4Addr}, .flags = kSetDynamic | kSetTimeout, .timeoutSec = 10800});
  tx.add(Element{.set = "service-ips",
                 .key = {ipv("172.30.0.41"), Value::proto(L4Proto::TCP), Value::port(80)},
                 .verdict = Verdict::goTo("service-x")});
  tx.add(Rule{.chain = "services",
              .statements = {vmap({Field::IpDaddr, Field::MetaL4proto, Field::ThDport}, "service-ips")}});
  tx.add(Rule{.chain = "service-x",
              .statements = {NumgenVmap{{Verdict::goTo("endpoint-a"), Verdict::goTo("endpoint-b")}}}});
  tx.add(Rule{.chain = "endpoint-a",
              .statements = {match(Field::IpSaddr, ipv("10.180.0.1")), Verdict::jump("mark-for-masquerade")}});
  tx.add(Rule{.chain = "endpoint-a",
              .statements = {SetUpdate{{Field::IpSaddr}, "affinity-x", std::nullopt},
                             match(Field::MetaL4proto, Value::proto(L4Proto::TCP)),
                             Nat{NatKind::Dnat, *IpAddress::parse("10.180.0.1"), 80}}});
  tx.add(Rule{.chain = "mark-for-masquerade", .statements = {MarkSet{0x4000}}});
  tx.add(Rule{.chain = "masquerading",
              .statements = {Match{Field::MetaMark, CmpOp::Eq, Value::mark(0), 0x4000}, Verdict::ret()}});
  tx.add(Rule{.chain = "masquerading", .statements = {Masquerade{.fullyRandom = true}}});
  tx.add(Rule{.chain = "filter", .statements = {match(Field::CtState, Value::ctState(ct::kInvalid)), Verdict::drop()}});
  tx.add(Rule{.chain = "nodeports",
              .statements = {match(Field::FibDaddrType, Value::fibType(FibAddrType::Local)),
                             vmap({Field::MetaL4proto, Field::ThDport}, "service-nodeports")}});
  tx.add(Rule{.chain = "reject-chain", .statements = {Reject{RejectKind::HostUnreachable}}});
  tx.add(Rule{.chain = "c", .statements = {notLookup({Field::IpSaddr}, "affinity-x"), Counter{}, Verdict::accept()},
              .comment = "x"});
  ASSERT_TRUE(tx.ok()) << tx.status().error().message();
  EXPECT_EQ(tx.toString(),
            "add map ip nodenet service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }\n"
            "add set ip nodenet affinity-x { type ipv4_addr; flags timeout,dynamic; timeout 3h; }\n"
            "add element ip nodenet service-ips { 172.30.0.41 . tcp . 80 : goto service-x }\n"
            "add rule ip nodenet services ip daddr . meta l4proto . th dport vmap @service-ips\n"
            "add rule ip nodenet service-x numgen random mod 2 vmap { 0 : goto endpoint-a, 1 : goto endpoint-b }\n"
            "add rule ip nodenet endpoint-a ip saddr 10.180.0.1 jump mark-for-masquerade\n"
            "add rule ip nodenet endpoint-a update @affinity-x { ip saddr } meta l4proto tcp dnat to 10.180.0.1:80\n"
            "add rule ip nodenet mark-for-masquerade meta mark set meta mark | 0x00004000\n"
            "add rule ip nodenet masquerading meta mark & 0x00004000 == 0x00000000 return\n"
            "add rule ip nodenet masquerading masquerade fully-random\n"
            "add rule ip nodenet filter ct state invalid drop\n"
            "add rule ip nodenet nodeports fib daddr type local meta l4proto . th dport vmap @service-nodeports\n"
            "add rule ip nodenet reject-chain reject with icmp host-unreachable\n"
            "add rule ip nodenet c ip saddr != @affinity-x counter accept comment \"x\"\n");
}

TEST(NftModel, FirstErrorSticks) {
  Transaction tx(Family::Inet, "t");
  tx.add(Table{Family::Inet, "t"});
  tx.add(Chain{.name = ""});                                       // invalid: first error
  tx.add(Chain{.name = "has space"});                              // ignored
  tx.add(Rule{.chain = "c", .statements = {Verdict::accept()}});  // ignored
  ASSERT_FALSE(tx.ok());
  EXPECT_EQ(tx.size(), 1u);
  EXPECT_NE(tx.status().error().message().find("operation #1"), std::string::npos) << tx.status().error().message();
  EXPECT_NE(tx.status().error().message().find("chain name is empty"), std::string::npos);
}

TEST(NftModel, ValidatesAgainstSetsOfTheSameTransaction) {
  auto base = [] {
    Transaction tx(Family::Ip, "t");
    tx.add(Map{.name = "m", .key = {DataType::Ipv4Addr, DataType::InetProto, DataType::InetService}, .data = DataType::Verdict});
    tx.add(Set{.name = "s", .key = {DataType::Ipv4Addr}});
    return tx;
  };
  {
    Transaction tx = base();
    tx.add(Element{.set = "m", .key = {ipv("1.2.3.4")}, .verdict = Verdict::accept()});
    EXPECT_FALSE(tx.ok());  // key parts
  }
  {
    Transaction tx = base();
    tx.add(Element{.set = "m", .key = {ipv("1.2.3.4"), Value::proto(L4Proto::TCP), Value::port(80)}});
    EXPECT_FALSE(tx.ok());  // verdict missing
  }
  {
    Transaction tx = base();
    tx.add(Element{.set = "s", .key = {ipv("1.2.3.4")}, .verdict = Verdict::accept()});
    EXPECT_FALSE(tx.ok());  // set with data
  }
  {
    Transaction tx = base();
    tx.add(Rule{.chain = "c", .statements = {vmap({Field::IpDaddr}, "m")}});
    EXPECT_FALSE(tx.ok());  // key mismatch
  }
  {
    Transaction tx = base();
    tx.add(Rule{.chain = "c", .statements = {lookup({Field::Ip6Saddr}, "s")}});
    EXPECT_FALSE(tx.ok());  // ip6 field in an ip table
  }
  {
    Transaction tx = base();
    tx.add(Rule{.chain = "c", .statements = {SetUpdate{{Field::IpSaddr}, "s", std::nullopt}}});
    EXPECT_FALSE(tx.ok());  // not dynamic
  }
  {
    Transaction tx = base();
    tx.add(Rule{.chain = "c", .statements = {match(Field::ThDport, ipv("1.2.3.4"))}});
    EXPECT_FALSE(tx.ok());  // value type
  }
  {
    Transaction tx = base();
    tx.add(Rule{.chain = "c", .statements = {Nat{NatKind::Dnat, *IpAddress::parse("fd00::1"), 80}}});
    EXPECT_FALSE(tx.ok());  // v6 nat in an ip table
  }
  {
    Transaction tx = base();
    tx.replace(Rule{.chain = "c", .statements = {Verdict::accept()}});
    EXPECT_FALSE(tx.ok());  // no handle
  }
  {
    Transaction tx = base();
    tx.add(Table{Family::Ip6, "t"});
    EXPECT_FALSE(tx.ok());  // another table
  }
  {
    Transaction tx = base();
    tx.add(Element{.set = "s", .key = {ipv("1.2.3.4")}, .comment = std::string(200, 'x')});
    EXPECT_FALSE(tx.ok());  // comment too long
  }
  {
    Transaction tx = base();
    tx.add(Element{.set = "s", .key = {ipv("1.2.3.4")}, .comment = "cid/eth0"});
    tx.add(Rule{.chain = "c", .statements = {lookup({Field::IpSaddr}, "s"), Masquerade{}}});
    EXPECT_TRUE(tx.ok()) << tx.status().error().message();
  }
}

TEST(NftModel, DescribeNamesTheObject) {
  Transaction tx(Family::Ip, "t");
  tx.add(Map{.name = "service-ips", .key = {DataType::Ipv4Addr, DataType::InetProto, DataType::InetService},
             .data = DataType::Verdict});
  tx.add(Element{.set = "service-ips",
                 .key = {ipv("172.30.0.41"), Value::proto(L4Proto::TCP), Value::port(80)},
                 .verdict = Verdict::goTo("svc")});
  EXPECT_EQ(tx.describe(tx.operations()[1]), "element 172.30.0.41 . tcp . 80 in map service-ips");
  EXPECT_EQ(tx.describe(tx.operations()[0]), "map service-ips");
}

TEST(NftModel, PriorityNames) {
  EXPECT_EQ(priorityToString(100, Hook::Postrouting), "srcnat");
  EXPECT_EQ(priorityToString(-100, Hook::Prerouting), "dstnat");
  EXPECT_EQ(priorityToString(-100, Hook::Output), "-100");  // as nftables 1.0.6 prints it
  EXPECT_EQ(priorityToString(-5, Hook::Forward), "filter - 5");
  EXPECT_EQ(priorityToString(100, Hook::Prerouting), "100");
  EXPECT_EQ(priorityToString(-1000, Hook::Prerouting), "-1000");
}

TEST(NftModel, ValueEncoding) {
  uint8_t b[16];
  EXPECT_EQ(Value::port(80).encode(b), 2u);
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[1], 80);
  EXPECT_EQ(ipv("10.85.0.5").encode(b), 4u);
  EXPECT_EQ(b[0], 10);
  EXPECT_EQ(Value::decode(DataType::InetService, b, 2).toString(), "2645");  // 10*256+85
  EXPECT_EQ(keyTypeLen({DataType::Ipv4Addr, DataType::InetProto, DataType::InetService}), 12u);
  EXPECT_EQ(keyTypeId({DataType::Ipv4Addr, DataType::InetProto, DataType::InetService}), (7u << 12) | (12u << 6) | 13u);
  EXPECT_EQ(durationToString(10800000), "3h");
  EXPECT_EQ(durationToString(90500), "1m30s500ms");
  EXPECT_EQ(Value::ctState(ct::kEstablished | ct::kRelated).toString(), "established,related");
  EXPECT_FALSE(Value::ifname("a-very-long-interface-name").valid());
}

}  // namespace
}  // namespace nodenet::nft
