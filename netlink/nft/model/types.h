// Value types of the nftables model: families, data types, packet fields and typed values.
//
// Pure and header-only: proxy/rules builds rulesets from these without linking any kernel code. Numeric
// constants mirror the kernel UAPI (linux/netfilter/nf_tables.h, linux/netfilter.h) and nft's datatype ids
// (nftables src/datatype.h); each is commented where it is defined because this folder must not include
// kernel headers.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

#include "base/ip.h"
#include "base/strings.h"

namespace nodenet::nft {

/// Table family. Values are the kernel's NFPROTO_* numbers.
enum class Family : uint8_t {
  Inet = 1,  // NFPROTO_INET: IPv4 and IPv6 in one table
  Ip = 2,    // NFPROTO_IPV4
  Ip6 = 10,  // NFPROTO_IPV6
  Bridge = 7,  // NFPROTO_BRIDGE: frames crossing a Linux bridge (macspoofchk)
};

inline const char* familyName(Family f) {
  switch (f) {
    case Family::Inet: return "inet";
    case Family::Ip: return "ip";
    case Family::Ip6: return "ip6";
    case Family::Bridge: return "bridge";
  }
  return "?";
}

/// A fixed-capacity vector stored inline (no heap): set keys and concatenations have at most kMax parts.
/// Overflow is remembered instead of aborting so that Transaction validation can report it as an error.
template <typename T, size_t N>
class InlineVec {
 public:
  InlineVec() = default;
  InlineVec(std::initializer_list<T> items) {
    for (const T& t : items) push_back(t);
  }
  void push_back(const T& t) {
    if (size_ == N) {
      overflow_ = true;
      return;
    }
    items_[size_++] = t;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool overflowed() const { return overflow_; }
  static constexpr size_t capacity() { return N; }
  const T& operator[](size_t i) const { return items_[i]; }
  T& operator[](size_t i) { return items_[i]; }
  const T* begin() const { return items_.data(); }
  const T* end() const { return items_.data() + size_; }
  bool operator==(const InlineVec& o) const { return size_ == o.size_ && std::equal(begin(), end(), o.begin()); }
  bool operator<(const InlineVec& o) const {
    return std::lexicographical_compare(begin(), end(), o.begin(), o.end());
  }

 private:
  std::array<T, N> items_{};
  uint8_t size_ = 0;
  bool overflow_ = false;
};

/// Key and data types of sets and maps (nft's `type` names).
enum class DataType : uint8_t { Ipv4Addr, Ipv6Addr, InetProto, InetService, Mark, Integer, Ifname, Verdict, EtherAddr };

struct DataTypeInfo {
  const char* name;     // nft's name in `type ...;`
  uint32_t kernelType;  // nft's datatype id, stored by the kernel as NFTA_SET_KEY_TYPE (nftables src/datatype.h)
  uint8_t len;          // bytes of one value
  bool hostOrder;       // nft's byte order for the type (set udata): host (mark, integer, strings) or network
};

inline const DataTypeInfo& dataTypeInfo(DataType t) {
  // Ids: TYPE_VERDICT 1, TYPE_INTEGER 4, TYPE_IPADDR 7, TYPE_IP6ADDR 8, TYPE_INET_PROTOCOL 12,
  // TYPE_INET_SERVICE 13, TYPE_MARK 19, TYPE_IFNAME 41, TYPE_ETHERADDR 9. Verdict data has no fixed length (the
  // kernel sizes it).
  static const DataTypeInfo kInfo[] = {
      {"ipv4_addr", 7, 4, false},   {"ipv6_addr", 8, 16, false}, {"inet_proto", 12, 1, false},
      {"inet_service", 13, 2, false}, {"mark", 19, 4, true},      {"integer", 4, 4, true},
      // nft's string type (ifname) is host-endian: a set announced otherwise is printed as "" by nft.
      {"ifname", 41, 16, true},     {"verdict", 1, 0, false},   {"ether_addr", 9, 6, false},
  };
  return kInfo[static_cast<size_t>(t)];
}

/// nft composes the type id of a concatenation by shifting each part's id by TYPE_BITS (6) bits.
constexpr unsigned kTypeBits = 6;
/// Each part of a concatenated key occupies whole 32-bit registers (NFT_REG32_SIZE).
constexpr size_t kRegSize = 4;
inline size_t roundUpReg(size_t len) { return (len + kRegSize - 1) / kRegSize * kRegSize; }

/// Packet and metadata fields that rules load and compare ("ip saddr", "th dport", "ct state", ...).
enum class Field : uint8_t {
  IpSaddr, IpDaddr, Ip6Saddr, Ip6Daddr,
  ThSport, ThDport, TcpSport, TcpDport, UdpSport, UdpDport,
  MetaL4proto, MetaNfproto, MetaMark, MetaIifname, MetaOifname,
  CtState, CtMark, CtOriginalIpSaddr, CtOriginalIpDaddr, CtOriginalIp6Saddr, CtOriginalIp6Daddr,
  CtOriginalProtoDst,
  FibDaddrType,
  EtherSaddr,  // bridge family: the Ethernet source address (link-layer header offset 6)
  FibSaddrType,  // the route type of the source address ("fib saddr type local": sent by this host)
};

struct FieldInfo {
  const char* text;  // nft syntax
  DataType type;     // the type of values it yields (Integer for nfproto/ct state/fib type)
  uint8_t len;       // bytes loaded into the register
};

inline const FieldInfo& fieldInfo(Field f) {
  static const FieldInfo kInfo[] = {
      {"ip saddr", DataType::Ipv4Addr, 4},
      {"ip daddr", DataType::Ipv4Addr, 4},
      {"ip6 saddr", DataType::Ipv6Addr, 16},
      {"ip6 daddr", DataType::Ipv6Addr, 16},
      {"th sport", DataType::InetService, 2},
      {"th dport", DataType::InetService, 2},
      {"tcp sport", DataType::InetService, 2},
      {"tcp dport", DataType::InetService, 2},
      {"udp sport", DataType::InetService, 2},
      {"udp dport", DataType::InetService, 2},
      {"meta l4proto", DataType::InetProto, 1},
      {"meta nfproto", DataType::Integer, 1},
      {"meta mark", DataType::Mark, 4},
      {"iifname", DataType::Ifname, 16},
      {"oifname", DataType::Ifname, 16},
      {"ct state", DataType::Integer, 4},
      {"ct mark", DataType::Mark, 4},
      {"ct original ip saddr", DataType::Ipv4Addr, 4},
      {"ct original ip daddr", DataType::Ipv4Addr, 4},
      {"ct original ip6 saddr", DataType::Ipv6Addr, 16},
      {"ct original ip6 daddr", DataType::Ipv6Addr, 16},
      {"ct original proto-dst", DataType::InetService, 2},
      {"fib daddr type", DataType::Integer, 4},
      {"ether saddr", DataType::EtherAddr, 6},
      {"fib saddr type", DataType::Integer, 4},
  };
  return kInfo[static_cast<size_t>(f)];
}

/// True for fields that only exist for IPv4 (IPv6) packets; used to check table families.
inline bool fieldIsV4(Field f) {
  return f == Field::IpSaddr || f == Field::IpDaddr || f == Field::CtOriginalIpSaddr || f == Field::CtOriginalIpDaddr;
}
inline bool fieldIsV6(Field f) {
  return f == Field::Ip6Saddr || f == Field::Ip6Daddr || f == Field::CtOriginalIp6Saddr ||
         f == Field::CtOriginalIp6Daddr;
}

/// Conntrack state bits (NF_CT_STATE_BIT(IP_CT_*) in linux/netfilter/nf_conntrack_common.h).
namespace ct {
constexpr uint32_t kInvalid = 1u << 0;
constexpr uint32_t kEstablished = 1u << 1;
constexpr uint32_t kRelated = 1u << 2;
constexpr uint32_t kNew = 1u << 3;
constexpr uint32_t kUntracked = 1u << 6;
}  // namespace ct

/// Route types that `fib daddr type` yields (RTN_* in linux/rtnetlink.h).
enum class FibAddrType : uint8_t { Unicast = 1, Local = 2, Broadcast = 3, Anycast = 4, Multicast = 5 };

/// One typed value: a key part of a set element, the right-hand side of a comparison or map data.
/// 20 bytes, no heap, so 100k elements cost no allocations for their keys.
class Value {
 public:
  enum class Kind : uint8_t { Ipv4, Ipv6, Prefix4, Prefix6, Proto, Port, Mark, Integer, Ifname, CtState, FibType, Nfproto, Ether };

