// kube/source: the manifest directory and the API server (the fake one, real wire format) both feed a Cache.
// IP plan: ClusterIP 10.96.0.10, endpoint 10.244.0.5, node 192.168.1.10.
#include "kube/source/source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/fakeapi/fake_api_server.h"

namespace nodenet::kube {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json service(const std::string& name, json labels = json::object()) {
  return {{"apiVersion", "v1"}, {"kind", "Service"},
          {"metadata", {{"namespace", "default"}, {"name", name}, {"labels", labels}}},
          {"spec", {{"clusterIP", "10.96.0.10"}, {"ports", json::array({{{"port", 80}}})}}}};
}
json slice(const std::string& name, json labels) {
  return {{"apiVersion", "discovery.k8s.io/v1"}, {"kind", "EndpointSlice"},
          {"metadata", {{"namespace", "default"}, {"name", name}, {"labels", labels}}},
          {"addressType", "IPv4"},
          {"endpoints", json::array({{{"addresses", {"10.244.0.5"}}}})},
          {"ports", json::array({{{"port", 8080}}})}};
}
json node(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}},
          {"status", {{"addresses", json::array({{{"type", "InternalIP"}, {"address", "192.168.1.10"}}})}}}};
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "nodenet-source-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SourceTest, ManifestDirectoryIsReadBeforeStartReturns) {
  TempDir dir;
  std::ofstream(dir.path() + "/web.json") << json{{"apiVersion", "v1"}, {"kind", "List"},
                                                 {"items", {service("web"), slice("web-abc", {{"kubernetes.io/service-name", "web"}})}}}
                                                     .dump();
  Cache cache;
  auto source = Source::start({.manifestsDir = dir.path()}, cache);
  ASSERT_TRUE(source.ok()) << source.error().message();
  EXPECT_TRUE((*source)->synced());
  EXPECT_EQ((*source)->describe(), "manifests " + dir.path());
  auto snap = cache.snapshot();
  EXPECT_TRUE(snap->allSynced());
  EXPECT_NE(snap->service("default/web"), nullptr);
  EXPECT_NE(snap->endpointSlice("default/web-abc"), nullptr);

  // Later edits arrive through inotify.
  std::ofstream(dir.path() + "/db.json") << service("db").dump();
  EXPECT_TRUE(eventually([&] { return cache.snapshot()->service("default/db") != nullptr; }));
  (*source)->stop();
}

TEST(SourceTest, MissingManifestDirectoryIsAnError) {
  Cache cache;
  auto source = Source::start({.manifestsDir = "/nonexistent/nodenet-manifests"}, cache);
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().message().find("/nonexistent/nodenet-manifests"), std::string::npos)
      << source.error().message();
}

TEST(SourceTest, ApiServerWithProxySelectorsAndOwnNodeOnly) {
  auto server = fakeapi::FakeApiServer::start();
  ASSERT_TRUE(server.ok()) << server.error().message();
  auto& api = **server;
  api.upsert(fakeapi::Resource::Services, service("web"));
  api.upsert(fakeapi::Resource::Services,
             service("other", {{"service.kubernetes.io/service-proxy-name", "someone-else"}}));
  api.upsert(fakeapi::Resource::EndpointSlices, slice("web-abc", {{"kubernetes.io/service-name", "web"}}));
  api.upsert(fakeapi::Resource::EndpointSlices,
             slice("hl-abc", {{"kubernetes.io/service-name", "hl"}, {"service.kubernetes.io/headless", ""}}));
  api.upsert(fakeapi::Resource::Nodes, node("node-a"));
  api.upsert(fakeapi::Resource::Nodes, node("node-b"));

  Cache cache;
  auto source = Source::start({.master = api.url(), .nodeName = "node-a", .proxySelectors = true}, cache);
  ASSERT_TRUE(source.ok()) << source.error().message();
  EXPECT_EQ((*source)->describe(), "API server " + api.url());
  ASSERT_TRUE(eventually([&] { return (*source)->synced(); }));
  auto snap = cache.snapshot();
  EXPECT_NE(snap->service("default/web"), nullptr);
  EXPECT_EQ(snap->service("default/other"), nullptr);  // another proxy's
  EXPECT_NE(snap->endpointSlice("default/web-abc"), nullptr);
  EXPECT_EQ(snap->endpointSlice("default/hl-abc"), nullptr);  // headless
  EXPECT_NE(snap->node("node-a"), nullptr);
  EXPECT_EQ(snap->node("node-b"), nullptr);

  // Watches keep the cache current.
  api.remove(fakeapi::Resource::Services, "default", "web");
  EXPECT_TRUE(eventually([&] { return cache.snapshot()->service("default/web") == nullptr; }));
  (*source)->stop();
}

TEST(SourceTest, WithoutNodeNameNodesAreNotWatchedButCountAsSynced) {
  auto server = fakeapi::FakeApiServer::start();
  ASSERT_TRUE(server.ok());
  (*server)->upsert(fakeapi::Resource::Nodes, node("node-a"));
  (*server)->upsert(fakeapi::Resource::Services,
                    service("other", {{"service.kubernetes.io/service-proxy-name", "someone-else"}}));
  Cache cache;
  auto source = Source::start({.master = (*server)->url()}, cache);
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE(eventually([&] { return cache.snapshot()->allSynced(); }));
  EXPECT_EQ(cache.snapshot()->size(ObjectKind::Node), 0u);
  // No proxy selectors (the DNS server's view): every Service.
  EXPECT_NE(cache.snapshot()->service("default/other"), nullptr);
}

TEST(SourceTest, BadKubeconfigIsAnError) {
  Cache cache;
  auto source = Source::start({.kubeconfig = "/nonexistent/kubeconfig"}, cache);
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().message().find("/nonexistent/kubeconfig"), std::string::npos)
      << source.error().message();
}

TEST(SourceTest, UnreachableApiServerIsRetriedNotAnError) {
  Cache cache;
  // Port 1 on loopback: connection refused; the reflectors back off and retry until stop().
  auto source = Source::start({.master = "http://127.0.0.1:1"}, cache);
  ASSERT_TRUE(source.ok()) << source.error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE((*source)->synced());
  (*source)->stop();
}

}  // namespace
}  // namespace nodenet::kube
