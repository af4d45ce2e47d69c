// IP address, CIDR prefix and port value types. Pure; parsing returns Result with a message naming the input.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace nodenet {

enum class IpFamily : uint8_t { V4 = 4, V6 = 6 };

/// An IPv4 or IPv6 address. IPv4 occupies the first 4 bytes of bytes_; the rest are zero.
class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(uint32_t hostOrder);
  static IpAddress fromBytes(IpFamily family, const uint8_t* bytes);
  /// Parses dotted-quad or RFC 4291 text. IPv4-mapped IPv6 stays IPv6.
  static Result<IpAddress> parse(std::string_view text);

  IpFamily family() const { return family_; }
  bool isV4() const { return family_ == IpFamily::V4; }
  bool isV6() const { return family_ == IpFamily::V6; }
  /// 4 or 16.
  size_t size() const { return isV4() ? 4 : 16; }
  unsigned bits() const { return isV4() ? 32 : 128; }
  const uint8_t* data() const { return bytes_.data(); }
  uint32_t v4HostOrder() const;
  bool isUnspecified() const;

  /// Canonical text (inet_ntop; RFC 5952 for IPv6), as the reference CNI plugins write file names.
  std::string toString() const;
  /// The address plus delta (may be negative); wraps within the family.
  IpAddress offset(int64_t delta) const;
  IpAddress next() const { return offset(1); }
  IpAddress prev() const { return offset(-1); }

  auto operator<=>(const IpAddress&) const = default;
  bool operator==(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::V4;
  std::array<uint8_t, 16> bytes_{};
};

/// An address with a prefix length ("10.85.0.5/16"); the address keeps its host bits (an interface address).
class Cidr {
 public:
  Cidr() = default;
  static Result<Cidr> create(IpAddress addr, unsigned prefix);
  /// Parses "a.b.c.d/n" or "x::/n". Host bits are kept; see network() and isNetwork().
  static Result<Cidr> parse(std::string_view text);

  const IpAddress& address() const { return addr_; }
  unsigned prefix() const { return prefix_; }
  IpFamily family() const { return addr_.family(); }

  /// The network address (host bits cleared).
  IpAddress network() const;
  /// The last address of the prefix (IPv4 broadcast).
  IpAddress last() const;
  /// True when the address has no host bits set.
  bool isNetwork() const { return network() == addr_; }
  Cidr masked() const { return Cidr(network(), prefix_); }
  bool contains(const IpAddress& a) const;
  /// True when the two prefixes share any address.
  bool overlaps(const Cidr& other) const;
  /// Netmask as an address (255.255.0.0 or ffff:ffff::).
  IpAddress mask() const;

  std::string toString() const;
  auto operator<=>(const Cidr&) const = default;
  bool operator==(const Cidr&) const = default;

 private:
  Cidr(IpAddress a, unsigned p) : addr_(a), prefix_(p) {}
  IpAddress addr_;
  unsigned prefix_ = 0;
};

enum class L4Proto : uint8_t { TCP = 6, UDP = 17, SCTP = 132 };
/// "TCP"/"UDP"/"SCTP" (case-insensitive).
Result<L4Proto> parseL4Proto(std::string_view text);
const char* l4ProtoName(L4Proto p);  // "tcp", "udp", "sctp"

}  // namespace nodenet

template <>
struct std::hash<nodenet::IpAddress> {
  size_t operator()(const nodenet::IpAddress& a) const noexcept;
};
