#include "dns/records/names.h"

#include <cstring>
#include <span>

namespace nodenet::dns::records::detail {
namespace {
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

std::optional<Name> prependLabel(std::string_view label, const Name& base) {
  if (label.empty() || label.size() > Name::kMaxLabelSize || label.find('.') != std::string_view::npos)
    return std::nullopt;
  const size_t total = 1 + label.size() + base.wireSize();
  if (total > Name::kMaxWireSize) return std::nullopt;
  uint8_t buf[Name::kMaxWireSize];
  buf[0] = static_cast<uint8_t>(label.size());
  std::memcpy(buf + 1, label.data(), label.size());
  std::memcpy(buf + 1 + label.size(), base.wire().data(), base.wireSize());
  auto n = Name::fromWire(std::span<const uint8_t>(buf, total));
  if (!n.ok()) return std::nullopt;
  return *n;
}

std::string ipLabel(const IpAddress& ip) {
  std::string s = ip.toString();
  if (ip.isV6() && s.find('.') != std::string::npos) return {};
  for (char& c : s)
    if (c == '.' || c == ':') c = '-';
  return s;
}

std::string_view labelAt(const Name& n, size_t i) {
  const auto w = n.wire();
  size_t p = 0;
  for (size_t k = 0; k < i; ++k) p += 1 + w[p];
  return {reinterpret_cast<const char*>(w.data() + p + 1), w[p]};
}

bool labelIs(std::string_view label, std::string_view lowercase) {
  if (label.size() != lowercase.size()) return false;
  for (size_t i = 0; i < label.size(); ++i)
    if (lower(label[i]) != lowercase[i]) return false;
  return true;
}

void lowerInto(std::string_view label, std::string& out) {
  out.assign(label);
  for (char& c : out) c = lower(c);
}

}  // namespace nodenet::dns::records::detail