  Value() = default;
  static Value ip(const IpAddress& a) {
    Value v(a.isV4() ? Kind::Ipv4 : Kind::Ipv6);
    std::memcpy(v.bytes_.data(), a.data(), a.size());
    return v;
  }
  /// A prefix ("10.85.0.0/16"); host bits are cleared.
  static Value prefix(const Cidr& c) {
    Value v = ip(c.network());
    v.kind_ = c.family() == IpFamily::V4 ? Kind::Prefix4 : Kind::Prefix6;
    v.prefixLen_ = static_cast<uint8_t>(c.prefix());
    return v;
  }
  static Value proto(L4Proto p) { return num(Kind::Proto, static_cast<uint32_t>(p)); }
  static Value port(uint16_t p) { return num(Kind::Port, p); }
  static Value mark(uint32_t m) { return num(Kind::Mark, m); }
  static Value integer(uint32_t i) { return num(Kind::Integer, i); }
  /// A bitmask of ct::k* bits.
  static Value ctState(uint32_t bits) { return num(Kind::CtState, bits); }
  static Value fibType(FibAddrType t) { return num(Kind::FibType, static_cast<uint32_t>(t)); }
  static Value nfproto(IpFamily f) { return num(Kind::Nfproto, f == IpFamily::V4 ? 2 : 10); }
  /// An interface name; names of 16 bytes or more are invalid (IFNAMSIZ includes the NUL).
  static Value ifname(std::string_view name) {
    Value v(Kind::Ifname);
    if (name.size() >= 16) {
      v.prefixLen_ = 0xff;  // marks the value invalid; see valid()
      name = name.substr(0, 15);
    }
    std::memcpy(v.bytes_.data(), name.data(), name.size());
    return v;
  }

