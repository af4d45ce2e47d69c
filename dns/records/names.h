// Private to nodenet_dns_records: building and reading the names the index deals in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/ip.h"
#include "dns/wire/name.h"

namespace nodenet::dns::records::detail {

/// `label` + "." + `base` as a Name, or nullopt when the label is empty, over 63 octets, holds a '.', or the
/// result would exceed 255 octets.
std::optional<Name> prependLabel(std::string_view label, const Name& base);

/// CoreDNS's IP-derived endpoint label: "10-0-0-1", "fd00--1" (RFC 5952 text with '.'/':' turned into '-').
/// Empty when the text would not be a single label (an IPv4-mapped IPv6 address keeps its dots).
std::string ipLabel(const IpAddress& ip);

/// The i-th label of `n` counted from the left (0 = leftmost). Precondition: i < n.labelCount().
std::string_view labelAt(const Name& n, size_t i);

/// ASCII-case-insensitive equality of a label with a lowercase literal.
bool labelIs(std::string_view label, std::string_view lowercase);

/// Copies `label` lowercased into `out` (cleared first).
void lowerInto(std::string_view label, std::string& out);

}  // namespace nodenet::dns::records::detail
