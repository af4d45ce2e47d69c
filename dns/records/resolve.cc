// resolve(): one query against the immutable Index, written straight into the ResponseComposer.
//
// The shape follows CoreDNS's kubernetes plugin: a name is first parsed into a request (parse.go), the request
// yields "hosts" (an address or a host name, with a port: msg.Service there), and each query type turns hosts
// into records (plugin/backend_lookup.go). A name that yields no host does not exist (NXDOMAIN); a name that
// yields hosts but no record of the asked type is NODATA.
#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "dns/records/names.h"
#include "dns/records/records.h"

namespace nodenet::dns::records {

using detail::labelAt;
using detail::labelIs;
using detail::lowerInto;

namespace {

/// What a name means inside (or outside) the zone.
enum class NameKind : uint8_t {
  NotInZone,
  Reverse,  // a well-formed in-addr.arpa / ip6.arpa name
  Apex,     // <zone>
  NoData,   // exists, never has records: svc.<zone>, <ns>.svc.<zone>, pod.<zone>, <ns>.pod.<zone>
  NxDomain,
  DnsVersion,  // dns-version.<zone>
  Nameserver,  // ns.dns.<zone>
  Pod,         // a-b-c-d.<ns>.pod.<zone>
  Service,     // [endpoint. | _port._proto.]<svc>.<ns>.svc.<zone>
};

struct Request {
  NameKind kind = NameKind::NxDomain;
  const Index::Service* svc = nullptr;
  std::string endpoint;  // lowercase; "" = none
  std::string port;      // lowercase, underscore stripped; "" = any
  std::string proto;     // lowercase, underscore stripped; "" = any
  IpAddress ip;          // Pod, Reverse
};

/// One answerable item (CoreDNS's msg.Service): an address or, for ExternalName, a host name; with a port.
struct Host {
  const Index::Service* svc = nullptr;
  const Index::Endpoint* ep = nullptr;  // set when the host is an endpoint
  IpAddress ip;
  int32_t port = -1;
  bool isName = false;  // ExternalName: the target is svc->externalName
};

std::string_view stripUnderscore(std::string_view s) { return (!s.empty() && s[0] == '_') ? s.substr(1) : s; }

bool parseDecimalOctet(std::string_view s, uint8_t& out) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 255) return false;
  out = static_cast<uint8_t>(v);
  return true;
}

int hexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const Name& inAddrArpa() {
  static const Name n = Name::fromText("in-addr.arpa").value();
  return n;
}
const Name& ip6Arpa() {
  static const Name n = Name::fromText("ip6.arpa").value();
  return n;
}

/// d.c.b.a.in-addr.arpa (4 decimal labels) or 32 nibble labels under ip6.arpa (RFC 1035 §3.5, RFC 3596 §2.5).
bool parseReverse(const Name& q, IpAddress& out) {
  const size_t n = q.labelCount();
  if (n == 6 && q.isSubdomainOf(inAddrArpa())) {
    uint8_t b[4];
    for (size_t i = 0; i < 4; ++i)
      if (!parseDecimalOctet(labelAt(q, i), b[3 - i])) return false;
    out = IpAddress::fromBytes(IpFamily::V4, b);
    return true;
  }
  if (n == 34 && q.isSubdomainOf(ip6Arpa())) {
    uint8_t b[16] = {};
    for (size_t i = 0; i < 32; ++i) {
      const auto l = labelAt(q, i);
      const int v = l.size() == 1 ? hexNibble(l[0]) : -1;
      if (v < 0) return false;
      const size_t nib = 31 - i;  // the leftmost label is the lowest nibble
      b[nib / 2] |= static_cast<uint8_t>(nib % 2 ? v : v << 4);
    }
    out = IpAddress::fromBytes(IpFamily::V6, b);
    return true;
  }
  return false;
}

/// CoreDNS's pod name rule (findPods): exactly three dashes and no "--" is IPv4, anything else is IPv6 with
/// every '-' read as ':'.
bool parsePodIp(std::string_view label, IpAddress& out) {
  std::string text(label);
  const bool v4 = std::count(text.begin(), text.end(), '-') == 3 && text.find("--") == std::string::npos;
  std::replace(text.begin(), text.end(), '-', v4 ? '.' : ':');
  auto ip = IpAddress::parse(text);
  if (!ip.ok()) return false;
  out = *ip;
  return true;
}

}  // namespace

