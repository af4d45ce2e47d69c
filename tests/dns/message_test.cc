// Whole messages: compose -> parse -> compare for every typed RDATA, EDNS, extended rcodes, and the
// malformations parseMessage() must refuse.
#include "dns/wire/message.h"

#include <gtest/gtest.h>

#include "tests/dns/test_util.h"

namespace nodenet::dns {
namespace {

using testing::hexBytes;
using testing::name;

IpAddress ip(std::string_view s) { return IpAddress::parse(s).value(); }

Message roundTrip(const Message& m) {
  auto wire = composeMessage(m);
  EXPECT_TRUE(wire.ok()) << wire.error().message();
  auto back = parseMessage(*wire);
  EXPECT_TRUE(back.ok()) << back.error().message();
  return back.ok() ? *back : Message{};
}

Message responseFor(std::string_view qname, RRType qtype) {
  Message m;
  m.header.id = 0xbeef;
  m.header.qr = true;
  m.header.aa = true;
  m.header.rd = true;
  m.questions.push_back(Question{name(qname), qtype, RRClass::IN});
  return m;
}

TEST(Message, RoundTripsEveryType) {
  Message m = responseFor("web.default.svc.cluster.local", RRType::ANY);
  const Name owner = name("web.default.svc.cluster.local");
  m.answers.push_back(makeA(owner, 30, ip("10.96.0.10")));
  m.answers.push_back(makeAAAA(owner, 30, ip("fd00:10:96::a")));
  m.answers.push_back(makeNameRecord(name("alias.default.svc.cluster.local"), RRType::CNAME, 30, owner));
  m.answers.push_back(makeNameRecord(name("10.0.96.10.in-addr.arpa"), RRType::PTR, 30, owner));
  m.answers.push_back(makeSrv(name("_http._tcp.web.default.svc.cluster.local"), 30, 0, 100, 8080,
                              name("pod-1.web.default.svc.cluster.local")));
  m.answers.push_back(makeTxt(owner, 30, {"v=1", "", std::string(255, 't')}));
  m.answers.push_back(ResourceRecord{owner, RRType::MX, RRClass::IN, 30, RdataMx{10, name("mail.cluster.local")}});
  m.answers.push_back(ResourceRecord{owner, static_cast<RRType>(99), RRClass::IN, 7, RdataOpaque{{1, 2, 3}}});
  m.answers.push_back(ResourceRecord{owner, static_cast<RRType>(65280), RRClass::CH, 0, RdataOpaque{{}}});
  m.authority.push_back(makeNameRecord(name("cluster.local"), RRType::NS, 3600, name("ns.dns.cluster.local")));
  m.authority.push_back(ResourceRecord{name("cluster.local"), RRType::SOA, RRClass::IN, 5,
                                       RdataSoa{name("ns.dns.cluster.local"), name("hostmaster.cluster.local"),
                                                2024112401, 7200, 1800, 86400, 5}});
  m.additional.push_back(makeA(name("ns.dns.cluster.local"), 30, ip("10.96.0.10")));
  Edns e;
  e.udpPayload = 1232;
  e.dnssecOk = true;
  e.options.push_back(EdnsOption{10, {1, 2, 3, 4, 5, 6, 7, 8}});  // COOKIE, kept opaque
  e.options.push_back(EdnsOption{12, {}});                        // PADDING, empty
  m.edns = e;
  m.header.qdcount = 1;
  m.header.ancount = static_cast<uint16_t>(m.answers.size());
  m.header.nscount = static_cast<uint16_t>(m.authority.size());
  m.header.arcount = 2;

  Message back = roundTrip(m);
  EXPECT_EQ(back, m);
  EXPECT_EQ(back.rcode(), Rcode::NoError);
  ASSERT_TRUE(back.edns.has_value());
  EXPECT_TRUE(back.edns->dnssecOk);
  EXPECT_EQ(back.edns->options.size(), 2u);
  EXPECT_EQ(std::get<RdataSrv>(back.answers[4].rdata).port, 8080);
}

TEST(Message, EmptyRdataStaysOpaque) {
  // RFC 2136 style: class NONE/ANY records with empty RDATA for a typed RR.
  Message m = responseFor("a.example", RRType::A);
  m.answers.push_back(ResourceRecord{name("a.example"), RRType::A, RRClass::ANY, 0, RdataOpaque{}});
  m.header.qdcount = 1;
  m.header.ancount = 1;
  EXPECT_EQ(roundTrip(m), m);
}

TEST(Message, CompressionShrinksRepeatedNames) {
  Message m = responseFor("web.default.svc.cluster.local", RRType::A);
  for (int i = 0; i < 10; ++i) m.answers.push_back(makeA(name("web.default.svc.cluster.local"), 30, ip("10.0.0.1")));
  auto wire = composeMessage(m);
  ASSERT_TRUE(wire.ok());
  // header + question (31 + 4) + 10 x (pointer 2 + 10 + 4)
  EXPECT_EQ(wire->size(), 12 + 35 + 10 * 16u);
  EXPECT_EQ((*wire)[47], 0xC0);
  EXPECT_EQ((*wire)[48], 12);
}

TEST(Message, SrvTargetIsNeverCompressed) {
  Message m = responseFor("_http._tcp.web.ns.svc.cluster.local", RRType::SRV);
  m.answers.push_back(makeSrv(name("_http._tcp.web.ns.svc.cluster.local"), 30, 0, 100, 80,
                              name("web.ns.svc.cluster.local")));
  auto wire = composeMessage(m);
  ASSERT_TRUE(wire.ok());
  const Name target = name("web.ns.svc.cluster.local");
  // The message ends with the full, uncompressed target.
  std::vector<uint8_t> tail(wire->end() - static_cast<long>(target.wireSize()), wire->end());
  EXPECT_EQ(tail, std::vector<uint8_t>(target.wire().begin(), target.wire().end()));
}

TEST(Message, ExtendedRcodeTravelsInOpt) {
  Message m = responseFor("a.example", RRType::A);
  m.edns = Edns{};
  m.setRcode(Rcode::BadVers);
  EXPECT_EQ(m.header.rcodeLow, 0);
  EXPECT_EQ(m.edns->extendedRcode, 1);
  Message back = roundTrip(m);
  EXPECT_EQ(back.rcode(), Rcode::BadVers);
  Message plain = responseFor("a.example", RRType::A);
  plain.setRcode(Rcode::NXDomain);
  EXPECT_EQ(roundTrip(plain).rcode(), Rcode::NXDomain);
}

TEST(Message, RejectsMismatchedRdataOnCompose) {
  Message m = responseFor("a.example", RRType::A);
  m.answers.push_back(ResourceRecord{name("a.example"), RRType::A, RRClass::IN, 1, RdataAAAA{ip("::1")}});
  EXPECT_FALSE(composeMessage(m).ok());
  Message t = responseFor("a.example", RRType::TXT);
  t.answers.push_back(makeTxt(name("a.example"), 1, {std::string(256, 'x')}));
  EXPECT_FALSE(composeMessage(t).ok());
}

// A response header (id 1, QR) with the given counts, then `body`.
std::vector<uint8_t> msg(uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar, std::string_view body) {
  std::vector<uint8_t> m = {0, 1, 0x80, 0, 0, static_cast<uint8_t>(qd), 0, static_cast<uint8_t>(an),
                            0, static_cast<uint8_t>(ns), 0, static_cast<uint8_t>(ar)};
  auto b = hexBytes(body);
  m.insert(m.end(), b.begin(), b.end());
  return m;
}

TEST(Message, ParsesAHandWrittenCompressedAnswer) {
  // a.example A? -> a.example (pointer) A 10.0.0.1
  auto m = parseMessage(msg(1, 1, 0, 0, "0161 076578616d706c65 00 0001 0001  c00c 0001 0001 0000001e 0004 0a000001"));
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(m->answers[0].owner, name("a.example"));
  EXPECT_EQ(m->answers[0].ttl, 30u);
  EXPECT_EQ(std::get<RdataA>(m->answers[0].rdata).addr, ip("10.0.0.1"));
}

TEST(Message, RefusesMalformations) {
  const std::string_view q = "0161 00 0001 0001 ";
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
  } cases[] = {
      {"short header", hexBytes("0001 8000 0000")},
      {"A RDATA of 5 octets", msg(1, 1, 0, 0, std::string(q) + "c00c 0001 0001 00000000 0005 0a00000100")},
      {"AAAA RDATA of 4 octets", msg(1, 1, 0, 0, std::string(q) + "c00c 001c 0001 00000000 0004 0a000001")},
      {"CNAME name longer than RDLENGTH", msg(1, 1, 0, 0, std::string(q) + "c00c 0005 0001 00000000 0002 0162 00")},
      {"CNAME RDLENGTH longer than the name", msg(1, 1, 0, 0, std::string(q) + "c00c 0005 0001 00000000 0003 00 0000")},
      {"RDLENGTH past the end", msg(1, 1, 0, 0, std::string(q) + "c00c 0010 0001 00000000 00ff 00")},
      {"TXT string past RDLENGTH", msg(1, 1, 0, 0, std::string(q) + "c00c 0010 0001 00000000 0002 0561")},
      {"SOA cut short", msg(1, 1, 0, 0, std::string(q) + "c00c 0006 0001 00000000 0006 00 00 00000001")},
      {"trailing bytes", msg(1, 0, 0, 0, std::string(q) + "00")},
      {"counts beyond the data", msg(1, 200, 0, 0, q)},
      {"OPT in the answer section", msg(1, 1, 0, 0, std::string(q) + "00 0029 1000 00000000 0000")},
      {"two OPT records", msg(1, 0, 0, 2, std::string(q) + "00 0029 1000 00000000 0000 00 0029 1000 00000000 0000")},
      {"OPT owned by a non-root name", msg(1, 0, 0, 1, std::string(q) + "c00c 0029 1000 00000000 0000")},
      {"EDNS option past the OPT", msg(1, 0, 0, 1, std::string(q) + "00 0029 1000 00000000 0004 000a 0008")},
      {"looping owner", msg(1, 1, 0, 0, std::string(q) + "c017 0001 0001 00000000 0004 0a000001")},
  };
  for (const auto& c : cases) {
    auto m = parseMessage(c.bytes);
    EXPECT_FALSE(m.ok()) << c.what;
  }
}

TEST(Message, ErrorNamesSectionAndRecord) {
  auto m = parseMessage(msg(1, 1, 0, 0, "0161 00 0001 0001 c00c 0001 0001 00000000 0005 0a00000100"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("answer record 0"), std::string::npos) << m.error().message();
  EXPECT_NE(m.error().message().find("A RDATA"), std::string::npos) << m.error().message();
}

TEST(Message, HeaderFlagsRoundTrip) {
  Header h;
  h.id = 0x1234;
  h.qr = h.aa = h.tc = h.rd = h.ra = h.ad = h.cd = true;
  h.opcode = Opcode::Notify;
  h.rcodeLow = 5;
  uint8_t buf[12];
  WireWriter w(buf, sizeof buf);
  writeHeader(w, h);
  WireReader r(buf, sizeof buf);
  EXPECT_EQ(readHeader(r), h);
  EXPECT_EQ(h.flagsWord(), 0x8000 | 4 << 11 | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0020 | 0x0010 | 5);
}

TEST(Message, TypeAndRcodeNames) {
  EXPECT_EQ(rrTypeName(RRType::AAAA), "AAAA");
  EXPECT_EQ(rrTypeName(static_cast<RRType>(65280)), "TYPE65280");
  EXPECT_EQ(rcodeName(Rcode::BadVers), "BADVERS");
  EXPECT_EQ(rcodeName(static_cast<Rcode>(23)), "RCODE23");
}

}  // namespace
}  // namespace nodenet::dns
