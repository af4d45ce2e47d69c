// ipMasq and macspoofchk rulesets against the fake nft kernel (all-or-nothing like the kernel).
// IP plan: network "crio" 10.85.0.0/16 + fd00:85::/64; network "other" 10.99.0.0/24.
#include "cni/bridge/masq.h"
#include "cni/bridge/spoofcheck.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "netlink/fake/fake_nft.h"

namespace nodenet::cni::bridge {
namespace {

Cidr cidr(const char* s) { return *Cidr::parse(s); }

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

TEST(Masq, FirstPodBuildsTableLaterPodsOnlyAddElements) {
  nft::FakeNft k;
  ASSERT_TRUE(addMasq(k, "crio", "c1", "eth0", {cidr("10.85.0.2/16")}).ok());
  int commits = k.commitCount();
  std::string first = k.dumpTable(nft::Family::Inet, kMasqTable);
  EXPECT_NE(first.find("ip saddr vmap @pods4"), std::string::npos) << first;
  EXPECT_NE(first.find("ip daddr 10.85.0.0/16 return"), std::string::npos) << first;
  EXPECT_NE(first.find("ip daddr 224.0.0.0/4 return"), std::string::npos) << first;
  EXPECT_NE(first.find("masquerade"), std::string::npos) << first;
  ASSERT_TRUE(addMasq(k, "crio", "c2", "eth0", {cidr("10.85.0.3/16")}).ok());
  EXPECT_EQ(k.commitCount(), commits + 1);  // fast path: one batch of elements
  std::string two = k.dumpTable(nft::Family::Inet, kMasqTable);
  EXPECT_EQ(countOf(two, "comment \"c1/eth0\""), 1u) << two;
  EXPECT_EQ(countOf(two, "comment \"c2/eth0\""), 1u) << two;
  EXPECT_EQ(countOf(two, "masquerade\n"), 1u) << two;  // the rule, not the table comment
}

TEST(Masq, RepeatedAddIsIdempotent) {
  nft::FakeNft k;
  ASSERT_TRUE(addMasq(k, "crio", "c1", "eth0", {cidr("10.85.0.2/16")}).ok());
  std::string before = k.dump();
  ASSERT_TRUE(addMasq(k, "crio", "c1", "eth0", {cidr("10.85.0.2/16")}).ok());
  EXPECT_EQ(k.dump(), before);
}

TEST(Masq, DualStackAndSeveralInterfaces) {
  nft::FakeNft k;
  ASSERT_TRUE(addMasq(k, "crio", "c1", "eth0", {cidr("10.85.0.2/16"), cidr("fd00:85::2/64")}).ok());
  ASSERT_TRUE(addMasq(k, "crio", "c1", "net1", {cidr("10.85.0.9/16")}).ok());
  std::string s = k.dumpTable(nft::Family::Inet, kMasqTable);
  EXPECT_NE(s.find("ip6 daddr fd00:85::/64 return"), std::string::npos) << s;
  EXPECT_NE(s.find("ip6 daddr ff00::/8 return"), std::string::npos) << s;
  // Removing one interface of the container keeps the other's address.
  ASSERT_TRUE(removeMasq(k, "crio", "c1", "eth0").ok());
  s = k.dumpTable(nft::Family::Inet, kMasqTable);
  EXPECT_EQ(s.find("10.85.0.2 "), std::string::npos) << s;
  EXPECT_EQ(s.find("fd00:85::2 "), std::string::npos) << s;
  EXPECT_NE(s.find("10.85.0.9"), std::string::npos) << s;
}

TEST(Masq, RemoveTouchesOnlyItsNetwork) {
  nft::FakeNft k;
  ASSERT_TRUE(addMasq(k, "crio", "c1", "eth0", {cidr("10.85.0.2/16")}).ok());
  ASSERT_TRUE(addMasq(k, "other", "c1", "eth0", {cidr("10.99.0.2/24")}).ok());
  ASSERT_TRUE(removeMasq(k, "crio", "c1", "eth0").ok());
  std::string s = k.dumpTable(nft::Family::Inet, kMasqTable);
  EXPECT_EQ(s.find("10.85.0.2"), std::string::npos) << s;
  EXPECT_NE(s.find("10.99.0.2"), std::string::npos) << s;
}

TEST(Masq, RemoveWithoutTableIsSuccess) {
  nft::FakeNft k;
  EXPECT_TRUE(removeMasq(k, "crio", "gone", "eth0").ok());
  EXPECT_TRUE(gcMasq(k, "crio", {}).ok());
}

TEST(Masq, GcKeepsValidAttachments) {
  nft::FakeNft k;
  for (const char* c : {"a", "b", "c"})
    ASSERT_TRUE(addMasq(k, "crio", c, "eth0", {cidr(c[0] == 'a' ? "10.85.0.2/16" : c[0] == 'b' ? "10.85.0.3/16" : "10.85.0.4/16")}).ok());
  ASSERT_TRUE(gcMasq(k, "crio", {GcAttachment{"b", "eth0"}}).ok());
  std::string s = k.dumpTable(nft::Family::Inet, kMasqTable);
  EXPECT_EQ(countOf(s, "/eth0\""), 1u) << s;
  EXPECT_NE(s.find("\"b/eth0\""), std::string::npos) << s;
}

TEST(Masq, FailedCommitReportsAndChangesNothing) {
  nft::FakeNft k;
  ASSERT_TRUE(addMasq(k, "crio", "c1", "eth0", {cidr("10.85.0.2/16")}).ok());
  std::string before = k.dump();
  k.failNextCommitForTest(nodenet::Error("injected", EPERM));
  auto st = addMasq(k, "crio", "c2", "eth0", {cidr("10.85.0.3/16")});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("failed to set up ipMasq"), std::string::npos);
  EXPECT_EQ(k.dump(), before);
}

TEST(SpoofCheck, ElementsPerPodAndCleanup) {
  nft::FakeNft k;
  auto mac = *netlink::MacAddress::parse("02:00:00:00:00:01");
  ASSERT_TRUE(addSpoofCheck(k, "veth00000001", mac, "c1", "eth0").ok());
  ASSERT_TRUE(addSpoofCheck(k, "veth00000002", *netlink::MacAddress::parse("02:00:00:00:00:02"), "c2", "eth0").ok());
  std::string s = k.dumpTable(nft::Family::Bridge, kSpoofTable);
  EXPECT_NE(s.find("iifname @ports iifname . ether saddr != @allowed drop"), std::string::npos) << s;
  EXPECT_NE(s.find("\"veth00000001\" . 02:00:00:00:00:01"), std::string::npos) << s;
  ASSERT_TRUE(removeSpoofCheck(k, "c1", "eth0").ok());
  s = k.dumpTable(nft::Family::Bridge, kSpoofTable);
  EXPECT_EQ(s.find("veth00000001"), std::string::npos) << s;
  EXPECT_NE(s.find("veth00000002"), std::string::npos) << s;
  ASSERT_TRUE(gcSpoofCheck(k, {}).ok());
  s = k.dumpTable(nft::Family::Bridge, kSpoofTable);
  EXPECT_EQ(s.find("veth0000000"), std::string::npos) << s;
}

TEST(NftModel, EtherFieldOnlyInBridgeTables) {
  nft::Transaction tx(nft::Family::Inet, "t");
  tx.add(nft::Rule{"c", {nft::match(nft::Field::EtherSaddr, nft::Value::ether((const uint8_t*)"\x02\0\0\0\0\x01"))},
                   std::nullopt, std::nullopt});
  ASSERT_FALSE(tx.ok());
  EXPECT_NE(tx.status().error().message().find("ether saddr outside a bridge table"), std::string::npos);
}

}  // namespace
}  // namespace nodenet::cni::bridge
