#include "dns/wire/response.h"

#include <algorithm>
#include <cstdlib>

#include "dns/wire/message.h"

namespace nodenet::dns {
namespace {

// An OPT record without options: root owner (1), type (2), class (2), TTL (4), RDLENGTH (2).
constexpr size_t kBareOptSize = 11;

}  // namespace

ResponseComposer::ResponseComposer(std::span<uint8_t> buf, size_t limit)
    : buf_(buf), limit_(std::min({limit, buf.size(), size_t{65535}})) {}

void ResponseComposer::begin(const Query& q, Rcode rcode) {
  w_ = WireWriter(buf_.data(), limit_);
  compressor_.reset();
  counts_[0] = counts_[1] = counts_[2] = 0;
  sectionClosed_[0] = sectionClosed_[1] = sectionClosed_[2] = false;
  section_ = Section::Answer;
  tc_ = false;
  edns_ = q.hasEdns;
  dnssecOk_ = q.hasEdns && q.edns.dnssecOk;
  rcode_ = rcode;
  qdcount_ = 0;
  flags_ = static_cast<uint16_t>(flags::QR | (static_cast<uint16_t>(q.opcode) & 0xF) << flags::kOpcodeShift);
  if (q.rd) flags_ |= flags::RD;
  if (q.cd) flags_ |= flags::CD;

  // Header placeholder; finish() fills it in.
  w_.writeU16(q.id);
  for (int i = 0; i < 5; ++i) w_.writeU16(0);
  // Keep room for the OPT so truncation can never squeeze it out (RFC 6891 §7: a truncated answer to an
  // EDNS query still carries OPT).
  if (edns_ && limit_ >= kHeaderSize + kBareOptSize) w_.setLimit(limit_ - kBareOptSize);
  if (q.hasQuestion) {
    const size_t mark = w_.mark();
    // Uncompressed and registered: later owner names equal to the qname become a pointer to offset 12,
    // and they keep the client's spelling (RFC 4343 §4.1 lets the answer reuse the query's case).
    compressor_.writeUncompressed(w_, q.question.name);
    w_.writeU16(static_cast<uint16_t>(q.question.type));
    w_.writeU16(static_cast<uint16_t>(q.question.cls));
    if (w_.noRoom()) {
      w_.rewind(mark);
      compressor_.forgetFrom(mark);
      tc_ = true;
    } else {
      qdcount_ = 1;
    }
  }
}

void ResponseComposer::setRcode(Rcode rcode) { rcode_ = rcode; }

AddResult ResponseComposer::add(Section section, const ResourceRecord& rr) {
  const auto idx = static_cast<size_t>(section);
  // Records are written in sequence, so a section cannot be reopened once a later one started.
  if (section < section_) std::abort();
  section_ = section;
  if (tc_ || sectionClosed_[idx]) return AddResult::NoRoom;
  const size_t mark = w_.mark();
  const bool good = writeRecord(w_, compressor_, rr);
  if (good && w_.ok()) {
    ++counts_[idx];
    return AddResult::Added;
  }
  w_.rewind(mark);
  compressor_.forgetFrom(mark);
  if (!good) return AddResult::BadRecord;
  if (section == Section::Additional) {
    // RFC 2181 §9: leaving out additional data is not truncation.
    sectionClosed_[idx] = true;
  } else {
    tc_ = true;
  }
  return AddResult::NoRoom;
}

std::span<const uint8_t> ResponseComposer::finish() {
  auto code = static_cast<uint16_t>(rcode_);
  uint16_t arcount = counts_[2];
  if (edns_) {
    w_.restoreLimit(limit_);
    Edns e;
    e.udpPayload = serverPayload_;
    e.extendedRcode = static_cast<uint8_t>(code >> 4);
    e.version = 0;
    // RFC 3225 §3: the DO bit of the query is copied into the response.
    e.dnssecOk = dnssecOk_;
    const size_t mark = w_.mark();
    writeOpt(w_, e);
    if (w_.ok()) {
      ++arcount;
    } else {
      // Only with a limit below header + OPT (a caller bug); send what we have without OPT.
      w_.rewind(mark);
    }
  } else if (code > 15) {
    // Extended rcodes cannot be expressed without OPT; SERVFAIL is the honest fallback.
    code = static_cast<uint16_t>(Rcode::ServFail);
  }
  uint16_t f = static_cast<uint16_t>(flags_ | (code & flags::kRcodeMask));
  if (tc_) f |= flags::TC;
  w_.patchU16(2, f);
  w_.patchU16(4, qdcount_);
  w_.patchU16(6, counts_[0]);
  w_.patchU16(8, counts_[1]);
  w_.patchU16(10, arcount);
  return w_.bytes();
}

std::span<const uint8_t> composeError(const Query& q, Rcode rcode, std::span<uint8_t> buf) {
  ResponseComposer c(buf, buf.size());
  c.begin(q, rcode);
  return c.finish();
}

Rcode verdictRcode(QueryVerdict v) {
  switch (v) {
    case QueryVerdict::Answer: return Rcode::NoError;
    case QueryVerdict::FormErr: return Rcode::FormErr;
    case QueryVerdict::NotImp: return Rcode::NotImp;
    case QueryVerdict::BadVers: return Rcode::BadVers;
  }
  return Rcode::ServFail;
}

}  // namespace nodenet::dns
