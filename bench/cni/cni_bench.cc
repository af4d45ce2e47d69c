// nodenet-cni-bench: times two CNI plugin sets (ours: build/cni, reference: /usr/lib/cni) in one run on the
// same conflist, driven the way libcni drives them (integration/harness CniRunner).
//
// Per plugin set, in a fresh node namespace nnb-<set>-<pid>-<rand>-node with its own scratch dataDir:
//   VERSION   one exec per plugin type (libcni ValidateNetworkList), median of --version-reps
//   ADD/CHECK/DEL  sequential, --pods pods: all ADDs, then all CHECKs, then all DELs; median and p95 in ms
//   parallel  --parallel-pods pods, --parallelism workers: all ADDs, then all DELs; pods/s of wall time
//   IPAM      the IPAM plugin alone (stdin = the plugin config holding the ipam section, as bridge delegates),
//             its own dataDir pre-filled with --reservations reservations in the reference on-disk format;
//             --ipam-reps rounds of ADD then DEL of a new container, so the count stays at N; medians in ms
// Pod namespaces are created before and deleted after each timed region. The machine's namespace is never
// touched: plugins run inside the node namespace, and every namespace is deleted on exit, on error and on
// SIGINT/SIGTERM (the harness kills its child and the destructors run); leftovers of a crashed run of this
// bench (dead creator pid) are deleted at start.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/ip.h"
#include "base/strings.h"
#include "integration/harness/cni_runner.h"
#include "integration/harness/node.h"

namespace nodenet::bench {
namespace {

using itest::CniRunner;
using itest::Conflist;
using itest::NodeEnv;
using itest::Pod;
using itest::RuntimeConf;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string ours;
  std::string reference;
  std::string conflist;
  std::string jsonPath;
  std::string only;  // "", "ours" or "reference"
  int pods = 50;
  int parallelPods = 64;
  int parallelism = 8;
  int reservations = 5000;
  int ipamReps = 20;
  int versionReps = 20;
  itest::NetnsLauncher launcher = itest::NetnsLauncher::Setns;
};

void usage() {
  std::cerr << "usage: nodenet-cni-bench [--ours DIR] [--reference DIR] [--conflist FILE] [--json FILE]\n"
               "         [--only ours|reference] [--pods N] [--parallel-pods N] [--parallelism N]\n"
               "         [--reservations N] [--ipam-reps N] [--version-reps N] [--launcher setns|ip-netns-exec]\n"
               "Times the plugin sets in CNI_PATH dirs --ours (default <build>/cni) and --reference\n"
               "(default /usr/lib/cni) on the conflist (default conf/cni/11-crio-ipv4-bridge.conflist). Needs root.\n";
}

bool parseArgs(int argc, char** argv, Options& o) {
  o.ours = itest::ourCniPath();
  o.reference = itest::referenceCniPath();
  o.conflist = itest::confDir() + "/cni/11-crio-ipv4-bridge.conflist";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto intValue = [&](int& out) {
      const char* v = value();
      if (!v) return false;
      out = std::atoi(v);
      return out > 0;
    };
    bool ok = true;
    if (a == "--ours") {
      const char* v = value();
      ok = v && (o.ours = v, true);
    } else if (a == "--reference") {
      const char* v = value();
      ok = v && (o.reference = v, true);
    } else if (a == "--conflist") {
      const char* v = value();
      ok = v && (o.conflist = v, true);
    } else if (a == "--json") {
      const char* v = value();
      ok = v && (o.jsonPath = v, true);
    } else if (a == "--only") {
      const char* v = value();
      ok = v && (o.only = v, o.only == "ours" || o.only == "reference");
    } else if (a == "--launcher") {
      const char* v = value();
      ok = v != nullptr;
      if (ok && std::strcmp(v, "setns") == 0)
        o.launcher = itest::NetnsLauncher::Setns;
      else if (ok && std::strcmp(v, "ip-netns-exec") == 0)
        o.launcher = itest::NetnsLauncher::IpNetnsExec;
      else
        ok = false;
    } else if (a == "--pods") {
      ok = intValue(o.pods);
    } else if (a == "--parallel-pods") {
      ok = intValue(o.parallelPods);
    } else if (a == "--parallelism") {
      ok = intValue(o.parallelism);
    } else if (a == "--reservations") {
      ok = intValue(o.reservations);
    } else if (a == "--ipam-reps") {
      ok = intValue(o.ipamReps);
    } else if (a == "--version-reps") {
      ok = intValue(o.versionReps);
    } else if (a == "-h" || a == "--help") {
      usage();
      std::exit(0);
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "bad argument: " << a << "\n";
      return false;
    }
  }
  return true;
}