/// The per-query worker. A class (friend of Index) so it can read the index's private tables.
class Resolver {
 public:
  Resolver(const Index& ix, const Query& q, ResponseComposer& c) : ix_(ix), q_(q), c_(c) {}

  Outcome run() {
    const Name& qname = q_.question.name;
    const RRType qtype = q_.question.type;
    // Cluster data exists in class IN only; CH (version.bind) and the like belong to the server or upstream.
    if (q_.question.cls != RRClass::IN && q_.question.cls != RRClass::ANY) return Outcome::NotInZone;
    Request r = parse(qname);
    if (r.kind == NameKind::NotInZone) return Outcome::NotInZone;
    if (r.kind == NameKind::Reverse) {
      // Only PTR for addresses we know; everything else in the reverse trees goes upstream, as CoreDNS's
      // default Corefile does with `fallthrough in-addr.arpa ip6.arpa`.
      if (qtype != RRType::PTR) return Outcome::NotInZone;
      const auto refs = ix_.findPtr(r.ip);
      if (refs.empty()) return Outcome::NotInZone;
      start(Rcode::NoError);
      for (const auto& [ip, ref] : refs)
        c_.add(Section::Answer, makeNameRecord(qname, RRType::PTR, ix_.ttl_, ptrTarget(ref)));
      return Outcome::Answered;
    }

    start(Rcode::NoError);
    switch (r.kind) {
      case NameKind::Apex:
        if (qtype == RRType::SOA) {
          ResourceRecord soa = ix_.soa_;
          soa.owner = qname;
          add(soa);
        } else if (qtype == RRType::NS) {
          add(makeNameRecord(qname, RRType::NS, ix_.ttl_, ix_.nsName_));
          for (const auto& ip : ix_.nameservers_)
            c_.add(Section::Additional,
                   ip.isV4() ? makeA(ix_.nsName_, ix_.ttl_, ip) : makeAAAA(ix_.nsName_, ix_.ttl_, ip));
          return Outcome::Answered;
        }
        break;
      case NameKind::NoData:
        break;
      case NameKind::NxDomain:
        return nxdomain();
      case NameKind::DnsVersion:
        // Spec §2.2: dns-version.<zone>. 28800 IN TXT "<schema version>".
        if (qtype == RRType::TXT) add(makeTxt(qname, kSchemaVersionTtl, {std::string(kSchemaVersion)}));
        break;
      case NameKind::Nameserver:
        if (ix_.nameservers_.empty()) return nxdomain();
        if (isAddressType(qtype))
          for (const auto& ip : ix_.nameservers_) addAddress(qname, ip, qtype);
        break;
      case NameKind::Pod:
        if (isAddressType(qtype)) addAddress(qname, r.ip, qtype);
        break;
      case NameKind::Service:
        if (!answerService(r, qname, qtype)) return nxdomain();
        break;
      case NameKind::NotInZone:
      case NameKind::Reverse:
        break;
    }
    if (answers_ == 0 && !c_.truncated()) c_.add(Section::Authority, ix_.soa_);
    return Outcome::Answered;
  }

 private:
  static bool isAddressType(RRType t) { return t == RRType::A || t == RRType::AAAA; }

  void start(Rcode rcode) {
    c_.begin(q_, rcode);
    // CoreDNS answers its zones authoritatively (m.Authoritative = true); RA is the server's to set.
    c_.setAa(true);
  }
  void add(const ResourceRecord& rr) {
    ++answers_;
    c_.add(Section::Answer, rr);
  }
  void addAddress(const Name& owner, const IpAddress& ip, RRType qtype) {
    if (qtype == RRType::A && ip.isV4()) add(makeA(owner, ix_.ttl_, ip));
    if (qtype == RRType::AAAA && ip.isV6()) add(makeAAAA(owner, ix_.ttl_, ip));
  }
  Outcome nxdomain() {
    c_.setRcode(Rcode::NXDomain);
    c_.add(Section::Authority, ix_.soa_);
    return Outcome::Answered;
  }

