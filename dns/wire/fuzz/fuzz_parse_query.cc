#include "dns/wire/fuzz/fuzz_parse_query.h"

#include <array>
#include <cstdio>
#include <cstdlib>

#include "dns/wire/message.h"
#include "dns/wire/query.h"
#include "dns/wire/response.h"

namespace nodenet::dns {
namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzzParseQuery: invariant broken: %s\n", what);
  std::abort();
}

void check(bool cond, const char* what) {
  if (!cond) broken(what);
}

// Composes a typical answer (several records, all sections) for a parsed query and checks the result.
void checkResponse(const Query& q, size_t limit) {
  static std::array<uint8_t, 65535> buf;
  ResponseComposer c(buf, limit);
  std::span<const uint8_t> out;
  if (q.verdict == QueryVerdict::Answer) {
    c.begin(q, Rcode::NoError);
    c.setAa(true);
    const Name& owner = q.question.name;
    Name target = Name::fromText("target.ns.svc.cluster.local").value();
    c.add(Section::Answer, makeNameRecord(owner, RRType::CNAME, 30, target));
    for (uint32_t i = 0; i < 40; ++i) c.add(Section::Answer, makeA(target, 30, IpAddress::v4(0x0a000000 + i)));
    c.add(Section::Answer, makeSrv(owner, 30, 0, 100, 443, target));
    c.add(Section::Additional, makeTxt(owner, 30, {"fuzz", std::string(200, 'x')}));
    out = c.finish();
  } else {
    out = composeError(q, verdictRcode(q.verdict), std::span<uint8_t>(buf.data(), limit));
  }
  check(out.size() <= limit, "response exceeds its limit");
  auto m = parseMessage(out);
  if (!m.ok()) broken("composed response does not parse");
  check(m->header.id == q.id && m->header.qr, "response id/QR");
  check(m->header.rd == q.rd && m->header.cd == q.cd && m->header.opcode == q.opcode, "echoed flags");
  if (q.hasQuestion) {
    check(m->questions.size() == 1 && m->questions[0].name.exactlyEquals(q.question.name),
          "question not echoed with the client's case");
  }
  check(m->edns.has_value() == q.hasEdns, "OPT kept exactly when the query had EDNS");
  if (q.verdict != QueryVerdict::Answer) check(m->rcode() == verdictRcode(q.verdict) || !q.hasEdns, "rcode");
}

}  // namespace

int fuzzParseQuery(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto q = parseQuery(bytes);
  if (q.ok()) {
    check(size >= kHeaderSize, "accepted a query shorter than the header");
    check(q->verdict != QueryVerdict::Answer || q->hasQuestion, "Answer verdict without a question");
    check(q->edns.udpPayload >= kClassicUdpLimit, "payload not clamped");
    checkResponse(*q, kClassicUdpLimit);
    checkResponse(*q, q->udpLimit());
  } else {
    check(size < kHeaderSize || (data[2] & 0x80), "dropped a query with a readable header and QR clear");
  }

  auto m = parseMessage(bytes);
  if (m.ok()) {
    auto wire = composeMessage(*m);
    // Composing can legitimately fail only on size: our compression may do worse than the input's.
    if (wire.ok()) {
      auto again = parseMessage(*wire);
      if (!again.ok()) broken("composed message does not parse");
      check(*again == *m, "compose/parse round trip changed the message");
    }
  }
  return 0;
}

}  // namespace nodenet::dns
