// Encodes a Transaction into one nfnetlink batch (NFNL_MSG_BATCH_BEGIN ... NFNL_MSG_BATCH_END).
// Internal to nodenet_nft; exposed for tests and benchmarks.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "base/result.h"
#include "netlink/nft/model/transaction.h"

namespace nodenet::nft {

/// A growable byte buffer for netlink messages (realloc growth, no zero-filling).
class BatchBuffer {
 public:
  BatchBuffer() = default;
  BatchBuffer(BatchBuffer&& o) noexcept : data_(o.data_), len_(o.len_), cap_(o.cap_) { o.data_ = nullptr; o.len_ = o.cap_ = 0; }
  BatchBuffer& operator=(BatchBuffer&&) = delete;
  BatchBuffer(const BatchBuffer&) = delete;
  ~BatchBuffer() { std::free(data_); }

  /// Ensures `headroom` free bytes after the end and returns a pointer to the end. The pointer is
  /// valid until the next call.
  char* tail(size_t headroom);
  /// Marks n more bytes (a message just built at tail()) as used.
  void commit(size_t n) { len_ += n; }
  const char* data() const { return data_; }
  size_t size() const { return len_; }

 private:
  char* data_ = nullptr;
  size_t len_ = 0;
  size_t cap_ = 0;
};

struct EncodedBatch {
  BatchBuffer buffer;
  uint32_t firstSeq = 0;  // seq of NFNL_MSG_BATCH_BEGIN
  uint32_t lastSeq = 0;   // seq of NFNL_MSG_BATCH_END
  uint32_t ackSeq = 0;    // the last operation message; it carries NLM_F_ACK so its ack proves completion
  /// opOfSeq[seq - firstSeq] is the index of the operation that produced the message, or -1 for the
  /// batch begin/end messages.
  std::vector<int32_t> opOfSeq;

  int32_t operationFor(uint32_t seq) const {
    if (seq < firstSeq || seq - firstSeq >= opOfSeq.size()) return -1;
    return opOfSeq[seq - firstSeq];
  }
};

/// Encodes tx. firstSeq numbers the batch begin message; every following message takes the next seq.
/// Fails only for a transaction whose status() is an error.
Result<EncodedBatch> encodeBatch(const Transaction& tx, uint32_t firstSeq);

}  // namespace nodenet::nft