// Median and nearest-rank p95 of successful samples, in ms.
struct OpStats {
  std::vector<double> ms;
  int errors = 0;

  double percentile(double p) const {
    if (ms.empty()) return NAN;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(s.size())));
    return s[std::clamp<size_t>(rank, 1, s.size()) - 1];
  }
  double median() const {
    if (ms.empty()) return NAN;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    size_t n = s.size();
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  json toJson() const {
    return json{{"n", ms.size()}, {"errors", errors}, {"median_ms", median()}, {"p95_ms", percentile(0.95)},
                {"min_ms", ms.empty() ? NAN : *std::min_element(ms.begin(), ms.end())},
                {"max_ms", ms.empty() ? NAN : *std::max_element(ms.begin(), ms.end())}};
  }
};

struct SetResult {
  std::string name;
  std::string cniPath;
  std::string skipped;  // non-empty: why this set did not run
  std::map<std::string, OpStats> version;  // per plugin type
  OpStats add, check, del;
  bool podsPing = false;
  double parAddPodsPerSec = NAN, parDelPodsPerSec = NAN;
  int parErrors = 0;
  OpStats ipamAdd, ipamDel;
  std::vector<std::string> errors;  // the first few failures, verbatim

  void fail(const std::string& what) {
    if (errors.size() < 10) errors.push_back(what);
    std::cerr << "  [" << name << "] " << what << "\n";
  }
  bool hasErrors() const {
    return !errors.empty() || add.errors || check.errors || del.errors || parErrors || ipamAdd.errors ||
           ipamDel.errors;
  }
};

// Records one operation: its time on success, the failure otherwise.
void record(SetResult& set, OpStats& stats, const char* op, const Result<itest::CniOutcome>& r) {
  if (!r.ok()) {
    ++stats.errors;
    set.fail(strCat(op, ": ", r.error().message()));
  } else if (!r->ok()) {
    ++stats.errors;
    set.fail(strCat(op, ": ", r->describe()));
  } else {
    stats.ms.push_back(r->elapsedMs());
  }
}

std::vector<std::string> pluginTypes(const Conflist& list) {
  std::vector<std::string> types;
  for (const json& p : list.plugins) {
    types.push_back(p["type"].get<std::string>());
    if (p.contains("ipam") && p["ipam"].contains("type") && p["ipam"]["type"].is_string())
      types.push_back(p["ipam"]["type"].get<std::string>());
  }
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  return types;
}

// The plugin whose "ipam" section the IPAM benchmark feeds to the IPAM plugin alone.
const json* ipamOwner(const Conflist& list) {
  for (const json& p : list.plugins)
    if (p.contains("ipam") && p["ipam"].is_object() && p["ipam"].contains("type")) return &p;
  return nullptr;
}