  /// A 48-bit Ethernet address.
  static Value ether(const uint8_t mac[6]) {
    Value v(Kind::Ether);
    std::memcpy(v.bytes_.data(), mac, 6);
    return v;
  }

  Kind kind() const { return kind_; }
  bool valid() const { return !(kind_ == Kind::Ifname && prefixLen_ == 0xff); }
  bool isPrefix() const { return kind_ == Kind::Prefix4 || kind_ == Kind::Prefix6; }
  bool isAddress() const { return kind_ == Kind::Ipv4 || kind_ == Kind::Ipv6; }
  IpAddress address() const {
    return IpAddress::fromBytes(kind_ == Kind::Ipv4 || kind_ == Kind::Prefix4 ? IpFamily::V4 : IpFamily::V6,
                                bytes_.data());
  }
  unsigned prefixLen() const { return prefixLen_; }
  uint32_t number() const {
    uint32_t n;
    std::memcpy(&n, bytes_.data(), 4);
    return n;
  }
  std::string_view ifname() const { return std::string_view(reinterpret_cast<const char*>(bytes_.data())); }

  /// The data type this value belongs to (what a set key part or field must have).
  DataType dataType() const {
    switch (kind_) {
      case Kind::Ipv4: case Kind::Prefix4: return DataType::Ipv4Addr;
      case Kind::Ipv6: case Kind::Prefix6: return DataType::Ipv6Addr;
      case Kind::Proto: return DataType::InetProto;
      case Kind::Port: return DataType::InetService;
      case Kind::Mark: return DataType::Mark;
      case Kind::Ifname: return DataType::Ifname;
      case Kind::Ether: return DataType::EtherAddr;
      default: return DataType::Integer;
    }
  }

