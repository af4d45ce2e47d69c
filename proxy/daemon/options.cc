#include "proxy/daemon/options.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "base/strings.h"
#include "kube/manifests/parse.h"

namespace nodenet::proxy::daemon {

namespace {

using nlohmann::json;

constexpr uint16_t kHealthzPort = 10256;  // kube-proxy's ports.ProxyHealthzPort
constexpr uint16_t kMetricsPort = 10249;  // kube-proxy's ports.ProxyStatusPort
constexpr std::string_view kApiVersion = "kubeproxy.config.k8s.io/v1alpha1";

std::string quote(std::string_view s) { return strCat("\"", s, "\""); }

Result<uint16_t> parsePort(std::string_view text) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v > 65535)
    return Error(strCat("port ", quote(text), " is not a number 0-65535"));
  return static_cast<uint16_t>(v);
}

}  // namespace

std::string BindAddress::toString() const {
  return ip.isV6() ? strCat("[", ip.toString(), "]:", port) : strCat(ip.toString(), ":", port);
}

Result<std::optional<BindAddress>> parseBindAddress(std::string_view text, uint16_t defaultPort) {
  text = trim(text);
  if (text.empty()) return std::optional<BindAddress>{};
  if (auto ip = IpAddress::parse(text); ip.ok()) return std::optional<BindAddress>{BindAddress{*ip, defaultPort}};
  std::string_view host, port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Error(strCat(quote(text), " is not in a valid format (ip or ip:port)"));
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon)
      return Error(strCat(quote(text), " is not in a valid format (ip or ip:port; IPv6 as [ip]:port)"));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto ip = IpAddress::parse(host);
  if (!ip.ok()) return Error(strCat(quote(host), " is not a valid IP address"));
  auto p = parsePort(port);
  if (!p.ok()) return p.error();
  return std::optional<BindAddress>{BindAddress{*ip, *p}};
}

Result<std::chrono::nanoseconds> parseGoDuration(std::string_view text) {
  const std::string bad = strCat(quote(text), " is not a duration (like \"30s\", \"1m0s\", \"500ms\")");
  std::string_view s = text;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (!s.empty() && s.front() == '-') return Error(strCat(quote(text), " is negative"));
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return Error(bad);
  // Units as Go's time.ParseDuration knows them (µs in both Unicode spellings), in nanoseconds.
  static const std::vector<std::pair<std::string_view, double>> kUnits = {
      {"ns", 1},   {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"\xCE\xBCs", 1e3},
      {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    bool digits = false;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
      digits |= s[i] != '.';
      ++i;
    }
    if (!digits) return Error(bad);
    std::string number(s.substr(0, i));
    if (std::count(number.begin(), number.end(), '.') > 1) return Error(bad);
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    auto it = std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& e) { return e.first == unit; });
    if (it == kUnits.end())
      return Error(unit.empty() ? strCat(quote(text), ": missing unit (ns, us, ms, s, m, h)")
                                : strCat(quote(text), ": unknown unit ", quote(unit)));
    total += std::strtod(number.c_str(), nullptr) * it->second;
  }
  if (total > 9.2e18) return Error(strCat(quote(text), " is too large"));
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
}

// ------------------------------------------------------------------------------------------------------------
// The config file

