// buildRuleset(): Services + EndpointSlices + Node -> the desired `nodenet` table. See README.md for the graph.
#include <algorithm>

#include "base/strings.h"
#include "proxy/rules/endpoints.h"
#include "proxy/rules/names.h"
#include "proxy/rules/ruleset.h"

namespace nodenet::proxy::rules {

using nft::Field;
using nft::Rule;
using nft::Statement;
using nft::Value;
using nft::Verdict;

std::string hashedName(std::string_view prefix, std::string_view base) {
  // FNV-1a 64: stable, dependency-free; collisions only matter together with an identical truncated base.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : base) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  char hash[8];
  for (int i = 0; i < 8; ++i) hash[i] = kBase32[(h >> (59 - 5 * i)) & 31];
  std::string name;
  name.reserve(prefix.size() + 10 + base.size());
  name.append(prefix).append("-").append(hash, 8).append("-").append(base);
  if (name.size() > nft::kMaxNameLen) name.resize(nft::kMaxNameLen);
  return name;
}

std::string servicePortName(const kube::Service& svc, const kube::ServicePort& port) {
  std::string s = strCat(svc.meta.ns.view(), "/", svc.meta.name);
  if (!port.name.empty()) s += strCat(":", port.name.view());
  return s;
}

NodeInput nodeInputFrom(const kube::Node& node) {
  NodeInput in;
  in.name = node.meta.name;
  in.zone = std::string(node.zone());
  in.addresses = node.ips(kube::NodeAddressType::InternalIP);
  for (const IpAddress& ip : node.ips(kube::NodeAddressType::ExternalIP)) in.addresses.push_back(ip);
  return in;
}

Result<NodePortAddresses> parseNodePortAddresses(const std::vector<std::string>& values) {
  NodePortAddresses out;
  for (const std::string& raw : values) {
    std::string_view v = trim(raw);
    if (v.empty()) continue;
    if (toLower(v) == "primary") {
      out.primary = true;
      continue;
    }
    auto cidr = Cidr::parse(v);
    if (!cidr.ok()) return Error(strCat("--nodeport-addresses: \"", v, "\" is neither a CIDR nor \"primary\""));
    out.cidrs.push_back(cidr->masked());
  }
  return out;
}

const nft::Chain* Ruleset::findChain(std::string_view name) const {
  for (const auto& c : chains)
    if (c.name == name) return &c;
  return nullptr;
}

const nft::Set* Ruleset::findSet(std::string_view name) const {
  for (const auto& s : sets)
    if (s.name == name) return &s;
  return nullptr;
}

namespace {

std::string str(std::string_view s) { return std::string(s); }

/// Up to this many endpoints, a service chain picks one with a cascade of `numgen random mod K 0 goto` rules;
/// beyond it with kube-proxy's `numgen random mod N vmap { ... }`. The vmap needs an anonymous set per rule, and
/// the kernel walks every set of the table each time one is created or looked up by name (nf_tables_set_alloc_name,
/// nft_set_lookup), so a table with one per Service makes a full sync quadratic: 27 s for 10k Services instead of
/// well under a second. A cascade evaluates at most this many cheap rules per new connection.
constexpr size_t kMaxCascadedEndpoints = 16;

/// Endpoint maps: a port with K endpoints uses the indexes K(K-1)/2 .. K(K-1)/2 + K - 1, so the index ranges of
/// different counts never overlap; kNumgenRange covers them all (only used in the maps' typeof).
constexpr uint32_t mappedOffset(uint32_t k) { return k * (k - 1) / 2; }
constexpr uint32_t kNumgenRange = mappedOffset(kMaxMappedEndpoints + 1);

/// Comments are capped by the kernel (nft::kMaxCommentLen); service port names fit unless names are huge.
std::optional<std::string> comment(std::string s) {
  if (s.size() > nft::kMaxCommentLen) s.resize(nft::kMaxCommentLen);
  return s;
}

}  // namespace

class RulesBuilder::Impl {
 public:
  Impl(const NodeInput& node, const Config& cfg) : node_(node), cfg_(cfg), v6_(cfg.family == IpFamily::V6) {
    saddr_ = v6_ ? Field::Ip6Saddr : Field::IpSaddr;
    daddr_ = v6_ ? Field::Ip6Daddr : Field::IpDaddr;
    addrType_ = v6_ ? nft::DataType::Ipv6Addr : nft::DataType::Ipv4Addr;
    for (const Cidr& c : cfg.clusterCIDRs)
      if (c.family() == cfg.family) clusterCIDRs_.push_back(c.masked());
    for (const IpAddress& a : node.addresses)
      if (a.family() == cfg.family) nodeIPs_.push_back(a);
  }

  /// Each build method writes into `out` (appending); the builder itself is stateless between calls.
  void shared(RuleParts& out) const {
    Out o{out, nullptr};
    buildShared(o);
  }
  void service(const ServiceInput& si, ServiceRules& out) const {
    Out o{out, &out.ports};
    buildService(si, o);
  }

 private:
  struct Out {
    RuleParts& parts;
    std::vector<ServicePortInfo>* ports;  // null for the shared part
  };