  /// Length in bytes as the kernel compares it (a prefix encodes its network address).
  size_t wireLen() const {
    switch (kind_) {
      case Kind::Ipv4: case Kind::Prefix4: return 4;
      case Kind::Ipv6: case Kind::Prefix6: return 16;
      case Kind::Proto: case Kind::Nfproto: return 1;
      case Kind::Port: return 2;
      case Kind::Ifname: return 16;
      case Kind::Ether: return 6;
      default: return 4;
    }
  }

  /// Writes the kernel representation (network order for addresses/ports, host order for marks and
  /// integers) into out, which must hold 16 bytes. Returns wireLen().
  size_t encode(uint8_t* out) const {
    size_t n = wireLen();
    switch (kind_) {
      case Kind::Port: {
        uint16_t p = static_cast<uint16_t>(number());
        out[0] = static_cast<uint8_t>(p >> 8);
        out[1] = static_cast<uint8_t>(p & 0xff);
        break;
      }
      case Kind::Proto: case Kind::Nfproto: out[0] = static_cast<uint8_t>(number()); break;
      default: std::memcpy(out, bytes_.data(), n); break;
    }
    return n;
  }

  /// Decodes a value of the given data type from kernel bytes (the inverse of encode()).
  static Value decode(DataType t, const uint8_t* data, size_t len) {
    uint32_t n = 0;
    switch (t) {
      case DataType::Ipv4Addr: return len >= 4 ? ip(IpAddress::fromBytes(IpFamily::V4, data)) : Value();
      case DataType::Ipv6Addr: return len >= 16 ? ip(IpAddress::fromBytes(IpFamily::V6, data)) : Value();
      case DataType::InetProto: return len >= 1 ? proto(static_cast<L4Proto>(data[0])) : Value();
      case DataType::InetService: return len >= 2 ? port(static_cast<uint16_t>(data[0] << 8 | data[1])) : Value();
      case DataType::Ifname: {
        size_t l = strnlen(reinterpret_cast<const char*>(data), std::min<size_t>(len, 15));
        return ifname(std::string_view(reinterpret_cast<const char*>(data), l));
      }
      case DataType::Mark:
        if (len >= 4) std::memcpy(&n, data, 4);
        return mark(n);
      case DataType::EtherAddr: return len >= 6 ? ether(data) : Value();
      default:
        if (len >= 4) std::memcpy(&n, data, 4);
        return integer(n);
    }
  }

  /// nft syntax: "10.0.0.1", "10.0.0.0/8", "tcp", "80", "0x00004000", "\"eth0\"", "established,related", "local".
  std::string toString() const {
    switch (kind_) {
      case Kind::Ipv4: case Kind::Ipv6: return address().toString();
      case Kind::Prefix4: case Kind::Prefix6: return strCat(address().toString(), "/", unsigned(prefixLen_));
      case Kind::Proto: {
        uint32_t p = number();
        if (p == 6 || p == 17 || p == 132) return l4ProtoName(static_cast<L4Proto>(p));
        return std::to_string(p);
      }
      case Kind::Port: case Kind::Integer: return std::to_string(number());
      case Kind::Mark: {
        char buf[16];
        snprintf(buf, sizeof buf, "0x%08x", number());
        return buf;
      }
      case Kind::Ifname: return strCat("\"", ifname(), "\"");
      case Kind::CtState: {
        static const std::pair<uint32_t, const char*> kNames[] = {{ct::kInvalid, "invalid"},
                                                                  {ct::kEstablished, "established"},
                                                                  {ct::kRelated, "related"},
                                                                  {ct::kNew, "new"},
                                                                  {ct::kUntracked, "untracked"}};
        std::string s;
        for (auto& [bit, name] : kNames)
          if (number() & bit) s += (s.empty() ? "" : ",") + std::string(name);
        return s.empty() ? "0x0" : s;
      }
      case Kind::FibType: {
        static const char* kNames[] = {"unspec", "unicast", "local", "broadcast", "anycast", "multicast"};
        return number() < 6 ? kNames[number()] : std::to_string(number());
      }
      case Kind::Nfproto: return number() == 2 ? "ipv4" : number() == 10 ? "ipv6" : std::to_string(number());
      case Kind::Ether: {
        char buf[18];
        snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes_[0], bytes_[1], bytes_[2], bytes_[3],
                 bytes_[4], bytes_[5]);
        return buf;
      }
    }
    return "?";
  }

