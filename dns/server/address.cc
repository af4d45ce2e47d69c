#include "dns/server/address.h"

#include "base/file.h"
#include "base/strings.h"

#include <cerrno>
#include <charconv>

namespace nodenet::dns::server {

std::string SocketAddress::toString() const {
  if (ip.isV6()) return "[" + ip.toString() + "]:" + std::to_string(port);
  return ip.toString() + ":" + std::to_string(port);
}

namespace {

Result<uint16_t> parsePort(std::string_view text, std::string_view whole) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v > 65535)
    return Error("\"" + std::string(whole) + "\": port \"" + std::string(text) + "\" is not a number 0-65535");
  return static_cast<uint16_t>(v);
}

// Splits "[v6]:port", "[v6]", "v4:port", "v4" or a bare v6 literal into address text and optional port text.
struct Split {
  std::string_view addr;
  std::string_view port;
  bool hasPort = false;
};

Result<Split> split(std::string_view text) {
  Split s;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos)
      return Error("\"" + std::string(text) + "\": missing ']' after the IPv6 address");
    s.addr = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Error("\"" + std::string(text) + "\": expected ':PORT' after ']'");
      s.port = rest.substr(1);
      s.hasPort = true;
    }
    return s;
  }
  size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    s.addr = text.substr(0, colon);
    s.port = text.substr(colon + 1);
    s.hasPort = true;
  } else {
    s.addr = text;  // IPv4 without port, or an unbracketed IPv6 literal (no port possible)
  }
  return s;
}

}  // namespace

Result<SocketAddress> parseListenAddress(std::string_view text) {
  NN_ASSIGN_OR_RETURN(Split s, split(text));
  if (!s.hasPort)
    return Error("\"" + std::string(text) + "\": expected ADDR:PORT (IPv6 as [ADDR]:PORT), e.g. 0.0.0.0:53");
  auto ip = IpAddress::parse(s.addr);
  if (!ip.ok()) return Error("\"" + std::string(text) + "\": " + ip.error().message());
  if (s.addr.empty() == false && text.front() != '[' && ip->isV6())
    return Error("\"" + std::string(text) + "\": IPv6 addresses need brackets: [ADDR]:PORT");
  NN_ASSIGN_OR_RETURN(uint16_t port, parsePort(s.port, text));
  return SocketAddress{*ip, port};
}

Result<SocketAddress> parseUpstreamAddress(std::string_view text) {
  NN_ASSIGN_OR_RETURN(Split s, split(text));
  auto ip = IpAddress::parse(s.addr);
  if (!ip.ok()) return Error("\"" + std::string(text) + "\": " + ip.error().message());
  SocketAddress a{*ip, kDnsPort};
  if (s.hasPort) {
    NN_ASSIGN_OR_RETURN(a.port, parsePort(s.port, text));
    if (a.port == 0) return Error("\"" + std::string(text) + "\": port 0 is not a server port");
  }
  return a;
}

std::vector<SocketAddress> parseResolvConf(std::string_view text) {
  std::vector<SocketAddress> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    size_t hash = line.find_first_of("#;");
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    auto trimFront = [&](std::string_view& v) {
      while (!v.empty() && isSpace(v.front())) v.remove_prefix(1);
    };
    trimFront(line);
    constexpr std::string_view kKey = "nameserver";
    if (line.substr(0, kKey.size()) != kKey || line.size() == kKey.size() || !isSpace(line[kKey.size()])) continue;
    line.remove_prefix(kKey.size());
    trimFront(line);
    size_t end = 0;
    while (end < line.size() && !isSpace(line[end])) ++end;
    std::string_view addr = line.substr(0, end);
    if (addr.find('%') != std::string_view::npos) continue;  // link-local with a zone: not usable here
    auto ip = IpAddress::parse(addr);
    if (ip.ok()) out.push_back({*ip, kDnsPort});
  }
  return out;
}

Result<std::vector<SocketAddress>> readResolvConf(const std::string& path) {
  auto text = readFile(path);
  if (!text.ok()) return Error(strCat("reading resolv.conf: ", text.error().message()), text.error().sysErrno());
  return parseResolvConf(*text);
}

}  // namespace nodenet::dns::server
