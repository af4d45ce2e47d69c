// The watch path end to end, client side: Reflector (paginated list, limit 500) -> streaming decode ->
// CacheSink -> kube::Cache, against the fake API server on 127.0.0.1 holding 10,000 Services and 10,000
// EndpointSlices (2 endpoints each) in the served form (managedFields, last-applied annotation, ownerReferences).
//
// The fake server runs in a child forked before any thread exists; the parent talks to it over two pipes
// (one command per line). So the parent's /proc/self/status is the client alone, and the server's RSS is
// asked from the child and reported on its own line.
//
// Measures, in one process:
//   list   wall time from starting the two reflectors until the cache reports both kinds synced
//          (GET pages + decode + Cache::replaceAll, the two kinds in parallel on their own threads/connections)
//   rss    VmRSS before the reflectors start, VmRSS/VmHWM after sync; delta = after - before
//   watch  1,000 Services modified one at a time in the child: the child writes steady_clock (CLOCK_MONOTONIC,
//          shared by both processes) into a label and upserts; a Cache subscriber in the parent takes the
//          difference when the Modified event arrives. So the figure covers the fake server's event write,
//          loopback, chunked read, decode, Cache::apply and the notification.
//
//   kube_watch_bench [--services N] [--slices N] [--modify N] [--tls] [--json FILE]
// (--benchmark_out=FILE is accepted as --json FILE, so bench/run.sh's Google Benchmark flags work.)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/kube_fixtures.h"
#include "integration/fakeapi/fake_api_server.h"
#include "kube/cache/cache.h"
#include "kube/watch/cache_sink.h"
#include "kube/watch/reflector.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fakeapi = nodenet::fakeapi;
namespace kube = nodenet::kube;
namespace bench = nodenet::bench;

constexpr const char* kSentLabel = "bench.nodenet.io/sent-ns";

int64_t nowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