namespace {

// KubeProxyConfiguration v1alpha1 fields nodenet accepts and ignores (their whole subtree). Present in kubeadm's
// generated config, so a migrated ConfigMap loads; listed once in a notice.
const std::set<std::string, std::less<>> kIgnoredTopLevel = {"bindAddress",
                                                             "bindAddressHardFail",
                                                             "configSyncPeriod",
                                                             "conntrack",
                                                             "detectLocal",
                                                             "enableProfiling",
                                                             "featureGates",
                                                             "iptables",
                                                             "ipvs",
                                                             "oomScoreAdj",
                                                             "portRange",
                                                             "showHiddenMetricsForVersion",
                                                             "winkernel",
                                                             "linux",
                                                             "windows"};
const std::set<std::string, std::less<>> kIgnoredClientConnection = {"acceptContentTypes", "contentType", "qps",
                                                                     "burst"};
const std::set<std::string, std::less<>> kIgnoredLogging = {"flushFrequency", "options", "vmodule"};

std::string jsonTypeName(const json& j) {
  if (j.is_string()) return strCat("string ", j.dump());
  if (j.is_boolean()) return strCat("boolean ", j.dump());
  if (j.is_number()) return strCat("number ", j.dump());
  if (j.is_array()) return "a list";
  if (j.is_object()) return "a mapping";
  return j.type_name();
}

// Typed field readers: null means absent (Go's decoder leaves the field at its zero value); a value of the wrong
// type is an error naming the field path.
class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  Error fieldError(const std::string& path, const std::string& what) const {
    return Error(strCat(name_, ": ", path, ": ", what));
  }
  Status string(const json& obj, const char* key, const std::string& path, std::optional<std::string>& out) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return okStatus();
    if (!it->is_string()) return fieldError(path, strCat("expected a string, got ", jsonTypeName(*it)));
    out = it->get<std::string>();
    return okStatus();
  }
  Status boolean(const json& obj, const char* key, const std::string& path, std::optional<bool>& out) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return okStatus();
    if (!it->is_boolean()) return fieldError(path, strCat("expected true or false, got ", jsonTypeName(*it)));
    out = it->get<bool>();
    return okStatus();
  }
  Status integer(const json& obj, const char* key, const std::string& path, std::optional<int64_t>& out) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return okStatus();
    if (!it->is_number_integer()) return fieldError(path, strCat("expected an integer, got ", jsonTypeName(*it)));
    out = it->get<int64_t>();
    return okStatus();
  }
  Status stringList(const json& obj, const char* key, const std::string& path,
                    std::optional<std::vector<std::string>>& out) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return okStatus();
    if (!it->is_array()) return fieldError(path, strCat("expected a list of strings, got ", jsonTypeName(*it)));
    std::vector<std::string> v;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      if (!e.is_string())
        return fieldError(strCat(path, "[", i, "]"), strCat("expected a string, got ", jsonTypeName(e)));
      v.push_back(e.get<std::string>());
    }
    out = std::move(v);
    return okStatus();
  }
  /// A nested mapping (absent/null = empty).
  Result<const json*> mapping(const json& obj, const char* key, const std::string& path) const {
    static const json kEmpty = json::object();
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return &kEmpty;
    if (!it->is_object()) return fieldError(path, strCat("expected a mapping, got ", jsonTypeName(*it)));
    return &*it;
  }

 private:
  std::string name_;
};

}  // namespace

