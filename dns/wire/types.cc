#include "dns/wire/types.h"

#include "base/strings.h"

namespace nodenet::dns {

std::string rrTypeName(RRType t) {
  switch (t) {
    case RRType::A: return "A";
    case RRType::NS: return "NS";
    case RRType::CNAME: return "CNAME";
    case RRType::SOA: return "SOA";
    case RRType::PTR: return "PTR";
    case RRType::MX: return "MX";
    case RRType::TXT: return "TXT";
    case RRType::AAAA: return "AAAA";
    case RRType::SRV: return "SRV";
    case RRType::OPT: return "OPT";
    case RRType::IXFR: return "IXFR";
    case RRType::AXFR: return "AXFR";
    case RRType::ANY: return "ANY";
  }
  return strCat("TYPE", static_cast<unsigned>(t));
}

std::string rcodeName(Rcode r) {
  switch (r) {
    case Rcode::NoError: return "NOERROR";
    case Rcode::FormErr: return "FORMERR";
    case Rcode::ServFail: return "SERVFAIL";
    case Rcode::NXDomain: return "NXDOMAIN";
    case Rcode::NotImp: return "NOTIMP";
    case Rcode::Refused: return "REFUSED";
    case Rcode::BadVers: return "BADVERS";
  }
  return strCat("RCODE", static_cast<unsigned>(r));
}

uint16_t Header::flagsWord() const {
  uint16_t f = static_cast<uint16_t>((static_cast<uint16_t>(opcode) & 0xF) << flags::kOpcodeShift);
  if (qr) f |= flags::QR;
  if (aa) f |= flags::AA;
  if (tc) f |= flags::TC;
  if (rd) f |= flags::RD;
  if (ra) f |= flags::RA;
  if (ad) f |= flags::AD;
  if (cd) f |= flags::CD;
  f |= rcodeLow & flags::kRcodeMask;
  return f;
}

Header readHeader(WireReader& r) {
  Header h;
  h.id = r.readU16();
  const uint16_t f = r.readU16();
  h.qr = f & flags::QR;
  h.opcode = static_cast<Opcode>((f & flags::kOpcodeMask) >> flags::kOpcodeShift);
  h.aa = f & flags::AA;
  h.tc = f & flags::TC;
  h.rd = f & flags::RD;
  h.ra = f & flags::RA;
  h.ad = f & flags::AD;
  h.cd = f & flags::CD;
  h.rcodeLow = static_cast<uint8_t>(f & flags::kRcodeMask);
  h.qdcount = r.readU16();
  h.ancount = r.readU16();
  h.nscount = r.readU16();
  h.arcount = r.readU16();
  return h;
}

void writeHeader(WireWriter& w, const Header& h) {
  w.writeU16(h.id);
  w.writeU16(h.flagsWord());
  w.writeU16(h.qdcount);
  w.writeU16(h.ancount);
  w.writeU16(h.nscount);
  w.writeU16(h.arcount);
}

ResourceRecord makeA(const Name& owner, uint32_t ttl, const IpAddress& v4) {
  return ResourceRecord{owner, RRType::A, RRClass::IN, ttl, RdataA{v4}};
}
ResourceRecord makeAAAA(const Name& owner, uint32_t ttl, const IpAddress& v6) {
  return ResourceRecord{owner, RRType::AAAA, RRClass::IN, ttl, RdataAAAA{v6}};
}
ResourceRecord makeNameRecord(const Name& owner, RRType type, uint32_t ttl, const Name& target) {
  return ResourceRecord{owner, type, RRClass::IN, ttl, RdataName{target}};
}
ResourceRecord makeSrv(const Name& owner, uint32_t ttl, uint16_t priority, uint16_t weight, uint16_t port,
                       const Name& target) {
  return ResourceRecord{owner, RRType::SRV, RRClass::IN, ttl, RdataSrv{priority, weight, port, target}};
}
ResourceRecord makeTxt(const Name& owner, uint32_t ttl, std::vector<std::string> strings) {
  return ResourceRecord{owner, RRType::TXT, RRClass::IN, ttl, RdataTxt{std::move(strings)}};
}

size_t ednsWireSize(const Edns& e) {
  // Root owner (1) + type (2) + class (2) + TTL (4) + RDLENGTH (2), then 4 octets of code/length per option.
  size_t n = 11;
  for (const auto& o : e.options) n += 4 + o.data.size();
  return n;
}

void writeOpt(WireWriter& w, const Edns& e) {
  w.writeU8(0);
  w.writeU16(static_cast<uint16_t>(RRType::OPT));
  w.writeU16(e.udpPayload);
  // TTL: extended RCODE (8) | VERSION (8) | DO (1) | Z (15), RFC 6891 §6.1.3.
  w.writeU8(e.extendedRcode);
  w.writeU8(e.version);
  w.writeU16(static_cast<uint16_t>((e.dnssecOk ? 0x8000 : 0) | (e.zFlags & 0x7FFF)));
  size_t len = 0;
  for (const auto& o : e.options) len += 4 + o.data.size();
  w.writeU16(static_cast<uint16_t>(len));
  for (const auto& o : e.options) {
    w.writeU16(o.code);
    w.writeU16(static_cast<uint16_t>(o.data.size()));
    w.writeBytes(o.data.data(), o.data.size());
  }
}

}  // namespace nodenet::dns
