// macspoofchk through nftables in the node namespace, in our own bridge-family table (never ebtables):
//
//   table bridge nodenet-cni-spoofchk {
//     set ports { type ifname; }                    host ends of the pods with spoof checking
//     set allowed { type ifname . ether_addr; }    (port, the pod's MAC) pairs
//     chain prerouting { type filter hook prerouting priority -300; policy accept;
//       iifname @ports iifname . ether saddr != @allowed drop }
//   }
//
// A frame entering the bridge from a checked pod port with any source MAC but the pod's own is dropped — the
// reference's semantics, with two set elements per pod instead of two chains and three rules. Elements carry
// the comment "containerId/ifName" for DEL and GC.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "cni/skel/config.h"
#include "netlink/link.h"
#include "netlink/nft/kernel.h"

namespace nodenet::cni::bridge {

inline constexpr const char* kSpoofTable = "nodenet-cni-spoofchk";

/// Ensures the table and adds the port and (port, mac) elements in one batch. Idempotent.
Status addSpoofCheck(nft::Kernel& kernel, const std::string& hostPort, const netlink::MacAddress& podMac,
                     const std::string& containerId, const std::string& ifName);
/// Removes the elements of (containerId, ifName); none (or no table) is success.
Status removeSpoofCheck(nft::Kernel& kernel, const std::string& containerId, const std::string& ifName);
/// Removes the elements of attachments not in `valid`.
Status gcSpoofCheck(nft::Kernel& kernel, const std::vector<GcAttachment>& valid);

}  // namespace nodenet::cni::bridge