Result<ConfigFile> parseConfigFile(std::string_view text, const std::string& name) {
  auto docs = kube::manifests::yamlToJson(text);
  if (!docs.ok()) return docs.error().context(name);
  if (docs->empty()) return Error(strCat(name, ": empty file (expected a KubeProxyConfiguration)"));
  if (docs->size() > 1)
    return Error(strCat(name, ": ", docs->size(), " YAML documents (expected one KubeProxyConfiguration)"));
  const json& root = docs->front().json;
  Reader r(name);
  if (!root.is_object()) return r.fieldError("(top level)", strCat("expected a mapping, got ", jsonTypeName(root)));

  std::optional<std::string> apiVersion, kind;
  NN_TRY(r.string(root, "apiVersion", "apiVersion", apiVersion));
  NN_TRY(r.string(root, "kind", "kind", kind));
  if (!kind) return r.fieldError("kind", "missing (expected KubeProxyConfiguration)");
  if (*kind != "KubeProxyConfiguration")
    return r.fieldError("kind", strCat(quote(*kind), " is not KubeProxyConfiguration"));
  if (!apiVersion) return r.fieldError("apiVersion", strCat("missing (expected ", kApiVersion, ")"));
  if (*apiVersion != kApiVersion)
    return r.fieldError("apiVersion", strCat(quote(*apiVersion), " is not supported (expected ", kApiVersion, ")"));

  ConfigFile out;
  static const std::set<std::string, std::less<>> kKnownTopLevel = {"apiVersion",
                                                                    "kind",
                                                                    "clientConnection",
                                                                    "hostnameOverride",
                                                                    "clusterCIDR",
                                                                    "nodePortAddresses",
                                                                    "healthzBindAddress",
                                                                    "metricsBindAddress",
                                                                    "mode",
                                                                    "nftables",
                                                                    "detectLocalMode",
                                                                    "logging"};
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (kKnownTopLevel.count(it.key())) continue;
    if (kIgnoredTopLevel.count(it.key()))
      out.ignoredFields.push_back(it.key());
    else
      out.unknownFields.push_back(it.key());
  }

  NN_ASSIGN_OR_RETURN(const json* client, r.mapping(root, "clientConnection", "clientConnection"));
  for (auto it = client->begin(); it != client->end(); ++it) {
    if (it.key() == "kubeconfig") continue;
    (kIgnoredClientConnection.count(it.key()) ? out.ignoredFields : out.unknownFields)
        .push_back("clientConnection." + it.key());
  }
  NN_TRY(r.string(*client, "kubeconfig", "clientConnection.kubeconfig", out.kubeconfig));

  NN_TRY(r.string(root, "hostnameOverride", "hostnameOverride", out.hostnameOverride));
  NN_TRY(r.string(root, "clusterCIDR", "clusterCIDR", out.clusterCIDR));
  NN_TRY(r.stringList(root, "nodePortAddresses", "nodePortAddresses", out.nodePortAddresses));
  NN_TRY(r.string(root, "healthzBindAddress", "healthzBindAddress", out.healthzBindAddress));
  NN_TRY(r.string(root, "metricsBindAddress", "metricsBindAddress", out.metricsBindAddress));

  std::optional<std::string> mode;
  NN_TRY(r.string(root, "mode", "mode", mode));
  if (mode && !mode->empty() && *mode != "nftables")
    return r.fieldError("mode", strCat(quote(*mode),
                                       " is not supported: nodenet-proxy implements the \"nftables\" "
                                       "mode only (leave mode empty or set it to \"nftables\")"));

  std::optional<std::string> detectLocalMode;
  NN_TRY(r.string(root, "detectLocalMode", "detectLocalMode", detectLocalMode));
  if (detectLocalMode && !detectLocalMode->empty() && *detectLocalMode != "ClusterCIDR")
    return r.fieldError(
        "detectLocalMode",
        strCat(quote(*detectLocalMode), " is not supported: nodenet-proxy detects local traffic by ClusterCIDR only"));

  NN_ASSIGN_OR_RETURN(const json* nft, r.mapping(root, "nftables", "nftables"));
  static const std::set<std::string, std::less<>> kKnownNft = {"masqueradeAll", "masqueradeBit", "syncPeriod",
                                                               "minSyncPeriod"};
  for (auto it = nft->begin(); it != nft->end(); ++it)
    if (!kKnownNft.count(it.key())) out.unknownFields.push_back("nftables." + it.key());
  NN_TRY(r.boolean(*nft, "masqueradeAll", "nftables.masqueradeAll", out.masqueradeAll));
  NN_TRY(r.integer(*nft, "masqueradeBit", "nftables.masqueradeBit", out.masqueradeBit));
  NN_TRY(r.string(*nft, "syncPeriod", "nftables.syncPeriod", out.syncPeriod));
  NN_TRY(r.string(*nft, "minSyncPeriod", "nftables.minSyncPeriod", out.minSyncPeriod));

  NN_ASSIGN_OR_RETURN(const json* logging, r.mapping(root, "logging", "logging"));
  for (auto it = logging->begin(); it != logging->end(); ++it) {
    if (it.key() == "format" || it.key() == "verbosity") continue;
    (kIgnoredLogging.count(it.key()) ? out.ignoredFields : out.unknownFields).push_back("logging." + it.key());
  }
  NN_TRY(r.string(*logging, "format", "logging.format", out.loggingFormat));
  NN_TRY(r.integer(*logging, "verbosity", "logging.verbosity", out.verbosity));
  return out;
}

// ------------------------------------------------------------------------------------------------------------
// Flags

