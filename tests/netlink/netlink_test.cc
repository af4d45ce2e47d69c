// Root-only tests of the rtnetlink layer. Everything happens in two fresh namespaces per test:
//   host ns  nnt-nl-<rand>-h : bridge br0, veth host side vethX, addresses 10.99.0.1/24, fd00:99::1/64
//   cont ns  nnt-nl-<rand>-c : veth peer eth0 (10.99.0.2/24), routes via 10.99.0.1
// The machine's root namespace is never touched; the fixture deletes both namespaces even on failure.
#include <gtest/gtest.h>
#include <linux/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <thread>

#include "base/strings.h"
#include "netlink/addr.h"
#include "netlink/link.h"
#include "netlink/neigh.h"
#include "netlink/netns.h"
#include "netlink/route.h"
#include "netlink/rtnl_socket.h"
#include "netlink/sysctl.h"

namespace nodenet::netlink {
namespace {

#define ASSERT_OK(expr)                                              \
  do {                                                               \
    auto&& r_ = (expr);                                              \
    ASSERT_TRUE(r_.ok()) << #expr << ": " << r_.error().message();   \
  } while (0)

std::string randomSuffix() {
  std::random_device rd;
  return strCat(std::hex, rd() & 0xffffff);
}

// Runs a shell command and returns its stdout (for cross-checking with iproute2).
std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (creates network namespaces)";
    const std::string base = "nnt-nl-" + randomSuffix();
    hostName_ = base + "-h";
    contName_ = base + "-c";
    auto h = Netns::createNamed(hostName_);
    ASSERT_TRUE(h.ok()) << h.error().message();
    host_ = std::move(h).value();
    auto c = Netns::createNamed(contName_);
    ASSERT_TRUE(c.ok()) << c.error().message();
    cont_ = std::move(c).value();
    auto hs = RtnlSocket::open(host_);
    ASSERT_TRUE(hs.ok()) << hs.error().message();
    hsock_.emplace(std::move(hs).value());
    auto cs = RtnlSocket::open(cont_);
    ASSERT_TRUE(cs.ok()) << cs.error().message();
    csock_.emplace(std::move(cs).value());
  }

  void TearDown() override {
    hsock_.reset();
    csock_.reset();
    host_ = Netns();
    cont_ = Netns();
    for (const auto& name : {hostName_, contName_}) {
      if (name.empty()) continue;
      Status st = Netns::deleteNamed(name, true);
      EXPECT_TRUE(st.ok()) << st.error().message();
    }
  }

  // Creates br0 + veth vethX (host) / eth0 (container) enslaved and up; returns the host-side ifindex.
  int makePair() {
    auto br = ensureBridge(*hsock_, BridgeOptions{.name = "br0"});
    EXPECT_TRUE(br.ok()) << br.error().message();
    auto v = createVeth(*hsock_, VethOptions{.name = "vethX", .peerName = "eth0", .peerNetns = &cont_});
    EXPECT_TRUE(v.ok()) << v.error().message();
    if (!br.ok() || !v.ok()) return 0;
    EXPECT_TRUE(setLinkMaster(*hsock_, v->index, br->index).ok());
    EXPECT_TRUE(setLinkUp(*hsock_, v->index).ok());
    EXPECT_TRUE(setLinkUp(*csock_, "eth0").ok());
    EXPECT_TRUE(setLinkUp(*csock_, "lo").ok());
    return v->index;
  }

  std::string ipn(const std::string& ns, const std::string& args) { return sh(strCat("ip -n ", ns, " ", args, " 2>&1")); }

  std::string hostName_, contName_;
  Netns host_, cont_;
  std::optional<RtnlSocket> hsock_, csock_;
};

