// Small string helpers shared by every module (GCC 12 has no std::format).
#pragma once

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace nodenet {

/// Concatenates anything streamable: strCat("veth ", name, " mtu ", 1500).
template <typename... Args>
std::string strCat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

/// Splits on a single character; keeps empty fields.
std::vector<std::string> split(std::string_view s, char sep);
std::string_view trim(std::string_view s);
bool startsWith(std::string_view s, std::string_view prefix);
std::string toLower(std::string_view s);
/// Escapes a string for inclusion inside JSON quotes.
std::string jsonEscape(std::string_view s);
/// Joins with a separator.
std::string join(const std::vector<std::string>& parts, std::string_view sep);

}  // namespace nodenet
