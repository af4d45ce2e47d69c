// Socket addresses as the DNS server's flags spell them: "127.0.0.1:53", "[::1]:53", an upstream without a
// port ("10.0.0.10" = port 53), and the nameservers of a resolv.conf file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nodenet::dns::server {

/// The DNS port (RFC 1035 §4.2).
inline constexpr uint16_t kDnsPort = 53;

/// An IP address and a port.
struct SocketAddress {
  IpAddress ip;
  uint16_t port = kDnsPort;

  /// "127.0.0.1:53" or "[::1]:53".
  std::string toString() const;
  bool operator==(const SocketAddress&) const = default;
};

/// Parses "ADDR:PORT" where ADDR is IPv4 dotted-quad or a bracketed IPv6 literal ("[::]:53"). Port 0 asks the
/// kernel for a free port (tests). Errors name the input: `--listen "x": ...`.
Result<SocketAddress> parseListenAddress(std::string_view text);

/// Parses an upstream server: "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT"; a bare IPv6 literal ("fd00::10") is
/// accepted too and means port 53. Port 0 is refused.
Result<SocketAddress> parseUpstreamAddress(std::string_view text);

/// The `nameserver` entries of a resolv.conf text (resolv.conf(5)): one address per line, comments with '#'
/// or ';', IPv6 zone suffixes ("fe80::1%eth0") are dropped with the entry (c-ares cannot use them here).
/// Unparsable entries are skipped; the order is kept.
std::vector<SocketAddress> parseResolvConf(std::string_view text);

/// Reads `path` and returns parseResolvConf() of it. Errors: the file cannot be read (errno kept).
Result<std::vector<SocketAddress>> readResolvConf(const std::string& path);

}  // namespace nodenet::dns::server