TEST_F(NetlinkTest, NetnsHandles) {
  auto again = Netns::openNamed(hostName_);
  ASSERT_OK(again);
  auto same = host_.sameAs(*again);
  ASSERT_OK(same);
  EXPECT_TRUE(*same);
  auto cur = Netns::current();
  ASSERT_OK(cur);
  auto diff = host_.sameAs(*cur);
  ASSERT_OK(diff);
  EXPECT_FALSE(*diff);
  // runInNetns runs elsewhere; the calling thread's namespace is unchanged afterwards.
  ASSERT_OK(runInNetns(host_, [&]() -> Status {
    auto inside = Netns::current();
    if (!inside.ok()) return inside.error();
    auto s = inside->sameAs(host_);
    if (!s.ok() || !*s) return Error("not inside the host netns");
    return okStatus();
  }));
  auto after = Netns::current();
  ASSERT_OK(after);
  auto unchanged = cur->sameAs(*after);
  ASSERT_OK(unchanged);
  EXPECT_TRUE(*unchanged);
  // Creating an existing name fails with EEXIST; deleting a missing one with ENOENT unless ifExists.
  auto dup = Netns::createNamed(hostName_);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().sysErrno(), EEXIST);
  auto del = Netns::deleteNamed("nnt-nl-does-not-exist");
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.error().sysErrno(), ENOENT);
  EXPECT_TRUE(Netns::deleteNamed("nnt-nl-does-not-exist", true).ok());
  EXPECT_FALSE(Netns::createNamed("a/b").ok());
}

TEST_F(NetlinkTest, LoopbackAndList) {
  auto lo = getLink(*hsock_, "lo");
  ASSERT_OK(lo);
  EXPECT_EQ(lo->index, 1);
  EXPECT_FALSE(lo->up());
  ASSERT_OK(setLinkUp(*hsock_, "lo"));
  EXPECT_TRUE(getLink(*hsock_, 1)->up());
  auto all = listLinks(*hsock_);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].name, "lo");
  auto missing = getLink(*hsock_, "nope0");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sysErrno(), ENODEV);
  EXPECT_NE(missing.error().message().find("nope0"), std::string::npos) << missing.error().message();
  auto found = findLink(*hsock_, "nope0");
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(getLink(*hsock_, "bad/name").error().sysErrno(), EINVAL);
}

