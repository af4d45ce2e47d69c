// Cluster DNS records: a pure function from a snapshot of Services and EndpointSlices to an immutable Index,
// and a pure resolver from (Index, Query) to a composed response.
//
// Follows the Kubernetes DNS-Based Service Discovery specification (schema 1.1.0) and mirrors CoreDNS's
// kubernetes plugin (`pods insecure`, `fallthrough in-addr.arpa ip6.arpa`) where the spec is silent; see
// dns/records/README.md for the list of behaviours and the places where we knowingly differ.
//
// No sockets, files or netlink (STYLE.md habits 1 and 12): the server owns I/O, this library owns meaning.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "dns/wire/name.h"
#include "dns/wire/query.h"
#include "dns/wire/response.h"
#include "dns/wire/types.h"
#include "kube/objects/endpoint_slice.h"
#include "kube/objects/service.h"

namespace nodenet::dns::records {

/// The default cluster domain (kubelet's --cluster-domain default).
inline constexpr std::string_view kDefaultZone = "cluster.local";
/// The default record TTL in seconds (the ConfigMap default of nodenet-dns; CoreDNS uses 30 without `ttl`).
inline constexpr uint32_t kDefaultTtl = 5;
/// The schema version answered at dns-version.<zone> (spec §2.2).
inline constexpr std::string_view kSchemaVersion = "1.1.0";
/// TTL of the dns-version TXT record: the spec's example and CoreDNS use 28800.
inline constexpr uint32_t kSchemaVersionTtl = 28800;
/// SOA timers, as CoreDNS writes them (plugin/backend_lookup.go): refresh 2 h, retry 30 min, expire 1 day.
inline constexpr uint32_t kSoaRefresh = 7200;
inline constexpr uint32_t kSoaRetry = 1800;
inline constexpr uint32_t kSoaExpire = 86400;
/// Upper bound of the SOA record's own TTL (CoreDNS: min(ttl, 300)).
inline constexpr uint32_t kSoaMaxTtl = 300;
/// Longest CNAME chain followed inside the zone (CoreDNS stops after 8 hops too).
inline constexpr int kMaxCnameChain = 8;

/// What buildIndex() needs besides the objects.
struct Config {
  /// The cluster domain, without or with the trailing dot ("cluster.local").
  std::string zone = std::string(kDefaultZone);
  /// TTL of every answer (and the SOA minimum, i.e. the negative-caching TTL).
  uint32_t ttl = kDefaultTtl;
  /// Addresses of this DNS server (the kube-dns Service IPs). When set, `ns.dns.<zone>` answers them and the
  /// apex NS answer carries them as glue; when empty, `ns.dns.<zone>` is NXDOMAIN and NS has no glue.
  std::vector<IpAddress> nameservers;
};

/// The input of buildIndex(): borrowed views of the cache's objects, valid for the duration of the call only
/// (the Index copies what it keeps).
struct Snapshot {
  /// Non-null; any order (the index sorts them).
  std::vector<const kube::Service*> services;
  std::vector<const kube::EndpointSlice*> slices;
  /// Names of existing Namespaces, if the caller watches them. A namespace also counts as existing when it holds
  /// a Service or an EndpointSlice (CoreDNS asks the Namespace informer; nodenet does not watch Namespaces).
  std::vector<std::string> namespaces;
  /// The SOA serial. CoreDNS uses the Unix time of the last change it saw; pass the same, so secondaries and
  /// humans see it move when the data does.
  uint32_t serial = 0;

