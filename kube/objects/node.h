// A Node as the proxy sees it: its addresses, pod CIDRs, zone and schedulability.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "kube/objects/intern.h"
#include "kube/objects/meta.h"

namespace nodenet::kube {

enum class NodeAddressType : uint8_t { InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS, Other };

/// status.addresses[]: for InternalIP/ExternalIP `ip` is the parsed address; other types carry names.
struct NodeAddress {
  NodeAddressType type = NodeAddressType::Other;
  InternedString typeName;  // as written, e.g. "InternalIP"
  std::string address;
  std::optional<IpAddress> ip;
  bool operator==(const NodeAddress&) const = default;
};

struct Node {
  ObjectMeta meta;  // meta.ns is empty: Nodes are cluster-scoped
  std::vector<NodeAddress> addresses;
  /// spec.podCIDRs (or [spec.podCIDR]); primary first.
  std::vector<Cidr> podCIDRs;
  bool unschedulable = false;
  /// spec.taints[].key, in order (kube-proxy's /healthz looks for ToBeDeletedByClusterAutoscaler). Values and
  /// effects are not kept: no nodenet component schedules.
  std::vector<InternedString> taintKeys;

  /// The topology.kubernetes.io/zone label, or "".
  std::string_view zone() const { return meta.labels.get(kLabelZone).value_or(std::string_view()); }
  /// The addresses of `type` with a parsed IP, in status order.
  std::vector<IpAddress> ips(NodeAddressType type) const;
  bool operator==(const Node&) const = default;
};

}  // namespace nodenet::kube