TEST_F(NetlinkTest, EnsureBridgeIsIdempotentAndChecksKind) {
  auto mac = MacAddress::parse("02:42:ac:11:00:01");
  ASSERT_OK(mac);
  auto br = ensureBridge(*hsock_, BridgeOptions{.name = "br0", .mtu = 1400, .mac = *mac});
  ASSERT_OK(br);
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_EQ(br->mtu, 1400u);
  EXPECT_EQ(br->mac, *mac);
  EXPECT_TRUE(br->up());
  EXPECT_EQ(br->vlanFiltering, std::optional<bool>(false));
  auto again = ensureBridge(*hsock_, BridgeOptions{.name = "br0", .mtu = 9000});
  ASSERT_OK(again);
  EXPECT_EQ(again->index, br->index);
  EXPECT_EQ(again->mtu, 1400u);  // an existing bridge keeps its MTU
  // vlanFiltering=true converges an existing bridge (kernels without CONFIG_BRIDGE_VLAN_FILTERING refuse).
  auto vf = ensureBridge(*hsock_, BridgeOptions{.name = "br0", .vlanFiltering = true});
  if (!vf.ok() && vf.error().sysErrno() == EOPNOTSUPP) {
    EXPECT_NE(vf.error().message().find("vlan_filtering"), std::string::npos) << vf.error().message();
  } else {
    ASSERT_OK(vf);
    EXPECT_EQ(vf->vlanFiltering, std::optional<bool>(true));
    EXPECT_NE(ipn(hostName_, "-d link show br0").find("vlan_filtering 1"), std::string::npos);
  }

  // A veth named like the bridge: clear error with EEXIST.
  ASSERT_OK(createVeth(*hsock_, VethOptions{.name = "notbr", .peerName = "notbr-p"}));
  auto wrong = ensureBridge(*hsock_, BridgeOptions{.name = "notbr"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().sysErrno(), EEXIST);
  EXPECT_NE(wrong.error().message().find("not a bridge (kind veth)"), std::string::npos) << wrong.error().message();
}

TEST_F(NetlinkTest, VethIntoOtherNetnsAndAttributes) {
  auto peerMac = MacAddress::parse("0a:58:0a:63:00:02");
  ASSERT_OK(peerMac);
  auto v = createVeth(*hsock_, VethOptions{.name = "vethX", .peerName = "eth0", .peerNetns = &cont_, .mtu = 1450,
                                           .peerMac = *peerMac});
  ASSERT_OK(v);
  EXPECT_EQ(v->kind, "veth");
  EXPECT_EQ(v->mtu, 1450u);
  EXPECT_TRUE(v->linkNetnsId.has_value());
  // The peer is only in the container namespace.
  EXPECT_EQ(findLink(*hsock_, "eth0")->has_value(), false);
  auto peer = getLink(*csock_, "eth0");
  ASSERT_OK(peer);
  EXPECT_EQ(peer->index, v->linkIndex);
  EXPECT_EQ(peer->mac, *peerMac);
  EXPECT_EQ(peer->mtu, 1450u);
  EXPECT_EQ(peer->linkIndex, v->index);

  // Same names again: EEXIST, and the message names both sides.
  auto dup = createVeth(*hsock_, VethOptions{.name = "vethX", .peerName = "eth0", .peerNetns = &cont_});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().sysErrno(), EEXIST);
  EXPECT_NE(dup.error().message().find("create veth vethX (peer eth0 in netns fd"), std::string::npos)
      << dup.error().message();
  EXPECT_NE(dup.error().message().find("File exists (errno 17"), std::string::npos) << dup.error().message();

  ASSERT_OK(setLinkMtu(*hsock_, "vethX", 1300));
  auto mac = MacAddress::parse("02:00:00:00:00:aa");
  ASSERT_OK(setLinkMac(*hsock_, v->index, *mac));
  ASSERT_OK(setLinkPromisc(*hsock_, v->index, true));
  ASSERT_OK(setLinkUp(*hsock_, v->index));
  auto after = getLink(*hsock_, v->index);
  ASSERT_OK(after);
  EXPECT_EQ(after->mtu, 1300u);
  EXPECT_EQ(after->mac, *mac);
  EXPECT_TRUE(after->promisc());
  EXPECT_TRUE(after->up());
  EXPECT_NE(ipn(hostName_, "link show vethX").find("PROMISC"), std::string::npos);
  ASSERT_OK(setLinkPromisc(*hsock_, v->index, false));
  ASSERT_OK(setLinkDown(*hsock_, v->index));
  after = getLink(*hsock_, v->index);
  EXPECT_FALSE(after->promisc());
  EXPECT_FALSE(after->up());

  // Rename (down), then delete; deleting again is ENODEV unless ifExists.
  ASSERT_OK(renameLink(*hsock_, v->index, "vethY"));
  EXPECT_EQ(getLink(*hsock_, v->index)->name, "vethY");
  ASSERT_OK(deleteLink(*hsock_, "vethY"));
  EXPECT_EQ(findLink(*csock_, "eth0")->has_value(), false);  // the peer went with it
  auto gone = deleteLink(*hsock_, "vethY");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().sysErrno(), ENODEV);
  EXPECT_TRUE(deleteLink(*hsock_, "vethY", true).ok());
}

TEST_F(NetlinkTest, MasterAndMoveToNetns) {
  int vi = makePair();
  ASSERT_GT(vi, 0);
  auto br = getLink(*hsock_, "br0");
  ASSERT_OK(br);
  auto port = getLink(*hsock_, vi);
  ASSERT_OK(port);
  EXPECT_EQ(port->masterIndex, br->index);
  EXPECT_EQ(port->slaveKind, "bridge");
  ASSERT_TRUE(port->bridgePort.has_value());
  EXPECT_FALSE(port->bridgePort->hairpin);
  EXPECT_NE(ipn(hostName_, "link show vethX").find("master br0"), std::string::npos);
  ASSERT_OK(setLinkMaster(*hsock_, "vethX", "br0"));  // again: no-op
  ASSERT_OK(setLinkNoMaster(*hsock_, vi));
  EXPECT_EQ(getLink(*hsock_, vi)->masterIndex, 0);

  // Move the container side back into the host namespace under a new name.
  ASSERT_OK(setLinkDown(*csock_, "eth0"));
  ASSERT_OK(renameLink(*csock_, "eth0", "moved0"));
  ASSERT_OK(moveLinkToNetns(*csock_, "moved0", host_));
  EXPECT_FALSE(findLink(*csock_, "moved0")->has_value());
  auto moved = getLink(*hsock_, "moved0");
  ASSERT_OK(moved);
  EXPECT_EQ(moved->kind, "veth");
  EXPECT_EQ(moved->linkIndex, vi);
}

