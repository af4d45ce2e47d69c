// Root-only: kube-proxy-shaped rulesets (pkg/proxy/nftables layout) committed through netlink; every rule must
// list exactly as ruleBodyToString() renders it, and the listing must pass `nft -c -f`.
//
// IP plan: services 172.30.0.0/16 (172.30.0.41:80/tcp, fd00:30::41:80/tcp); endpoints 10.180.0.1, 10.180.0.2,
// fd00:180::1; node port 30080/tcp.
#include <gtest/gtest.h>

#include <sstream>

#include "netlink/nft/netlink_kernel.h"
#include "tests/nft/netns_fixture.h"

namespace nodenet::nft {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Value ipv(const char* s) { return Value::ip(ip(s)); }
Value pfx(const char* s) { return Value::prefix(*Cidr::parse(s)); }

/// Rules per chain as `nft list table` prints them, counters normalised to "counter".
std::map<std::string, std::vector<std::string>> listedRules(const std::string& listing) {
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream in(listing);
  std::string line, chain;
  while (std::getline(in, line)) {
    auto start = line.find_first_not_of("\t ");
    if (start == std::string::npos) continue;
    line = line.substr(start);
    if (line.rfind("chain ", 0) == 0) {
      chain = line.substr(6, line.find(' ', 6) - 6);
      continue;
    }
    if (line == "}") {
      chain.clear();
      continue;
    }
    if (chain.empty() || line.rfind("type ", 0) == 0 || line.rfind("comment ", 0) == 0) continue;
    for (size_t p = 0; (p = line.find("counter packets ", p)) != std::string::npos;) {
      size_t e = line.find(" bytes ", p) + 7;
      while (e < line.size() && isdigit(static_cast<unsigned char>(line[e]))) ++e;
      line.replace(p, e - p, "counter");
      p += 7;
    }
    out[chain].push_back(line);
  }
  return out;
}

Transaction proxyRuleset(Family family) {
  bool v6 = family == Family::Ip6;
  DataType addrType = v6 ? DataType::Ipv6Addr : DataType::Ipv4Addr;
  Field saddr = v6 ? Field::Ip6Saddr : Field::IpSaddr;
  Field daddr = v6 ? Field::Ip6Daddr : Field::IpDaddr;
  Transaction tx(family, "nodenet");
  tx.add(Table{family, "nodenet", "nodenet proxy rules"});
  tx.add(Chain{.name = "nat-prerouting", .base = BaseChain{ChainType::Nat, Hook::Prerouting, priority::kDstNat}});
  tx.add(Chain{.name = "nat-output", .base = BaseChain{ChainType::Nat, Hook::Output, priority::kDstNat}});
  tx.add(Chain{.name = "nat-postrouting", .base = BaseChain{ChainType::Nat, Hook::Postrouting, priority::kSrcNat}});
  tx.add(Chain{.name = "filter-forward",
               .base = BaseChain{ChainType::Filter, Hook::Forward, priority::kFilter - 5, Policy::Accept}});
  for (const char* c : {"services", "masquerading", "mark-for-masquerade", "service-X-ns1/svc1/tcp/p80",
                        "endpoint-A-ns1/svc1/tcp/p80__a", "endpoint-B-ns1/svc1/tcp/p80__b", "reject-chain",
                        "firewall-check"})
    tx.add(Chain{.name = c, .comment = std::string(c) == "services" ? std::optional<std::string>("dispatch") : std::nullopt});
  tx.add(Map{.name = "service-ips", .key = {addrType, DataType::InetProto, DataType::InetService},
             .data = DataType::Verdict, .comment = "ClusterIP, ExternalIP and LoadBalancer IP traffic"});
  tx.add(Map{.name = "service-nodeports", .key = {DataType::InetProto, DataType::InetService}, .data = DataType::Verdict});
  tx.add(Set{.name = "cluster-ips", .key = {addrType}});
  tx.add(Set{.name = "affinity-X", .key = {addrType}, .flags = kSetDynamic | kSetTimeout, .timeoutSec = 10800});
  tx.add(Map{.name = "mark-map", .key = {DataType::Mark}, .data = DataType::Mark});

  tx.add(Rule{.chain = "nat-prerouting", .statements = {Verdict::jump("services")}});
  tx.add(Rule{.chain = "nat-output", .statements = {Verdict::jump("services")}});
  tx.add(Rule{.chain = "nat-postrouting", .statements = {Verdict::jump("masquerading")}});
  tx.add(Rule{.chain = "services", .statements = {vmap({daddr, Field::MetaL4proto, Field::ThDport}, "service-ips")}});
  tx.add(Rule{.chain = "services",
              .statements = {match(Field::FibDaddrType, Value::fibType(FibAddrType::Local)),
                             vmap({Field::MetaL4proto, Field::ThDport}, "service-nodeports")}});
  tx.add(Rule{.chain = "services",
              .statements = {match(Field::FibSaddrType, Value::fibType(FibAddrType::Local)),
                             Verdict::jump("mark-for-masquerade")}});
  tx.add(Rule{.chain = "masquerading",
              .statements = {Match{Field::MetaMark, CmpOp::Eq, Value::mark(0), 0x4000}, Verdict::ret()}});
  tx.add(Rule{.chain = "masquerading", .statements = {MarkSet{.xorBits = 0x4000}}});
  tx.add(Rule{.chain = "masquerading", .statements = {Masquerade{.fullyRandom = true}}});
  tx.add(Rule{.chain = "mark-for-masquerade", .statements = {MarkSet{0x4000}}});
  tx.add(Rule{.chain = "service-X-ns1/svc1/tcp/p80",
              .statements = {notLookup({saddr}, "cluster-ips"), Verdict::jump("mark-for-masquerade")}});
  tx.add(Rule{.chain = "service-X-ns1/svc1/tcp/p80",
              .statements = {lookup({saddr}, "affinity-X"), Verdict::goTo("endpoint-A-ns1/svc1/tcp/p80__a")}});
  tx.add(Rule{.chain = "service-X-ns1/svc1/tcp/p80",
              .statements = {NumgenVmap{{Verdict::goTo("endpoint-A-ns1/svc1/tcp/p80__a"),
                                         Verdict::goTo("endpoint-B-ns1/svc1/tcp/p80__b")}}}});
  const char* ep = v6 ? "fd00:180::1" : "10.180.0.1";
  tx.add(Rule{.chain = "endpoint-A-ns1/svc1/tcp/p80__a",
              .statements = {match(saddr, ipv(ep)), Verdict::jump("mark-for-masquerade")}});
  tx.add(Rule{.chain = "endpoint-A-ns1/svc1/tcp/p80__a",
              .statements = {SetUpdate{{saddr}, "affinity-X", std::nullopt}}});
  tx.add(Rule{.chain = "endpoint-A-ns1/svc1/tcp/p80__a",
              .statements = {match(Field::MetaL4proto, Value::proto(L4Proto::TCP)), Nat{NatKind::Dnat, ip(ep), 80}},
              .comment = "ns1/svc1:p80"});
  tx.add(Rule{.chain = "endpoint-B-ns1/svc1/tcp/p80__b",
              .statements = {match(Field::MetaL4proto, Value::proto(L4Proto::TCP)),
                             Nat{NatKind::Dnat, ip(v6 ? "fd00:180::2" : "10.180.0.2"), 80}}});
  tx.add(Rule{.chain = "filter-forward",
              .statements = {match(Field::CtState, Value::ctState(ct::kInvalid)), Verdict::drop()}});
  tx.add(Rule{.chain = "filter-forward",
              .statements = {match(Field::CtState, Value::ctState(ct::kNew)), Counter{}, Verdict::jump("firewall-check")}});
  tx.add(Rule{.chain = "firewall-check",
              .statements = {match(v6 ? Field::CtOriginalIp6Daddr : Field::CtOriginalIpDaddr,
                                   ipv(v6 ? "fd00:30::41" : "172.30.0.41")),
                             match(Field::MetaL4proto, Value::proto(L4Proto::TCP)),
                             match(Field::CtOriginalProtoDst, Value::port(80)), Verdict::accept()}});
  tx.add(Rule{.chain = "firewall-check", .statements = {notMatch(daddr, pfx(v6 ? "fd00:30::/64" : "172.30.0.0/16")),
                                                        notMatch(daddr, pfx(v6 ? "ff00::/8" : "224.0.0.0/4")),
                                                        Verdict::ret()}});
  tx.add(Rule{.chain = "firewall-check", .statements = {match(Field::TcpDport, Value::port(8080)), Verdict::drop()}});
  tx.add(Rule{.chain = "firewall-check",
              .statements = {match(Field::MetaIifname, Value::ifname("eth0")), Counter{}, Verdict::accept()}});
  tx.add(Rule{.chain = "reject-chain", .statements = {Reject{}}});
  tx.add(Rule{.chain = "reject-chain", .statements = {Reject{RejectKind::HostUnreachable}}});
  tx.add(Rule{.chain = "reject-chain", .statements = {Reject{RejectKind::TcpReset}}});

  const char* svc = v6 ? "fd00:30::41" : "172.30.0.41";
  tx.add(Element{.set = "service-ips", .key = {ipv(svc), Value::proto(L4Proto::TCP), Value::port(80)},
                 .verdict = Verdict::goTo("service-X-ns1/svc1/tcp/p80"), .comment = "ns1/svc1:p80"});
  tx.add(Element{.set = "service-nodeports", .key = {Value::proto(L4Proto::TCP), Value::port(30080)},
                 .verdict = Verdict::goTo("service-X-ns1/svc1/tcp/p80")});
  tx.add(Element{.set = "cluster-ips", .key = {ipv(svc)}});
  tx.add(Element{.set = "affinity-X", .key = {ipv(ep)}, .timeoutSec = 60});
  tx.add(Element{.set = "mark-map", .key = {Value::mark(1)}, .value = Value::mark(0x4000)});
  return tx;
}

class NftProxyTest : public testing::NetnsTest {
 protected:
  void checkFamily(Family family) {
    auto k = NetlinkKernel::create(nsPath());
    ASSERT_TRUE(k.ok()) << k.error().message();
    Transaction tx = proxyRuleset(family);
    ASSERT_TRUE(tx.ok()) << tx.status().error().message();
    Status st = (*k)->commit(tx);
    ASSERT_TRUE(st.ok()) << st.error().message();

    std::string listing = inNs(strCat("nft list table ", familyName(family), " nodenet"));
    auto listed = listedRules(listing);
    std::map<std::string, std::vector<std::string>> want;
    for (const Operation& op : tx.operations())
      if (const Rule* r = std::get_if<Rule>(&op.object)) want[r->chain].push_back(ruleBodyToString(*r, family));
    for (auto& [chain, rules] : want) {
      SCOPED_TRACE(chain);
      EXPECT_EQ(listed[chain], rules) << listing;
    }
    for (const Operation& op : tx.operations())
      if (const Element* e = std::get_if<Element>(&op.object)) {
        std::string text = elementToString(*e);
        if (e->timeoutSec) text = text.substr(0, text.find(" timeout"));  // nft adds "expires ..."
        EXPECT_NE(listing.find(text), std::string::npos) << text << "\n" << listing;
      }
    EXPECT_NE(listing.find("priority filter - 5; policy accept;"), std::string::npos) << listing;
    for (const Operation& op : tx.operations()) {
      if (const Chain* c = std::get_if<Chain>(&op.object); c && c->base) {
        EXPECT_NE(listing.find(baseChainToString(*c->base)), std::string::npos) << c->name << "\n" << listing;
      }
    }
    EXPECT_NE(listing.find("type ipv4_addr . inet_proto . inet_service : verdict") == std::string::npos &&
                  listing.find("type ipv6_addr . inet_proto . inet_service : verdict") == std::string::npos,
              true)
        << listing;
    EXPECT_EQ(nftCheck(listing), "");

    // Listing decodes concatenated keys, verdicts and data.
    auto elems = (*k)->listElements(family, "nodenet", "service-ips");
    ASSERT_TRUE(elems.ok()) << elems.error().message();
    ASSERT_EQ(elems->size(), 1u);
    EXPECT_EQ(keyToString((*elems)[0].key), strCat(family == Family::Ip6 ? "fd00:30::41" : "172.30.0.41", " . tcp . 80"));
    EXPECT_EQ((*elems)[0].verdict, Verdict::goTo("service-X-ns1/svc1/tcp/p80"));
    EXPECT_EQ((*elems)[0].comment, "ns1/svc1:p80");
    auto marks = (*k)->listElements(family, "nodenet", "mark-map");
    ASSERT_TRUE(marks.ok()) << marks.error().message();
    ASSERT_EQ(marks->size(), 1u);
    EXPECT_EQ((*marks)[0].value, Value::mark(0x4000));
    auto sets = (*k)->listSets(family, "nodenet");
    ASSERT_TRUE(sets.ok()) << sets.error().message();
    EXPECT_EQ(sets->size(), 5u);  // anonymous numgen maps are not listed

    // Replace and delete rules by handle; flush and delete a chain that nothing references.
    auto rules = (*k)->listRules(family, "nodenet", "reject-chain");
    ASSERT_TRUE(rules.ok()) << rules.error().message();
    ASSERT_EQ(rules->size(), 3u);
    Transaction tx2(family, "nodenet");
    Rule r0 = (*rules)[0];
    r0.statements = {Counter{}, Verdict::drop()};
    tx2.replace(r0);
    tx2.remove((*rules)[1]);
    tx2.flush(Chain{.name = "firewall-check"});
    tx2.remove(Element{.set = "service-ips", .key = {ipv(svc(family)), Value::proto(L4Proto::TCP), Value::port(80)}});
    st = (*k)->commit(tx2);
    ASSERT_TRUE(st.ok()) << st.error().message();
    listed = listedRules(inNs(strCat("nft list table ", familyName(family), " nodenet")));
    EXPECT_EQ(listed["reject-chain"], (std::vector<std::string>{"counter drop", "reject with tcp reset"}));
    EXPECT_TRUE(listed["firewall-check"].empty());
  }
  static const char* svc(Family f) { return f == Family::Ip6 ? "fd00:30::41" : "172.30.0.41"; }
};

TEST_F(NftProxyTest, IpFamilyListsAsRendered) { checkFamily(Family::Ip); }
TEST_F(NftProxyTest, Ip6FamilyListsAsRendered) { checkFamily(Family::Ip6); }

TEST_F(NftProxyTest, InetFamilyDependenciesAreHidden) {
  auto k = NetlinkKernel::create(nsPath());
  ASSERT_TRUE(k.ok());
  Transaction tx(Family::Inet, "nodenet");
  tx.add(Table{Family::Inet, "nodenet"});
  tx.add(Chain{.name = "c"});
  tx.add(Set{.name = "v4", .key = {DataType::Ipv4Addr}});
  tx.add(Set{.name = "v6", .key = {DataType::Ipv6Addr}});
  tx.add(Rule{.chain = "c", .statements = {lookup({Field::IpSaddr}, "v4"), match(Field::IpDaddr, ipv("10.0.0.1")),
                                           match(Field::TcpDport, Value::port(80)), Verdict::accept()}});
  tx.add(Rule{.chain = "c", .statements = {lookup({Field::Ip6Saddr}, "v6"), Reject{}}});
  tx.add(Rule{.chain = "c", .statements = {match(Field::UdpDport, Value::port(53)), Reject{RejectKind::AdminProhibited}}});
  Status st = (*k)->commit(tx);
  ASSERT_TRUE(st.ok()) << st.error().message();
  std::string listing = inNs("nft list table inet nodenet");
  std::vector<std::string> want;
  for (const Operation& op : tx.operations())
    if (const Rule* r = std::get_if<Rule>(&op.object)) want.push_back(ruleBodyToString(*r, Family::Inet));
  EXPECT_EQ(listedRules(listing)["c"], want) << listing;
}

}  // namespace
}  // namespace nodenet::nft
