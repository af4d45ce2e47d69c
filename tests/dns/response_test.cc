// ResponseComposer and composeError: question echo, compression, truncation at 512 and 1232 bytes (whole
// records only, TC, OPT kept), additional-section overflow, and error responses.
#include "dns/wire/response.h"

#include <gtest/gtest.h>

#include <array>

#include "dns/wire/message.h"
#include "tests/dns/test_util.h"

namespace nodenet::dns {
namespace {

using testing::hexBytes;
using testing::name;

// Queries as sent by dig (see query_test.cc): A with EDNS 1232, and SRV without EDNS.
const char* kDigA =
    "36ba01200001000000000001"
    "0a6b756265726e657465730764656661756c740373766307636c7573746572056c6f63616c00 0001 0001"
    "00 0029 04d0 00000000 000c 000a0008c10612653cf07bb9";
const char* kDigSrvNoEdns =
    "c7db01200001000000000000"
    "055f68747470045f746370066d792d737663026e730373766307636c7573746572056c6f63616c00 0021 0001";

Query query(const char* hex) { return parseQuery(hexBytes(hex)).value(); }

Query queryFor(std::string_view qname, bool edns, uint16_t payload = 1232) {
  Query q;
  q.id = 0x4242;
  q.rd = true;
  q.hasQuestion = true;
  q.question = Question{name(qname), RRType::A, RRClass::IN};
  q.hasEdns = edns;
  q.edns.udpPayload = payload;
  return q;
}

Message parsed(std::span<const uint8_t> wire) {
  auto m = parseMessage(wire);
  EXPECT_TRUE(m.ok()) << m.error().message();
  return m.ok() ? *m : Message{};
}

std::array<uint8_t, 65535> buf;

TEST(ResponseComposer, AnswersEchoIdFlagsAndQuestionCase) {
  Query q = query(kDigA);
  q.question.name = name("Kubernetes.DEFAULT.svc.cluster.local");  // as if the client used 0x20 mixing
  ResponseComposer c(buf, q.udpLimit());
  c.begin(q, Rcode::NoError);
  c.setAa(true);
  EXPECT_EQ(c.add(Section::Answer, makeA(name("kubernetes.default.svc.cluster.local"), 30,
                                         IpAddress::parse("10.96.0.1").value())),
            AddResult::Added);
  auto out = c.finish();
  Message m = parsed(out);
  EXPECT_EQ(m.header.id, 0x36ba);
  EXPECT_TRUE(m.header.qr);
  EXPECT_TRUE(m.header.aa);
  EXPECT_TRUE(m.header.rd);
  EXPECT_FALSE(m.header.ad);  // AD is ours to set, not echoed
  EXPECT_FALSE(m.header.tc);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_TRUE(m.questions[0].name.exactlyEquals(name("Kubernetes.DEFAULT.svc.cluster.local")));
  ASSERT_EQ(m.answers.size(), 1u);
  // The owner compresses to the question, so the client sees its own spelling (RFC 4343 §4.1).
  EXPECT_TRUE(m.answers[0].owner.exactlyEquals(q.question.name));
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->udpPayload, kDefaultServerPayload);
  EXPECT_EQ(m.edns->version, 0);
  EXPECT_TRUE(m.edns->options.empty());
  // 12 + question (38 + 4) + answer (2 + 10 + 4) + OPT 11
  EXPECT_EQ(out.size(), 12 + 42 + 16 + 11u);
}

TEST(ResponseComposer, EveryTypeThroughTheComposer) {
  Query q = query(kDigSrvNoEdns);
  ResponseComposer c(buf, 65535);
  c.begin(q, Rcode::NoError);
  const Name svc = name("my-svc.ns.svc.cluster.local");
  std::vector<ResourceRecord> answers = {
      makeSrv(q.question.name, 30, 0, 50, 443, name("pod-a.my-svc.ns.svc.cluster.local")),
      makeNameRecord(svc, RRType::CNAME, 30, name("ext.example.com")),
      makeNameRecord(name("1.0.0.10.in-addr.arpa"), RRType::PTR, 30, svc),
      makeTxt(svc, 30, {"hello", "world"}),
      makeAAAA(svc, 30, IpAddress::parse("fd00::1").value()),
  };
  for (const auto& rr : answers) EXPECT_EQ(c.add(Section::Answer, rr), AddResult::Added);
  ResourceRecord soa{name("cluster.local"), RRType::SOA, RRClass::IN, 5,
                     RdataSoa{name("ns.dns.cluster.local"), name("hostmaster.cluster.local"), 1, 2, 3, 4, 5}};
  EXPECT_EQ(c.add(Section::Authority, soa), AddResult::Added);
  EXPECT_EQ(c.add(Section::Authority, makeNameRecord(name("cluster.local"), RRType::NS, 5, name("ns.dns.cluster.local"))),
            AddResult::Added);
  EXPECT_EQ(c.add(Section::Additional, makeA(name("pod-a.my-svc.ns.svc.cluster.local"), 30,
                                             IpAddress::parse("10.1.2.3").value())),
            AddResult::Added);
  EXPECT_EQ(c.add(Section::Additional, ResourceRecord{svc, RRType::A, RRClass::IN, 1, RdataTxt{}}),
            AddResult::BadRecord);
  Message m = parsed(c.finish());
  EXPECT_FALSE(m.edns.has_value());
  ASSERT_EQ(m.answers.size(), answers.size());
  for (size_t i = 0; i < answers.size(); ++i) EXPECT_EQ(m.answers[i], answers[i]) << i;
  EXPECT_EQ(m.authority.at(0), soa);
  EXPECT_EQ(m.additional.size(), 1u);
}

// Size of one A record whose owner compresses to a pointer: pointer 2 + type/class/TTL/RDLENGTH 10 + 4.
constexpr size_t kPointerARecord = 16;

void expectTruncatedA(size_t limit, bool edns) {
  Query q = queryFor("many.ns.svc.cluster.local", edns, static_cast<uint16_t>(limit));
  ASSERT_EQ(q.udpLimit(), edns ? limit : 512u);
  ResponseComposer c(buf, q.udpLimit());
  c.begin(q, Rcode::NoError);
  size_t added = 0;
  for (uint32_t i = 0; i < 500; ++i) {
    auto r = c.add(Section::Answer, makeA(q.question.name, 30, IpAddress::v4(0x0a000000 + i)));
    if (r != AddResult::Added) break;
    ++added;
  }
  // After the first refusal nothing more goes in, even something small.
  EXPECT_EQ(c.add(Section::Additional, makeA(name("x"), 1, IpAddress::v4(1))), AddResult::NoRoom);
  EXPECT_TRUE(c.truncated());
  auto out = c.finish();
  EXPECT_LE(out.size(), limit);
  const size_t fixed = 12 + q.question.name.wireSize() + 4 + (edns ? 11 : 0);
  EXPECT_EQ(added, (limit - fixed) / kPointerARecord);
  EXPECT_EQ(out.size(), fixed + added * kPointerARecord);
  Message m = parsed(out);  // whole records only: the message parses with no trailing bytes
  EXPECT_TRUE(m.header.tc);
  EXPECT_EQ(m.answers.size(), added);
  EXPECT_EQ(m.edns.has_value(), edns);
  for (size_t i = 0; i < added; ++i) EXPECT_EQ(std::get<RdataA>(m.answers[i].rdata).addr, IpAddress::v4(0x0a000000 + static_cast<uint32_t>(i)));
}

TEST(ResponseComposer, TruncatesAt512WithoutEdns) { expectTruncatedA(512, false); }
TEST(ResponseComposer, TruncatesAt1232KeepingOpt) { expectTruncatedA(1232, true); }
TEST(ResponseComposer, TruncatesAt512WithEdnsKeepingOpt) { expectTruncatedA(512, true); }

TEST(ResponseComposer, TruncationDropsWholeRecordsNeverPartOfOne) {
  Query q = queryFor("a.example", false);
  ResponseComposer c(buf, 512);
  c.begin(q, Rcode::NoError);
  // A TXT record that can never fit, then a small one that could: neither goes in, TC is set.
  EXPECT_EQ(c.add(Section::Answer, makeTxt(q.question.name, 1, {std::string(255, 'a'), std::string(255, 'b')})),
            AddResult::NoRoom);
  EXPECT_EQ(c.add(Section::Answer, makeA(q.question.name, 1, IpAddress::v4(1))), AddResult::NoRoom);
  Message m = parsed(c.finish());
  EXPECT_TRUE(m.header.tc);
  EXPECT_TRUE(m.answers.empty());
  EXPECT_EQ(m.questions.size(), 1u);
}

TEST(ResponseComposer, AdditionalOverflowIsNotTruncation) {
  Query q = queryFor("a.example", true, 512);
  ResponseComposer c(buf, q.udpLimit());
  c.begin(q, Rcode::NoError);
  EXPECT_EQ(c.add(Section::Answer, makeA(q.question.name, 1, IpAddress::v4(1))), AddResult::Added);
  size_t extra = 0;
  for (uint32_t i = 0; i < 100; ++i)
    if (c.add(Section::Additional, makeA(name("glue.example"), 1, IpAddress::v4(i))) == AddResult::Added) ++extra;
  EXPECT_GT(extra, 0u);
  EXPECT_LT(extra, 100u);
  EXPECT_FALSE(c.truncated());
  auto out = c.finish();
  EXPECT_LE(out.size(), 512u);
  Message m = parsed(out);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.additional.size(), extra);
  EXPECT_TRUE(m.edns.has_value());
}