TEST_F(NetlinkTest, AddressesAndRoutes) {
  int vi = makePair();
  ASSERT_GT(vi, 0);
  auto gw = Cidr::parse("10.99.0.1/24");
  auto ip = Cidr::parse("10.99.0.2/24");
  auto gw6 = Cidr::parse("fd00:99::1/64");
  auto ip6 = Cidr::parse("fd00:99::2/64");
  ASSERT_OK(ensureAddress(*hsock_, "br0", *gw));
  ASSERT_OK(ensureAddress(*hsock_, "br0", *gw));  // idempotent
  auto dupAdd = addAddress(*hsock_, "br0", *gw);
  ASSERT_FALSE(dupAdd.ok());
  EXPECT_EQ(dupAdd.error().sysErrno(), EEXIST);
  ASSERT_OK(ensureAddress(*hsock_, "br0", *gw6, AddressOptions{.noDad = true}));
  ASSERT_OK(ensureAddress(*csock_, "eth0", *ip));
  ASSERT_OK(ensureAddress(*csock_, "eth0", *ip6, AddressOptions{.noDad = true}));
  auto other6 = ensureAddress(*csock_, "eth0", *Cidr::parse("fd00:99::2/80"));
  ASSERT_FALSE(other6.ok());
  EXPECT_EQ(other6.error().sysErrno(), EEXIST);

  auto addrs = listAddresses(*hsock_, "br0", IpFamily::V4);
  ASSERT_OK(addrs);
  ASSERT_EQ(addrs->size(), 1u);
  EXPECT_EQ((*addrs)[0].address, *gw);
  EXPECT_EQ((*addrs)[0].broadcast, IpAddress::parse("10.99.0.255").value());
  auto addrs6 = listAddresses(*csock_, "eth0", IpFamily::V6);
  ASSERT_OK(addrs6);
  bool sawGlobal = false;
  for (const auto& a : *addrs6)
    if (a.address == *ip6) {
      sawGlobal = true;
      EXPECT_FALSE(a.tentative());
      EXPECT_TRUE(a.flags & IFA_F_NODAD);
    }
  EXPECT_TRUE(sawGlobal);
  EXPECT_NE(ipn(hostName_, "addr show br0").find("inet 10.99.0.1/24 brd 10.99.0.255"), std::string::npos);

  auto eth0 = getLink(*csock_, "eth0");
  ASSERT_OK(eth0);
  // Default routes, IPv4 and IPv6, plus a specific route with metric and table.
  ASSERT_OK(addRoute(*csock_, Route::defaultVia(gw->address(), eth0->index)));
  auto dupRoute = addRoute(*csock_, Route::defaultVia(gw->address(), eth0->index));
  ASSERT_FALSE(dupRoute.ok());
  EXPECT_EQ(dupRoute.error().sysErrno(), EEXIST);
  ASSERT_OK(replaceRoute(*csock_, Route::defaultVia(gw->address(), eth0->index)));
  ASSERT_OK(addRoute(*csock_, Route::defaultVia(gw6->address(), eth0->index)));
  Route r;
  r.dst = *Cidr::parse("192.168.50.0/24");
  r.gateway = gw->address();
  r.oif = eth0->index;
  r.metric = 77;
  r.src = ip->address();
  ASSERT_OK(addRoute(*csock_, r));
  Route t = r;
  t.table = 1000;
  ASSERT_OK(replaceRoute(*csock_, t));

  auto v4 = listRoutes(*csock_, IpFamily::V4);
  ASSERT_OK(v4);
  bool sawDefault = false, sawSpecific = false;
  for (const auto& x : *v4) {
    if (x.isDefault() && x.gateway == gw->address() && x.oif == eth0->index) sawDefault = true;
    if (x.dst == r.dst && x.metric == 77 && x.src == ip->address()) sawSpecific = true;
  }
  EXPECT_TRUE(sawDefault);
  EXPECT_TRUE(sawSpecific);
  auto inTable = listRoutes(*csock_, IpFamily::V4, 1000);
  ASSERT_OK(inTable);
  ASSERT_EQ(inTable->size(), 1u);
  auto v6 = listRoutes(*csock_, IpFamily::V6, RT_TABLE_MAIN, eth0->index);
  ASSERT_OK(v6);
  bool sawDefault6 = false;
  for (const auto& x : *v6)
    if (x.isDefault() && x.gateway == gw6->address()) sawDefault6 = true;
  EXPECT_TRUE(sawDefault6);
  std::string shown = ipn(contName_, "route show");
  EXPECT_NE(shown.find("default via 10.99.0.1 dev eth0"), std::string::npos) << shown;
  EXPECT_NE(shown.find("192.168.50.0/24 via 10.99.0.1 dev eth0 src 10.99.0.2 metric 77"), std::string::npos)
      << shown;
  EXPECT_NE(ipn(contName_, "-6 route show").find("default via fd00:99::1 dev eth0"), std::string::npos);

  // Delete: exact, then missing (ESRCH), then tolerated.
  ASSERT_OK(deleteRoute(*csock_, r));
  auto again = deleteRoute(*csock_, r);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().sysErrno(), ESRCH);
  EXPECT_TRUE(deleteRoute(*csock_, r, true).ok());
  ASSERT_OK(deleteRoute(*csock_, Route::defaultVia(gw6->address())));
  ASSERT_OK(deleteRoute(*csock_, t));

  ASSERT_OK(deleteAddress(*csock_, "eth0", *ip));
  auto delAgain = deleteAddress(*csock_, "eth0", *ip);
  ASSERT_FALSE(delAgain.ok());
  EXPECT_EQ(delAgain.error().sysErrno(), EADDRNOTAVAIL);
  EXPECT_TRUE(deleteAddress(*csock_, "eth0", *ip, true).ok());
}

