// Root-only: commits real transactions through netlink inside a fresh namespace and checks the result with
// the nft binary.
//
// IP plan: pods 10.85.0.0/16 (pod 10.85.0.5, 10.85.0.6, 10.85.0.7); multicast 224.0.0.0/4;
// services 172.30.0.0/16 (172.30.0.41:80/tcp); endpoints 10.180.0.1, 10.180.0.2.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>

#include "netlink/nft/netlink_kernel.h"
#include "tests/nft/netns_fixture.h"

namespace nodenet::nft {
namespace {

using testing::runCommand;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Value ipv(const char* s) { return Value::ip(ip(s)); }
Value pfx(const char* s) { return Value::prefix(*Cidr::parse(s)); }

constexpr const char* kTable = "nodenet-cni";

/// The CNI bridge plugin's ipMasq ruleset (the shape the teammate needs).
Transaction cniSetup(Family family = Family::Inet) {
  Transaction tx(family, kTable);
  tx.add(Table{family, kTable});
  tx.add(Chain{.name = "postrouting", .base = BaseChain{ChainType::Nat, Hook::Postrouting, priority::kSrcNat}});
  tx.add(Set{.name = "pods", .key = {DataType::Ipv4Addr}, .comment = "pod addresses to masquerade"});
  tx.add(Rule{.chain = "postrouting",
              .statements = {lookup({Field::IpSaddr}, "pods"), notMatch(Field::IpDaddr, pfx("10.85.0.0/16")),
                             notMatch(Field::IpDaddr, pfx("224.0.0.0/4")), Masquerade{}},
              .comment = "nodenet ipMasq"});
  tx.add(Element{.set = "pods", .key = {ipv("10.85.0.5")}, .comment = "cid-a/eth0"});
  tx.add(Element{.set = "pods", .key = {ipv("10.85.0.6")}, .comment = "cid-b/eth0"});
  return tx;
}

/// Rule lines of `nft list chain`, with counters zeroed out.
std::vector<std::string> ruleLines(const std::string& listing) {
  std::vector<std::string> out;
  std::istringstream in(listing);
  std::string line;
  bool inChain = false;
  while (std::getline(in, line)) {
    auto start = line.find_first_not_of("\t ");
    if (start == std::string::npos) continue;
    line = line.substr(start);
    if (line.rfind("chain ", 0) == 0) {
      inChain = true;
      continue;
    }
    if (line == "}") {
      inChain = false;
      continue;
    }
    if (!inChain || line.rfind("type ", 0) == 0 || line.rfind("comment ", 0) == 0) continue;
    for (size_t p; (p = line.find("counter packets ")) != std::string::npos;) {
      size_t e = line.find(" bytes ", p);
      e = line.find_first_of(" ", e + 7);
      line.replace(p, (e == std::string::npos ? line.size() : e) - p, "counter");
    }
    out.push_back(line);
  }
  return out;
}

class NftKernelTest : public testing::NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto k = NetlinkKernel::create(nsPath());
    ASSERT_TRUE(k.ok()) << k.error().message();
    kernel_ = std::move(*k);
  }
  std::unique_ptr<NetlinkKernel> kernel_;
};

TEST_F(NftKernelTest, CniIpMasqRulesetMatchesToString) {
  Transaction tx = cniSetup();
  ASSERT_TRUE(tx.ok()) << tx.status().error().message();
  Status st = kernel_->commit(tx);
  ASSERT_TRUE(st.ok()) << st.error().message();

  std::string listing = inNs("nft list ruleset");
  auto rules = ruleLines(listing);
  ASSERT_EQ(rules.size(), 1u) << listing;
  EXPECT_EQ(rules[0], ruleBodyToString(std::get<Rule>(tx.operations()[3].object), Family::Inet)) << listing;
  EXPECT_NE(listing.find("type nat hook postrouting priority srcnat; policy accept;"), std::string::npos) << listing;
  EXPECT_NE(listing.find("10.85.0.5 comment \"cid-a/eth0\""), std::string::npos) << listing;
  EXPECT_NE(listing.find("comment \"pod addresses to masquerade\""), std::string::npos) << listing;
  // The root namespace is untouched.
  EXPECT_EQ(runCommand("nft list table inet nodenet-cni 2>/dev/null | head -1").find("table"), std::string::npos);
  // What the kernel holds round-trips through nft's parser.
  EXPECT_EQ(nftCheck(listing), "");
  EXPECT_EQ(nftCheck(tx.toString()), "");
}

