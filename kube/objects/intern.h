// Interned strings: one shared immutable copy per distinct text, referenced by an 8-byte handle.
//
// Used for the small, repetitive vocabulary of API objects (namespaces, label and annotation keys, node and zone
// names, port names, kinds). The pool never shrinks, so never intern unbounded values (names, uids, versions).
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace nodenet::kube {

class InternedString {
 public:
  /// The empty string.
  InternedString() = default;
  /// Interns `text` (thread-safe; takes a lock only on the pool lookup).
  explicit InternedString(std::string_view text);

  std::string_view view() const { return s_ ? std::string_view(*s_) : std::string_view(); }
  const std::string& str() const;
  bool empty() const { return s_ == nullptr; }
  size_t size() const { return s_ ? s_->size() : 0; }
  operator std::string_view() const { return view(); }

  /// Equality is identity: two handles to the same text share the pooled copy.
  bool operator==(const InternedString& o) const { return s_ == o.s_; }
  bool operator==(std::string_view o) const { return view() == o; }
  /// Ordered by text, so sorted containers are stable across runs.
  std::strong_ordering operator<=>(const InternedString& o) const { return view() <=> o.view(); }

  /// The pooled copy's address: stable for the life of the process; a cheap hash key.
  const void* identity() const { return s_; }

 private:
  const std::string* s_ = nullptr;
};

inline std::ostream& operator<<(std::ostream& os, const InternedString& s) { return os << s.view(); }

/// Number of distinct strings in the pool, and the heap bytes they hold (for benchmarks and metrics).
struct InternStats {
  size_t strings = 0;
  size_t bytes = 0;
};
InternStats internStats();

}  // namespace nodenet::kube

template <>
struct std::hash<nodenet::kube::InternedString> {
  size_t operator()(const nodenet::kube::InternedString& s) const noexcept {
    return std::hash<const void*>()(s.identity());
  }
};
