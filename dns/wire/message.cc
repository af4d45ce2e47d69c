#include "dns/wire/message.h"

#include "base/strings.h"
#include "dns/wire/tcp.h"

namespace nodenet::dns {
namespace {

// Reads `rdlength` octets of RDATA for `type` starting at the reader's position.
void readRdata(WireReader& r, RRType type, uint16_t rdlength, Rdata& out) {
  const size_t start = r.offset();
  if (rdlength > r.remaining()) {
    r.fail("RDATA runs past the end of the message");
    return;
  }
  const size_t end = start + rdlength;
  // Empty RDATA is legal for any type in dynamic updates (RFC 2136 §2.4); keep it opaque.
  if (rdlength == 0) {
    out = RdataOpaque{};
    return;
  }
  switch (type) {
    case RRType::A: {
      if (rdlength != 4) return r.fail("A RDATA is not 4 octets");
      out = RdataA{IpAddress::fromBytes(IpFamily::V4, r.readSpan(4).data())};
      return;
    }
    case RRType::AAAA: {
      if (rdlength != 16) return r.fail("AAAA RDATA is not 16 octets");
      out = RdataAAAA{IpAddress::fromBytes(IpFamily::V6, r.readSpan(16).data())};
      return;
    }
    case RRType::NS:
    case RRType::CNAME:
    case RRType::PTR: {
      RdataName d{readName(r)};
      out = std::move(d);
      break;
    }
    case RRType::MX: {
      RdataMx d;
      d.preference = r.readU16();
      d.exchange = readName(r);
      out = std::move(d);
      break;
    }
    case RRType::SOA: {
      RdataSoa d;
      d.mname = readName(r);
      d.rname = readName(r);
      d.serial = r.readU32();
      d.refresh = r.readU32();
      d.retry = r.readU32();
      d.expire = r.readU32();
      d.minimum = r.readU32();
      out = std::move(d);
      break;
    }
    case RRType::SRV: {
      RdataSrv d;
      d.priority = r.readU16();
      d.weight = r.readU16();
      d.port = r.readU16();
      // RFC 2782 forbids compressing the target, but accepting a pointer costs nothing and some senders do.
      d.target = readName(r);
      out = std::move(d);
      break;
    }
    case RRType::TXT: {
      RdataTxt d;
      while (r.ok() && r.offset() < end) {
        const uint8_t len = r.readU8();
        if (r.offset() + len > end) return r.fail("TXT string runs past RDLENGTH");
        auto s = r.readSpan(len);
        d.strings.emplace_back(reinterpret_cast<const char*>(s.data()), s.size());
      }
      out = std::move(d);
      break;
    }
    default: {
      auto s = r.readSpan(rdlength);
      out = RdataOpaque{std::vector<uint8_t>(s.begin(), s.end())};
      return;
    }
  }
  if (r.ok() && r.offset() != end) r.fail("RDATA length disagrees with its contents");
}

// Parses the OPT record's fields into Edns (RFC 6891 §6.1.2-3). `rr` was read by readRecord().
void decodeOpt(WireReader& r, const ResourceRecord& rr, Edns& e) {
  if (!rr.owner.isRoot()) return r.fail("OPT owner is not the root");
  e.udpPayload = static_cast<uint16_t>(rr.cls);
  e.extendedRcode = static_cast<uint8_t>(rr.ttl >> 24);
  e.version = static_cast<uint8_t>(rr.ttl >> 16);
  e.dnssecOk = rr.ttl & 0x8000;
  e.zFlags = static_cast<uint16_t>(rr.ttl & 0x7FFF);
  const auto* raw = std::get_if<RdataOpaque>(&rr.rdata);
  if (raw == nullptr) return r.fail("OPT RDATA");
  WireReader o(raw->bytes.data(), raw->bytes.size());
  while (o.ok() && o.remaining() > 0) {
    EdnsOption opt;
    opt.code = o.readU16();
    const uint16_t len = o.readU16();
    auto data = o.readSpan(len);
    opt.data.assign(data.begin(), data.end());
    if (o.ok()) e.options.push_back(std::move(opt));
  }
  if (!o.ok()) r.fail("EDNS option runs past the OPT RDATA");
}

const char* sectionName(int s) {
  static const char* names[] = {"question", "answer", "authority", "additional"};
  return names[s];
}

}  // namespace

Rcode Message::rcode() const {
  uint16_t v = header.rcodeLow;
  if (edns) v = static_cast<uint16_t>(v | edns->extendedRcode << 4);
  return static_cast<Rcode>(v);
}

void Message::setRcode(Rcode r) {
  const auto v = static_cast<uint16_t>(r);
  header.rcodeLow = static_cast<uint8_t>(v & 0xF);
  if (edns) edns->extendedRcode = static_cast<uint8_t>(v >> 4);
}

void readRecord(WireReader& r, ResourceRecord& out) {
  out.owner = readName(r);
  out.type = static_cast<RRType>(r.readU16());
  out.cls = static_cast<RRClass>(r.readU16());
  out.ttl = r.readU32();
  const uint16_t rdlength = r.readU16();
  if (!r.ok()) return;
  // OPT RDATA is a list of options, read it raw here and decode it in decodeOpt().
  readRdata(r, out.type == RRType::OPT ? static_cast<RRType>(0) : out.type, rdlength, out.rdata);
}

Result<Message> parseMessage(std::span<const uint8_t> bytes) {
  WireReader r(bytes);
  Message m;
  m.header = readHeader(r);
  if (!r.ok()) return Error(strCat("dns message: ", bytes.size(), " bytes, shorter than the header"));
  // Each record takes at least 11 octets (5 for a question): reject absurd counts before reserving.
  const size_t rrs = size_t{m.header.ancount} + m.header.nscount + m.header.arcount;
  if (size_t{m.header.qdcount} * 5 + rrs * 11 > r.remaining())
    return Error(strCat("dns message: counts (qd ", m.header.qdcount, " an ", m.header.ancount, " ns ",
                        m.header.nscount, " ar ", m.header.arcount, ") exceed the ", bytes.size(), " bytes"));
  m.questions.resize(m.header.qdcount);
  for (size_t i = 0; i < m.header.qdcount; ++i) {
    Question& q = m.questions[i];
    q.name = readName(r);
    q.type = static_cast<RRType>(r.readU16());
    q.cls = static_cast<RRClass>(r.readU16());
    if (!r.ok()) return Error(strCat("dns message: question ", i, ": ", r.error()));
  }
  std::vector<ResourceRecord>* sections[3] = {&m.answers, &m.authority, &m.additional};
  const uint16_t counts[3] = {m.header.ancount, m.header.nscount, m.header.arcount};
  for (int s = 0; s < 3; ++s) {
    sections[s]->reserve(counts[s]);
    for (size_t i = 0; i < counts[s]; ++i) {
      ResourceRecord rr;
      readRecord(r, rr);
      if (r.ok() && rr.type == RRType::OPT) {
        if (s != 2) r.fail("OPT outside the additional section");
        else if (m.edns) r.fail("more than one OPT record (RFC 6891 §6.1.1)");
        else decodeOpt(r, rr, m.edns.emplace());
        if (r.ok()) continue;
      }
      if (!r.ok())
        return Error(strCat("dns message: ", sectionName(s + 1), " record ", i, " at offset ", r.offset(), ": ",
                            r.error()));
      sections[s]->push_back(std::move(rr));
    }
  }
  if (r.remaining() != 0)
    return Error(strCat("dns message: ", r.remaining(), " trailing bytes after the last record"));
  return m;
}

bool writeRecord(WireWriter& w, NameCompressor& c, const ResourceRecord& rr) {
  c.write(w, rr.owner);
  w.writeU16(static_cast<uint16_t>(rr.type));
  w.writeU16(static_cast<uint16_t>(rr.cls));
  w.writeU32(rr.ttl);
  const size_t lenAt = w.size();
  w.writeU16(0);
  const size_t start = w.size();
  bool good = true;
  std::visit(
      [&](const auto& d) {
        using T = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<T, RdataA>) {
          good = rr.type == RRType::A && d.addr.isV4();
          if (good) w.writeBytes(d.addr.data(), 4);
        } else if constexpr (std::is_same_v<T, RdataAAAA>) {
          good = rr.type == RRType::AAAA && d.addr.isV6();
          if (good) w.writeBytes(d.addr.data(), 16);
        } else if constexpr (std::is_same_v<T, RdataName>) {
          good = rr.type == RRType::NS || rr.type == RRType::CNAME || rr.type == RRType::PTR;
          if (good) c.write(w, d.name);
        } else if constexpr (std::is_same_v<T, RdataMx>) {
          good = rr.type == RRType::MX;
          w.writeU16(d.preference);
          c.write(w, d.exchange);
        } else if constexpr (std::is_same_v<T, RdataSoa>) {
          good = rr.type == RRType::SOA;
          c.write(w, d.mname);
          c.write(w, d.rname);
          w.writeU32(d.serial);
          w.writeU32(d.refresh);
          w.writeU32(d.retry);
          w.writeU32(d.expire);
          w.writeU32(d.minimum);
        } else if constexpr (std::is_same_v<T, RdataSrv>) {
          good = rr.type == RRType::SRV;
          w.writeU16(d.priority);
          w.writeU16(d.weight);
          w.writeU16(d.port);
          c.writeUncompressed(w, d.target);
        } else if constexpr (std::is_same_v<T, RdataTxt>) {
          good = rr.type == RRType::TXT;
          for (const auto& s : d.strings) {
            if (s.size() > 255) good = false;
            if (!good) break;
            w.writeU8(static_cast<uint8_t>(s.size()));
            w.writeBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
          }
        } else {
          // Raw RDATA for types we do not model (RFC 3597); also empty RDATA for any type.
          good = rr.type != RRType::OPT;
          w.writeBytes(d.bytes.data(), d.bytes.size());
        }
      },
      rr.rdata);
  if (w.ok()) w.patchU16(lenAt, static_cast<uint16_t>(w.size() - start));
  return good;
}

