#include "dns/server/response_cache.h"

#include <algorithm>
#include <cstring>

#include "dns/wire/cursor.h"
#include "dns/wire/name.h"
#include "dns/wire/types.h"

namespace nodenet::dns::server {

ResponseCache::ResponseCache(size_t maxEntries, uint32_t maxTtl)
    : maxPerShard_(maxEntries == 0 ? 0 : std::max<size_t>(1, (maxEntries + kShards - 1) / kShards)),
      maxTtl_(maxTtl) {}

std::string ResponseCache::keyFor(const Query& q) {
  Name n = q.question.name.canonical();
  std::string key(reinterpret_cast<const char*>(n.wire().data()), n.wireSize());
  uint16_t t = static_cast<uint16_t>(q.question.type), c = static_cast<uint16_t>(q.question.cls);
  char tail[5] = {static_cast<char>(t >> 8), static_cast<char>(t), static_cast<char>(c >> 8), static_cast<char>(c),
                  static_cast<char>((q.hasEdns ? 1 : 0) | (q.edns.dnssecOk ? 2 : 0) | (q.cd ? 4 : 0))};
  key.append(tail, sizeof tail);
  return key;
}

ResponseCache::Shard& ResponseCache::shardFor(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

ResponseCache::Walk ResponseCache::walk(std::span<const uint8_t> message, std::vector<uint16_t>* ttlOffsets) {
  Walk w;
  WireReader r(message);
  Header h = readHeader(r);
  w.header = h;
  if (!r.ok() || !h.qr || h.qdcount != 1) return w;
  (void)readName(r);
  r.skip(4);
  size_t total = size_t(h.ancount) + h.nscount + h.arcount;
  for (size_t i = 0; i < total && r.ok(); ++i) {
    (void)readName(r);
    auto type = static_cast<RRType>(r.readU16());
    r.skip(2);
    size_t ttlAt = r.offset();
    uint32_t ttl = r.readU32();
    uint16_t rdlen = r.readU16();
    size_t rdataAt = r.offset();
    r.skip(rdlen);
    if (!r.ok()) break;
    if (type == RRType::OPT) continue;  // its "TTL" is the extended rcode and flags
    if (ttlOffsets) {
      if (ttlAt > UINT16_MAX) return w;
      ttlOffsets->push_back(static_cast<uint16_t>(ttlAt));
    }
    if (i < h.ancount) {
      w.answerMin = std::min(w.answerMin, ttl);
    } else if (i < size_t(h.ancount) + h.nscount && type == RRType::SOA) {
      // SOA RDATA: mname, rname, then serial refresh retry expire minimum (RFC 2308 §5: negative TTL).
      WireReader s(message);
      s.seek(rdataAt);
      (void)readName(s);
      (void)readName(s);
      s.skip(16);
      uint32_t minimum = s.readU32();
      if (s.ok()) w.negative = std::min({w.negative, ttl, minimum});
    }
  }
  w.ok = r.ok() && r.remaining() == 0;
  return w;
}

bool ResponseCache::wellFormed(std::span<const uint8_t> message) { return walk(message, nullptr).ok; }

uint32_t ResponseCache::cacheableTtl(std::span<const uint8_t> response, std::vector<uint16_t>* ttlOffsets) {
  Walk w = walk(response, ttlOffsets);
  if (!w.ok || w.header.tc) return 0;
  auto rcode = static_cast<Rcode>(w.header.rcodeLow);
  if (rcode != Rcode::NoError && rcode != Rcode::NXDomain) return 0;
  uint32_t ttl = (w.header.ancount > 0 && rcode == Rcode::NoError) ? w.answerMin : w.negative;
  return ttl == UINT32_MAX ? 0 : ttl;
}

bool ResponseCache::insert(const Query& q, std::span<const uint8_t> response, Clock::time_point now) {
  if (maxPerShard_ == 0 || !q.hasQuestion) return false;
  std::vector<uint16_t> offsets;
  uint32_t ttl = std::min(cacheableTtl(response, &offsets), maxTtl_);
  if (ttl == 0) return false;
  std::string key = keyFor(q);
  Shard& s = shardFor(key);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it != s.map.end()) {
    s.order.erase(it->second.order);
    s.map.erase(it);
  }
  while (s.map.size() >= maxPerShard_) {
    s.map.erase(s.order.front());
    s.order.pop_front();
  }
  s.order.push_back(key);
  Entry e{std::vector<uint8_t>(response.begin(), response.end()), std::move(offsets), now,
          now + std::chrono::seconds(ttl), std::prev(s.order.end())};
  s.map.emplace(std::move(key), std::move(e));
  return true;
}

size_t ResponseCache::lookup(const Query& q, std::span<const uint8_t> rawQuery, std::span<uint8_t> out,
                             Clock::time_point now) {
  if (maxPerShard_ == 0 || !q.hasQuestion) return 0;
  std::string key = keyFor(q);
  Shard& s = shardFor(key);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return 0;
  Entry& e = it->second;
  if (now >= e.expires) {
    s.order.erase(e.order);
    s.map.erase(it);
    return 0;
  }
  size_t nameSize = q.question.name.wireSize();
  if (e.bytes.size() > out.size() || rawQuery.size() < kHeaderSize + nameSize ||
      e.bytes.size() < kHeaderSize + nameSize)
    return 0;
  std::memcpy(out.data(), e.bytes.data(), e.bytes.size());
  out[0] = static_cast<uint8_t>(q.id >> 8);
  out[1] = static_cast<uint8_t>(q.id);
  // The question is the first name of both messages, never compressed, and canonically equal (same key): the
  // client's spelling has the same length (RFC 4343: 0x20-randomising resolvers compare it).
  std::memcpy(out.data() + kHeaderSize, rawQuery.data() + kHeaderSize, nameSize);
  auto age = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now - e.stored).count());
  for (uint16_t off : e.ttlOffsets) {
    uint8_t* p = out.data() + off;
    uint32_t ttl = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
    ttl = ttl > age ? ttl - age : 0;
    p[0] = uint8_t(ttl >> 24), p[1] = uint8_t(ttl >> 16), p[2] = uint8_t(ttl >> 8), p[3] = uint8_t(ttl);
  }
  return e.bytes.size();
}

size_t ResponseCache::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.map.size();
  }
  return n;
}

}  // namespace nodenet::dns::server
