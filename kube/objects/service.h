// A Service as the proxy and the DNS server see it: spec fields with the API server's defaults applied,
// IPs and CIDRs parsed, and status.loadBalancer.ingress.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "kube/objects/intern.h"
#include "kube/objects/meta.h"

namespace nodenet::kube {

enum class ServiceType : uint8_t { ClusterIP, NodePort, LoadBalancer, ExternalName };
enum class IpFamilyPolicy : uint8_t { Unset, SingleStack, PreferDualStack, RequireDualStack };
enum class SessionAffinity : uint8_t { None, ClientIP };
/// externalTrafficPolicy and internalTrafficPolicy. The legacy externalTrafficPolicy value "Global" is Cluster.
enum class TrafficPolicy : uint8_t { Cluster, Local };
/// spec.trafficDistribution. PreferClose is the older name of PreferSameZone (Kubernetes 1.33); both are kept
/// apart so callers can log what the user wrote. Unknown values (newer API servers) become Other and are ignored.
enum class TrafficDistribution : uint8_t { Unset, PreferClose, PreferSameZone, PreferSameNode, Other };
/// status.loadBalancer.ingress[].ipMode: VIP means the proxy must accept traffic to the IP itself.
enum class LoadBalancerIpMode : uint8_t { VIP, Proxy };

/// The default of sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
inline constexpr uint32_t kDefaultAffinityTimeoutSeconds = 10800;
/// The maximum the API accepts for sessionAffinityConfig.clientIP.timeoutSeconds (1 day).
inline constexpr uint32_t kMaxAffinityTimeoutSeconds = 86400;

const char* serviceTypeName(ServiceType t);

/// spec.ports[].targetPort: a number, or the name of a container port (then `name` is set and `number` is 0).
struct TargetPort {
  uint16_t number = 0;
  InternedString name;
  bool isNamed() const { return !name.empty(); }
  bool operator==(const TargetPort&) const = default;
};

struct ServicePort {
  InternedString name;
  L4Proto protocol = L4Proto::TCP;
  uint16_t port = 0;
  uint16_t nodePort = 0;  // 0 = none
  TargetPort targetPort;  // defaults to `port`
  InternedString appProtocol;
  bool operator==(const ServicePort&) const = default;
};

/// status.loadBalancer.ingress[].ports[]
struct PortStatus {
  uint16_t port = 0;
  L4Proto protocol = L4Proto::TCP;
  std::optional<std::string> error;
  bool operator==(const PortStatus&) const = default;
};

/// status.loadBalancer.ingress[]
struct LoadBalancerIngress {
  std::optional<IpAddress> ip;
  std::string hostname;
  std::optional<LoadBalancerIpMode> ipMode;  // nil = VIP
  std::vector<PortStatus> ports;

  /// True when the proxy must accept traffic to `ip` (ipMode nil or VIP), as kube-proxy's IsVIPMode.
  bool isVip() const { return ip.has_value() && ipMode.value_or(LoadBalancerIpMode::VIP) == LoadBalancerIpMode::VIP; }
  bool operator==(const LoadBalancerIngress&) const = default;
};

struct Service {
  ObjectMeta meta;

  ServiceType type = ServiceType::ClusterIP;
  /// spec.clusterIP is "None": no virtual IP; DNS answers with the endpoints.
  bool headless = false;
  /// spec.clusterIPs (or [spec.clusterIP]); primary family first; empty when headless, ExternalName or unallocated.
  std::vector<IpAddress> clusterIPs;
  std::vector<IpFamily> ipFamilies;
  IpFamilyPolicy ipFamilyPolicy = IpFamilyPolicy::Unset;
  std::vector<ServicePort> ports;
  /// spec.selector is set and non-empty (the EndpointSlice controller manages the endpoints).
  bool hasSelector = false;
  SessionAffinity sessionAffinity = SessionAffinity::None;
  /// Meaningful when sessionAffinity is ClientIP; defaults to kDefaultAffinityTimeoutSeconds.
  uint32_t affinityTimeoutSeconds = kDefaultAffinityTimeoutSeconds;
  std::vector<IpAddress> externalIPs;
  TrafficPolicy externalTrafficPolicy = TrafficPolicy::Cluster;
  TrafficPolicy internalTrafficPolicy = TrafficPolicy::Cluster;
  uint16_t healthCheckNodePort = 0;  // 0 = none
  /// spec.loadBalancerSourceRanges (whitespace trimmed); for LoadBalancer Services where the field is empty,
  /// the legacy annotation's comma-separated list instead.
  std::vector<Cidr> loadBalancerSourceRanges;
  TrafficDistribution trafficDistribution = TrafficDistribution::Unset;
  bool publishNotReadyAddresses = false;
  std::string externalName;
  /// spec.allocateLoadBalancerNodePorts; nil means true for LoadBalancer Services.
  std::optional<bool> allocateLoadBalancerNodePorts;
  std::vector<LoadBalancerIngress> loadBalancerIngress;

  /// The cluster IP of `family`, if allocated.
  std::optional<IpAddress> clusterIP(IpFamily family) const;
  /// True when the Service carries the service-proxy-name label (another proxy owns it).
  bool hasServiceProxyName() const { return meta.labels.contains(kLabelServiceProxyName); }
  bool operator==(const Service&) const = default;
};

}  // namespace nodenet::kube
