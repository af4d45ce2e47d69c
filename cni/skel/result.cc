#include "cni/skel/result.h"

#include "base/strings.h"
#include "cni/skel/version.h"

namespace nodenet::cni {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

enum class Format { V02, V04, V1 };

CniResult<Format> formatFor(std::string_view version) {
  if (version == "0.1.0" || version == "0.2.0") return Format::V02;
  if (version == "0.3.0" || version == "0.3.1" || version == "0.4.0") return Format::V04;
  if (version == "1.0.0" || version == "1.1.0") return Format::V1;
  return Error{kErrIncompatibleVersion, strCat("unsupported CNI result version \"", version, "\""), {}};
}

// Routes in the 0.3+/1.x form: struct order dst, gw, mtu, advmss, priority, table, scope.
template <typename J>
J routeJson(const Route& rt, bool full) {
  J j;
  j["dst"] = rt.dst.toString();
  if (rt.gw) j["gw"] = rt.gw->toString();
  if (!full) return j;
  if (rt.mtu) j["mtu"] = rt.mtu;
  if (rt.advmss) j["advmss"] = rt.advmss;
  if (rt.priority) j["priority"] = rt.priority;
  if (rt.table) j["table"] = *rt.table;
  if (rt.scope) j["scope"] = *rt.scope;
  return j;
}

template <typename J>
J dnsJson(const Dns& d) {
  J j = J::object();
  if (!d.nameservers.empty()) j["nameservers"] = d.nameservers;
  if (!d.domain.empty()) j["domain"] = d.domain;
  if (!d.search.empty()) j["search"] = d.search;
  if (!d.options.empty()) j["options"] = d.options;
  return j;
}

// 1.x: the reference marshals through a Go map, so every object's keys come out sorted; nlohmann::json (a
// std::map) sorts the same way.
json toV1(const AddResult& r, std::string_view version) {
  json j;
  j["cniVersion"] = std::string(version);
  if (!r.interfaces.empty()) {
    json arr = json::array();
    for (const auto& i : r.interfaces) {
      json o;
      o["name"] = i.name;
      if (!i.mac.empty()) o["mac"] = i.mac;
      if (i.mtu) o["mtu"] = i.mtu;
      if (!i.sandbox.empty()) o["sandbox"] = i.sandbox;
      if (!i.socketPath.empty()) o["socketPath"] = i.socketPath;
      if (!i.pciId.empty()) o["pciID"] = i.pciId;
      arr.push_back(std::move(o));
    }
    j["interfaces"] = std::move(arr);
  }
  if (!r.ips.empty()) {
    json arr = json::array();
    for (const auto& ip : r.ips) {
      json o;
      if (ip.interface) o["interface"] = *ip.interface;
      o["address"] = ip.address.toString();
      if (ip.gateway) o["gateway"] = ip.gateway->toString();
      arr.push_back(std::move(o));
    }
    j["ips"] = std::move(arr);
  }
  if (!r.routes.empty()) {
    json arr = json::array();
    for (const auto& rt : r.routes) arr.push_back(routeJson<json>(rt, true));
    j["routes"] = std::move(arr);
  }
  if (!r.dns.empty()) j["dns"] = dnsJson<json>(r.dns);
  return j;
}

ordered_json toV04(const AddResult& r, std::string_view version) {
  ordered_json j;
  j["cniVersion"] = std::string(version);
  if (!r.interfaces.empty()) {
    ordered_json arr = ordered_json::array();
    for (const auto& i : r.interfaces) {
      ordered_json o;
      o["name"] = i.name;
      if (!i.mac.empty()) o["mac"] = i.mac;
      if (!i.sandbox.empty()) o["sandbox"] = i.sandbox;
      arr.push_back(std::move(o));
    }
    j["interfaces"] = std::move(arr);
  }
  if (!r.ips.empty()) {
    ordered_json arr = ordered_json::array();
    for (const auto& ip : r.ips) {
      ordered_json o;
      o["version"] = ip.address.address().isV4() ? "4" : "6";
      if (ip.interface) o["interface"] = *ip.interface;
      o["address"] = ip.address.toString();
      if (ip.gateway) o["gateway"] = ip.gateway->toString();
      arr.push_back(std::move(o));
    }
    j["ips"] = std::move(arr);
  }
  if (!r.routes.empty()) {
    ordered_json arr = ordered_json::array();
    for (const auto& rt : r.routes) arr.push_back(routeJson<ordered_json>(rt, true));
    j["routes"] = std::move(arr);
  }
  // Go's omitempty does not omit a struct: 0.x results always carry "dns".
  j["dns"] = dnsJson<ordered_json>(r.dns);
  return j;
}

CniResult<ordered_json> toV02(const AddResult& r, std::string_view version) {
  const IpConfig* v4 = nullptr;
  const IpConfig* v6 = nullptr;
  // Only the first address of each family: 0.2.0 cannot express more.
  for (const auto& ip : r.ips) {
    if (ip.address.address().isV4() && !v4) v4 = &ip;
    if (ip.address.address().isV6() && !v6) v6 = &ip;
  }
  if (!v4 && !v6) return Error{kErrInternal, "cannot convert: no valid IP addresses", {}};
  auto family = [&](const IpConfig* ip, bool isV4) {
    ordered_json o;
    o["ip"] = ip->address.toString();
    if (ip->gateway) o["gateway"] = ip->gateway->toString();
    ordered_json routes = ordered_json::array();
    for (const auto& rt : r.routes)
      if (rt.dst.address().isV4() == isV4) routes.push_back(routeJson<ordered_json>(rt, false));
    if (!routes.empty()) o["routes"] = std::move(routes);
    return o;
  };
  ordered_json j;
  j["cniVersion"] = std::string(version);
  if (v4) j["ip4"] = family(v4, true);
  if (v6) j["ip6"] = family(v6, false);
  j["dns"] = dnsJson<ordered_json>(r.dns);
  return j;
}

// ---- parsing ----

CniResult<std::string> getString(const json& o, const char* key, const char* where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Error{kErrDecodingFailure, strCat(where, ": \"", key, "\" must be a string"), {}};
  return it->get<std::string>();
}

CniResult<std::optional<int>> getInt(const json& o, const char* key, const char* where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<int>();
  if (!it->is_number_integer())
    return Error{kErrDecodingFailure, strCat(where, ": \"", key, "\" must be an integer"), {}};
  return std::optional<int>(it->get<int>());
}

CniResult<std::vector<std::string>> getStrings(const json& o, const char* key, const char* where) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return out;
  if (!it->is_array()) return Error{kErrDecodingFailure, strCat(where, ": \"", key, "\" must be a list"), {}};
  for (const auto& s : *it) {
    if (!s.is_string()) return Error{kErrDecodingFailure, strCat(where, ": \"", key, "\" must hold strings"), {}};
    out.push_back(s.get<std::string>());
  }
  return out;
}

