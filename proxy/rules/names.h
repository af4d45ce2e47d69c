// Names of everything proxy/rules puts into the `nodenet` tables (STYLE.md habit 13: every name a constant).
//
// The layout follows kube-proxy's nftables proxier (pkg/proxy/nftables/README.md): base chains hook into
// netfilter and jump to regular chains; dispatch is by verdict maps; per-service and per-endpoint chains are
// named `<prefix>-<HASH8>-<ns>/<svc>/<proto>/<port>[__<ip>/<port>]`, where HASH8 is a hash of everything after
// it, so names stay unique even when truncated to the kernel's limit.
#pragma once

#include <string>
#include <string_view>

namespace nodenet::proxy::rules {

/// The table name, in both the `ip` and the `ip6` family.
inline constexpr std::string_view kTableName = "nodenet";
inline constexpr std::string_view kTableComment = "rules for nodenet-proxy";

// Base chains (attached to hooks).
inline constexpr std::string_view kFilterPreroutingChain = "filter-prerouting";
inline constexpr std::string_view kFilterInputChain = "filter-input";
inline constexpr std::string_view kFilterForwardChain = "filter-forward";
inline constexpr std::string_view kFilterOutputChain = "filter-output";
inline constexpr std::string_view kFilterOutputPostDnatChain = "filter-output-post-dnat";
inline constexpr std::string_view kNatPreroutingChain = "nat-prerouting";
inline constexpr std::string_view kNatOutputChain = "nat-output";
inline constexpr std::string_view kNatPostroutingChain = "nat-postrouting";

// Regular chains shared by all services.
/// Dispatch: `daddr . l4proto . dport vmap @service-ips` and the NodePort rule.
inline constexpr std::string_view kServicesChain = "services";
/// Postrouting: masquerade what carries the masquerade bit.
inline constexpr std::string_view kMasqueradingChain = "masquerading";
/// Sets the masquerade bit.
inline constexpr std::string_view kMarkMasqChain = "mark-for-masquerade";
/// Marks for masquerade unless the source is inside a cluster CIDR (used when there are several CIDRs).
inline constexpr std::string_view kMarkMasqOffClusterChain = "mark-masq-off-cluster";
/// `reject`: target of no-endpoint verdicts.
inline constexpr std::string_view kRejectChain = "reject-chain";
inline constexpr std::string_view kFirewallCheckChain = "firewall-check";
inline constexpr std::string_view kServiceEndpointsCheckChain = "service-endpoints-check";
inline constexpr std::string_view kNodePortEndpointsCheckChain = "nodeport-endpoints-check";
inline constexpr std::string_view kClusterIpsCheckChain = "cluster-ips-check";

// Sets and maps.
/// `addr . proto . port : goto <chain>` for ClusterIPs, externalIPs and LoadBalancer VIPs.
inline constexpr std::string_view kServiceIpsMap = "service-ips";
/// `proto . port : goto <external chain>` for NodePorts.
inline constexpr std::string_view kServiceNodePortsMap = "service-nodeports";
/// `addr . proto . port : goto reject-chain | drop` for service IPs without (usable) endpoints.
inline constexpr std::string_view kNoEndpointServicesMap = "no-endpoint-services";
/// `proto . port : goto reject-chain | drop` for NodePorts without (usable) endpoints.
inline constexpr std::string_view kNoEndpointNodePortsMap = "no-endpoint-nodeports";
/// `lbip . proto . port : goto firewall-...` for LoadBalancer VIPs with loadBalancerSourceRanges.
inline constexpr std::string_view kFirewallIpsMap = "firewall-ips";
/// Every ClusterIP: traffic to a ClusterIP that dispatch did not DNAT hit an unserved port.
inline constexpr std::string_view kClusterIpsSet = "cluster-ips";
/// The local addresses NodePorts are served on, when nodePortAddresses is set.
inline constexpr std::string_view kNodePortIpsSet = "nodeport-ips";

// Endpoint maps (Config::endpointMaps): Services that need no per-Service state are programmed as map elements only.
/// Gate: `addr . proto . port` of mapped externalIPs / LoadBalancer VIPs (ClusterIPs are gated by cluster-ips).
inline constexpr std::string_view kMappedExternalIpsSet = "mapped-external-ips";
/// Gate: `proto . port` of mapped NodePorts.
inline constexpr std::string_view kMappedNodePortsSet = "mapped-nodeports";
/// `addr . proto . port . N : endpoint . port`, N from `numgen random mod K offset K(K-1)/2` for K endpoints.
inline constexpr std::string_view kEndpointsMap = "endpoints";
/// The same keyed by `proto . nodePort . N`.
inline constexpr std::string_view kNodePortEndpointsMap = "nodeport-endpoints";
/// `endpoint . endpoint . ClusterIP`: a pod that reached itself through a mapped ClusterIP (hairpin).
inline constexpr std::string_view kHairpinSet = "hairpin-endpoints";
/// Chains reached through the gates: masquerade marking, then one `dnat ... map` rule per endpoint count.
inline constexpr std::string_view kMappedClusterIpChain = "mapped-cluster-ip";
inline constexpr std::string_view kMappedExternalChain = "mapped-external";
inline constexpr std::string_view kMappedNodePortChain = "mapped-nodeport";

// Prefixes of per-service and per-endpoint objects.
inline constexpr std::string_view kServicePrefix = "service";    // cluster traffic policy: all usable endpoints
inline constexpr std::string_view kLocalPrefix = "local";        // local traffic policy: this node's endpoints
inline constexpr std::string_view kExternalPrefix = "external";  // NodePort / externalIP / LB entry point
inline constexpr std::string_view kFirewallPrefix = "firewall";  // loadBalancerSourceRanges
inline constexpr std::string_view kEndpointPrefix = "endpoint";  // DNAT to one endpoint
inline constexpr std::string_view kAffinityPrefix = "affinity";  // ClientIP affinity set of one endpoint

/// "<prefix>-<HASH8>-<base>": HASH8 is 8 base32 characters of a 64-bit FNV-1a of `base`; the whole name is cut
/// to nft::kMaxNameLen. Pure and stable across releases (names are compared with what a previous run left).
std::string hashedName(std::string_view prefix, std::string_view base);

}  // namespace nodenet::proxy::rules
