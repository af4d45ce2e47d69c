// The bounded-frequency runner: RunSchedule's intervals on exact times, BoundedRunner and Proxier::start() on a
// FakeClock with a real thread.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "proxy/sync/fake_clock.h"
#include "proxy/sync/runner.h"
#include "tests/proxy_sync/sync_test_util.h"

namespace nodenet::proxy::sync {
namespace {

using namespace std::chrono_literals;
using namespace testing;

RunnerIntervals intervals() {
  RunnerIntervals iv;
  iv.minInterval = 1s;
  iv.maxInterval = 30s;
  iv.retryInitial = 2s;
  iv.retryMax = 10s;
  iv.notReadyPoll = 100ms;
  return iv;
}

TEST(RunScheduleTest, FirstRunAtOnceThenMinAndMaxInterval) {
  RunSchedule s(intervals());
  const Clock::TimePoint t0 = Clock::TimePoint(1000h);
  EXPECT_LE(s.due(), t0);
  s.takeRequest();
  s.ran(t0, RunOutcome::Ok);
  EXPECT_EQ(s.due(), t0 + 30s);  // nothing asked: the periodic run
  s.request();
  EXPECT_EQ(s.due(), t0 + 1s);  // asked: as soon as minInterval allows
  EXPECT_TRUE(s.takeRequest());
  s.ran(t0 + 5s, RunOutcome::Ok);
  EXPECT_EQ(s.due(), t0 + 35s);
}

TEST(RunScheduleTest, RequestDuringRunIsKept) {
  RunSchedule s(intervals());
  const Clock::TimePoint t0 = Clock::TimePoint(1000h);
  s.request();
  EXPECT_TRUE(s.takeRequest());
  s.request();  // arrives while the run is under way
  s.ran(t0, RunOutcome::Ok);
  EXPECT_EQ(s.due(), t0 + 1s);
}

TEST(RunScheduleTest, FailuresBackOffExponentiallyUpToRetryMax) {
  RunSchedule s(intervals());
  Clock::TimePoint t = Clock::TimePoint(1000h);
  s.ran(t, RunOutcome::Failed);
  EXPECT_EQ(s.due(), t + 2s);
  t += 2s;
  s.ran(t, RunOutcome::Failed);
  EXPECT_EQ(s.due(), t + 4s);
  t += 4s;
  s.ran(t, RunOutcome::Failed);
  EXPECT_EQ(s.due(), t + 8s);
  t += 8s;
  s.ran(t, RunOutcome::Failed);
  EXPECT_EQ(s.due(), t + 10s);  // capped
  s.request();                  // a change does not cut the backoff short below minInterval... but may come sooner
  EXPECT_EQ(s.due(), t + 1s);
  s.takeRequest();
  t += 1s;
  s.ran(t, RunOutcome::Ok);
  EXPECT_EQ(s.failures(), 0);
  EXPECT_EQ(s.due(), t + 30s);
}

TEST(RunScheduleTest, NotReadyPollsWithoutCountingAsARun) {
  RunSchedule s(intervals());
  const Clock::TimePoint t0 = Clock::TimePoint(1000h);
  s.ran(t0, RunOutcome::NotReady);
  EXPECT_EQ(s.due(), t0 + 100ms);
  s.request();
  EXPECT_EQ(s.due(), t0 + 100ms);  // no busy loop while not ready
  s.ran(t0 + 100ms, RunOutcome::Ok);
  EXPECT_FALSE(s.lastRun() != t0 + 100ms);
}

/// Waits (real time, bounded) until pred() holds.
template <typename P>
bool eventually(P pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

TEST(BoundedRunnerTest, MinRetryAndMaxIntervalsOnTheFakeClock) {
  FakeClock clock;
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  BoundedRunner runner(clock, intervals(), [&] {
    ++calls;
    return fail ? RunOutcome::Failed : RunOutcome::Ok;
  });
  runner.start();
  ASSERT_TRUE(eventually([&] { return calls == 1; }));
  runner.run();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(calls, 1);  // minInterval not yet over
  clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return calls == 2; }));
  // Nothing asked: the next run comes after maxInterval.
  clock.advance(29s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(calls, 2);
  fail = true;
  clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return calls == 3; }));  // fails
  clock.advance(1s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(calls, 3);
  clock.advance(1s);  // retryInitial = 2s
  ASSERT_TRUE(eventually([&] { return calls == 4; }));  // fails again: next after 4s
  clock.advance(3s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(calls, 4);
  fail = false;
  clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return calls == 5; }));
  runner.stop();
  EXPECT_EQ(runner.runs(), 5u);
}

