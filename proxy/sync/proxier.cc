#include "proxy/sync/proxier.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include "base/log.h"
#include "base/strings.h"
#include "netlink/nft/encode.h"
#include "proxy/model/change_tracker.h"
#include "proxy/rules/names.h"
#include "proxy/sync/runner.h"
#include "proxy/sync/table_sync.h"
#include "proxy/sync/trace.h"

namespace nodenet::proxy::sync {

class Proxier::Impl {
 public:
  Impl(kube::Cache& cache, nft::Kernel& kernel, ConntrackCleaner* conntrack, ProxierConfig config, Clock& clock,
       SyncObserver* observer)
      : cache_(cache),
        kernel_(kernel),
        conntrack_(conntrack),
        config_(std::move(config)),
        clock_(clock),
        observer_(observer),
        filter_(kube::proxyFilter()),
        tracker_(config_.nodeName),
        runner_(clock, intervals(config_), [this] { return runOnce(); }) {}

  ~Impl() { stop(); }

  static RunnerIntervals intervals(const ProxierConfig& c) {
    RunnerIntervals iv;
    iv.minInterval = c.minSyncPeriod;
    iv.maxInterval = c.syncPeriod;
    iv.retryInitial = c.retryInitial;
    iv.retryMax = c.retryMax;
    return iv;
  }

  Status validate() {
    if (!config_.ipv4 && !config_.ipv6) return Error("proxier: no IP family to program");
    if (config_.ipv4 && config_.ipv4->family != IpFamily::V4) return Error("proxier: ipv4 config has family IPv6");
    if (config_.ipv6 && config_.ipv6->family != IpFamily::V6) return Error("proxier: ipv6 config has family IPv4");
    if (config_.minSyncPeriod.count() < 0 || config_.syncPeriod.count() <= 0 || config_.retryInitial.count() <= 0 ||
        config_.retryMax < config_.retryInitial)
      return Error("proxier: invalid sync periods (need syncPeriod > 0, 0 < retryInitial <= retryMax)");
    return okStatus();
  }

  Status prepare() {
    if (!prepared_) {
      NN_TRY(validate());
      if (config_.ipv4) tables_.push_back(std::make_unique<TableSync>(*config_.ipv4));
      if (config_.ipv6) tables_.push_back(std::make_unique<TableSync>(*config_.ipv6));
      prepared_ = true;
    }
    if (!subscribed_) {
      subscription_ = cache_.subscribe(
          [this](const kube::Event& e) {
            if (tracker_.record(e)) {
              if (observer_) observer_->onSyncQueued();
              if (running_) runner_.run();
            }
          },
          filter_);
      subscribed_ = true;
      // Index what the cache already holds; anything missed while unsubscribed is covered by a full sync.
      tracker_.reset(cache_, filter_);
      needFull_ = true;
    }
    return okStatus();
  }

  Status start() {
    if (running_) return Error("proxier: already started");
    NN_TRY(prepare());
    running_ = true;
    runner_.start();
    runner_.run();  // a restart syncs at once (minSyncPeriod permitting), not at the next periodic run
    return okStatus();
  }

  void stop() {
    if (running_) {
      running_ = false;
      runner_.stop();
    }
    if (subscribed_) {
      cache_.unsubscribe(subscription_);
      subscribed_ = false;
    }
  }

  RunOutcome runOnce() {
    std::optional<SyncReport> r = sync(false);
    if (!r) return RunOutcome::NotReady;
    return r->ok ? RunOutcome::Ok : RunOutcome::Failed;
  }

  SyncReport syncNow(bool forceFull) {
    if (!prepare().ok()) {
      SyncReport r;
      r.error = validate().ok() ? "proxier: cannot prepare" : validate().error().message();
      return r;
    }
    std::optional<SyncReport> r = sync(forceFull, /*ignoreSynced=*/true);
    return r ? *r : SyncReport{};
  }

  std::map<std::string, std::pair<uint16_t, size_t>> healthCheckServices() const {
    std::lock_guard lock(healthMu_);
    return health_;
  }

