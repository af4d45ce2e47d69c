#include "dns/wire/name.h"

#include "base/strings.h"

namespace nodenet::dns {
namespace {

constexpr uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c | 0x20) : c; }

// Suffix hash for the compressor: per label, its length and three sampled octets (first, middle, last,
// lowercased) folded FNV-style. O(labels), not O(octets); every hash hit is verified against the buffer,
// so a collision ("pod-10" vs "pod-20") only costs one extra comparison.
constexpr uint32_t kFnvBasis = 2166136261u;
constexpr uint32_t kFnvPrime = 16777619u;
inline uint32_t mixLabel(uint32_t h, const uint8_t* label) {
  const uint8_t len = label[0];
  const uint32_t sample = uint32_t{len} | uint32_t{lower(label[1])} << 8 | uint32_t{lower(label[1 + len / 2])} << 16 |
                          uint32_t{lower(label[len])} << 24;
  return (h ^ sample) * kFnvPrime;
}

// The first octet a message may point to: pointers into the 12-byte header are never legitimate.
constexpr size_t kHeaderSize = 12;
// Pointers carry 14 bits of offset (RFC 1035 §4.1.4).
constexpr size_t kMaxPointerOffset = 0x3FFF;

}  // namespace

Result<Name> Name::fromText(std::string_view text) {
  Name n;
  if (text.empty()) return Error("dns name: empty text");
  if (text == ".") return n;
  uint8_t buf[kMaxWireSize + 64];
  size_t out = 0;
  size_t labelStart = 0;
  buf[0] = 0;
  bool inLabel = false;
  auto fail = [&](std::string_view why) { return Error(strCat("dns name \"", text, "\": ", why)); };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (!inLabel) return fail("empty label");
      inLabel = false;
      continue;
    }
    if (!inLabel) {
      labelStart = out;
      if (out >= kMaxWireSize - 1) return fail("longer than 255 octets");
      buf[out++] = 0;
      inLabel = true;
    }
    uint8_t octet = static_cast<uint8_t>(c);
    if (c == '\\') {
      if (i + 1 >= text.size()) return fail("dangling backslash");
      char d = text[i + 1];
      if (d >= '0' && d <= '9') {
        if (i + 3 >= text.size()) return fail("short \\DDD escape");
        int v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          char e = text[i + k];
          if (e < '0' || e > '9') return fail("bad \\DDD escape");
          v = v * 10 + (e - '0');
        }
        if (v > 255) return fail("\\DDD escape over 255");
        octet = static_cast<uint8_t>(v);
        i += 3;
      } else {
        octet = static_cast<uint8_t>(d);
        i += 1;
      }
    }
    if (buf[labelStart] >= kMaxLabelSize) return fail("label longer than 63 octets");
    if (out >= kMaxWireSize - 1) return fail("longer than 255 octets");
    buf[out++] = octet;
    ++buf[labelStart];
  }
  buf[out++] = 0;
  std::memcpy(n.bytes_, buf, out);
  n.size_ = static_cast<uint8_t>(out);
  return n;
}

Result<Name> Name::fromWire(std::span<const uint8_t> wire) {
  WireReader r(wire);
  // Pointers cannot be valid here: the name is at offset 0 and pointers must point backwards.
  Name n = readName(r);
  if (!r.ok()) return Error(strCat("dns name (wire): ", r.error()));
  if (r.remaining() != 0) return Error("dns name (wire): trailing bytes after the root label");
  return n;
}

std::string Name::toText() const {
  if (isRoot()) return ".";
  std::string s;
  s.reserve(size_ + 8);
  size_t p = 0;
  while (bytes_[p] != 0) {
    uint8_t len = bytes_[p];
    for (size_t i = p + 1; i <= p + len; ++i) {
      uint8_t c = bytes_[i];
      if (c == '.' || c == '\\') {
        s.push_back('\\');
        s.push_back(static_cast<char>(c));
      } else if (c < 0x21 || c > 0x7E) {
        s.push_back('\\');
        s.push_back(static_cast<char>('0' + c / 100));
        s.push_back(static_cast<char>('0' + c / 10 % 10));
        s.push_back(static_cast<char>('0' + c % 10));
      } else {
        s.push_back(static_cast<char>(c));
      }
    }
    s.push_back('.');
    p += 1 + len;
  }
  return s;
}

