// ipMasq through nftables, in the node namespace, in our own table `inet nodenet-cni` (never iptables):
//
//   table inet nodenet-cni {
//     map pods4 { type ipv4_addr : verdict; elements = { 10.85.0.5 : goto masq-1a2b3c4d-5e6f7a8b comment "CID/eth0" } }
//     map pods6 { type ipv6_addr : verdict; ... }
//     chain postrouting { type nat hook postrouting priority srcnat; policy accept;
//       ip saddr vmap @pods4
//       ip6 saddr vmap @pods6 }
//     chain masq-1a2b3c4d-5e6f7a8b {      # comment "network crio subnet 10.85.0.0/16"
//       ip daddr 10.85.0.0/16 return
//       ip daddr 224.0.0.0/4 return
//       masquerade }
//   }
//
// One chain per (network, subnet), named from hashes of both; its rules depend only on the subnet, so every
// ADD rebuilds it (flush + add in the same batch) and stays idempotent. Per pod only map elements change
// (O(1) per pod, one netlink batch); each element carries the comment "containerId/ifName", so DEL and GC
// find a pod's elements even when its namespace is gone, and a container with several interfaces loses only
// the addresses of the interface being deleted. Semantics as the reference: traffic from the pod to anything
// outside its own subnet and not multicast is masqueraded.
#pragma once

#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "cni/skel/config.h"
#include "netlink/nft/kernel.h"

namespace nodenet::cni::bridge {

inline constexpr const char* kMasqTable = "nodenet-cni";

/// Ensures the table, the network's chain and sets, and adds the pod's addresses (with their subnets) in one
/// batch. Idempotent: a repeated ADD re-sends the same elements.
Status addMasq(nft::Kernel& kernel, const std::string& network, const std::string& containerId,
               const std::string& ifName, const std::vector<Cidr>& podAddrs);

/// Removes the masquerade elements of (network, containerId, ifName). Nothing to remove (or no table) is
/// success.
Status removeMasq(nft::Kernel& kernel, const std::string& network, const std::string& containerId,
                  const std::string& ifName);

/// Removes the elements of `network` whose attachment is not in `valid`.
Status gcMasq(nft::Kernel& kernel, const std::string& network, const std::vector<GcAttachment>& valid);

}  // namespace nodenet::cni::bridge