  static void chain(Out& o, std::string_view name) { o.parts.chains.push_back(nft::Chain{.name = str(name)}); }
  static void baseChain(Out& o, std::string_view name, nft::ChainType type, nft::Hook hook, int32_t prio) {
    o.parts.chains.push_back(
        nft::Chain{.name = str(name), .base = nft::BaseChain{type, hook, prio, nft::Policy::Accept}});
  }
  static void rule(Out& o, std::string_view chain, std::vector<Statement> stmts,
                   std::optional<std::string> c = std::nullopt) {
    o.parts.rules.push_back(Rule{.chain = str(chain), .statements = std::move(stmts), .comment = std::move(c)});
  }
  static void element(Out& o, std::string_view set, nft::Key key, std::optional<Verdict> verdict,
                      std::optional<std::string> c = std::nullopt) {
    o.parts.elements.push_back(
        nft::Element{.set = str(set), .key = key, .verdict = std::move(verdict), .comment = std::move(c)});
  }
  static Statement ctNew() { return nft::match(Field::CtState, Value::ctState(nft::ct::kNew)); }

  /// The match for "packets to the local node" used by both NodePort rules: every local address but
  /// loopback (kube-proxy never serves NodePorts on 127.0.0.1 in nftables mode), or @nodeport-ips.
  void nodeAddressMatch(std::vector<Statement>& s) const {
    if (cfg_.nodePortAddresses.all()) {
      s.push_back(nft::match(Field::FibDaddrType, Value::fibType(nft::FibAddrType::Local)));
      s.push_back(nft::notMatch(daddr_, v6_ ? Value::ip(*IpAddress::parse("::1"))
                                            : Value::prefix(*Cidr::parse("127.0.0.0/8"))));
    } else {
      s.push_back(nft::lookup({daddr_}, str(kNodePortIpsSet)));
    }
  }

