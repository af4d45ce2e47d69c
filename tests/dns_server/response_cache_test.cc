// dns/server/response_cache: what is cached, for how long, and how a hit is rewritten for its client.
#include "dns/server/response_cache.h"

#include <gtest/gtest.h>

#include "tests/dns_server/test_util.h"

namespace nodenet::dns::server {
namespace {

using namespace testutil;
using Clock = ResponseCache::Clock;
using std::chrono::seconds;

IpAddress ip(const char* t) { return *IpAddress::parse(t); }

struct Fixture : ::testing::Test {
  ResponseCache cache{100, 300};
  Clock::time_point t0 = Clock::now();
  std::vector<uint8_t> out = std::vector<uint8_t>(4096);

  // Inserts the upstream answer to `name` A and returns whether it was stored.
  bool store(const Message& q, const Message& answer) {
    return cache.insert(parsedQuery(wire(q)), wire(answer), t0);
  }
  // Looks up `q` at t0 + age; the parsed response or nullopt on a miss.
  std::optional<Message> get(const Message& q, seconds age) {
    auto raw = wire(q);
    size_t n = cache.lookup(parsedQuery(raw), raw, out, t0 + age);
    if (n == 0) return std::nullopt;
    auto m = parseMessage({out.data(), n});
    EXPECT_TRUE(m.ok());
    return *m;
  }
};

TEST_F(Fixture, PositiveAnswerLivesForItsSmallestTtlAndAges) {
  Message q = queryMessage("example.com", RRType::A, 1);
  Name owner = q.questions[0].name;
  ASSERT_TRUE(store(q, answerTo(q, {makeA(owner, 60, ip("1.2.3.4")), makeA(owner, 30, ip("1.2.3.5"))})));
  auto hit = get(q, seconds(10));
  ASSERT_TRUE(hit);
  ASSERT_EQ(hit->answers.size(), 2u);
  EXPECT_EQ(hit->answers[0].ttl, 50u);
  EXPECT_EQ(hit->answers[1].ttl, 20u);
  EXPECT_TRUE(get(q, seconds(29)));
  EXPECT_FALSE(get(q, seconds(30)));  // expired at the smallest TTL
  EXPECT_EQ(cache.size(), 0u);        // and dropped on that lookup
}

TEST_F(Fixture, HitCarriesTheClientsIdAndSpelling) {
  Message q = queryMessage("example.com", RRType::A, 1);
  ASSERT_TRUE(store(q, answerTo(q, {makeA(q.questions[0].name, 60, ip("1.2.3.4"))})));
  Message q2 = queryMessage("ExAmPlE.CoM", RRType::A, 0xBEEF);
  auto hit = get(q2, seconds(0));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->header.id, 0xBEEF);
  EXPECT_EQ(hit->questions[0].name.toText(), "ExAmPlE.CoM.");
  EXPECT_TRUE(hit->questions[0].name.exactlyEquals(q2.questions[0].name));
}

TEST_F(Fixture, NegativeAnswersLiveForTheSoaMinimum) {
  Message q = queryMessage("nope.example.com", RRType::A, 1);
  ASSERT_TRUE(store(q, answerTo(q, {}, Rcode::NXDomain, {soaRecord("example.com", 3600, 20)})));
  auto hit = get(q, seconds(5));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->rcode(), Rcode::NXDomain);
  EXPECT_EQ(hit->authority[0].ttl, 3595u);  // aged like any record
  EXPECT_FALSE(get(q, seconds(20)));

  Message nodata = queryMessage("example.com", RRType::AAAA, 2);
  ASSERT_TRUE(store(nodata, answerTo(nodata, {}, Rcode::NoError, {soaRecord("example.com", 10, 900)})));
  EXPECT_TRUE(get(nodata, seconds(9)));
  EXPECT_FALSE(get(nodata, seconds(10)));  // min(SOA TTL, MINIMUM)
}

