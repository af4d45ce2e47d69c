// Domain names: a compact value type, parsing with compression pointers, and a compressor for composing.
//
// RFC 1035 §3.1/§4.1.4 (labels, 255-octet names, pointers), RFC 2181 §11 (any octet may appear in a label),
// RFC 4343 (comparisons ignore ASCII case, but the case a name was written with is preserved).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "dns/wire/cursor.h"

namespace nodenet::dns {

/// A domain name held as its uncompressed wire form (length-prefixed labels ending in the root label) in an
/// inline 255-octet buffer: no heap, cheap to copy (only the used bytes are copied).
///
/// Invariant: the bytes are always a valid uncompressed name (labels of 1..63 octets, total <= 255, ends in
/// the zero root label). Equality and hashing ignore ASCII case (RFC 4343); the original case is kept so an
/// answer can echo the query's spelling. Use canonical() for lookup keys.
class Name {
 public:
  static constexpr size_t kMaxWireSize = 255;
  static constexpr size_t kMaxLabelSize = 63;

  /// The root name ".".
  Name() : size_(1) { bytes_[0] = 0; }
  /// Copies only the used octets.
  Name(const Name& o) : size_(o.size_) { std::memcpy(bytes_, o.bytes_, size_); }
  Name& operator=(const Name& o) {
    size_ = o.size_;
    std::memmove(bytes_, o.bytes_, size_);
    return *this;
  }

  /// The root name ".".
  static Name root() { return Name(); }
  /// Parses presentation text ("my-svc.ns.svc.cluster.local" with or without the trailing dot; "." is the
  /// root). Supports "\." , "\\" and "\DDD" escapes. Fails on empty labels, labels over 63 octets, or names
  /// over 255 octets on the wire. All names are treated as absolute.
  static Result<Name> fromText(std::string_view text);
  /// Builds a name from uncompressed wire bytes that must be exactly one valid name (no pointers).
  static Result<Name> fromWire(std::span<const uint8_t> wire);

  /// Presentation form with a trailing dot; "." for the root. Escapes '.', '\\' and non-printable octets.
  std::string toText() const;

  /// The uncompressed wire form, including the final zero octet.
  std::span<const uint8_t> wire() const { return {bytes_, size_}; }
  /// Wire length in octets (1 for the root).
  size_t wireSize() const { return size_; }
  bool isRoot() const { return size_ == 1; }
  /// Number of labels, not counting the root label ("a.b." has 2).
  size_t labelCount() const;

  /// Case-insensitive equality (RFC 4343).
  bool operator==(const Name& o) const;
  /// Byte-for-byte equality, case included (for tests of case preservation).
  bool exactlyEquals(const Name& o) const {
    return size_ == o.size_ && std::memcmp(bytes_, o.bytes_, size_) == 0;
  }
  /// A hash that ignores ASCII case, consistent with operator==.
  size_t hash() const;

  /// A copy with ASCII letters lowercased: the canonical form for lookups and index keys.
  Name canonical() const {
    Name n(*this);
    n.toLowercase();
    return n;
  }
  /// Lowercases ASCII letters in place (other octets are left as they are).
  void toLowercase();

  /// True when this name equals `ancestor` or lies below it (case-insensitive).
  bool isSubdomainOf(const Name& ancestor) const;
  /// The name with the leftmost `n` labels removed ("a.b.c." minus 1 is "b.c."); the root when n is too big.
  Name stripLeft(size_t n) const;
  /// The leftmost label's octets (empty for the root).
  std::string_view firstLabel() const {
    return {reinterpret_cast<const char*>(bytes_ + 1), bytes_[0]};
  }

 private:
  friend Name readName(WireReader& r);
  uint8_t size_;
  uint8_t bytes_[kMaxWireSize];
};

/// Reads a possibly compressed name at the reader's position and moves past it (past the first pointer when
/// one is followed). On malformed input the reader's sticky error is set and the root is returned.
///
/// Rejected (RFC 1035 §4.1.4 leaves these open; accepting them invites loops and overreads):
/// pointers that do not point strictly before the previous hop (covers loops, self and forward pointers),
/// pointers into the 12-byte header or past the end, label types 01/10 (RFC 6891 §5 deprecates extended
/// labels), and names whose uncompressed form would exceed 255 octets.
Name readName(WireReader& r);

/// Writes `name` without compression.
inline void writeNameUncompressed(WireWriter& w, const Name& name) { w.writeBytes(name.wire()); }

/// Compresses names while composing one message: a small table of name suffixes already written (hash of the
/// lowercased suffix, label count, offset). Lookups compare hashes first and verify against the bytes in the
/// output buffer, so a collision never produces a wrong pointer. Use one compressor per message and keep it
/// in step with the writer: after WireWriter::rewind(mark), call forgetFrom(mark).
class NameCompressor {
 public:
  /// At most this many suffixes are remembered; later names are still written, just less compressed.
  static constexpr size_t kMaxEntries = 64;

  /// Forgets every suffix (start of a new message).
  void reset() { count_ = 0; }
  /// Forgets suffixes written at or after `offset` (after the writer rewound to `offset`).
  void forgetFrom(size_t offset);
  /// Writes `name` at the writer's position, replacing the longest suffix already in the message with a
  /// pointer, and remembers the new suffixes it wrote (offsets below 0x4000 only, the pointer's reach).
  void write(WireWriter& w, const Name& name);
  /// Writes `name` uncompressed but remembers its suffixes, so later names can point into it (used for the
  /// question, and for RDATA that must not be compressed such as SRV targets, RFC 2782).
  void writeUncompressed(WireWriter& w, const Name& name);
  /// How many suffixes are remembered (tests only).
  size_t entriesForTest() const { return count_; }

 private:
  struct Entry {
    uint32_t hash;
    uint16_t offset;
    uint8_t labels;
    /// Wire size of the suffix; `raw` when all of it sits uncompressed at `offset` (no pointer inside), which
    /// lets write() match a whole repeated name with one size check and one memcmp, without hashing.
    uint8_t size;
    bool raw;
  };
  void writeImpl(WireWriter& w, const Name& name, bool compress);
  bool matches(const WireWriter& w, const Entry& e, const uint8_t* suffix) const;

  Entry entries_[kMaxEntries];
  size_t count_ = 0;
};

}  // namespace nodenet::dns

template <>
struct std::hash<nodenet::dns::Name> {
  size_t operator()(const nodenet::dns::Name& n) const noexcept { return n.hash(); }
};
