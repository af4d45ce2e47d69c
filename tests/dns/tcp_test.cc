// TCP framing (RFC 7766 §8): the length prefix and splitting a byte stream into messages across reads.
#include "dns/wire/tcp.h"

#include <gtest/gtest.h>

#include "dns/wire/query.h"
#include "tests/dns/test_util.h"

namespace nodenet::dns {
namespace {

using testing::hexBytes;

std::vector<uint8_t> q1() { return hexBytes("0001 0100 0001 0000 0000 0000 0161 00 0001 0001"); }
std::vector<uint8_t> q2() { return hexBytes("0002 0100 0001 0000 0000 0000 0162 07 6578616d706c65 00 001c 0001"); }

TEST(Tcp, FrameAddsNetworkOrderLength) {
  auto f = frameForTcp(q1());
  ASSERT_EQ(f.size(), q1().size() + 2);
  EXPECT_EQ(f[0], 0);
  EXPECT_EQ(f[1], q1().size());
  uint8_t len[2];
  writeTcpLength(len, 0x1234);
  EXPECT_EQ(len[0], 0x12);
  EXPECT_EQ(len[1], 0x34);
}

TEST(Tcp, SplitsMessagesFedOneByteAtATime) {
  std::vector<uint8_t> stream = frameForTcp(q1());
  auto f2 = frameForTcp(q2());
  stream.insert(stream.end(), f2.begin(), f2.end());
  TcpStreamSplitter s;
  std::vector<std::vector<uint8_t>> got;
  for (uint8_t b : stream) {
    s.feed({&b, 1});
    while (auto m = s.next()) got.emplace_back(m->begin(), m->end());
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], q1());
  EXPECT_EQ(got[1], q2());
  EXPECT_EQ(s.buffered(), 0u);
  EXPECT_FALSE(s.hasPartial());
  EXPECT_EQ(parseQuery(got[1]).value().id, 2);
}

TEST(Tcp, SeveralMessagesInOneReadAndAPartialTail) {
  std::vector<uint8_t> stream;
  for (int i = 0; i < 3; ++i) {
    auto f = frameForTcp(q1());
    stream.insert(stream.end(), f.begin(), f.end());
  }
  auto f2 = frameForTcp(q2());
  stream.insert(stream.end(), f2.begin(), f2.begin() + 5);  // length + 3 bytes of the 4th
  TcpStreamSplitter s;
  s.feed(stream);
  int n = 0;
  while (auto m = s.next()) {
    EXPECT_EQ(std::vector<uint8_t>(m->begin(), m->end()), q1());
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_TRUE(s.hasPartial());
  EXPECT_EQ(s.buffered(), 5u);
  s.feed(std::span<const uint8_t>(f2).subspan(5));
  auto last = s.next();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(std::vector<uint8_t>(last->begin(), last->end()), q2());
  EXPECT_FALSE(s.next().has_value());
}

TEST(Tcp, SplitAtEveryPosition) {
  auto a = frameForTcp(q1());
  auto b = frameForTcp(q2());
  std::vector<uint8_t> stream(a);
  stream.insert(stream.end(), b.begin(), b.end());
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    TcpStreamSplitter s;
    int n = 0;
    s.feed(std::span<const uint8_t>(stream).first(cut));
    while (s.next()) ++n;
    s.feed(std::span<const uint8_t>(stream).subspan(cut));
    while (s.next()) ++n;
    EXPECT_EQ(n, 2) << "cut at " << cut;
    EXPECT_EQ(s.buffered(), 0u);
  }
}

TEST(Tcp, ZeroLengthFrameIsAnEmptyMessage) {
  TcpStreamSplitter s;
  const uint8_t zero[2] = {0, 0};
  s.feed(zero);
  auto m = s.next();
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->empty());
  EXPECT_FALSE(parseQuery(*m).ok());
}

}  // namespace
}  // namespace nodenet::dns