// Writes n reservations in host-local's on-disk format: <dataDir>/<network>/<ip> holding
// "<containerID>\r\n<ifname>", plus last_reserved_ip.0 with the highest one. Addresses start at
// subnet + 2 (host-local's default rangeStart is subnet + 1, which is the gateway).
Status writeReservations(const std::string& dataDir, const std::string& network, const json& ipam, int n) {
  if (!ipam.contains("ranges") || !ipam["ranges"].is_array() || ipam["ranges"].empty() ||
      !ipam["ranges"][0].is_array() || ipam["ranges"][0].empty() || !ipam["ranges"][0][0].contains("subnet"))
    return Error("ipam: no ranges[0][0].subnet to place reservations in");
  NN_ASSIGN_OR_RETURN(Cidr subnet, Cidr::parse(ipam["ranges"][0][0]["subnet"].get<std::string>()));
  if (subnet.family() != IpFamily::V4 || subnet.prefix() > 30 || (1ULL << (32 - subnet.prefix())) < uint64_t(n) + 8)
    return Error(strCat("subnet ", subnet.toString(), " is too small for ", n, " reservations"));
  const fs::path dir = fs::path(dataDir) / network;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(strCat("mkdir ", dir.string(), ": ", ec.message()));
  IpAddress ip = subnet.network().offset(2);
  IpAddress last = ip;
  for (int i = 0; i < n; ++i, ip = ip.next()) {
    std::ofstream f(dir / ip.toString(), std::ios::binary);
    f << itest::randomContainerId() << "\r\n" << "eth0";
    if (!f) return Error("write reservation " + (dir / ip.toString()).string());
    last = ip;
  }
  std::ofstream f(dir / "last_reserved_ip.0", std::ios::binary);
  f << last.toString();
  if (!f) return Error("write last_reserved_ip.0");
  return okStatus();
}

// Runs fn(i) for i in [0, n) on `workers` threads; returns the wall time.
template <typename F>
std::chrono::nanoseconds runParallel(int n, int workers, F fn) {
  std::atomic<int> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < n && !itest::interrupted();) fn(i);
    });
  for (auto& t : threads) t.join();
  return Clock::now() - start;
}

