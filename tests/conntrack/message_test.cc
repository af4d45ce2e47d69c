// ctnetlink encoding and parsing without a kernel.
// IP plan: client 10.0.0.2 (fd00::2), service 172.30.0.10:53 (fd00:30::10), endpoint 10.180.0.5:5353
// (fd00:180::5).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "netlink/conntrack/message.h"

namespace nodenet::conntrack {
namespace {

IpAddress ip(const char* s) { return IpAddress::parse(s).value(); }

Flow udpFlowV4() {
  Flow f;
  f.family = IpFamily::V4;
  f.l4proto = IPPROTO_UDP;
  f.orig = {ip("10.0.0.2"), ip("172.30.0.10"), 40000, 53};
  f.reply = {ip("10.180.0.5"), ip("10.0.0.2"), 5353, 40000};
  f.zone = 0;
  f.id = 0xdeadbeef;
  f.mark = 0x4000;
  f.timeout = 29;
  f.status = 0x18e;  // CONFIRMED | SRC_NAT_DONE | DST_NAT_DONE | DST_NAT | SEEN_REPLY-ish bits
  return f;
}

Flow udpFlowV6() {
  Flow f;
  f.family = IpFamily::V6;
  f.l4proto = IPPROTO_UDP;
  f.orig = {ip("fd00::2"), ip("fd00:30::10"), 40001, 53};
  f.reply = {ip("fd00:180::5"), ip("fd00::2"), 5353, 40001};
  f.zone = 7;
  f.id = 42;
  f.timeout = 120;
  return f;
}

const nlmsghdr* header(const std::vector<uint8_t>& b) { return reinterpret_cast<const nlmsghdr*>(b.data()); }

TEST(ConntrackWire, DumpRequestHeader) {
  std::vector<uint8_t> buf;
  wire::appendDumpRequest(buf, IpFamily::V6, 77);
  ASSERT_EQ(buf.size(), NLMSG_HDRLEN + sizeof(nfgenmsg));
  const nlmsghdr* h = header(buf);
  EXPECT_EQ(h->nlmsg_len, buf.size());
  EXPECT_EQ(h->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET);
  EXPECT_EQ(h->nlmsg_type, 0x0101);
  EXPECT_EQ(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(h->nlmsg_seq, 77u);
  const auto* nfg = reinterpret_cast<const nfgenmsg*>(buf.data() + NLMSG_HDRLEN);
  EXPECT_EQ(nfg->nfgen_family, AF_INET6);
  EXPECT_EQ(nfg->version, NFNETLINK_V0);
  EXPECT_EQ(nfg->res_id, 0);
}

TEST(ConntrackWire, DumpRequestWithKernelProtocolFilter) {
  std::vector<uint8_t> buf;
  wire::appendDumpRequest(buf, IpFamily::V4, 3, IPPROTO_UDP);
  ASSERT_EQ(buf.size(), 20u + 16u + 20u);
  EXPECT_EQ(header(buf)->nlmsg_len, buf.size());
  const uint8_t want[] = {
      16, 0, CTA_TUPLE_ORIG, 0x80,           // CTA_TUPLE_ORIG, nested
      12, 0, CTA_TUPLE_PROTO, 0x80,          // CTA_TUPLE_PROTO, nested
      5,  0, CTA_PROTO_NUM, 0, 17, 0, 0, 0,  // UDP
      20, 0, CTA_FILTER, 0x80,               // CTA_FILTER, nested
      8,  0, CTA_FILTER_ORIG_FLAGS, 0, 8, 0, 0, 0,  // CTA_FILTER_F_CTA_PROTO_NUM (1 << 3), host order
      8,  0, CTA_FILTER_REPLY_FLAGS, 0, 0, 0, 0, 0,
  };
  ASSERT_EQ(sizeof want, 36u);
  EXPECT_EQ(0, memcmp(buf.data() + 20, want, sizeof want));
}

TEST(ConntrackWire, DeleteRequestBytesV4) {
  std::vector<uint8_t> buf;
  wire::appendDeleteRequest(buf, udpFlowV4(), 5);
  // nlmsghdr(16) nfgenmsg(4) ORIG{4 IP{4 SRC(8) DST(8)} PROTO{4 NUM(8 with pad) SPORT(8) DPORT(8)}} = 72.
  ASSERT_EQ(buf.size(), 72u);
  const nlmsghdr* h = header(buf);
  EXPECT_EQ(h->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE);
  EXPECT_EQ(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(h->nlmsg_seq, 5u);
  EXPECT_EQ(buf[16], AF_INET);
  // The exact attribute stream, big-endian values, NLA_F_NESTED (0x8000) on nests.
  const uint8_t want[] = {
      52, 0, CTA_TUPLE_ORIG, 0x80,               // CTA_TUPLE_ORIG, nested
      20, 0, CTA_TUPLE_IP, 0x80,                 // CTA_TUPLE_IP, nested
      8,  0, CTA_IP_V4_SRC, 0, 10, 0, 0, 2,      // 10.0.0.2
      8,  0, CTA_IP_V4_DST, 0, 172, 30, 0, 10,   // 172.30.0.10
      28, 0, CTA_TUPLE_PROTO, 0x80,              // CTA_TUPLE_PROTO, nested
      5,  0, CTA_PROTO_NUM, 0, 17, 0, 0, 0,      // UDP + padding
      6,  0, CTA_PROTO_SRC_PORT, 0, 0x9c, 0x40, 0, 0,  // 40000
      6,  0, CTA_PROTO_DST_PORT, 0, 0, 53, 0, 0,       // 53
  };
  ASSERT_EQ(sizeof want, 52u);
  EXPECT_EQ(0, memcmp(buf.data() + 20, want, sizeof want));
}

TEST(ConntrackWire, DeleteRequestCarriesZoneAndParsesBack) {
  std::vector<uint8_t> buf;
  Flow f = udpFlowV6();
  wire::appendDeleteRequest(buf, f, 9);
  auto parsed = wire::parseFlowMessage(buf.data(), buf.size());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->family, IpFamily::V6);
  EXPECT_EQ(parsed->l4proto, IPPROTO_UDP);
  EXPECT_EQ(parsed->orig, f.orig);
  EXPECT_EQ(parsed->zone, 7);
  EXPECT_EQ(parsed->reply, Tuple{});  // a delete selects by the original tuple only
}

TEST(ConntrackWire, FlowMessageRoundTripV4AndV6) {
  for (const Flow& f : {udpFlowV4(), udpFlowV6()}) {
    std::vector<uint8_t> buf;
    wire::appendFlowMessage(buf, f, 1);
    auto parsed = wire::parseFlowMessage(buf.data(), buf.size());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message();
    EXPECT_EQ(parsed->family, f.family);
    EXPECT_EQ(parsed->l4proto, f.l4proto);
    EXPECT_EQ(parsed->orig, f.orig);
    EXPECT_EQ(parsed->reply, f.reply);
    EXPECT_EQ(parsed->zone, f.zone);
    EXPECT_EQ(parsed->id, f.id);
    EXPECT_EQ(parsed->mark, f.mark);
    EXPECT_EQ(parsed->timeout, f.timeout);
    EXPECT_EQ(parsed->status, f.status);
  }
}

TEST(ConntrackWire, IcmpTupleHasNoPorts) {
  Flow f = udpFlowV4();
  f.l4proto = IPPROTO_ICMP;
  f.orig.srcPort = f.orig.dstPort = f.reply.srcPort = f.reply.dstPort = 0;
  std::vector<uint8_t> buf;
  wire::appendDeleteRequest(buf, f, 1);
  EXPECT_EQ(buf.size(), 72u - 16u);  // no CTA_PROTO_SRC_PORT / CTA_PROTO_DST_PORT
  auto parsed = wire::parseFlowMessage(buf.data(), buf.size());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->l4proto, IPPROTO_ICMP);
}

TEST(ConntrackWire, ConcatenatedMessagesAreAligned) {
  std::vector<uint8_t> buf;
  wire::appendDeleteRequest(buf, udpFlowV4(), 1);
  size_t first = buf.size();
  wire::appendDeleteRequest(buf, udpFlowV6(), 2);
  EXPECT_EQ(first % NLMSG_ALIGNTO, 0u);
  auto second = wire::parseFlowMessage(buf.data() + first, buf.size() - first);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->family, IpFamily::V6);
}

TEST(ConntrackWire, RejectsTruncatedAndForeignMessages) {
  std::vector<uint8_t> buf;
  wire::appendFlowMessage(buf, udpFlowV4(), 1);
  EXPECT_FALSE(wire::parseFlowMessage(buf.data(), 10).ok());
  // nlmsg_len larger than the buffer.
  auto r = wire::parseFlowMessage(buf.data(), buf.size() - 4);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("does not fit"), std::string::npos);
  // Another nfnetlink subsystem (nftables = 10).
  std::vector<uint8_t> other = buf;
  reinterpret_cast<nlmsghdr*>(other.data())->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8);
  r = wire::parseFlowMessage(other.data(), other.size());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not ctnetlink"), std::string::npos);
  // Unknown family.
  std::vector<uint8_t> fam = buf;
  fam[16] = AF_UNIX;
  EXPECT_FALSE(wire::parseFlowMessage(fam.data(), fam.size()).ok());
}