 private:
  /// One sync; nullopt when the cache has not synced yet (nothing done).
  std::optional<SyncReport> sync(bool forceFull, bool ignoreSynced = false) {
    if (!ignoreSynced && !cache_.snapshot()->allSynced()) return std::nullopt;
    const auto t0 = std::chrono::steady_clock::now();
    SyncTrace trace;
    const Clock::TimePoint now = clock_.now();
    model::Changes ch = tracker_.checkout(cache_);
    trace.mark("checkout");
    const kube::CacheSnapshot& snap = *ch.snapshot;
    for (auto t : ch.triggerTimes) triggers_.push_back(t);

    bool full = forceFull || needFull_ || ch.nodeChanged || !lastFull_ || now - *lastFull_ >= config_.syncPeriod;
    for (const auto& t : tables_) full = full || t->needsFull();

    SyncReport report;
    report.full = full;
    report.ok = true;
    std::vector<TablePlan> plans;
    plans.reserve(tables_.size());
    if (full) {
      rules::NodeInput node;
      node.name = config_.nodeName;
      if (const kube::Node* n = snap.node(config_.nodeName)) node = rules::nodeInputFrom(*n);
      std::unordered_map<std::string, std::vector<const kube::EndpointSlice*>> slices;
      slices.reserve(snap.size(kube::ObjectKind::EndpointSlice));
      snap.forEach<kube::EndpointSlice>(
          [&](const kube::EndpointSlice& s) {
            std::string key = model::serviceKeyOf(s);
            if (!key.empty()) slices[std::move(key)].push_back(&s);
          },
          filter_);
      std::vector<rules::ServiceInput> services;
      services.reserve(snap.size(kube::ObjectKind::Service));
      for (const auto& [key, obj] : snap.objects(kube::ObjectKind::Service)) {
        if (!filter_(*obj)) continue;
        rules::ServiceInput in{.service = &std::get<kube::Service>(*obj)};
        if (auto it = slices.find(key); it != slices.end()) in.slices = std::move(it->second);
        services.push_back(std::move(in));
      }
      trace.mark("inputs");
      for (const auto& t : tables_) {
        auto plan = t->planFull(services, node, kernel_);
        if (!plan.ok()) {
          fail(report, *t, plan.error());
          plans.clear();
          break;
        }
        plans.push_back(std::move(*plan));
      }
    } else {
      std::vector<std::string> touched;
      touched.reserve(ch.services.size());
      for (const auto& [key, sliceKeys] : ch.services) touched.push_back(key);
      // Slices of touched Services come from the checkout (consistent with the snapshot); others (pulled in by
      // map-key conflicts) from the tracker's index.
      ServiceLookup lookup = [&](const std::string& key) -> std::optional<rules::ServiceInput> {
        const kube::ObjectPtr svc = snap.find(kube::ObjectKind::Service, key);
        if (!svc || !filter_(*svc)) return std::nullopt;
        rules::ServiceInput in{.service = &std::get<kube::Service>(*svc)};
        auto it = ch.services.find(key);
        std::vector<std::string> other;
        if (it == ch.services.end()) other = tracker_.slicesOf(key);
        for (const std::string& sk : it != ch.services.end() ? it->second : other) {
          const kube::ObjectPtr s = snap.find(kube::ObjectKind::EndpointSlice, sk);
          if (!s || !filter_(*s)) continue;
          const auto& slice = std::get<kube::EndpointSlice>(*s);
          if (model::serviceKeyOf(slice) == key) in.slices.push_back(&slice);
        }
        return in;
      };
      for (const auto& t : tables_) {
        auto plan = t->planPartial(touched, lookup);
        if (!plan.ok()) {
          fail(report, *t, plan.error());
          plans.clear();
          break;
        }
        plans.push_back(std::move(*plan));
      }
    }

    trace.mark("plan");
    std::vector<UdpFlowFilter> conntrack;
    bool pendingDeletes = false;
    for (size_t i = 0; i < plans.size(); ++i) {
      TableSync& t = *tables_[i];
      TablePlan& plan = plans[i];
      report.servicesChanged = std::max(report.servicesChanged, plan.servicesChanged);
      if (!plan.tx.empty()) {
        NN_VLOG(9) << "nft transaction for " << nft::familyName(t.family()) << " " << t.table() << ":\n"
                   << plan.tx.toString();
        if (trace.on()) {  // the encoder's share of the commit (encodes twice when tracing)
          auto e0 = std::chrono::steady_clock::now();
          auto batch = nft::encodeBatch(plan.tx, 1);
          std::fprintf(stderr, "sync trace:   encode %zu ops -> %zu bytes: %.3f ms\n", plan.tx.size(),
                       batch.ok() ? batch->buffer.size() : 0,
                       std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e0).count());
          trace.mark("encode");
        }
        Status st = kernel_.commit(plan.tx);
        if (!st.ok()) {
          fail(report, t, st.error());
          continue;
        }
      }
      trace.mark("commit");
      for (auto& f : plan.conntrack) conntrack.push_back(std::move(f));
      t.applied(std::move(plan));
      trace.mark("applied");
      pendingDeletes = pendingDeletes || t.hasPendingDeletes();
    }
    if (report.ok) {
      needFull_ = false;
      if (full) lastFull_ = now;
    }

