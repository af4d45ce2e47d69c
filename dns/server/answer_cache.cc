#include "dns/server/answer_cache.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <random>

namespace nodenet::dns::server {

namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kIdSize = 2;
// An entry: key size (2), tail size (2), question size (2), the key (the query after its ID), the response's
// header after its ID (10), the response after its question section (the tail).
constexpr size_t kEntryHeader = 6;
constexpr size_t kFlagsAndCounts = kHeaderSize - kIdSize;
// Linear probing gives up after this many slots (a crafted set of colliding keys cannot make lookups slow; the
// hash is seeded per process anyway).
constexpr size_t kMaxProbe = 32;
// The average entry the slot table is sized for: a 35-octet name's A answer is about 100 bytes of entry.
constexpr size_t kTypicalEntry = 96;

uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void store16(uint8_t* p, size_t v) {
  const auto x = static_cast<uint16_t>(v);
  std::memcpy(p, &x, sizeof x);
}

}  // namespace

// One generation: an open-addressing table of (hash tag, entry offset) over a bump-allocated arena.
class AnswerCache::Segment {
 public:
  explicit Segment(size_t bytes) {
    // Slots for twice the entries of typical size the arena holds (load factor <= 1/2); the table's bytes come
    // out of the same budget.
    size_t want = std::max<size_t>(64, 2 * bytes / kTypicalEntry);
    slots_ = std::bit_floor(want);
    const size_t tableBytes = slots_ * sizeof(Slot);
    arenaBytes_ = bytes > tableBytes ? bytes - tableBytes : 0;
  }
  ~Segment() {
    std::free(table_);
    std::free(arena_);
  }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const uint8_t* find(uint64_t h, std::span<const uint8_t> key) const {
    if (count_ == 0) return nullptr;
    const auto tag = static_cast<uint32_t>(h >> 32);
    const size_t mask = slots_ - 1;
    size_t i = static_cast<size_t>(h) & mask;
    for (size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask) {
      const Slot& s = table_[i];
      if (s.offset == 0) return nullptr;
      if (const uint8_t* e = entryIfKey(s, tag, key)) return e;
    }
    return nullptr;
  }

  // False when the segment is full (arena or table); the caller rotates and tries the young segment again.
  bool insert(uint64_t h, std::span<const uint8_t> key, const uint8_t* flags, std::span<const uint8_t> tail,
              size_t questionSize) {
    const size_t need = kEntryHeader + key.size() + kFlagsAndCounts + tail.size();
    if (used_ + need > arenaBytes_ || count_ + 1 > slots_ / 2) return false;
    if (!ensureStorage()) return false;
    const auto tag = static_cast<uint32_t>(h >> 32);
    const size_t mask = slots_ - 1;
    size_t i = static_cast<size_t>(h) & mask;
    size_t probe = 0;
    for (; probe < kMaxProbe; ++probe, i = (i + 1) & mask) {
      const Slot& s = table_[i];
      if (s.offset == 0) break;
      if (entryIfKey(s, tag, key)) return true;  // already there
    }
    if (probe == kMaxProbe) return true;  // a long collision chain: leave this one uncached
    uint8_t* e = arena_ + used_;
    store16(e, key.size());
    store16(e + 2, tail.size());
    store16(e + 4, questionSize);
    std::memcpy(e + kEntryHeader, key.data(), key.size());
    std::memcpy(e + kEntryHeader + key.size(), flags, kFlagsAndCounts);
    std::memcpy(e + kEntryHeader + key.size() + kFlagsAndCounts, tail.data(), tail.size());
    table_[i] = Slot{tag, static_cast<uint32_t>(used_ + 1)};
    used_ += need;
    ++count_;
    return true;
  }

  void clear() {
    if (count_ > 0) std::memset(table_, 0, slots_ * sizeof(Slot));
    used_ = 0;
    count_ = 0;
  }
  size_t count() const { return count_; }
  size_t used() const { return used_; }

 private:
  struct Slot {
    uint32_t tag;     // the hash's high half
    uint32_t offset;  // entry offset + 1; 0 = empty
  };
  // The entry of an occupied slot when it holds `key`, else null.
  const uint8_t* entryIfKey(const Slot& s, uint32_t tag, std::span<const uint8_t> key) const {
    if (s.tag != tag) return nullptr;
    const uint8_t* e = arena_ + (s.offset - 1);
    return load16(e) == key.size() && std::memcmp(e + kEntryHeader, key.data(), key.size()) == 0 ? e : nullptr;
  }
  bool ensureStorage() {
    if (table_ != nullptr) return true;
    // calloc: large blocks come from fresh zeroed mappings, so untouched slots and arena bytes cost no RSS.
    table_ = static_cast<Slot*>(std::calloc(slots_, sizeof(Slot)));
    arena_ = static_cast<uint8_t*>(std::malloc(std::max<size_t>(arenaBytes_, 1)));
    if (table_ == nullptr || arena_ == nullptr) {
      std::free(table_);
      std::free(arena_);
      table_ = nullptr;
      arena_ = nullptr;
      return false;
    }
    return true;
  }