  Name endpointName(const Index::Service& s, const Index::Endpoint& e) const {
    return endpointName(ix_.serviceName(s), e);
  }
  static Name endpointName(const Name& serviceName, const Index::Endpoint& e) {
    // buildIndex() checked that the label fits in front of the service name.
    return detail::prependLabel(e.label, serviceName).value();
  }
  Name ptrTarget(const Index::PtrRef& ref) const {
    const Index::Service& s = ix_.services_[ref.service];
    return ref.endpoint < 0 ? ix_.serviceName(s) : endpointName(s, s.endpoints[static_cast<size_t>(ref.endpoint)]);
  }

  // parse.go's parseRequest, plus the reverse, apex, dns-version and ns.dns names.
  Request parse(const Name& qname) const {
    Request r;
    if (!qname.isSubdomainOf(ix_.zone_)) {
      r.kind = parseReverse(qname, r.ip) ? NameKind::Reverse : NameKind::NotInZone;
      return r;
    }
    const size_t rel = qname.labelCount() - ix_.zoneLabels_;
    if (rel == 0) {
      r.kind = NameKind::Apex;
      return r;
    }
    const std::string_view top = labelAt(qname, rel - 1);
    const bool isSvc = labelIs(top, "svc");
    const bool isPod = labelIs(top, "pod");
    if (!isSvc && !isPod) {
      if (rel == 1 && labelIs(top, "dns-version"))
        r.kind = NameKind::DnsVersion;
      else if (rel == 2 && labelIs(top, "dns") && labelIs(labelAt(qname, 0), "ns"))
        r.kind = NameKind::Nameserver;
      else
        r.kind = NameKind::NxDomain;
      return r;
    }
    if (rel == 1) {
      r.kind = NameKind::NoData;
      return r;
    }
    std::string ns;
    lowerInto(labelAt(qname, rel - 2), ns);
    if (!ix_.namespaceExists(ns)) {
      r.kind = NameKind::NxDomain;
      return r;
    }
    if (rel == 2) {
      r.kind = NameKind::NoData;
      return r;
    }
    if (isPod) {
      // `pods insecure`: any well-formed address in an existing namespace. CoreDNS also accepts (and ignores)
      // one extra label in front; we answer NXDOMAIN for it.
      r.kind = (rel == 3 && parsePodIp(labelAt(qname, 0), r.ip)) ? NameKind::Pod : NameKind::NxDomain;
      return r;
    }
    if (rel > 5) {
      r.kind = NameKind::NxDomain;
      return r;
    }
    r.svc = ix_.findService(rel == 3 ? qname : qname.stripLeft(rel - 3));
    if (r.svc == nullptr) {
      r.kind = NameKind::NxDomain;
      return r;
    }
    r.kind = NameKind::Service;
    if (rel == 4) {
      lowerInto(labelAt(qname, 0), r.endpoint);
    } else if (rel == 5) {
      lowerInto(stripUnderscore(labelAt(qname, 0)), r.port);
      lowerInto(stripUnderscore(labelAt(qname, 1)), r.proto);
    }
    return r;
  }

  static bool portMatches(const Request& r, const Index::Port& p) {
    return (r.port.empty() || r.port == p.name) && (r.proto.empty() || r.proto == p.proto);
  }

  /// findServices(): the hosts a service-shaped request matches. Empty means the name does not exist.
  void collect(const Request& r, std::vector<Host>& out) const {
    const Index::Service& s = *r.svc;
    if (s.kind == Index::Kind::ExternalName) {
      // No endpoints; port and protocol labels are accepted and ignored, as CoreDNS does.
      if (r.endpoint.empty()) out.push_back(Host{&s, nullptr, IpAddress(), 0, true});
      return;
    }
    if (s.kind == Index::Kind::Headless || !r.endpoint.empty()) {
      auto first = s.endpoints.begin(), last = s.endpoints.end();
      if (!r.endpoint.empty()) {
        auto range = std::equal_range(first, last, r.endpoint, LabelLess{});
        first = range.first;
        last = range.second;
      }
      for (auto it = first; it != last; ++it)
        for (const auto& p : s.portGroups[it->portGroup])
          if (portMatches(r, p)) out.push_back(Host{&s, &*it, it->ip, p.port, false});
      return;
    }
    for (const auto& p : s.ports) {
      if (!portMatches(r, p)) continue;
      // CoreDNS: a matching port makes the name exist even with no cluster IP (then NODATA for A).
      if (s.clusterIPs.empty()) out.push_back(Host{&s, nullptr, IpAddress(), -2, false});
      for (const auto& ip : s.clusterIPs) out.push_back(Host{&s, nullptr, ip, p.port, false});
    }
  }

