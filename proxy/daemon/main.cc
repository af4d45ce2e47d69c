// nodenet-proxy: the Service proxy daemon of one node.
//
//   options (flags + --config)  ->  kube::Source (manifests dir or API server)  ->  kube::Cache
//        -> sync::Proxier (nftables over netlink in this network namespace, conntrack cleanup)
//        -> /healthz + /livez (health), /metrics (metrics), healthCheckNodePort listeners (after each sync)
//
// The process works in the network namespace it was started in (on a node: the host's; in the demo and the
// integration tests: `ip netns exec <node-ns> nodenet-proxy ...`). SIGTERM/SIGINT stop it and LEAVE the rules,
// so traffic keeps flowing through a restart; --cleanup removes our tables and nothing else.
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "kube/cache/cache.h"
#include "kube/source/source.h"
#include "netlink/nft/netlink_kernel.h"
#include "proxy/daemon/config_watch.h"
#include "proxy/daemon/conntrack_cleaner.h"
#include "proxy/daemon/options.h"
#include "proxy/health/proxier_health.h"
#include "proxy/health/service_health.h"
#include "proxy/metrics/http_server.h"
#include "proxy/metrics/proxy_metrics.h"
#include "proxy/sync/proxier.h"

namespace nodenet::proxy::daemon {
namespace {

using namespace std::chrono_literals;

// How long startup waits for the source's initial lists before choosing the IP families from what it has
// (the Node may be missing; the Proxier itself waits for allSynced() before its first sync).
constexpr auto kInitialSyncWait = 10s;
// The main loop's tick: how quickly a finished sync reaches the healthCheckNodePort listeners.
constexpr auto kTick = 100ms;


std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

// Waits for SIGINT/SIGTERM (blocked in every thread) for at most `timeout`; returns the signal or 0.
int waitSignal(const sigset_t& set, std::chrono::milliseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000), static_cast<long>((timeout.count() % 1000) * 1000000)};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

// Every address configured on an interface of this network namespace (what kube-proxy matches
// --nodeport-addresses CIDRs against).
std::vector<IpAddress> interfaceAddresses() {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    if (a->ifa_addr->sa_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
      out.push_back(IpAddress::fromBytes(IpFamily::V4, reinterpret_cast<const uint8_t*>(&sin->sin_addr)));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      out.push_back(IpAddress::fromBytes(IpFamily::V6, sin6->sin6_addr.s6_addr));
    }
  }
  freeifaddrs(list);
  return out;
}

bool ipv6Enabled() {
  auto v = readFile("/proc/sys/net/ipv6/conf/all/disable_ipv6");
  return v.ok() && trim(*v) == "0";
}

std::shared_ptr<const kube::Node> findNode(const kube::Cache& cache, const std::string& name) {
  kube::ObjectPtr p = cache.get(kube::ObjectKind::Node, name);
  if (!p) return nullptr;
  const auto* n = std::get_if<kube::Node>(p.get());
  return n ? std::shared_ptr<const kube::Node>(p, n) : nullptr;
}

// The families to program: those of --cluster-cidr and of the Node's addresses; without either, IPv4 plus
// IPv6 when this namespace has IPv6 (kube-proxy runs dual-stack whenever the node can).
std::set<IpFamily> chooseFamilies(const Options& o, const kube::Node* node) {
  std::set<IpFamily> f;
  for (const auto& c : o.clusterCIDRs) f.insert(c.family());
  if (node)
    for (const auto& a : node->addresses)
      if (a.ip && (a.type == kube::NodeAddressType::InternalIP || a.type == kube::NodeAddressType::ExternalIP))
        f.insert(a.ip->family());
  if (f.empty()) {
    f.insert(IpFamily::V4);
    if (ipv6Enabled()) f.insert(IpFamily::V6);
  }
  return f;
}

// Where healthCheckNodePort listeners bind (kube-proxy: the --nodeport-addresses node IPs; all when unset).
std::vector<IpAddress> healthCheckAddresses(const Options& o, const kube::Node* node) {
  if (o.nodePortAddresses.all()) return {};
  std::vector<IpAddress> out;
  if (o.nodePortAddresses.primary) {
    std::set<IpFamily> seen;
    if (node) {
      for (auto type : {kube::NodeAddressType::InternalIP, kube::NodeAddressType::ExternalIP})
        for (const auto& ip : node->ips(type))
          if (seen.insert(ip.family()).second) out.push_back(ip);
    }
    if (out.empty())
      NN_LOG(Warning) << "--nodeport-addresses=primary: Node " << o.nodeName
                      << " has no InternalIP/ExternalIP yet; health check ports listen on every address";
    return out;
  }
  for (const auto& ip : interfaceAddresses())
    for (const auto& c : o.nodePortAddresses.cidrs)
      if (c.contains(ip)) {
        out.push_back(ip);
        break;
      }
  return out;
}

