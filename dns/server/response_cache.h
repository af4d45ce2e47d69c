// A small TTL-respecting cache of upstream responses (what CoreDNS's `cache` plugin does in front of
// `forward`), keyed by (lowercased qname, qtype, qclass, EDNS present, DO bit, CD bit).
//
// Positive answers live for the smallest TTL of their answer records; negative answers (NXDOMAIN, NODATA) for
// min(SOA TTL, SOA MINIMUM) of the authority SOA (RFC 2308 §5); everything is capped at maxTtl. Responses
// that cannot be reused are not stored: truncated (TC), rcodes other than NOERROR/NXDOMAIN, negative answers
// without SOA, TTL 0, anything that does not parse. A hit is served with the client's ID and question spelling
// and with every TTL reduced by the time spent in the cache.
//
// Thread-safe (sharded locks); the clock is passed in so tests drive time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/wire/query.h"

namespace nodenet::dns::server {

class ResponseCache {
 public:
  using Clock = std::chrono::steady_clock;

  /// `maxEntries` bounds memory (the least recently stored entries go first); `maxTtl` caps every lifetime
  /// in seconds. maxEntries 0 disables the cache.
  explicit ResponseCache(size_t maxEntries = 10000, uint32_t maxTtl = 300);

  /// Stores `response` (an upstream answer to `q`) when it is cacheable; returns whether it was stored.
  bool insert(const Query& q, std::span<const uint8_t> response, Clock::time_point now);

  /// Writes the cached response for `q` into `out` with `q.id`, the question as `rawQuery` spells it and
  /// TTLs aged by the time since insertion. Returns the size written, or 0 on a miss (absent, expired, or
  /// larger than `out`).
  size_t lookup(const Query& q, std::span<const uint8_t> rawQuery, std::span<uint8_t> out, Clock::time_point now);

  /// Entries currently held (expired ones included until they are looked up or evicted).
  size_t size() const;

  /// The lifetime insert() would give `response` in seconds (0 = not cacheable). Exposed for tests.
  static uint32_t cacheableTtl(std::span<const uint8_t> response, std::vector<uint16_t>* ttlOffsets);

  /// True when `message` is a response with one question whose records all parse up to its last byte.
  static bool wellFormed(std::span<const uint8_t> message);

 private:
  struct Entry {
    std::vector<uint8_t> bytes;
    std::vector<uint16_t> ttlOffsets;  // where each record's TTL sits (OPT excluded)
    Clock::time_point stored;
    Clock::time_point expires;
    std::list<std::string>::iterator order;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> map;
    std::list<std::string> order;  // insertion order, oldest first (eviction)
  };
  static constexpr size_t kShards = 8;

  struct Walk {
    bool ok = false;
    uint32_t answerMin = UINT32_MAX;
    uint32_t negative = UINT32_MAX;  // min(SOA TTL, MINIMUM) over authority SOAs
    Header header;
  };
  // Walks every record of `message`, collecting TTL offsets (when asked) and the TTLs that decide caching.
  static Walk walk(std::span<const uint8_t> message, std::vector<uint16_t>* ttlOffsets);
  static std::string keyFor(const Query& q);
  Shard& shardFor(const std::string& key);

  size_t maxPerShard_;
  uint32_t maxTtl_;
  Shard shards_[kShards];
};

}  // namespace nodenet::dns::server
