#include "kube/objects/intern.h"

#include <mutex>
#include <unordered_set>

namespace nodenet::kube {
namespace {

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
};

struct Pool {
  std::mutex mu;
  // Node-based: element addresses stay valid across rehashing, which the handles rely on.
  std::unordered_set<std::string, TransparentHash, std::equal_to<>> strings;
  size_t bytes = 0;
};

Pool& pool() {
  // Leaked on purpose: handles may be used from static destructors of other objects.
  static Pool* p = new Pool;
  return *p;
}

}  // namespace

InternedString::InternedString(std::string_view text) {
  if (text.empty()) return;
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  auto it = p.strings.find(text);
  if (it == p.strings.end()) {
    it = p.strings.emplace(text).first;
    p.bytes += sizeof(std::string) + (text.size() > 15 ? text.size() + 1 : 0);
  }
  s_ = &*it;
}

const std::string& InternedString::str() const {
  static const std::string* empty = new std::string;
  return s_ ? *s_ : *empty;
}

InternStats internStats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return InternStats{p.strings.size(), p.bytes};
}

}  // namespace nodenet::kube