  /// A snapshot viewing every element of the two vectors (which must outlive the buildIndex() call).
  static Snapshot of(const std::vector<kube::Service>& services, const std::vector<kube::EndpointSlice>& slices,
                     uint32_t serial = 0);
};

/// What buildIndex() left out, for logs and metrics. The index is still usable: one bad object never hides
/// another (kube/README.md's rule, applied to DNS).
struct BuildStats {
  size_t services = 0;
  size_t endpoints = 0;  // distinct endpoint records kept across all services
  size_t skipped = 0;
  /// The first few reasons ("Service ns/x: name does not fit in a DNS name"), at most kMaxSkipMessages.
  std::vector<std::string> skipMessages;
  static constexpr size_t kMaxSkipMessages = 16;
};

class Index;
/// How the server holds the current index: swap it with std::atomic_store (or std::atomic<std::shared_ptr>)
/// after each rebuild; a reader loads it once per query and never blocks the writer.
using IndexPtr = std::shared_ptr<const Index>;

/// Builds the index for one snapshot. Pure and deterministic (the same snapshot gives the same answers, in the
/// same order). Fails only when the configuration is unusable (zone not a valid domain name); objects that
/// cannot be served (a name too long for DNS, an FQDN slice, a slice of an unknown Service) are skipped and
/// counted in Index::stats().
Result<IndexPtr> buildIndex(const Snapshot& snapshot, const Config& config);

/// Whether resolve() composed an answer.
enum class Outcome : uint8_t {
  /// The response is in the composer (begin() and the records were written; call finish()).
  Answered,
  /// The name is outside the zone, or a reverse name we hold no PTR for: the composer is untouched and the
  /// server should forward the query upstream (CoreDNS's `fallthrough in-addr.arpa ip6.arpa`).
  NotInZone,
};

/// Answers `q` from `index` into `composer` (begin(), AA, answer/authority/additional records, rcode), leaving
/// finish() to the caller. `q.verdict` must be Answer (the server answers other verdicts with composeError()).
/// Negative answers carry the zone's SOA in the authority section: NXDOMAIN for names that do not exist,
/// NOERROR with no answer (NODATA) for names that exist without the asked type. Thread-safe: the index is
/// immutable and resolve() keeps no state.
Outcome resolve(const Index& index, const Query& q, ResponseComposer& composer);

/// The immutable record index. Built only by buildIndex(); read concurrently by any number of resolve() calls.
///
/// Invariants: every name stored is canonical (lowercase) and valid; endpoints of a service are deduplicated
/// by (label, address, ports) across all of its slices and sorted by label; addresses answered for a service
/// name are deduplicated and sorted.
class Index {
 public:
  /// A port as DNS sees it. A Service or slice without ports gets one sentinel (port -1, no name) so its
  /// address records still exist, as CoreDNS does; sentinels never produce SRV records.
  struct Port {
    std::string name;   // lowercase; "" for unnamed ports
    std::string_view proto;  // "tcp", "udp", "sctp" (static strings of l4ProtoName()); "" for the sentinel
    int32_t port = -1;
    bool operator==(const Port&) const = default;
  };
  struct Endpoint {
    IpAddress ip;
    /// The DNS label: the endpoint's hostname, or the address with '.'/':' replaced by '-' (CoreDNS).
    std::string label;
    uint32_t portGroup = 0;  // index into Service::portGroups
  };
  enum class Kind : uint8_t { ClusterIP, Headless, ExternalName };
  struct Service {
    Kind kind = Kind::ClusterIP;
    /// <svc>.<ns>.svc.<zone>, canonical, as uncompressed wire octets at names_[nameOffset, +nameSize) (read it
    /// with Index::serviceName()). Names live in one arena rather than as Names (256 octets inline each): with
    /// thousands of Services that was most of the index's memory (nodenet-dns's budget is 15 MiB for 2,000
    /// Services), and a lookup touches one contiguous string instead of a struct and a heap block.
    uint32_t nameOffset = 0;
    uint8_t nameSize = 0;
    /// ExternalName only: the target, canonical, in the same arena (Index::externalName()).
    uint8_t externalSize = 0;
    uint32_t externalOffset = 0;
    std::vector<IpAddress> clusterIPs;
    std::vector<Port> ports;                    // the Service's own ports (ClusterIP answers)
    std::vector<std::vector<Port>> portGroups;  // distinct port lists of its slices
    std::vector<Endpoint> endpoints;            // ready (or all with publishNotReadyAddresses), sorted by label
    /// Every distinct endpoint address, sorted: the headless answer for the bare service name.
    std::vector<IpAddress> endpointAddrs;

  };
  /// What a reverse name points at: a service (endpoint < 0: its ClusterIP) or one of its endpoints.
  struct PtrRef {
    uint32_t service = 0;
    int32_t endpoint = -1;
  };

