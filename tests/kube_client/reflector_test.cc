// The reflector against the fake API server on 127.0.0.1: list, watch, relist on 410, re-watch after
// disconnects and bad lines without relisting, bookmarks, and feeding a kube::Cache.
#include "kube/watch/reflector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <thread>

#include "integration/fakeapi/fake_api_server.h"
#include "kube/watch/cache_sink.h"

namespace nodenet::kube {
namespace {

using fakeapi::FakeApiServer;
using fakeapi::Resource;
using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

json service(const std::string& name, const std::string& ip) {
  return {{"metadata", {{"namespace", "ns"}, {"name", name}}},
          {"spec", {{"clusterIP", ip}, {"ports", json::array({{{"port", 80}}})}}}};
}

class RecordingSink : public WatchSink {
 public:
  void onReplace(ObjectKind, std::vector<Object> items, const std::string&) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    for (const auto& o : items) names.push_back(metaOf(o).name);
    replaces_.push_back(names);
    cv_.notify_all();
  }
  void onEvent(ObjectKind, const WatchEvent& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(std::string(watchEventTypeName(e.type)) + " " + metaOf(*e.object).name);
    cv_.notify_all();
  }
  template <typename P>
  bool waitFor(P pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return pred(); });
  }
  std::vector<std::vector<std::string>> replaces() {
    std::lock_guard lock(mu_);
    return replaces_;
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  size_t replaceCount() {
    std::lock_guard lock(mu_);
    return replaces_.size();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<std::string>> replaces_;
  std::vector<std::string> events_;
};

class ReflectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::move(FakeApiServer::start()).value();
    for (int i = 0; i < 5; ++i) server_->upsert(Resource::Services, service("s" + std::to_string(i), "10.96.0.1"));
  }
  void startReflector(WatchSink& sink, std::chrono::seconds watchTimeout = 300s) {
    conn_ = std::move(Connection::create(*masterOnlyConfig(server_->url()))).value();
    ReflectorOptions o;
    o.kind = ObjectKind::Service;
    o.pageSize = 2;
    o.watchTimeout = watchTimeout;
    o.backoffInitial = 10ms;
    o.backoffMax = 50ms;
    reflector_ = std::make_unique<Reflector>(*conn_, sink, o);
    thread_ = std::thread([this] { reflector_->run(); });
    ASSERT_TRUE(server_->waitForWatches(1, 10s));
  }
  void TearDown() override {
    if (reflector_) reflector_->stop();
    if (thread_.joinable()) thread_.join();
  }
  bool waitStats(const std::function<bool(const Reflector::Stats&)>& pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred(reflector_->stats())) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::unique_ptr<FakeApiServer> server_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<Reflector> reflector_;
  std::thread thread_;
  RecordingSink sink_;
};

TEST_F(ReflectorTest, ListsInPagesThenWatches) {
  startReflector(sink_);
  ASSERT_EQ(sink_.replaces().size(), 1u);
  EXPECT_EQ(sink_.replaces()[0], (std::vector<std::string>{"s0", "s1", "s2", "s3", "s4"}));
  server_->upsert(Resource::Services, service("s5", "10.96.0.5"));
  server_->remove(Resource::Services, "ns", "s0");
  ASSERT_TRUE(sink_.waitFor([&] { return sink_.events_.size() == 2; }));
  EXPECT_EQ(sink_.events(), (std::vector<std::string>{"ADDED s5", "DELETED s0"}));
  auto targets = server_->requestTargets();
  EXPECT_THAT(targets, Contains(HasSubstr("continue=")));
  EXPECT_THAT(targets, Contains(HasSubstr("watch=1&resourceVersion=1005&allowWatchBookmarks=true&timeoutSeconds=")));
  EXPECT_TRUE(waitStats([&](const Reflector::Stats& s) { return s.resourceVersion == server_->resourceVersion(); }));
}

