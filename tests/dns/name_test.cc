// Names: text and wire forms, RFC 4343 case rules, pointers (valid, looping, forward, self, past the end),
// the 63/255-octet limits, and the compressor.
#include "dns/wire/name.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

#include "tests/dns/test_util.h"

namespace nodenet::dns {
namespace {

using testing::hexBytes;
using testing::name;

// Wire bytes of a name made of labels with these lengths (filled with 'a').
std::vector<uint8_t> wireOfLabels(std::initializer_list<size_t> lens) {
  std::vector<uint8_t> w;
  for (size_t len : lens) {
    w.push_back(static_cast<uint8_t>(len));
    w.insert(w.end(), len, 'a');
  }
  w.push_back(0);
  return w;
}

std::string textOfLabels(std::initializer_list<size_t> lens) {
  std::string s;
  for (size_t len : lens) s += std::string(len, 'a') + ".";
  return s;
}

// A message whose first 12 bytes are a zero header followed by `body`.
std::vector<uint8_t> message(const std::vector<uint8_t>& body) {
  std::vector<uint8_t> m(12 + body.size(), 0);
  std::copy(body.begin(), body.end(), m.begin() + 12);
  return m;
}

TEST(Name, TextRoundTrip) {
  EXPECT_EQ(name("my-svc.my-ns.svc.cluster.local").toText(), "my-svc.my-ns.svc.cluster.local.");
  EXPECT_EQ(name("my-svc.my-ns.svc.cluster.local.").toText(), "my-svc.my-ns.svc.cluster.local.");
  EXPECT_EQ(name(".").toText(), ".");
  EXPECT_TRUE(name(".").isRoot());
  EXPECT_EQ(name("a\\.b.c").labelCount(), 2u);
  EXPECT_EQ(name("a\\.b.c").toText(), "a\\.b.c.");
  EXPECT_EQ(name("a\\032b.c").toText(), "a\\032b.c.");
  EXPECT_EQ(name("a\\032b.c").wireSize(), 1 + 3 + 1 + 1 + 1u);
}

TEST(Name, TextRejectsBadInput) {
  EXPECT_FALSE(Name::fromText("").ok());
  EXPECT_FALSE(Name::fromText("a..b").ok());
  EXPECT_FALSE(Name::fromText(".a").ok());
  EXPECT_FALSE(Name::fromText("a\\").ok());
  EXPECT_FALSE(Name::fromText("a\\25").ok());
  EXPECT_FALSE(Name::fromText("a\\256").ok());
}

TEST(Name, LabelOf63OctetsIsTheLimit) {
  EXPECT_TRUE(Name::fromText(std::string(63, 'x') + ".local").ok());
  auto bad = Name::fromText(std::string(64, 'x') + ".local");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("63"), std::string::npos);
  // On the wire a length octet of 64 (0x40) is an extended label type: refused too.
  auto w = message(wireOfLabels({63}));
  WireReader ok(w);
  ok.skip(12);
  EXPECT_EQ(readName(ok).wireSize(), 65u);
  EXPECT_TRUE(ok.ok());
  auto w64 = message(wireOfLabels({64}));
  WireReader r(w64);
  r.skip(12);
  readName(r);
  EXPECT_FALSE(r.ok());
}

TEST(Name, NameOf255OctetsIsTheLimit) {
  // 3 x (1+63) + (1+61) + root = 255 octets.
  auto n = Name::fromText(textOfLabels({63, 63, 63, 61}));
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(n->wireSize(), 255u);
  EXPECT_FALSE(Name::fromText(textOfLabels({63, 63, 63, 62})).ok());

  auto w = message(wireOfLabels({63, 63, 63, 61}));
  WireReader r(w);
  r.skip(12);
  EXPECT_EQ(readName(r).wireSize(), 255u);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);

  auto w256 = message(wireOfLabels({63, 63, 63, 62}));
  WireReader r2(w256);
  r2.skip(12);
  readName(r2);
  EXPECT_FALSE(r2.ok());
  EXPECT_STREQ(r2.error(), "name longer than 255 octets");
}

