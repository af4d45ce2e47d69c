// proxy_dataplane_bench: what the proxy's rules cost a new connection. Root only; everything runs in our own
// namespaces (the integration topology, integration/proxy/proxy_env.h, prefix nnb-proxy-).
//
// A client pod opens new TCP connections back to back (connect, short HTTP request, read the reply, close:
// `nn-echo http-loop`) to one backend pod, three ways, in the same run:
//   direct        the pod IP (no DNAT; the node still routes and conntracks it)
//   clusterip-10  a ClusterIP while 10 Services are installed
//   clusterip-10k the same ClusterIP while 10,000 Services are installed
// Each phase alternates direct and ClusterIP rounds (ROUNDS x COUNT connections each) and reports the median
// over rounds of the per-round median latency, p99 latency and connection rate. Ratios: 10k/10 (target <= 1.05)
// and ClusterIP(10k)/direct (target <= 1.10).
//
// The rules come from the real daemon (build/bin/nodenet-proxy, fed by the fake API server), or with
// --rules from proxy/rules + NetlinkKernel applied by this program (no daemon).
//
// Usage: proxy_dataplane_bench [--rules] [--rounds N] [--count N] [--services N] [--json]
#include <sched.h>
#include <unistd.h>

#include <algorithm>
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

struct PhaseRounds {
  std::vector<Round> direct, cip;
};

Result<PhaseRounds> phase(const TestNetns& client, const std::string& direct,
                                          const std::string& cip, int rounds, int count) {
  // Warm-up (ARP, conntrack, caches): not counted.
  NN_TRY(measure(client, direct, std::max(100, count / 10)));
  NN_TRY(measure(client, cip, std::max(100, count / 10)));
  std::vector<Round> d, c;
  for (int i = 0; i < rounds; ++i) {
    // Alternate the order so that drift (other jobs on the machine) hits both sides alike.
    if (i % 2 == 0) {
      NN_ASSIGN_OR_RETURN(Round a, measure(client, direct, count));
      NN_ASSIGN_OR_RETURN(Round b, measure(client, cip, count));
      d.push_back(a);
      c.push_back(b);
    } else {
      NN_ASSIGN_OR_RETURN(Round b, measure(client, cip, count));
      NN_ASSIGN_OR_RETURN(Round a, measure(client, direct, count));
      d.push_back(a);
      c.push_back(b);
    }
  }
  return PhaseRounds{std::move(d), std::move(c)};
}

/// Median over rounds of cip[i].x / direct[i].x: each pair ran back to back, so machine drift cancels.
template <typename F>
double pairedRatio(const PhaseRounds& p, F f) {
  std::vector<double> r;
  for (size_t i = 0; i < p.direct.size() && i < p.cip.size(); ++i)
    if (f(p.direct[i]) > 0) r.push_back(f(p.cip[i]) / f(p.direct[i]));
  return median(r);
}

void row(const std::string& name, const Figures& f) {
  std::printf("%-18s %10.1f %10.1f %12.0f %8d %7d\n", name.c_str(), f.p50, f.p99, f.rate, f.failed, f.rounds);
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

}  // namespace

