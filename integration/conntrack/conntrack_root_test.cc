// netlink/conntrack against the kernel, inside two namespaces this test creates.
//
// IP plan:
//   node netns  "nnt-ct-<pid>-<rand>-node": veth0 10.180.0.1/24, fd00:180::1/64; routes 172.30.0.0/16 and
//               fd00:30::/64 via veth0; nftables DNAT (output hook), which also turns conntrack on there:
//                 172.30.0.10 udp 53, sport 40000-40099 -> 10.180.0.5:5353 (endpoint A)
//                 172.30.0.10 udp 53, sport 40100-40199 -> 10.180.0.6:5353 (endpoint B)
//                 172.30.0.10 udp other ports           -> 10.180.0.5 (port kept; the 10k-flow test)
//                 fd00:30::10 udp 53, sport 40000-40099  -> [fd00:180::5]:5353, 40100-40199 -> [fd00:180::6]:5353
//   ep netns    "...-ep": veth1 10.180.0.5/24, 10.180.0.6/24, fd00:180::5/64, fd00:180::6/64
// UDP datagrams are sent from sockets opened inside the node netns (client = the node itself), so every
// flow is a real, confirmed conntrack entry with orig dst = service and reply src = endpoint.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>

#include "base/strings.h"
#include "integration/harness/fixture.h"
#include "integration/harness/netns.h"
#include "netlink/conntrack/conntrack.h"

namespace nodenet::conntrack {
namespace {

using itest::TestNetns;

constexpr const char* kPrefix = "nnt-ct-";

IpAddress ip(const char* s) { return IpAddress::parse(s).value(); }

/// Sends one UDP datagram per destination port from a socket bound to srcPort (0 = any), opened on a
/// short-lived thread inside the namespace (the socket, and so the flows, belong to that namespace).
Status sendUdp(const std::string& netnsPath, const IpAddress& dst, const std::vector<uint16_t>& dports,
               uint16_t srcPort) {
  Status result = okStatus();
  std::thread([&] {
    int nsfd = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
      result = Error::fromErrno(errno, "setns " + netnsPath);
      if (nsfd >= 0) close(nsfd);
      return;
    }
    close(nsfd);
    int af = dst.isV4() ? AF_INET : AF_INET6;
    int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      result = Error::fromErrno(errno, "socket");
      return;
    }
    sockaddr_storage ss{};
    socklen_t len;
    auto fill = [&](uint16_t port, bool any) {
      ss = {};
      if (af == AF_INET) {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        if (!any) memcpy(&s4->sin_addr, dst.data(), 4);
        len = sizeof(sockaddr_in);
      } else {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        if (!any) memcpy(&s6->sin6_addr, dst.data(), 16);
        len = sizeof(sockaddr_in6);
      }
    };
    if (srcPort) {
      fill(srcPort, true);
      if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        result = Error::fromErrno(errno, strCat("bind port ", srcPort));
        close(fd);
        return;
      }
    }
    for (uint16_t p : dports) {
      fill(p, false);
      if (sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&ss), len) != 1) {
        result = Error::fromErrno(errno, strCat("sendto ", dst.toString(), ":", p));
        break;
      }
    }
    close(fd);
  }).join();
  return result;
}

class ConntrackRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (creates network namespaces)";
    itest::removeStaleNetns(kPrefix);
    auto n = TestNetns::create(kPrefix, "node");
    NN_ASSERT_OK(n);
    node_ = std::move(*n);
    auto e = TestNetns::create(kPrefix, "ep");
    NN_ASSERT_OK(e);
    ep_ = std::move(*e);
    sh(node_, "ip link add veth0 type veth peer name veth1 netns " + ep_.name());
    sh(node_, "ip addr add 10.180.0.1/24 dev veth0 && ip -6 addr add fd00:180::1/64 dev veth0 nodad && "
              "ip link set veth0 up && ip route add 172.30.0.0/16 dev veth0 && "
              "ip -6 route add fd00:30::/64 dev veth0");
    sh(ep_, "ip addr add 10.180.0.5/24 dev veth1 && ip addr add 10.180.0.6/24 dev veth1 && "
            "ip -6 addr add fd00:180::5/64 dev veth1 nodad && ip -6 addr add fd00:180::6/64 dev veth1 nodad && "
            "ip link set veth1 up");
    const char* ruleset = R"(table inet ct_test {
  chain out {
    type nat hook output priority -100; policy accept;
    ip daddr 172.30.0.10 udp dport 53 udp sport 40000-40099 dnat ip to 10.180.0.5:5353
    ip daddr 172.30.0.10 udp dport 53 udp sport 40100-40199 dnat ip to 10.180.0.6:5353
    ip daddr 172.30.0.10 udp dport != 53 dnat ip to 10.180.0.5
    ip6 daddr fd00:30::10 udp dport 53 udp sport 40000-40099 dnat ip6 to [fd00:180::5]:5353
    ip6 daddr fd00:30::10 udp dport 53 udp sport 40100-40199 dnat ip6 to [fd00:180::6]:5353
  }
}
)";
    itest::RunOptions o;
    o.stdinData = ruleset;
    auto r = node_.exec({"nft", "-f", "-"}, o);
    NN_ASSERT_OK(r);
    ASSERT_TRUE(r->ok()) << r->describe();
    auto ct = Conntrack::create(node_.path());
    NN_ASSERT_OK(ct);
    ct_ = std::move(*ct);
  }

  void sh(const TestNetns& ns, const std::string& cmd) {
    auto r = ns.exec({"sh", "-c", cmd});
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_TRUE(r->ok()) << cmd << ": " << r->describe();
  }

  /// `conntrack -L` inside the node netns, lines containing every needle.
  int conntrackLines(const std::string& family, const std::vector<std::string>& needles) {
    auto r = node_.exec({"conntrack", "-L", "-f", family, "-p", "udp"});
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return -1;
    int n = 0;
    for (const std::string& line : split(r->out, '\n')) {
      bool all = !line.empty();
      for (const auto& nd : needles) all = all && line.find(nd) != std::string::npos;
      n += all;
    }
    return n;
  }

  /// Flows from sports [from, from+count) to svc:53.
  void sendFlows(const IpAddress& svc, uint16_t from, int count) {
    for (int i = 0; i < count; ++i) {
      Status st = sendUdp(node_.path(), svc, {53}, static_cast<uint16_t>(from + i));
      ASSERT_TRUE(st.ok()) << st.error().message();
    }
  }

  TestNetns node_;
  TestNetns ep_;
  std::unique_ptr<Conntrack> ct_;
};

TEST_F(ConntrackRootTest, DeletesByEndpointThenByServiceIPv4) {
  sendFlows(ip("172.30.0.10"), 40000, 3);  // -> endpoint A
  sendFlows(ip("172.30.0.10"), 40100, 2);  // -> endpoint B
  ASSERT_TRUE(sendUdp(node_.path(), ip("172.30.0.10"), {54}, 40500).ok());  // another service port

  FlowFilter svc;
  svc.origDst = ip("172.30.0.10");
  svc.origDstPort = 53;
  auto listed = ct_->list(svc);
  NN_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 5u);
  for (const Flow& f : *listed) {
    EXPECT_EQ(f.reply.srcPort, 5353) << f.toString();
    EXPECT_TRUE(f.reply.src == ip("10.180.0.5") || f.reply.src == ip("10.180.0.6")) << f.toString();
  }
  EXPECT_EQ(conntrackLines("ipv4", {"dst=172.30.0.10", "dport=53 ", "src=10.180.0.6"}), 2);

  // Flows whose reply source is none of the current endpoints (the start-up cleanup): with both endpoints
  // current nothing goes; with only A current, B's flows would go (checked with list, then deleted below).
  FlowFilter notIn = svc;
  notIn.replySrcNotIn = std::vector<IpAddress>{ip("10.180.0.5"), ip("10.180.0.6")};
  auto none = ct_->list(notIn);
  NN_ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  notIn.replySrcNotIn = std::vector<IpAddress>{ip("10.180.0.5")};
  auto onlyB = ct_->list(notIn);
  NN_ASSERT_OK(onlyB);
  ASSERT_EQ(onlyB->size(), 2u);
  for (const Flow& f : *onlyB) EXPECT_EQ(f.reply.src, ip("10.180.0.6")) << f.toString();

  // Endpoint B went away: only its flows go.
  FlowFilter epB = svc;
  epB.replySrc = ip("10.180.0.6");
  auto deleted = ct_->deleteFlows(epB);
  NN_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 2u);
  EXPECT_EQ(conntrackLines("ipv4", {"dst=172.30.0.10", "src=10.180.0.6"}), 0);
  EXPECT_EQ(conntrackLines("ipv4", {"dst=172.30.0.10", "dport=53 ", "src=10.180.0.5"}), 3);

  // The service lost all endpoints: every flow to 172.30.0.10:53 goes; the :54 flow stays.
  deleted = ct_->deleteFlows(svc);
  NN_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(conntrackLines("ipv4", {"dst=172.30.0.10", "dport=53 "}), 0);
  EXPECT_EQ(conntrackLines("ipv4", {"dst=172.30.0.10", "dport=54 "}), 1);
  listed = ct_->list(svc);
  NN_ASSERT_OK(listed);
  EXPECT_TRUE(listed->empty());

  // Nothing left to delete is success with 0.
  deleted = ct_->deleteFlows(svc);
  NN_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 0u);
}

