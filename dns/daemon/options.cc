#include "dns/daemon/options.h"

#include <charconv>
#include <functional>
#include <map>

namespace nodenet::dns::daemon {

namespace {

Result<uint64_t> parseUint(std::string_view flag, std::string_view v, uint64_t min, uint64_t max) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < min || n > max)
    return Error(std::string(flag) + ": expected an integer " + std::to_string(min) + "-" + std::to_string(max) +
                 ", got \"" + std::string(v) + "\"");
  return n;
}

}  // namespace

Result<size_t> parseByteSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  const std::string_view num = text.substr(0, i), unit = text.substr(i);
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
  const uint64_t mult = unit.empty() ? 1 : unit == "Ki" ? 1024 : unit == "Mi" ? 1024 * 1024 : 0;
  constexpr uint64_t kMax = uint64_t{1} << 40;
  if (num.empty() || ec != std::errc() || p != num.data() + num.size() || mult == 0 || n > kMax / mult)
    return Error("expected a size in bytes such as 2Mi, 512Ki or 1048576, got \"" + std::string(text) + "\"");
  return static_cast<size_t>(n * mult);
}

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  std::string_view num = text, unit;
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  num = text.substr(0, i);
  unit = text.substr(i);
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
  if (num.empty() || ec != std::errc() || p != num.data() + num.size() || n > 86400000)
    return Error("expected a duration such as 10s or 500ms, got \"" + std::string(text) + "\"");
  if (unit.empty() || unit == "s") return std::chrono::milliseconds(n * 1000);
  if (unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "m") return std::chrono::milliseconds(n * 60000);
  return Error("expected a duration such as 10s or 500ms, got \"" + std::string(text) + "\"");
}

Result<Options> parseOptions(const std::vector<std::string>& args) {
  Options o;
  bool listenGiven = false;
  using Setter = std::function<Status(const std::string& flag, const std::string& v)>;
  const std::map<std::string, Setter> flags = {
      {"--listen",
       [&](const std::string& f, const std::string& v) -> Status {
         auto a = server::parseListenAddress(v);
         if (!a.ok()) return a.error().context(f);
         if (!listenGiven) o.listen.clear();
         listenGiven = true;
         for (const auto& l : o.listen)
           if (l == *a) return Error(f + ": " + a->toString() + " given twice");
         o.listen.push_back(*a);
         return okStatus();
       }},
      {"--zone",
       [&](const std::string& f, const std::string& v) -> Status {
         if (v.empty() || v == ".") return Error(f + ": the cluster domain must not be empty or the root");
         o.zone = v;  // validated as a domain name when the index is built (records::buildIndex)
         return okStatus();
       }},
      {"--ttl",
       [&](const std::string& f, const std::string& v) -> Status {
         NN_ASSIGN_OR_RETURN(o.ttl, parseUint(f, v, 0, 3600));
         return okStatus();
       }},
      {"--threads",
       [&](const std::string& f, const std::string& v) -> Status {
         NN_ASSIGN_OR_RETURN(o.threads, parseUint(f, v, 1, 256));
         return okStatus();
       }},
      {"--max-udp-size",
       [&](const std::string& f, const std::string& v) -> Status {
         NN_ASSIGN_OR_RETURN(o.maxUdpSize, parseUint(f, v, 512, 4096));
         return okStatus();
       }},
      {"--tcp-idle-timeout",
       [&](const std::string& f, const std::string& v) -> Status {
         auto d = parseDuration(v);
         if (!d.ok()) return d.error().context(f);
         if (d->count() == 0) return Error(f + ": must be positive");
         o.tcpIdleTimeout = *d;
         return okStatus();
       }},
      {"--answer-cache-size",
       [&](const std::string& f, const std::string& v) -> Status {
         auto n = parseByteSize(v);
         if (!n.ok()) return n.error().context(f);
         o.answerCacheBytes = *n;
         return okStatus();
       }},
      {"--max-tcp-connections",
       [&](const std::string& f, const std::string& v) -> Status {
         NN_ASSIGN_OR_RETURN(o.maxTcpConnections, parseUint(f, v, 1, 1000000));
         return okStatus();
       }},
      {"--upstream",
       [&](const std::string& f, const std::string& v) -> Status {
         if (v == "none") {
           o.upstreamNone = true;
         } else {
           auto a = server::parseUpstreamAddress(v);
           if (!a.ok()) return a.error().context(f);
           o.upstreams.push_back(*a);
         }
         if (o.upstreamNone && !o.upstreams.empty())
           return Error(f + ": \"none\" cannot be combined with upstream servers");
         return okStatus();
       }},
      {"--resolv-conf",
       [&](const std::string& f, const std::string& v) -> Status {
         if (v.empty()) return Error(f + ": empty path");
         o.resolvConf = v;
         return okStatus();
       }},
      {"--upstream-timeout",
       [&](const std::string& f, const std::string& v) -> Status {
         auto d = parseDuration(v);
         if (!d.ok()) return d.error().context(f);
         if (d->count() == 0) return Error(f + ": must be positive");
         o.upstreamTimeout = *d;
         return okStatus();
       }},
      {"--cache-size",
       [&](const std::string& f, const std::string& v) -> Status {
         NN_ASSIGN_OR_RETURN(o.cacheSize, parseUint(f, v, 0, 10000000));
         return okStatus();
       }},
      {"--cache-max-ttl",
       [&](const std::string& f, const std::string& v) -> Status {
         NN_ASSIGN_OR_RETURN(o.cacheMaxTtl, parseUint(f, v, 1, 86400));
         return okStatus();
       }},
      {"--kubeconfig",
       [&](const std::string&, const std::string& v) -> Status {
         o.kubeconfig = v;
         return okStatus();
       }},
      {"--master",
       [&](const std::string&, const std::string& v) -> Status {
         o.master = v;
         return okStatus();
       }},
      {"--manifests",
       [&](const std::string& f, const std::string& v) -> Status {
         if (v.empty()) return Error(f + ": empty directory");
         o.manifestsDir = v;
         return okStatus();
       }},
      {"--v",
       [&](const std::string& f, const std::string& v) -> Status {
         NN_ASSIGN_OR_RETURN(o.verbosity, parseUint(f, v, 0, 10));
         return okStatus();
       }},
      {"--logging-format",
       [&](const std::string& f, const std::string& v) -> Status {
         if (v == "text")
           o.loggingFormat = log::Format::Text;
         else if (v == "json")
           o.loggingFormat = log::Format::Json;
         else
           return Error(f + ": expected \"text\" or \"json\", got \"" + v + "\"");
         return okStatus();
       }},
  };

  o.listen.push_back({IpAddress::v4(0), server::kDnsPort});
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
      continue;
    }
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      if (a.size() >= 2 && a[0] == '-' && a[1] != '-') {
        // pflag also accepts "-v=4"; take the single-dash spelling of our long flags.
      } else {
        return Error("unexpected argument \"" + a + "\" (flags start with --; see --help)");
      }
    }
    std::string name = a, value;
    bool hasValue = false;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      hasValue = true;
    }
    if (name.size() >= 2 && name[0] == '-' && name[1] != '-') name = "-" + name;
    auto it = flags.find(name);
    if (it == flags.end()) return Error("unknown flag " + name + " (see --help)");
    if (!hasValue) {
      if (i + 1 >= args.size()) return Error(name + ": missing value");
      value = args[++i];
    }
    NN_TRY(it->second(name, value));
  }
  int sources = !o.manifestsDir.empty() + !o.kubeconfig.empty();
  if (sources > 1) return Error("--manifests and --kubeconfig are exclusive: pick one source");
  if (!o.manifestsDir.empty() && !o.master.empty())
    return Error("--manifests and --master are exclusive: pick one source");
  return o;
}