  void buildShared(Out& o) const {
    using nft::ChainType;
    using nft::Hook;
    namespace prio = nft::priority;
    // Filter chains run just before DNAT (dstnat - 10) so they see the service address; the post-DNAT output
    // chain sees what the nat output chain left, i.e. ClusterIP traffic no map element claimed.
    baseChain(o, kFilterPreroutingChain, ChainType::Filter, Hook::Prerouting, prio::kDstNat - 10);
    baseChain(o, kFilterInputChain, ChainType::Filter, Hook::Input, prio::kDstNat - 10);
    baseChain(o, kFilterForwardChain, ChainType::Filter, Hook::Forward, prio::kDstNat - 10);
    baseChain(o, kFilterOutputChain, ChainType::Filter, Hook::Output, prio::kDstNat - 10);
    baseChain(o, kFilterOutputPostDnatChain, ChainType::Filter, Hook::Output, prio::kDstNat + 10);
    baseChain(o, kNatPreroutingChain, ChainType::Nat, Hook::Prerouting, prio::kDstNat);
    baseChain(o, kNatOutputChain, ChainType::Nat, Hook::Output, prio::kDstNat);
    baseChain(o, kNatPostroutingChain, ChainType::Nat, Hook::Postrouting, prio::kSrcNat);
    for (std::string_view c : {kClusterIpsCheckChain, kFirewallCheckChain, kMarkMasqChain, kMasqueradingChain,
                               kNodePortEndpointsCheckChain, kRejectChain, kServiceEndpointsCheckChain, kServicesChain})
      chain(o, c);
    if (clusterCIDRs_.size() > 1 && !cfg_.masqueradeAll) chain(o, kMarkMasqOffClusterChain);

    using nft::DataType;
    const nft::KeyType ipKey{addrType_, DataType::InetProto, DataType::InetService};
    const nft::KeyType portKey{DataType::InetProto, DataType::InetService};
    auto map = [&](std::string_view name, nft::KeyType key, const char* c) {
      o.parts.sets.push_back(nft::Set{.name = str(name), .key = key, .data = DataType::Verdict, .comment = c});
    };
    o.parts.sets.push_back(nft::Set{.name = str(kClusterIpsSet), .key = {addrType_}, .comment = "Active ClusterIPs"});
    map(kFirewallIpsMap, ipKey, "destinations that are subject to LoadBalancerSourceRanges");
    map(kNoEndpointNodePortsMap, portKey, "vmap to drop or reject packets to service nodeports with no endpoints");
    map(kNoEndpointServicesMap, ipKey, "vmap to drop or reject packets to services with no endpoints");
    if (!cfg_.nodePortAddresses.all()) {
      o.parts.sets.push_back(nft::Set{.name = str(kNodePortIpsSet), .key = {addrType_},
                                   .comment = "IPs that accept NodePort traffic"});
      for (const IpAddress& ip : nodePortIPs()) element(o, kNodePortIpsSet, {Value::ip(ip)}, std::nullopt);
    }
    map(kServiceIpsMap, ipKey, "ClusterIP, ExternalIP and LoadBalancer IP traffic");
    map(kServiceNodePortsMap, portKey, "NodePort traffic");
    if (cfg_.endpointMaps) {
      auto set = [&](std::string_view name, nft::KeyType key, const char* c) {
        o.parts.sets.push_back(nft::Set{.name = str(name), .key = key, .comment = c});
      };
      set(kMappedExternalIpsSet, ipKey, "externalIPs and LoadBalancer IPs served through the endpoints map");
      set(kMappedNodePortsSet, portKey, "NodePorts served through the nodeport-endpoints map");
      set(kHairpinSet, nft::KeyType{addrType_, addrType_, addrType_}, "endpoint . endpoint . ClusterIP: hairpin");
      // The data is declared `... tcp dport`: nft 1.0.6 cannot re-read a map whose data typeof says `th dport`
      // (it reports "conflicting protocols"); both are inet_service, which is all the kernel stores.
      const nft::NumgenKey range{kNumgenRange, 0};
      o.parts.sets.push_back(nft::Set{
          .name = str(kEndpointsMap),
          .key = {addrType_, DataType::InetProto, DataType::InetService, DataType::Integer},
          .comment = "service IP . port . endpoint index : endpoint",
          .dataConcat = {addrType_, DataType::InetService},
          .typeOf = nft::SetTypeof{{daddr_, Field::MetaL4proto, Field::ThDport}, range, {daddr_, Field::TcpDport}}});
      o.parts.sets.push_back(nft::Set{
          .name = str(kNodePortEndpointsMap),
          .key = {DataType::InetProto, DataType::InetService, DataType::Integer},
          .comment = "NodePort . endpoint index : endpoint",
          .dataConcat = {addrType_, DataType::InetService},
          .typeOf = nft::SetTypeof{{Field::MetaL4proto, Field::ThDport}, range, {daddr_, Field::TcpDport}}});
      for (std::string_view c : {kMappedClusterIpChain, kMappedExternalChain, kMappedNodePortChain}) chain(o, c);
    }

    rule(o, kFilterPreroutingChain, {ctNew(), Verdict::jump(str(kFirewallCheckChain))});
    rule(o, kFilterInputChain, {ctNew(), Verdict::jump(str(kNodePortEndpointsCheckChain))});
    rule(o, kFilterInputChain, {ctNew(), Verdict::jump(str(kServiceEndpointsCheckChain))});
    rule(o, kFilterForwardChain, {ctNew(), Verdict::jump(str(kServiceEndpointsCheckChain))});
    rule(o, kFilterForwardChain, {ctNew(), Verdict::jump(str(kClusterIpsCheckChain))});
    rule(o, kFilterOutputChain, {ctNew(), Verdict::jump(str(kServiceEndpointsCheckChain))});
    rule(o, kFilterOutputChain, {ctNew(), Verdict::jump(str(kFirewallCheckChain))});
    rule(o, kFilterOutputPostDnatChain, {ctNew(), Verdict::jump(str(kClusterIpsCheckChain))});
    rule(o, kNatPreroutingChain, {Verdict::jump(str(kServicesChain))});
    rule(o, kNatOutputChain, {Verdict::jump(str(kServicesChain))});
    rule(o, kNatPostroutingChain, {Verdict::jump(str(kMasqueradingChain))});

    const nft::Concat ipConcat{daddr_, Field::MetaL4proto, Field::ThDport};
    const nft::Concat portConcat{Field::MetaL4proto, Field::ThDport};
    // Reached only before DNAT (filter-forward, filter-output-post-dnat), so a ClusterIP still here went to a
    // port no Service claims.
    rule(o, kClusterIpsCheckChain, {nft::lookup({daddr_}, str(kClusterIpsSet)), nft::Reject{}},
         "Reject traffic to invalid ports of ClusterIPs");
    rule(o, kFirewallCheckChain, {nft::vmap(ipConcat, str(kFirewallIpsMap))});
    rule(o, kServiceEndpointsCheckChain, {nft::vmap(ipConcat, str(kNoEndpointServicesMap))});
    {
      std::vector<Statement> s;
      nodeAddressMatch(s);
      s.push_back(nft::vmap(portConcat, str(kNoEndpointNodePortsMap)));
      rule(o, kNodePortEndpointsCheckChain, std::move(s));
    }
    rule(o, kServicesChain, {nft::vmap(ipConcat, str(kServiceIpsMap))});
    if (cfg_.endpointMaps) {
      // Any other ClusterIP: a mapped port, or a port nobody serves (no dnat rule finds a key; the packet leaves
      // untouched and cluster-ips-check rejects it). cluster-ips holds every ClusterIP already, so mapped ports
      // need no gate element of their own.
      rule(o, kServicesChain, {nft::lookup({daddr_}, str(kClusterIpsSet)), Verdict::goTo(str(kMappedClusterIpChain))});
      rule(o, kServicesChain, {nft::lookup(ipConcat, str(kMappedExternalIpsSet)), Verdict::goTo(str(kMappedExternalChain))});
    }
    {
      std::vector<Statement> s;
      nodeAddressMatch(s);
      s.push_back(nft::vmap(portConcat, str(kServiceNodePortsMap)));
      rule(o, kServicesChain, std::move(s));
    }
    if (cfg_.endpointMaps) {
      std::vector<Statement> s;
      nodeAddressMatch(s);
      s.push_back(nft::lookup(portConcat, str(kMappedNodePortsSet)));
      s.push_back(Verdict::goTo(str(kMappedNodePortChain)));
      rule(o, kServicesChain, std::move(s));
      // ClusterIP: masquerade what comes from outside the pod network (as a Service chain does), then DNAT.
      if (cfg_.masqueradeAll)
        rule(o, kMappedClusterIpChain, {Verdict::jump(str(kMarkMasqChain))});
      else if (clusterCIDRs_.size() == 1)
        rule(o, kMappedClusterIpChain,
             {nft::notMatch(saddr_, Value::prefix(clusterCIDRs_.front())), Verdict::jump(str(kMarkMasqChain))});
      else if (clusterCIDRs_.size() > 1)
        rule(o, kMappedClusterIpChain, {Verdict::jump(str(kMarkMasqOffClusterChain))});
      // External traffic policy Cluster may forward to another node: always masquerade.
      rule(o, kMappedExternalChain, {Verdict::jump(str(kMarkMasqChain))});
      rule(o, kMappedNodePortChain, {Verdict::jump(str(kMarkMasqChain))});
      // One rule per endpoint count K: a Service port with K endpoints has the keys offset(K) .. offset(K)+K-1, so
      // only rule K finds its key; the others miss and fall through. Uniform: 1/K each, as kube-proxy's numgen.
      for (uint32_t k = 1; k <= kMaxMappedEndpoints; ++k) {
        const nft::NumgenKey ng{k, mappedOffset(k)};
        rule(o, kMappedClusterIpChain, {nft::NatMap{ipConcat, ng, str(kEndpointsMap)}});
        rule(o, kMappedExternalChain, {nft::NatMap{ipConcat, ng, str(kEndpointsMap)}});
        rule(o, kMappedNodePortChain, {nft::NatMap{portConcat, ng, str(kNodePortEndpointsMap)}});
      }
    }
    rule(o, kMarkMasqChain, {nft::MarkSet{cfg_.masqueradeBit}});
    if (cfg_.endpointMaps) {
      // Hairpin through a mapped ClusterIP: the pod is both source and (after DNAT) destination. A Service chain
      // does this in each endpoint chain (`ip saddr <endpoint> jump mark-for-masquerade`).
      const Field origDaddr = v6_ ? Field::CtOriginalIp6Daddr : Field::CtOriginalIpDaddr;
      rule(o, kMasqueradingChain,
           {nft::lookup({saddr_, daddr_, origDaddr}, str(kHairpinSet)), Verdict::jump(str(kMarkMasqChain))});
    }
    rule(o, kMasqueradingChain,
         {nft::Match{Field::MetaMark, nft::CmpOp::Eq, Value::mark(0), cfg_.masqueradeBit}, Verdict::ret()});
    // Clear the bit before masquerading, so a packet that loops back through the node is judged afresh.
    rule(o, kMasqueradingChain, {nft::MarkSet{.xorBits = cfg_.masqueradeBit}});
    rule(o, kMasqueradingChain, {nft::Masquerade{.fullyRandom = true}});
    rule(o, kRejectChain, {nft::Reject{}});
    if (clusterCIDRs_.size() > 1 && !cfg_.masqueradeAll) {
      for (const Cidr& c : clusterCIDRs_) rule(o, kMarkMasqOffClusterChain, {nft::match(saddr_, Value::prefix(c)), Verdict::ret()});
      rule(o, kMarkMasqOffClusterChain, {Verdict::jump(str(kMarkMasqChain))});
    }
  }

