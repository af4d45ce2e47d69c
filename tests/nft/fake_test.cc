// FakeNft: all-or-nothing commits with the kernel's errnos, and its dump.
//
// IP plan: pods 10.85.0.0/16 (10.85.0.5, 10.85.0.6).
#include <gtest/gtest.h>

#include "netlink/fake/fake_nft.h"

namespace nodenet::nft {
namespace {

Value ipv(const char* s) { return Value::ip(*IpAddress::parse(s)); }
Value pfx(const char* s) { return Value::prefix(*Cidr::parse(s)); }

Transaction cniSetup() {
  Transaction tx(Family::Inet, "nodenet-cni");
  tx.add(Table{Family::Inet, "nodenet-cni"});
  tx.add(Chain{.name = "postrouting", .base = BaseChain{ChainType::Nat, Hook::Postrouting, priority::kSrcNat}});
  tx.add(Set{.name = "pods", .key = {DataType::Ipv4Addr}});
  tx.add(Rule{.chain = "postrouting",
              .statements = {lookup({Field::IpSaddr}, "pods"), notMatch(Field::IpDaddr, pfx("10.85.0.0/16")),
                             Masquerade{}}});
  tx.add(Element{.set = "pods", .key = {ipv("10.85.0.6")}, .comment = "b/eth0"});
  tx.add(Element{.set = "pods", .key = {ipv("10.85.0.5")}, .comment = "a/eth0"});
  return tx;
}

TEST(FakeNft, DumpIsSortedNftText) {
  FakeNft nft;
  ASSERT_TRUE(nft.commit(cniSetup()).ok());
  EXPECT_EQ(nft.dump(),
            "table inet nodenet-cni {\n"
            "\tset pods {\n"
            "\t\ttype ipv4_addr\n"
            "\t\telements = { 10.85.0.5 comment \"a/eth0\",\n"
            "\t\t\t     10.85.0.6 comment \"b/eth0\" }\n"
            "\t}\n"
            "\tchain postrouting {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            "\t\tip saddr @pods ip daddr != 10.85.0.0/16 masquerade\n"
            "\t}\n"
            "}\n");
}

TEST(FakeNft, FailedCommitChangesNothing) {
  FakeNft nft;
  ASSERT_TRUE(nft.commit(cniSetup()).ok());
  std::string before = nft.dump();
  Transaction tx(Family::Inet, "nodenet-cni");
  tx.remove(Element{.set = "pods", .key = {ipv("10.85.0.6")}});
  tx.create(Element{.set = "pods", .key = {ipv("10.85.0.5")}});
  Status st = nft.commit(tx);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().sysErrno(), EEXIST);
  EXPECT_NE(st.error().message().find("create element 10.85.0.5 in set pods: File exists (errno 17)"),
            std::string::npos)
      << st.error().message();
  EXPECT_EQ(nft.dump(), before);
  EXPECT_EQ(nft.commitCount(), 1);
}

TEST(FakeNft, KernelErrnos) {
  FakeNft nft;
  ASSERT_TRUE(nft.commit(cniSetup()).ok());
  auto errnoOf = [&](auto build) {
    Transaction tx(Family::Inet, "nodenet-cni");
    build(tx);
    Status st = nft.commit(tx);
    return st.ok() ? 0 : st.error().sysErrno();
  };
  EXPECT_EQ(errnoOf([](Transaction& tx) { tx.add(Table{Family::Inet, "nodenet-cni"}); }), 0);
  EXPECT_EQ(errnoOf([](Transaction& tx) { tx.create(Table{Family::Inet, "nodenet-cni"}); }), EEXIST);
  EXPECT_EQ(errnoOf([](Transaction& tx) { tx.remove(Element{.set = "pods", .key = {ipv("10.9.9.9")}}); }), ENOENT);
  EXPECT_EQ(errnoOf([](Transaction& tx) { tx.add(Element{.set = "nope", .key = {ipv("10.9.9.9")}}); }), ENOENT);
  EXPECT_EQ(errnoOf([](Transaction& tx) { tx.remove(Set{.name = "pods"}); }), EBUSY);  // the rule uses it
  EXPECT_EQ(errnoOf([](Transaction& tx) { tx.add(Set{.name = "pods", .key = {DataType::Ipv6Addr}}); }), EEXIST);
  EXPECT_EQ(errnoOf([](Transaction& tx) {
              tx.add(Rule{.chain = "postrouting", .statements = {Verdict::jump("missing")}});
            }),
            ENOENT);
  EXPECT_EQ(errnoOf([](Transaction& tx) { tx.remove(Rule{.chain = "postrouting", .handle = 999}); }), ENOENT);
  // Deleting the chain removes its rules; then the set is free.
  EXPECT_EQ(errnoOf([](Transaction& tx) {
              tx.remove(Chain{.name = "postrouting"});
              tx.remove(Set{.name = "pods"});
            }),
            0);
}

TEST(FakeNft, ListsAndReplaces) {
  FakeNft nft;
  ASSERT_TRUE(nft.commit(cniSetup()).ok());
  auto elems = nft.listElements(Family::Inet, "nodenet-cni", "pods");
  ASSERT_TRUE(elems.ok());
  ASSERT_EQ(elems->size(), 2u);
  EXPECT_EQ((*elems)[0].comment, "a/eth0");
  auto rules = nft.listRules(Family::Inet, "nodenet-cni", "postrouting");
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 1u);
  Rule r = (*rules)[0];
  r.statements = {Masquerade{.fullyRandom = true}};
  Transaction tx(Family::Inet, "nodenet-cni");
  tx.replace(r);
  ASSERT_TRUE(nft.commit(tx).ok());
  EXPECT_NE(nft.dump().find("\t\tmasquerade fully-random\n"), std::string::npos) << nft.dump();
  EXPECT_FALSE(*nft.hasTable(Family::Ip, "nodenet-cni"));
  EXPECT_EQ(nft.listSets(Family::Ip, "x").error().sysErrno(), ENOENT);
}

TEST(FakeNft, InjectedFailure) {
  FakeNft nft;
  nft.failNextCommitForTest(Error("boom", EIO));
  EXPECT_FALSE(nft.commit(cniSetup()).ok());
  EXPECT_TRUE(nft.commit(cniSetup()).ok());
}

}  // namespace
}  // namespace nodenet::nft
