// DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): every message is preceded by a 2-byte length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace nodenet::dns {

/// Size of the TCP length prefix.
inline constexpr size_t kTcpLengthSize = 2;
/// The largest DNS message a 2-byte prefix can describe.
inline constexpr size_t kMaxMessageSize = 65535;

/// Writes the network-order length of a `messageSize`-byte message into out[0..1]. Requires
/// messageSize <= 65535. Lets a caller compose into buf+2 and prefix in place without copying.
inline void writeTcpLength(uint8_t* out, size_t messageSize) {
  out[0] = static_cast<uint8_t>(messageSize >> 8);
  out[1] = static_cast<uint8_t>(messageSize);
}

/// Returns the message with its 2-byte length prefix. Requires message.size() <= 65535.
std::vector<uint8_t> frameForTcp(std::span<const uint8_t> message);

/// Splits a TCP byte stream into DNS messages. Feed whatever each read() returned (any split, including
/// one byte at a time, or several messages at once); next() hands out each complete message in order.
///
/// Memory is bounded by what was fed and not yet taken: at most one incomplete message (< 65537 bytes) stays
/// buffered between reads when the caller drains next() after every feed(). A zero-length frame is handed
/// out as an empty message (parseQuery() then drops it; RFC 7766 gives it no meaning).
class TcpStreamSplitter {
 public:
  /// Appends received bytes. Invalidates spans previously returned by next().
  void feed(std::span<const uint8_t> bytes);
  /// The next complete message, or nullopt until more bytes arrive. The span stays valid until the next
  /// feed() (calling next() again does not invalidate it).
  std::optional<std::span<const uint8_t>> next();
  /// Bytes received but not yet returned (a partial message, or complete ones not taken yet).
  size_t buffered() const { return buf_.size() - head_; }
  /// True when the stream ended in the middle of a message (call at EOF to decide whether to log).
  bool hasPartial() const { return buffered() != 0; }

 private:
  std::vector<uint8_t> buf_;
  size_t head_ = 0;
};

}  // namespace nodenet::dns