void benchSet(const Options& opt, const Conflist& seed, SetResult& set) {
  std::cout << "== " << set.name << " (CNI_PATH=" << set.cniPath << ")" << std::endl;
  const std::string prefix = set.name == "ours" ? "nnb-ours-" : "nnb-ref-";
  auto envR = NodeEnv::create(prefix);
  if (!envR.ok()) return set.fail("node namespace: " + envR.error().message());
  std::unique_ptr<NodeEnv> env = std::move(envR).value();
  CniRunner cni = env->runner(set.cniPath, opt.launcher);
  const Conflist list = seed.withIpamDataDir(env->scratch() + "/host-local");

  // VERSION, as libcni validates a list before using it.
  auto valid = cni.validate(list);
  if (!valid.ok()) return set.fail("VERSION: " + valid.error().message());
  if (!valid->ok()) return set.fail("VERSION: " + valid->describe());
  for (const std::string& type : pluginTypes(list))
    for (int i = 0; i < opt.versionReps && !itest::interrupted(); ++i)
      record(set, set.version[type], strCat("VERSION ", type).c_str(), cni.version(type, list.cniVersion));

  // Sequential ADD, CHECK, DEL.
  std::cout << "  sequential: " << opt.pods << " pods" << std::endl;
  auto pods = env->addPods(opt.pods);
  if (!pods.ok()) return set.fail("pod namespaces: " + pods.error().message());
  std::vector<bool> added(pods->size(), false);
  std::vector<std::string> ips(pods->size());
  for (size_t i = 0; i < pods->size() && !itest::interrupted(); ++i) {
    auto r = cni.add(list, (*pods)[i]->rt);
    record(set, set.add, "ADD", r);
    added[i] = r.ok() && r->ok();
    if (added[i]) ips[i] = itest::firstIp(r->json);
  }
  // Untimed sanity check: the plugins under test really connect pods.
  if (pods->size() >= 2 && added[0] && added[1] && !itest::interrupted()) {
    set.podsPing = NodeEnv::ping((*pods)[0]->ns, ips[1]);
    if (!set.podsPing) set.fail(strCat("ping ", ips[1], " from pod 0 failed"));
  }
  for (size_t i = 0; i < pods->size() && !itest::interrupted(); ++i)
    if (added[i]) record(set, set.check, "CHECK", cni.check(list, (*pods)[i]->rt));
  for (size_t i = 0; i < pods->size() && !itest::interrupted(); ++i)
    record(set, set.del, "DEL", cni.del(list, (*pods)[i]->rt));
  env->removePods();
  if (itest::interrupted()) return;

  // Parallel ADD then DEL. The bridge already exists (sequential phase), as on a node that runs pods.
  std::cout << "  parallel: " << opt.parallelPods << " pods, " << opt.parallelism << " workers" << std::endl;
  pods = env->addPods(opt.parallelPods);
  if (!pods.ok()) return set.fail("pod namespaces: " + pods.error().message());
  std::atomic<int> parErrors{0};
  std::mutex failMu;
  auto parOp = [&](const char* op, int i) {
    const RuntimeConf& rt = (*pods)[i]->rt;
    auto r = std::strcmp(op, "ADD") == 0 ? cni.add(list, rt) : cni.del(list, rt);
    if (!r.ok() || !r->ok()) {
      ++parErrors;
      std::lock_guard<std::mutex> lock(failMu);
      set.fail(strCat("parallel ", op, ": ", r.ok() ? r->describe() : r.error().message()));
    }
  };
  const int n = static_cast<int>(pods->size());
  auto wallAdd = runParallel(n, opt.parallelism, [&](int i) { parOp("ADD", i); });
  auto wallDel = runParallel(n, opt.parallelism, [&](int i) { parOp("DEL", i); });
  set.parErrors = parErrors.load();
  if (!itest::interrupted() && set.parErrors == 0) {
    set.parAddPodsPerSec = n / std::chrono::duration<double>(wallAdd).count();
    set.parDelPodsPerSec = n / std::chrono::duration<double>(wallDel).count();
  }
  env->removePods();
  if (itest::interrupted()) return;

  // IPAM alone with N existing reservations in its own dataDir.
  const json* owner = ipamOwner(list);
  if (!owner) return set.fail("IPAM: no plugin with an ipam section in the conflist");
  const std::string ipamType = (*owner)["ipam"]["type"].get<std::string>();
  std::cout << "  IPAM: " << ipamType << " with " << opt.reservations << " reservations" << std::endl;
  const std::string ipamDir = env->scratch() + "/ipam";
  Conflist ipamList = seed.withIpamDataDir(ipamDir);
  const json ipamConf = CniRunner::buildPluginConfig(ipamList, *ipamOwner(ipamList), nullptr, RuntimeConf{});
  if (Status s = writeReservations(ipamDir, list.name, ipamConf["ipam"], opt.reservations); !s.ok())
    return set.fail("IPAM reservations: " + s.error().message());
  RuntimeConf rt;
  rt.netns = env->node().path();  // host-local never enters it, but ADD requires CNI_NETNS
  rt.args = {{"IgnoreUnknown", "1"}};
  for (int i = 0; i < opt.ipamReps && !itest::interrupted(); ++i) {
    rt.containerId = itest::randomContainerId();
    auto a = cni.execPlugin(ipamType, "ADD", ipamConf, rt);
    record(set, set.ipamAdd, "IPAM ADD", a);
    record(set, set.ipamDel, "IPAM DEL", cni.execPlugin(ipamType, "DEL", ipamConf, rt));
  }
  // env's destructor deletes the pods (none left), the node namespace and the scratch directory.
}

std::string fmt(double v, int prec = 1) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

struct Row {
  std::string label;
  std::function<double(const SetResult&)> get;
  std::string key;
};

