// Allocator over FakeStore: round robin, wrap, gateway skip, requested, exhausted, idempotent, multi-range.
// IP plan: 192.168.1.0/29 (start .1, end .6, gw .1), 10.0.0.0/30 + 10.0.1.0/30 set, 2001:db8::/126.
#include <gtest/gtest.h>

#include "cni/ipam/allocator.h"
#include "cni/ipam/fake_store.h"

namespace nodenet::cni::ipam {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

RangeSet set(std::initializer_list<const char*> subnets) {
  RangeSet s;
  for (const char* n : subnets) s.push_back(Range{*Cidr::parse(n), std::nullopt, std::nullopt, std::nullopt});
  EXPECT_TRUE(canonicalizeRangeSet(s).ok());
  return s;
}

std::string alloc(Allocator& a, const std::string& id) {
  auto r = a.get(id, "eth0", std::nullopt);
  return r.ok() ? r->address.toString() : "error: " + r.error().message();
}

TEST(IpamAllocator, FirstAllocationSkipsGateway) {
  RangeSet s = set({"192.168.1.0/29"});
  FakeStore store;
  Allocator a(s, store, 0);
  auto r = a.get("c1", "eth0", std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->address.toString(), "192.168.1.2/29");
  EXPECT_EQ(r->gateway.toString(), "192.168.1.1");
  EXPECT_TRUE(r->fresh);
}

TEST(IpamAllocator, RoundRobinFromLastReservedAndWrap) {
  RangeSet s = set({"192.168.1.0/29"});
  FakeStore store({}, {{"0", ip("192.168.1.5")}});
  Allocator a(s, store, 0);
  EXPECT_EQ(alloc(a, "c1"), "192.168.1.6/29");
  EXPECT_EQ(alloc(a, "c2"), "192.168.1.2/29");  // wrapped, .1 is the gateway
  EXPECT_EQ(alloc(a, "c3"), "192.168.1.3/29");
  // Releasing does not rewind: the next one continues after the last reserved.
  ASSERT_TRUE(a.release("c1", "eth0").ok());
  EXPECT_EQ(alloc(a, "c4"), "192.168.1.4/29");
}

TEST(IpamAllocator, LastReservedOutsideSetStartsAtBeginning) {
  RangeSet s = set({"192.168.1.0/29"});
  FakeStore store({}, {{"0", ip("10.0.0.1")}});
  Allocator a(s, store, 0);
  EXPECT_EQ(alloc(a, "c1"), "192.168.1.2/29");
}

TEST(IpamAllocator, SkipsReserved) {
  RangeSet s = set({"192.168.1.0/29"});
  FakeStore store({{ip("192.168.1.2"), "x", "eth0"}, {ip("192.168.1.4"), "y", "eth0"}}, {{"0", ip("192.168.1.1")}});
  Allocator a(s, store, 0);
  EXPECT_EQ(alloc(a, "c1"), "192.168.1.3/29");
  EXPECT_EQ(alloc(a, "c2"), "192.168.1.5/29");
}

TEST(IpamAllocator, MultipleRangesInSet) {
  RangeSet s = set({"10.0.0.0/30", "10.0.1.0/30"});
  FakeStore store;
  Allocator a(s, store, 0);
  // 10.0.0.1 is the gateway of range 0; 10.0.1.1 of range 1.
  EXPECT_EQ(alloc(a, "c1"), "10.0.0.2/30");
  auto r = a.get("c2", "eth0", std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->address.toString(), "10.0.1.2/30");
  EXPECT_EQ(r->gateway.toString(), "10.0.1.1");
  EXPECT_EQ(alloc(a, "c3"), "error: no IP addresses available in range set: 10.0.0.1-10.0.0.2,10.0.1.1-10.0.1.2");
}

TEST(IpamAllocator, ExhaustedMessage) {
  RangeSet s = set({"10.85.0.0/30"});
  FakeStore store;
  Allocator a(s, store, 0);
  EXPECT_EQ(alloc(a, "c1"), "10.85.0.2/30");
  EXPECT_EQ(alloc(a, "c2"), "error: no IP addresses available in range set: 10.85.0.1-10.85.0.2");
}

TEST(IpamAllocator, Ipv6) {
  RangeSet s = set({"2001:db8::/126"});
  FakeStore store;
  Allocator a(s, store, 0);
  EXPECT_EQ(alloc(a, "c1"), "2001:db8::2/126");
  EXPECT_EQ(alloc(a, "c2"), "2001:db8::3/126");
  EXPECT_EQ(alloc(a, "c3"), "error: no IP addresses available in range set: 2001:db8::1-2001:db8::3");
}

TEST(IpamAllocator, Requested) {
  RangeSet s = set({"192.168.1.0/29"});
  FakeStore store({{ip("192.168.1.4"), "other", "eth0"}}, {});
  Allocator a(s, store, 0);
  auto r = a.get("c1", "eth0", ip("192.168.1.5"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->address.toString(), "192.168.1.5/29");
  EXPECT_EQ(a.get("c2", "eth0", ip("192.168.1.4")).error().message(),
            "requested IP address 192.168.1.4 is not available in range set 192.168.1.1-192.168.1.6");
  EXPECT_EQ(a.get("c2", "eth0", ip("192.168.1.1")).error().message(), "requested ip 192.168.1.1 is subnet's gateway");
  EXPECT_EQ(a.get("c2", "eth0", ip("192.168.1.7")).error().message(),
            "192.168.1.7 not in range set 192.168.1.1-192.168.1.6");
  // Requesting what the same attachment already holds is idempotent.
  auto again = a.get("c1", "eth0", ip("192.168.1.5"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->fresh);
}

TEST(IpamAllocator, IdempotentForSameAttachment) {
  RangeSet s = set({"192.168.1.0/29"});
  FakeStore store;
  Allocator a(s, store, 0);
  EXPECT_EQ(alloc(a, "c1"), "192.168.1.2/29");
  auto again = a.get("c1", "eth0", std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->address.toString(), "192.168.1.2/29");
  EXPECT_FALSE(again->fresh);
  EXPECT_EQ(store.reservationsForTest().size(), 1u);
  // Another interface of the same container gets its own address.
  auto eth1 = a.get("c1", "eth1", std::nullopt);
  ASSERT_TRUE(eth1.ok());
  EXPECT_EQ(eth1->address.toString(), "192.168.1.3/29");
  // A legacy (id-only) reservation counts for any ifname, like the reference's GetByID.
  FakeStore legacy({{ip("192.168.1.6"), "old", ""}}, {});
  Allocator b(s, legacy, 0);
  auto l = b.get("old", "eth0", std::nullopt);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->address.toString(), "192.168.1.6/29");
}

TEST(IpamAllocator, ReleaseByIdAndIfname) {
  RangeSet s = set({"192.168.1.0/29"});
  FakeStore store({{ip("192.168.1.2"), "c1", "eth0"}, {ip("192.168.1.3"), "c1", "eth1"}, {ip("192.168.1.4"), "c1", ""}},
                  {});
  Allocator a(s, store, 0);
  ASSERT_TRUE(a.release("c1", "eth0").ok());
  EXPECT_EQ(store.reservationsForTest().size(), 2u);  // the legacy one stays: an exact match was found
  ASSERT_TRUE(a.release("c1", "eth9").ok());          // no exact match: legacy id-only ones go
  EXPECT_EQ(store.reservationsForTest().size(), 1u);
  EXPECT_TRUE(store.reservationsForTest().count(ip("192.168.1.3")));
}

TEST(IpamRangeIter, FullLapVisitsEveryAddressOnce) {
  RangeSet s = set({"10.0.0.0/29", "10.0.1.0/30"});
  RangeIter it(s, ip("10.0.0.4"));
  std::vector<std::string> seen;
  while (auto c = it.next()) seen.push_back(c->first.toString());
  EXPECT_EQ(seen, (std::vector<std::string>{"10.0.0.5", "10.0.0.6", "10.0.1.2", "10.0.0.2", "10.0.0.3",
                                            "10.0.0.4"}));
}

}  // namespace
}  // namespace nodenet::cni::ipam