// ---- /proc/self/status ----
struct Mem {
  int64_t rssKiB = 0, hwmKiB = 0;
};
Mem readMem() {
  Mem m;
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rssKiB = std::atoll(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) m.hwmKiB = std::atoll(line.c_str() + 6);
  }
  return m;
}
double mib(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

// ---- line I/O over pipes ----
bool writeLine(int fd, const std::string& s) {
  std::string l = s + "\n";
  size_t off = 0;
  while (off < l.size()) {
    ssize_t n = ::write(fd, l.data() + off, l.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}
// Reads one line; timeoutMs < 0 waits forever. False on EOF/timeout.
bool readLine(int fd, std::string& buf, std::string& line, int timeoutMs) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    if (auto nl = buf.find('\n'); nl != std::string::npos) {
      line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      return true;
    }
    int wait = -1;
    if (timeoutMs >= 0) {
      wait = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (wait <= 0) return false;
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, wait);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char tmp[4096];
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

// ---- the child: fake API server + command loop ----
// Commands: "M <i>" modify Service i (label = steady_clock ns now) -> "ok"; "R" -> "<rssKiB> <hwmKiB>"; "Q" quit.
[[noreturn]] void serverChild(int cmdFd, int respFd, int services, int slices, bool tls) {
  fakeapi::Options o;
  o.tls = tls;
  auto started = fakeapi::FakeApiServer::start(o);
  if (!started.ok()) {
    writeLine(respFd, "error " + started.error().message());
    _exit(1);
  }
  auto server = std::move(started).value();
  std::vector<json> svcs;
  svcs.reserve(static_cast<size_t>(services));
  for (int i = 0; i < services; ++i) {
    svcs.push_back(bench::makeService(i, /*withResourceVersion=*/false));
    server->upsert(fakeapi::Resource::Services, svcs.back());
  }
  for (int i = 0; i < slices; ++i) server->upsert(fakeapi::Resource::EndpointSlices, bench::makeEndpointSlice(i, /*withResourceVersion=*/false));
  {
    // The CA goes through a file: PEM is multi-line.
    std::string caFile;
    if (tls) {
      caFile = "/tmp/kube_watch_bench." + std::to_string(getppid()) + ".ca.pem";
      std::ofstream(caFile) << server->caPem();
    }
    writeLine(respFd, server->url() + " " + (caFile.empty() ? "-" : caFile));
  }
  std::string buf, line;
  while (readLine(cmdFd, buf, line, -1)) {
    if (line.rfind("M ", 0) == 0) {
      int i = std::atoi(line.c_str() + 2);
      json& s = svcs[static_cast<size_t>(i % services)];
      s["metadata"]["labels"][kSentLabel] = std::to_string(nowNs());
      server->upsert(fakeapi::Resource::Services, s);
      writeLine(respFd, "ok");
    } else if (line == "R") {
      Mem m = readMem();
      writeLine(respFd, std::to_string(m.rssKiB) + " " + std::to_string(m.hwmKiB));
    } else {
      break;
    }
  }
  server.reset();
  _exit(0);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int usage() {
  std::fprintf(stderr, "usage: kube_watch_bench [--services N] [--slices N] [--modify N] [--tls] [--json FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int services = 10000, slices = 10000, modify = 1000;
  bool tls = false;
  std::string jsonFile;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--services" || a == "--slices" || a == "--modify") {
      const char* v = next();
      if (!v) return usage();
      (a == "--services" ? services : a == "--slices" ? slices : modify) = std::atoi(v);
    } else if (a == "--tls") {
      tls = true;
    } else if (a == "--json") {
      const char* v = next();
      if (!v) return usage();
      jsonFile = v;
    } else if (a.rfind("--benchmark_out=", 0) == 0) {
      jsonFile = a.substr(16);
    } else if (a.rfind("--benchmark_out_format=", 0) == 0) {
      // JSON is the only format.
    } else {
      return usage();
    }
  }
  if (services < 1 || slices < 0 || modify < 0) return usage();

  // Fork first, while this process has one thread.
  int cmd[2], resp[2];
  if (::pipe2(cmd, O_CLOEXEC) != 0 || ::pipe2(resp, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    return 1;
  }
  Clock::time_point loadStart = Clock::now();
  pid_t child = ::fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    ::close(cmd[1]);
    ::close(resp[0]);
    serverChild(cmd[0], resp[1], services, slices, tls);
  }
  ::close(cmd[0]);
  ::close(resp[1]);
  int cmdFd = cmd[1], respFd = resp[0];
  std::string rbuf, line;
  int rc = 0;
  auto stopChild = [&] {
    writeLine(cmdFd, "Q");
    ::close(cmdFd);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(child, nullptr, WNOHANG) == child) return;
      std::this_thread::sleep_for(50ms);
    }
    ::kill(child, SIGKILL);  // only the child this process forked
    ::waitpid(child, nullptr, 0);
  };
  if (!readLine(respFd, rbuf, line, 50'000) || line.rfind("error", 0) == 0) {
    std::fprintf(stderr, "kube_watch_bench: fake API server did not start: %s\n", line.c_str());
    stopChild();
    return 1;
  }
  double loadS = std::chrono::duration<double>(Clock::now() - loadStart).count();
  std::string url = line.substr(0, line.find(' '));
  std::string caFile = line.substr(line.find(' ') + 1);

  kube::Cache cache;
  kube::CacheSink sink(cache);
  auto makeConn = [&]() -> std::unique_ptr<kube::Connection> {
    auto cfg = kube::masterOnlyConfig(url);
    if (!cfg.ok()) return nullptr;
    if (caFile != "-") {
      std::ifstream f(caFile);
      std::stringstream ss;
      ss << f.rdbuf();
      cfg->caPem = ss.str();
    }
    auto c = kube::Connection::create(std::move(cfg).value());
    return c.ok() ? std::move(c).value() : nullptr;
  };
  auto svcConn = makeConn(), sliceConn = makeConn();
  if (caFile != "-") ::unlink(caFile.c_str());
  if (!svcConn || !sliceConn) {
    std::fprintf(stderr, "kube_watch_bench: cannot create connections\n");
    stopChild();
    return 1;
  }
  kube::ReflectorOptions so;
  so.kind = kube::ObjectKind::Service;
  so.pageSize = 500;
  kube::ReflectorOptions eo = so;
  eo.kind = kube::ObjectKind::EndpointSlice;
  kube::Reflector svcRefl(*svcConn, sink, so), sliceRefl(*sliceConn, sink, eo);

  // Nodes have no reflector here: mark them synced so allSynced() means "Services and EndpointSlices".
  cache.markSynced(kube::ObjectKind::Node);
  Mem before = readMem();
  Clock::time_point t0 = Clock::now();
  std::thread st([&] { svcRefl.run(); }), et([&] { sliceRefl.run(); });
  bool synced = false;
  while (Clock::now() - t0 < 30s) {
    if (cache.snapshot()->allSynced()) {
      synced = true;
      break;
    }
    std::this_thread::sleep_for(200us);
  }
  double listS = std::chrono::duration<double>(Clock::now() - t0).count();
  Mem after = readMem();
  size_t nSvc = cache.size(kube::ObjectKind::Service), nSlice = cache.size(kube::ObjectKind::EndpointSlice);
  if (!synced || nSvc != static_cast<size_t>(services) || nSlice != static_cast<size_t>(slices)) {
    std::fprintf(stderr, "kube_watch_bench: not synced after %.1f s (%zu Services, %zu EndpointSlices)\n", listS,
                 nSvc, nSlice);
    rc = 1;
  }

  // Watch latency: one modification at a time, waiting for the subscriber to see it.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> latUs;
  size_t seen = 0;
  auto sub = cache.subscribe([&](const kube::Event& e) {
    int64_t now = nowNs();
    if (e.kind != kube::ObjectKind::Service || !e.current) return;
    auto sent = kube::metaOf(*e.current).labels.get(kSentLabel);
    if (!sent) return;
    std::lock_guard lock(mu);
    latUs.push_back(static_cast<double>(now - std::atoll(std::string(*sent).c_str())) / 1000.0);
    ++seen;
    cv.notify_all();
  });
  int lost = 0;
  Clock::time_point w0 = Clock::now();
  for (int i = 0; rc == 0 && i < modify && Clock::now() - w0 < 20s; ++i) {
    if (!writeLine(cmdFd, "M " + std::to_string(i)) || !readLine(respFd, rbuf, line, 5000)) {
      rc = 1;
      break;
    }
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, 2s, [&] { return seen == static_cast<size_t>(i + 1 - lost); })) ++lost;
  }
  cache.unsubscribe(sub);
  if (lost > 0) {
    std::fprintf(stderr, "kube_watch_bench: %d modifications never reached the cache\n", lost);
    rc = 1;
  }
  Mem serverMem;
  if (writeLine(cmdFd, "R") && readLine(respFd, rbuf, line, 5000))
    std::sscanf(line.c_str(), "%ld %ld", &serverMem.rssKiB, &serverMem.hwmKiB);
  Mem end = readMem();
  svcRefl.stop();
  sliceRefl.stop();
  st.join();
  et.join();
  stopChild();

  std::vector<double> lat;
  {
    std::lock_guard lock(mu);
    lat = latUs;
  }
  double p50 = percentile(lat, 0.5), p99 = percentile(lat, 0.99), mx = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  int64_t deltaKiB = after.rssKiB - before.rssKiB;

  std::printf("kube_watch_bench: %d Services + %d EndpointSlices (2 endpoints), %s, fake server in child pid %d\n",
              services, slices, tls ? "HTTPS" : "HTTP", static_cast<int>(child));
  std::printf("(server load %.2f s, untimed)\n", loadS);
  std::printf("| %-44s | %12s | %10s |\n", "metric", "value", "target");
  std::printf("|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(14, '-').c_str(), std::string(12, '-').c_str());
  std::printf("| %-44s | %9.3f s  | %10s |\n", "list+decode+cache, both kinds synced", listS, "<= 1 s");
  std::printf("| %-44s | %8.1f MiB | %10s |\n", "client VmRSS before reflectors", mib(before.rssKiB), "");
  std::printf("| %-44s | %8.1f MiB | %10s |\n", "client VmRSS after sync", mib(after.rssKiB), "<= 64 MiB");
  std::printf("| %-44s | %8.1f MiB | %10s |\n", "client VmHWM (peak) after sync", mib(after.hwmKiB), "<= 64 MiB");
  std::printf("| %-44s | %8.1f MiB | %10s |\n", "client RSS delta (cache + decode residue)", mib(deltaKiB), "");
  std::printf("| %-44s | %8.1f MiB | %10s |\n", "client VmRSS after the watch phase", mib(end.rssKiB), "");
  std::printf("| %-44s | %8.1f MiB | %10s |\n", "client VmHWM after the watch phase", mib(end.hwmKiB), "");
  std::printf("| %-44s | %8.1f MiB | %10s |\n", "fake server VmRSS (child, not client)", mib(serverMem.rssKiB), "");
  std::printf("| %-44s | %8.1f us  | %10s |\n", "watch event -> handler p50", p50, "");
  std::printf("| %-44s | %8.1f us  | %10s |\n", "watch event -> handler p99", p99, "<= 1000 us");
  std::printf("| %-44s | %8.1f us  | %10s |\n", "watch event -> handler max", mx, "");
  std::printf("(%zu of %d modifications measured)\n", lat.size(), modify);

  if (!jsonFile.empty()) {
    json j = {{"benchmark", "kube_watch"},
              {"transport", tls ? "https" : "http"},
              {"services", services},
              {"endpointSlices", slices},
              {"listDecodeCacheSeconds", listS},
              {"clientRssBeforeKiB", before.rssKiB},
              {"clientRssAfterSyncKiB", after.rssKiB},
              {"clientHwmAfterSyncKiB", after.hwmKiB},
              {"clientRssDeltaKiB", deltaKiB},
              {"clientRssEndKiB", end.rssKiB},
              {"clientHwmEndKiB", end.hwmKiB},
              {"serverRssKiB", serverMem.rssKiB},
              {"watchModifications", modify},
              {"watchMeasured", lat.size()},
              {"watchLatencyUs", {{"p50", p50}, {"p99", p99}, {"max", mx}}},
              {"targets", {{"listDecodeCacheSeconds", 1.0}, {"rssMiB", 64}, {"watchP99Us", 1000}}},
              {"ok", rc == 0}};
    std::ofstream(jsonFile) << j.dump(2) << "\n";
  }
  return rc;
}
