// dns/server/answer_cache: exact keys (query bytes after the ID), the ID and spelling of a hit, generations,
// the byte budget and its two segments.
#include "dns/server/answer_cache.h"

#include <gtest/gtest.h>

#include "tests/dns_server/test_util.h"

namespace nodenet::dns::server {
namespace {

using namespace testutil;

IpAddress ip(const char* t) { return *IpAddress::parse(t); }

// The response an index would give: AA, the question echoed, one A record per address.
std::vector<uint8_t> answer(const Message& q, std::vector<const char*> addrs) {
  std::vector<ResourceRecord> rrs;
  for (const char* a : addrs) rrs.push_back(makeA(q.questions[0].name, 5, ip(a)));
  Message r = answerTo(q, std::move(rrs));
  r.header.ra = false;
  r.header.aa = true;
  return wire(r);
}

struct AnswerCacheTest : ::testing::Test {
  std::vector<uint8_t> out = std::vector<uint8_t>(4096);
  std::optional<std::vector<uint8_t>> get(AnswerCache& c, const std::vector<uint8_t>& query) {
    size_t n = c.lookup(query, out);
    if (n == 0) return std::nullopt;
    return std::vector<uint8_t>(out.begin(), out.begin() + static_cast<long>(n));
  }
};

TEST_F(AnswerCacheTest, HitIsTheStoredResponseWithTheQuerysId) {
  AnswerCache c(64 << 10);
  c.setGeneration(1);
  Message q = queryMessage("web.default.svc.cluster.local", RRType::A, 0x1111);
  auto resp = answer(q, {"10.96.0.10", "10.96.0.11"});
  EXPECT_FALSE(get(c, wire(q)));
  c.insert(wire(q), q.questions[0], resp);

  Message again = q;
  again.header.id = 0xBEEF;
  auto hit = get(c, wire(again));
  ASSERT_TRUE(hit);
  ASSERT_EQ(hit->size(), resp.size());
  EXPECT_EQ((*hit)[0], 0xBE);
  EXPECT_EQ((*hit)[1], 0xEF);
  EXPECT_TRUE(std::equal(resp.begin() + 2, resp.end(), hit->begin() + 2));  // everything else byte for byte
  auto m = parseMessage(*hit);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->header.id, 0xBEEF);
  EXPECT_EQ(m->answers.size(), 2u);
  AnswerCache::Stats s = c.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, AnswerCache::entryBytes(wire(q).size(), resp.size(), wire(q).size() - 12));
}

TEST_F(AnswerCacheTest, KeysAreExactBytesSoSpellingFlagsAndEdnsAreSeparateEntries) {
  AnswerCache c(64 << 10);
  c.setGeneration(1);
  Message lower = queryMessage("web.default.svc.cluster.local", RRType::A);
  c.insert(wire(lower), lower.questions[0], answer(lower, {"10.96.0.10"}));
  // Another spelling must not get the lowercase echo: answers keep the query's case (RFC 4343).
  Message upper = queryMessage("WEB.default.svc.cluster.local", RRType::A);
  EXPECT_FALSE(get(c, wire(upper)));
  c.insert(wire(upper), upper.questions[0], answer(upper, {"10.96.0.10"}));
  auto hit = get(c, wire(upper));
  ASSERT_TRUE(hit);
  auto m = parseMessage(*hit);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->questions[0].name.exactlyEquals(upper.questions[0].name));
  // RD is echoed and EDNS sets the truncation limit: both are part of the key.
  Message noRd = lower;
  noRd.header.rd = false;
  EXPECT_FALSE(get(c, wire(noRd)));
  EXPECT_FALSE(get(c, wire(queryMessage("web.default.svc.cluster.local", RRType::A, 0x1234, 1232))));
  EXPECT_FALSE(get(c, wire(queryMessage("web.default.svc.cluster.local", RRType::AAAA))));
  EXPECT_TRUE(get(c, wire(lower)));
}