std::string usage() {
  return R"(nodenet-dns: cluster DNS (Kubernetes DNS-based service discovery 1.1.0) from Services and EndpointSlices

Usage: nodenet-dns [flags]

Source (one of; none = the in-cluster service account):
  --manifests DIR            a directory of Service/EndpointSlice YAML/JSON manifests (watched with inotify)
  --kubeconfig FILE          the API server from a kubeconfig
  --master URL               the API server URL (overrides the kubeconfig's server)

Serving:
  --listen ADDR:PORT         UDP and TCP listen address, repeatable; IPv6 as [::1]:53 (default 0.0.0.0:53)
  --zone DOMAIN              cluster domain (default cluster.local)
  --ttl SECONDS              TTL of every answer and the negative-caching TTL, 0-3600 (default 5)
  --threads N                UDP receiver threads per address, and TCP workers; above 1 their sockets share
                             each address with SO_REUSEPORT (default: number of CPUs)
  --max-udp-size BYTES       largest UDP answer, whatever the client's EDNS size says, 512-4096 (default 1232)
  --tcp-idle-timeout DUR     close TCP connections idle this long (default 10s)
  --max-tcp-connections N    TCP connections open at once (default 1024)
  --answer-cache-size SIZE   composed cluster answers kept for repeated UDP queries, over all threads
                             (default 2Mi; 0 disables); emptied whenever the records change

Names outside the zone:
  --upstream ADDR[:PORT]     forward to this server, repeatable ([V6]:PORT); "none": answer REFUSED
  --resolv-conf PATH         without --upstream, forward to its nameservers (default /etc/resolv.conf);
                             no usable nameserver there means REFUSED
  --upstream-timeout DUR     time per try (default 2s; two rounds over the servers, then SERVFAIL)
  --cache-size N             cached upstream answers (default 10000; 0 disables)
  --cache-max-ttl SECONDS    longest time an upstream answer is cached (default 300)

Logging:
  --v N                      verbosity (klog)
  --logging-format FORMAT    text (default) or json
)";
}

}  // namespace nodenet::dns::daemon
