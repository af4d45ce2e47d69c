// buildIndex(): snapshot -> immutable Index. Pure; one pass over services, one over slices, one sort for PTR.
#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <tuple>

#include "base/strings.h"
#include "dns/records/names.h"
#include "dns/records/records.h"

namespace nodenet::dns::records {
namespace {

using detail::ipLabel;
using detail::lowerInto;

void skip(BuildStats& stats, std::string why) {
  ++stats.skipped;
  if (stats.skipMessages.size() < BuildStats::kMaxSkipMessages) stats.skipMessages.push_back(std::move(why));
}

Index::Port sentinelPort() { return Index::Port{}; }

// Service ports (ClusterIP answers). A Service without ports still has address records: CoreDNS adds a
// sentinel port -1 (plugin/kubernetes/object/service.go) that matches the bare name but never yields SRV.
std::vector<Index::Port> servicePorts(const kube::Service& svc) {
  std::vector<Index::Port> out;
  out.reserve(std::max<size_t>(1, svc.ports.size()));
  for (const auto& p : svc.ports) {
    Index::Port port;
    lowerInto(p.name.view(), port.name);
    port.proto = l4ProtoName(p.protocol);
    port.port = p.port;
    out.push_back(std::move(port));
  }
  if (out.empty()) out.push_back(sentinelPort());
  return out;
}

// Slice ports. A nil port means "all ports" in the API and cannot be put in an SRV record: like CoreDNS's
// endpoint.go it becomes port -1, which still matches by name (the name exists) but yields no SRV. A slice
// without ports gets the sentinel.
std::vector<Index::Port> slicePorts(const kube::EndpointSlice& slice) {
  std::vector<Index::Port> out;
  for (const auto& p : slice.ports) {
    Index::Port port;
    lowerInto(p.name.view(), port.name);
    port.proto = l4ProtoName(p.protocol);
    port.port = p.port ? int32_t{*p.port} : -1;
    out.push_back(std::move(port));
  }
  if (out.empty()) out.push_back(sentinelPort());
  return out;
}

uint32_t internPortGroup(Index::Service& s, std::vector<Index::Port> ports) {
  for (size_t i = 0; i < s.portGroups.size(); ++i)
    if (s.portGroups[i] == ports) return static_cast<uint32_t>(i);
  s.portGroups.push_back(std::move(ports));
  return static_cast<uint32_t>(s.portGroups.size() - 1);
}

// A DNS-1123 label as the API validates endpoint hostnames; anything else cannot become a name.
bool validHostnameLabel(std::string_view h) {
  if (h.empty() || h.size() > Name::kMaxLabelSize) return false;
  for (char c : h)
    if (c == '.' || c == '\\' || static_cast<unsigned char>(c) <= ' ') return false;
  return true;
}

}  // namespace

Snapshot Snapshot::of(const std::vector<kube::Service>& services, const std::vector<kube::EndpointSlice>& slices,
                      uint32_t serial) {
  Snapshot s;
  s.services.reserve(services.size());
  for (const auto& svc : services) s.services.push_back(&svc);
  s.slices.reserve(slices.size());
  for (const auto& sl : slices) s.slices.push_back(&sl);
  s.serial = serial;
  return s;
}

Result<IndexPtr> buildIndex(const Snapshot& snapshot, const Config& config) {
  auto zone = Name::fromText(config.zone);
  if (!zone.ok()) return zone.error().context(strCat("dns zone \"", config.zone, "\""));
  if (zone->isRoot()) return Error("dns zone must not be the root");

  auto index = std::make_shared<Index>();
  Index& ix = *index;
  ix.zone_ = zone->canonical();
  ix.zoneLabels_ = ix.zone_.labelCount();
  ix.ttl_ = config.ttl;
  ix.serial_ = snapshot.serial;
  ix.nameservers_ = config.nameservers;
  BuildStats& stats = ix.stats_;

  const auto svcZone = detail::prependLabel("svc", ix.zone_);
  if (!svcZone) return Error(strCat("dns zone \"", config.zone, "\" is too long"));

  // SOA as CoreDNS writes it (plugin/backend_lookup.go SOA()): "ns.dns.<zone> hostmaster.<zone> serial 7200
  // 1800 86400 ttl", the record's own TTL capped at 300.
  auto dnsZone = detail::prependLabel("dns", ix.zone_);
  std::optional<Name> nsName, hostmaster;
  if (dnsZone) nsName = detail::prependLabel("ns", *dnsZone);
  hostmaster = detail::prependLabel("hostmaster", ix.zone_);
  if (!nsName || !hostmaster) return Error(strCat("dns zone \"", config.zone, "\" is too long"));
  ix.nsName_ = *nsName;
  ix.soa_.owner = ix.zone_;
  ix.soa_.type = RRType::SOA;
  ix.soa_.ttl = std::min(config.ttl, kSoaMaxTtl);
  ix.soa_.rdata = RdataSoa{*nsName, *hostmaster, snapshot.serial, kSoaRefresh, kSoaRetry, kSoaExpire, config.ttl};

  for (const auto& ns : snapshot.namespaces) ix.namespaces_.insert(toLower(ns));

  // Sorted by namespace/name so the index (and the PTR chosen when two Services claim one IP) does not depend
  // on the cache's iteration order.
  std::vector<const kube::Service*> services(snapshot.services.begin(), snapshot.services.end());
  std::sort(services.begin(), services.end(), [](const kube::Service* a, const kube::Service* b) {
    return std::tie(a->meta.ns, a->meta.name) < std::tie(b->meta.ns, b->meta.name);
  });

  ix.services_.reserve(services.size());
  ix.names_.reserve(services.size() * 40);  // typical <svc>.<ns>.svc.cluster.local wire size
  {
    size_t slots = 16;
    unsigned bits = 4;
    while (slots < services.size() * 2) slots <<= 1, ++bits;
    ix.byName_.assign(slots, {});
    ix.byNameShift_ = 64 - bits;
  }
  // (namespace, name) -> service index, for attaching slices by their kubernetes.io/service-name label.
  std::unordered_map<std::string, uint32_t> byKey;
  byKey.reserve(services.size());
  std::string key;
  for (const kube::Service* svc : services) {
    std::string nsLower = toLower(svc->meta.ns.view());
    ix.namespaces_.insert(nsLower);
    auto nsName = detail::prependLabel(nsLower, *svcZone);
    std::optional<Name> name;
    if (nsName) name = detail::prependLabel(toLower(svc->meta.name), *nsName);
    if (!name) {
      skip(stats, strCat("Service ", svc->meta.key(), ": name does not fit in a DNS name under ", config.zone));
      continue;
    }
    Index::Service s;
    s.nameOffset = ix.storeName(*name);
    s.nameSize = static_cast<uint8_t>(name->wireSize());
    const auto nameHash = static_cast<uint32_t>(name->hash());
    if (svc->type == kube::ServiceType::ExternalName) {
      s.kind = Index::Kind::ExternalName;
      auto target = Name::fromText(svc->externalName);
      // CoreDNS serves an ExternalName only when it is a host name (HostType CNAME), never an IP literal.
      if (svc->externalName.empty() || !target.ok() || target->isRoot() || IpAddress::parse(svc->externalName).ok()) {
        skip(stats,
             strCat("Service ", svc->meta.key(), ": externalName \"", svc->externalName, "\" is not a host name"));
        continue;
      }
      Name ext = target->canonical();
      s.externalOffset = ix.storeName(ext);
      s.externalSize = static_cast<uint8_t>(ext.wireSize());
    } else {
      s.kind = svc->headless ? Index::Kind::Headless : Index::Kind::ClusterIP;
      if (!svc->headless) s.clusterIPs = svc->clusterIPs;
      s.ports = servicePorts(*svc);
    }
    const auto idx = static_cast<uint32_t>(ix.services_.size());
    if (ix.findService(*name) != nullptr) {
      skip(stats, strCat("Service ", svc->meta.key(), ": duplicate"));
      continue;
    }
    ix.insertName(nameHash, idx);
    key = strCat(svc->meta.ns.view(), "/", svc->meta.name);
    byKey.emplace(key, idx);
    ix.services_.push_back(std::move(s));
  }
  stats.services = ix.services_.size();

  // Which services are asked to publish not-ready endpoints (spec §2.4.1: "ready endpoints"; the controller
  // marks every endpoint ready for such Services, and we accept hand-written slices that did not).
  std::vector<bool> publishNotReady(ix.services_.size(), false);
  for (const kube::Service* svc : services) {
    auto it = byKey.find(strCat(svc->meta.ns.view(), "/", svc->meta.name));
    if (it != byKey.end() && svc->publishNotReadyAddresses) publishNotReady[it->second] = true;
  }

  for (const kube::EndpointSlice* slice : snapshot.slices) {
    ix.namespaces_.insert(toLower(slice->meta.ns.view()));
    if (slice->addressType == kube::AddressType::FQDN) continue;  // CoreDNS ignores FQDN slices too
    const auto owner = slice->serviceName();
    if (owner.empty()) continue;
    key.assign(slice->meta.ns.view());
    key += '/';
    key += owner;
    auto it = byKey.find(key);
    if (it == byKey.end()) continue;  // no Service (yet): nothing to name these endpoints after
    Index::Service& s = ix.services_[it->second];
    if (s.kind == Index::Kind::ExternalName) continue;
    const bool all = publishNotReady[it->second];
    uint32_t group = UINT32_MAX;
    for (const auto& ep : slice->endpoints) {
      if (!all && !ep.conditions.isReady()) continue;
      if (!ep.hostname.empty() && !validHostnameLabel(ep.hostname)) {
        skip(stats, strCat("EndpointSlice ", slice->meta.key(), ": hostname \"", ep.hostname, "\" is not a DNS label"));
        continue;
      }
      if (group == UINT32_MAX) group = internPortGroup(s, slicePorts(*slice));
      for (const auto& addr : ep.addresses) {
        Index::Endpoint e;
        e.ip = addr;
        if (!ep.hostname.empty()) {
          lowerInto(ep.hostname, e.label);
        } else {
          e.label = ipLabel(addr);
          if (e.label.empty()) continue;
        }
        // The target name must fit too (checked once here so resolve() never fails to build it).
        if (e.label.size() + 1 + s.nameSize > Name::kMaxWireSize) {
          skip(stats, strCat("EndpointSlice ", slice->meta.key(), ": endpoint name too long"));
          continue;
        }
        e.portGroup = group;
        s.endpoints.push_back(std::move(e));
      }
    }
  }

  // Per service: dedupe endpoints across slices, sort by label, collect distinct addresses; gather PTR refs.
  std::vector<std::pair<IpAddress, Index::PtrRef>> ptr;
  for (uint32_t si = 0; si < ix.services_.size(); ++si) {
    Index::Service& s = ix.services_[si];
    for (const auto& ip : s.clusterIPs) ptr.push_back({ip, Index::PtrRef{si, -1}});
    auto& eps = s.endpoints;
    std::sort(eps.begin(), eps.end(), [](const Index::Endpoint& a, const Index::Endpoint& b) {
      return std::tie(a.label, a.ip, a.portGroup) < std::tie(b.label, b.ip, b.portGroup);
    });
    eps.erase(std::unique(eps.begin(), eps.end(),
                          [](const Index::Endpoint& a, const Index::Endpoint& b) {
                            return a.label == b.label && a.ip == b.ip && a.portGroup == b.portGroup;
                          }),
              eps.end());
    stats.endpoints += eps.size();
    s.endpointAddrs.reserve(eps.size());
    for (size_t ei = 0; ei < eps.size(); ++ei) {
      s.endpointAddrs.push_back(eps[ei].ip);
      // One PTR per (address, label): the same endpoint listed with two port groups is one name.
      if (ei == 0 || eps[ei - 1].label != eps[ei].label || eps[ei - 1].ip != eps[ei].ip)
        ptr.push_back({eps[ei].ip, Index::PtrRef{si, static_cast<int32_t>(ei)}});
    }
    std::sort(s.endpointAddrs.begin(), s.endpointAddrs.end());
    s.endpointAddrs.erase(std::unique(s.endpointAddrs.begin(), s.endpointAddrs.end()), s.endpointAddrs.end());
    // The index is immutable from here on: give back what push_back's doubling over-allocated (about a third
    // of the per-service vectors' memory; the server's RSS budget counts it).
    eps.shrink_to_fit();
    s.endpointAddrs.shrink_to_fit();
    s.ports.shrink_to_fit();
    s.portGroups.shrink_to_fit();
    for (auto& g : s.portGroups) g.shrink_to_fit();
  }

  ix.names_.shrink_to_fit();

  // PTR (CoreDNS reverse.go): a ClusterIP answers with its one service name; otherwise every endpoint carrying
  // the address answers with its endpoint name.
  std::stable_sort(ptr.begin(), ptr.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ix.ptr_.reserve(ptr.size());
  for (size_t i = 0; i < ptr.size();) {
    size_t j = i;
    while (j < ptr.size() && ptr[j].first == ptr[i].first) ++j;
    auto vip = std::find_if(ptr.begin() + i, ptr.begin() + j, [](const auto& p) { return p.second.endpoint < 0; });
    if (vip != ptr.begin() + j) {
      ix.ptr_.push_back(*vip);
    } else {
      ix.ptr_.insert(ix.ptr_.end(), ptr.begin() + i, ptr.begin() + j);
    }
    i = j;
  }
  return IndexPtr(std::move(index));
}

namespace {
// Fibonacci hashing: the top bits of hash * 2^64/phi spread FNV's weak low bits over the whole table.
inline size_t slotOf(uint32_t hash, unsigned shift) {
  return static_cast<size_t>((uint64_t{hash} * 0x9E3779B97F4A7C15ull) >> shift);
}
}  // namespace

const Index::Service* Index::findService(const Name& name) const {
  if (byName_.empty()) return nullptr;
  const auto h = static_cast<uint32_t>(name.hash());
  const size_t mask = byName_.size() - 1;
  for (size_t i = slotOf(h, byNameShift_);; i = (i + 1) & mask) {
    const NameSlot& slot = byName_[i];
    if (slot.index == 0) return nullptr;
    if (slot.hash == h) {
      const Service& s = services_[slot.index - 1];
      if (nameEquals(s, name)) return &s;
    }
  }
}

void Index::insertName(uint32_t hash, uint32_t serviceIndex) {
  const size_t mask = byName_.size() - 1;  // never full: at least twice as many slots as services
  size_t i = slotOf(hash, byNameShift_);
  while (byName_[i].index != 0) i = (i + 1) & mask;
  byName_[i] = {hash, serviceIndex + 1};
}

bool Index::nameEquals(const Service& s, const Name& n) const {
  auto w = n.wire();
  if (w.size() != s.nameSize) return false;
  const auto* stored = reinterpret_cast<const uint8_t*>(names_.data()) + s.nameOffset;
  // Fast path: most queries are already lowercase.
  if (std::memcmp(w.data(), stored, w.size()) == 0) return true;
  // The stored form is lowercase. Length octets (1..63) are never ASCII letters, so lowercasing every octet of
  // the query's wire form is exact.
  for (size_t i = 0; i < w.size(); ++i) {
    uint8_t c = w[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + ('a' - 'A'));
    if (c != stored[i]) return false;
  }
  return true;
}

uint32_t Index::storeName(const Name& n) {
  const auto offset = static_cast<uint32_t>(names_.size());
  names_.append(reinterpret_cast<const char*>(n.wire().data()), n.wireSize());
  return offset;
}

Name Index::nameAt(uint32_t offset, uint8_t size) const {
  // Stored only from valid Names by buildIndex(), so this cannot fail.
  return Name::fromWire({reinterpret_cast<const uint8_t*>(names_.data()) + offset, size}).value();
}

bool Index::namespaceExists(std::string_view lowercaseNs) const {
  return namespaces_.contains(lowercaseNs);
}

std::span<const Index::PtrEntry> Index::findPtr(const IpAddress& ip) const {
  auto lo =
      std::lower_bound(ptr_.begin(), ptr_.end(), ip, [](const PtrEntry& p, const IpAddress& a) { return p.first < a; });
  auto hi = lo;
  while (hi != ptr_.end() && hi->first == ip) ++hi;
  return {lo, hi};
}

}  // namespace nodenet::dns::records