TEST(Name, PointersThatExpandPast255AreRefused) {
  // 12: 63+63+63 labels then root; 205: label of 62 + pointer to 12 -> 256 octets uncompressed.
  auto body = wireOfLabels({63, 63, 63});
  const size_t at = 12 + body.size();
  body.push_back(62);
  body.insert(body.end(), 62, 'b');
  body.push_back(0xC0);
  body.push_back(12);
  auto m = message(body);
  WireReader r(m);
  r.skip(at);
  readName(r);
  EXPECT_FALSE(r.ok());
  // 61 instead of 62 fits exactly.
  body = wireOfLabels({63, 63, 63});
  body.push_back(61);
  body.insert(body.end(), 61, 'b');
  body.push_back(0xC0);
  body.push_back(12);
  m = message(body);
  WireReader r2(m);
  r2.skip(at);
  EXPECT_EQ(readName(r2).wireSize(), 255u);
  EXPECT_TRUE(r2.ok());
}

TEST(Name, CaseInsensitiveCompareAndHashKeepOriginalCase) {
  Name a = name("Kubernetes.Default.SVC.cluster.local");
  Name b = name("kubernetes.default.svc.CLUSTER.LOCAL");
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.exactlyEquals(b));
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_EQ(a.toText(), "Kubernetes.Default.SVC.cluster.local.");
  EXPECT_EQ(a.canonical().toText(), "kubernetes.default.svc.cluster.local.");
  EXPECT_TRUE(a.canonical().exactlyEquals(b.canonical()));
  std::unordered_set<Name> set{a};
  EXPECT_TRUE(set.count(b));
  EXPECT_NE(name("a.b"), name("a.c"));
  // Only ASCII letters fold: 0xC9 and 0xE9 stay different.
  EXPECT_NE(name("\\201"), name("\\233"));
}

TEST(Name, SubdomainAndStrip) {
  Name svc = name("my-svc.ns.svc.cluster.local");
  EXPECT_TRUE(svc.isSubdomainOf(name("Cluster.Local")));
  EXPECT_TRUE(svc.isSubdomainOf(svc));
  EXPECT_TRUE(svc.isSubdomainOf(Name::root()));
  EXPECT_FALSE(svc.isSubdomainOf(name("ster.local")));
  EXPECT_FALSE(name("cluster.local").isSubdomainOf(svc));
  EXPECT_EQ(svc.stripLeft(1), name("ns.svc.cluster.local"));
  EXPECT_TRUE(svc.stripLeft(9).isRoot());
  EXPECT_EQ(svc.firstLabel(), "my-svc");
  EXPECT_EQ(svc.labelCount(), 5u);
}

TEST(Name, FollowsABackwardPointerAndResumesAfterIt) {
  // 12: example.com   25: www -> 12   31: mail -> 25 (a chain)
  auto m = message(hexBytes("076578616d706c6503636f6d00  03777777c00c  046d61696cc019  ff"));
  WireReader r(m);
  r.skip(12);
  EXPECT_EQ(readName(r), name("example.com"));
  EXPECT_EQ(r.offset(), 25u);
  EXPECT_EQ(readName(r), name("www.example.com"));
  EXPECT_EQ(r.offset(), 31u);
  EXPECT_EQ(readName(r), name("mail.www.example.com"));
  EXPECT_EQ(r.offset(), 38u);
  EXPECT_EQ(r.readU8(), 0xff);
  EXPECT_TRUE(r.ok());
}

// Reads a name at `at` and expects the reader to be poisoned.
void expectBadName(const std::vector<uint8_t>& m, size_t at) {
  WireReader r(m);
  r.skip(at);
  Name n = readName(r);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(n.isRoot());
  EXPECT_EQ(r.readU16(), 0);
}

TEST(Name, PointerLoopsAreRefused) {
  // 12: -> 14, 14: -> 12
  expectBadName(message(hexBytes("c00e c00c")), 14);
  expectBadName(message(hexBytes("c00e c00c")), 12);
  // A loop through a label: 12: "a" -> 12
  expectBadName(message(hexBytes("0161 c00c")), 12);
  // A longer cycle: 12: a -> 18, 16: ..., 18: b -> 12, read from 22 -> 18
  expectBadName(message(hexBytes("0161c012 0000 0162c00c c012")), 22);
}

TEST(Name, SelfForwardHeaderAndPastTheEndPointersAreRefused) {
  expectBadName(message(hexBytes("c00c")), 12);                 // pointer to itself
  expectBadName(message(hexBytes("c00e 0161 00")), 12);         // forward pointer
  expectBadName(message(hexBytes("0161 00 c0ff")), 15);         // past the end (and forward)
  expectBadName(message(hexBytes("0161 00 ffff")), 15);         // offset 0x3fff
  expectBadName(message(hexBytes("0161 00 c002")), 15);         // into the header
  expectBadName(message(hexBytes("0161 00 c0")), 15);           // pointer cut off
  expectBadName(message(hexBytes("0361")), 12);                 // label past the end
  expectBadName(message(hexBytes("0161")), 12);                 // no root label
  expectBadName(message(hexBytes("4161 00")), 12);              // extended label type 01
  expectBadName(message(hexBytes("8161 00")), 12);              // label type 10
  expectBadName(message({}), 12);                               // nothing at all
}

