#include "cni/skel/config.h"

#include "base/strings.h"
#include "cni/skel/args.h"
#include "cni/skel/version.h"

namespace nodenet::cni {
namespace {

using nlohmann::json;

Error decodeError(const std::string& what) {
  return Error{kErrDecodingFailure, strCat("error unmarshall network config: ", what), {}};
}

CniResult<std::string> optString(const json& o, const char* key, const std::string& where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::string();
  if (!it->is_string()) return decodeError(strCat(where, "\"", key, "\" must be a string"));
  return it->get<std::string>();
}

CniResult<bool> optBool(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return false;
  if (!it->is_boolean()) return decodeError(strCat("\"", key, "\" must be a boolean"));
  return it->get<bool>();
}

CniResult<std::vector<std::string>> optStrings(const json& o, const char* key, const std::string& where) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return out;
  if (!it->is_array()) return decodeError(strCat(where, "\"", key, "\" must be a list"));
  for (const auto& v : *it) {
    if (!v.is_string()) return decodeError(strCat(where, "\"", key, "\" must hold strings"));
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Requested IPs: the reference's ip.ParseIP accepts "addr" or "addr/prefix".
CniStatus checkIps(const std::vector<std::string>& ips, const char* where) {
  for (const auto& s : ips) {
    bool ok = s.find('/') == std::string::npos ? IpAddress::parse(s).ok() : Cidr::parse(s).ok();
    if (!ok) return Error{kErrInvalidNetworkConfig, strCat(where, ": invalid IP address ", s), {}};
  }
  return {};
}

}  // namespace

CniResult<NetConf> parseNetConf(std::string_view stdinData) {
  auto j = json::parse(stdinData, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return decodeError("invalid JSON");
  return parseNetConfJson(j);
}

CniResult<NetConf> parseNetConfJson(const json& conf) {
  if (!conf.is_object()) return decodeError("expected a JSON object");
  NetConf n;
  n.raw = conf;
  NN_ASSIGN_OR_RETURN(n.cniVersion, optString(conf, "cniVersion", ""));
  if (n.cniVersion.empty()) n.cniVersion = "0.1.0";
  NN_ASSIGN_OR_RETURN(n.name, optString(conf, "name", ""));
  NN_TRY(validateNetworkName(n.name));
  NN_ASSIGN_OR_RETURN(n.type, optString(conf, "type", ""));
  if (n.type.empty()) return Error{kErrInvalidNetworkConfig, "missing plugin \"type\"", {}};
  NN_ASSIGN_OR_RETURN(n.ipMasq, optBool(conf, "ipMasq"));

  if (auto it = conf.find("ipam"); it != conf.end() && !it->is_null()) {
    if (!it->is_object()) return decodeError("\"ipam\" must be an object");
    n.ipam = *it;
    NN_ASSIGN_OR_RETURN(n.ipamType, optString(*it, "type", "ipam "));
  }
  if (auto it = conf.find("dns"); it != conf.end() && !it->is_null()) {
    if (!it->is_object()) return decodeError("\"dns\" must be an object");
    NN_ASSIGN_OR_RETURN(n.dns.nameservers, optStrings(*it, "nameservers", "dns "));
    NN_ASSIGN_OR_RETURN(n.dns.domain, optString(*it, "domain", "dns "));
    NN_ASSIGN_OR_RETURN(n.dns.search, optStrings(*it, "search", "dns "));
    NN_ASSIGN_OR_RETURN(n.dns.options, optStrings(*it, "options", "dns "));
  }
  if (auto it = conf.find("runtimeConfig"); it != conf.end() && !it->is_null()) {
    if (!it->is_object()) return decodeError("\"runtimeConfig\" must be an object");
    n.runtimeConfig.raw = *it;
    NN_ASSIGN_OR_RETURN(n.runtimeConfig.ips, optStrings(*it, "ips", "runtimeConfig "));
    NN_TRY(checkIps(n.runtimeConfig.ips, "runtimeConfig.ips"));
    NN_ASSIGN_OR_RETURN(n.runtimeConfig.mac, optString(*it, "mac", "runtimeConfig "));
  }
  if (auto it = conf.find("args"); it != conf.end() && !it->is_null()) {
    if (!it->is_object()) return decodeError("\"args\" must be an object");
    n.args = *it;
    if (auto c = it->find("cni"); c != it->end() && !c->is_null()) {
      if (!c->is_object()) return decodeError("\"args.cni\" must be an object");
      NN_ASSIGN_OR_RETURN(n.argsCniIps, optStrings(*c, "ips", "args.cni "));
      NN_TRY(checkIps(n.argsCniIps, "args.cni.ips"));
      NN_ASSIGN_OR_RETURN(n.argsCniMac, optString(*c, "mac", "args.cni "));
    }
  }
  if (auto it = conf.find("cni.dev/valid-attachments"); it != conf.end() && !it->is_null()) {
    if (!it->is_array()) return decodeError("\"cni.dev/valid-attachments\" must be a list");
    for (const auto& a : *it) {
      if (!a.is_object()) return decodeError("each valid attachment must be an object");
      GcAttachment g;
      NN_ASSIGN_OR_RETURN(g.containerId, optString(a, "containerID", "valid-attachments "));
      NN_ASSIGN_OR_RETURN(g.ifName, optString(a, "ifname", "valid-attachments "));
      n.validAttachments.push_back(std::move(g));
    }
  }
  if (auto it = conf.find("prevResult"); it != conf.end() && !it->is_null()) {
    // The reference parses prevResult in the config's version format (version.ParsePrevResult).
    auto r = parseResult(*it, n.cniVersion);
    if (!r.ok()) {
      Error e = std::move(r).error();
      if (e.code == kErrIncompatibleVersion) return e;
      return Error{kErrInvalidNetworkConfig, strCat("could not parse prevResult: ", e.msg), e.details};
    }
    n.prevResult = std::move(r).value();
  }
  return n;
}

std::string NetConfList::effectiveVersion() const {
  std::string best;
  for (const auto& v : cniVersions) {
    if (!isSupportedVersion(v)) continue;
    if (best.empty() || compareVersions(v, best).valueOr(0) > 0) best = v;
  }
  if (!best.empty()) return best;
  return cniVersion.empty() ? std::string("0.1.0") : cniVersion;
}

json NetConfList::pluginConfig(size_t i, const std::optional<AddResult>& prevResult) const {
  json c = plugins.at(i);
  std::string v = effectiveVersion();
  c["cniVersion"] = v;
  c["name"] = name;
  if (prevResult) {
    auto r = resultToJson(*prevResult, v);
    if (r.ok()) c["prevResult"] = json::parse(r->dump());
  }
  return c;
}

CniResult<NetConfList> parseNetConfList(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return decodeError("invalid JSON object");
  NetConfList l;
  NN_ASSIGN_OR_RETURN(l.cniVersion, optString(j, "cniVersion", ""));
  NN_ASSIGN_OR_RETURN(l.cniVersions, optStrings(j, "cniVersions", ""));
  NN_ASSIGN_OR_RETURN(l.name, optString(j, "name", ""));
  NN_TRY(validateNetworkName(l.name));
  NN_ASSIGN_OR_RETURN(l.disableCheck, optBool(j, "disableCheck"));
  NN_ASSIGN_OR_RETURN(l.disableGc, optBool(j, "disableGC"));
  auto it = j.find("plugins");
  if (it == j.end() || !it->is_array() || it->empty())
    return Error{kErrInvalidNetworkConfig, strCat("no plugins in list \"", l.name, "\""), {}};
  for (const auto& p : *it) {
    if (!p.is_object()) return decodeError("each plugin must be an object");
    auto t = p.find("type");
    if (t == p.end() || !t->is_string() || t->get<std::string>().empty())
      return Error{kErrInvalidNetworkConfig, "plugin without \"type\" in list", {}};
    l.plugins.push_back(p);
  }
  return l;
}

}  // namespace nodenet::cni