TEST(ResponseComposer, ExtendedRcodeAndDoBitGoInOpt) {
  Query q = queryFor("a.example", true);
  q.edns.dnssecOk = true;
  ResponseComposer c(buf, 1232);
  c.begin(q, Rcode::NoError);
  c.setRcode(Rcode::BadVers);
  Message m = parsed(c.finish());
  EXPECT_EQ(m.rcode(), Rcode::BadVers);
  EXPECT_TRUE(m.edns->dnssecOk);
  // Without EDNS an extended rcode cannot be said: SERVFAIL instead of a wrong NOERROR.
  Query plain = queryFor("a.example", false);
  c.begin(plain, Rcode::BadVers);
  EXPECT_EQ(parsed(c.finish()).rcode(), Rcode::ServFail);
}

TEST(ResponseComposer, ComposerIsReusable) {
  ResponseComposer c(buf, 512);
  for (int i = 0; i < 3; ++i) {
    Query q = queryFor(i % 2 ? "one.example" : "two.example", i == 2);
    c.begin(q, Rcode::NXDomain);
    Message m = parsed(c.finish());
    EXPECT_EQ(m.rcode(), Rcode::NXDomain);
    EXPECT_EQ(m.questions.at(0).name, q.question.name);
    EXPECT_EQ(m.edns.has_value(), i == 2);
  }
}