namespace {

enum class FlagKind { String, Bool, Int, StringSlice, Help };

struct FlagSpec {
  std::string_view name;
  FlagKind kind;
  std::string_view help;
};

const std::vector<FlagSpec>& flagSpecs() {
  static const std::vector<FlagSpec> kFlags = {
      {"kubeconfig", FlagKind::String, "Path to a kubeconfig file with the API server and credentials."},
      {"master", FlagKind::String, "The address of the Kubernetes API server (overrides any value in the kubeconfig)."},
      {"manifests", FlagKind::String,
       "A directory of Service/EndpointSlice/Node manifests (YAML or JSON, watched with inotify) to use instead "
       "of an API server."},
      {"hostname-override", FlagKind::String,
       "The name of this node (default: the hostname). Decides which endpoints are local."},
      {"cluster-cidr", FlagKind::String,
       "The pod CIDR range(s) of the cluster, comma-separated (one per IP family). Traffic to a ClusterIP from "
       "outside them is masqueraded. Empty: no such rule."},
      {"nodeport-addresses", FlagKind::StringSlice,
       "Where NodePorts are accepted: CIDRs (comma-separated, repeatable), or \"primary\" (the node's primary "
       "address of each family). Default: every local address."},
      {"masquerade-all", FlagKind::Bool, "Masquerade all traffic sent to Service ClusterIPs."},
      {"healthz-bind-address", FlagKind::String,
       "IP[:PORT] for the health check server (/healthz, /livez) (default 0.0.0.0:10256; empty disables)."},
      {"metrics-bind-address", FlagKind::String,
       "IP[:PORT] for the Prometheus /metrics server (default 127.0.0.1:10249; empty disables)."},
      {"config", FlagKind::String,
       "A KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1). Flags given explicitly override it."},
      {"proxy-mode", FlagKind::String, "Only \"nftables\" (the default) is implemented."},
      {"cleanup", FlagKind::Bool, "Remove nodenet's nftables tables (ip nodenet, ip6 nodenet) and exit."},
      {"v", FlagKind::Int, "Log verbosity (klog levels; 2 = one line per sync, 9 = the rules of each sync)."},
      {"logging-format", FlagKind::String, "Log format: \"text\" (klog lines, the default) or \"json\"."},
      {"help", FlagKind::Help, "Print this help and exit."},
  };
  return kFlags;
}

const FlagSpec* findFlag(std::string_view name) {
  for (const auto& f : flagSpecs())
    if (f.name == name) return &f;
  return nullptr;
}

struct ParsedFlags {
  std::map<std::string, std::string, std::less<>> values;  // last value of each String/Int/Bool flag
  std::vector<std::string> nodePortAddresses;              // StringSlice: each use appends, like pflag
  bool help = false;
  bool has(std::string_view name) const { return values.count(name) || (name == "nodeport-addresses" && sliceSet); }
  const std::string* get(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  bool sliceSet = false;
};

Result<bool> parseBool(std::string_view flag, std::string_view v) {
  // pflag's strconv.ParseBool spellings.
  static const std::set<std::string_view> kTrue = {"1", "t", "T", "true", "TRUE", "True"};
  static const std::set<std::string_view> kFalse = {"0", "f", "F", "false", "FALSE", "False"};
  if (kTrue.count(v)) return true;
  if (kFalse.count(v)) return false;
  return Error(strCat("--", flag, ": invalid boolean ", quote(v)));
}

Result<ParsedFlags> parseFlags(const std::vector<std::string>& args) {
  ParsedFlags out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") {
      if (i + 1 < args.size()) return Error(strCat("unexpected argument ", quote(args[i + 1])));
      break;
    }
    if (a == "-h") a = "--help";
    std::string_view body;
    if (startsWith(a, "--"))
      body = a.substr(2);
    else if (startsWith(a, "-v"))  // pflag's shorthand for --v: "-v 4", "-v=4", "-v4"
      body = a.size() > 2 && a[2] != '=' ? std::string_view() : a.substr(1);
    else
      return Error(strCat("unexpected argument ", quote(a), " (flags start with --)"));
    std::string shortValue;
    if (body.empty()) {  // "-v4"
      body = "v";
      shortValue = std::string(a.substr(2));
    }
    std::string_view name = body;
    std::optional<std::string> value;
    if (!shortValue.empty()) value = shortValue;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = std::string(body.substr(eq + 1));
    }
    const FlagSpec* spec = findFlag(name);
    if (spec == nullptr) return Error(strCat("unknown flag: --", name, " (see --help)"));
    switch (spec->kind) {
      case FlagKind::Help:
        out.help = true;
        continue;
      case FlagKind::Bool: {
        // A boolean flag never consumes the next argument (pflag's NoOptDefVal): "--cleanup=false" only.
        NN_ASSIGN_OR_RETURN(bool b, parseBool(name, value.value_or("true")));
        out.values[std::string(name)] = b ? "true" : "false";
        continue;
      }
      default:
        break;
    }
    if (!value) {
      if (i + 1 >= args.size()) return Error(strCat("flag needs an argument: --", name));
      value = args[++i];
    }
    if (spec->kind == FlagKind::Int) {
      int v = 0;
      auto [p, ec] = std::from_chars(value->data(), value->data() + value->size(), v);
      if (value->empty() || ec != std::errc() || p != value->data() + value->size() || v < 0)
        return Error(strCat("--", name, ": ", quote(*value), " is not a non-negative integer"));
    }
    if (spec->kind == FlagKind::StringSlice) {
      out.sliceSet = true;
      for (const std::string& part : split(*value, ',')) out.nodePortAddresses.emplace_back(trim(part));
      continue;
    }
    out.values[std::string(name)] = *value;
  }
  return out;
}

