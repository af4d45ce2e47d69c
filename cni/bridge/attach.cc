#include "cni/bridge/attach.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include <cerrno>
#include <cstdio>

#include "base/log.h"
#include "base/strings.h"
#include "netlink/addr.h"
#include "netlink/route.h"
#include "netlink/sysctl.h"

namespace nodenet::cni::bridge {

using netlink::LinkInfo;
using netlink::Netns;
using netlink::RtnlSocket;

std::string hostVethName(const std::string& containerId, const std::string& ifName) {
  // FNV-1a 64 over "containerId/ifName", folded to 32 bits: stable across runs and plugin versions.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(containerId);
  mix("/");
  mix(ifName);
  char buf[16];
  std::snprintf(buf, sizeof buf, "veth%08x", static_cast<unsigned>((h >> 32) ^ h));
  return buf;
}

Result<LinkInfo> ensureBridge(RtnlSocket& node, const Netns& nodeNs, const BridgeConf& conf) {
  NN_ASSIGN_OR_RETURN(auto existing, netlink::findLink(node, conf.bridge));
  netlink::BridgeOptions opts;
  opts.name = conf.bridge;
  opts.mtu = static_cast<uint32_t>(conf.mtu);
  opts.vlanFiltering = conf.vlanFiltering();
  // A bridge without an address of its own adopts the lowest MAC of its ports and changes it as pods come
  // and go, which leaves every pod with a stale neighbour entry for its gateway. An address given at
  // creation is kept (the kernel marks it NET_ADDR_SET). Random and locally administered, like a new link's.
  {
    netlink::MacAddress mac;
    FILE* rnd = std::fopen("/dev/urandom", "rb");
    if (rnd && std::fread(mac.bytes.data(), 1, 6, rnd) == 6) {
      mac.bytes[0] = static_cast<uint8_t>((mac.bytes[0] & 0xfe) | 0x02);
      opts.mac = mac;
    }
    if (rnd) std::fclose(rnd);
  }
  auto br = netlink::ensureBridge(node, opts);
  if (!br) return std::move(br).error().context(strCat("failed to create bridge \"", conf.bridge, "\""));
  if (!existing) {
    // We own the bridge's routes: no router advertisements (the reference does the same; best effort, the
    // key is absent when IPv6 is disabled).
    (void)netlink::writeSysctl(nodeNs, strCat("net/ipv6/conf/", conf.bridge, "/accept_ra"), "0");
  }
  if (conf.promiscMode && !br->promisc()) {
    NN_TRY(netlink::setLinkPromisc(node, br->index, true));
    br->flags |= IFF_PROMISC;
  }
  return br;
}

namespace {

Status configureHostPort(RtnlSocket& node, const LinkInfo& host, const LinkInfo& bridge, const BridgeConf& conf) {
  const std::string who = strCat("veth ", host.name);
  if (host.masterIndex != bridge.index) {
    if (auto st = netlink::setLinkMaster(node, host.index, bridge.index); !st)
      return std::move(st).error().context(strCat("failed to connect ", host.name, " to bridge ", bridge.name));
  }
  netlink::BridgePortSettings port;
  port.hairpin = conf.hairpinMode;
  if (conf.portIsolation) port.isolated = true;
  if (auto st = netlink::setBridgePort(node, host.index, port); !st)
    return std::move(st).error().context(strCat("failed to set hairpin/isolation on ", who));
  if ((conf.vlan != 0 || !conf.vlanTrunk.empty()) && !conf.preserveDefaultVlan) {
    NN_ASSIGN_OR_RETURN(auto vlans, netlink::listBridgeVlans(node, host.index));
    for (const auto& v : vlans) NN_TRY(netlink::deleteBridgeVlan(node, host.index, v.vid, true));
  }
  if (conf.vlan != 0) {
    // Access port: untagged frames join vlan, and leave untagged.
    if (auto st = netlink::addBridgeVlan(node, host.index, {static_cast<uint16_t>(conf.vlan), true, true}); !st)
      return std::move(st).error().context(strCat("failed to setup vlan tag on interface \"", host.name, "\""));
  }
  for (uint16_t vid : conf.vlanTrunk) {
    if (auto st = netlink::addBridgeVlan(node, host.index, {vid, false, false}); !st)
      return std::move(st).error().context(strCat("failed to setup vlan tag on interface \"", host.name, "\""));
  }
  if (conf.vlan == 0 && !conf.vlanTrunk.empty()) {
    // Trunk without an access VLAN: native VLAN 1 stays untagged (the reference's compatibility rule).
    NN_TRY(netlink::addBridgeVlan(node, host.index, {1, true, true}));
  }
  if (!host.up()) NN_TRY(netlink::setLinkUp(node, host.index));
  return {};
}

}  // namespace

Result<VethPair> ensureVeth(RtnlSocket& node, RtnlSocket& pod, const Netns& podNs, const LinkInfo& bridge,
                            const BridgeConf& conf, const std::string& containerId, const std::string& ifName) {
  const std::string hostName = hostVethName(containerId, ifName);
  NN_ASSIGN_OR_RETURN(auto oldHost, netlink::findLink(node, hostName));
  NN_ASSIGN_OR_RETURN(auto oldCont, netlink::findLink(pod, ifName));
  VethPair pair;
  bool reuse = oldHost && oldCont && oldHost->isVeth() && oldCont->isVeth() && oldHost->linkIndex == oldCont->index &&
               oldCont->linkIndex == oldHost->index;
  if (reuse) {
    pair.host = *oldHost;
    pair.container = *oldCont;
  } else {
    if (oldCont) {
      return Error(strCat("container veth name (\"", ifName, "\") already exists in ", podNs.describe(),
                          " and is not connected to bridge ", bridge.name),
                   EEXIST);
    }
    // Our own leftover from an interrupted ADD (the name is derived from this container and interface).
    if (oldHost) NN_TRY(netlink::deleteLink(node, hostName, true));
    netlink::VethOptions v;
    v.name = hostName;
    v.peerName = ifName;
    v.peerNetns = &podNs;
    v.mtu = static_cast<uint32_t>(conf.mtu);
    if (!conf.mac.empty()) {
      NN_ASSIGN_OR_RETURN(auto mac, netlink::MacAddress::parse(conf.mac));
      v.peerMac = mac;
    }
    auto host = netlink::createVeth(node, v);
    if (!host) return std::move(host).error().context("failed to make veth pair");
    pair.host = *host;
    pair.created = true;
    auto cont = netlink::getLink(pod, ifName);
    if (!cont) {
      (void)netlink::deleteLink(node, hostName, true);
      return std::move(cont).error();
    }
    pair.container = *cont;
  }
  if (auto st = configureHostPort(node, pair.host, bridge, conf); !st) {
    if (!reuse) (void)netlink::deleteLink(node, hostName, true);
    return std::move(st).error();
  }
  NN_ASSIGN_OR_RETURN(pair.host, netlink::getLink(node, pair.host.index));
  return pair;
}

Status configurePod(RtnlSocket& pod, const Netns& podNs, const BridgeConf& conf, const std::string& ifName,
                    const std::vector<PodAddress>& addrs, const std::vector<PodRoute>& routes) {
  bool hasV6 = false;
  for (const auto& a : addrs) hasV6 |= a.address.family() == IpFamily::V6;
  // sysctls of the pod interface in one trip into the pod namespace.
  NN_TRY(netlink::runInNetns(podNs, [&]() -> Status {
    auto put = [](const std::string& key, const char* value, bool required) -> Status {
      FILE* f = std::fopen(("/proc/sys/" + key).c_str(), "w");
      if (!f) return required ? Error::fromErrno(errno, "sysctl " + key) : Status{};
      bool ok = std::fputs(value, f) >= 0;
      ok = (std::fclose(f) == 0) && ok;
      if (!ok && required) return Error::fromErrno(errno, "sysctl " + key);
      return {};
    };
    if (hasV6) {
      // IPv6 may be disabled in a fresh namespace's lo/ifName; addresses need it on.
      NN_TRY(put("net/ipv6/conf/" + ifName + "/disable_ipv6", "0", true));
      NN_TRY(put("net/ipv6/conf/lo/disable_ipv6", "0", false));
      NN_TRY(put("net/ipv6/conf/" + ifName + "/keep_addr_on_down", "1", false));
    }
    if (conf.enableDad) {
      NN_TRY(put("net/ipv6/conf/" + ifName + "/enhanced_dad", "1", false));
      NN_TRY(put("net/ipv6/conf/" + ifName + "/accept_dad", "1", false));
    } else {
      NN_TRY(put("net/ipv6/conf/" + ifName + "/accept_dad", "0", false));
    }
    return put("net/ipv4/conf/" + ifName + "/arp_notify", "1", false);
  }));

  std::optional<IpAddress> gw4, gw6;
  for (const auto& a : addrs) {
    netlink::AddressOptions o;
    o.noDad = !conf.enableDad;
    if (auto st = netlink::ensureAddress(pod, ifName, a.address, o); !st)
      return std::move(st).error().context(strCat("failed to add IP addr ", a.address.toString(), " to \"", ifName, "\""));
    if (a.gateway) {
      auto& slot = a.gateway->isV4() ? gw4 : gw6;
      if (!slot) slot = a.gateway;
    }
  }
  NN_TRY(netlink::setLinkUp(pod, ifName));
  NN_ASSIGN_OR_RETURN(auto link, netlink::getLink(pod, ifName));
  for (const auto& r : routes) {
    netlink::Route route;
    route.dst = r.dst.masked();
    route.gateway = r.gateway ? r.gateway : (r.dst.family() == IpFamily::V4 ? gw4 : gw6);
    route.oif = link.index;
    if (r.metric) route.metric = *r.metric;
    if (r.table) route.table = *r.table;
    if (r.scope) route.scope = r.scope;
    if (auto st = netlink::replaceRoute(pod, route); !st)
      return std::move(st).error().context(strCat("failed to add route '", route.toString(), "'"));
  }
  return {};
}

Status ensureGatewayAddresses(RtnlSocket& node, const Netns& nodeNs, const BridgeConf& conf, const LinkInfo& bridge,
                              const std::vector<Cidr>& gateways) {
  bool v4 = false, v6 = false;
  for (const Cidr& gw : gateways) {
    NN_ASSIGN_OR_RETURN(auto present, netlink::listAddresses(node, bridge.index, gw.family()));
    bool have = false;
    for (const auto& a : present) {
      if (a.address == gw) {
        have = true;
        break;
      }
      // IPv4: one address per bridge; IPv6: several, unless the subnets overlap (reference rule).
      if (gw.family() == IpFamily::V4 || a.address.contains(gw.address()) || gw.contains(a.address.address())) {
        if (a.address.family() == IpFamily::V6 && a.scope != RT_SCOPE_UNIVERSE) continue;  // fe80::/64
        if (!conf.forceAddress)
          return Error(strCat("\"", bridge.name, "\" already has an IP address different from ", gw.toString()));
        NN_TRY(netlink::deleteAddress(node, bridge.index, a.address, true));
      }
    }
    if (!have) {
      // No DAD on the gateway: the node owns the subnet, and with DAD the address stays "tentative" (unusable)
      // for ~2 s after the first pod's ADD.
      netlink::AddressOptions opts;
      opts.noDad = true;
      if (auto st = netlink::ensureAddress(node, bridge.index, gw, opts); !st)
        return std::move(st).error().context(strCat("could not add IP address to \"", bridge.name, "\""));
    }
    (gw.family() == IpFamily::V4 ? v4 : v6) = true;
  }
  // Forwarding, written only when off (a write costs a thread hop into the namespace).
  auto enable = [&](const char* key) -> Status {
    auto cur = netlink::readSysctl(nodeNs, key);
    if (cur && *cur == "1") return {};
    if (auto st = netlink::writeSysctl(nodeNs, key, "1"); !st)
      return std::move(st).error().context("failed to enable forwarding");
    return {};
  };
  if (v4) NN_TRY(enable("net/ipv4/ip_forward"));
  if (v6) NN_TRY(enable("net/ipv6/conf/all/forwarding"));
  return {};
}

namespace {

// RTM_DELLINK by ifindex, built before fork() so the child needs no allocation (the parent may have other
// threads; a forked child may only make async-signal-safe calls).
struct DelLinkRequest {
  nlmsghdr header;
  ifinfomsg info;
};

// The child: enter the pod namespace, send the request on a fresh socket, report the kernel's errno as the exit
// status. Only raw system calls.
[[noreturn]] void deleteLinkChild(int podNsFd, const DelLinkRequest& req) {
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    // The runtime reads our stdout until EOF: the child must not hold it open.
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
  }
  if (::setns(podNsFd, CLONE_NEWNET) != 0) ::_exit(errno & 0xff);
  ::close_range(3, ~0U, 0);
  int sock = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) ::_exit(errno & 0xff);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(sock, &req, req.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    ::_exit(errno & 0xff);
  alignas(nlmsghdr) char buf[4096];
  ssize_t n = ::recv(sock, buf, sizeof buf, 0);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr)))) ::_exit(EIO);
  const auto* h = reinterpret_cast<const nlmsghdr*>(buf);
  if (h->nlmsg_type != NLMSG_ERROR) ::_exit(EIO);
  const auto* err = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h));
  ::_exit((-err->error) & 0xff);
}

}  // namespace

