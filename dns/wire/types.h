// DNS protocol constants and small value types: RR types and classes, opcodes, rcodes, header flags,
// typed RDATA and resource records. Values follow the IANA DNS parameters registry.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "base/ip.h"
#include "dns/wire/name.h"

namespace nodenet::dns {

/// Size of the fixed DNS header (RFC 1035 §4.1.1).
inline constexpr size_t kHeaderSize = 12;
/// The UDP response limit without EDNS (RFC 1035 §4.2.1).
inline constexpr uint16_t kClassicUdpLimit = 512;

/// RR TYPE values. Any 16-bit value is representable: use static_cast for types without a name here.
enum class RRType : uint16_t {
  A = 1,
  NS = 2,
  CNAME = 5,
  SOA = 6,
  PTR = 12,
  MX = 15,
  TXT = 16,
  AAAA = 28,
  SRV = 33,
  OPT = 41,
  IXFR = 251,
  AXFR = 252,
  ANY = 255,
};

/// CLASS values (RFC 1035 §3.2.4, §3.2.5).
enum class RRClass : uint16_t { IN = 1, CH = 3, NONE = 254, ANY = 255 };

/// OPCODE values (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
enum class Opcode : uint8_t { Query = 0, IQuery = 1, Status = 2, Notify = 4, Update = 5 };

/// RCODE values including extended ones (12 bits: the low 4 in the header, the high 8 in OPT; RFC 6891 §6.1.3).
enum class Rcode : uint16_t {
  NoError = 0,
  FormErr = 1,
  ServFail = 2,
  NXDomain = 3,
  NotImp = 4,
  Refused = 5,
  BadVers = 16,
};

/// "A", "AAAA", ... or "TYPE1234" (RFC 3597 §5) for types without a mnemonic here.
std::string rrTypeName(RRType t);
/// "NOERROR", "FORMERR", ... or "RCODE23".
std::string rcodeName(Rcode r);

/// Header flag bits in the second 16-bit word (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD/CD).
namespace flags {
inline constexpr uint16_t QR = 0x8000;
inline constexpr uint16_t AA = 0x0400;
inline constexpr uint16_t TC = 0x0200;
inline constexpr uint16_t RD = 0x0100;
inline constexpr uint16_t RA = 0x0080;
inline constexpr uint16_t AD = 0x0020;
inline constexpr uint16_t CD = 0x0010;
inline constexpr uint16_t kOpcodeShift = 11;
inline constexpr uint16_t kOpcodeMask = 0x7800;
inline constexpr uint16_t kRcodeMask = 0x000F;
}  // namespace flags

/// The decoded fixed header. `rcode` here is only the 4 header bits; Message::rcode() adds the OPT bits.
struct Header {
  uint16_t id = 0;
  bool qr = false;
  Opcode opcode = Opcode::Query;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  bool ad = false;
  bool cd = false;
  uint8_t rcodeLow = 0;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;

  /// The flags word as on the wire (the Z bit is always written as zero).
  uint16_t flagsWord() const;
  bool operator==(const Header&) const = default;
};

/// Reads the 12-byte header; sets the reader's sticky error when fewer than 12 bytes are there.
Header readHeader(WireReader& r);
/// Writes the 12-byte header.
void writeHeader(WireWriter& w, const Header& h);

struct Question {
  Name name;
  RRType type = RRType::A;
  RRClass cls = RRClass::IN;
  bool operator==(const Question& o) const { return name == o.name && type == o.type && cls == o.cls; }
};

/// A (RFC 1035 §3.4.1): one IPv4 address.
struct RdataA {
  IpAddress addr;
  bool operator==(const RdataA&) const = default;
};
/// AAAA (RFC 3596 §2.2): one IPv6 address.
struct RdataAAAA {
  IpAddress addr;
  bool operator==(const RdataAAAA&) const = default;
};
/// The RDATA of NS, CNAME and PTR: a single domain name (compressible, RFC 3597 §4).
struct RdataName {
  Name name;
  bool operator==(const RdataName&) const = default;
};
/// MX (RFC 1035 §3.3.9).
struct RdataMx {
  uint16_t preference = 0;
  Name exchange;
  bool operator==(const RdataMx&) const = default;
};
/// SOA (RFC 1035 §3.3.13).
struct RdataSoa {
  Name mname;
  Name rname;
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;
  bool operator==(const RdataSoa&) const = default;
};
/// SRV (RFC 2782). The target is never compressed when written.
struct RdataSrv {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  Name target;
  bool operator==(const RdataSrv&) const = default;
};
/// TXT (RFC 1035 §3.3.14): one or more character-strings of at most 255 octets each.
struct RdataTxt {
  std::vector<std::string> strings;
  bool operator==(const RdataTxt&) const = default;
};
/// Any other type, kept as the raw RDATA octets (RFC 3597: no compression inside, so this is exact).
struct RdataOpaque {
  std::vector<uint8_t> bytes;
  bool operator==(const RdataOpaque&) const = default;
};

using Rdata = std::variant<RdataA, RdataAAAA, RdataName, RdataMx, RdataSoa, RdataSrv, RdataTxt, RdataOpaque>;

/// A resource record. The RDATA alternative must suit the type: RdataA for A, RdataAAAA for AAAA,
/// RdataName for NS/CNAME/PTR, RdataMx, RdataSoa, RdataSrv, RdataTxt, and RdataOpaque for anything else.
/// OPT never appears here: EDNS lives in Message::edns / Query::edns.
struct ResourceRecord {
  Name owner;
  RRType type = RRType::A;
  RRClass cls = RRClass::IN;
  uint32_t ttl = 0;
  Rdata rdata;
  bool operator==(const ResourceRecord& o) const {
    return owner == o.owner && type == o.type && cls == o.cls && ttl == o.ttl && rdata == o.rdata;
  }
};

/// Convenience constructors for the common records.
ResourceRecord makeA(const Name& owner, uint32_t ttl, const IpAddress& v4);
ResourceRecord makeAAAA(const Name& owner, uint32_t ttl, const IpAddress& v6);
/// NS, CNAME or PTR.
ResourceRecord makeNameRecord(const Name& owner, RRType type, uint32_t ttl, const Name& target);
ResourceRecord makeSrv(const Name& owner, uint32_t ttl, uint16_t priority, uint16_t weight, uint16_t port,
                       const Name& target);
ResourceRecord makeTxt(const Name& owner, uint32_t ttl, std::vector<std::string> strings);

/// One EDNS option (RFC 6891 §6.1.2), kept opaque.
struct EdnsOption {
  uint16_t code = 0;
  std::vector<uint8_t> data;
  bool operator==(const EdnsOption&) const = default;
};

/// The OPT pseudo-record's contents (RFC 6891 §6.1.2-3).
struct Edns {
  /// Requestor's UDP payload size as sent (CLASS field); parseQuery() clamps its copy to [512, 65535].
  uint16_t udpPayload = 1232;
  /// The upper 8 bits of the 12-bit RCODE (TTL bits 24-31).
  uint8_t extendedRcode = 0;
  uint8_t version = 0;
  /// DNSSEC OK (RFC 3225).
  bool dnssecOk = false;
  /// The other 15 flag bits as received (must be zero when sent, RFC 6891 §6.1.4).
  uint16_t zFlags = 0;
  std::vector<EdnsOption> options;
  bool operator==(const Edns&) const = default;
};

/// Bytes an OPT record with these options occupies on the wire.
size_t ednsWireSize(const Edns& e);
/// Writes an OPT record (root owner) for `e`, with the given extended rcode bits.
void writeOpt(WireWriter& w, const Edns& e);

}  // namespace nodenet::dns
