// parseQuery(): real queries as sent by dig 9.18 (captured once with a UDP listener on 127.0.0.1, committed
// as byte literals), the drop/FORMERR/NOTIMP/BADVERS verdicts, and EDNS handling.
#include "dns/wire/query.h"

#include <gtest/gtest.h>

#include "tests/dns/test_util.h"

namespace nodenet::dns {
namespace {

using testing::hexBytes;
using testing::name;

// dig kubernetes.default.svc.cluster.local A  (RD, AD, EDNS 1232 with a COOKIE option)
const char* kDigA =
    "36ba01200001000000000001"
    "0a6b756265726e657465730764656661756c740373766307636c7573746572056c6f63616c00 0001 0001"
    "00 0029 04d0 00000000 000c 000a0008c10612653cf07bb9";
// dig Example.COM AAAA +dnssec  (DO bit; mixed case kept)
const char* kDigAaaaDnssec =
    "530701200001000000000001"
    "074578616d706c6503434f4d00 001c 0001"
    "00 0029 04d0 00008000 000c 000a0008a5ac3e3ad1ed6650";
// dig _http._tcp.my-svc.ns.svc.cluster.local SRV +noedns
const char* kDigSrvNoEdns =
    "c7db01200001000000000000"
    "055f68747470045f746370066d792d737663026e730373766307636c7573746572056c6f63616c00 0021 0001";
// dig 10.0.96.10.in-addr.arpa PTR +bufsize=4096 +nocookie
const char* kDigPtrBufsize =
    "83b201200001000000000001"
    "023130013002393602313007696e2d61646472046172706100 000c 0001"
    "00 0029 1000 00000000 0000";

Query parse(const std::vector<uint8_t>& bytes) {
  auto q = parseQuery(bytes);
  EXPECT_TRUE(q.ok()) << q.error().message();
  return q.ok() ? *q : Query{};
}

TEST(ParseQuery, DigAWithCookie) {
  Query q = parse(hexBytes(kDigA));
  EXPECT_EQ(q.verdict, QueryVerdict::Answer);
  EXPECT_EQ(q.id, 0x36ba);
  EXPECT_TRUE(q.rd);
  EXPECT_TRUE(q.ad);
  EXPECT_FALSE(q.cd);
  ASSERT_TRUE(q.hasQuestion);
  EXPECT_EQ(q.question.name, name("kubernetes.default.svc.cluster.local"));
  EXPECT_EQ(q.question.type, RRType::A);
  EXPECT_EQ(q.question.cls, RRClass::IN);
  ASSERT_TRUE(q.hasEdns);
  EXPECT_EQ(q.edns.udpPayload, 1232);
  EXPECT_FALSE(q.edns.dnssecOk);
  EXPECT_EQ(q.udpLimit(), 1232);
}

TEST(ParseQuery, DigDnssecKeepsCaseAndDoBit) {
  Query q = parse(hexBytes(kDigAaaaDnssec));
  EXPECT_EQ(q.verdict, QueryVerdict::Answer);
  EXPECT_EQ(q.question.type, RRType::AAAA);
  EXPECT_EQ(q.question.name.toText(), "Example.COM.");
  EXPECT_EQ(q.question.name.canonical().toText(), "example.com.");
  EXPECT_TRUE(q.edns.dnssecOk);
}

TEST(ParseQuery, DigWithoutEdnsLimitsTo512) {
  Query q = parse(hexBytes(kDigSrvNoEdns));
  EXPECT_EQ(q.verdict, QueryVerdict::Answer);
  EXPECT_EQ(q.question.type, RRType::SRV);
  EXPECT_FALSE(q.hasEdns);
  EXPECT_EQ(q.udpLimit(), 512);
}

TEST(ParseQuery, DigBufsize4096) {
  Query q = parse(hexBytes(kDigPtrBufsize));
  EXPECT_EQ(q.question.type, RRType::PTR);
  EXPECT_EQ(q.udpLimit(), 4096);
}

TEST(ParseQuery, ShortHeaderIsDropped) {
  auto q = parseQuery(hexBytes("36ba 0120 0001 0000 0000 00"));
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.error().message().find("12-byte header"), std::string::npos);
  EXPECT_FALSE(parseQuery({}).ok());
}

TEST(ParseQuery, ResponsesAreDropped) {
  auto bytes = hexBytes(kDigA);
  bytes[2] |= 0x80;
  auto q = parseQuery(bytes);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.error().message().find("QR"), std::string::npos);
}

TEST(ParseQuery, OtherOpcodesAreNotImplementedButEchoTheQuestion) {
  auto bytes = hexBytes(kDigSrvNoEdns);
  bytes[2] = static_cast<uint8_t>((bytes[2] & 0x87) | 4 << 3);  // NOTIFY
  Query q = parse(bytes);
  EXPECT_EQ(q.verdict, QueryVerdict::NotImp);
  EXPECT_EQ(q.opcode, Opcode::Notify);
  EXPECT_TRUE(q.hasQuestion);
  EXPECT_FALSE(q.hasEdns);
  // With EDNS the OPT is still found, so the NOTIMP can carry one (RFC 6891 §7).
  auto withEdns = hexBytes(kDigA);
  withEdns[2] = static_cast<uint8_t>((withEdns[2] & 0x87) | 4 << 3);
  Query e = parse(withEdns);
  EXPECT_EQ(e.verdict, QueryVerdict::NotImp);
  EXPECT_TRUE(e.hasEdns);
  EXPECT_EQ(e.edns.udpPayload, 1232);
  bytes[2] = static_cast<uint8_t>((bytes[2] & 0x87) | 5 << 3);  // UPDATE with junk after the header
  bytes.resize(14);
  q = parse(bytes);
  EXPECT_EQ(q.verdict, QueryVerdict::NotImp);
  EXPECT_FALSE(q.hasQuestion);
}