TEST_F(ConntrackRootTest, DeletesByEndpointIPv6) {
  sendFlows(ip("fd00:30::10"), 40000, 2);  // -> [fd00:180::5]:5353
  sendFlows(ip("fd00:30::10"), 40100, 3);  // -> [fd00:180::6]:5353
  FlowFilter f;
  f.family = IpFamily::V6;
  f.origDst = ip("fd00:30::10");
  f.origDstPort = 53;
  auto listed = ct_->list(f);
  NN_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 5u);
  f.replySrc = ip("fd00:180::6");
  f.replySrcPort = 5353;
  auto deleted = ct_->deleteFlows(f);
  NN_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(conntrackLines("ipv6", {"dst=fd00:30::10", "src=fd00:180::6"}), 0);
  EXPECT_EQ(conntrackLines("ipv6", {"dst=fd00:30::10", "src=fd00:180::5"}), 2);
  // IPv4 flows are untouched by an IPv6 filter and vice versa.
  FlowFilter v4;
  auto v4list = ct_->list(v4);
  NN_ASSERT_OK(v4list);
  for (const Flow& fl : *v4list) EXPECT_EQ(fl.family, IpFamily::V4);
}

TEST_F(ConntrackRootTest, SeveralFiltersOneDumpAndGoneFlowsAreNotErrors) {
  sendFlows(ip("172.30.0.10"), 40000, 2);
  sendFlows(ip("fd00:30::10"), 40100, 2);
  FlowFilter a;
  a.origDst = ip("172.30.0.10");
  FlowFilter b;
  b.family = IpFamily::V6;
  b.replySrc = ip("fd00:180::6");
  auto before = ct_->list(a);
  NN_ASSERT_OK(before);
  ASSERT_EQ(before->size(), 2u);

  auto deleted = ct_->deleteFlows(std::vector<FlowFilter>{a, b});
  NN_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 4u);

  // The same flows again: all ENOENT now, which is success with 0.
  auto again = ct_->deleteFlows(*before);
  NN_ASSERT_OK(again);
  EXPECT_EQ(*again, 0u);
  // An empty filter list touches nothing.
  auto none = ct_->deleteFlows(std::vector<FlowFilter>{});
  NN_ASSERT_OK(none);
  EXPECT_EQ(*none, 0u);
}

TEST_F(ConntrackRootTest, FlowsInsertedByConntrackToolIncludingZones) {
  // Flows created through ctnetlink by conntrack(8), one in zone 5: deletion must carry the zone.
  for (const char* zone : {"0", "5"}) {
    auto r = node_.exec({"conntrack", "-I", "-p", "udp", "-s", "10.0.0.2", "-d", "172.30.0.20", "--sport", "1000",
                         "--dport", "53", "-r", "10.180.0.5", "-q", "10.0.0.2", "--reply-port-src", "5353",
                         "--reply-port-dst", "1000", "-t", "60", "-w", zone});
    NN_ASSERT_OK(r);
    ASSERT_TRUE(r->ok()) << r->describe();
  }
  FlowFilter f;
  f.origDst = ip("172.30.0.20");
  auto listed = ct_->list(f);
  NN_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  std::set<uint16_t> zones;
  for (const Flow& fl : *listed) zones.insert(fl.zone);
  EXPECT_EQ(zones, (std::set<uint16_t>{0, 5}));
  EXPECT_GT((*listed)[0].timeout, 0u);

  // A TCP flow to the same address: invisible to UDP filters (the kernel-side protocol filter and ours).
  auto tcp = node_.exec({"conntrack", "-I", "-p", "tcp", "-s", "10.0.0.2", "-d", "172.30.0.20", "--sport", "1000",
                         "--dport", "53", "-r", "10.180.0.5", "-q", "10.0.0.2", "--reply-port-src", "5353",
                         "--reply-port-dst", "1000", "-t", "60", "--state", "ESTABLISHED"});
  NN_ASSERT_OK(tcp);
  ASSERT_TRUE(tcp->ok()) << tcp->describe();
  FlowFilter tcpFilter = f;
  tcpFilter.l4proto = L4Proto::TCP;
  auto tcpListed = ct_->list(tcpFilter);
  NN_ASSERT_OK(tcpListed);
  ASSERT_EQ(tcpListed->size(), 1u);
  EXPECT_EQ((*tcpListed)[0].l4proto, IPPROTO_TCP);
  auto deleted = ct_->deleteFlows(f);
  NN_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 2u);
  EXPECT_EQ(conntrackLines("ipv4", {"dst=172.30.0.20"}), 0);
  tcpListed = ct_->list(tcpFilter);
  NN_ASSERT_OK(tcpListed);
  EXPECT_EQ(tcpListed->size(), 1u);  // the TCP flow survived the UDP cleanup
}