  /// The zone, canonical (lowercase).
  const Name& zone() const { return zone_; }
  /// TTL of every answer record (Config::ttl).
  uint32_t ttl() const { return ttl_; }
  /// The SOA serial (Snapshot::serial).
  uint32_t serial() const { return serial_; }
  /// What was indexed and what was skipped, with reasons.
  const BuildStats& stats() const { return stats_; }
  /// Config::nameservers.
  const std::vector<IpAddress>& nameservers() const { return nameservers_; }

  /// The service with this canonical-or-not name (<svc>.<ns>.svc.<zone>), or nullptr.
  const Service* findService(const Name& name) const;
  /// True when the namespace (already lowercased) was listed or holds a Service or EndpointSlice.
  bool namespaceExists(std::string_view lowercaseNs) const;
  using PtrEntry = std::pair<IpAddress, PtrRef>;
  /// PTR targets for an address (all entries carry `ip`), in a stable order; empty when unknown.
  std::span<const PtrEntry> findPtr(const IpAddress& ip) const;
  /// The service a PtrRef names. Precondition: i came from this index.
  const Service& service(uint32_t i) const { return services_[i]; }
  /// A service's name, <svc>.<ns>.svc.<zone> (canonical). Precondition: `s` belongs to this index.
  Name serviceName(const Service& s) const { return nameAt(s.nameOffset, s.nameSize); }
  /// An ExternalName service's target (canonical). Precondition: `s` belongs to this index and is one.
  Name externalName(const Service& s) const { return nameAt(s.externalOffset, s.externalSize); }

 private:
  friend Result<IndexPtr> buildIndex(const Snapshot&, const Config&);
  void insertName(uint32_t hash, uint32_t serviceIndex);
  // Appends a name's wire octets to names_; returns its offset.
  uint32_t storeName(const Name& n);
  Name nameAt(uint32_t offset, uint8_t size) const;
  bool nameEquals(const Service& s, const Name& n) const;
  /// The wire octets of every service name and ExternalName target, back to back.
  std::string names_;
  Name zone_;
  size_t zoneLabels_ = 0;
  uint32_t ttl_ = kDefaultTtl;
  uint32_t serial_ = 0;
  std::vector<IpAddress> nameservers_;
  std::vector<Service> services_;
  /// Open-addressing table (linear probing) of services by name hash; a power of two at least twice the number
  /// of services. A flat array of 8-byte slots instead of a node map keyed by 256-byte Names: a lookup reads
  /// one or two cache lines of slots and touches a Service only when the 32-bit hash matches.
  struct NameSlot {
    uint32_t hash = 0;   // 32 bits of Name::hash(), compared before the Service is touched
    uint32_t index = 0;  // service index + 1; 0 = empty
  };
  std::vector<NameSlot> byName_;
  unsigned byNameShift_ = 64;  // 64 - log2(byName_.size()): Fibonacci hashing picks the top bits
  /// Transparent hashing: namespaceExists() looks up a string_view without building a std::string.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
  };
  std::unordered_set<std::string, StringHash, std::equal_to<>> namespaces_;
  /// Sorted by address; PTR lookups binary-search it.
  std::vector<PtrEntry> ptr_;
  /// The zone's SOA (negative answers, SOA queries) and ns.dns.<zone>, built once.
  ResourceRecord soa_;
  Name nsName_;
  BuildStats stats_;
  friend class Resolver;
};

}  // namespace nodenet::dns::records
