// proxy_dataplane_bench: what the proxy's rules cost a new connection. Root only; everything runs in our own
// namespaces (the integration topology, integration/proxy/proxy_env.h, prefix nnb-proxy-).
//
// Two copies of the topology exist at the same time, each with its own node namespace, proxy and rules:
//   small  10 Services installed           large  --services (10,000) Services installed
// In each, a client pod opens new TCP connections back to back (connect, short HTTP request, read the reply,
// close: `nn-echo http-loop`) to one backend pod, to its ClusterIP and to its pod IP directly. That gives four
// cases: direct-10, clusterip-10, direct-10k, clusterip-10k. A round measures all four back to back (COUNT
// connections each, the order rotated every round), so machine drift (other jobs) hits every case alike; every
// ratio is the median over rounds of the per-round ratio:
//   10k/10               clusterip-10k / clusterip-10      (target <= 1.05)
//   clusterip/direct     clusterip-10k / direct-10k        (target <= 1.10)
//   control              direct-10k / direct-10 (the two copies differ only in the rules: should be ~1)
// Latency = median over rounds of the per-round p50 / p99; rate = connections per second of one client.
// It also lists, per chain that both tables share, the rule count: a chain that grows with the Services and
// sits on the packet path would be a linear walk (dispatch must be verdict-map lookups only).
//
// The rules come from the real daemon (build/bin/nodenet-proxy, fed by the fake API server), or with
// --rules from proxy/rules + NetlinkKernel applied by this program (no daemon).
//
// --chain-layout: --rules with kube-proxy's chain per Service and endpoint instead of the endpoint maps.
// Usage: proxy_dataplane_bench [--rules] [--chain-layout] [--rounds N] [--count N] [--services N] [--dump-rules FILE] [--json]
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <ctime>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "integration/harness/paths.h"
#include "integration/harness/process.h"
#include "integration/proxy/proxy_env.h"

using namespace nodenet;
using namespace nodenet::itest;
using namespace nodenet::itest::proxy;
using nlohmann::json;

