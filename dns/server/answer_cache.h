// A UDP receiver's cache of composed cluster answers (a "packet cache", as PowerDNS keeps one): the response the
// index gave to a query, keyed by every byte of that query after its ID.
//
// Why it is exact: for one index generation and one server configuration, the response to a UDP query is a
// pure function of the query's bytes minus the ID. The bytes carry the question with its spelling (answers
// echo the query's case), the flags copied into the answer (RD, CD), and the EDNS record that sets the UDP
// limit and so the truncation. nodenet-dns answers no option that would vary per client (no cookies, no
// padding, no client subnet), and TTLs are constant within a generation. A hit is the stored response with
// the query's ID. The server asks setGeneration() before every batch, and a new index drops every entry, so
// an endpoint change is served as fast as without the cache.
//
// Only answers composed from the index go in. Upstream answers have TTLs that age, so they live in the
// ResponseCache. FORMERR and NOTIMP are cheap to compose and are never stored.
//
// Memory: a byte budget, split into two generations (segments) of half the budget each. New entries go into
// the young segment, and a hit in the old segment is copied into the young one. When the young segment is
// full, the old segment is dropped and the young one takes its place. A working set that fits the budget
// therefore stays cached, and a larger one keeps its most recently used half. A segment's storage is allocated
// on first use and reused after that. Pages become resident as entries are written, so an idle server pays
// nothing.
//
// Not thread-safe: one per UDP receiver, used only by that receiver's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "dns/wire/types.h"

namespace nodenet::dns::server {

class AnswerCache {
 public:
  /// `budgetBytes` bounds the entry storage and the slot tables together; 0 disables the cache (lookups miss,
  /// inserts are ignored).
  explicit AnswerCache(size_t budgetBytes);
  ~AnswerCache();
  AnswerCache(const AnswerCache&) = delete;
  AnswerCache& operator=(const AnswerCache&) = delete;

  bool enabled() const { return segmentBytes_ > 0; }

  /// Drops every entry when `generation` differs from the one the entries were composed from.
  void setGeneration(uint64_t generation);

  /// On a hit, writes the cached response, with the ID of `query`, into `out` and returns its size. Returns 0
  /// on a miss, or when the response does not fit `out`.
  size_t lookup(std::span<const uint8_t> query, std::span<uint8_t> out);

  /// Stores `response` as the answer to `query`, whose parsed question is `question` (parseQuery's). Not stored:
  /// a question that is not written uncompressed right after the query's header, a response whose question
  /// section is not the query's byte for byte, and entries larger than a quarter of a segment.
  void insert(std::span<const uint8_t> query, const Question& question, std::span<const uint8_t> response);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t inserts = 0;
    uint64_t rotations = 0;    // the young segment filled up and the old one was dropped
    uint64_t invalidations = 0;  // a new index generation dropped everything
    size_t entries = 0;        // in both segments
    size_t bytes = 0;          // entry bytes in both segments
  };
  Stats stats() const;

  /// The storage one entry takes for a query and response of these sizes (tests size budgets with it).
  static size_t entryBytes(size_t querySize, size_t responseSize, size_t questionSize);

 private:
  class Segment;
  // insert() once the key's hash and the question section's size are known (a promotion from the old segment
  // knows both already).
  void store(uint64_t h, std::span<const uint8_t> query, std::span<const uint8_t> response, size_t questionSize);
  uint64_t hash(std::span<const uint8_t> key) const;
  void rotate();

  size_t segmentBytes_ = 0;
  uint64_t seed_ = 0;
  uint64_t generation_ = 0;
  bool haveGeneration_ = false;
  std::unique_ptr<Segment> young_, old_;
  Stats stats_;
};

}  // namespace nodenet::dns::server