TEST(ParseQuery, QdcountMustBeOne) {
  Query zero = parse(hexBytes("0001 0100 0000 0000 0000 0000"));
  EXPECT_EQ(zero.verdict, QueryVerdict::FormErr);
  EXPECT_FALSE(zero.hasQuestion);
  EXPECT_EQ(zero.id, 1);
  EXPECT_TRUE(zero.rd);
  Query two = parse(hexBytes("0002 0000 0002 0000 0000 0000 0161 00 0001 0001 0162 00 0001 0001"));
  EXPECT_EQ(two.verdict, QueryVerdict::FormErr);
}

TEST(ParseQuery, MalformedAfterTheHeaderIsFormErr) {
  struct Case {
    const char* what;
    const char* hex;
  } cases[] = {
      {"question cut off", "0003 0100 0001 0000 0000 0000 0161 00 0001"},
      {"name runs off", "0003 0100 0001 0000 0000 0000 0561"},
      {"pointer loop in qname", "0003 0100 0001 0000 0000 0000 c00c 0001 0001"},
      {"answer in a query", "0003 0100 0001 0001 0000 0000 0161 00 0001 0001 c00c 0001 0001 00000000 0004 01020304"},
      {"authority in a query", "0003 0100 0001 0000 0001 0000 0161 00 0001 0001 c00c 0001 0001 00000000 0004 01020304"},
      {"trailing bytes", "0003 0100 0001 0000 0000 0000 0161 00 0001 0001 ff"},
      {"ARCOUNT without records", "0003 0100 0001 0000 0000 0001 0161 00 0001 0001"},
      {"QTYPE OPT", "0003 0100 0001 0000 0000 0000 0161 00 0029 0001"},
  };
  for (const auto& c : cases) {
    auto q = parseQuery(hexBytes(c.hex));
    ASSERT_TRUE(q.ok()) << c.what;
    EXPECT_EQ(q->verdict, QueryVerdict::FormErr) << c.what;
    EXPECT_NE(q->problem, nullptr) << c.what;
    EXPECT_EQ(q->id, 3) << c.what;
  }
  // The question stays available when it was readable.
  auto q = parseQuery(hexBytes(cases[5].hex));
  EXPECT_TRUE(q->hasQuestion);
  EXPECT_EQ(q->question.name, name("a"));
  q = parseQuery(hexBytes(cases[0].hex));
  EXPECT_FALSE(q->hasQuestion);
}

TEST(ParseQuery, OptRules) {
  const std::string head = "0004 0100 0001 0000 0000 ";
  const std::string question = " 0161 00 0001 0001 ";
  const std::string opt = "00 0029 1000 00000000 0000";
  Query two = parse(hexBytes(head + "0002" + question + opt + opt));
  EXPECT_EQ(two.verdict, QueryVerdict::FormErr);
  EXPECT_FALSE(two.hasEdns);
  Query owned = parse(hexBytes(head + "0001" + question + "c00c 0029 1000 00000000 0000"));
  EXPECT_EQ(owned.verdict, QueryVerdict::FormErr);
  Query badOption = parse(hexBytes(head + "0001" + question + "00 0029 1000 00000000 0004 000a 0009"));
  EXPECT_EQ(badOption.verdict, QueryVerdict::FormErr);
  EXPECT_FALSE(badOption.hasEdns);
}

TEST(ParseQuery, EdnsVersionOtherThanZeroIsBadVers) {
  Query q = parse(hexBytes("0005 0100 0001 0000 0000 0001 0161 00 0001 0001 00 0029 0200 00018000 0000"));
  EXPECT_EQ(q.verdict, QueryVerdict::BadVers);
  EXPECT_TRUE(q.hasEdns);
  EXPECT_EQ(q.edns.version, 1);
  EXPECT_TRUE(q.edns.dnssecOk);
}

TEST(ParseQuery, PayloadIsClampedTo512) {
  Query q = parse(hexBytes("0006 0100 0001 0000 0000 0001 0161 00 0001 0001 00 0029 0064 00000000 0000"));
  EXPECT_EQ(q.verdict, QueryVerdict::Answer);
  EXPECT_EQ(q.edns.udpPayload, 512);
  Query max = parse(hexBytes("0006 0100 0001 0000 0000 0001 0161 00 0001 0001 00 0029 ffff 00000000 0000"));
  EXPECT_EQ(max.edns.udpPayload, 65535);
}

TEST(ParseQuery, OtherAdditionalRecordsAreWalkedAndIgnored) {
  // A TSIG-shaped record (type 250, class ANY) after the OPT: ignored but must be well-formed.
  const std::string base = "0007 0000 0001 0000 0000 0002 0161 00 0001 0001 00 0029 1000 00000000 0000 ";
  Query q = parse(hexBytes(base + "0374736900 00fa 00ff 00000000 0002 abcd"));
  EXPECT_EQ(q.verdict, QueryVerdict::Answer);
  EXPECT_TRUE(q.hasEdns);
  Query cut = parse(hexBytes(base + "0374736900 00fa 00ff 00000000 0009 abcd"));
  EXPECT_EQ(cut.verdict, QueryVerdict::FormErr);
}

}  // namespace
}  // namespace nodenet::dns