std::vector<Row> rows(const std::vector<std::string>& versionTypes) {
  std::vector<Row> r;
  for (const std::string& t : versionTypes)
    r.push_back({"VERSION " + t + " median ms",
                 [t](const SetResult& s) { return s.version.count(t) ? s.version.at(t).median() : NAN; },
                 "version_" + t + "_median_ms"});
  r.push_back({"ADD median ms", [](const SetResult& s) { return s.add.median(); }, "add_median_ms"});
  r.push_back({"ADD p95 ms", [](const SetResult& s) { return s.add.percentile(0.95); }, "add_p95_ms"});
  r.push_back({"CHECK median ms", [](const SetResult& s) { return s.check.median(); }, "check_median_ms"});
  r.push_back({"CHECK p95 ms", [](const SetResult& s) { return s.check.percentile(0.95); }, "check_p95_ms"});
  r.push_back({"DEL median ms", [](const SetResult& s) { return s.del.median(); }, "del_median_ms"});
  r.push_back({"DEL p95 ms", [](const SetResult& s) { return s.del.percentile(0.95); }, "del_p95_ms"});
  r.push_back({"parallel ADD pods/s", [](const SetResult& s) { return s.parAddPodsPerSec; }, "parallel_add_pods_per_s"});
  r.push_back({"parallel DEL pods/s", [](const SetResult& s) { return s.parDelPodsPerSec; }, "parallel_del_pods_per_s"});
  r.push_back({"IPAM ADD median ms", [](const SetResult& s) { return s.ipamAdd.median(); }, "ipam_add_median_ms"});
  r.push_back({"IPAM DEL median ms", [](const SetResult& s) { return s.ipamDel.median(); }, "ipam_del_median_ms"});
  return r;
}

// Spawn cost of the two ways into a namespace (`true` in a node namespace): 50 interleaved pairs, medians.
json measureLaunchers() {
  auto env = NodeEnv::create("nnb-ref-");
  if (!env.ok()) return json{{"error", env.error().message()}};
  OpStats setns, ipExec;
  for (int i = 0; i < 50 && !itest::interrupted(); ++i) {
    for (auto [stats, l] : {std::pair{&setns, itest::NetnsLauncher::Setns},
                            std::pair{&ipExec, itest::NetnsLauncher::IpNetnsExec}}) {
      itest::RunOptions o;
      o.launcher = l;
      auto r = (*env)->node().exec({"true"}, o);
      if (r.ok() && r->ok()) stats->ms.push_back(r->elapsedMs());
    }
  }
  return json{{"setns", setns.median()}, {"ip_netns_exec", ipExec.median()}};
}