TEST_F(NftKernelTest, ListsWhatWasCommitted) {
  ASSERT_TRUE(kernel_->commit(cniSetup()).ok());
  auto has = kernel_->hasTable(Family::Inet, kTable);
  ASSERT_TRUE(has.ok()) << has.error().message();
  EXPECT_TRUE(*has);
  auto missing = kernel_->hasTable(Family::Ip, kTable);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);

  auto chains = kernel_->listChains(Family::Inet, kTable);
  ASSERT_TRUE(chains.ok()) << chains.error().message();
  ASSERT_EQ(chains->size(), 1u);
  EXPECT_EQ((*chains)[0].name, "postrouting");
  ASSERT_TRUE((*chains)[0].base.has_value());
  EXPECT_EQ((*chains)[0].base->hook, Hook::Postrouting);
  EXPECT_EQ((*chains)[0].base->priority, priority::kSrcNat);
  EXPECT_EQ((*chains)[0].base->type, ChainType::Nat);

  auto sets = kernel_->listSets(Family::Inet, kTable);
  ASSERT_TRUE(sets.ok()) << sets.error().message();
  ASSERT_EQ(sets->size(), 1u);
  EXPECT_EQ((*sets)[0].name, "pods");
  EXPECT_EQ((*sets)[0].key, KeyType{DataType::Ipv4Addr});
  EXPECT_EQ((*sets)[0].comment, "pod addresses to masquerade");

  auto elems = kernel_->listElements(Family::Inet, kTable, "pods");
  ASSERT_TRUE(elems.ok()) << elems.error().message();
  ASSERT_EQ(elems->size(), 2u);
  std::sort(elems->begin(), elems->end(), [](auto& a, auto& b) { return a.key < b.key; });
  EXPECT_EQ((*elems)[0].key, Key{ipv("10.85.0.5")});
  EXPECT_EQ((*elems)[0].comment, "cid-a/eth0");
  EXPECT_EQ((*elems)[1].comment, "cid-b/eth0");

  auto rules = kernel_->listRules(Family::Inet, kTable, "postrouting");
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_TRUE((*rules)[0].handle.has_value());
  EXPECT_EQ((*rules)[0].comment, "nodenet ipMasq");

  auto noSet = kernel_->listElements(Family::Inet, kTable, "nope");
  ASSERT_FALSE(noSet.ok());
  EXPECT_EQ(noSet.error().sysErrno(), ENOENT);
  auto noTable = kernel_->listSets(Family::Ip, "nope");
  ASSERT_FALSE(noTable.ok());
  EXPECT_EQ(noTable.error().sysErrno(), ENOENT);
}

TEST_F(NftKernelTest, AddAndDeleteElementsInOneCommit) {
  ASSERT_TRUE(kernel_->commit(cniSetup()).ok());
  Transaction tx(Family::Inet, kTable);
  tx.remove(Element{.set = "pods", .key = {ipv("10.85.0.5")}});
  tx.add(Element{.set = "pods", .key = {ipv("10.85.0.7")}, .comment = "cid-c/eth0"});
  Status st = kernel_->commit(tx);
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto elems = kernel_->listElements(Family::Inet, kTable, "pods");
  ASSERT_TRUE(elems.ok());
  std::vector<std::string> comments;
  for (auto& e : *elems) comments.push_back(e.comment.value_or(""));
  std::sort(comments.begin(), comments.end());
  EXPECT_EQ(comments, (std::vector<std::string>{"cid-b/eth0", "cid-c/eth0"}));
  // Re-adding the same table, chain and set is a no-op (add, not create).
  Transaction again(Family::Inet, kTable);
  again.add(Table{Family::Inet, kTable});
  again.add(Chain{.name = "postrouting", .base = BaseChain{ChainType::Nat, Hook::Postrouting, priority::kSrcNat}});
  again.add(Set{.name = "pods", .key = {DataType::Ipv4Addr}, .comment = "pod addresses to masquerade"});
  st = kernel_->commit(again);
  EXPECT_TRUE(st.ok()) << st.error().message();
}