TEST_F(NetlinkTest, Neighbours) {
  int vi = makePair();
  ASSERT_GT(vi, 0);
  ASSERT_OK(ensureAddress(*csock_, "eth0", *Cidr::parse("10.98.0.2/24")));
  const auto gw = *IpAddress::parse("10.98.0.1");
  const auto gw6 = *IpAddress::parse("fd00:98::1");
  const auto mac1 = *MacAddress::parse("02:00:00:00:00:01");
  const auto mac2 = *MacAddress::parse("02:00:00:00:00:02");
  ASSERT_OK(replaceNeighbour(*csock_, "eth0", gw, mac1));
  ASSERT_OK(replaceNeighbour(*csock_, "eth0", gw, mac2));  // replace: idempotent, takes the new MAC
  ASSERT_OK(replaceNeighbour(*csock_, "eth0", gw6, mac1, nud::kReachable));
  auto v4 = listNeighbours(*csock_, "eth0", IpFamily::V4);
  ASSERT_OK(v4);
  ASSERT_EQ(v4->size(), 1u);
  EXPECT_EQ((*v4)[0].address, gw);
  ASSERT_TRUE((*v4)[0].mac.has_value());
  EXPECT_EQ((*v4)[0].mac->toString(), "02:00:00:00:00:02");
  EXPECT_EQ((*v4)[0].state, nud::kPermanent);
  EXPECT_NE(ipn(contName_, "neigh show dev eth0").find("10.98.0.1 lladdr 02:00:00:00:00:02 PERMANENT"),
            std::string::npos);
  // flush removes the dynamic IPv6 entry and keeps the permanent one.
  auto flushed = flushNeighbours(*csock_, "eth0");
  ASSERT_OK(flushed);
  EXPECT_GE(*flushed, 1u);
  auto all = listNeighbours(*csock_, "eth0");
  ASSERT_OK(all);
  for (const auto& n : *all) EXPECT_NE(n.address, gw6) << n.toString();
  ASSERT_OK(deleteNeighbour(*csock_, "eth0", gw));
  auto again = deleteNeighbour(*csock_, "eth0", gw);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().sysErrno(), ENOENT);
  ASSERT_OK(deleteNeighbour(*csock_, "eth0", gw, true));
  auto missing = replaceNeighbour(*csock_, "nosuch0", gw, mac1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sysErrno(), ENODEV);
}