int benchMain(int argc, char** argv) {
  Options opt;
  if (!parseArgs(argc, argv, opt)) {
    usage();
    return 2;
  }
  if (!itest::isRoot()) {
    std::cerr << "nodenet-cni-bench needs root (it creates network namespaces)\n";
    return 2;
  }
  itest::installInterruptHandlers();
  for (const char* p : {"nnb-ours-", "nnb-ref-"}) itest::removeStaleNetns(p);
  itest::removeStaleTempDirs();

  auto seed = Conflist::load(opt.conflist);
  if (!seed.ok()) {
    std::cerr << seed.error().message() << "\n";
    return 2;
  }
  const std::vector<std::string> types = pluginTypes(*seed);

  std::vector<SetResult> sets(2);
  sets[0].name = "ours";
  sets[0].cniPath = opt.ours;
  sets[1].name = "reference";
  sets[1].cniPath = opt.reference;
  for (SetResult& s : sets) {
    if (!opt.only.empty() && opt.only != s.name) {
      s.skipped = "not selected (--only " + opt.only + ")";
      continue;
    }
    for (const std::string& t : types)
      if (!itest::hasPlugins(s.cniPath, {t.c_str()})) {
        s.skipped = strCat("plugin \"", t, "\" not found in ", s.cniPath);
        break;
      }
  }

  const json launchers = measureLaunchers();
  for (SetResult& s : sets) {
    if (!s.skipped.empty()) {
      std::cout << "== " << s.name << ": SKIPPED: " << s.skipped << std::endl;
      continue;
    }
    if (itest::interrupted()) break;
    benchSet(opt, *seed, s);
  }
  if (itest::interrupted()) {
    std::cerr << "interrupted; namespaces of this run were deleted\n";
    return 130;
  }

  // Table.
  const SetResult& ours = sets[0];
  const SetResult& ref = sets[1];
  std::printf("\nCNI benchmark: %s; %d sequential pods, %d pods %d-parallel, IPAM with %d reservations\n",
              opt.conflist.c_str(), opt.pods, opt.parallelPods, opt.parallelism, opt.reservations);
  std::printf("%-28s %12s %12s %10s\n", "metric", "ours", "reference", "ours/ref");
  json metrics = json::object(), ratios = json::object();
  json oursJ = json::object(), refJ = json::object();
  for (const Row& row : rows(types)) {
    double a = ours.skipped.empty() ? row.get(ours) : NAN;
    double b = ref.skipped.empty() ? row.get(ref) : NAN;
    double ratio = (!std::isnan(a) && !std::isnan(b) && b != 0) ? a / b : NAN;
    std::printf("%-28s %12s %12s %10s\n", row.label.c_str(), fmt(a, 2).c_str(), fmt(b, 2).c_str(),
                fmt(ratio, 2).c_str());
    oursJ[row.key] = a;
    refJ[row.key] = b;
    ratios[row.key] = ratio;
  }
  std::printf("(ms rows: lower is better, ratio < 1 means ours is faster; pods/s rows: higher is better)\n");
  if (launchers.contains("setns"))
    std::printf("spawn of `true` in a netns: setns-in-child %s ms, ip netns exec %s ms (median)\n",
                fmt(launchers["setns"].get<double>(), 2).c_str(),
                fmt(launchers["ip_netns_exec"].get<double>(), 2).c_str());
  int rc = 0;
  for (const SetResult& s : sets) {
    if (!s.skipped.empty()) std::printf("%s: skipped: %s\n", s.name.c_str(), s.skipped.c_str());
    if (s.skipped.empty() && s.hasErrors()) {
      std::printf("%s: ERRORS (figures cover successful operations only):\n", s.name.c_str());
      for (const std::string& e : s.errors) std::printf("  %s\n", e.c_str());
      rc = 1;
    }
  }

  if (!opt.jsonPath.empty()) {
    auto setJson = [&](const SetResult& s, json figures) {
      json j{{"cni_path", s.cniPath}};
      if (!s.skipped.empty()) {
        j["skipped"] = s.skipped;
        return j;
      }
      j["figures"] = std::move(figures);
      json v = json::object();
      for (const auto& [t, st] : s.version) v[t] = st.toJson();
      j["version"] = v;
      j["add"] = s.add.toJson();
      j["check"] = s.check.toJson();
      j["del"] = s.del.toJson();
      j["parallel"] = {{"pods", opt.parallelPods}, {"workers", opt.parallelism}, {"errors", s.parErrors},
                       {"add_pods_per_s", s.parAddPodsPerSec}, {"del_pods_per_s", s.parDelPodsPerSec}};
      j["ipam"] = {{"reservations", opt.reservations}, {"add", s.ipamAdd.toJson()}, {"del", s.ipamDel.toJson()}};
      j["pods_ping"] = s.podsPing;
      j["errors"] = s.errors;
      return j;
    };
    json doc{{"benchmark", "nodenet-cni-bench"},
             {"conflist", opt.conflist},
             {"params",
              {{"pods", opt.pods}, {"parallel_pods", opt.parallelPods}, {"parallelism", opt.parallelism},
               {"reservations", opt.reservations}, {"ipam_reps", opt.ipamReps}, {"version_reps", opt.versionReps},
               {"launcher", opt.launcher == itest::NetnsLauncher::Setns ? "setns" : "ip-netns-exec"}}},
             {"launcher_spawn_median_ms", launchers},
             {"sets", {{"ours", setJson(ours, oursJ)}, {"reference", setJson(ref, refJ)}}},
             {"ratio_ours_over_reference", ratios}};
    std::ofstream f(opt.jsonPath);
    // NaN is not JSON: dump() writes null for it.
    f << doc.dump(2) << "\n";
    if (!f) {
      std::cerr << "cannot write " << opt.jsonPath << "\n";
      rc = 1;
    } else {
      std::printf("JSON written to %s\n", opt.jsonPath.c_str());
    }
  }
  return rc;
}

}  // namespace
}  // namespace nodenet::bench

int main(int argc, char** argv) { return nodenet::bench::benchMain(argc, argv); }