// Bridges Proxier reports to metrics and /healthz, and tells the main loop that the health check services may
// have changed (the main loop asks the Proxier, so nothing here calls back into it from its own thread).
class Observer final : public sync::SyncObserver {
 public:
  Observer(metrics::ProxyMetrics& m, health::ProxierHealthServer& h) : metrics_(m), health_(h) {}

  void onSyncQueued() override {
    metrics_.syncQueued();
    health_.queuedUpdate();
  }
  void onSync(const sync::SyncReport& r) override {
    double secs = std::chrono::duration<double>(r.duration).count();
    metrics_.syncDuration(r.full, secs);
    if (r.ok) {
      metrics_.syncSucceeded();
      health_.updated();
      for (auto l : r.networkProgrammingLatencies)
        metrics_.networkProgrammingLatency(std::chrono::duration<double>(l).count());
      NN_VLOG(4) << (r.full ? "full" : "partial") << " sync: " << r.servicesChanged << " services in "
                 << std::chrono::duration_cast<std::chrono::microseconds>(r.duration).count() << " us";
      syncedSinceLastLook_.store(true);
    } else {
      metrics_.syncFailed();
      NN_LOG(Error) << (r.full ? "full" : "partial") << " sync failed (will retry with a full sync): " << r.error;
    }
  }
  /// True once per batch of successful syncs.
  bool takeSynced() { return syncedSinceLastLook_.exchange(false); }

 private:
  metrics::ProxyMetrics& metrics_;
  health::ProxierHealthServer& health_;
  std::atomic<bool> syncedSinceLastLook_{false};
};

int runCleanup() {
  auto kernel = nft::NetlinkKernel::create();
  if (!kernel.ok()) {
    NN_LOG(Error) << "--cleanup: " << kernel.error().message();
    return 1;
  }
  Status s = sync::cleanupTables(**kernel);
  if (!s.ok()) {
    NN_LOG(Error) << "--cleanup: " << s.error().message();
    return 1;
  }
  NN_LOG(Info) << "removed nodenet's nftables tables (ip nodenet, ip6 nodenet) if present";
  return 0;
}