  /// loadBalancerSourceRanges: allowed prefixes return, the rest is dropped. When a range holds the node's own
  /// address, the LB VIPs are allowed too: a VIP bound locally loops back with itself as source.
  void firewallRules(Out& o, const std::string& fwChain, const std::vector<Cidr>& sourceRanges,
                     const std::vector<IpAddress>& lbVIPs) const {
    bool allowFromNode = false;
    for (const Cidr& c : sourceRanges) {
      rule(o, fwChain, {nft::match(saddr_, Value::prefix(c)), Verdict::ret()});
      allowFromNode = allowFromNode || (!nodeIPs_.empty() && c.contains(nodeIPs_.front()));
    }
    if (allowFromNode)
      for (const IpAddress& ip : lbVIPs) rule(o, fwChain, {nft::match(saddr_, Value::ip(ip)), Verdict::ret()});
    rule(o, fwChain, {Verdict::drop()});
  }

  /// A service port without per-Service state: gate elements, endpoint map elements and hairpin elements only
  /// (plus, as for any Service, the no-endpoint verdicts and the loadBalancerSourceRanges firewall chain). The
  /// ClusterIP path uses the internal-policy endpoints; externalIPs, LB VIPs and the NodePort use all of them
  /// (externalTrafficPolicy Cluster). `fwChain` is empty without loadBalancerSourceRanges.
  void buildMappedPort(Out& o, L4Proto proto, const kube::ServicePort& port, const IpAddress& clusterIP,
                       const std::vector<IpAddress>& externalIPs, const std::vector<IpAddress>& lbVIPs,
                       const std::vector<Cidr>& sourceRanges, const CategorizedEndpoints& eps,
                       const std::vector<EndpointInfo>& internalList, bool hasInternal, bool hasExternal,
                       bool external, const std::string& fwChain, const Verdict& noEndpoint,
                       const std::optional<std::string>& spn) const {
    const Value pv = Value::proto(proto), portv = Value::port(port.port);
    const bool usesFirewall = !fwChain.empty();
    auto endpoints = [&](std::string_view map, nft::Key prefix, const std::vector<EndpointInfo>& list) {
      const uint32_t base = mappedOffset(static_cast<uint32_t>(list.size()));
      for (size_t i = 0; i < list.size(); ++i) {
        nft::Key key = prefix;
        key.push_back(Value::integer(base + static_cast<uint32_t>(i)));
        o.parts.elements.push_back(nft::Element{.set = str(map), .key = key,
                                                .dataConcat = {Value::ip(list[i].ip), Value::port(list[i].port)}});
      }
    };
    // ClusterIP.
    if (hasInternal) {
      const nft::Key key{Value::ip(clusterIP), pv, portv};
      endpoints(kEndpointsMap, key, internalList);
      std::vector<IpAddress> seen;
      for (const EndpointInfo& e : internalList) {
        if (std::find(seen.begin(), seen.end(), e.ip) != seen.end()) continue;
        seen.push_back(e.ip);
        element(o, kHairpinSet, {Value::ip(e.ip), Value::ip(e.ip), Value::ip(clusterIP)}, std::nullopt);
      }
    } else {
      element(o, kNoEndpointServicesMap, {Value::ip(clusterIP), pv, portv}, noEndpoint, spn);
    }
    // externalIPs and LB VIPs (ipMode VIP).
    auto externalIP = [&](const IpAddress& ip) {
      const nft::Key key{Value::ip(ip), pv, portv};
      if (eps.hasAny && external) {
        element(o, kMappedExternalIpsSet, key, std::nullopt);
        endpoints(kEndpointsMap, key, eps.cluster);
      }
      if (!hasExternal) element(o, kNoEndpointServicesMap, key, noEndpoint, spn);
    };
    for (const IpAddress& ip : externalIPs) externalIP(ip);
    if (usesFirewall) {
      chain(o, fwChain);
      firewallRules(o, fwChain, sourceRanges, lbVIPs);
    }
    for (const IpAddress& ip : lbVIPs) {
      externalIP(ip);
      if (usesFirewall) element(o, kFirewallIpsMap, {Value::ip(ip), pv, portv}, Verdict::goTo(fwChain), spn);
    }
    // NodePort.
    if (port.nodePort != 0) {
      const nft::Key key{pv, Value::port(port.nodePort)};
      if (eps.hasAny && external) {
        element(o, kMappedNodePortsSet, key, std::nullopt);
        endpoints(kNodePortEndpointsMap, key, eps.cluster);
      }
      if (!hasExternal) element(o, kNoEndpointNodePortsMap, key, noEndpoint, spn);
    }
  }