size_t Name::labelCount() const {
  size_t n = 0;
  for (size_t p = 0; bytes_[p] != 0; p += 1 + bytes_[p]) ++n;
  return n;
}

bool Name::operator==(const Name& o) const {
  if (size_ != o.size_) return false;
  // Length octets are < 64 and so never change under lower(); comparing all octets this way is exact.
  for (size_t i = 0; i < size_; ++i)
    if (lower(bytes_[i]) != lower(o.bytes_[i])) return false;
  return true;
}

size_t Name::hash() const {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < size_; ++i) h = (h ^ lower(bytes_[i])) * 1099511628211ull;
  return static_cast<size_t>(h);
}

void Name::toLowercase() {
  for (size_t i = 0; i < size_; ++i) bytes_[i] = lower(bytes_[i]);
}

bool Name::isSubdomainOf(const Name& ancestor) const {
  if (ancestor.size_ > size_) return false;
  // Walk labels until the remaining suffix has the ancestor's length, then compare: this keeps the match on
  // a label boundary ("xb.c." is not below "b.c.").
  size_t p = 0;
  while (size_ - p > ancestor.size_) p += 1 + bytes_[p];
  if (size_ - p != ancestor.size_) return false;
  for (size_t i = 0; i < ancestor.size_; ++i)
    if (lower(bytes_[p + i]) != lower(ancestor.bytes_[i])) return false;
  return true;
}

Name Name::stripLeft(size_t n) const {
  size_t p = 0;
  for (size_t i = 0; i < n && bytes_[p] != 0; ++i) p += 1 + bytes_[p];
  Name out;
  out.size_ = static_cast<uint8_t>(size_ - p);
  std::memcpy(out.bytes_, bytes_ + p, out.size_);
  return out;
}

Name readName(WireReader& r) {
  Name out;
  if (!r.ok()) return out;
  const uint8_t* msg = r.data();
  const size_t size = r.size();
  size_t pos = r.offset();
  // Every pointer must target an offset strictly below this bound, and the bound then drops to the target:
  // offsets strictly decrease, so no chain of pointers can loop, and forward or self pointers are refused.
  size_t bound = pos;
  size_t resume = 0;
  bool jumped = false;
  size_t n = 0;
  for (;;) {
    if (pos >= size) {
      r.fail("name runs past the end of the message");
      return Name();
    }
    const uint8_t len = msg[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= size) {
        r.fail("compression pointer cut off at the end of the message");
        return Name();
      }
      const size_t target = static_cast<size_t>(len & 0x3F) << 8 | msg[pos + 1];
      if (target >= bound) {
        r.fail("compression pointer does not point backwards (loop, self or forward pointer)");
        return Name();
      }
      if (target < kHeaderSize) {
        r.fail("compression pointer into the header");
        return Name();
      }
      if (!jumped) {
        resume = pos + 2;
        jumped = true;
      }
      bound = target;
      pos = target;
      continue;
    }
    if (len & 0xC0) {
      r.fail("unsupported label type (extended or bitstring label)");
      return Name();
    }
    if (n + 1 + len > Name::kMaxWireSize) {
      r.fail("name longer than 255 octets");
      return Name();
    }
    if (pos + 1 + len > size) {
      r.fail("label runs past the end of the message");
      return Name();
    }
    out.bytes_[n] = len;
    std::memcpy(out.bytes_ + n + 1, msg + pos + 1, len);
    n += 1 + len;
    pos += 1 + len;
    if (len == 0) break;
  }
  out.size_ = static_cast<uint8_t>(n);
  r.seek(jumped ? resume : pos);
  return out;
}

void NameCompressor::forgetFrom(size_t offset) {
  while (count_ > 0 && entries_[count_ - 1].offset >= offset) --count_;
}