TEST_F(ReflectorTest, Gone410Relists) {
  startReflector(sink_);
  server_->injectGone();
  ASSERT_TRUE(sink_.waitFor([&] { return sink_.replaces_.size() == 2; }));
  EXPECT_EQ(reflector_->stats().relists410, 1u);
  EXPECT_EQ(reflector_->stats().lists, 2u);
  // A watch from a compacted version is answered with ERROR 410 as well.
  ASSERT_TRUE(server_->waitForWatches(1, 5s));
  server_->upsert(Resource::Services, service("late", "10.96.0.9"));
  server_->compact();           // the watch's version is now older than the oldest kept
  server_->injectDisconnect();  // (the event may or may not reach the open watch first)
  EXPECT_TRUE(waitStats([&](const Reflector::Stats& s) { return s.resourceVersion == server_->resourceVersion(); }));
  // Either the event arrived before the disconnect (and the next watch starts at the current version), or the
  // re-watch got 410 and the relist carried it.
  if (sink_.events().empty()) {
    ASSERT_EQ(sink_.replaceCount(), 3u);
    EXPECT_EQ(sink_.replaces().back().size(), 6u);
  } else {
    EXPECT_EQ(sink_.events(), (std::vector<std::string>{"ADDED late"}));
  }
}

TEST_F(ReflectorTest, DisconnectReWatchesFromResourceVersionWithoutRelisting) {
  startReflector(sink_);
  server_->injectDisconnect();
  server_->upsert(Resource::Services, service("during", "10.96.0.7"));  // replayed to the next watch
  ASSERT_TRUE(sink_.waitFor([&] { return !sink_.events_.empty(); }));
  EXPECT_EQ(sink_.events(), (std::vector<std::string>{"ADDED during"}));
  EXPECT_EQ(sink_.replaceCount(), 1u);  // the cache was never replaced (and never cleared)
  auto s = reflector_->stats();
  EXPECT_EQ(s.lists, 1u);
  EXPECT_GE(s.watches, 2u);
  EXPECT_GE(s.failures, 1u);
}

TEST_F(ReflectorTest, BadLineEndsTheWatchAndTheEventIsReplayed) {
  startReflector(sink_);
  server_->injectLine("{\"type\":\"ADDED\",\"object\":{");  // a truncated event
  server_->upsert(Resource::Services, service("after", "10.96.0.8"));
  ASSERT_TRUE(sink_.waitFor([&] { return !sink_.events_.empty(); }));
  EXPECT_EQ(sink_.events(), (std::vector<std::string>{"ADDED after"}));
  EXPECT_EQ(reflector_->stats().badLines, 1u);
  EXPECT_EQ(reflector_->stats().lists, 1u);
}

TEST_F(ReflectorTest, BookmarkAdvancesTheResourceVersion) {
  startReflector(sink_);
  server_->upsert(Resource::Nodes, {{"metadata", {{"name", "n"}}}});  // bumps the global version only
  server_->sendBookmark();
  std::string rv = server_->resourceVersion();
  EXPECT_TRUE(waitStats([&](const Reflector::Stats& s) { return s.resourceVersion == rv; }));
  EXPECT_TRUE(sink_.events().empty());
}

TEST_F(ReflectorTest, ServerTimeoutReWatchesWithoutBackoff) {
  startReflector(sink_, 1s);
  EXPECT_TRUE(waitStats([](const Reflector::Stats& s) { return s.watches >= 2; }));
  auto s = reflector_->stats();
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(s.lists, 1u);
}

TEST_F(ReflectorTest, FeedsACache) {
  Cache cache;
  CacheSink sink(cache);
  startReflector(sink);
  EXPECT_EQ(cache.size(ObjectKind::Service), 5u);
  EXPECT_TRUE(cache.snapshot()->synced(ObjectKind::Service));
  server_->remove(Resource::Services, "ns", "s1");
  server_->injectGone();  // the relist must not lose or duplicate anything
  EXPECT_TRUE(waitStats([](const Reflector::Stats& s) { return s.lists == 2; }));
  server_->upsert(Resource::Services, service("s9", "10.96.0.9"));
  EXPECT_TRUE(waitStats([&](const Reflector::Stats& s) { return s.resourceVersion == server_->resourceVersion(); }));
  EXPECT_EQ(cache.size(ObjectKind::Service), 5u);
  EXPECT_EQ(cache.get(ObjectKind::Service, "ns/s1"), nullptr);
  EXPECT_NE(cache.get(ObjectKind::Service, "ns/s9"), nullptr);
  EXPECT_EQ(cache.snapshot()->resourceVersion(ObjectKind::Service), server_->resourceVersion());
}

}  // namespace
}  // namespace nodenet::kube
