#include "proxy/rules/endpoints.h"

#include <algorithm>

#include "base/strings.h"
#include "proxy/rules/ruleset.h"

namespace nodenet::proxy::rules {

std::vector<EndpointInfo> collectEndpoints(const std::vector<const kube::EndpointSlice*>& slices,
                                           const kube::ServicePort& port, IpFamily family,
                                           const std::string& nodeName) {
  const kube::AddressType want = family == IpFamily::V4 ? kube::AddressType::IPv4 : kube::AddressType::IPv6;
  std::vector<EndpointInfo> out;
  for (const kube::EndpointSlice* slice : slices) {
    if (slice == nullptr || slice->addressType != want) continue;
    // The slice port for this service port: same name ("" for an unnamed port) and protocol.
    std::optional<uint16_t> number;
    for (const kube::EndpointPort& p : slice->ports)
      if (p.name == port.name.view() && p.protocol == port.protocol) number = p.port;
    if (!number || *number == 0) continue;  // nil port = "all ports": kube-proxy skips it too
    for (const kube::Endpoint& ep : slice->endpoints) {
      if (ep.addresses.empty()) continue;
      EndpointInfo info;
      info.ip = ep.addresses.front();  // the API allows several; consumers use the first
      info.port = *number;
      info.ready = ep.conditions.isReady();
      info.serving = ep.conditions.isServing();
      info.terminating = ep.conditions.isTerminating();
      info.local = !nodeName.empty() && ep.nodeName == std::string_view(nodeName);
      for (const auto& z : ep.hintsForZones) info.zoneHints.emplace_back(z.view());
      for (const auto& n : ep.hintsForNodes) info.nodeHints.emplace_back(n.view());
      out.push_back(std::move(info));
    }
  }
  std::sort(out.begin(), out.end());
  // A duplicate keeps its first occurrence; prefer a ready copy when the two disagree.
  std::vector<EndpointInfo> unique;
  unique.reserve(out.size());
  for (EndpointInfo& e : out) {
    if (!unique.empty() && unique.back().ip == e.ip && unique.back().port == e.port) {
      if (e.ready && !unique.back().ready) unique.back() = std::move(e);
      continue;
    }
    unique.push_back(std::move(e));
  }
  return unique;
}

bool externallyAccessible(const kube::Service& svc, IpFamily family) {
  for (const auto& p : svc.ports)
    if (p.nodePort != 0) return true;
  for (const IpAddress& ip : svc.externalIPs)
    if (ip.family() == family) return true;
  for (const auto& ing : svc.loadBalancerIngress)
    if (ing.isVip() && ing.ip->family() == family) return true;
  return false;
}

namespace {

/// Whether the Service asks for topology-aware routing: the topology-mode annotation (any value but
/// "Disabled"), its deprecated spelling ("Auto"), or a trafficDistribution we understand.
bool wantsTopology(const kube::Service& svc) {
  if (auto mode = svc.meta.annotations.get(kube::kAnnotationTopologyMode))
    return !mode->empty() && toLower(*mode) != "disabled";
  if (auto hints = svc.meta.annotations.get(kube::kAnnotationTopologyAwareHints))
    return toLower(*hints) == "auto";
  return svc.trafficDistribution == kube::TrafficDistribution::PreferClose ||
         svc.trafficDistribution == kube::TrafficDistribution::PreferSameZone ||
         svc.trafficDistribution == kube::TrafficDistribution::PreferSameNode;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

enum class Topology { None, Zone, Node };

/// kube-proxy's topologyModeFromHints: hints are used only when every ready endpoint has them (else the
/// EndpointSlice controller is mid-update or disagrees) and at least one names us; otherwise falling back to
/// all endpoints is safer than sending everything to a few.
Topology topologyFor(const std::vector<EndpointInfo>& eps, const kube::Service& svc, const NodeInput& node) {
  if (!wantsTopology(svc)) return Topology::None;
  if (svc.trafficDistribution == kube::TrafficDistribution::PreferSameNode && !node.name.empty()) {
    bool all = true, mine = false;
    for (const auto& e : eps) {
      if (!e.ready) continue;
      all = all && !e.nodeHints.empty();
      mine = mine || contains(e.nodeHints, node.name);
    }
    if (all && mine) return Topology::Node;
  }
  if (node.zone.empty()) return Topology::None;
  bool all = true, mine = false;
  for (const auto& e : eps) {
    if (!e.ready) continue;
    all = all && !e.zoneHints.empty();
    mine = mine || contains(e.zoneHints, node.zone);
  }
  return all && mine ? Topology::Zone : Topology::None;
}

template <typename Pred>
std::vector<EndpointInfo> filter(const std::vector<EndpointInfo>& eps, Pred pred) {
  std::vector<EndpointInfo> out;
  for (const auto& e : eps)
    if (pred(e)) out.push_back(e);
  return out;
}

}  // namespace

CategorizedEndpoints categorizeEndpoints(const std::vector<EndpointInfo>& eps, const kube::Service& svc,
                                         const NodeInput& node, bool external) {
  const bool itpLocal = svc.internalTrafficPolicy == kube::TrafficPolicy::Local;
  const bool etpLocal = external && svc.externalTrafficPolicy == kube::TrafficPolicy::Local;
  const bool usesCluster = !itpLocal || (external && !etpLocal);
  const bool usesLocal = itpLocal || etpLocal;

  CategorizedEndpoints out;
  if (usesCluster) {
    Topology topo = topologyFor(eps, svc, node);
    out.cluster = filter(eps, [&](const EndpointInfo& e) {
      if (!e.ready) return false;
      if (topo == Topology::Zone) return contains(e.zoneHints, node.zone);
      if (topo == Topology::Node) return contains(e.nodeHints, node.name);
      return true;
    });
    // No ready endpoint: use the ones still serving while terminating, so connections drain instead of failing
    // (KEP-1669 ProxyTerminatingEndpoints).
    if (out.cluster.empty())
      out.cluster = filter(eps, [](const EndpointInfo& e) { return e.serving && e.terminating; });
    out.hasAny = !out.cluster.empty();
  }
  if (!usesLocal) {
    out.reachable = out.cluster;
    return out;
  }
  out.local = filter(eps, [](const EndpointInfo& e) { return e.ready && e.local; });
  if (out.local.empty())
    out.local = filter(eps, [](const EndpointInfo& e) { return e.serving && e.terminating && e.local; });
  if (!out.hasAny)
    out.hasAny = std::any_of(eps.begin(), eps.end(),
                             [](const EndpointInfo& e) { return e.ready || (e.serving && e.terminating); });
  out.reachable = out.cluster;
  for (const auto& e : out.local)
    if (!std::binary_search(out.cluster.begin(), out.cluster.end(), e)) out.reachable.push_back(e);
  std::sort(out.reachable.begin(), out.reachable.end());
  return out;
}

}  // namespace nodenet::proxy::rules