  /// The node addresses that serve NodePorts when nodePortAddresses is set.
  std::vector<IpAddress> nodePortIPs() const {
    std::vector<IpAddress> out;
    const NodePortAddresses& npa = cfg_.nodePortAddresses;
    for (size_t i = 0; i < nodeIPs_.size(); ++i) {
      bool want = npa.primary && i == 0;
      for (const Cidr& c : npa.cidrs) want = want || c.contains(nodeIPs_[i]);
      if (want && std::find(out.begin(), out.end(), nodeIPs_[i]) == out.end()) out.push_back(nodeIPs_[i]);
    }
    return out;
  }

  /// `tcp dport 80`; SCTP has no dedicated field in the model, so `meta l4proto sctp th dport 80`.
  static void portMatch(std::vector<Statement>& s, L4Proto proto, uint16_t port) {
    switch (proto) {
      case L4Proto::TCP: s.push_back(nft::match(Field::TcpDport, Value::port(port))); break;
      case L4Proto::UDP: s.push_back(nft::match(Field::UdpDport, Value::port(port))); break;
      case L4Proto::SCTP:
        s.push_back(nft::match(Field::MetaL4proto, Value::proto(proto)));
        s.push_back(nft::match(Field::ThDport, Value::port(port)));
        break;
    }
  }

  void buildService(const ServiceInput& si, Out& o) const {
    const kube::Service& svc = *si.service;
    if (svc.headless || svc.type == kube::ServiceType::ExternalName || svc.hasServiceProxyName() ||
        svc.meta.labels.contains(kube::kLabelHeadless))
      return;
    std::optional<IpAddress> clusterIP = svc.clusterIP(cfg_.family);
    if (!clusterIP) return;  // single-stack Service of the other family, or not allocated yet
    element(o, kClusterIpsSet, {Value::ip(*clusterIP)}, std::nullopt);

    std::vector<IpAddress> externalIPs, lbVIPs;
    for (const IpAddress& ip : svc.externalIPs)
      if (ip.family() == cfg_.family) externalIPs.push_back(ip);
    for (const auto& ing : svc.loadBalancerIngress)
      if (ing.isVip() && ing.ip->family() == cfg_.family) lbVIPs.push_back(*ing.ip);  // ipMode Proxy: the LB proxies
    std::vector<Cidr> sourceRanges;
    for (const Cidr& c : svc.loadBalancerSourceRanges)
      if (c.family() == cfg_.family) sourceRanges.push_back(c);
    const bool external = externallyAccessible(svc, cfg_.family);

    for (const kube::ServicePort& port : svc.ports)
      buildServicePort(o, si, svc, port, *clusterIP, externalIPs, lbVIPs, sourceRanges, external);
  }

