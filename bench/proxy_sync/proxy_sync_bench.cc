// proxy_sync_bench: from a warm kube::Cache to rules committed in the kernel (root; runs only inside network
// namespaces it creates and deletes).
//
// Per size (1k, 10k, 50k Services x 2 endpoints), in a forked child (so VmHWM is that size's alone):
//   full      the Proxier's first sync (table absent) into a fresh namespace: build + one netlink batch + ack
//   resync    a second full sync (table present: list, flush, re-add everything)
//   +1 svc    (10k only) add one Service + its slice to the cache, then sync (median of 25)
//   +-1 ep    (10k only) add / remove one endpoint of one Service, then sync (median of 25 each way)
//   peer      `ip netns exec <fresh ns> nft -f <file>` of the same ruleset in kube-proxy's nftables layout (our
//             full transaction's text), and for +1 svc `nft -f` of the partial transaction (kube-proxy execs nft
//             per sync) into the namespace that holds the 10k table.
// Prints a table with ratios (peer / ours).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.h"
#include "integration/harness/netns.h"
#include "integration/harness/paths.h"
#include "kube/cache/cache.h"
#include "netlink/nft/netlink_kernel.h"
#include "proxy/rules/ruleset.h"
#include "proxy/sync/clock.h"
#include "proxy/sync/proxier.h"

namespace nn = nodenet;
namespace psync = nodenet::proxy::sync;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kPrefix = "nnb-psync-";
constexpr int kReps = 25;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

nn::IpAddress v4(uint32_t a) {
  return *nn::IpAddress::parse(std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
                               std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255));
}

nn::kube::InternedString in(std::string_view s) { return nn::kube::InternedString(s); }

/// Service i: ns<i%100>/svc<i>, ClusterIP 172.16.0.0 + i, tcp 80 ("http") -> 8080.
nn::kube::Service makeService(uint32_t i) {
  nn::kube::Service s;
  s.meta.ns = in("ns" + std::to_string(i % 100));
  s.meta.name = "svc" + std::to_string(i);
  s.clusterIPs = {v4((172u << 24) + (16u << 16) + i)};
  s.ipFamilies = {nn::IpFamily::V4};
  nn::kube::ServicePort p;
  p.name = in("http");
  p.port = 80;
  p.targetPort.number = 8080;
  s.ports = {p};
  s.hasSelector = true;
  return s;
}

/// The slice of Service i with `n` endpoints 10.128.0.0 + 4i + k, alternately on node-a and node-b.
nn::kube::EndpointSlice makeSlice(uint32_t i, int n) {
  nn::kube::EndpointSlice sl;
  sl.meta.ns = in("ns" + std::to_string(i % 100));
  sl.meta.name = "svc" + std::to_string(i) + "-abcde";
  sl.meta.labels = nn::kube::StringMap({{in(nn::kube::kLabelServiceName), "svc" + std::to_string(i)}});
  for (int k = 0; k < n; ++k) {
    nn::kube::Endpoint ep;
    ep.addresses = {v4((10u << 24) + (128u << 16) + 4 * i + k)};
    ep.conditions.ready = true;
    ep.nodeName = in(k % 2 ? "node-b" : "node-a");
    sl.endpoints.push_back(std::move(ep));
  }
  sl.ports = {nn::kube::EndpointPort{in("http"), nn::L4Proto::TCP, 8080, {}}};
  return sl;
}

nn::kube::Node makeNode() {
  nn::kube::Node n;
  n.meta.name = "node-a";
  nn::kube::NodeAddress a;
  a.type = nn::kube::NodeAddressType::InternalIP;
  a.address = "192.168.99.2";
  a.ip = *nn::IpAddress::parse("192.168.99.2");
  n.addresses = {a};
  return n;
}

/// NetlinkKernel plus, on request, the text of the next committed transaction (the peer's input file).
class CapturingKernel final : public nn::nft::Kernel {
 public:
  explicit CapturingKernel(nn::nft::Kernel& k) : k_(k) {}
  nn::Status commit(const nn::nft::Transaction& tx) override {
    if (capture) {
      captured = tx.toString();
      capture = false;
    }
    return k_.commit(tx);
  }
  nn::Result<bool> hasTable(nn::nft::Family f, const std::string& t) override { return k_.hasTable(f, t); }
  nn::Result<std::vector<nn::nft::Chain>> listChains(nn::nft::Family f, const std::string& t) override {
    return k_.listChains(f, t);
  }
  nn::Result<std::vector<nn::nft::Set>> listSets(nn::nft::Family f, const std::string& t) override {
    return k_.listSets(f, t);
  }
  nn::Result<std::vector<nn::nft::Element>> listElements(nn::nft::Family f, const std::string& t,
                                                         const std::string& s) override {
    return k_.listElements(f, t, s);
  }
  nn::Result<std::vector<nn::nft::Rule>> listRules(nn::nft::Family f, const std::string& t,
                                                   const std::string& c) override {
    return k_.listRules(f, t, c);
  }
  bool capture = false;
  std::string captured;