TEST(ResponseComposerDeathTest, SectionsMustComeInOrder) {
  Query q = queryFor("a.example", false);
  ResponseComposer c(buf, 512);
  c.begin(q, Rcode::NoError);
  c.add(Section::Authority, makeNameRecord(name("example"), RRType::NS, 1, name("ns.example")));
  EXPECT_DEATH(c.add(Section::Answer, makeA(q.question.name, 1, IpAddress::v4(1))), "");
}

TEST(ComposeError, FormErrWithoutQuestion) {
  auto q = parseQuery(hexBytes("abcd 0110 0000 0000 0000 0000"));  // QDCOUNT 0, RD and CD set
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->verdict, QueryVerdict::FormErr);
  Message m = parsed(composeError(*q, verdictRcode(q->verdict), buf));
  EXPECT_EQ(m.header.id, 0xabcd);
  EXPECT_TRUE(m.header.qr);
  EXPECT_TRUE(m.header.rd);
  EXPECT_TRUE(m.header.cd);
  EXPECT_EQ(m.rcode(), Rcode::FormErr);
  EXPECT_TRUE(m.questions.empty());
  EXPECT_FALSE(m.edns.has_value());
}

TEST(ComposeError, NotImpEchoesOpcodeAndQuestion) {
  auto bytes = hexBytes(kDigSrvNoEdns);
  bytes[2] = static_cast<uint8_t>((bytes[2] & 0x87) | 4 << 3);
  Query q = parseQuery(bytes).value();
  Message m = parsed(composeError(q, verdictRcode(q.verdict), buf));
  EXPECT_EQ(m.rcode(), Rcode::NotImp);
  EXPECT_EQ(m.header.opcode, Opcode::Notify);
  EXPECT_EQ(m.header.id, 0xc7db);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].type, RRType::SRV);
}

TEST(ComposeError, NotImpToAnEdnsQueryCarriesOpt) {
  auto bytes = hexBytes(kDigA);
  bytes[2] = static_cast<uint8_t>((bytes[2] & 0x87) | 4 << 3);
  Query q = parseQuery(bytes).value();
  Message m = parsed(composeError(q, verdictRcode(q.verdict), buf));
  EXPECT_EQ(m.rcode(), Rcode::NotImp);
  EXPECT_TRUE(m.edns.has_value());
}

TEST(ComposeError, RefusedAndServfailWithEdns) {
  Query q = query(kDigA);
  for (Rcode r : {Rcode::Refused, Rcode::ServFail}) {
    Message m = parsed(composeError(q, r, buf));
    EXPECT_EQ(m.rcode(), r);
    EXPECT_EQ(m.questions.at(0), q.question);
    EXPECT_TRUE(m.edns.has_value());
    EXPECT_TRUE(m.answers.empty());
  }
}

TEST(ComposeError, BadVersCarriesOptVersionZero) {
  Query q = parseQuery(hexBytes("0005 0100 0001 0000 0000 0001 0161 00 0001 0001 00 0029 0200 00018000 0000")).value();
  ASSERT_EQ(q.verdict, QueryVerdict::BadVers);
  Message m = parsed(composeError(q, verdictRcode(q.verdict), buf));
  EXPECT_EQ(m.rcode(), Rcode::BadVers);
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->version, 0);
  EXPECT_EQ(m.edns->extendedRcode, 1);
  EXPECT_EQ(m.header.rcodeLow, 0);
}

}  // namespace
}  // namespace nodenet::dns
