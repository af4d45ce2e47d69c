#include "dns/server/index_updater.h"

#include <malloc.h>

#include <ctime>

#include "base/log.h"

namespace nodenet::dns::server {

IndexUpdater::IndexUpdater(kube::Cache& cache, records::Config config, IndexHolder& holder, UpdaterOptions options)
    : cache_(cache), config_(std::move(config)), holder_(holder), options_(options) {}

IndexUpdater::~IndexUpdater() { stop(); }

Result<std::unique_ptr<IndexUpdater>> IndexUpdater::start(kube::Cache& cache, records::Config config,
                                                          IndexHolder& holder, UpdaterOptions options) {
  std::unique_ptr<IndexUpdater> u(new IndexUpdater(cache, std::move(config), holder, options));
  // Subscribe before the first build: a change between the build and the subscription would otherwise be
  // missed until the next one.
  IndexUpdater* self = u.get();
  u->subscription_ = cache.subscribe(
      [self](const kube::Event&) {
        std::lock_guard lock(self->mu_);
        if (!self->dirty_) self->firstChange_ = Clock::now();
        self->dirty_ = true;
        self->cv_.notify_one();
      },
      kube::dnsFilter());
  u->subscribed_ = true;
  {
    std::lock_guard lock(u->mu_);
    u->dirty_ = false;  // the build below covers everything seen so far
  }
  Status first = u->buildAndPublish(Clock::now());
  if (!first.ok()) {
    u->stop();
    return std::move(first).error();
  }
  u->thread_ = std::thread([self] { self->run(); });
  return u;
}

void IndexUpdater::stop() {
  if (subscribed_) {
    cache_.unsubscribe(subscription_);
    subscribed_ = false;
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status IndexUpdater::rebuild() { return buildAndPublish(Clock::now()); }

UpdaterStats IndexUpdater::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status IndexUpdater::buildAndPublish(Clock::time_point firstChange) {
  std::lock_guard build(buildMu_);
  kube::CacheSnapshotPtr snap = cache_.snapshot();
  records::Snapshot s;
  const kube::ObjectFilter filter = kube::dnsFilter();
  s.services.reserve(snap->size(kube::ObjectKind::Service));
  s.slices.reserve(snap->size(kube::ObjectKind::EndpointSlice));
  snap->forEach<kube::Service>([&](const kube::Service& svc) { s.services.push_back(&svc); }, filter);
  snap->forEach<kube::EndpointSlice>([&](const kube::EndpointSlice& sl) { s.slices.push_back(&sl); }, filter);
  // CoreDNS's SOA serial: the Unix time of the last change it saw.
  s.serial = static_cast<uint32_t>(std::time(nullptr));
  auto t0 = Clock::now();
  auto ix = records::buildIndex(s, config_);
  auto t1 = Clock::now();
  if (!ix.ok()) {
    std::lock_guard lock(mu_);
    ++stats_.failures;
    return std::move(ix).error().context("building the DNS index");
  }
  const records::BuildStats bs = (*ix)->stats();  // a copy: our reference to the index goes below
  for (const std::string& m : bs.skipMessages) NN_VLOG(2) << "DNS index: skipped " << m;
  holder_.publish(*ix);
  auto served = Clock::now();
  ix = Error("released");  // drop our reference: the holder and the query threads own the index now
  // Hand the pages freed by the previous index (and by a source's parsing) back to the kernel: glibc keeps
  // freed heap memory mapped, so every rebuild would otherwise leave its peak in the RSS. A few hundred
  // microseconds, off the query path.
  ::malloc_trim(0);
  std::lock_guard lock(mu_);
  ++stats_.builds;
  stats_.lastBuild = std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0);
  stats_.lastChangeToServe = std::chrono::duration_cast<std::chrono::microseconds>(served - firstChange);
  if (stats_.lastChangeToServe > stats_.maxChangeToServe) stats_.maxChangeToServe = stats_.lastChangeToServe;
  stats_.services = bs.services;
  stats_.endpoints = bs.endpoints;
  stats_.skipped = bs.skipped;
  NN_VLOG(3) << "DNS index rebuilt: " << bs.services << " services, " << bs.endpoints << " endpoints, "
             << bs.skipped << " skipped; build " << stats_.lastBuild.count() << " us, change to served "
             << stats_.lastChangeToServe.count() << " us";
  return okStatus();
}

void IndexUpdater::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return dirty_ || stopping_; });
    if (stopping_) return;
    Clock::time_point first = firstChange_;
    // Collect the rest of a burst, but never wait longer than `debounce` after the first change of it.
    cv_.wait_until(lock, first + options_.debounce, [&] { return stopping_; });
    if (stopping_) return;
    dirty_ = false;
    lock.unlock();
    Status st = buildAndPublish(first);
    if (!st.ok()) NN_LOG(Error) << st.error().message() << " (still serving the previous index)";
    lock.lock();
  }
}

}  // namespace nodenet::dns::server
