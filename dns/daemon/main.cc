// nodenet-dns: cluster DNS from the Service/EndpointSlice watches (or a manifest directory).
//
// source -> kube::Cache -> IndexUpdater (pure buildIndex, atomic swap) -> Server (UDP receivers, TCP workers) ->
// Upstream (c-ares) for names outside the zone. SIGTERM/SIGINT stop it cleanly.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "dns/daemon/options.h"
#include "dns/server/index_updater.h"
#include "dns/server/server.h"
#include "dns/server/upstream.h"
#include "kube/source/source.h"

using namespace nodenet;
using namespace nodenet::dns;

namespace {

// How long to wait for the API server's initial lists before serving anyway (CoreDNS's kubernetes plugin
// starts "with unsynced Kubernetes API" after 5 s, answering what it has).
constexpr auto kSyncWait = std::chrono::seconds(5);

// Waits for SIGTERM/SIGINT up to `timeout`; true when one arrived.
bool waitSignal(const sigset_t& set, std::chrono::milliseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000000};
  int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig > 0) {
    NN_LOG(Info) << "received " << (sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal")
                 << ", shutting down";
    return true;
  }
  return false;
}

std::string listDescription(const std::vector<server::SocketAddress>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : ",") + a.toString();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto opts = daemon::parseOptions(args);
  if (!opts.ok()) {
    std::fprintf(stderr, "nodenet-dns: %s\n", opts.error().message().c_str());
    return 1;
  }
  if (opts->help) {
    std::cout << daemon::usage();
    return 0;
  }
  // One malloc arena: the rebuild thread, the source's thread and the workers would otherwise each keep an
  // arena whose freed pages stay resident between rebuilds (measured with the 2,000-Service plan under churn:
  // VmHWM 21.7 -> 18.9 MiB, RSS after churn 18.5 -> 16.5 MiB). Queries do not allocate, so the shared arena
  // lock is not on the query path.
  mallopt(M_ARENA_MAX, 1);
  log::setVerbosity(opts->verbosity);
  log::setFormat(opts->loggingFormat);

  // Signals are taken synchronously by the main thread; every thread started below inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a TCP client that went away must not kill us

  kube::Cache cache;
  kube::SourceConfig sc;
  sc.manifestsDir = opts->manifestsDir;
  sc.kubeconfig = opts->kubeconfig;
  sc.master = opts->master;
  sc.proxySelectors = false;  // DNS reads headless Services' slices and other proxies' Services
  auto source = kube::Source::start(sc, cache);
  if (!source.ok()) {
    NN_LOG(Error) << "starting the source: " << source.error().message();
    return 1;
  }
  NN_LOG(Info) << "nodenet-dns reading " << (*source)->describe();
  auto deadline = std::chrono::steady_clock::now() + kSyncWait;
  while (!(*source)->synced()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      NN_LOG(Warning) << "initial lists not complete after " << kSyncWait.count()
                      << " s; serving what is known and updating as objects arrive";
      break;
    }
    if (waitSignal(sigs, std::chrono::milliseconds(20))) {
      (*source)->stop();
      return 0;
    }
  }

  records::Config rc;
  rc.zone = opts->zone;
  rc.ttl = opts->ttl;
  server::IndexHolder holder;
  auto updater = server::IndexUpdater::start(cache, rc, holder);
  if (!updater.ok()) {
    NN_LOG(Error) << "--zone " << opts->zone << ": " << updater.error().message();
    (*source)->stop();
    return 1;
  }

  std::shared_ptr<server::Upstream> upstream;
  if (!opts->upstreamNone) {
    std::vector<server::SocketAddress> servers = opts->upstreams;
    if (servers.empty()) {
      auto fromFile = server::readResolvConf(opts->resolvConf);
      if (!fromFile.ok()) {
        NN_LOG(Warning) << fromFile.error().message();
      } else {
        for (const auto& s : *fromFile) {
          // Forwarding to ourselves would loop (CoreDNS's `loop` plugin exists for this): skip our own address.
          bool self = false;
          for (const auto& l : opts->listen)
            if (l.port == s.port && (l.ip == s.ip || l.ip.isUnspecified())) self = true;
          if (self)
            NN_LOG(Warning) << opts->resolvConf << ": skipping nameserver " << s.toString()
                            << " (this server: forwarding to it would loop)";
          else
            servers.push_back(s);
        }
      }
    }
    if (servers.empty()) {
      NN_LOG(Warning) << "no upstream servers (no --upstream, none usable in " << opts->resolvConf
                      << "): names outside " << opts->zone << " get REFUSED";
    } else {
      server::UpstreamConfig uc;
      uc.servers = servers;
      uc.timeout = opts->upstreamTimeout;
      uc.cacheEntries = opts->cacheSize;
      uc.cacheMaxTtl = opts->cacheMaxTtl;
      auto u = server::Upstream::start(uc);
      if (!u.ok()) {
        NN_LOG(Error) << "--upstream: " << u.error().message();
        return 1;
      }
      upstream = std::move(*u);
    }
  }

  server::ServerConfig cfg;
  cfg.listen = opts->listen;
  cfg.threads = opts->threads ? opts->threads : std::max(1u, std::thread::hardware_concurrency());
  cfg.maxUdpPayload = opts->maxUdpSize;
  cfg.tcpIdleTimeout = opts->tcpIdleTimeout;
  cfg.maxTcpConnections = opts->maxTcpConnections;
  cfg.answerCacheBytes = opts->answerCacheBytes;
  auto srv = server::Server::start(cfg, holder, upstream);
  if (!srv.ok()) {
    NN_LOG(Error) << "--listen: " << srv.error().message();
    if (upstream) upstream->stop();
    (*updater)->stop();
    (*source)->stop();
    return 1;
  }
  server::UpdaterStats us = (*updater)->stats();
  NN_LOG(Info) << "serving " << us.services + us.endpoints << " records (" << us.services << " services, "
               << us.endpoints << " endpoints) for " << opts->zone << " on "
               << listDescription((*srv)->listening()) << " (udp+tcp, " << cfg.threads << " threads); upstream "
               << (upstream ? upstream->describe() : std::string("none (REFUSED)"));

  while (!waitSignal(sigs, std::chrono::seconds(60))) {
    server::ServerStats st = (*srv)->stats();
    NN_VLOG(1) << "queries udp " << st.udpQueries << " tcp " << st.tcpQueries << ", forwarded " << st.forwarded
               << ", refused " << st.refused << ", errors " << st.errors << ", truncated " << st.truncated
               << ", answered from the answer cache " << st.answerCacheHits;
  }
  (*srv)->stop();  // also stops the upstream
  (*updater)->stop();
  (*source)->stop();
  server::UpdaterStats fin = (*updater)->stats();
  server::ServerStats st = (*srv)->stats();
  NN_LOG(Info) << "stopped; index builds " << fin.builds << ", worst change-to-served "
               << fin.maxChangeToServe.count() << " us; queries udp " << st.udpQueries << " (answer cache hits "
               << st.answerCacheHits << ") tcp " << st.tcpQueries;
  return 0;
}