bool NameCompressor::matches(const WireWriter& w, const Entry& e, const uint8_t* suffix) const {
  const uint8_t* buf = w.data();
  const size_t end = w.size();
  size_t pos = e.offset;
  // Names in the buffer were written by us, so pointers go backwards; the hop bound is belt and braces.
  for (int hops = 0; hops < 128;) {
    if (pos >= end) return false;
    uint8_t len = buf[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= end) return false;
      pos = static_cast<size_t>(len & 0x3F) << 8 | buf[pos + 1];
      ++hops;
      continue;
    }
    if (len != suffix[0] || pos + 1 + len > end) return false;
    if (len == 0) return true;
    for (uint8_t i = 1; i <= len; ++i)
      if (lower(buf[pos + i]) != lower(suffix[i])) return false;
    pos += 1 + len;
    suffix += 1 + len;
  }
  return false;
}

void NameCompressor::write(WireWriter& w, const Name& name) { writeImpl(w, name, true); }
void NameCompressor::writeUncompressed(WireWriter& w, const Name& name) { writeImpl(w, name, false); }

namespace {
// Equality ignoring ASCII case; memcmp first because the spellings usually agree exactly.
inline bool equalIgnoringCase(const uint8_t* a, const uint8_t* b, size_t n) {
  if (std::memcmp(a, b, n) == 0) return true;
  for (size_t i = 0; i < n; ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}
}  // namespace

void NameCompressor::writeImpl(WireWriter& w, const Name& name, bool compress) {
  const uint8_t* wire = name.wire().data();
  const size_t nameSize = name.wireSize();
  if (name.isRoot()) {
    w.writeU8(0);
    return;
  }
  // Fast path: the whole name was written before without pointers (owners repeating the qname, glue
  // owners repeating an SRV target). A pointer to it is the best possible encoding.
  if (compress) {
    for (size_t k = 0; k < count_; ++k) {
      const Entry& e = entries_[k];
      if (e.size == nameSize && e.raw && e.offset + nameSize <= w.size() &&
          equalIgnoringCase(w.data() + e.offset, wire, nameSize)) {
        w.writeU16(static_cast<uint16_t>(0xC000 | e.offset));
        return;
      }
    }
  }
  // Label start offsets within the name and the hash of each suffix (computed right to left).
  uint8_t starts[128];
  uint32_t hashes[128];
  size_t labels = 0;
  for (size_t p = 0; wire[p] != 0; p += 1 + wire[p]) starts[labels++] = static_cast<uint8_t>(p);
  uint32_t h = kFnvBasis;
  for (size_t i = labels; i-- > 0;) {
    h = mixLabel(h, wire + starts[i]);
    hashes[i] = h;
  }
  // Longest suffix first: the first hit saves the most.
  size_t hit = labels;
  uint16_t hitOffset = 0;
  if (compress) {
    for (size_t i = 0; i < labels && hit == labels; ++i) {
      const uint8_t want = static_cast<uint8_t>(labels - i);
      for (size_t k = 0; k < count_; ++k) {
        const Entry& e = entries_[k];
        if (e.hash == hashes[i] && e.labels == want && matches(w, e, wire + starts[i])) {
          hit = i;
          hitOffset = e.offset;
          break;
        }
      }
    }
  }
  const size_t start = w.size();
  if (hit < labels) {
    w.writeBytes(wire, starts[hit]);
    w.writeU16(static_cast<uint16_t>(0xC000 | hitOffset));
  } else {
    w.writeBytes(name.wire());
  }
  if (!w.ok()) return;
  for (size_t i = 0; i < hit && count_ < kMaxEntries; ++i) {
    const size_t off = start + starts[i];
    if (off > kMaxPointerOffset) break;
    entries_[count_++] = Entry{hashes[i], static_cast<uint16_t>(off), static_cast<uint8_t>(labels - i),
                               static_cast<uint8_t>(nameSize - starts[i]), hit == labels};
  }
}

}  // namespace nodenet::dns