Status deletePodInterface(RtnlSocket& pod, const Netns& podNs, const std::string& ifName) {
  NN_ASSIGN_OR_RETURN(auto link, netlink::findLink(pod, ifName));
  if (!link) return {};
  DelLinkRequest req{};
  req.header.nlmsg_len = sizeof req;
  req.header.nlmsg_type = RTM_DELLINK;
  req.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.header.nlmsg_seq = 1;
  req.info.ifi_family = AF_UNSPEC;
  req.info.ifi_index = link->index;
  const std::string what = strCat("delete link ", ifName, " (ifindex ", link->index, ") in ", podNs.describe());

  pid_t child = ::fork();
  if (child < 0) return Error::fromErrno(errno, what + ": fork");
  if (child == 0) deleteLinkChild(podNs.fd(), req);

  // Poll until the link is unlisted (or the child finished, successfully or not). Polling costs one GETLINK
  // round trip (~20 us) every 100 us; the unlisting takes a few hundred microseconds to a few milliseconds.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) {
      int err = WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
      if (err == 0 || err == ENODEV) return {};
      return Error::fromErrno(err, what);
    }
    auto still = netlink::findLink(pod, link->index);
    if (still.ok() && (!*still || (*still)->name != link->name)) return {};  // gone; the child finishes alone
    if (std::chrono::steady_clock::now() > deadline) return Error(what + ": link still present after 10 s", ETIMEDOUT);
    ::usleep(100);
  }
}

}  // namespace nodenet::cni::bridge