Result<std::vector<Cidr>> parseClusterCIDRs(std::string_view text, const std::string& origin) {
  std::vector<Cidr> out;
  for (const std::string& raw : split(text, ',')) {
    std::string_view v = trim(raw);
    if (v.empty()) continue;
    auto c = Cidr::parse(v);
    if (!c.ok()) return Error(strCat(origin, ": ", quote(v), " is not a CIDR"));
    out.push_back(c->masked());
  }
  return out;
}

Result<rules::NodePortAddresses> validateNodePortAddresses(const std::vector<std::string>& values,
                                                           const std::string& origin) {
  std::vector<std::string> nonEmpty;
  for (const auto& v : values)
    if (!trim(v).empty()) nonEmpty.emplace_back(trim(v));
  for (const auto& v : nonEmpty) {
    if (toLower(v) == "primary" && nonEmpty.size() > 1)
      return Error(strCat(origin, ": \"primary\" cannot be combined with CIDRs"));
    if (toLower(v) != "primary" && !Cidr::parse(v).ok())
      return Error(strCat(origin, ": ", quote(v), " is neither a CIDR nor \"primary\""));
  }
  return rules::parseNodePortAddresses(nonEmpty);
}

// A value with where it came from, so errors name the flag or the config field.
template <typename T>
struct Sourced {
  T value;
  std::string origin;
};

}  // namespace

