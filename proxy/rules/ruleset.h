// proxy/rules: the pure heart of nodenet-proxy (STYLE.md habit 1).
//
//   rules::Ruleset desired = rules::buildRuleset(input, config);   // pure: a value, no kernel
//   nft::Transaction tx = rules::toTransaction(desired);           // full sync of one table
//   NN_TRY(kernel.commit(tx));
//
// One Ruleset is one table (`ip nodenet` or `ip6 nodenet`); a dual-stack node builds two, one per family, from
// the same Input (kube-proxy runs one proxier per family the same way). The layout and its semantics follow
// kube-proxy's nftables proxier; see README.md for the chain graph and the deviations.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "kube/objects/endpoint_slice.h"
#include "kube/objects/node.h"
#include "kube/objects/service.h"
#include "netlink/nft/model/transaction.h"

namespace nodenet::proxy::rules {

/// One Service and the EndpointSlices labelled with its name (any family; slices of the other family are
/// ignored). The pointers belong to the caller's snapshot and must outlive buildRuleset().
struct ServiceInput {
  const kube::Service* service = nullptr;
  std::vector<const kube::EndpointSlice*> slices;
};

/// What the proxy needs to know about its own node.
struct NodeInput {
  /// Matches EndpointSlice endpoints[].nodeName: decides which endpoints are local.
  std::string name;
  /// topology.kubernetes.io/zone of the node ("" = unknown: topology hints are then not used).
  std::string zone;
  /// The node's addresses, primary first (InternalIP before ExternalIP). Used for nodePortAddresses and for
  /// the loadBalancerSourceRanges "allow from node" rule.
  std::vector<IpAddress> addresses;
};

/// Builds the NodeInput of a Node: name, zone label, InternalIPs then ExternalIPs.
NodeInput nodeInputFrom(const kube::Node& node);

struct Input {
  /// In any order; the output is sorted by namespace/name.
  std::vector<ServiceInput> services;
  NodeInput node;
};

/// --nodeport-addresses: where NodePorts are accepted.
struct NodePortAddresses {
  /// The node's primary address of the family ("primary" in kube-proxy's flag).
  bool primary = false;
  /// The node addresses inside these prefixes.
  std::vector<Cidr> cidrs;
  /// Empty (the default): every local address except loopback (`fib daddr type local`).
  bool all() const { return !primary && cidrs.empty(); }
};

/// Parses kube-proxy's --nodeport-addresses values: CIDRs, or the single word "primary".
/// Error: a value that is neither, naming it.
Result<NodePortAddresses> parseNodePortAddresses(const std::vector<std::string>& values);

struct Config {
  /// The family of the table to build (`ip` for V4, `ip6` for V6).
  IpFamily family = IpFamily::V4;
  /// --cluster-cidr: pod networks (any family; only this family's are used). Traffic from outside them to a
  /// ClusterIP is masqueraded; empty = no such rule ("detect-local" off), as kube-proxy.
  std::vector<Cidr> clusterCIDRs;
  /// --masquerade-all: masquerade every packet to a ClusterIP.
  bool masqueradeAll = false;
  NodePortAddresses nodePortAddresses;
  /// The packet-mark bit that asks for masquerade (kube-proxy's --masquerade-bit 14 = 0x4000).
  uint32_t masqueradeBit = 0x4000;
  /// Service ports that need no state of their own (no sessionAffinity, externalTrafficPolicy Cluster, at most
  /// kMaxMappedEndpoints endpoints per path) are programmed as elements of the endpoint maps, with no chain per
  /// Service or endpoint (see README.md). false: kube-proxy's chain per Service and endpoint for every Service
  /// (the benchmark's peer layout).
  bool endpointMaps = true;
};

/// The most endpoints a mapped service port may have on one path (one `dnat ... map` rule per count 1..this).
inline constexpr size_t kMaxMappedEndpoints = 16;

/// Part of a table's content: the shared skeleton, or one Service's objects.
struct RuleParts {
  std::vector<nft::Chain> chains;
  std::vector<nft::Set> sets;  // sets and maps
  std::vector<nft::Element> elements;
  std::vector<nft::Rule> rules;
};

/// What the sync layer needs to know about one programmed service port besides its rules (UDP conntrack cleanup,
/// the health check server).
struct ServicePortInfo {
  L4Proto protocol = L4Proto::TCP;
  uint16_t port = 0;
  uint16_t nodePort = 0;  // 0 = none
  /// Where clients send: the ClusterIP, then externalIPs, then LoadBalancer VIPs (of the table's family).
  std::vector<IpAddress> serviceIPs;
  /// The endpoints traffic may be DNATed to (each has an endpoint chain), sorted; may repeat an address with
  /// another target port.
  std::vector<IpAddress> endpoints;
  /// Ready endpoints on this node (externalTrafficPolicy Local health checks).
  size_t localReady = 0;
  bool operator==(const ServicePortInfo&) const = default;
};

/// The desired content of one table: what toTransaction() adds after flushing it. Deterministic order:
/// shared objects first, then services by namespace/name and port order.
struct Ruleset : RuleParts {
  nft::Family family = nft::Family::Ip;
  std::string table;