  struct LabelLess {
    bool operator()(const Index::Endpoint& e, const std::string& l) const { return e.label < l; }
    bool operator()(const std::string& l, const Index::Endpoint& e) const { return l < e.label; }
  };

  /// Returns false when the name does not exist (NXDOMAIN).
  bool answerService(const Request& r, const Name& qname, RRType qtype) {
    const Index::Service& s = *r.svc;
    // Fast path for the common question: A/AAAA of a bare service name.
    if (isAddressType(qtype) && r.endpoint.empty() && r.port.empty() && r.proto.empty() &&
        s.kind != Index::Kind::ExternalName) {
      if (s.kind == Index::Kind::Headless) {
        if (s.endpoints.empty()) return false;  // headless without ready endpoints: NXDOMAIN (CoreDNS)
        for (const auto& ip : s.endpointAddrs) addAddress(qname, ip, qtype);
      } else {
        for (const auto& ip : s.clusterIPs) addAddress(qname, ip, qtype);
      }
      return true;
    }
    // Reused per thread: the SRV and endpoint paths would otherwise allocate on every query. Only this
    // top-level call uses it (chase() keeps its own vectors), so nesting cannot clobber it.
    static thread_local std::vector<Host> hostsBuf;
    std::vector<Host>& hosts = hostsBuf;
    hosts.clear();
    collect(r, hosts);
    if (hosts.empty()) return false;
    switch (qtype) {
      case RRType::A:
      case RRType::AAAA:
        answerAddresses(qname, hosts, qtype, 0);
        break;
      case RRType::CNAME:
        for (const auto& h : hosts)
          if (h.isName) add(makeNameRecord(qname, RRType::CNAME, ix_.ttl_, ix_.externalName(*h.svc)));
        break;
      case RRType::SRV:
        answerSrv(qname, hosts);
        break;
      default:
        // An ExternalName pointing out of the zone answers its CNAME for every type (RFC 1034 3.6.2; CoreDNS
        // does for TXT), so the client chases the target. In-zone targets have only A/AAAA/SRV records, so
        // other types are NODATA without the CNAME, as CoreDNS leaves them (integration/dns lists it).
        for (const auto& h : hosts)
          if (h.isName) {
            const Name target = ix_.externalName(*h.svc);
            if (!target.isSubdomainOf(ix_.zone_)) add(makeNameRecord(qname, RRType::CNAME, ix_.ttl_, target));
          }
        break;  // otherwise NODATA: the name exists
    }
    return true;
  }

  /// backend_lookup.go A()/AAAA(): addresses deduplicated; an ExternalName gives a CNAME, followed inside the
  /// zone (the CNAME is kept only when the target has records), left for the client outside it.
  void answerAddresses(const Name& owner, const std::vector<Host>& hosts, RRType qtype, int depth) {
    std::vector<IpAddress> ips;
    for (const auto& h : hosts) {
      if (h.isName) {
        const Name target = ix_.externalName(*h.svc);
        if (!target.isSubdomainOf(ix_.zone_)) {
          add(makeNameRecord(owner, RRType::CNAME, ix_.ttl_, target));
          continue;
        }
        std::vector<ResourceRecord> chain;
        chase(target, qtype, depth + 1, chain);
        if (chain.empty()) continue;
        add(makeNameRecord(owner, RRType::CNAME, ix_.ttl_, target));
        for (const auto& rr : chain) add(rr);
        continue;
      }
      if (h.port == -2) continue;  // a ClusterIP service without an IP
      if ((qtype == RRType::A) == h.ip.isV4()) ips.push_back(h.ip);
    }
    std::sort(ips.begin(), ips.end());
    ips.erase(std::unique(ips.begin(), ips.end()), ips.end());
    for (const auto& ip : ips) addAddress(owner, ip, qtype);
  }