  bool operator==(const Value& o) const = default;
  bool operator<(const Value& o) const {
    if (kind_ != o.kind_) return kind_ < o.kind_;
    if (kind_ == Kind::Port || kind_ == Kind::Proto || kind_ == Kind::Mark || kind_ == Kind::Integer)
      return number() < o.number();
    if (bytes_ != o.bytes_) return bytes_ < o.bytes_;
    return prefixLen_ < o.prefixLen_;
  }

 private:
  explicit Value(Kind k) : kind_(k) {}
  static Value num(Kind k, uint32_t n) {
    Value v(k);
    std::memcpy(v.bytes_.data(), &n, 4);
    return v;
  }

  std::array<uint8_t, 16> bytes_{};
  Kind kind_ = Kind::Integer;
  uint8_t prefixLen_ = 0;
};

/// A set key: one value or a concatenation ("10.0.0.1 . tcp . 80").
using Key = InlineVec<Value, 4>;
/// The fields that build a key in a rule: "ip daddr . meta l4proto . th dport".
using Concat = InlineVec<Field, 4>;
/// A set's key type: "ipv4_addr . inet_proto . inet_service".
using KeyType = InlineVec<DataType, 4>;

inline std::string keyToString(const Key& k) {
  std::string s;
  for (size_t i = 0; i < k.size(); ++i) s += (i ? " . " : "") + k[i].toString();
  return s;
}
inline std::string concatToString(const Concat& c) {
  std::string s;
  for (size_t i = 0; i < c.size(); ++i) s += (i ? " . " : "") + std::string(fieldInfo(c[i]).text);
  return s;
}
inline std::string keyTypeToString(const KeyType& k) {
  std::string s;
  for (size_t i = 0; i < k.size(); ++i) s += (i ? " . " : "") + std::string(dataTypeInfo(k[i]).name);
  return s;
}

/// Bytes of a key as stored by the kernel: a single part keeps its length; each part of a concatenation
/// is padded to whole 32-bit registers.
inline size_t keyTypeLen(const KeyType& k) {
  if (k.size() == 1) return dataTypeInfo(k[0]).len;
  size_t n = 0;
  for (DataType t : k) n += roundUpReg(dataTypeInfo(t).len);
  return n;
}

/// nft's composed type id of a key (each part shifted by kTypeBits).
inline uint32_t keyTypeId(const KeyType& k) {
  uint32_t id = 0;
  for (DataType t : k) id = (id << kTypeBits) | dataTypeInfo(t).kernelType;
  return id;
}

/// Durations the way nft prints them: "3h", "1m30s", "500ms".
inline std::string durationToString(uint64_t ms) {
  if (ms == 0) return "0s";
  std::string s;
  const std::pair<uint64_t, const char*> kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto& [unit, name] : kUnits) {
    if (ms >= unit) {
      s += std::to_string(ms / unit) + name;
      ms %= unit;
    }
  }
  return s;
}

/// Quotes a comment for nft syntax. Comments must not contain '"' (validated by Transaction).
inline std::string nftQuote(std::string_view s) { return strCat("\"", s, "\""); }

}  // namespace nodenet::nft