namespace {

struct Round {
  double p50 = 0, p99 = 0, rate = 0;
  int failed = 0;
};

/// Failed connections by error text, over the whole run (printed at the end).
std::map<std::string, int> gErrors;

struct Figures {
  double p50 = 0, p99 = 0, rate = 0;
  int failed = 0;
  int rounds = 0;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Figures summarize(const std::vector<Round>& rounds) {
  Figures f;
  std::vector<double> a, b, c;
  for (const auto& r : rounds) {
    a.push_back(r.p50);
    b.push_back(r.p99);
    c.push_back(r.rate);
    f.failed += r.failed;
  }
  f.p50 = median(a);
  f.p99 = median(b);
  f.rate = median(c);
  f.rounds = static_cast<int>(rounds.size());
  return f;
}

Result<Round> measure(const TestNetns& client, const std::string& to, int count) {
  RunOptions ro;
  ro.timeout = std::chrono::seconds(60);
  NN_ASSIGN_OR_RETURN(RunResult r, client.exec({ProxyEnv::echoBinary(), "http-loop", "--to", to, "--count",
                                                 std::to_string(count), "--timeout-ms", "2000",
                                                 "--duration-ms", "30000", "--stats"},
                                                ro));
  json j = json::parse(r.out, nullptr, false);
  if (!j.is_object()) return Error("http-loop to " + to + ": " + r.describe());
  Round rd;
  rd.p50 = j.value("p50_us", 0.0);
  rd.p99 = j.value("p99_us", 0.0);
  rd.rate = j.value("rate", 0.0);
  rd.failed = j.value("failed", 0);
  for (auto& [k, v] : j["errors"].items()) gErrors[to + " " + k] += v.get<int>();
  if (j.value("ok", 0) == 0) return Error("http-loop to " + to + ": nothing answered: " + r.out);
  return rd;
}

/// Filler Service i (i >= 1): ClusterIP 10.97.x.y, two endpoints that are never contacted.
void addFiller(ProxyEnv& pe, int i) {
  std::string ip = strCat("10.97.", (i >> 8) & 0xff, ".", i & 0xff);
  std::string name = strCat("filler-", i);
  std::vector<PortSpec> ports = {{"http", 80, 8080}};
  (void)pe.upsertService(makeService(name, ip, ports));
  (void)pe.upsertSlice(makeSlice(name, name + "-1",
                                 {{strCat("10.86.", (i >> 6) & 0xff, ".", (i & 0x3f) * 2 + 1)},
                                  {strCat("10.86.", (i >> 6) & 0xff, ".", (i & 0x3f) * 2 + 2)}},
                                 ports));
}

/// Waits until the ClusterIP answers through the probe service `probeIp` (added after everything else).
bool waitProbe(ProxyEnv& pe, const TestNetns& client, const std::string& probeIp, std::chrono::seconds timeout) {
  return ProxyEnv::eventually([&] { return pe.curl(client, "http://" + probeIp + ":80/", 1.0).ok(); }, timeout,
                              std::chrono::milliseconds(50));
}

/// The four cases of a round.
enum Case { kDirect10, kCip10, kDirectBig, kCipBig, kCases };

/// Median over rounds of num[i].x / den[i].x (both measured in the same round).
template <typename F>
double pairedRatio(const std::vector<Round>& num, const std::vector<Round>& den, F f) {
  std::vector<double> r;
  for (size_t i = 0; i < num.size() && i < den.size(); ++i)
    if (f(den[i]) > 0 && f(num[i]) > 0) r.push_back(f(num[i]) / f(den[i]));
  return median(r);
}

void row(const std::string& name, const Figures& f) {
  std::printf("%-18s %10.1f %10.1f %12.0f %8d %7d\n", name.c_str(), f.p50, f.p99, f.rate, f.failed, f.rounds);
}

/// Rule lines per chain of an `nft list table` dump (set/map elements and the chain's type line not counted).
std::map<std::string, int> chainSizes(const std::string& dump) {
  std::map<std::string, int> out;
  std::istringstream in(dump);
  std::string line, chain;
  int depth = 0;
  for (; std::getline(in, line);) {
    std::string t(trim(line));
    if (t.rfind("chain ", 0) == 0 && t.back() == '{') {
      chain = t.substr(6, t.size() - 8);
      out[chain] = 0;
      depth = 1;
      continue;
    }
    if (chain.empty()) continue;
    if (t == "}") {
      if (--depth == 0) chain.clear();
      continue;
    }
    if (t.empty()) continue;
    if (depth == 1 && t.rfind("type ", 0) != 0 && t.rfind("comment ", 0) != 0) ++out[chain];
    if (t.back() == '{') ++depth;
  }
  return out;
}

/// One copy of the topology with its backend, client and the measured Service.
struct Side {
  std::unique_ptr<ProxyEnv> env;
  Backend* srv = nullptr;
  Backend* cli = nullptr;
  std::string cip, direct;
};

/// Creates a copy with `services` Services (the measured 10.96.0.10, fillers, and the probe 10.96.0.11 added
/// last) and waits until the probe answers (every Service before it is programmed).
/// chainLayout (--chain-layout, rules mode only): kube-proxy's chain per Service and endpoint.
Result<Side> makeSide(bool rulesMode, bool chainLayout, int services, double* installSec) {
  ProxyEnvOptions o;
  o.prefix = "nnb-proxy-";
  o.mode = rulesMode ? ProxyMode::Rules : ProxyMode::Daemon;
  o.chainLayout = chainLayout;
  Side s;
  NN_ASSIGN_OR_RETURN(s.env, ProxyEnv::create(o));
  ProxyEnv& pe = *s.env;
  NN_ASSIGN_OR_RETURN(s.srv, pe.addBackend("srv"));
  NN_ASSIGN_OR_RETURN(s.cli, pe.addClient("cli"));
  const TestNetns& client = s.cli->pod->ns;
  // Many short connections from one client: use the whole ephemeral range (a namespaced sysctl, ours).
  (void)client.exec({"sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"});
  const std::string cipIp = "10.96.0.10";
  s.cip = cipIp + ":80";
  s.direct = strCat(s.srv->ip, ":", kHttpPort);
  std::vector<PortSpec> ports = {{"http", 80, kHttpPort}};
  auto t0 = std::chrono::steady_clock::now();
  NN_TRY(pe.setDeferRules(true));
  NN_TRY(pe.upsertService(makeService("bench", cipIp, ports)));
  NN_TRY(pe.upsertSlice(makeSlice("bench", "bench-1", {{s.srv->ip}}, ports)));
  for (int i = 1; i <= services - 2; ++i) addFiller(pe, i);
  NN_TRY(pe.upsertService(makeService("probe", "10.96.0.11", ports)));
  NN_TRY(pe.upsertSlice(makeSlice("probe", "probe-1", {{s.srv->ip}}, ports)));
  NN_TRY(pe.setDeferRules(false));
  if (!waitProbe(pe, client, "10.96.0.11", std::chrono::seconds(120)))
    return Error(strCat(services, " Services never answered"));
  *installSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

/// Wall-clock time of day "HH:MM:SS.mmm" (UTC), to line up with the daemon's log.
std::string nowText() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

/// The daemon's own account of its last syncs.
void printSyncs(const char* label, ProxyEnv& pe) {
  if (!pe.daemon()) return;
  std::istringstream log(pe.daemon()->log());
  std::vector<std::string> syncs;
  for (std::string line; std::getline(log, line);)
    if (line.find("sync:") != std::string::npos) syncs.push_back(line);
  size_t from = syncs.size() > 4 ? syncs.size() - 4 : 0;
  for (size_t i = from; i < syncs.size(); ++i) std::printf("daemon %s: %s\n", label, syncs[i].c_str());
}

}  // namespace

int main(int argc, char** argv) {
  bool rulesMode = false, chainLayout = false, jsonOut = false;
  int rounds = 15, count = 1500, services = 10000;
  std::string dumpPath;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--rules") rulesMode = true;
    else if (a == "--chain-layout") rulesMode = chainLayout = true;  // kube-proxy's layout, for comparison
    else if (a == "--json") jsonOut = true;
    else if (a == "--rounds") rounds = next();
    else if (a == "--count") count = next();
    else if (a == "--services") services = next();
    else if (a == "--dump-rules" && i + 1 < argc) dumpPath = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: %s [--rules] [--chain-layout] [--rounds N] [--count N] [--services N] [--dump-rules FILE] [--json]\n",
                   argv[0]);
      return 2;
    }
  }
  if (rounds < 1 || count < 10 || services < 20 || services > 60000) {
    std::fprintf(stderr, "bad --rounds/--count/--services\n");
    return 2;
  }
  if (!isRoot()) {
    std::fprintf(stderr, "proxy_dataplane_bench: needs root (creates network namespaces)\n");
    return 2;
  }
  installInterruptHandlers();
  if (!rulesMode && ::access(ProxyEnv::proxyBinary().c_str(), X_OK) != 0) {
    std::fprintf(stderr, "%s is not built; use --rules to measure proxy/rules applied directly\n",
                 ProxyEnv::proxyBinary().c_str());
    return 2;
  }
  double install10 = 0, installBig = 0;
  auto smallOr = makeSide(rulesMode, chainLayout, 10, &install10);
  if (!smallOr.ok()) {
    std::fprintf(stderr, "10-Service copy: %s\n", smallOr.error().message().c_str());
    return 1;
  }
  auto bigOr = makeSide(rulesMode, chainLayout, services, &installBig);
  if (!bigOr.ok()) {
    std::fprintf(stderr, "%d-Service copy: %s\n", services, bigOr.error().message().c_str());
    return 1;
  }
  Side& small = *smallOr;
  Side& big = *bigOr;

  // The rules on the path: every chain both tables have must be the same size in both.
  auto dumpSmall = small.env->dumpRuleset();
  auto dumpBig = big.env->dumpRuleset();
  if (!dumpSmall.ok() || !dumpBig.ok() || dumpBig->empty()) {
    std::fprintf(stderr, "cannot dump the tables\n");
    return 1;
  }
  if (!dumpPath.empty()) {
    std::ofstream out(dumpPath);
    out << *dumpBig;
  }
  size_t mapLines = 0;
  for (size_t pos = 0; (pos = dumpBig->find(" : goto service-", pos)) != std::string::npos; ++pos) ++mapLines;
  auto sizesSmall = chainSizes(*dumpSmall);
  auto sizesBig = chainSizes(*dumpBig);
  std::vector<std::string> grown;
  int sharedChains = 0;
  for (const auto& [chain, n] : sizesSmall) {
    auto it = sizesBig.find(chain);
    if (it == sizesBig.end()) continue;
    ++sharedChains;
    if (it->second != n) grown.push_back(strCat(chain, " ", n, " -> ", it->second));
  }

  const std::array<const Side*, kCases> side = {&small, &small, &big, &big};
  const std::array<bool, kCases> viaCip = {false, true, false, true};
  auto target = [&](int c) { return viaCip[c] ? side[c]->cip : side[c]->direct; };
  // Warm-up (ARP, conntrack, caches): not counted.
  for (int c = 0; c < kCases; ++c) {
    if (auto w = measure(side[c]->cli->pod->ns, target(c), std::max(100, count / 10)); !w.ok()) {
      std::fprintf(stderr, "warm-up: %s\n", w.error().message().c_str());
      return 1;
    }
  }
  std::array<std::vector<Round>, kCases> res;
  std::printf("measuring from %s\n", nowText().c_str());
  for (int i = 0; i < rounds; ++i) {
    // Rotate the order (and reverse it every other round) so no case always runs first or after another.
    for (int k = 0; k < kCases; ++k) {
      int c = (i % 2 == 0) ? (i / 2 + k) % kCases : (i / 2 + kCases - 1 - k) % kCases;
      auto r = measure(side[c]->cli->pod->ns, target(c), count);
      if (!r.ok()) {
        std::fprintf(stderr, "round %d: %s\n", i, r.error().message().c_str());
        return 1;
      }
      res[c].push_back(*r);
    }
  }
  std::printf("done at %s\n", nowText().c_str());

  std::array<Figures, kCases> f;
  for (int c = 0; c < kCases; ++c) f[c] = summarize(res[c]);
  auto p50 = [](const Round& r) { return r.p50; };
  auto p99 = [](const Round& r) { return r.p99; };
  auto rate = [](const Round& r) { return r.rate; };
  // Rates invert: time per connection = 1/rate, so num/den of time = den/num of rate.
  double r10kP50 = pairedRatio(res[kCipBig], res[kCip10], p50);
  double r10kP99 = pairedRatio(res[kCipBig], res[kCip10], p99);
  double r10kTime = pairedRatio(res[kCip10], res[kCipBig], rate);
  double rDirP50 = pairedRatio(res[kCipBig], res[kDirectBig], p50);
  double rDirP99 = pairedRatio(res[kCipBig], res[kDirectBig], p99);
  double rDirTime = pairedRatio(res[kDirectBig], res[kCipBig], rate);
  double rCtlP50 = pairedRatio(res[kDirectBig], res[kDirect10], p50);
  double rCtlTime = pairedRatio(res[kDirect10], res[kDirectBig], rate);
  double r10DirP50 = pairedRatio(res[kCip10], res[kDirect10], p50);

  const std::string bigName = strCat(services);
  std::printf("proxy data plane: new TCP connections (connect + request + reply + close), client pod -> backend pod\n");
  std::printf("rules from: %s; %d rounds x %d connections per case, the 4 cases back to back in every round\n",
              rulesMode ? "proxy/rules + NetlinkKernel (no daemon)" : "nodenet-proxy (fake API server)", rounds, count);
  std::printf("installed: 10 Services in %.2f s, %d Services in %.2f s (until the probe answered; service-ips "
              "elements: %zu)\n",
              install10, services, installBig, mapLines);
  std::printf("chains in both tables: %d; rule count differs in: %s\n", sharedChains,
              grown.empty() ? "none" : join(grown, ", ").c_str());
  std::printf("%-18s %10s %10s %12s %8s %7s\n", "case", "p50 us", "p99 us", "conn/s", "failed", "rounds");
  row("direct-10", f[kDirect10]);
  row("clusterip-10", f[kCip10]);
  row("direct-" + bigName, f[kDirectBig]);
  row("clusterip-" + bigName, f[kCipBig]);
  std::printf("paired ratios (median over rounds of the per-round ratio):\n");
  std::printf("  clusterip %s/10      p50 %.3f  p99 %.3f  time/conn %.3f  (target <= 1.05)\n", bigName.c_str(),
              r10kP50, r10kP99, r10kTime);
  std::printf("  clusterip-%s/direct  p50 %.3f  p99 %.3f  time/conn %.3f  (target <= 1.10)\n", bigName.c_str(),
              rDirP50, rDirP99, rDirTime);
  std::printf("  clusterip-10/direct     p50 %.3f\n", r10DirP50);
  std::printf("  control direct %s/10   p50 %.3f  time/conn %.3f  (same path, other copy: ~1)\n", bigName.c_str(),
              rCtlP50, rCtlTime);
  for (const auto& [what, n] : gErrors) std::printf("failed: %d x %s\n", n, what.c_str());
  printSyncs("10", *small.env);
  printSyncs(bigName.c_str(), *big.env);
  if (jsonOut) {
    auto fj = [](const Figures& x) {
      return json{{"p50_us", x.p50}, {"p99_us", x.p99}, {"rate", x.rate}, {"failed", x.failed}};
    };
    json j = {{"mode", rulesMode ? "rules" : "daemon"},
              {"services", services},
              {"rounds", rounds},
              {"count", count},
              {"direct_10", fj(f[kDirect10])},
              {"clusterip_10", fj(f[kCip10])},
              {"direct_10k", fj(f[kDirectBig])},
              {"clusterip_10k", fj(f[kCipBig])},
              {"ratio_10k_10_p50", r10kP50},
              {"ratio_10k_10_p99", r10kP99},
              {"ratio_10k_10_time_per_conn", r10kTime},
              {"ratio_cip10k_direct_p50", rDirP50},
              {"ratio_cip10k_direct_p99", rDirP99},
              {"ratio_cip10k_direct_time_per_conn", rDirTime},
              {"control_direct_10k_10_p50", rCtlP50},
              {"control_direct_10k_10_time_per_conn", rCtlTime},
              {"grown_chains", grown}};
    std::printf("%s\n", j.dump().c_str());
  }
  return grown.empty() ? 0 : 3;
}