  /// Resolves an in-zone CNAME target into records (collected first: the CNAME goes in only when they exist).
  void chase(const Name& target, RRType qtype, int depth, std::vector<ResourceRecord>& out) const {
    if (depth >= kMaxCnameChain) return;
    Request r = parse(target);
    if (r.kind == NameKind::Pod) {
      if ((qtype == RRType::A) == r.ip.isV4()) out.push_back(address(target, r.ip));
      return;
    }
    if (r.kind != NameKind::Service) return;
    std::vector<Host> hosts;
    collect(r, hosts);
    std::vector<IpAddress> ips;
    for (const auto& h : hosts) {
      if (h.isName) {
        const Name next = ix_.externalName(*h.svc);
        if (!next.isSubdomainOf(ix_.zone_)) {
          out.push_back(makeNameRecord(target, RRType::CNAME, ix_.ttl_, next));
          continue;
        }
        std::vector<ResourceRecord> more;
        chase(next, qtype, depth + 1, more);
        if (more.empty()) continue;
        out.push_back(makeNameRecord(target, RRType::CNAME, ix_.ttl_, next));
        out.insert(out.end(), more.begin(), more.end());
        continue;
      }
      if (h.port != -2 && (qtype == RRType::A) == h.ip.isV4()) ips.push_back(h.ip);
    }
    std::sort(ips.begin(), ips.end());
    ips.erase(std::unique(ips.begin(), ips.end()), ips.end());
    for (const auto& ip : ips) out.push_back(address(target, ip));
  }

  ResourceRecord address(const Name& owner, const IpAddress& ip) const {
    return ip.isV4() ? makeA(owner, ix_.ttl_, ip) : makeAAAA(owner, ix_.ttl_, ip);
  }

  /// backend_lookup.go SRV(): priority 0; weight floor(100 / number of matched (address, port) pairs), at
  /// least 1; one SRV per distinct (target, port); targets are the service name (ClusterIP), the endpoint name
  /// (`<hostname>` or `a-b-c-d`, then the service name) or the ExternalName; A/AAAA for in-zone targets go to
  /// the additional section, once per (target, address).
  void answerSrv(const Name& owner, std::vector<Host>& hosts) {
    const auto weight = static_cast<uint16_t>(std::max<size_t>(1, 100 / hosts.size()));
    auto label = [](const Host& h) -> std::string_view {
      return h.ep ? std::string_view(h.ep->label) : std::string_view();
    };
    std::stable_sort(hosts.begin(), hosts.end(), [&](const Host& a, const Host& b) {
      return std::tuple(label(a), a.port, a.ip) < std::tuple(label(b), b.port, b.ip);
    });
    // Every host of one request belongs to the same service (collect() takes r.svc): build its name once.
    const Name svcName = hosts.empty() ? Name() : ix_.serviceName(*hosts.front().svc);
    for (size_t i = 0; i < hosts.size(); ++i) {
      const Host& h = hosts[i];
      if (h.port < 0) continue;  // the sentinel of a port-less service or slice: no SRV (CoreDNS port -1)
      if (i > 0 && label(hosts[i - 1]) == label(h) && hosts[i - 1].port == h.port && !h.isName) continue;
      const Name target = h.isName ? ix_.externalName(*h.svc) : (h.ep ? endpointName(svcName, *h.ep) : svcName);
      add(makeSrv(owner, ix_.ttl_, 0, weight, static_cast<uint16_t>(h.port), target));
    }
    // Additional: addresses of the targets that have an SRV record (RFC 2782 "additional data").
    for (size_t i = 0; i < hosts.size(); ++i) {
      const Host& h = hosts[i];
      if (h.isName || h.port < 0) continue;
      bool seen = false;
      for (size_t j = i; j-- > 0 && label(hosts[j]) == label(h);)
        if (hosts[j].ip == h.ip && hosts[j].port >= 0) seen = true;
      if (seen) continue;
      const Name target = h.ep ? endpointName(svcName, *h.ep) : svcName;
      if (c_.add(Section::Additional, address(target, h.ip)) == AddResult::NoRoom) break;
    }
  }

  const Index& ix_;
  const Query& q_;
  ResponseComposer& c_;
  size_t answers_ = 0;
};

Outcome resolve(const Index& index, const Query& q, ResponseComposer& composer) {
  return Resolver(index, q, composer).run();
}

}  // namespace nodenet::dns::records