TEST_F(NetlinkTest, BridgePortFlags) {
  int vi = makePair();
  ASSERT_GT(vi, 0);
  ASSERT_OK(setBridgePort(*hsock_, vi, BridgePortSettings{.hairpin = true, .isolated = true, .learning = false}));
  auto port = getLink(*hsock_, vi);
  ASSERT_OK(port);
  ASSERT_TRUE(port->bridgePort.has_value());
  EXPECT_TRUE(port->bridgePort->hairpin);
  EXPECT_TRUE(port->bridgePort->isolated);
  EXPECT_FALSE(port->bridgePort->learning);
  std::string shown = ipn(hostName_, "-d link show vethX");
  EXPECT_NE(shown.find("hairpin on"), std::string::npos) << shown;
  EXPECT_NE(shown.find("isolated on"), std::string::npos) << shown;
  EXPECT_NE(shown.find("learning off"), std::string::npos) << shown;
  // Unset fields stay; set ones change; repeating is fine.
  ASSERT_OK(setBridgePort(*hsock_, "vethX", BridgePortSettings{.isolated = false}));
  ASSERT_OK(setBridgePort(*hsock_, "vethX", BridgePortSettings{.isolated = false}));
  port = getLink(*hsock_, vi);
  EXPECT_TRUE(port->bridgePort->hairpin);
  EXPECT_FALSE(port->bridgePort->isolated);
  // Not a bridge port: the kernel refuses, and the message names the link.
  ASSERT_OK(setLinkNoMaster(*hsock_, vi));
  auto notPort = setBridgePort(*hsock_, vi, BridgePortSettings{.hairpin = true});
  ASSERT_FALSE(notPort.ok());
  EXPECT_NE(notPort.error().message().find("set bridge port vethX hairpin on"), std::string::npos)
      << notPort.error().message();
}

TEST_F(NetlinkTest, BridgeVlans) {
  int vi = makePair();
  ASSERT_GT(vi, 0);
  Status on = setBridgeVlanFiltering(*hsock_, "br0", true);
  if (!on.ok() && on.error().sysErrno() == EOPNOTSUPP) {
    // Such kernels refuse VLAN entries too; at least the error must be a clear one.
    Status add = addBridgeVlan(*hsock_, vi, BridgeVlan{.vid = 100, .pvid = true});
    ASSERT_FALSE(add.ok());
    EXPECT_NE(add.error().message().find("add vlan 100 pvid to port vethX"), std::string::npos)
        << add.error().message();
    GTEST_SKIP() << "kernel without CONFIG_BRIDGE_VLAN_FILTERING: " << on.error().message();
  }
  ASSERT_OK(on);
  EXPECT_EQ(getLink(*hsock_, "br0")->vlanFiltering, std::optional<bool>(true));
  ASSERT_OK(addBridgeVlan(*hsock_, vi, BridgeVlan{.vid = 100, .pvid = true, .untagged = true}));
  ASSERT_OK(addBridgeVlan(*hsock_, vi, BridgeVlan{.vid = 200}));
  ASSERT_OK(addBridgeVlan(*hsock_, vi, BridgeVlan{.vid = 200}));  // idempotent
  ASSERT_OK(addBridgeVlan(*hsock_, "br0", BridgeVlan{.vid = 100, .untagged = true}));  // the bridge itself
  auto vlans = listBridgeVlans(*hsock_, vi);
  ASSERT_OK(vlans);
  // Default PVID 1 was replaced as PVID by 100 (it stays as a plain untagged member unless removed).
  ASSERT_OK(deleteBridgeVlan(*hsock_, vi, 1, true));
  vlans = listBridgeVlans(*hsock_, vi);
  ASSERT_OK(vlans);
  std::vector<BridgeVlan> want = {{100, true, true}, {200, false, false}};
  EXPECT_EQ(*vlans, want);
  auto self = listBridgeVlans(*hsock_, "br0");
  ASSERT_OK(self);
  bool saw100 = false;
  for (const auto& v : *self) saw100 |= v.vid == 100;
  EXPECT_TRUE(saw100);
  std::string shown = sh(strCat("bridge -n ", hostName_, " vlan show dev vethX"));
  EXPECT_NE(shown.find("100 PVID Egress Untagged"), std::string::npos) << shown;
  EXPECT_NE(shown.find("200"), std::string::npos) << shown;
  ASSERT_OK(deleteBridgeVlan(*hsock_, vi, 200));
  auto again = deleteBridgeVlan(*hsock_, vi, 200);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().sysErrno(), ENOENT);
  EXPECT_TRUE(deleteBridgeVlan(*hsock_, vi, 200, true).ok());
  EXPECT_EQ(addBridgeVlan(*hsock_, vi, BridgeVlan{.vid = 4095}).error().sysErrno(), EINVAL);
  ASSERT_OK(setBridgeVlanFiltering(*hsock_, "br0", false));
  EXPECT_EQ(getLink(*hsock_, "br0")->vlanFiltering, std::optional<bool>(false));
}