TEST(Name, FromWireRequiresExactlyOneName) {
  EXPECT_EQ(Name::fromWire(hexBytes("0161 0162 00")).value(), name("a.b"));
  EXPECT_FALSE(Name::fromWire(hexBytes("0161 00 00")).ok());
  EXPECT_FALSE(Name::fromWire(hexBytes("c000")).ok());
}

TEST(NameCompressor, PointsToEarlierSuffixesCaseInsensitively) {
  uint8_t buf[512] = {};
  WireWriter w(buf, sizeof buf);
  for (int i = 0; i < 12; ++i) w.writeU8(0);
  NameCompressor c;
  c.writeUncompressed(w, name("My-Svc.ns.svc.cluster.local"));
  const size_t second = w.size();
  c.write(w, name("my-svc.NS.svc.cluster.local"));  // same name, other case: a bare pointer
  EXPECT_EQ(w.size() - second, 2u);
  EXPECT_EQ(buf[second], 0xC0);
  EXPECT_EQ(buf[second + 1], 12);
  const size_t third = w.size();
  c.write(w, name("other.ns.svc.cluster.local"));  // "other" + pointer to "ns.svc..." at 12+7
  EXPECT_EQ(w.size() - third, 1 + 5 + 2u);
  EXPECT_EQ(buf[third + 6], 0xC0);
  EXPECT_EQ(buf[third + 7], 12 + 7);
  const size_t fourth = w.size();
  c.write(w, name("x.other.ns.svc.cluster.local"));  // "x" + pointer to "other..." at `third`
  EXPECT_EQ(w.size() - fourth, 4u);
  EXPECT_EQ(buf[fourth + 3], third);
  const size_t fifth = w.size();
  c.write(w, name("example.com"));  // nothing in common
  EXPECT_EQ(w.size() - fifth, name("example.com").wireSize());
  c.write(w, Name::root());

  // Everything written reads back.
  WireReader r(buf, w.size());
  r.skip(12);
  EXPECT_EQ(readName(r), name("my-svc.ns.svc.cluster.local"));
  EXPECT_EQ(readName(r), name("my-svc.ns.svc.cluster.local"));
  EXPECT_EQ(readName(r), name("other.ns.svc.cluster.local"));
  EXPECT_EQ(readName(r), name("x.other.ns.svc.cluster.local"));
  EXPECT_EQ(readName(r), name("example.com"));
  EXPECT_TRUE(readName(r).isRoot());
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(NameCompressor, ForgetFromDropsSuffixesOfRewoundBytes) {
  uint8_t buf[512] = {};
  WireWriter w(buf, sizeof buf);
  for (int i = 0; i < 12; ++i) w.writeU8(0);
  NameCompressor c;
  c.write(w, name("a.example"));
  const size_t mark = w.mark();
  c.write(w, name("b.other"));
  const size_t before = c.entriesForTest();
  w.rewind(mark);
  c.forgetFrom(mark);
  EXPECT_LT(c.entriesForTest(), before);
  // "b.other" must be written in full again, not as a pointer into the dropped bytes.
  c.write(w, name("b.other"));
  EXPECT_EQ(w.size() - mark, name("b.other").wireSize());
}

TEST(NameCompressor, NoPointersBeyondOffset0x3fff) {
  std::vector<uint8_t> buf(0x5000);
  WireWriter w(buf.data(), buf.size());
  for (int i = 0; i < 0x4000; ++i) w.writeU8(0);
  NameCompressor c;
  c.write(w, name("far.example"));
  const size_t second = w.size();
  c.write(w, name("far.example"));
  EXPECT_EQ(w.size() - second, name("far.example").wireSize());
  EXPECT_EQ(c.entriesForTest(), 0u);
}

TEST(NameCompressor, NoRoomLeavesNoEntries) {
  uint8_t buf[16] = {};
  WireWriter w(buf, sizeof buf);
  for (int i = 0; i < 12; ++i) w.writeU8(0);
  NameCompressor c;
  c.write(w, name("too-long.example"));
  EXPECT_TRUE(w.noRoom());
  EXPECT_EQ(c.entriesForTest(), 0u);
}

}  // namespace
}  // namespace nodenet::dns
