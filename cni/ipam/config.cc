#include "cni/ipam/config.h"


#include "base/file.h"
#include "base/strings.h"
#include "cni/skel/args.h"
#include "cni/skel/version.h"

namespace nodenet::cni::ipam {
namespace {

using nlohmann::json;

nodenet::Result<std::string> optString(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::string();
  if (!it->is_string()) return nodenet::Error(strCat("invalid \"", key, "\": expected a string, got ", it->dump()));
  return it->get<std::string>();
}

nodenet::Result<std::optional<IpAddress>> optIp(const json& o, const char* key) {
  NN_ASSIGN_OR_RETURN(std::string s, optString(o, key));
  if (s.empty()) return std::optional<IpAddress>();
  auto ip = IpAddress::parse(s);
  if (!ip) return nodenet::Error(strCat("invalid \"", key, "\": ", ip.error().message()));
  return std::optional<IpAddress>(*ip);
}

// The reference's ip.IP: "10.1.2.3" or "10.1.2.3/24" (the address keeps its host bits; the prefix is dropped).
nodenet::Result<IpAddress> parseRequestedIp(const std::string& s) {
  if (s.find('/') != std::string::npos) {
    auto c = Cidr::parse(s);
    if (!c) return nodenet::Error(strCat("invalid IP address ", s));
    return c->address();
  }
  auto ip = IpAddress::parse(s);
  if (!ip) return nodenet::Error(strCat("invalid IP address ", s));
  return *ip;
}

nodenet::Result<Range> parseRange(const json& o) {
  if (!o.is_object()) return nodenet::Error("a range must be an object");
  Range r;
  NN_ASSIGN_OR_RETURN(std::string subnet, optString(o, "subnet"));
  if (subnet.empty()) return nodenet::Error("missing \"subnet\"");
  auto c = Cidr::parse(subnet);
  if (!c) return nodenet::Error(strCat("invalid \"subnet\": ", c.error().message()));
  r.subnet = *c;
  NN_ASSIGN_OR_RETURN(r.rangeStart, optIp(o, "rangeStart"));
  NN_ASSIGN_OR_RETURN(r.rangeEnd, optIp(o, "rangeEnd"));
  NN_ASSIGN_OR_RETURN(r.gateway, optIp(o, "gateway"));
  return r;
}

nodenet::Result<std::vector<RangeSet>> parseRangeSets(const json& arr, const char* key) {
  std::vector<RangeSet> out;
  if (arr.is_null()) return out;
  if (!arr.is_array()) return nodenet::Error(strCat("invalid \"", key, "\": expected a list of range sets"));
  for (const auto& set : arr) {
    if (!set.is_array()) return nodenet::Error(strCat("invalid \"", key, "\": each range set must be a list"));
    RangeSet rs;
    for (const auto& r : set) {
      auto range = parseRange(r);
      if (!range) return nodenet::Error(strCat("invalid range set ", out.size(), ": ", range.error().message()));
      rs.push_back(*range);
    }
    out.push_back(std::move(rs));
  }
  return out;
}

std::vector<std::string> fields(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

nodenet::Result<IpamConfig> loadIpamConfig(const json& conf, std::string_view cniArgs) {
  if (!conf.is_object()) return nodenet::Error("network config must be a JSON object");
  IpamConfig c;
  NN_ASSIGN_OR_RETURN(c.name, optString(conf, "name"));
  NN_ASSIGN_OR_RETURN(c.cniVersion, optString(conf, "cniVersion"));
  if (c.cniVersion.empty()) c.cniVersion = "0.1.0";
  auto ipamIt = conf.find("ipam");
  if (ipamIt == conf.end() || ipamIt->is_null()) return nodenet::Error("IPAM config missing 'ipam' key");
  const json& ipam = *ipamIt;
  if (!ipam.is_object()) return nodenet::Error("invalid \"ipam\": expected an object");
  NN_ASSIGN_OR_RETURN(c.type, optString(ipam, "type"));
  NN_ASSIGN_OR_RETURN(std::string dataDir, optString(ipam, "dataDir"));
  if (!dataDir.empty()) c.dataDir = dataDir;
  NN_ASSIGN_OR_RETURN(c.resolvConf, optString(ipam, "resolvConf"));

  // Requested IPs, in the reference's order: CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips.
  NN_ASSIGN_OR_RETURN(CniArgs envArgs, parseCniArgs(cniArgs));
  if (auto ip = envArgs.get("IP"); ip && !ip->empty()) {
    auto a = parseRequestedIp(*ip);
    if (!a) return nodenet::Error(strCat("ARGS: error parsing value of pair \"IP=", *ip, "\": ", a.error().message()));
    c.requestedIps.push_back(*a);
  }
  auto addIps = [&](const json* list, const char* where) -> nodenet::Status {
    if (!list || list->is_null()) return {};
    if (!list->is_array()) return nodenet::Error(strCat("invalid \"", where, "\": expected a list"));
    for (const auto& s : *list) {
      if (!s.is_string()) return nodenet::Error(strCat("invalid \"", where, "\": expected strings"));
      auto a = parseRequestedIp(s.get<std::string>());
      if (!a) return nodenet::Error(strCat("cannot understand ip: ", a.error().message()));
      c.requestedIps.push_back(*a);
    }
    return {};
  };
  const json* argsIps = nullptr;
  if (auto a = conf.find("args"); a != conf.end() && a->is_object())
    if (auto cni = a->find("cni"); cni != a->end() && cni->is_object())
      if (auto ips = cni->find("ips"); ips != cni->end()) argsIps = &*ips;
  NN_TRY(addIps(argsIps, "args.cni.ips"));
  const json* rtIps = nullptr;
  const json* rtRanges = nullptr;
  if (auto rt = conf.find("runtimeConfig"); rt != conf.end() && rt->is_object()) {
    if (auto ips = rt->find("ips"); ips != rt->end()) rtIps = &*ips;
    if (auto rr = rt->find("ipRanges"); rr != rt->end()) rtRanges = &*rr;
  }
  NN_TRY(addIps(rtIps, "runtimeConfig.ips"));

  // Ranges: runtimeConfig.ipRanges, then the legacy single range, then ipam.ranges.
  if (rtRanges) {
    NN_ASSIGN_OR_RETURN(auto rs, parseRangeSets(*rtRanges, "runtimeConfig.ipRanges"));
    for (auto& s : rs) c.ranges.push_back(std::move(s));
  }
  if (auto s = ipam.find("subnet"); s != ipam.end() && !s->is_null()) {
    auto r = parseRange(ipam);
    if (!r) return nodenet::Error(strCat("invalid range set ", c.ranges.size(), ": ", r.error().message()));
    c.ranges.push_back(RangeSet{*r});
  }
  if (auto rs = ipam.find("ranges"); rs != ipam.end()) {
    NN_ASSIGN_OR_RETURN(auto sets, parseRangeSets(*rs, "ranges"));
    for (auto& s : sets) c.ranges.push_back(std::move(s));
  }
  if (c.ranges.empty()) return nodenet::Error("no IP ranges specified");

  int numV4 = 0, numV6 = 0;
  for (size_t i = 0; i < c.ranges.size(); ++i) {
    auto st = canonicalizeRangeSet(c.ranges[i]);
    if (!st.ok()) return nodenet::Error(strCat("invalid range set ", i, ": ", st.error().message()));
    (c.ranges[i][0].rangeStart->isV4() ? numV4 : numV6)++;
  }
  // CNI spec 0.2.0 and below allow one address per family.
  if (numV4 > 1 || numV6 > 1) {
    auto ge = versionAtLeast(c.cniVersion, "0.3.0");
    if (!ge.ok() || !*ge)
      return nodenet::Error(strCat("CNI version ", c.cniVersion, " does not support more than 1 address per family"));
  }
  for (size_t i = 0; i + 1 < c.ranges.size(); ++i)
    for (size_t j = i + 1; j < c.ranges.size(); ++j)
      if (rangeSetsOverlap(c.ranges[i], c.ranges[j]))
        return nodenet::Error(strCat("range set ", i, " overlaps with ", j));

  if (auto rt = ipam.find("routes"); rt != ipam.end() && !rt->is_null()) {
    auto parsed = parseResult(json{{"routes", *rt}}, "1.1.0");
    if (!parsed.ok()) return nodenet::Error(strCat("invalid ipam \"routes\": ", parsed.error().msg));
    c.routes = std::move(parsed->routes);
  }
  return c;
}

Dns parseResolvConfText(std::string_view text) {
  Dns d;
  for (const auto& raw : split(text, '\n')) {
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    auto f = fields(line);
    if (f.size() < 2) continue;
    if (f[0] == "nameserver") d.nameservers.push_back(f[1]);
    else if (f[0] == "domain") d.domain = f[1];
    else if (f[0] == "search") d.search.insert(d.search.end(), f.begin() + 1, f.end());
    else if (f[0] == "options") d.options.insert(d.options.end(), f.begin() + 1, f.end());
  }
  return d;
}

nodenet::Result<Dns> parseResolvConf(const std::string& path) {
  NN_ASSIGN_OR_RETURN(std::string text, nodenet::readFile(path));
  return parseResolvConfText(text);
}

}  // namespace nodenet::cni::ipam