TEST_F(Fixture, UncacheableAnswersAreNotStored) {
  Message q = queryMessage("example.com", RRType::A, 1);
  Name owner = q.questions[0].name;
  EXPECT_FALSE(store(q, answerTo(q, {}, Rcode::ServFail)));
  EXPECT_FALSE(store(q, answerTo(q, {}, Rcode::Refused)));
  EXPECT_FALSE(store(q, answerTo(q, {}, Rcode::NXDomain)));  // no SOA: no negative TTL
  EXPECT_FALSE(store(q, answerTo(q, {makeA(owner, 0, ip("1.2.3.4"))})));
  Message tc = answerTo(q, {makeA(owner, 60, ip("1.2.3.4"))});
  tc.header.tc = true;
  EXPECT_FALSE(store(q, tc));
  EXPECT_FALSE(cache.insert(parsedQuery(wire(q)), std::vector<uint8_t>{1, 2, 3}, t0));  // garbage
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(Fixture, TtlIsCappedByMaxTtl) {
  ResponseCache small(10, 5);
  Message q = queryMessage("example.com", RRType::A, 1);
  ASSERT_TRUE(small.insert(parsedQuery(wire(q)), wire(answerTo(q, {makeA(q.questions[0].name, 3600, ip("1.2.3.4"))})),
                           t0));
  auto raw = wire(q);
  EXPECT_NE(small.lookup(parsedQuery(raw), raw, out, t0 + seconds(4)), 0u);
  EXPECT_EQ(small.lookup(parsedQuery(raw), raw, out, t0 + seconds(5)), 0u);
}

TEST_F(Fixture, KeyIncludesTypeClassAndDnssecOk) {
  Message q = queryMessage("example.com", RRType::A, 1, 1232, /*dnssecOk=*/false);
  ASSERT_TRUE(store(q, answerTo(q, {makeA(q.questions[0].name, 60, ip("1.2.3.4"))})));
  EXPECT_TRUE(get(q, seconds(0)));
  EXPECT_FALSE(get(queryMessage("example.com", RRType::AAAA, 1, 1232), seconds(0)));
  EXPECT_FALSE(get(queryMessage("example.com", RRType::A, 1, 1232, /*dnssecOk=*/true), seconds(0)));
  EXPECT_FALSE(get(queryMessage("example.com", RRType::A, 1), seconds(0)));  // no EDNS: no OPT in the answer
}

TEST_F(Fixture, CapacityEvictsTheOldest) {
  ResponseCache small(8, 300);  // one entry per shard at least; 8 shards
  for (int i = 0; i < 200; ++i) {
    Message q = queryMessage("n" + std::to_string(i) + ".example.com", RRType::A, 1);
    ASSERT_TRUE(small.insert(parsedQuery(wire(q)), wire(answerTo(q, {makeA(q.questions[0].name, 60, ip("1.2.3.4"))})),
                             t0));
  }
  EXPECT_LE(small.size(), 8u);
  Message last = queryMessage("n199.example.com", RRType::A, 1);
  auto raw = wire(last);
  EXPECT_NE(small.lookup(parsedQuery(raw), raw, out, t0), 0u);  // the newest survives
}

TEST_F(Fixture, OptTtlFieldIsNotAged) {
  Message q = queryMessage("example.com", RRType::A, 1, 1232, /*dnssecOk=*/true);
  ASSERT_TRUE(store(q, answerTo(q, {makeA(q.questions[0].name, 60, ip("1.2.3.4"))})));
  auto hit = get(q, seconds(7));
  ASSERT_TRUE(hit && hit->edns);
  EXPECT_TRUE(hit->edns->dnssecOk);  // the OPT's flags live in its TTL field: untouched
  EXPECT_EQ(hit->edns->version, 0);
  EXPECT_EQ(hit->answers[0].ttl, 53u);
}

}  // namespace
}  // namespace nodenet::dns::server
