// A deterministic Kubernetes cluster plan for the DNS tests and benchmark: Services and EndpointSlices as API
// manifests (what `nodenet-dns --manifests` reads) and, written INDEPENDENTLY of dns/records, the RFC 1035 zone
// files holding the records the Kubernetes DNS-Based Service Discovery specification (schema 1.1.0) requires for
// the same plan, so a reference authoritative server (NSD, Knot) can serve them.
//
// Deliberately self-contained (std + nlohmann::json, no nodenet library): the differential test compares
// nodenet-dns with NSD loaded from these zone files, and deriving the zone from our own index would make that
// comparison circular.
//
// Where the spec leaves a choice open, the zone follows CoreDNS (the server both are compared with):
//   - SRV priority 0, weight floor(100 / N) (at least 1), N = the (address, port) pairs behind that SRV name;
//   - a headless endpoint without a hostname is named by its address with '.'/':' replaced by '-'
//     (CoreDNS endpointHostname), and that name gets A/AAAA, SRV targets it and its PTR points to it;
//   - headless SRV ports are the EndpointSlice ports (the pods' ports: no proxy sits in front of a headless
//     Service);
//   - the SOA is CoreDNS's: ns.dns.<zone> hostmaster.<zone> serial 7200 1800 86400 <ttl>, TTL min(ttl, 300);
//     the apex NS is ns.dns.<zone>; dns-version.<zone> TXT "1.1.0" has TTL 28800.
// Records CoreDNS serves beyond the spec (A at `_port._proto` names, SRV on the bare service name, endpoint
// names and PTRs of ClusterIP Services, `pods insecure`) are NOT in the zone: the differential test lists them
// as known differences.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nodenet::bench {

enum class PlanKind { ClusterIP, Headless, ExternalName };

struct PlanPort {
  std::string name;  // "" = unnamed (no SRV)
  std::string protocol = "TCP";  // TCP, UDP, SCTP
  int port = 0;        // the Service port
  int targetPort = 0;  // the EndpointSlice port (what headless SRV answers)
};

struct PlanEndpoint {
  std::string address;   // canonical text form ("10.244.0.5", "fd00:244::5")
  std::string hostname;  // "" = none
  bool ready = true;
  bool terminating = false;
  int slice = 0;  // which EndpointSlice of the Service holds it (slices are per family and per this index)
};

struct PlanService {
  std::string ns, name;
  PlanKind kind = PlanKind::ClusterIP;
  std::vector<std::string> clusterIps;  // ClusterIP only; the first is spec.clusterIP
  std::string externalName;             // ExternalName only, without trailing dot
  bool publishNotReadyAddresses = false;
  std::vector<PlanPort> ports;
  std::vector<PlanEndpoint> endpoints;  // may be non-empty for ClusterIP Services too
};

struct ClusterPlan {
  std::string zone = "cluster.local";  // without trailing dot
  uint32_t ttl = 5;
  uint32_t serial = 1;
  std::vector<PlanService> services;
};

/// One resource record in presentation form: owner and names in rdata are absolute, lowercase, with a dot.
struct PlanRecord {
  std::string owner;
  uint32_t ttl = 0;
  std::string type;   // "A", "AAAA", "SRV", "PTR", "CNAME", "TXT", "SOA", "NS"
  std::string rdata;  // as dig prints it: "0 20 5432 db-0.db.default.svc.cluster.local.", "\"1.1.0\""
};

/// A zone file: its origin (absolute, lowercase, trailing dot) and RFC 1035 text.
struct ZoneText {
  std::string origin;
  std::string text;
};

/// The differential plan: 15 Services of every kind in three namespaces (ClusterIP v4/v6/dual-stack/port-less,
/// with and without slices; headless with hostnames, without, dual-stack, split across slices, not-ready,
/// terminating, publishNotReadyAddresses, empty; ExternalName in and out of zone). The seed permutes addresses.
ClusterPlan makeSmallPlan(uint32_t seed = 1);

/// The benchmark plan: `clusterIp` ClusterIP Services (ports http/TCP + dns/UDP named + one unnamed) and
/// `headless` headless Services with `endpointsPerService` ready endpoints each (even ones with StatefulSet
/// hostnames, odd ones without; even ones with two named ports, odd ones one), in 50 namespaces. With the
/// defaults (1000/1000/5) that is about 27k records. The seed permutes which addresses go to which Service.
ClusterPlan makeBenchPlan(uint32_t seed = 1, int clusterIp = 1000, int headless = 1000, int endpointsPerService = 5);

/// The Service and its EndpointSlices as API objects (kind/apiVersion set, one slice per (family, slice index)).
nlohmann::json serviceObjects(const PlanService& service);

/// Every object of the plan, one `kind: List` per namespace: { "<ns>.json" -> List }.
std::vector<std::pair<std::string, nlohmann::json>> manifestFiles(const ClusterPlan& plan);

/// The records the spec requires for the plan (see the header comment for the CoreDNS choices), sorted by owner.
/// Apex SOA and NS first.
std::vector<PlanRecord> forwardRecords(const ClusterPlan& plan);

/// PTR records: one per ClusterIP and one per published headless endpoint address (owner in in-addr.arpa or
/// ip6.arpa). A headless endpoint address published by several Services gets one PTR per Service.
std::vector<PlanRecord> reverseRecords(const ClusterPlan& plan);

/// The forward zone and the reverse zones (one per first IPv4 octet, `<a>.in-addr.arpa`, and one per first
/// IPv6 byte, `<n2>.<n1>.ip6.arpa`), each with the same SOA/NS as the forward zone (owner = its origin).
std::vector<ZoneText> zoneFiles(const ClusterPlan& plan);

/// The reverse owner name of an address ("5.0.244.10.in-addr.arpa."), or "" when it does not parse.
std::string reverseName(const std::string& address);

/// A dnsperf data file ("name type" per line), deterministic from the seed: 35% headless A, 35% ClusterIP A,
/// 20% SRV (ClusterIP and headless), 10% names that do not exist (NXDOMAIN).
std::string dnsperfQueries(const ClusterPlan& plan, uint32_t seed, int count);

/// Writes manifestFiles() into dir (created if missing; files written atomically via rename). Returns "" on
/// success, else an error naming the file.
std::string writeManifests(const ClusterPlan& plan, const std::string& dir);

/// Writes zoneFiles() into dir as "<origin without dot>.zone". Returns "" or an error naming the file.
std::string writeZoneFiles(const ClusterPlan& plan, const std::string& dir);

/// Writes text to path atomically (temp file + rename, so an inotify reader sees one complete file).
std::string writeFileAtomically(const std::string& path, const std::string& text);

}  // namespace nodenet::bench
