// Endpoint selection for one service port, as kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go):
// readiness, terminating fallback, traffic policies and topology hints. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ip.h"
#include "kube/objects/endpoint_slice.h"
#include "kube/objects/service.h"

namespace nodenet::proxy::rules {

struct NodeInput;

/// One usable address:port of a service port.
struct EndpointInfo {
  IpAddress ip;
  uint16_t port = 0;
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  bool local = false;  // on this node
  std::vector<std::string> zoneHints;
  std::vector<std::string> nodeHints;

  bool operator<(const EndpointInfo& o) const { return ip != o.ip ? ip < o.ip : port < o.port; }
};

/// The endpoints of `port` in the slices of `family`: the slice port with the same name and protocol, one
/// endpoint per first address, sorted by address and port, duplicates (the same endpoint in two slices while
/// the controller moves it) kept once.
std::vector<EndpointInfo> collectEndpoints(const std::vector<const kube::EndpointSlice*>& slices,
                                           const kube::ServicePort& port, IpFamily family, const std::string& nodeName);

/// Whether the Service's traffic leaves the node's own pods: NodePort, externalIPs or LoadBalancer VIPs.
bool externallyAccessible(const kube::Service& svc, IpFamily family);

struct CategorizedEndpoints {
  /// Endpoints for Cluster policy (topology-filtered ready ones, else serving+terminating ones).
  std::vector<EndpointInfo> cluster;
  /// Endpoints for Local policy (local ready ones, else local serving+terminating ones); empty when no
  /// policy is Local.
  std::vector<EndpointInfo> local;
  /// The union of both: each gets an endpoint chain.
  std::vector<EndpointInfo> reachable;
  /// The Service has usable endpoints somewhere (not only on this node).
  bool hasAny = false;
};

/// Splits endpoints by traffic policy. Topology (zone hints; node hints for PreferSameNode) applies to the
/// cluster set only when every ready endpoint carries hints and one of them names this node's zone (node).
CategorizedEndpoints categorizeEndpoints(const std::vector<EndpointInfo>& endpoints, const kube::Service& svc,
                                         const NodeInput& node, bool externallyAccessible);

}  // namespace nodenet::proxy::rules