TEST_F(NftKernelTest, FailedBatchLeavesStateAndNamesTheOperation) {
  ASSERT_TRUE(kernel_->commit(cniSetup()).ok());
  std::string before = inNs("nft list ruleset");

  Transaction tx(Family::Inet, kTable);
  tx.add(Element{.set = "pods", .key = {ipv("10.85.0.9")}, .comment = "new"});
  tx.flush(Chain{.name = "postrouting"});
  tx.create(Element{.set = "pods", .key = {ipv("10.85.0.5")}});  // exists: EEXIST
  tx.add(Element{.set = "pods", .key = {ipv("10.85.0.10")}});
  Status st = kernel_->commit(tx);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().sysErrno(), EEXIST);
  EXPECT_NE(st.error().message().find("create element 10.85.0.5 in set pods: File exists (errno 17)"), std::string::npos)
      << st.error().message();
  EXPECT_EQ(inNs("nft list ruleset"), before);

  Transaction missing(Family::Inet, kTable);
  missing.add(Element{.set = "pods", .key = {ipv("10.85.0.11")}});
  missing.add(Element{.set = "no-such-set", .key = {ipv("10.85.0.12")}});
  st = kernel_->commit(missing);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().sysErrno(), ENOENT);
  EXPECT_NE(st.error().message().find("element 10.85.0.12 in set no-such-set"), std::string::npos) << st.error().message();
  EXPECT_EQ(inNs("nft list ruleset"), before);
}

TEST_F(NftKernelTest, RefusesPoisonedTransaction) {
  Transaction tx(Family::Inet, kTable);
  tx.add(Table{Family::Inet, kTable});
  tx.add(Chain{.name = ""});
  Status st = kernel_->commit(tx);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("refusing"), std::string::npos);
  EXPECT_EQ(inNs("nft list ruleset"), "");
}

TEST_F(NftKernelTest, DeleteTableAndCheckCompletion) {
  ASSERT_TRUE(kernel_->commit(cniSetup()).ok());
  Transaction tx(Family::Inet, kTable);
  tx.remove(Table{Family::Inet, kTable});
  ASSERT_TRUE(kernel_->commit(tx).ok());
  EXPECT_EQ(inNs("nft list ruleset"), "");
  Status again = kernel_->commit(tx);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().sysErrno(), ENOENT);
}

}  // namespace
}  // namespace nodenet::nft

namespace nodenet::nft {
namespace {

// 10.0.0.0/8 services: 25k map elements plus 25k chains and 25k rules in one batch (~75k operations).
TEST_F(NftKernelTest, LargeBatchInOneCommit) {
  constexpr int kServices = 25000;
  Transaction tx(Family::Ip, "nodenet");
  tx.reserve(3 * kServices + 8);
  tx.add(Table{Family::Ip, "nodenet"});
  tx.add(Map{.name = "service-ips", .key = {DataType::Ipv4Addr, DataType::InetProto, DataType::InetService},
             .data = DataType::Verdict});
  for (int i = 0; i < kServices; ++i) {
    std::string chain = strCat("service-", i, "-ns/svc/tcp/p80");
    tx.add(Chain{.name = chain});
    tx.add(Rule{.chain = chain,
                .statements = {match(Field::MetaL4proto, Value::proto(L4Proto::TCP)),
                               Nat{NatKind::Dnat, IpAddress::v4(0x0ab40000u + i), 80}}});
    tx.add(Element{.set = "service-ips",
                   .key = {Value::ip(IpAddress::v4(0x0a000000u + i)), Value::proto(L4Proto::TCP), Value::port(80)},
                   .verdict = Verdict::goTo(chain)});
  }
  ASSERT_TRUE(tx.ok()) << tx.status().error().message();
  auto start = std::chrono::steady_clock::now();
  Status st = kernel_->commit(tx);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(st.ok()) << st.error().message();
  std::cout << "committed " << tx.size() << " operations in " << ms << " ms\n";
  auto elems = kernel_->listElements(Family::Ip, "nodenet", "service-ips");
  ASSERT_TRUE(elems.ok()) << elems.error().message();
  EXPECT_EQ(elems->size(), static_cast<size_t>(kServices));

  // A failing element at the end of a big batch: named, and nothing applied.
  Transaction bad(Family::Ip, "nodenet");
  for (int i = 0; i < 1000; ++i)
    bad.add(Element{.set = "service-ips",
                    .key = {Value::ip(IpAddress::v4(0x0b000000u + i)), Value::proto(L4Proto::UDP), Value::port(53)},
                    .verdict = Verdict::drop()});
  bad.create(Element{.set = "service-ips",
                     .key = {Value::ip(IpAddress::v4(0x0a000029u)), Value::proto(L4Proto::TCP), Value::port(80)},
                     .verdict = Verdict::goTo("service-41-ns/svc/tcp/p80")});
  st = kernel_->commit(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("create element 10.0.0.41 . tcp . 80 in map service-ips: File exists (errno 17)"),
            std::string::npos)
      << st.error().message();
  elems = kernel_->listElements(Family::Ip, "nodenet", "service-ips");
  ASSERT_TRUE(elems.ok());
  EXPECT_EQ(elems->size(), static_cast<size_t>(kServices));
}

}  // namespace
}  // namespace nodenet::nft