TEST_F(ConntrackRootTest, BadInputIsAnErrorNamingIt) {
  FlowFilter f;
  f.origDst = ip("fd00::1");
  auto r = ct_->deleteFlows(f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("origDst fd00::1 is not ipv4"), std::string::npos) << r.error().message();
  // A kernel rejection names the flow and keeps the errno: an ICMP tuple without type/code/id is EINVAL
  // (icmp_nlattr_to_tuple); the other flow in the batch is still tried (ENOENT here, so 0 deleted).
  Flow icmp;
  icmp.l4proto = IPPROTO_ICMP;
  icmp.orig = {ip("10.0.0.2"), ip("172.30.0.99"), 0, 0};
  Flow gone;
  gone.l4proto = IPPROTO_UDP;
  gone.orig = {ip("10.0.0.2"), ip("172.30.0.99"), 1, 2};
  auto k = ct_->deleteFlows(std::vector<Flow>{icmp, gone});
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().sysErrno(), EINVAL);
  EXPECT_NE(k.error().message().find("conntrack delete icmp 10.0.0.2:0 -> 172.30.0.99:0"), std::string::npos)
      << k.error().message();
  EXPECT_NE(k.error().message().find("(errno 22) (0 of 2 deleted)"), std::string::npos) << k.error().message();

  auto c = Conntrack::create("/run/netns/nnt-ct-does-not-exist");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().sysErrno(), ENOENT);
  EXPECT_NE(c.error().message().find("/run/netns/nnt-ct-does-not-exist"), std::string::npos);
}

// 10k flows to one service IP: our dump + filtered batched delete against `conntrack -D` on the same set.
TEST_F(ConntrackRootTest, TenThousandFlows) {
  constexpr int kFlows = 10000;
  std::vector<uint16_t> ports;
  for (int i = 0; i < kFlows; ++i) ports.push_back(static_cast<uint16_t>(1000 + i));
  FlowFilter f;
  f.origDst = ip("172.30.0.10");

  // Peer: conntrack(8) deleting the same selection (it dumps with a kernel filter, then deletes one by one).
  ASSERT_TRUE(sendUdp(node_.path(), ip("172.30.0.10"), ports, 39000).ok());
  auto listed = ct_->list(f);
  NN_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), static_cast<size_t>(kFlows));
  auto peer = node_.exec({"conntrack", "-D", "-p", "udp", "--orig-dst", "172.30.0.10"});
  NN_ASSERT_OK(peer);
  ASSERT_TRUE(peer->ok()) << peer->describe();
  double peerMs = peer->elapsedMs();

  ASSERT_TRUE(sendUdp(node_.path(), ip("172.30.0.10"), ports, 39000).ok());
  auto t0 = std::chrono::steady_clock::now();
  listed = ct_->list(f);
  double listMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  NN_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), static_cast<size_t>(kFlows));

  t0 = std::chrono::steady_clock::now();
  auto deleted = ct_->deleteFlows(f);
  double deleteMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  NN_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, static_cast<size_t>(kFlows));
  EXPECT_EQ(conntrackLines("ipv4", {"dst=172.30.0.10"}), 0);
  printf("[ figures  ] 10k UDP flows: list %.1f ms, dump+delete %.1f ms (%.2f us/flow); conntrack -D %.1f ms "
         "(ratio %.2f)\n",
         listMs, deleteMs, deleteMs * 1000 / kFlows, peerMs, deleteMs / peerMs);
  // Bound, generous for a loaded 2-core machine: one dump plus 40 sendmsg batches.
  EXPECT_LT(deleteMs, 2000);
}

}  // namespace
}  // namespace nodenet::conntrack
