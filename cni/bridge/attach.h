// The bridge plugin's kernel steps, each an idempotent ensure* over rtnetlink (no IPAM, no JSON):
// the node's bridge, the veth pair into the pod, the pod's addresses and routes, the gateway addresses.
//
// Invariants:
//  - The host end of the pair is named from (containerId, ifName) (hostVethName), so a repeated ADD finds
//    its own pair, a retried ADD after a crash replaces its own leftovers, and nothing else is ever touched.
//  - The container end is created directly inside the pod namespace (never visible on the node).
//  - Nothing here sleeps: the reference polls the port's operstate for up to 2.5 s; a veth whose both ends
//    are up is a forwarding bridge port at once (no STP on our bridge).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "cni/bridge/config.h"
#include "netlink/link.h"
#include "netlink/netns.h"
#include "netlink/rtnl_socket.h"

namespace nodenet::cni::bridge {

/// "veth" + 8 hex digits of a hash of containerId and ifName (12 bytes, under IFNAMSIZ).
std::string hostVethName(const std::string& containerId, const std::string& ifName);

/// Creates or verifies the bridge (kind bridge, up, vlan filtering when asked, promisc when asked) and turns
/// off IPv6 router advertisements on it (we own its routes). Errors name the bridge.
Result<netlink::LinkInfo> ensureBridge(netlink::RtnlSocket& node, const netlink::Netns& nodeNs,
                                       const BridgeConf& conf);

struct VethPair {
  netlink::LinkInfo host;       // in the node namespace, enslaved to the bridge
  netlink::LinkInfo container;  // in the pod namespace
  bool created = false;         // false: a repeated ADD found this pod's existing pair
};

/// Creates (or, for a repeated ADD, finds) the veth pair: the host end enslaved to the bridge with the
/// hairpin, isolation and VLAN settings of conf, up; the container end named ifName, with conf.mac when
/// given, up unless conf.disableContainerInterface. A stale host end of the same name whose peer is not
/// ifName in this pod is deleted and recreated.
Result<VethPair> ensureVeth(netlink::RtnlSocket& node, netlink::RtnlSocket& pod, const netlink::Netns& podNs,
                            const netlink::LinkInfo& bridge, const BridgeConf& conf, const std::string& containerId,
                            const std::string& ifName);

struct PodAddress {
  Cidr address;                      // the pod's address with the subnet's prefix length
  std::optional<IpAddress> gateway;  // the default next hop for its family
};
struct PodRoute {
  Cidr dst;
  std::optional<IpAddress> gateway;  // unset: the family's gateway from the addresses
  std::optional<uint32_t> metric;
  std::optional<uint32_t> table;
  std::optional<uint8_t> scope;
};

/// Configures the pod side: DAD per conf.enabledad, arp_notify, addresses (IPv6 without DAD unless enabled),
/// link up, routes (replace: a repeated ADD is a no-op). Errors name the address or route.
Status configurePod(netlink::RtnlSocket& pod, const netlink::Netns& podNs, const BridgeConf& conf,
                    const std::string& ifName, const std::vector<PodAddress>& addrs,
                    const std::vector<PodRoute>& routes);

/// Puts each gateway address (gateway IP with the pod subnet's prefix) on the bridge — with forceAddress an
/// other IPv4 address (or overlapping IPv6 one) is replaced, without it that is an error like the
/// reference's "\"cni0\" already has an IP address different from 10.85.0.1/16" — and enables forwarding for
/// that family in the node namespace.
Status ensureGatewayAddresses(netlink::RtnlSocket& node, const netlink::Netns& nodeNs, const BridgeConf& conf,
                              const netlink::LinkInfo& bridge, const std::vector<Cidr>& gateways);

/// DEL's kernel part: deletes ifName in the pod (its veth peer goes with it). Returns once the link is gone
/// from the namespace (its names are free, it carries no traffic). The kernel's teardown after that — an RCU
/// barrier in netdev_run_todo, 10–35 ms here, run after RTNL is released — is left to a detached child process
/// that issued the deletion, so the runtime does not wait for memory to be freed. A missing link is success.
/// Errors: the kernel's refusal (with errno), or the link still present after 10 s.
Status deletePodInterface(netlink::RtnlSocket& pod, const netlink::Netns& podNs, const std::string& ifName);

}  // namespace nodenet::cni::bridge