namespace nodenet::nft {
namespace {

// Packets: pod ns (10.85.0.5/24) -> router ns (this test's ns; 10.85.0.1, 192.168.77.1) -> server ns
// (192.168.77.2/24, no route back to 10.85.0.0/16). A ping only returns when the router masquerades.
/// Data maps with `typeof` keys ending in numgen, `dnat ... map` and a three-address set: what nodenet-proxy's
/// endpoint maps use. The kernel's listing must equal our text (typeof userdata as nft writes it), load back
/// through nft's parser (also with the table present: nft 1.0.6 cannot re-evaluate a map whose data typeof says
/// `th dport` once it is in the kernel, "conflicting protocols", so the data is declared as `tcp dport`, the same
/// inet_service type), and list back into the same model objects.
TEST_F(NftKernelTest, EndpointMapsRoundTrip) {
  for (Family fam : {Family::Ip, Family::Ip6}) {
    SCOPED_TRACE(familyName(fam));
    const bool v6 = fam == Family::Ip6;
    const Field daddr = v6 ? Field::Ip6Daddr : Field::IpDaddr, saddr = v6 ? Field::Ip6Saddr : Field::IpSaddr;
    const Field ctDaddr = v6 ? Field::CtOriginalIp6Daddr : Field::CtOriginalIpDaddr;
    const DataType addr = v6 ? DataType::Ipv6Addr : DataType::Ipv4Addr;
    const Value svc = ipv(v6 ? "fd00:30::41" : "172.30.0.41"), ep1 = ipv(v6 ? "fd00:180::1" : "10.180.0.1"),
                ep2 = ipv(v6 ? "fd00:180::2" : "10.180.0.2");
    Transaction tx(fam, "nn-maps");
    tx.add(Table{fam, "nn-maps"});
    tx.add(Chain{.name = "pre", .base = BaseChain{ChainType::Nat, Hook::Prerouting, priority::kDstNat}});
    tx.add(Chain{.name = "post", .base = BaseChain{ChainType::Nat, Hook::Postrouting, priority::kSrcNat}});
    tx.add(Set{.name = "eps",
               .key = {addr, DataType::InetProto, DataType::InetService, DataType::Integer},
               .comment = "endpoints",
               .dataConcat = {addr, DataType::InetService},
               .typeOf = SetTypeof{{daddr, Field::MetaL4proto, Field::ThDport}, NumgenKey{136, 0}, {daddr, Field::TcpDport}}});
    tx.add(Set{.name = "np",
               .key = {DataType::InetProto, DataType::InetService, DataType::Integer},
               .dataConcat = {addr, DataType::InetService},
               .typeOf = SetTypeof{{Field::MetaL4proto, Field::ThDport}, NumgenKey{136, 0}, {daddr, Field::TcpDport}}});
    tx.add(Set{.name = "hairpin", .key = {addr, addr, addr}});
    tx.add(Rule{.chain = "pre", .statements = {NatMap{{daddr, Field::MetaL4proto, Field::ThDport}, NumgenKey{2, 1}, "eps"}}});
    tx.add(Rule{.chain = "pre", .statements = {NatMap{{Field::MetaL4proto, Field::ThDport}, NumgenKey{1, 0}, "np"}}});
    tx.add(Rule{.chain = "post", .statements = {lookup({saddr, daddr, ctDaddr}, "hairpin"), Masquerade{}}});
    const Value tcp = Value::proto(L4Proto::TCP);
    tx.add(Element{.set = "eps", .key = {svc, tcp, Value::port(80), Value::integer(1)}, .dataConcat = {ep1, Value::port(8080)}});
    tx.add(Element{.set = "eps", .key = {svc, tcp, Value::port(80), Value::integer(2)}, .dataConcat = {ep2, Value::port(8080)}});
    tx.add(Element{.set = "np", .key = {tcp, Value::port(30080), Value::integer(0)}, .dataConcat = {ep1, Value::port(8080)}});
    tx.add(Element{.set = "hairpin", .key = {ep1, ep1, svc}});
    ASSERT_TRUE(tx.ok()) << tx.status().error().message();
    Status st = kernel_->commit(tx);
    ASSERT_TRUE(st.ok()) << st.error().message();

    std::string listing = inNs(strCat("nft list table ", familyName(fam), " nn-maps"));
    auto rules = ruleLines(listing);
    ASSERT_EQ(rules.size(), 3u) << listing;
    for (size_t i = 0; i < 3; ++i)
      EXPECT_EQ(rules[i], ruleBodyToString(std::get<Rule>(tx.operations()[6 + i].object), fam)) << listing;
    for (size_t i = 3; i < 6; ++i) {
      const Set& set = std::get<Set>(tx.operations()[i].object);
      std::string decl = setBodyToString(set);
      EXPECT_NE(listing.find(decl.substr(0, decl.find(';'))), std::string::npos) << decl << "\n" << listing;
    }
    EXPECT_NE(listing.find(elementToString(std::get<Element>(tx.operations()[9].object))), std::string::npos) << listing;
    EXPECT_EQ(nftCheck(listing), "");
    EXPECT_EQ(nftCheck(tx.toString()), "");

    auto sets = kernel_->listSets(fam, "nn-maps");
    ASSERT_TRUE(sets.ok()) << sets.error().message();
    ASSERT_EQ(sets->size(), 3u);
    for (const Set& k : *sets) {
      const Set* want = nullptr;
      for (size_t i = 3; i < 6; ++i)
        if (std::get<Set>(tx.operations()[i].object).name == k.name) want = &std::get<Set>(tx.operations()[i].object);
      ASSERT_NE(want, nullptr) << k.name;
      EXPECT_TRUE(k.sameShape(*want)) << k.name;
      EXPECT_EQ(k.comment, want->comment) << k.name;
    }
    auto elems = kernel_->listElements(fam, "nn-maps", "eps");
    ASSERT_TRUE(elems.ok()) << elems.error().message();
    ASSERT_EQ(elems->size(), 2u);
    std::sort(elems->begin(), elems->end(), [](auto& a, auto& b) { return a.key < b.key; });
    EXPECT_EQ((*elems)[1].dataConcat, (Key{ep2, Value::port(8080)}));
  }
}

TEST_F(NftKernelTest, MasqueradeRuleReallyMasquerades) {
  std::string pod = newNetns(), server = newNetns();
  ASSERT_FALSE(pod.empty() || server.empty());
  std::string sfx = ns_.substr(ns_.size() - 6);
  std::string vp = "nnp" + sfx, vs = "nns" + sfx;  // <= 15 chars
  int st = 0;
  std::string script = strCat(
      "set -e; ip netns exec ", ns_, " ip link add ", vp, " type veth peer name eth0 netns ", pod, ";",
      "ip netns exec ", ns_, " ip link add ", vs, " type veth peer name eth0 netns ", server, ";",
      "ip netns exec ", ns_, " ip addr add 10.85.0.1/24 dev ", vp, ";",
      "ip netns exec ", ns_, " ip addr add 192.168.77.1/24 dev ", vs, ";",
      "ip netns exec ", ns_, " ip link set ", vp, " up; ip netns exec ", ns_, " ip link set ", vs, " up;",
      "ip netns exec ", ns_, " sysctl -qw net.ipv4.ip_forward=1;",
      "ip netns exec ", pod, " ip addr add 10.85.0.5/24 dev eth0; ip netns exec ", pod, " ip link set eth0 up;",
      "ip netns exec ", pod, " ip route add default via 10.85.0.1;",
      "ip netns exec ", server, " ip addr add 192.168.77.2/24 dev eth0; ip netns exec ", server,
      " ip link set eth0 up");
  std::string out = runCommand("sh -c '" + script + "'", &st);
  ASSERT_EQ(st, 0) << out;
  std::string ping = "ip netns exec " + pod + " ping -c1 -W1 192.168.77.2";
  runCommand(ping, &st);
  EXPECT_NE(st, 0) << "reached the server without masquerading";
  Status cs = kernel_->commit(cniSetup());
  ASSERT_TRUE(cs.ok()) << cs.error().message();
  out = runCommand(ping, &st);
  EXPECT_EQ(st, 0) << out << inNs("nft list ruleset");
}

}  // namespace
}  // namespace nodenet::nft