 private:
  nn::nft::Kernel& k_;
};

long vmHwmKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Times `ip netns exec <ns> nft -f <file>` (what kube-proxy's sync costs: one exec of nft). A run longer than
/// `limit` is killed and reported as -limit (kube-proxy's layout is quadratic in the kernel at 50k).
nn::Result<double> timeNftFile(const std::string& ns, const std::string& file,
                               std::chrono::milliseconds limit = std::chrono::minutes(3)) {
  nn::itest::RunOptions o;
  o.timeout = limit;
  auto t0 = Clock::now();
  auto r = nn::itest::run({"ip", "netns", "exec", ns, "nft", "-f", file}, o);
  double d = ms(Clock::now() - t0);
  if (!r.ok()) return r.error();
  if (r->timedOut) return -static_cast<double>(limit.count());
  if (!r->ok()) return nn::Error("nft -f " + file + " failed: " + r->err.substr(0, 2000));
  return d;
}

/// kube-proxy's exact dispatch: each cascade (`numgen random mod K 0 goto e1; ...; goto eN`) becomes one
/// `numgen random mod N vmap { 0 : goto e1, ... }` (and a single endpoint `numgen random mod 1 vmap { 0 : goto e }`).
void toKubeProxyLayout(nn::proxy::rules::Ruleset& rs) {
  std::vector<nn::nft::Rule> out;
  out.reserve(rs.rules.size());
  for (size_t i = 0; i < rs.rules.size(); ++i) {
    const nn::nft::Rule& r = rs.rules[i];
    const bool serviceChain = r.chain.rfind("service-", 0) == 0 || r.chain.rfind("local-", 0) == 0;
    auto isGoto = [](const nn::nft::Statement& s) {
      auto* v = std::get_if<nn::nft::Verdict>(&s);
      return v && v->kind == nn::nft::VerdictKind::Goto && v->chain.rfind("endpoint-", 0) == 0;
    };
    if (serviceChain && !r.statements.empty() &&
        (std::holds_alternative<nn::nft::NumgenMatch>(r.statements[0]) ||
         (r.statements.size() == 1 && isGoto(r.statements[0])))) {
      nn::nft::NumgenVmap ng;
      size_t j = i;
      for (; j < rs.rules.size() && rs.rules[j].chain == r.chain; ++j) {
        const auto& st = rs.rules[j].statements;
        if (std::holds_alternative<nn::nft::NumgenMatch>(st[0])) {
          ng.targets.push_back(std::get<nn::nft::Verdict>(st[1]));
        } else {
          ng.targets.push_back(std::get<nn::nft::Verdict>(st[0]));
          break;
        }
      }
      out.push_back(nn::nft::Rule{.chain = r.chain, .statements = {std::move(ng)}});
      i = j;
      continue;
    }
    out.push_back(r);
  }
  rs.rules = std::move(out);
}

/// The nft script of a full sync into an empty namespace. nft 1.0.6 refuses `flush set` of a set the same
/// script creates ("No such file or directory": its cache does not know it yet), and there is nothing to flush
/// in a fresh namespace, so the flush lines are dropped.
std::string peerScript(const nn::proxy::rules::Ruleset& rs) {
  std::string text = nn::proxy::rules::toTransaction(rs).toString(), out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.rfind("flush ", 0) != 0) {
      out.append(line);
      out += '\n';
    }
    pos = end + 1;
  }
  return out;
}