    // Stale UDP flows: only after the new rules are in (a new packet of the flow must meet them). Failures are
    // logged, not fatal: the flows time out eventually, as in kube-proxy.
    if (conntrack_ && !conntrack.empty()) {
      auto n = conntrack_->deleteUdpFlowsBatch(conntrack);
      if (!n.ok())
        NN_LOG(Warning) << "deleting stale conntrack flows (" << conntrack.size() << " filters, first "
                        << conntrack.front().toString() << "): " << n.error().message();
      else
        NN_VLOG(4) << "deleted " << *n << " stale conntrack flows matching " << conntrack.size() << " filters";
    }

    updateHealth();
    const auto t1 = std::chrono::steady_clock::now();
    report.duration = t1 - t0;
    if (report.ok) {
      const auto wall = std::chrono::system_clock::now();
      for (auto t : triggers_)
        report.networkProgrammingLatencies.push_back(std::max(std::chrono::nanoseconds(0),
                                                              std::chrono::nanoseconds(wall - t)));
      triggers_.clear();
    }
    if (report.ok)
      NN_VLOG(2) << (full ? "full" : "partial") << " sync: " << report.servicesChanged << " services in "
                 << std::chrono::duration_cast<std::chrono::microseconds>(report.duration).count() << " us";
    if (observer_) observer_->onSync(report);
    // Chains and sets flushed by this sync are deleted by the next one; make sure there is one.
    if (pendingDeletes && running_) runner_.run();
    return report;
  }

  void fail(SyncReport& report, TableSync& t, const Error& err) {
    std::string msg = strCat(nft::familyName(t.family()), " ", t.table(), ": ", err.message());
    NN_LOG(Error) << "sync failed (next: full sync): " << msg;
    if (report.ok) report.error = msg;
    report.ok = false;
    needFull_ = true;
  }

  void updateHealth() {
    std::map<std::string, std::pair<uint16_t, size_t>> h;
    for (const auto& t : tables_)
      for (const auto& [key, v] : t->healthChecks()) {
        // A dual-stack Service's pods are counted once per family: report the larger count, not the sum.
        auto& slot = h[key];
        slot.first = v.first;
        slot.second = std::max(slot.second, v.second);
      }
    std::lock_guard lock(healthMu_);
    health_ = std::move(h);
  }

  kube::Cache& cache_;
  nft::Kernel& kernel_;
  ConntrackCleaner* conntrack_;
  ProxierConfig config_;
  Clock& clock_;
  SyncObserver* observer_;
  kube::ObjectFilter filter_;
  model::ChangeTracker tracker_;
  std::vector<std::unique_ptr<TableSync>> tables_;
  BoundedRunner runner_;
  std::atomic<bool> running_{false};
  bool prepared_ = false;
  bool subscribed_ = false;
  kube::Cache::SubscriptionId subscription_ = 0;
  // Runner thread only:
  bool needFull_ = true;
  std::optional<Clock::TimePoint> lastFull_;
  std::vector<std::chrono::system_clock::time_point> triggers_;  // not yet programmed
  mutable std::mutex healthMu_;
  std::map<std::string, std::pair<uint16_t, size_t>> health_;
};

Proxier::Proxier(kube::Cache& cache, nft::Kernel& kernel, ConntrackCleaner* conntrack, ProxierConfig config,
                 Clock& clock, SyncObserver* observer)
    : impl_(std::make_unique<Impl>(cache, kernel, conntrack, std::move(config), clock, observer)) {}

Proxier::~Proxier() = default;

Status Proxier::start() { return impl_->start(); }
void Proxier::stop() { impl_->stop(); }
std::map<std::string, std::pair<uint16_t, size_t>> Proxier::healthCheckServices() const {
  return impl_->healthCheckServices();
}
SyncReport Proxier::syncNowForTest(bool forceFull) { return impl_->syncNow(forceFull); }

Status cleanupTables(nft::Kernel& kernel) {
  for (nft::Family f : {nft::Family::Ip, nft::Family::Ip6}) {
    const std::string table(rules::kTableName);
    auto has = kernel.hasTable(f, table);
    if (!has.ok()) return has.error().context(strCat("cleanup: ", nft::familyName(f), " ", table));
    if (!*has) continue;
    nft::Transaction tx(f, table);
    tx.remove(nft::Table{f, table});
    NN_TRY(kernel.commit(tx));
    NN_LOG(Info) << "deleted table " << nft::familyName(f) << " " << table;
  }
  return okStatus();
}

}  // namespace nodenet::proxy::sync