TEST_F(NetlinkTest, KernelExtackTextReachesTheMessage) {
  ASSERT_GT(makePair(), 0);
  auto eth0 = getLink(*csock_, "eth0");
  ASSERT_OK(eth0);
  // No address on eth0, so the gateway is unreachable: ENETUNREACH with the kernel's explanation.
  auto st = addRoute(*csock_, Route::defaultVia(*IpAddress::parse("10.250.0.1"), eth0->index));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().sysErrno(), ENETUNREACH);
  EXPECT_NE(st.error().message().find("add route default via 10.250.0.1"), std::string::npos)
      << st.error().message();
  EXPECT_NE(st.error().message().find("(kernel: "), std::string::npos) << st.error().message();
}

TEST_F(NetlinkTest, NetnsGuardOnADedicatedThread) {
  Status result = okStatus();
  std::thread t([&] {
    auto before = Netns::current();
    {
      auto g = NetnsGuard::enter(cont_);
      if (!g.ok()) {
        result = g.error();
        return;
      }
      auto inside = Netns::current();
      if (!inside.ok() || !*inside->sameAs(cont_)) result = Error("guard did not enter the namespace");
    }
    auto after = Netns::current();
    if (!after.ok() || !*after->sameAs(*before)) result = Error("guard did not restore the namespace");
  });
  t.join();
  ASSERT_OK(result);
}

TEST_F(NetlinkTest, SysctlInsideNetns) {
  ASSERT_OK(writeSysctl(host_, "net/ipv4/ip_forward", "1"));
  auto v = readSysctl(host_, "net/ipv4/ip_forward");
  ASSERT_OK(v);
  EXPECT_EQ(*v, "1");
  // The other namespace is unaffected (fresh namespaces start with forwarding off).
  EXPECT_EQ(*readSysctl(cont_, "net/ipv4/ip_forward"), "0");
  EXPECT_EQ(sh(strCat("ip netns exec ", hostName_, " cat /proc/sys/net/ipv4/ip_forward")), "1\n");
  ASSERT_GT(makePair(), 0);
  ASSERT_OK(writeSysctl(cont_, "net/ipv6/conf/eth0/accept_dad", "0"));
  EXPECT_EQ(*readSysctl(cont_, "net/ipv6/conf/eth0/accept_dad"), "0");
  ASSERT_OK(writeSysctl(cont_, "net/ipv4/conf/eth0/arp_notify", "1"));
  EXPECT_EQ(*readSysctl(cont_, "net/ipv4/conf/eth0/arp_notify"), "1");
  auto missing = readSysctl(host_, "net/ipv4/conf/eth0/arp_notify");  // no eth0 in the host ns
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sysErrno(), ENOENT);
  EXPECT_EQ(readSysctl(host_, "net/../../etc/passwd").error().sysErrno(), EINVAL);
}

}  // namespace
}  // namespace nodenet::netlink