TEST(ConntrackWire, RejectsFamilyMismatchAndMissingTuple) {
  // An IPv4 tuple inside a message claiming AF_INET6.
  std::vector<uint8_t> buf;
  wire::appendFlowMessage(buf, udpFlowV4(), 1);
  buf[16] = AF_INET6;
  auto r = wire::parseFlowMessage(buf.data(), buf.size());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("does not match the message family"), std::string::npos);

  // A message with no attributes at all.
  std::vector<uint8_t> bare;
  wire::appendDumpRequest(bare, IpFamily::V4, 1);
  r = wire::parseFlowMessage(bare.data(), bare.size());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("no original tuple"), std::string::npos);
}

TEST(ConntrackWire, CorruptAttributeLengthsDoNotOverrun) {
  std::vector<uint8_t> good;
  wire::appendFlowMessage(good, udpFlowV6(), 1);
  // Flip every byte of the attribute area to extreme values one at a time: parsing must fail or succeed,
  // never read out of bounds (run under ASan to make this strict).
  for (size_t i = 20; i < good.size(); ++i) {
    for (uint8_t v : {uint8_t{0}, uint8_t{0xff}, uint8_t{4}}) {
      std::vector<uint8_t> bad = good;
      bad[i] = v;
      (void)wire::parseFlowMessage(bad.data(), bad.size());
    }
  }
  SUCCEED();
}

}  // namespace
}  // namespace nodenet::conntrack