int main(int argc, char** argv) {
  bool rulesMode = false, jsonOut = false;
  int rounds = 11, count = 1500, services = 10000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--rules") rulesMode = true;
    else if (a == "--json") jsonOut = true;
    else if (a == "--rounds") rounds = next();
    else if (a == "--count") count = next();
    else if (a == "--services") services = next();
    else {
      std::fprintf(stderr, "usage: %s [--rules] [--rounds N] [--count N] [--services N] [--json]\n", argv[0]);
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
  ProxyEnvOptions o;
  o.prefix = "nnb-proxy-";
  o.mode = rulesMode ? ProxyMode::Rules : ProxyMode::Daemon;
  if (!rulesMode && ::access(ProxyEnv::proxyBinary().c_str(), X_OK) != 0) {
    std::fprintf(stderr, "%s is not built; use --rules to measure proxy/rules applied directly\n",
                 ProxyEnv::proxyBinary().c_str());
    return 2;
  }
  auto peOr = ProxyEnv::create(o);
  if (!peOr.ok()) {
    std::fprintf(stderr, "setup: %s\n", peOr.error().message().c_str());
    return 1;
  }
  ProxyEnv& pe = **peOr;
  auto srv = pe.addBackend("srv");
  auto cli = pe.addClient("cli");
  if (!srv.ok() || !cli.ok()) {
    std::fprintf(stderr, "pods: %s\n", (!srv.ok() ? srv.error() : cli.error()).message().c_str());
    return 1;
  }
  const TestNetns& client = (*cli)->pod->ns;
  // Many short connections from one client: use the whole ephemeral range (a namespaced sysctl, ours).
  (void)client.exec({"sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"});
  const std::string cipIp = "10.96.0.10";
  const std::string cip = cipIp + ":80";
  const std::string direct = strCat((*srv)->ip, ":", kHttpPort);
  std::vector<PortSpec> ports = {{"http", 80, kHttpPort}};

  // Phase 1: 10 Services (the measured one + 8 fillers + the probe).
  (void)pe.setDeferRules(true);
  (void)pe.upsertService(makeService("bench", cipIp, ports));
  (void)pe.upsertSlice(makeSlice("bench", "bench-1", {{(*srv)->ip}}, ports));
  for (int i = 1; i <= 8; ++i) addFiller(pe, i);
  (void)pe.upsertService(makeService("probe-10", "10.96.0.11", ports));
  (void)pe.upsertSlice(makeSlice("probe-10", "probe-10-1", {{(*srv)->ip}}, ports));
  if (auto st = pe.setDeferRules(false); !st.ok()) {
    std::fprintf(stderr, "rules: %s\n", st.error().message().c_str());
    return 1;
  }
  if (!waitProbe(pe, client, "10.96.0.11", std::chrono::seconds(30))) {
    std::fprintf(stderr, "10 Services never answered\n");
    return 1;
  }
  auto p10 = phase(client, direct, cip, rounds, count);
  if (!p10.ok()) {
    std::fprintf(stderr, "phase 10: %s\n", p10.error().message().c_str());
    return 1;
  }

  // Phase 2: `services` Services.
  auto t0 = std::chrono::steady_clock::now();
  (void)pe.setDeferRules(true);
  for (int i = 9; i <= services - 3; ++i) addFiller(pe, i);
  (void)pe.upsertService(makeService("probe-10k", "10.96.0.12", ports));
  (void)pe.upsertSlice(makeSlice("probe-10k", "probe-10k-1", {{(*srv)->ip}}, ports));
  if (auto st = pe.setDeferRules(false); !st.ok()) {
    std::fprintf(stderr, "rules: %s\n", st.error().message().c_str());
    return 1;
  }
  if (!waitProbe(pe, client, "10.96.0.12", std::chrono::seconds(120))) {
    std::fprintf(stderr, "%d Services never answered\n", services);
    return 1;
  }
  double installSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto dump = pe.dumpRuleset();
  size_t mapLines = 0;
  if (dump.ok())
    for (size_t pos = 0; (pos = dump->find(" : goto service-", pos)) != std::string::npos; ++pos) ++mapLines;
  std::printf("measuring %d Services from %s\n", services, nowText().c_str());
  auto pBig = phase(client, direct, cip, rounds, count);
  std::printf("done at %s\n", nowText().c_str());
  if (!pBig.ok()) {
    std::fprintf(stderr, "phase %d: %s\n", services, pBig.error().message().c_str());
    return 1;
  }

  // Phase 3: back to 10 Services (A-B-A: drift of the machine between phases shows up in both A phases).
  auto t1 = std::chrono::steady_clock::now();
  (void)pe.setDeferRules(true);
  for (int i = 9; i <= services - 3; ++i) {
    (void)pe.removeSlice("default", strCat("filler-", i, "-1"));
    (void)pe.removeService("default", strCat("filler-", i));
  }
  (void)pe.removeSlice("default", "probe-10k-1");
  (void)pe.removeService("default", "probe-10k");
  (void)pe.setDeferRules(false);
  if (!ProxyEnv::eventually([&] { return !pe.curl(client, "http://10.96.0.12:80/", 1.0).ok(); },
                            std::chrono::seconds(120), std::chrono::milliseconds(50))) {
    std::fprintf(stderr, "the %d Services never went away\n", services);
    return 1;
  }
  double removeSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  auto p10b = phase(client, direct, cip, rounds, count);
  if (!p10b.ok()) {
    std::fprintf(stderr, "phase 10 again: %s\n", p10b.error().message().c_str());
    return 1;
  }
  PhaseRounds both10 = *p10;
  both10.direct.insert(both10.direct.end(), p10b->direct.begin(), p10b->direct.end());
  both10.cip.insert(both10.cip.end(), p10b->cip.begin(), p10b->cip.end());

  const Figures d10 = summarize(both10.direct);
  const Figures c10 = summarize(both10.cip);
  const Figures dBig = summarize(pBig->direct);
  const Figures cBig = summarize(pBig->cip);
  std::printf("proxy data plane: new TCP connections (connect + request + reply + close), client pod -> backend pod\n");
  std::printf("rules from: %s; %d rounds x %d connections per case; medians over rounds\n",
              rulesMode ? "proxy/rules + NetlinkKernel (no daemon)" : "nodenet-proxy (fake API server)", rounds, count);
  std::printf("%d Services installed in %.2f s (until the probe answered; service-ips elements: %zu), removed in %.2f s\n",
              services, installSec, mapLines, removeSec);
  std::printf("10-Service rows: both A phases (before and after the %d), %d rounds\n", services, d10.rounds);
  std::printf("%-18s %10s %10s %12s %8s %7s\n", "case", "p50 us", "p99 us", "conn/s", "failed", "rounds");
  row("direct (10 svc)", d10);
  row("clusterip-10", c10);
  row(strCat("direct (", services, " svc)"), dBig);
  row(strCat("clusterip-", services), cBig);
  // 10k/10 compares phases (medians of per-round figures); ClusterIP/direct pairs rounds that ran back to back.
  double r10kP50 = cBig.p50 / c10.p50, r10kRate = c10.rate / cBig.rate;
  double rDirP50 = pairedRatio(*pBig, [](const Round& r) { return r.p50; });
  double rDirRate = 1.0 / pairedRatio(*pBig, [](const Round& r) { return r.rate; });
  std::printf("ratio 10k/10 latency p50                    %.3f  (target <= 1.05)\n", r10kP50);
  std::printf("ratio 10k/10 time per connection (1/rate)   %.3f  (target <= 1.05)\n", r10kRate);
  std::printf("ratio clusterip-10k/direct p50 (paired)     %.3f  (target <= 1.10)\n", rDirP50);
  std::printf("ratio clusterip-10k/direct 1/rate (paired)  %.3f  (target <= 1.10)\n", rDirRate);
  for (const auto& [what, n] : gErrors) std::printf("failed: %d x %s\n", n, what.c_str());
  if (pe.daemon()) {
    // The daemon's own account of the syncs (how long committing the 10k Services took).
    std::istringstream log(pe.daemon()->log());
    std::vector<std::string> syncs;
    for (std::string line; std::getline(log, line);)
      if (line.find("sync:") != std::string::npos) syncs.push_back(line);
    size_t from = syncs.size() > 8 ? syncs.size() - 8 : 0;
    for (size_t i = from; i < syncs.size(); ++i) std::printf("daemon: %s\n", syncs[i].c_str());
  }
  if (jsonOut) {
    auto fj = [](const Figures& f) {
      return json{{"p50_us", f.p50}, {"p99_us", f.p99}, {"rate", f.rate}, {"failed", f.failed}};
    };
    json j = {{"mode", rulesMode ? "rules" : "daemon"},
              {"services", services},
              {"rounds", rounds},
              {"count", count},
              {"direct_10", fj(d10)},
              {"clusterip_10", fj(c10)},
              {"direct_10k", fj(dBig)},
              {"clusterip_10k", fj(cBig)},
              {"ratio_10k_10_p50", r10kP50},
              {"ratio_10k_10_time_per_conn", r10kRate},
              {"ratio_cip10k_direct_p50", rDirP50},
              {"ratio_cip10k_direct_time_per_conn", rDirRate}};
    std::printf("%s\n", j.dump().c_str());
  }
  return 0;
}
