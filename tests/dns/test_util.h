// Helpers shared by the dns/wire tests.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "dns/wire/name.h"

namespace nodenet::dns::testing {

/// "0a0b 0c" -> {0x0a, 0x0b, 0x0c}; spaces and newlines are ignored.
inline std::vector<uint8_t> hexBytes(std::string_view hex) {
  std::vector<uint8_t> out;
  int nibble = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<uint8_t>(nibble << 4 | v));
      nibble = -1;
    }
  }
  return out;
}

/// Name::fromText that must succeed (test input).
inline Name name(std::string_view text) { return Name::fromText(text).value(); }

}  // namespace nodenet::dns::testing