/// Everything measured for one size, as "key=value" lines (child -> parent through a pipe).
std::map<std::string, double> runSize(uint32_t n, const std::string& dir) {
  std::map<std::string, double> out;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "size %u: %s\n", n, what.c_str());
    out["error"] = 1;
    return out;
  };
  auto ours = nn::itest::TestNetns::create(kPrefix, "ours");
  auto peer = nn::itest::TestNetns::create(kPrefix, "peer");
  if (!ours.ok() || !peer.ok()) return fail("netns: " + (ours.ok() ? peer.error() : ours.error()).message());
  auto nl = nn::nft::NetlinkKernel::create(ours->path());
  if (!nl.ok()) return fail(nl.error().message());
  CapturingKernel kernel(**nl);

  // The warm cache: everything listed and synced before the proxier looks.
  nn::kube::Cache cache;
  {
    std::vector<nn::kube::Service> svcs;
    std::vector<nn::kube::EndpointSlice> slices;
    svcs.reserve(n);
    slices.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      svcs.push_back(makeService(i));
      slices.push_back(makeSlice(i, 2));
    }
    cache.replaceAll(std::move(svcs));
    cache.replaceAll(std::move(slices));
    cache.replaceAll<nn::kube::Node>({makeNode()});
  }
  out["rss_cache_kib"] = vmHwmKiB();

  psync::ProxierConfig cfg;
  cfg.ipv4 = nn::proxy::rules::Config{};
  cfg.ipv4->clusterCIDRs = {*nn::Cidr::parse("10.128.0.0/12")};
  cfg.nodeName = "node-a";
  psync::SteadyClock clock;
  psync::Proxier proxier(cache, kernel, nullptr, cfg, clock, nullptr);

  auto t0 = Clock::now();
  psync::SyncReport r = proxier.syncNowForTest(true);
  out["full_ms"] = ms(Clock::now() - t0);
  if (!r.ok) return fail("full sync: " + r.error);
  out["rss_kib"] = vmHwmKiB();
  t0 = Clock::now();
  r = proxier.syncNowForTest(true);
  out["resync_ms"] = ms(Clock::now() - t0);
  if (!r.ok) return fail("resync: " + r.error);

  if (n == 10000) {
    std::vector<double> addSvc, addEp, delEp;
    std::string partialFile;
    for (int k = 0; k < kReps; ++k) {
      uint32_t id = n + k;
      cache.apply(nn::kube::Event::added(makeService(id)));
      cache.apply(nn::kube::Event::added(makeSlice(id, 2)));
      kernel.capture = k == 0;
      t0 = Clock::now();
      r = proxier.syncNowForTest();
      addSvc.push_back(ms(Clock::now() - t0));
      if (!r.ok || r.full) return fail("+1 service: " + r.error);
      if (k == 0) {
        partialFile = dir + "/partial-add-service.nft";
        std::ofstream(partialFile) << kernel.captured;
      }
    }
    for (int k = 0; k < kReps; ++k) {
      uint32_t id = (k * 389) % n;
      cache.apply(nn::kube::Event::added(makeSlice(id, 3)));
      t0 = Clock::now();
      r = proxier.syncNowForTest();
      addEp.push_back(ms(Clock::now() - t0));
      if (!r.ok || r.full) return fail("+1 endpoint: " + r.error);
      cache.apply(nn::kube::Event::added(makeSlice(id, 2)));
      t0 = Clock::now();
      r = proxier.syncNowForTest();
      delEp.push_back(ms(Clock::now() - t0));
      if (!r.ok || r.full) return fail("-1 endpoint: " + r.error);
    }
    out["add_svc_ms"] = median(addSvc);
    out["add_ep_ms"] = median(addEp);
    out["del_ep_ms"] = median(delEp);
    // Peer, incremental: nft -f of the +1 Service transaction into the namespace holding the 10k table (the
    // file's adds are idempotent, so each repetition does the same work).
    std::vector<double> peerAdd;
    for (int k = 0; k < kReps; ++k) {
      auto d = timeNftFile(ours->name(), partialFile);
      if (!d.ok()) return fail(d.error().message());
      peerAdd.push_back(*d);
    }
    out["peer_add_svc_ms"] = median(peerAdd);
  }

  // Peer, full: the same ruleset as nft text (kube-proxy's layout, our full transaction), into a fresh namespace.
  {
    auto snap = cache.snapshot();
    nn::proxy::rules::Input input;
    input.node = nn::proxy::rules::nodeInputFrom(*snap->node("node-a"));
    std::map<std::string, std::vector<const nn::kube::EndpointSlice*>> bySvc;
    snap->forEach<nn::kube::EndpointSlice>([&](const nn::kube::EndpointSlice& s) {
      bySvc[std::string(s.meta.ns.view()) + "/" + std::string(s.serviceName())].push_back(&s);
    });
    for (const auto& [key, obj] : snap->objects(nn::kube::ObjectKind::Service))
      input.services.push_back({&std::get<nn::kube::Service>(*obj), bySvc[key]});
    const std::string ours = dir + "/full-ours-" + std::to_string(n) + ".nft";
    std::ofstream(ours) << peerScript(nn::proxy::rules::buildRuleset(input, *cfg.ipv4));
    // kube-proxy's layout: a chain per Service and endpoint, `numgen ... vmap` per Service.
    nn::proxy::rules::Config kpConfig = *cfg.ipv4;
    kpConfig.endpointMaps = false;
    nn::proxy::rules::Ruleset rs = nn::proxy::rules::buildRuleset(input, kpConfig);
    toKubeProxyLayout(rs);
    const std::string kp = dir + "/full-kube-proxy-" + std::to_string(n) + ".nft";
    std::ofstream(kp) << peerScript(rs);
    auto d = timeNftFile(peer->name(), kp);
    if (!d.ok()) return fail(d.error().message());
    out["peer_full_ms"] = *d;
    auto peer2 = nn::itest::TestNetns::create(kPrefix, "peer2");
    if (!peer2.ok()) return fail(peer2.error().message());
    d = timeNftFile(peer2->name(), ours);
    if (!d.ok()) return fail(d.error().message());
    out["peer_full_ourlayout_ms"] = *d;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "proxy_sync_bench: needs root (it creates network namespaces)\n");
    return 77;
  }
  nn::itest::installInterruptHandlers();
  nn::itest::removeStaleNetns(kPrefix);
  std::vector<uint32_t> sizes{1000, 10000, 50000};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      const bool number = !arg.empty() && arg.size() <= 7 && arg.find_first_not_of("0123456789") == std::string::npos;
      if (!number || std::stoul(arg) == 0) {
        std::fprintf(stderr,
                     "usage: proxy_sync_bench [SERVICES ...]   (default 1000 10000 50000; each 1-9999999)\n%s",
                     arg == "-h" || arg == "--help" ? "" : ("proxy_sync_bench: not a Service count: " + arg + "\n").c_str());
        return arg == "-h" || arg == "--help" ? 0 : 2;
      }
      sizes.push_back(static_cast<uint32_t>(std::stoul(arg)));
    }
  }
  auto tmp = nn::itest::TempDir::create("nnb-psync-");
  if (!tmp.ok()) {
    std::fprintf(stderr, "%s\n", tmp.error().message().c_str());
    return 1;
  }

  std::map<uint32_t, std::map<std::string, double>> results;
  for (uint32_t n : sizes) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      auto res = runSize(n, tmp->path());
      std::string text;
      for (const auto& [k, v] : res) text += k + "=" + std::to_string(v) + "\n";
      if (write(fds[1], text.data(), text.size()) < 0) _exit(2);
      _exit(res.count("error") ? 1 : 0);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    ssize_t got;
    while ((got = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, got);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) results[n][line.substr(0, eq)] = std::stod(line.substr(eq + 1));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::fprintf(stderr, "size %u: child failed\n", n);
  }

  std::printf("\nproxy/sync: warm cache -> rules committed in the kernel (Services x 2 endpoints, ip family)\n");
  std::printf("%-9s %10s %11s %15s %8s %16s %8s %12s %11s\n", "services", "full (ms)", "resync (ms)",
              "kp nft -f (ms)", "ratio", "our-layout nft -f", "ratio", "VmHWM (MiB)", "cache (MiB)");
  for (auto& [n, r] : results) {
    double full = r["full_ms"] > 0 ? r["full_ms"] : 1;
    char kp[32], kpRatio[32];
    if (r["peer_full_ms"] < 0) {  // timed out
      std::snprintf(kp, sizeof kp, "> %.0f", -r["peer_full_ms"]);
      std::snprintf(kpRatio, sizeof kpRatio, "> %.0fx", -r["peer_full_ms"] / full);
    } else {
      std::snprintf(kp, sizeof kp, "%.1f", r["peer_full_ms"]);
      std::snprintf(kpRatio, sizeof kpRatio, "%.1fx", r["peer_full_ms"] / full);
    }
    std::printf("%-9u %10.1f %11.1f %15s %8s %16.1f %7.1fx %12.1f %11.1f\n", n, r["full_ms"], r["resync_ms"], kp,
                kpRatio, r["peer_full_ourlayout_ms"], r["peer_full_ourlayout_ms"] / full, r["rss_kib"] / 1024.0,
                r["rss_cache_kib"] / 1024.0);
  }
  std::printf("(kp = kube-proxy's layout: chains per Service and endpoint, numgen vmap; ours: endpoint maps, see proxy/rules)\n");
  if (results.count(10000) && results[10000].count("add_svc_ms")) {
    auto& r = results[10000];
    std::printf("\nincremental with 10k present (median of %d)\n", kReps);
    std::printf("%-14s %10s %14s %10s\n", "change", "ours (ms)", "nft -f (ms)", "ratio");
    std::printf("%-14s %10.2f %14.1f %9.1fx\n", "+1 service", r["add_svc_ms"], r["peer_add_svc_ms"],
                r["peer_add_svc_ms"] / r["add_svc_ms"]);
    std::printf("%-14s %10.2f %14s %10s\n", "+1 endpoint", r["add_ep_ms"], "-", "-");
    std::printf("%-14s %10.2f %14s %10s\n", "-1 endpoint", r["del_ep_ms"], "-", "-");
  }
  std::printf("\ntargets: 10k full <= 500 ms, 50k full <= 3000 ms, incremental <= 3 ms, VmHWM <= 64 MiB at 10k\n");
  return 0;
}
