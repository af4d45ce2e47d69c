#include "dns/wire/query.h"

#include "base/strings.h"

namespace nodenet::dns {
namespace {

// Reads the OPT record's class/TTL/RDATA (the owner and type were already read) into q. Only the fields the
// server acts on are kept; options are walked for well-formedness and otherwise ignored.
void readOpt(WireReader& r, Query& q) {
  const uint16_t payload = r.readU16();
  const uint32_t ttl = r.readU32();
  const uint16_t rdlength = r.readU16();
  if (!r.ok()) return;
  if (rdlength > r.remaining()) return r.fail("OPT RDATA runs past the end of the message");
  WireReader opts(r.data() + r.offset(), rdlength);
  while (opts.ok() && opts.remaining() > 0) {
    opts.readU16();  // OPTION-CODE
    opts.skip(opts.readU16());
  }
  if (!opts.ok()) return r.fail("EDNS option runs past the OPT RDATA");
  r.skip(rdlength);
  q.hasEdns = true;
  // RFC 6891 §6.2.5: a payload below 512 is treated as 512.
  q.edns.udpPayload = payload < kClassicUdpLimit ? kClassicUdpLimit : payload;
  q.edns.version = static_cast<uint8_t>(ttl >> 16);
  q.edns.dnssecOk = ttl & 0x8000;
}

// Walks `count` records without keeping them (answer/authority of non-QUERY opcodes).
void skipRecords(WireReader& r, size_t count) {
  for (size_t i = 0; i < count && r.ok(); ++i) {
    readName(r);
    r.readU16();  // TYPE
    r.readU16();  // CLASS
    r.readU32();  // TTL
    r.skip(r.readU16());
  }
}

// Reads the additional section: the OPT into q, anything else (TSIG, SIG(0)) walked for well-formedness but not
// verified. Returns why the section is unacceptable, or nullptr. On failure q.hasEdns is false, so no OPT is
// echoed for an OPT we could not read.
const char* readAdditional(WireReader& r, uint16_t count, Query& q) {
  bool sawOpt = false;
  for (uint16_t i = 0; i < count; ++i) {
    const Name owner = readName(r);
    const auto type = static_cast<RRType>(r.readU16());
    if (!r.ok()) break;
    if (type == RRType::OPT) {
      if (sawOpt) {
        q.hasEdns = false;
        return "more than one OPT record";
      }
      if (!owner.isRoot()) return "OPT owner is not the root";
      sawOpt = true;
      readOpt(r, q);
    } else {
      r.readU16();  // CLASS
      r.readU32();  // TTL
      r.skip(r.readU16());
    }
  }
  if (!r.ok()) {
    q.hasEdns = false;
    return r.error();
  }
  return nullptr;
}

}  // namespace

Result<Query> parseQuery(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize)
    return Error(strCat("dns query: ", bytes.size(), " bytes, shorter than the 12-byte header; dropped"));
  WireReader r(bytes);
  const Header h = readHeader(r);
  // Never answer a response: two servers could bounce errors at each other forever.
  if (h.qr) return Error("dns query: QR is set (a response, not a query); dropped");

  Query q;
  q.id = h.id;
  q.opcode = h.opcode;
  q.rd = h.rd;
  q.cd = h.cd;
  q.ad = h.ad;
  auto reject = [&](QueryVerdict v, const char* why) -> Result<Query> {
    q.verdict = v;
    q.problem = why;
    return std::move(q);
  };

  auto readQuestion = [&]() {
    q.question.name = readName(r);
    q.question.type = static_cast<RRType>(r.readU16());
    q.question.cls = static_cast<RRClass>(r.readU16());
    q.hasQuestion = r.ok();
  };

  if (h.opcode != Opcode::Query) {
    // Echo the question when there is exactly one readable one; NOTIMP either way.
    if (h.qdcount == 1) readQuestion();
    if (!q.hasQuestion) {
      q.question = Question{};
    } else {
      // Best effort: find the OPT so the NOTIMP carries one (RFC 6891 §7: an EDNS-aware server answers an
      // EDNS query with OPT). Anything unreadable just means no OPT.
      skipRecords(r, size_t{h.ancount} + h.nscount);
      if (readAdditional(r, h.arcount, q) != nullptr) q.hasEdns = false;
    }
    return reject(QueryVerdict::NotImp, "opcode is not QUERY");
  }
  if (h.qdcount != 1) return reject(QueryVerdict::FormErr, "QDCOUNT is not 1");
  readQuestion();
  if (!q.hasQuestion) {
    q.question = Question{};
    return reject(QueryVerdict::FormErr, r.error());
  }
  if (q.question.type == RRType::OPT) return reject(QueryVerdict::FormErr, "QTYPE is OPT");
  // A query carries no answers or authority (same policy as Unbound's worker_check_request).
  if (h.ancount != 0 || h.nscount != 0)
    return reject(QueryVerdict::FormErr, "answer or authority records in a query");

  if (const char* why = readAdditional(r, h.arcount, q)) return reject(QueryVerdict::FormErr, why);
  if (r.remaining() != 0) return reject(QueryVerdict::FormErr, "trailing bytes after the last record");
  if (q.hasEdns && q.edns.version != 0) return reject(QueryVerdict::BadVers, "EDNS version is not 0");
  return q;
}

}  // namespace nodenet::dns