class Observer final : public SyncObserver {
 public:
  void onSyncQueued() override { ++queued; }
  void onSync(const SyncReport& r) override {
    std::lock_guard lock(mu);
    reports.push_back(r);
  }
  size_t count() {
    std::lock_guard lock(mu);
    return reports.size();
  }
  SyncReport last() {
    std::lock_guard lock(mu);
    return reports.back();
  }
  std::atomic<int> queued{0};
  std::mutex mu;
  std::vector<SyncReport> reports;
};

TEST(ProxierRunnerTest, FirstSyncWaitsForCachesThenFollowsChangesAndRetriesFailures) {
  kube::Cache cache;
  nft::FakeNft fake;
  RecordingKernel kernel(fake);
  FakeClock clock;
  Observer obs;
  ProxierConfig cfg;
  cfg.ipv4 = rules::Config{};
  cfg.ipv4->clusterCIDRs = {cidr("10.180.0.0/16")};
  cfg.ipv4->endpointMaps = false;  // the follow-up sync below deletes a flushed endpoint chain
  cfg.nodeName = "node-a";
  cfg.retryInitial = 2s;
  cfg.retryMax = 8s;
  // Warm cache before start: a Service already there.
  cache.replaceAll<kube::Service>({service("ns1", "svc1", {"172.30.0.41"}, {port("http", 80)})});
  Proxier proxier(cache, kernel, nullptr, cfg, clock, &obs);
  ASSERT_TRUE(proxier.start().ok());
  EXPECT_FALSE(proxier.start().ok());  // twice
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(obs.count(), 0u);  // slices and nodes not synced yet
  cache.replaceAll<kube::EndpointSlice>({slice("ns1", "svc1", "a", {{"10.180.0.1"}}, {{"http", 8080}})});
  cache.replaceAll<kube::Node>({node()});
  clock.advance(100ms);
  ASSERT_TRUE(eventually([&] { return obs.count() == 1; }));
  EXPECT_TRUE(obs.last().full);
  EXPECT_TRUE(obs.last().ok);
  EXPECT_NE(fake.dumpTable(nft::Family::Ip, "nodenet").find("172.30.0.41"), std::string::npos);

  // A change: queued at once, synced after minSyncPeriod.
  kernel.failNext();
  cache.apply(kube::Event::added(slice("ns1", "svc1", "a", {{"10.180.0.2"}}, {{"http", 8080}})));
  EXPECT_GE(obs.queued.load(), 1);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(obs.count(), 1u);
  clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return obs.count() == 2; }));
  EXPECT_FALSE(obs.last().ok);  // injected failure
  // Retry after retryInitial: a full sync.
  clock.advance(1s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(obs.count(), 2u);
  clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return obs.count() == 3; }));
  EXPECT_TRUE(obs.last().ok);
  EXPECT_TRUE(obs.last().full);
  EXPECT_NE(fake.dumpTable(nft::Family::Ip, "nodenet").find("10.180.0.2"), std::string::npos);
  // The endpoint chain of 10.180.0.1 was left flushed: a follow-up sync deletes it without being asked.
  clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return obs.count() == 4; }));
  EXPECT_EQ(fake.dumpTable(nft::Family::Ip, "nodenet").find("10.180.0.1"), std::string::npos);

  proxier.stop();
  // Rules stay; later changes are not applied.
  cache.apply(kube::Event::deleted(kube::ObjectKind::Service, "ns1/svc1"));
  clock.advance(10s);
  std::this_thread::sleep_for(20ms);
  EXPECT_NE(fake.dumpTable(nft::Family::Ip, "nodenet").find("172.30.0.41"), std::string::npos);

  // Started again: what happened while stopped is synced (full), and new changes are followed again.
  size_t before = obs.count();
  ASSERT_TRUE(proxier.start().ok());
  ASSERT_TRUE(eventually([&] { return obs.count() > before; }));
  EXPECT_TRUE(obs.last().full);
  EXPECT_EQ(fake.dumpTable(nft::Family::Ip, "nodenet").find("172.30.0.41"), std::string::npos);
  before = obs.count();
  cache.apply(kube::Event::added(service("ns1", "svc9", {"172.30.0.49"}, {port("http", 80)})));
  for (int i = 0; i < 5 && obs.count() == before; ++i) {
    clock.advance(1s);
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(eventually([&] { return fake.dumpTable(nft::Family::Ip, "nodenet").find("172.30.0.49") != std::string::npos; }));
  proxier.stop();
}

}  // namespace
}  // namespace nodenet::proxy::sync