  /// Lookups for tests and the sync layer's diff (linear; nullptr when absent).
  const nft::Chain* findChain(std::string_view name) const;
  const nft::Set* findSet(std::string_view name) const;
};

/// One Service's objects in one table (empty when the Service is skipped) and its ports' facts.
struct ServiceRules : RuleParts {
  std::vector<ServicePortInfo> ports;
};

/// Builds a table piece by piece: the shared skeleton once, then any Service on its own. buildRuleset() is
/// shared() followed by service() for each Service in namespace/name order, so a sync layer that keeps the
/// pieces (and rebuilds only the Services that changed) holds exactly what buildRuleset() would produce.
/// Pure; const methods are safe to call from several threads at once.
class RulesBuilder {
 public:
  RulesBuilder(NodeInput node, Config config);
  ~RulesBuilder();
  RulesBuilder(const RulesBuilder&) = delete;
  RulesBuilder& operator=(const RulesBuilder&) = delete;

  /// The table-wide objects: base chains, dispatch chains, the dispatch maps and sets (and nodeport-ips elements).
  RuleParts shared() const;
  /// One Service's chains, affinity sets, map elements and rules (nothing when the Service is skipped).
  ServiceRules service(const ServiceInput& service) const;
  /// Same, appending to `out` (reuses its capacity).
  void appendService(const ServiceInput& service, ServiceRules& out) const;

  const Config& config() const { return config_; }
  const NodeInput& node() const { return node_; }

  class Impl;
  const Impl& impl() const { return *impl_; }

 private:
  NodeInput node_;
  Config config_;
  std::unique_ptr<Impl> impl_;
};

/// The order buildRuleset() emits Services in: by namespace, then name.
bool lessByServiceKey(const kube::Service& a, const kube::Service& b);

/// Builds the desired table for config.family. Pure and infallible: Services that the proxy does not handle
/// (headless, ExternalName, service-proxy-name label, no ClusterIP of this family) are skipped, as are
/// endpoint ports without a number.
Ruleset buildRuleset(const Input& input, const Config& config);

/// A full sync of the table as one transaction: add table, flush its rules, add every chain and set, flush the
/// dispatch sets and maps (never the affinity sets: their entries are live client state), add elements and
/// rules. Chains and affinity sets the previous sync had but this one lacks are left for proxy/sync to
/// flush and delete. Check tx.status() (an invalid name or comment poisons it).
nft::Transaction toTransaction(const Ruleset& ruleset);

/// "ns/name:port" as kube-proxy prints a service port (comments, logs); ":port" is dropped when unnamed.
std::string servicePortName(const kube::Service& svc, const kube::ServicePort& port);

}  // namespace nodenet::proxy::rules