  void buildServicePort(Out& o, const ServiceInput& si, const kube::Service& svc, const kube::ServicePort& port,
                        const IpAddress& clusterIP, const std::vector<IpAddress>& externalIPs,
                        const std::vector<IpAddress>& lbVIPs, const std::vector<Cidr>& sourceRanges, bool external) const {
    const L4Proto proto = port.protocol;
    const std::string base = strCat(svc.meta.ns.view(), "/", svc.meta.name, "/", l4ProtoName(proto), "/",
                                    port.name.empty() ? strCat("p", port.port) : std::string(port.name.view()));
    const std::optional<std::string> spn = comment(servicePortName(svc, port));
    const bool affinity = svc.sessionAffinity == kube::SessionAffinity::ClientIP;

    std::vector<EndpointInfo> all = collectEndpoints(si.slices, port, cfg_.family, node_.name);
    CategorizedEndpoints eps = categorizeEndpoints(all, svc, node_, external);

    const bool itpLocal = svc.internalTrafficPolicy == kube::TrafficPolicy::Local;
    const bool etpLocal = external && svc.externalTrafficPolicy == kube::TrafficPolicy::Local;
    const bool usesClusterChain = !eps.cluster.empty() && (!itpLocal || (external && !etpLocal));
    const bool usesLocalChain = !eps.local.empty() && (itpLocal || etpLocal);
    const bool hasInternal = eps.hasAny && (!itpLocal || !eps.local.empty());
    const bool hasExternal = eps.hasAny && (!etpLocal || !eps.local.empty());
    const bool usesExternalChain = eps.hasAny && external;
    const bool usesFirewall = !lbVIPs.empty() && !sourceRanges.empty();
    const std::string fwChain = usesFirewall ? hashedName(kFirewallPrefix, base) : std::string();
    // Endpoint maps: no chain of its own when nothing needs per-Service state (README.md).
    const std::vector<EndpointInfo>& internalList = itpLocal ? eps.local : eps.cluster;
    const bool mapped = cfg_.endpointMaps && !affinity && !etpLocal &&
                        (!hasInternal || (!internalList.empty() && internalList.size() <= kMaxMappedEndpoints)) &&
                        (!usesExternalChain || !hasExternal ||
                         (!eps.cluster.empty() && eps.cluster.size() <= kMaxMappedEndpoints));

    // No endpoints at all: reject (the client learns at once). Endpoints only elsewhere while the policy is
    // Local: drop, as kube-proxy, since rejecting would make a client-side LB health check look healthy.
    const Verdict noEndpointInternal = eps.hasAny ? Verdict::drop() : Verdict::goTo(str(kRejectChain));
    const Verdict noEndpointExternal = noEndpointInternal;

    if (o.ports) {
      ServicePortInfo info{.protocol = proto, .port = port.port, .nodePort = port.nodePort};
      info.serviceIPs.reserve(1 + externalIPs.size() + lbVIPs.size());
      info.serviceIPs.push_back(clusterIP);
      info.serviceIPs.insert(info.serviceIPs.end(), externalIPs.begin(), externalIPs.end());
      info.serviceIPs.insert(info.serviceIPs.end(), lbVIPs.begin(), lbVIPs.end());
      info.endpoints.reserve(eps.reachable.size());
      for (const EndpointInfo& e : eps.reachable) info.endpoints.push_back(e.ip);
      for (const EndpointInfo& e : all)
        if (e.local && e.ready) ++info.localReady;
      o.ports->push_back(std::move(info));
    }

    if (mapped) {
      buildMappedPort(o, proto, port, clusterIP, externalIPs, lbVIPs, sourceRanges, eps, internalList, hasInternal,
                      hasExternal, external, fwChain, noEndpointInternal, spn);
      return;
    }

    const std::string clusterChain = hashedName(kServicePrefix, base);
    const std::string localChain = hashedName(kLocalPrefix, base);
    const std::string internalChain = itpLocal ? localChain : clusterChain;
    const std::string externalPolicyChain = etpLocal ? localChain : clusterChain;
    const std::string externalChain = hashedName(kExternalPrefix, base);

    std::vector<std::string> epChains(eps.reachable.size()), affinitySets(eps.reachable.size());
    for (size_t i = 0; i < eps.reachable.size(); ++i) {
      const EndpointInfo& e = eps.reachable[i];
      // nft's grammar does not allow ':' in an unquoted chain name, so `nft list` output of a chain named after
      // an IPv6 address would not load back (`nft -f`); IPv6 colons become dots (never part of IPv6 text).
      std::string addr = e.ip.toString();
      if (e.ip.isV6()) std::replace(addr.begin(), addr.end(), ':', '.');
      std::string epBase = strCat(base, "__", addr, "/", e.port);
      epChains[i] = hashedName(kEndpointPrefix, epBase);
      if (affinity) affinitySets[i] = hashedName(kAffinityPrefix, epBase);
    }
    auto chainOf = [&](const EndpointInfo& e) -> size_t {
      return std::lower_bound(eps.reachable.begin(), eps.reachable.end(), e) - eps.reachable.begin();
    };

    if (usesClusterChain) chain(o, clusterChain);
    if (usesLocalChain) chain(o, localChain);
    if (usesExternalChain) chain(o, externalChain);
    if (usesFirewall) chain(o, fwChain);
    for (const std::string& c : epChains) chain(o, c);
    if (affinity)
      for (const std::string& s : affinitySets)
        o.parts.sets.push_back(nft::Set{.name = s, .key = {addrType_}, .flags = nft::kSetDynamic | nft::kSetTimeout,
                                     .timeoutSec = svc.affinityTimeoutSeconds});

    auto ipKey = [&](const IpAddress& ip) { return nft::Key{Value::ip(ip), Value::proto(proto), Value::port(port.port)}; };

    // ClusterIP.
    if (hasInternal)
      element(o, kServiceIpsMap, ipKey(clusterIP), Verdict::goTo(internalChain));
    else
      element(o, kNoEndpointServicesMap, ipKey(clusterIP), noEndpointInternal, spn);

    // externalIPs.
    for (const IpAddress& ip : externalIPs) {
      if (eps.hasAny) element(o, kServiceIpsMap, ipKey(ip), Verdict::goTo(externalChain));
      if (!hasExternal) element(o, kNoEndpointServicesMap, ipKey(ip), noEndpointExternal, spn);
    }

    if (usesFirewall) firewallRules(o, fwChain, sourceRanges, lbVIPs);

    // LoadBalancer VIPs (ipMode VIP only).
    for (const IpAddress& ip : lbVIPs) {
      if (eps.hasAny) element(o, kServiceIpsMap, ipKey(ip), Verdict::goTo(externalChain));
      if (usesFirewall) element(o, kFirewallIpsMap, ipKey(ip), Verdict::goTo(fwChain), spn);
      if (!hasExternal) element(o, kNoEndpointServicesMap, ipKey(ip), noEndpointExternal, spn);
    }

    // NodePort (not subject to loadBalancerSourceRanges, as in kube-proxy).
    if (port.nodePort != 0) {
      nft::Key key{Value::proto(proto), Value::port(port.nodePort)};
      if (eps.hasAny) element(o, kServiceNodePortsMap, key, Verdict::goTo(externalChain));
      if (!hasExternal) element(o, kNoEndpointNodePortsMap, key, noEndpointExternal, spn);
    }

    // Internal traffic from outside the pod network is masqueraded: the reply must come back through us.
    if (hasInternal) {
      std::vector<Statement> s{nft::match(daddr_, Value::ip(clusterIP))};
      portMatch(s, proto, port.port);
      if (cfg_.masqueradeAll) {
        s.push_back(Verdict::jump(str(kMarkMasqChain)));
        rule(o, internalChain, std::move(s));
      } else if (clusterCIDRs_.size() == 1) {
        s.push_back(nft::notMatch(saddr_, Value::prefix(clusterCIDRs_.front())));
        s.push_back(Verdict::jump(str(kMarkMasqChain)));
        rule(o, internalChain, std::move(s));
      } else if (clusterCIDRs_.size() > 1) {
        s.push_back(Verdict::jump(str(kMarkMasqOffClusterChain)));
        rule(o, internalChain, std::move(s));
      }
    }

    if (usesExternalChain) {
      if (!etpLocal) {
        // Cluster policy may forward to another node: masquerade so the reply returns through this one.
        rule(o, externalChain, {Verdict::jump(str(kMarkMasqChain))});
      } else if (usesClusterChain) {
        // Pods reaching an external address of the Service behave as if they went out to the LB and back:
        // neither policy applies, any endpoint will do.
        for (const Cidr& c : clusterCIDRs_)
          rule(o, externalChain, {nft::match(saddr_, Value::prefix(c)), Verdict::goTo(clusterChain)},
               "short-circuit pod traffic");
        // Traffic from the node itself to an external address: masquerade it so replies return here, and let it
        // use any endpoint (kube-proxy's "masquerade local traffic" / "short-circuit local traffic").
        const Value local = Value::fibType(nft::FibAddrType::Local);
        rule(o, externalChain, {nft::match(Field::FibSaddrType, local), Verdict::jump(str(kMarkMasqChain))},
             "masquerade local traffic");
        rule(o, externalChain, {nft::match(Field::FibSaddrType, local), Verdict::goTo(clusterChain)},
             "short-circuit local traffic");
      }
      if (hasExternal) rule(o, externalChain, {Verdict::goTo(externalPolicyChain)});
    }

    auto writeDispatch = [&](const std::string& chainName, const std::vector<EndpointInfo>& list) {
      if (affinity)
        for (const EndpointInfo& e : list) {
          size_t i = chainOf(e);
          rule(o, chainName, {nft::lookup({saddr_}, affinitySets[i]), Verdict::goTo(epChains[i])});
        }
      if (list.size() <= kMaxCascadedEndpoints) {
        // Uniform choice without an anonymous map (see kMaxCascadedEndpoints): endpoint i of N is taken with
        // probability 1/(N-i) when the ones before it were not, i.e. 1/N each; the last needs no draw.
        for (size_t i = 0; i + 1 < list.size(); ++i)
          rule(o, chainName,
               {nft::NumgenMatch{static_cast<uint32_t>(list.size() - i), 0}, Verdict::goTo(epChains[chainOf(list[i])])});
        rule(o, chainName, {Verdict::goTo(epChains[chainOf(list.back())])});
        return;
      }
      nft::NumgenVmap ng;
      ng.targets.reserve(list.size());
      for (const EndpointInfo& e : list) ng.targets.push_back(Verdict::goTo(epChains[chainOf(e)]));
      rule(o, chainName, {std::move(ng)});
    };
    if (usesClusterChain) writeDispatch(clusterChain, eps.cluster);
    if (usesLocalChain) writeDispatch(localChain, eps.local);

    for (size_t i = 0; i < eps.reachable.size(); ++i) {
      const EndpointInfo& e = eps.reachable[i];
      // Hairpin: a pod reaching itself through the Service must see the node as source, or it would answer
      // itself directly and the client would drop the reply.
      rule(o, epChains[i], {nft::match(saddr_, Value::ip(e.ip)), Verdict::jump(str(kMarkMasqChain))});
      if (affinity) rule(o, epChains[i], {nft::SetUpdate{.key = {saddr_}, .set = affinitySets[i]}});
      rule(o, epChains[i], {nft::match(Field::MetaL4proto, Value::proto(proto)),
                         nft::Nat{.kind = nft::NatKind::Dnat, .addr = e.ip, .port = e.port}});
    }
  }

