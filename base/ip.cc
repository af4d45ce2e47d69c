#include "base/ip.h"

#include <arpa/inet.h>

#include <cstring>

#include "base/strings.h"

namespace nodenet {

IpAddress IpAddress::v4(uint32_t hostOrder) {
  IpAddress a;
  a.family_ = IpFamily::V4;
  a.bytes_[0] = static_cast<uint8_t>(hostOrder >> 24);
  a.bytes_[1] = static_cast<uint8_t>(hostOrder >> 16);
  a.bytes_[2] = static_cast<uint8_t>(hostOrder >> 8);
  a.bytes_[3] = static_cast<uint8_t>(hostOrder);
  return a;
}

IpAddress IpAddress::fromBytes(IpFamily family, const uint8_t* bytes) {
  IpAddress a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, family == IpFamily::V4 ? 4 : 16);
  return a;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) == 1) {
      a.family_ = IpFamily::V4;
      return a;
    }
  } else if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = IpFamily::V6;
    return a;
  }
  return Error(strCat("invalid IP address \"", s, "\""));
}

uint32_t IpAddress::v4HostOrder() const {
  return (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) | (uint32_t{bytes_[2]} << 8) | bytes_[3];
}

bool IpAddress::isUnspecified() const {
  for (size_t i = 0; i < size(); ++i)
    if (bytes_[i]) return false;
  return true;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(isV4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

IpAddress IpAddress::offset(int64_t delta) const {
  IpAddress out = *this;
  int n = static_cast<int>(size());
  if (delta >= 0) {
    uint64_t carry = static_cast<uint64_t>(delta);
    for (int i = n - 1; i >= 0 && carry; --i) {
      uint64_t sum = out.bytes_[i] + (carry & 0xff);
      out.bytes_[i] = static_cast<uint8_t>(sum);
      carry = (carry >> 8) + (sum >> 8);
    }
  } else {
    uint64_t borrow = static_cast<uint64_t>(-(delta + 1)) + 1;  // |delta| without overflow
    for (int i = n - 1; i >= 0 && borrow; --i) {
      uint64_t sub = borrow & 0xff;
      borrow >>= 8;
      if (out.bytes_[i] < sub) {
        out.bytes_[i] = static_cast<uint8_t>(out.bytes_[i] + 256 - sub);
        borrow += 1;
      } else {
        out.bytes_[i] = static_cast<uint8_t>(out.bytes_[i] - sub);
      }
    }
  }
  return out;
}

Result<Cidr> Cidr::create(IpAddress addr, unsigned prefix) {
  if (prefix > addr.bits())
    return Error(strCat("invalid prefix length ", prefix, " for ", addr.toString()));
  return Cidr(addr, prefix);
}

Result<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return Error(strCat("invalid CIDR \"", text, "\": missing /prefix"));
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return Error(strCat("invalid CIDR \"", text, "\": bad address"));
  std::string_view p = text.substr(slash + 1);
  if (p.empty() || p.size() > 3) return Error(strCat("invalid CIDR \"", text, "\": bad prefix length"));
  unsigned prefix = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return Error(strCat("invalid CIDR \"", text, "\": bad prefix length"));
    prefix = prefix * 10 + static_cast<unsigned>(c - '0');
  }
  if (prefix > addr->bits()) return Error(strCat("invalid CIDR \"", text, "\": prefix length out of range"));
  return Cidr(*addr, prefix);
}

IpAddress Cidr::mask() const {
  uint8_t m[16] = {};
  for (unsigned i = 0; i < prefix_; ++i) m[i / 8] |= static_cast<uint8_t>(0x80u >> (i % 8));
  return IpAddress::fromBytes(family(), m);
}

IpAddress Cidr::network() const {
  uint8_t b[16];
  IpAddress m = mask();
  for (size_t i = 0; i < addr_.size(); ++i) b[i] = addr_.data()[i] & m.data()[i];
  return IpAddress::fromBytes(family(), b);
}

IpAddress Cidr::last() const {
  uint8_t b[16];
  IpAddress m = mask();
  for (size_t i = 0; i < addr_.size(); ++i) b[i] = addr_.data()[i] | static_cast<uint8_t>(~m.data()[i]);
  return IpAddress::fromBytes(family(), b);
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.family() != family()) return false;
  IpAddress m = mask();
  for (size_t i = 0; i < a.size(); ++i)
    if ((a.data()[i] & m.data()[i]) != (addr_.data()[i] & m.data()[i])) return false;
  return true;
}

bool Cidr::overlaps(const Cidr& other) const {
  if (other.family() != family()) return false;
  return contains(other.network()) || other.contains(network());
}

std::string Cidr::toString() const { return addr_.toString() + "/" + std::to_string(prefix_); }

Result<L4Proto> parseL4Proto(std::string_view text) {
  std::string t = toLower(text);
  if (t == "tcp") return L4Proto::TCP;
  if (t == "udp") return L4Proto::UDP;
  if (t == "sctp") return L4Proto::SCTP;
  return Error(strCat("unsupported protocol \"", text, "\""));
}

const char* l4ProtoName(L4Proto p) {
  switch (p) {
    case L4Proto::TCP: return "tcp";
    case L4Proto::UDP: return "udp";
    case L4Proto::SCTP: return "sctp";
  }
  return "?";
}

}  // namespace nodenet

size_t std::hash<nodenet::IpAddress>::operator()(const nodenet::IpAddress& a) const noexcept {
  size_t h = static_cast<size_t>(a.family());
  for (size_t i = 0; i < a.size(); ++i) h = h * 131 + a.data()[i];
  return h;
}
