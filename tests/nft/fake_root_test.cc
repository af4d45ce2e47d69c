// Root-only: FakeNft's dump is real nft input (parsed by `nft -c -f` inside a fresh namespace).
//
// IP plan: pods 10.85.0.0/16; services 172.30.0.41:80/tcp; endpoints 10.180.0.1-2.
#include <gtest/gtest.h>

#include "netlink/fake/fake_nft.h"
#include "tests/nft/netns_fixture.h"

namespace nodenet::nft {
namespace {

Value ipv(const char* s) { return Value::ip(*IpAddress::parse(s)); }

class FakeDumpTest : public testing::NetnsTest {};

TEST_F(FakeDumpTest, DumpPassesNftCheck) {
  FakeNft fake;
  Transaction tx(Family::Ip, "nodenet");
  tx.add(Table{Family::Ip, "nodenet", "proxy"});
  tx.add(Chain{.name = "nat-prerouting", .base = BaseChain{ChainType::Nat, Hook::Prerouting, priority::kDstNat}});
  tx.add(Chain{.name = "services", .comment = "dispatch"});
  tx.add(Chain{.name = "endpoint-a"});
  tx.add(Chain{.name = "endpoint-b"});
  tx.add(Chain{.name = "service-x"});
  tx.add(Map{.name = "service-ips", .key = {DataType::Ipv4Addr, DataType::InetProto, DataType::InetService},
             .data = DataType::Verdict, .comment = "services"});
  tx.add(Set{.name = "affinity", .key = {DataType::Ipv4Addr}, .flags = kSetDynamic | kSetTimeout, .timeoutSec = 10800});
  tx.add(Rule{.chain = "nat-prerouting", .statements = {Verdict::jump("services")}});
  tx.add(Rule{.chain = "services",
              .statements = {vmap({Field::IpDaddr, Field::MetaL4proto, Field::ThDport}, "service-ips")}});
  tx.add(Rule{.chain = "service-x", .statements = {NumgenVmap{{Verdict::goTo("endpoint-a"), Verdict::goTo("endpoint-b")}}}});
  tx.add(Rule{.chain = "endpoint-a", .statements = {SetUpdate{{Field::IpSaddr}, "affinity", std::nullopt},
                                                    match(Field::MetaL4proto, Value::proto(L4Proto::TCP)),
                                                    Nat{NatKind::Dnat, *IpAddress::parse("10.180.0.1"), 80}}});
  tx.add(Element{.set = "service-ips", .key = {ipv("172.30.0.41"), Value::proto(L4Proto::TCP), Value::port(80)},
                 .verdict = Verdict::goTo("service-x"), .comment = "ns1/svc1:p80"});
  tx.add(Element{.set = "affinity", .key = {ipv("10.0.0.2")}, .timeoutSec = 60});
  ASSERT_TRUE(tx.ok()) << tx.status().error().message();
  ASSERT_TRUE(fake.commit(tx).ok());
  EXPECT_EQ(nftCheck(fake.dump()), "") << fake.dump();
  EXPECT_EQ(nftCheck(tx.toString()), "") << tx.toString();
}

}  // namespace
}  // namespace nodenet::nft