  const NodeInput& node_;
  const Config& cfg_;
  const bool v6_;
  Field saddr_, daddr_;
  nft::DataType addrType_;
  std::vector<Cidr> clusterCIDRs_;
  std::vector<IpAddress> nodeIPs_;
};

RulesBuilder::RulesBuilder(NodeInput node, Config config)
    : node_(std::move(node)), config_(std::move(config)), impl_(std::make_unique<Impl>(node_, config_)) {}
RulesBuilder::~RulesBuilder() = default;

RuleParts RulesBuilder::shared() const {
  RuleParts out;
  impl_->shared(out);
  return out;
}

ServiceRules RulesBuilder::service(const ServiceInput& service) const {
  ServiceRules out;
  impl_->service(service, out);
  return out;
}

void RulesBuilder::appendService(const ServiceInput& service, ServiceRules& out) const { impl_->service(service, out); }

bool lessByServiceKey(const kube::Service& a, const kube::Service& b) {
  if (a.meta.ns != b.meta.ns) return a.meta.ns < b.meta.ns;
  return a.meta.name < b.meta.name;
}

Ruleset buildRuleset(const Input& input, const Config& config) {
  Ruleset out;
  out.family = config.family == IpFamily::V6 ? nft::Family::Ip6 : nft::Family::Ip;
  out.table = str(kTableName);
  size_t n = input.services.size();
  out.chains.reserve(32 + n * 4);
  out.elements.reserve(16 + n * 2);
  out.rules.reserve(32 + n * 6);
  RulesBuilder builder(input.node, config);
  builder.impl().shared(out);
  std::vector<const ServiceInput*> order;
  order.reserve(n);
  for (const ServiceInput& s : input.services)
    if (s.service != nullptr) order.push_back(&s);
  std::sort(order.begin(), order.end(),
            [](const ServiceInput* a, const ServiceInput* b) { return lessByServiceKey(*a->service, *b->service); });
  // Services are built straight into the one Ruleset (same order as one buildServiceRules() per Service).
  ServiceRules scratch;
  for (const ServiceInput* s : order) {
    builder.impl().service(*s, scratch);
    auto move = [](auto& from, auto& to) {
      for (auto& x : from) to.push_back(std::move(x));
      from.clear();
    };
    move(scratch.chains, out.chains);
    move(scratch.sets, out.sets);
    move(scratch.elements, out.elements);
    move(scratch.rules, out.rules);
    scratch.ports.clear();
  }
  return out;
}

nft::Transaction toTransaction(const Ruleset& rs) {
  nft::Transaction tx(rs.family, rs.table);
  tx.reserve(3 + rs.chains.size() + rs.sets.size() * 2 + rs.elements.size() + rs.rules.size());
  tx.add(nft::Table{rs.family, rs.table, str(kTableComment)});
  tx.flush(nft::Table{rs.family, rs.table});
  for (const nft::Chain& c : rs.chains) tx.add(c);
  for (const nft::Set& s : rs.sets) tx.add(s);
  // Dispatch sets and maps are rebuilt whole; affinity sets are dynamic and keep the clients' entries.
  for (const nft::Set& s : rs.sets)
    if (!(s.flags & nft::kSetDynamic)) tx.flush(nft::Set{.name = s.name});
  for (const nft::Element& e : rs.elements) tx.add(e);
  for (const nft::Rule& r : rs.rules) tx.add(r);
  return tx;
}

}  // namespace nodenet::proxy::rules