Result<Options> loadOptions(const std::vector<std::string>& args, const ReadFileFn& readFile,
                            const std::string& hostname) {
  NN_ASSIGN_OR_RETURN(ParsedFlags flags, parseFlags(args));
  Options o;
  if (flags.help) {
    o.help = true;
    return o;
  }

  ConfigFile cf;
  std::string cfName;
  if (const std::string* path = flags.get("config"); path && !path->empty()) {
    o.configFile = *path;
    cfName = *path;
    auto text = readFile(*path);
    if (!text.ok()) return text.error().context(strCat("--config ", *path));
    NN_ASSIGN_OR_RETURN(cf, parseConfigFile(*text, cfName));
    for (const auto& f : cf.unknownFields)
      o.warnings.push_back(strCat(cfName, ": unknown field ", quote(f), " ignored (lenient decoding, as kube-proxy)"));
    if (!cf.ignoredFields.empty())
      o.notices.push_back(
          strCat(cfName, ": fields nodenet-proxy does not implement are ignored: ", join(cf.ignoredFields, ", ")));
  }

  // Precedence: an explicit flag, else the config file's field, else the default (nullopt).
  auto pick = [&](std::string_view flag, const std::optional<std::string>& field,
                  std::string_view fieldName) -> std::optional<Sourced<std::string>> {
    const std::string* f = flags.get(flag);
    if (f) {
      if (field && *field != *f)
        o.notices.push_back(strCat("--", flag, "=", *f, " overrides ", cfName, ": ", fieldName, "=", *field));
      return Sourced<std::string>{*f, strCat("--", flag)};
    }
    if (field) return Sourced<std::string>{*field, strCat(cfName, ": ", fieldName)};
    return std::nullopt;
  };

  if (auto v = pick("kubeconfig", cf.kubeconfig, "clientConnection.kubeconfig")) o.kubeconfig = v->value;
  if (const std::string* m = flags.get("master")) o.master = *m;
  if (const std::string* m = flags.get("manifests")) o.manifestsDir = *m;
  if (!o.manifestsDir.empty()) {
    if (flags.get("kubeconfig") || flags.get("master"))
      return Error("--manifests cannot be combined with --kubeconfig or --master (choose one source)");
    if (!o.kubeconfig.empty())
      o.notices.push_back(strCat("--manifests is the source; ", cfName, ": clientConnection.kubeconfig is unused"));
    o.kubeconfig.clear();
  }

  if (const std::string* mode = flags.get("proxy-mode"); mode && !mode->empty() && *mode != "nftables")
    return Error(strCat("--proxy-mode: ", quote(*mode),
                        " is not supported: nodenet-proxy implements the \"nftables\" mode only"));

  // Node name: kube-proxy's GetHostname (override or os.Hostname, trimmed, lower-cased, must not be empty).
  if (auto v = pick("hostname-override", cf.hostnameOverride, "hostnameOverride"); v && !trim(v->value).empty()) {
    o.nodeName = toLower(trim(v->value));
  } else {
    o.nodeName = toLower(trim(hostname));
    // --cleanup needs no node name (it only deletes our tables).
    const std::string* cleanup = flags.get("cleanup");
    if (o.nodeName.empty() && !(cleanup && *cleanup == "true"))
      return Error("the hostname is empty: set --hostname-override to the Node's name");
  }

  if (auto v = pick("cluster-cidr", cf.clusterCIDR, "clusterCIDR")) {
    NN_ASSIGN_OR_RETURN(o.clusterCIDRs, parseClusterCIDRs(v->value, v->origin));
  }

  {
    Sourced<std::vector<std::string>> npa{{}, ""};
    if (flags.sliceSet) {
      npa = {flags.nodePortAddresses, "--nodeport-addresses"};
      if (cf.nodePortAddresses && *cf.nodePortAddresses != flags.nodePortAddresses)
        o.notices.push_back(strCat("--nodeport-addresses overrides ", cfName, ": nodePortAddresses"));
    } else if (cf.nodePortAddresses) {
      npa = {*cf.nodePortAddresses, strCat(cfName, ": nodePortAddresses")};
    }
    NN_ASSIGN_OR_RETURN(o.nodePortAddresses, validateNodePortAddresses(npa.value, npa.origin));
    for (const auto& v : npa.value)
      if (!trim(v).empty()) o.nodePortAddressText.emplace_back(trim(v));
  }

  if (const std::string* f = flags.get("masquerade-all")) {
    o.masqueradeAll = *f == "true";
  } else if (cf.masqueradeAll) {
    o.masqueradeAll = *cf.masqueradeAll;
  }
  if (cf.masqueradeBit) {
    if (*cf.masqueradeBit < 0 || *cf.masqueradeBit > 31)
      return Error(strCat(cfName, ": nftables.masqueradeBit: ", *cf.masqueradeBit, " is not in the range 0-31"));
    o.masqueradeBit = static_cast<unsigned>(*cf.masqueradeBit);
  }
  if (cf.syncPeriod) {
    auto d = parseGoDuration(*cf.syncPeriod);
    if (!d.ok()) return d.error().context(strCat(cfName, ": nftables.syncPeriod"));
    if (d->count() > 0) o.syncPeriod = *d;  // 0 = unset: the v1alpha1 default (30s) applies
  }
  if (cf.minSyncPeriod) {
    auto d = parseGoDuration(*cf.minSyncPeriod);
    if (!d.ok()) return d.error().context(strCat(cfName, ": nftables.minSyncPeriod"));
    o.minSyncPeriod = *d;  // 0 is meaningful: sync at once
  }
  if (o.minSyncPeriod > o.syncPeriod)
    return Error(strCat(cfName, ": nftables.syncPeriod must be greater than or equal to nftables.minSyncPeriod"));

  // Bind addresses: an explicit empty flag disables the server; an empty config field means the default (the
  // v1alpha1 defaulting does that), a bare IP gets the default port.
  auto bind = [&](std::string_view flag, const std::optional<std::string>& field, std::string_view fieldName,
                  uint16_t port, std::optional<BindAddress>& out) -> Status {
    auto v = pick(flag, field, fieldName);
    if (!v) return okStatus();
    if (!flags.get(flag) && trim(v->value).empty()) return okStatus();
    auto b = parseBindAddress(v->value, port);
    if (!b.ok()) return b.error().context(v->origin);
    out = *b;
    return okStatus();
  };
  NN_TRY(bind("healthz-bind-address", cf.healthzBindAddress, "healthzBindAddress", kHealthzPort, o.healthzBindAddress));
  NN_TRY(bind("metrics-bind-address", cf.metricsBindAddress, "metricsBindAddress", kMetricsPort, o.metricsBindAddress));

  if (const std::string* v = flags.get("v")) {
    o.verbosity = std::stoi(*v);  // validated by parseFlags
  } else if (cf.verbosity) {
    if (*cf.verbosity < 0 || *cf.verbosity > 100)
      return Error(strCat(cfName, ": logging.verbosity: ", *cf.verbosity, " is not in the range 0-100"));
    o.verbosity = static_cast<int>(*cf.verbosity);
  }
  if (auto v = pick("logging-format", cf.loggingFormat, "logging.format"); v && !v->value.empty()) {
    if (v->value == "text")
      o.loggingFormat = log::Format::Text;
    else if (v->value == "json")
      o.loggingFormat = log::Format::Json;
    else
      return Error(strCat(v->origin, ": ", quote(v->value), " is not a log format (text or json)"));
  }
  if (const std::string* c = flags.get("cleanup")) o.cleanup = *c == "true";
  return o;
}