CniResult<Cidr> getCidr(const json& o, const char* key, const char* where, bool required) {
  NN_ASSIGN_OR_RETURN(std::string s, getString(o, key, where));
  if (s.empty()) {
    if (required) return Error{kErrDecodingFailure, strCat(where, ": missing \"", key, "\""), {}};
    return Cidr();
  }
  auto c = Cidr::parse(s);
  if (!c) return Error{kErrDecodingFailure, strCat(where, ": ", c.error().message()), {}};
  return *c;
}

CniResult<std::optional<IpAddress>> getIp(const json& o, const char* key, const char* where) {
  NN_ASSIGN_OR_RETURN(std::string s, getString(o, key, where));
  if (s.empty()) return std::optional<IpAddress>();
  auto a = IpAddress::parse(s);
  if (!a) return Error{kErrDecodingFailure, strCat(where, ": ", a.error().message()), {}};
  return std::optional<IpAddress>(*a);
}

CniResult<Route> parseRoute(const json& o) {
  if (!o.is_object()) return Error{kErrDecodingFailure, "route: must be an object", {}};
  Route rt;
  NN_ASSIGN_OR_RETURN(rt.dst, getCidr(o, "dst", "route", true));
  NN_ASSIGN_OR_RETURN(rt.gw, getIp(o, "gw", "route"));
  NN_ASSIGN_OR_RETURN(auto mtu, getInt(o, "mtu", "route"));
  NN_ASSIGN_OR_RETURN(auto advmss, getInt(o, "advmss", "route"));
  NN_ASSIGN_OR_RETURN(auto prio, getInt(o, "priority", "route"));
  NN_ASSIGN_OR_RETURN(rt.table, getInt(o, "table", "route"));
  NN_ASSIGN_OR_RETURN(rt.scope, getInt(o, "scope", "route"));
  rt.mtu = mtu.value_or(0);
  rt.advmss = advmss.value_or(0);
  rt.priority = prio.value_or(0);
  return rt;
}

CniResult<std::vector<Route>> parseRoutes(const json& o, const char* key) {
  std::vector<Route> out;
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return out;
  if (!it->is_array()) return Error{kErrDecodingFailure, strCat("result: \"", key, "\" must be a list"), {}};
  for (const auto& r : *it) {
    NN_ASSIGN_OR_RETURN(Route rt, parseRoute(r));
    out.push_back(std::move(rt));
  }
  return out;
}