int run(const Options& o, const std::string& configText) {
  // Signals are taken synchronously by the main loop: block them before any thread exists so every thread
  // inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto kernel = nft::NetlinkKernel::create();
  if (!kernel.ok()) {
    NN_LOG(Error) << "nftables netlink socket: " << kernel.error().message();
    return 1;
  }
  std::unique_ptr<NetlinkConntrackCleaner> cleaner;
  if (auto ct = conntrack::Conntrack::create(); ct.ok()) {
    cleaner = std::make_unique<NetlinkConntrackCleaner>(std::move(*ct));
  } else {
    NN_LOG(Warning) << "conntrack netlink socket: " << ct.error().message() << "; stale UDP flows will not be deleted";
  }

  auto http = metrics::HttpServer::create("http");
  if (!http.ok()) {
    NN_LOG(Error) << http.error().message();
    return 1;
  }
  metrics::ProxyMetrics metrics;
  health::ProxierHealthServer::Options hopts;
  hopts.healthTimeout = 2 * o.syncPeriod;  // kube-proxy's healthTimeout
  hopts.metrics = &metrics;
  health::ProxierHealthServer proxierHealth(hopts);
  if (o.healthzBindAddress) {
    Status s = proxierHealth.start(**http, o.healthzBindAddress->ip, o.healthzBindAddress->port);
    if (!s.ok()) {
      NN_LOG(Error) << "--healthz-bind-address " << o.healthzBindAddress->toString() << ": " << s.error().message();
      return 1;
    }
    NN_LOG(Info) << "serving /healthz and /livez on "
                 << metrics::hostPort(o.healthzBindAddress->ip, proxierHealth.port());
  }
  std::unique_ptr<metrics::MetricsServer> metricsServer;
  if (o.metricsBindAddress) {
    auto m = metrics::MetricsServer::start(**http, metrics, o.metricsBindAddress->ip, o.metricsBindAddress->port);
    if (!m.ok()) {
      NN_LOG(Error) << "--metrics-bind-address " << o.metricsBindAddress->toString() << ": " << m.error().message();
      return 1;
    }
    metricsServer = std::move(*m);
    NN_LOG(Info) << "serving /metrics on " << metrics::hostPort(o.metricsBindAddress->ip, metricsServer->port());
  }

  // kube-proxy exits when its config file changes, so the kubelet restarts it with the new one; so do we.
  std::unique_ptr<ConfigWatch> configWatch;
  if (!o.configFile.empty()) {
    auto w = ConfigWatch::create(o.configFile, configText);
    if (w.ok())
      configWatch = std::move(*w);
    else
      NN_LOG(Warning) << w.error().message() << "; changes to the config file will not restart the proxy";
  }

  kube::Cache cache;
  kube::SourceConfig scfg;
  scfg.manifestsDir = o.manifestsDir;
  scfg.kubeconfig = o.kubeconfig;
  scfg.master = o.master;
  scfg.nodeName = o.nodeName;
  scfg.proxySelectors = true;
  auto source = kube::Source::start(scfg, cache);
  if (!source.ok()) {
    NN_LOG(Error) << "source: " << source.error().message();
    return 1;
  }
  NN_LOG(Info) << "reading Services and EndpointSlices from " << (*source)->describe() << " for node " << o.nodeName;

  // The HTTP server stops last, when it goes out of scope after every listener's owner.
  auto stopAll = [&] { (*source)->stop(); };

  // The families depend on the Node's addresses: give the source a moment to list it.
  auto deadline = std::chrono::steady_clock::now() + kInitialSyncWait;
  while (!(*source)->synced() && std::chrono::steady_clock::now() < deadline) {
    if (int sig = waitSignal(signals, 50ms)) {
      NN_LOG(Info) << "received " << strsignal(sig) << " before the first sync; exiting";
      stopAll();
      return 0;
    }
  }
  if (!(*source)->synced())
    NN_LOG(Warning) << "the source has not listed everything after " << kInitialSyncWait.count()
                    << " s; starting anyway (the first sync waits for it)";
  auto node = findNode(cache, o.nodeName);
  if (!node)
    NN_LOG(Warning) << "Node " << o.nodeName << " not found (check --hostname-override): IP families come from"
                    << " --cluster-cidr, /healthz cannot see the Node being deleted, --nodeport-addresses=primary"
                    << " has no address";

  sync::ProxierConfig pcfg;
  std::vector<std::string> familyNames;
  for (IpFamily f : chooseFamilies(o, node.get())) {
    (f == IpFamily::V4 ? pcfg.ipv4 : pcfg.ipv6) = rulesConfig(o, f);
    familyNames.push_back(f == IpFamily::V4 ? "ip nodenet" : "ip6 nodenet");
  }
  pcfg.nodeName = o.nodeName;
  pcfg.minSyncPeriod = std::chrono::duration_cast<std::chrono::milliseconds>(o.minSyncPeriod);
  pcfg.syncPeriod = std::chrono::duration_cast<std::chrono::milliseconds>(o.syncPeriod);

  std::vector<std::string> cidrs;
  for (const auto& c : o.clusterCIDRs) cidrs.push_back(c.toString());
  NN_LOG(Info) << "programming " << join(familyNames, " and ") << "; cluster CIDRs [" << join(cidrs, ",")
               << "], nodeport addresses ["
               << (o.nodePortAddresses.all() ? std::string("all local") : join(o.nodePortAddressText, ","))
               << "], masqueradeAll=" << (o.masqueradeAll ? "true" : "false") << ", syncPeriod "
               << pcfg.syncPeriod.count() << " ms, minSyncPeriod " << pcfg.minSyncPeriod.count() << " ms";

  // /healthz answers 503 while the Node is being deleted or the cluster autoscaler has tainted it for deletion
  // (kube-proxy's node eligibility).
  auto updateEligibility = [&](const kube::Node* n) {
    if (n == nullptr) return proxierHealth.setNodeEligible(true);
    std::vector<std::string> taints;
    for (const auto& k : n->taintKeys) taints.emplace_back(k.view());
    proxierHealth.setNodeEligible(health::nodeEligibleFor(n->meta.deleting, taints));
  };
  updateEligibility(node.get());
  kube::ObjectFilter nodeOnly;
  nodeOnly.name = "own-node";
  nodeOnly.accept = [name = o.nodeName](const kube::Object& obj) {
    const auto* n = std::get_if<kube::Node>(&obj);
    return n != nullptr && n->meta.name == name;
  };
  auto nodeSub = cache.subscribe(
      [&](const kube::Event& e) {
        const kube::Node* n = e.current ? std::get_if<kube::Node>(e.current.get()) : nullptr;
        updateEligibility(n);
      },
      nodeOnly);

  // kubeproxy_sync_proxy_rules_{service,endpoint}_changes_total: the real changes the proxier sees (the cache
  // emits only real changes, and proxyFilter() is the proxier's own view).
  auto changeSub = cache.subscribe(
      [&metrics](const kube::Event& e) {
        if (e.kind == kube::ObjectKind::Service) metrics.serviceChangesSeen();
        if (e.kind == kube::ObjectKind::EndpointSlice) metrics.endpointChangesSeen();
      },
      kube::proxyFilter());
  {
    // What the source delivered before the subscription counts too (an informer's initial adds do).
    auto snap = cache.snapshot();
    snap->forEach<kube::Service>([&](const kube::Service&) { metrics.serviceChangesSeen(); }, kube::proxyFilter());
    snap->forEach<kube::EndpointSlice>([&](const kube::EndpointSlice&) { metrics.endpointChangesSeen(); },
                                       kube::proxyFilter());
  }

  health::ServiceHealthServer::Options sopts;
  sopts.bindAddresses = healthCheckAddresses(o, node.get());
  sopts.proxyHealthy = [&] { return proxierHealth.isHealthy(); };
  sopts.nodeName = o.nodeName;
  health::ServiceHealthServer serviceHealth(**http, sopts);

  Observer observer(metrics, proxierHealth);
  sync::SteadyClock clock;
  sync::Proxier proxier(cache, **kernel, cleaner.get(), pcfg, clock, &observer);
  if (Status s = proxier.start(); !s.ok()) {
    NN_LOG(Error) << "proxier: " << s.error().message();
    cache.unsubscribe(nodeSub);
    cache.unsubscribe(changeSub);
    stopAll();
    return 1;
  }

  int sig = 0;
  int exitCode = 0;
  while ((sig = waitSignal(signals, kTick)) == 0) {
    if (configWatch && configWatch->changed()) {
      NN_LOG(Error) << "the content of the configuration file " << o.configFile
                    << " changed; exiting so that it is loaded on restart (the rules stay in place)";
      exitCode = 1;
      break;
    }
    if (!observer.takeSynced()) continue;
    std::map<health::ServiceKey, uint16_t> ports;
    std::map<health::ServiceKey, int> endpoints;
    for (const auto& [key, v] : proxier.healthCheckServices()) {
      size_t slash = key.find('/');
      health::ServiceKey k{key.substr(0, slash), slash == std::string::npos ? "" : key.substr(slash + 1)};
      ports[k] = v.first;
      endpoints[k] = static_cast<int>(v.second);
    }
    serviceHealth.syncServices(ports);
    serviceHealth.syncEndpoints(endpoints);
  }
  if (sig != 0) NN_LOG(Info) << "received " << strsignal(sig) << "; stopping (the rules stay in place)";
  proxier.stop();
  cache.unsubscribe(nodeSub);
  cache.unsubscribe(changeSub);
  serviceHealth.syncServices({});
  stopAll();
  return exitCode;
}

}  // namespace
}  // namespace nodenet::proxy::daemon

int main(int argc, char** argv) {
  using namespace nodenet;
  using namespace nodenet::proxy::daemon;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string configText;  // what --config held when it was parsed (the watch compares against it)
  auto options = loadOptions(
      args,
      [&](const std::string& path) {
        auto text = readFile(path);
        if (text.ok()) configText = *text;
        return text;
      },
      hostname());
  if (!options.ok()) {
    std::cerr << "nodenet-proxy: " << options.error().message() << "\nRun 'nodenet-proxy --help' for usage.\n";
    return 1;
  }
  if (options->help) {
    std::cout << usage();
    return 0;
  }
  log::setVerbosity(options->verbosity);
  log::setFormat(options->loggingFormat);
  for (const auto& w : options->warnings) NN_LOG(Warning) << w;
  for (const auto& n : options->notices) NN_LOG(Info) << n;
  if (options->cleanup) return runCleanup();
  return run(*options, configText);
}