  size_t slots_ = 0;
  size_t arenaBytes_ = 0;
  Slot* table_ = nullptr;
  uint8_t* arena_ = nullptr;
  size_t used_ = 0;
  size_t count_ = 0;
};

AnswerCache::AnswerCache(size_t budgetBytes) {
  // Below a few KiB a segment would hold a handful of answers: treat it as off.
  if (budgetBytes < 8192) return;
  segmentBytes_ = budgetBytes / 2;
  young_ = std::make_unique<Segment>(segmentBytes_);
  old_ = std::make_unique<Segment>(segmentBytes_);
  std::random_device rd;
  seed_ = (uint64_t{rd()} << 32) ^ rd();
}

AnswerCache::~AnswerCache() = default;

size_t AnswerCache::entryBytes(size_t querySize, size_t responseSize, size_t questionSize) {
  return kEntryHeader + (querySize - kIdSize) + kFlagsAndCounts + (responseSize - kHeaderSize - questionSize);
}

void AnswerCache::setGeneration(uint64_t generation) {
  if (haveGeneration_ && generation == generation_) return;
  if (haveGeneration_ && enabled() && (young_->count() > 0 || old_->count() > 0)) {
    young_->clear();
    old_->clear();
    ++stats_.invalidations;
  }
  generation_ = generation;
  haveGeneration_ = true;
}

uint64_t AnswerCache::hash(std::span<const uint8_t> key) const {
  // Eight bytes at a time, multiply-xorshift mixing; queries are 30-80 bytes, so this is a few nanoseconds.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = seed_ ^ (key.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, key.data() + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  std::memcpy(&w, key.data() + i, key.size() - i);
  h = (h ^ w) * kMul;
  h ^= h >> 32;
  h *= kMul;
  h ^= h >> 29;
  return h;
}

size_t AnswerCache::lookup(std::span<const uint8_t> query, std::span<uint8_t> out) {
  if (!enabled() || query.size() <= kHeaderSize) return 0;
  const auto key = query.subspan(kIdSize);
  const uint64_t h = hash(key);
  bool fromOld = false;
  const uint8_t* e = young_->find(h, key);
  if (e == nullptr) {
    e = old_->find(h, key);
    fromOld = e != nullptr;
  }
  if (e == nullptr) {
    ++stats_.misses;
    return 0;
  }
  const size_t keySize = load16(e), tailSize = load16(e + 2), qs = load16(e + 4);
  const size_t size = kHeaderSize + qs + tailSize;
  if (size > out.size()) {
    ++stats_.misses;
    return 0;
  }
  std::memcpy(out.data(), query.data(), kIdSize);
  std::memcpy(out.data() + kIdSize, e + kEntryHeader + keySize, kFlagsAndCounts);
  std::memcpy(out.data() + kHeaderSize, query.data() + kHeaderSize, qs);
  std::memcpy(out.data() + kHeaderSize + qs, e + kEntryHeader + keySize + kFlagsAndCounts, tailSize);
  ++stats_.hits;
  // Still in use: keep it across the next rotation. `out` is a copy, so rotating cannot pull it from under us.
  if (fromOld) store(h, query, out.first(size), qs);
  return size;
}

void AnswerCache::insert(std::span<const uint8_t> query, const Question& question,
                         std::span<const uint8_t> response) {
  if (!enabled() || query.size() <= kHeaderSize) return;
  // A hit echoes the query's own question bytes, so they must be exactly the parsed name (no pointer), then
  // QTYPE and QCLASS.
  const auto name = question.name.wire();
  const size_t qs = name.size() + 4;
  if (query.size() < kHeaderSize + qs || std::memcmp(query.data() + kHeaderSize, name.data(), name.size()) != 0)
    return;
  store(hash(query.subspan(kIdSize)), query, response, qs);
}

void AnswerCache::store(uint64_t h, std::span<const uint8_t> query, std::span<const uint8_t> response, size_t qs) {
  if (response.size() < kHeaderSize + qs ||
      std::memcmp(query.data() + kHeaderSize, response.data() + kHeaderSize, qs) != 0)
    return;
  const auto key = query.subspan(kIdSize);
  const auto tail = response.subspan(kHeaderSize + qs);
  if (entryBytes(query.size(), response.size(), qs) > segmentBytes_ / 4) return;
  if (!young_->insert(h, key, response.data() + kIdSize, tail, qs)) {
    rotate();
    if (!young_->insert(h, key, response.data() + kIdSize, tail, qs)) return;
  }
  ++stats_.inserts;
}

void AnswerCache::rotate() {
  std::swap(young_, old_);
  young_->clear();
  ++stats_.rotations;
}

AnswerCache::Stats AnswerCache::stats() const {
  Stats s = stats_;
  if (enabled()) {
    s.entries = young_->count() + old_->count();
    s.bytes = young_->used() + old_->used();
  }
  return s;
}

}  // namespace nodenet::dns::server
