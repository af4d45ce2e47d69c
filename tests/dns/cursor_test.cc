// WireReader / WireWriter: bounds checks and the sticky first error.
#include "dns/wire/cursor.h"

#include <gtest/gtest.h>

namespace nodenet::dns {
namespace {

TEST(WireReader, ReadsNetworkOrder) {
  const uint8_t data[] = {0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x7f};
  WireReader r(data, sizeof data);
  EXPECT_EQ(r.readU16(), 0x1234);
  EXPECT_EQ(r.readU32(), 0xdeadbeefu);
  EXPECT_EQ(r.readU8(), 0x7f);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireReader, FirstErrorSticksAndLaterReadsReturnZeroWithoutMoving) {
  const uint8_t data[] = {0x01, 0x02, 0x03};
  WireReader r(data, sizeof data);
  EXPECT_EQ(r.readU16(), 0x0102);
  EXPECT_EQ(r.readU32(), 0u);  // only one byte left
  EXPECT_FALSE(r.ok());
  const char* first = r.error();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(r.offset(), 2u);
  EXPECT_EQ(r.readU8(), 0u);  // a byte is there, but the reader is poisoned
  EXPECT_EQ(r.offset(), 2u);
  EXPECT_EQ(r.remaining(), 0u);
  r.fail("later reason");
  EXPECT_STREQ(r.error(), first);
  uint8_t out[2] = {9, 9};
  r.readBytes(out, 2);
  EXPECT_EQ(out[0], 0);
  EXPECT_TRUE(r.readSpan(1).empty());
}

TEST(WireReader, SkipAndSeekAreBounded) {
  const uint8_t data[4] = {};
  WireReader r(data, sizeof data);
  r.skip(4);
  EXPECT_TRUE(r.ok());
  r.seek(5);
  EXPECT_FALSE(r.ok());
  WireReader r2(data, sizeof data);
  r2.skip(5);
  EXPECT_FALSE(r2.ok());
  EXPECT_EQ(r2.offset(), 0u);
}

TEST(WireWriter, NoRoomIsStickyAndWritesNothing) {
  uint8_t buf[5] = {};
  WireWriter w(buf, sizeof buf);
  w.writeU32(0x01020304);
  EXPECT_TRUE(w.ok());
  w.writeU16(0xffff);  // needs 2, 1 left
  EXPECT_TRUE(w.noRoom());
  w.writeU8(0xee);  // would fit, but the writer is full
  EXPECT_EQ(w.size(), 4u);
  EXPECT_EQ(buf[4], 0);
  EXPECT_EQ(w.room(), 0u);
}

TEST(WireWriter, RewindDropsAPartialRecordAndClearsNoRoom) {
  uint8_t buf[8] = {};
  WireWriter w(buf, sizeof buf);
  w.writeU16(0xaaaa);
  const size_t mark = w.mark();
  w.writeU32(1);
  w.writeU32(2);  // does not fit
  ASSERT_TRUE(w.noRoom());
  w.rewind(mark);
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.size(), 2u);
  w.writeU16(0xbbbb);
  w.patchU16(0, 0x1234);
  EXPECT_EQ(buf[0], 0x12);
  EXPECT_EQ(buf[3], 0xbb);
}

TEST(WireWriter, LowerLimitReservesRoom) {
  uint8_t buf[16] = {};
  WireWriter w(buf, sizeof buf);
  w.setLimit(4);
  w.writeU32(0);
  w.writeU8(0);
  EXPECT_TRUE(w.noRoom());
  w.rewind(4);
  w.restoreLimit(16);
  w.writeU32(0);
  EXPECT_TRUE(w.ok());
}

}  // namespace
}  // namespace nodenet::dns