Result<std::vector<uint8_t>> composeMessage(const Message& m) {
  std::vector<uint8_t> buf(kMaxMessageSize);
  WireWriter w(buf.data(), buf.size());
  NameCompressor c;
  Header h = m.header;
  if (m.questions.size() > 0xFFFF || m.answers.size() > 0xFFFF || m.authority.size() > 0xFFFF ||
      m.additional.size() + (m.edns ? 1 : 0) > 0xFFFF)
    return Error("dns compose: more than 65535 entries in a section");
  h.qdcount = static_cast<uint16_t>(m.questions.size());
  h.ancount = static_cast<uint16_t>(m.answers.size());
  h.nscount = static_cast<uint16_t>(m.authority.size());
  h.arcount = static_cast<uint16_t>(m.additional.size() + (m.edns ? 1 : 0));
  writeHeader(w, h);
  for (const auto& q : m.questions) {
    c.write(w, q.name);
    w.writeU16(static_cast<uint16_t>(q.type));
    w.writeU16(static_cast<uint16_t>(q.cls));
  }
  const std::vector<ResourceRecord>* sections[3] = {&m.answers, &m.authority, &m.additional};
  for (int s = 0; s < 3; ++s) {
    for (size_t i = 0; i < sections[s]->size(); ++i) {
      const ResourceRecord& rr = (*sections[s])[i];
      if (!writeRecord(w, c, rr))
        return Error(strCat("dns compose: ", sectionName(s + 1), " record ", i, " (", rr.owner.toText(), " ",
                            rrTypeName(rr.type), "): RDATA does not suit the type"));
    }
  }
  if (m.edns) writeOpt(w, *m.edns);
  if (!w.ok()) return Error("dns compose: message larger than 65535 bytes");
  buf.resize(w.size());
  return buf;
}

}  // namespace nodenet::dns