TEST_F(AnswerCacheTest, ANewGenerationDropsEverything) {
  AnswerCache c(64 << 10);
  c.setGeneration(7);
  Message q = queryMessage("db.prod.svc.cluster.local", RRType::A);
  c.insert(wire(q), q.questions[0], answer(q, {"10.1.0.1"}));
  c.setGeneration(7);  // the same index: kept
  EXPECT_TRUE(get(c, wire(q)));
  c.setGeneration(8);
  EXPECT_FALSE(get(c, wire(q)));
  EXPECT_EQ(c.stats().entries, 0u);
  EXPECT_EQ(c.stats().invalidations, 1u);
}

TEST_F(AnswerCacheTest, BudgetIsKeptAndEntriesInUseSurviveRotations) {
  const size_t budget = 16 << 10;
  AnswerCache c(budget);
  c.setGeneration(1);
  Message hot = queryMessage("hot.default.svc.cluster.local", RRType::A);
  c.insert(wire(hot), hot.questions[0], answer(hot, {"10.96.0.1"}));
  for (int i = 0; i < 2000; ++i) {
    Message q = queryMessage("cold-" + std::to_string(i) + ".default.svc.cluster.local", RRType::A);
    c.insert(wire(q), q.questions[0], answer(q, {"10.96.0.2", "10.96.0.3"}));
    if (i % 20 == 0) {
      ASSERT_TRUE(get(c, wire(hot))) << "after " << i << " inserts";
    }
    AnswerCache::Stats s = c.stats();
    ASSERT_LE(s.bytes, budget);
  }
  AnswerCache::Stats s = c.stats();
  EXPECT_GT(s.rotations, 10u);
  EXPECT_GT(s.entries, 50u);
  // The most recent cold entries are still there, the first ones are gone.
  EXPECT_TRUE(get(c, wire(queryMessage("cold-1999.default.svc.cluster.local", RRType::A))));
  EXPECT_FALSE(get(c, wire(queryMessage("cold-0.default.svc.cluster.local", RRType::A))));
}

TEST_F(AnswerCacheTest, WhatIsNotStored) {
  AnswerCache c(64 << 10);
  c.setGeneration(1);
  Message q = queryMessage("web.default.svc.cluster.local", RRType::A);
  auto qw = wire(q);
  // A response whose question is not the query's byte for byte (another spelling) is not stored.
  Message other = queryMessage("WEB.default.svc.cluster.local", RRType::A);
  c.insert(qw, q.questions[0], answer(other, {"10.96.0.10"}));
  EXPECT_FALSE(get(c, qw));
  // A question name written with a compression pointer is not the parsed name's bytes: a hit could not echo
  // it, so no entry.
  std::vector<uint8_t> compressed = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1};
  c.insert(compressed, Question{}, compressed);
  EXPECT_FALSE(get(c, compressed));
  // Shorter than a header.
  c.insert(std::vector<uint8_t>{1, 2, 3}, Question{}, std::vector<uint8_t>{1, 2, 3});
  EXPECT_EQ(c.stats().entries, 0u);
  // A hit that does not fit the caller's buffer is a miss.
  c.insert(qw, q.questions[0], answer(q, {"10.96.0.10"}));
  std::vector<uint8_t> tiny(20);
  EXPECT_EQ(c.lookup(qw, tiny), 0u);
  EXPECT_TRUE(get(c, qw));
}

TEST_F(AnswerCacheTest, ZeroBudgetIsOff) {
  AnswerCache c(0);
  EXPECT_FALSE(c.enabled());
  c.setGeneration(1);
  Message q = queryMessage("web.default.svc.cluster.local", RRType::A);
  c.insert(wire(q), q.questions[0], answer(q, {"10.96.0.10"}));
  EXPECT_FALSE(get(c, wire(q)));
  EXPECT_EQ(c.stats().entries, 0u);
}

}  // namespace
}  // namespace nodenet::dns::server
