// Bounds-checked read cursor and capacity-limited write buffer for DNS wire data.
//
// Both carry a sticky first error, like Knot's wire_ctx (STYLE.md habit 2): once a read runs past the end
// (or a caller reports a semantic problem with fail()), every later read returns zero and does not move, so
// a parser can do a run of reads and check ok() once. The writer works the same way with "no room": once a
// write does not fit, nothing more is written, and the caller rolls back to a mark() or gives up.
//
// Neither class owns memory; the caller keeps the bytes alive. No allocation happens here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace nodenet::dns {

/// A read cursor over a whole DNS message. Offsets are from the message start, which is what compression
/// pointers refer to.
class WireReader {
 public:
  WireReader() = default;
  WireReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  explicit WireReader(std::span<const uint8_t> bytes) : data_(bytes.data()), size_(bytes.size()) {}

  /// False once any read ran past the end or fail() was called; stays false.
  bool ok() const { return error_ == nullptr; }
  /// The first failure's reason (a static string), or nullptr while ok().
  const char* error() const { return error_; }
  /// Records a failure unless one is already recorded (the first reason wins). `reason` must be static.
  void fail(const char* reason) {
    if (error_ == nullptr) error_ = reason;
  }

  /// The current offset from the message start.
  size_t offset() const { return pos_; }
  /// Bytes left to read (0 after a failure).
  size_t remaining() const { return ok() ? size_ - pos_ : 0; }
  /// The whole message (for following compression pointers).
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  /// Reads one octet; 0 and a sticky error when none is left.
  uint8_t readU8() {
    if (!need(1, "truncated: expected 1 more byte")) return 0;
    return data_[pos_++];
  }
  /// Reads a network-order 16-bit value; 0 and a sticky error when fewer than 2 bytes are left.
  uint16_t readU16() {
    if (!need(2, "truncated: expected a 16-bit field")) return 0;
    uint16_t v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  /// Reads a network-order 32-bit value; 0 and a sticky error when fewer than 4 bytes are left.
  uint32_t readU32() {
    if (!need(4, "truncated: expected a 32-bit field")) return 0;
    uint32_t v = uint32_t{data_[pos_]} << 24 | uint32_t{data_[pos_ + 1]} << 16 | uint32_t{data_[pos_ + 2]} << 8 |
                 uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  /// Copies n bytes into out; on failure out is zero-filled and nothing moves.
  void readBytes(uint8_t* out, size_t n) {
    if (!need(n, "truncated: field runs past the end")) {
      if (n) std::memset(out, 0, n);
      return;
    }
    if (n) std::memcpy(out, data_ + pos_, n);
    pos_ += n;
  }
  /// Returns a view of the next n bytes and moves past them; an empty span on failure.
  std::span<const uint8_t> readSpan(size_t n) {
    if (!need(n, "truncated: field runs past the end")) return {};
    std::span<const uint8_t> s(data_ + pos_, n);
    pos_ += n;
    return s;
  }
  /// Moves forward n bytes; fails (sticky) when fewer are left.
  void skip(size_t n) {
    if (need(n, "truncated: field runs past the end")) pos_ += n;
  }
  /// Moves to an absolute offset (<= size). Used after a name with pointers; fails when out of range.
  void seek(size_t offset) {
    if (!ok()) return;
    if (offset > size_) {
      fail("seek past the end");
      return;
    }
    pos_ = offset;
  }

 private:
  bool need(size_t n, const char* reason) {
    if (error_ != nullptr) return false;
    if (size_ - pos_ < n) {
      error_ = reason;
      return false;
    }
    return true;
  }

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;
  const char* error_ = nullptr;
};

/// A write buffer over caller memory with a limit (the response size the client accepts). Writes that do
/// not fit set a sticky "no room" state and write nothing; mark()/rewind() drop a partially written record.
class WireWriter {
 public:
  WireWriter() = default;
  /// `limit` is how many bytes may be written (the caller guarantees `data` holds at least that many).
  WireWriter(uint8_t* data, size_t limit) : data_(data), limit_(limit) {}
  explicit WireWriter(std::span<uint8_t> buf) : data_(buf.data()), limit_(buf.size()) {}

  /// False once a write did not fit; stays false until rewind().
  bool ok() const { return !full_; }
  /// True after a write did not fit (the same as !ok()).
  bool noRoom() const { return full_; }
  /// Bytes written so far (the offset of the next byte).
  size_t size() const { return pos_; }
  /// The current limit (see setLimit()).
  size_t limit() const { return limit_; }
  /// Bytes still available below the limit.
  size_t room() const { return full_ ? 0 : limit_ - pos_; }
  /// The start of the caller's buffer.
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  /// What was written so far.
  std::span<const uint8_t> bytes() const { return {data_, pos_}; }

  /// Lowers (never raises) the limit, e.g. to keep room for the OPT record. Requires newLimit >= size().
  void setLimit(size_t newLimit) {
    if (newLimit < limit_ && newLimit >= pos_) limit_ = newLimit;
  }
  /// Raises the limit back, up to the buffer the writer was created with (caller's responsibility).
  void restoreLimit(size_t newLimit) { limit_ = newLimit; }

  /// The current size, to rewind() to when a record turns out not to fit.
  size_t mark() const { return pos_; }
  /// Drops everything written after `mark` and clears the no-room state.
  void rewind(size_t mark) {
    if (mark <= pos_) pos_ = mark;
    full_ = false;
  }

  /// Writes one octet, or sets the sticky no-room state and writes nothing.
  void writeU8(uint8_t v) {
    if (!need(1)) return;
    data_[pos_++] = v;
  }
  /// Writes a network-order 16-bit value, or sets no-room and writes nothing.
  void writeU16(uint16_t v) {
    if (!need(2)) return;
    data_[pos_] = static_cast<uint8_t>(v >> 8);
    data_[pos_ + 1] = static_cast<uint8_t>(v);
    pos_ += 2;
  }
  /// Writes a network-order 32-bit value, or sets no-room and writes nothing.
  void writeU32(uint32_t v) {
    if (!need(4)) return;
    data_[pos_] = static_cast<uint8_t>(v >> 24);
    data_[pos_ + 1] = static_cast<uint8_t>(v >> 16);
    data_[pos_ + 2] = static_cast<uint8_t>(v >> 8);
    data_[pos_ + 3] = static_cast<uint8_t>(v);
    pos_ += 4;
  }
  /// Writes n octets, all or none (none and no-room when they do not fit).
  void writeBytes(const uint8_t* p, size_t n) {
    if (!need(n)) return;
    if (n) std::memcpy(data_ + pos_, p, n);
    pos_ += n;
  }
  void writeBytes(std::span<const uint8_t> s) { writeBytes(s.data(), s.size()); }
  /// Overwrites a 16-bit value already written (counts, RDLENGTH). Requires offset + 2 <= size().
  void patchU16(size_t offset, uint16_t v) {
    if (offset + 2 > pos_) return;
    data_[offset] = static_cast<uint8_t>(v >> 8);
    data_[offset + 1] = static_cast<uint8_t>(v);
  }

 private:
  bool need(size_t n) {
    if (full_) return false;
    if (limit_ - pos_ < n) {
      full_ = true;
      return false;
    }
    return true;
  }

  uint8_t* data_ = nullptr;
  size_t limit_ = 0;
  size_t pos_ = 0;
  bool full_ = false;
};

}  // namespace nodenet::dns