std::string usage() {
  std::string out =
      "Usage: nodenet-proxy [flags]\n"
      "\n"
      "The Kubernetes Service proxy of a node: Services and EndpointSlices (from the API server, or from a\n"
      "manifest directory) to nftables rules in the tables \"ip nodenet\" and \"ip6 nodenet\", programmed\n"
      "through netlink. Accepts kube-proxy's flag names for what it implements.\n"
      "\n"
      "Flags:\n";
  for (const auto& f : flagSpecs()) {
    std::string head = strCat("  --", f.name);
    if (f.kind == FlagKind::String || f.kind == FlagKind::StringSlice) head += " string";
    if (f.kind == FlagKind::Int) head += " int";
    if (f.name == "help") head = "  -h, --help";
    if (f.name == "v") head = "  -v, --v int";
    out += head + "\n      " + std::string(f.help) + "\n";
  }
  out +=
      "\n"
      "Source: --manifests DIR, else --kubeconfig (with --master overriding its server), else --master alone,\n"
      "else the in-cluster service account. On SIGTERM/SIGINT the rules stay in place; --cleanup removes them.\n";
  return out;
}

rules::Config rulesConfig(const Options& options, IpFamily family) {
  rules::Config c;
  c.family = family;
  c.clusterCIDRs = options.clusterCIDRs;
  c.masqueradeAll = options.masqueradeAll;
  c.nodePortAddresses = options.nodePortAddresses;
  c.masqueradeBit = options.masqueradeMark();
  return c;
}

}  // namespace nodenet::proxy::daemon