CniResult<Dns> parseDns(const json& o) {
  Dns d;
  auto it = o.find("dns");
  if (it == o.end() || it->is_null()) return d;
  if (!it->is_object()) return Error{kErrDecodingFailure, "result: \"dns\" must be an object", {}};
  NN_ASSIGN_OR_RETURN(d.nameservers, getStrings(*it, "nameservers", "dns"));
  NN_ASSIGN_OR_RETURN(d.domain, getString(*it, "domain", "dns"));
  NN_ASSIGN_OR_RETURN(d.search, getStrings(*it, "search", "dns"));
  NN_ASSIGN_OR_RETURN(d.options, getStrings(*it, "options", "dns"));
  return d;
}

}  // namespace

CniResult<nlohmann::ordered_json> resultToJson(const AddResult& r, std::string_view version) {
  NN_ASSIGN_OR_RETURN(Format f, formatFor(version));
  switch (f) {
    case Format::V1: return ordered_json::parse(toV1(r, version).dump());  // keeps the sorted order
    case Format::V04: return toV04(r, version);
    case Format::V02: return toV02(r, version);
  }
  return Error{kErrInternal, "unreachable", {}};
}

CniResult<std::string> renderResult(const AddResult& r, std::string_view version) {
  NN_ASSIGN_OR_RETURN(Format f, formatFor(version));
  if (f == Format::V1) return toV1(r, version).dump(4);
  NN_ASSIGN_OR_RETURN(ordered_json j, resultToJson(r, version));
  return j.dump(4);
}

CniResult<AddResult> parseResult(const json& j, std::string_view version) {
  NN_ASSIGN_OR_RETURN(Format f, formatFor(version));
  if (!j.is_object()) return Error{kErrDecodingFailure, "result: must be a JSON object", {}};
  AddResult r;
  r.cniVersion = std::string(version);
  NN_ASSIGN_OR_RETURN(r.dns, parseDns(j));
  if (f == Format::V02) {
    for (const char* fam : {"ip4", "ip6"}) {
      auto it = j.find(fam);
      if (it == j.end() || it->is_null()) continue;
      if (!it->is_object()) return Error{kErrDecodingFailure, strCat("result: \"", fam, "\" must be an object"), {}};
      IpConfig ip;
      NN_ASSIGN_OR_RETURN(ip.address, getCidr(*it, "ip", fam, true));
      NN_ASSIGN_OR_RETURN(ip.gateway, getIp(*it, "gateway", fam));
      r.ips.push_back(std::move(ip));
      NN_ASSIGN_OR_RETURN(auto routes, parseRoutes(*it, "routes"));
      for (auto& rt : routes) {
        // 0.2.0 routes carry only dst and gw.
        r.routes.push_back(Route{rt.dst, rt.gw});
      }
    }
    return r;
  }
  if (auto it = j.find("interfaces"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Error{kErrDecodingFailure, "result: \"interfaces\" must be a list", {}};
    for (const auto& o : *it) {
      if (!o.is_object()) return Error{kErrDecodingFailure, "result: each interface must be an object", {}};
      Interface i;
      NN_ASSIGN_OR_RETURN(i.name, getString(o, "name", "interface"));
      NN_ASSIGN_OR_RETURN(i.mac, getString(o, "mac", "interface"));
      NN_ASSIGN_OR_RETURN(i.sandbox, getString(o, "sandbox", "interface"));
      if (f == Format::V1) {
        NN_ASSIGN_OR_RETURN(auto mtu, getInt(o, "mtu", "interface"));
        i.mtu = mtu.value_or(0);
        NN_ASSIGN_OR_RETURN(i.socketPath, getString(o, "socketPath", "interface"));
        NN_ASSIGN_OR_RETURN(i.pciId, getString(o, "pciID", "interface"));
      }
      r.interfaces.push_back(std::move(i));
    }
  }
  if (auto it = j.find("ips"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Error{kErrDecodingFailure, "result: \"ips\" must be a list", {}};
    for (const auto& o : *it) {
      if (!o.is_object()) return Error{kErrDecodingFailure, "result: each ip must be an object", {}};
      IpConfig ip;
      NN_ASSIGN_OR_RETURN(ip.interface, getInt(o, "interface", "ip"));
      NN_ASSIGN_OR_RETURN(ip.address, getCidr(o, "address", "ip", true));
      NN_ASSIGN_OR_RETURN(ip.gateway, getIp(o, "gateway", "ip"));
      // The 0.3/0.4 "version" field is derived from the address in the 1.x model.
      r.ips.push_back(std::move(ip));
    }
  }
  NN_ASSIGN_OR_RETURN(r.routes, parseRoutes(j, "routes"));
  return r;
}

}  // namespace nodenet::cni
