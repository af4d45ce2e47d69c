#include "dns/wire/tcp.h"

#include <cassert>

namespace nodenet::dns {

std::vector<uint8_t> frameForTcp(std::span<const uint8_t> message) {
  assert(message.size() <= kMaxMessageSize);
  std::vector<uint8_t> out(kTcpLengthSize + message.size());
  writeTcpLength(out.data(), message.size());
  std::copy(message.begin(), message.end(), out.begin() + kTcpLengthSize);
  return out;
}

void TcpStreamSplitter::feed(std::span<const uint8_t> bytes) {
  // Drop what next() already handed out before growing, so the buffer never holds consumed messages.
  if (head_ > 0) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

std::optional<std::span<const uint8_t>> TcpStreamSplitter::next() {
  const size_t avail = buf_.size() - head_;
  if (avail < kTcpLengthSize) return std::nullopt;
  const size_t len = size_t{buf_[head_]} << 8 | buf_[head_ + 1];
  if (avail < kTcpLengthSize + len) return std::nullopt;
  std::span<const uint8_t> msg(buf_.data() + head_ + kTcpLengthSize, len);
  head_ += kTcpLengthSize + len;
  return msg;
}

}  // namespace nodenet::dns
