// kube/manifests ManifestSource: initial read of a realistic directory, then live edits observed through the
// cache's subscription (bounded waits, deadline 2 s).
// IP plan: cluster IPs 10.96.0.x, pods 10.85.0.x, node 192.168.0.10 (as conf/demo/services.yaml).
#include "kube/manifests/source.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "base/strings.h"

namespace nodenet::kube::manifests {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kDeadline = 2s;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nodenet-manifests-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// kubectl / most tools: write a hidden temp file, then rename it over the target (IN_MOVED_TO).
void writeViaRename(const TempDir& dir, const std::string& name, const std::string& text) {
  writeFile(dir / ("." + name + ".tmp"), text);
  fs::rename(dir / ("." + name + ".tmp"), dir / name);
}

// vim with backupcopy=no: rename the original to name~, write a new file, remove the backup.
void writeLikeVim(const TempDir& dir, const std::string& name, const std::string& text) {
  writeFile(dir / "4913", "");  // vim's probe for directory write access
  fs::remove(dir / "4913");
  fs::rename(dir / name, dir / (name + "~"));
  writeFile(dir / name, text);
  fs::remove(dir / (name + "~"));
}

// Records what the cache's subscribers see, as "Added Service demo/web" lines.
class EventLog {
 public:
  explicit EventLog(Cache& cache) {
    cache.subscribe([this](const Event& e) {
      std::lock_guard l(mu_);
      lines_.push_back(strCat(eventTypeName(e.type), " ", objectKindName(e.kind), " ", e.key));
      cv_.notify_all();
    });
  }
  /// Waits until `n` events in total have been seen; returns all of them.
  std::vector<std::string> waitForCount(size_t n) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, kDeadline, [&] { return lines_.size() >= n; });
    return lines_;
  }
  std::vector<std::string> take() {
    std::lock_guard l(mu_);
    return std::exchange(lines_, {});
  }
  size_t size() {
    std::lock_guard l(mu_);
    return lines_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

// Polls `pred` until it holds or the deadline passes.
template <typename F>
bool eventually(F pred) {
  auto end = std::chrono::steady_clock::now() + kDeadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Waits for the source to process at least one more batch, then for the settle time of any straggler events.
void waitForBatch(ManifestSource& src, uint64_t before) {
  ASSERT_TRUE(eventually([&] { return src.stats().batches > before; })) << "no change batch processed";
}

std::string service(const std::string& name, int port, const std::string& ip = "10.96.0.50") {
  return strCat("apiVersion: v1\nkind: Service\nmetadata:\n  name: ", name,
                "\n  namespace: demo\nspec:\n  clusterIP: ", ip, "\n  ports:\n    - port: ", port, "\n");
}

constexpr const char* kNode = R"(apiVersion: v1
kind: Node
metadata:
  name: demo-node
  labels: {topology.kubernetes.io/zone: zone-a}
spec:
  podCIDR: 10.85.0.0/24
status:
  addresses:
    - {type: InternalIP, address: 192.168.0.10}
    - {type: Hostname, address: demo-node}
)";

constexpr const char* kList = R"({"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns", "namespace": "kube-system"},
   "spec": {"clusterIP": "10.96.0.53", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                                  {"name": "dns-tcp", "port": 53}]}},
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"}}
]})";

constexpr const char* kConfigMap = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {mode: "fast"}
)";

TEST(ManifestSourceTest, InitialLoadOfARealisticDirectory) {
  TempDir dir;
  fs::copy_file(std::string(NODENET_DEMO_DIR) + "/services.yaml", dir / "services.yaml");
  writeFile(dir / "node.yml", kNode);
  writeFile(dir / "system.json", kList);
  writeFile(dir / "settings.yaml", kConfigMap);
  // Ignored: hidden, backups, swap files, other extensions.
  writeFile(dir / ".hidden.yaml", service("hidden", 1));
  writeFile(dir / "old.yaml~", service("backup", 1));
  writeFile(dir / ".services.yaml.swp", "binary junk: [");
  writeFile(dir / "README.md", "# not a manifest");
  fs::create_directory(dir / "sub.yaml");  // not recursive; a directory is not a file

  Cache cache;
  EventLog log(cache);
  ManifestSource src(dir.path(), cache);
  EXPECT_FALSE(src.synced());
  ASSERT_TRUE(src.start().ok());
  EXPECT_TRUE(src.synced());

  auto snap = cache.snapshot();
  EXPECT_TRUE(snap->allSynced());
  EXPECT_EQ(snap->size(ObjectKind::Service), 6u);  // 5 demo + kube-system/dns
  EXPECT_EQ(snap->size(ObjectKind::EndpointSlice), 4u);
  EXPECT_EQ(snap->size(ObjectKind::Node), 1u);
  EXPECT_EQ(log.size(), 11u) << "one Added per object";

  const Service* web = snap->service("demo/web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->type, ServiceType::ClusterIP);
  EXPECT_EQ(web->clusterIPs[0].toString(), "10.96.0.10");
  EXPECT_EQ(web->ports[0].targetPort.number, 8080);
  const Service* api = snap->service("demo/api");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->type, ServiceType::NodePort);
  EXPECT_EQ(api->ports[0].nodePort, 30443);
  EXPECT_EQ(api->ports[0].targetPort.name, "https");
  const Service* shop = snap->service("demo/shop");
  ASSERT_NE(shop, nullptr);
  EXPECT_EQ(shop->type, ServiceType::LoadBalancer);
  EXPECT_EQ(shop->externalTrafficPolicy, TrafficPolicy::Local);
  ASSERT_EQ(shop->loadBalancerIngress.size(), 1u);
  EXPECT_EQ(shop->loadBalancerIngress[0].ip->toString(), "192.168.0.200");
  ASSERT_NE(snap->service("demo/db"), nullptr);
  EXPECT_TRUE(snap->service("demo/db")->headless);
  ASSERT_NE(snap->service("demo/search"), nullptr);
  EXPECT_EQ(snap->service("demo/search")->externalName, "search.example.com");
  const Service* dns = snap->service("kube-system/dns");
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->ports[0].protocol, L4Proto::UDP);
  const EndpointSlice* shopSlice = snap->endpointSlice("demo/shop-1");
  ASSERT_NE(shopSlice, nullptr);
  EXPECT_TRUE(shopSlice->endpoints[1].conditions.isTerminating());
  EXPECT_EQ(snap->node("demo-node")->zone(), "zone-a");

  // The proxy does not see the headless Service's slice; DNS does.
  size_t proxySlices = 0;
  snap->forEach<EndpointSlice>([&](const EndpointSlice&) { ++proxySlices; }, proxyFilter());
  EXPECT_EQ(proxySlices, 3u);

  SourceStats st = src.stats();
  EXPECT_EQ(st.files, 4u);
  EXPECT_EQ(st.objects, 11u);
  EXPECT_EQ(st.unsupported, 2u);  // the ConfigMap document and the ConfigMap list item
  EXPECT_EQ(st.brokenFiles, 0u);
  EXPECT_TRUE(src.fileErrors().empty());
  src.stop();
  src.stop();  // idempotent
  EXPECT_EQ(cache.size(ObjectKind::Service), 6u) << "stopping keeps the cache";
}

TEST(ManifestSourceTest, LiveEditsProduceOnlyRealChanges) {
  TempDir dir;
  writeFile(dir / "node.yaml", kNode);
  Cache cache;
  ManifestSource src(dir.path(), cache);
  ASSERT_TRUE(src.start().ok());
  EventLog log(cache);

  // Create.
  writeFile(dir / "extra.yaml", service("extra", 80));
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Added Service demo/extra"});
  log.take();

  // Edit in place (truncate + write: IN_CLOSE_WRITE).
  writeFile(dir / "extra.yaml", service("extra", 81));
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Modified Service demo/extra"});
  EXPECT_EQ(cache.snapshot()->service("demo/extra")->ports[0].port, 81);
  log.take();

  // Write a temp file and rename it over (kubectl, most tools).
  writeViaRename(dir, "extra.yaml", service("extra", 82));
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Modified Service demo/extra"});
  EXPECT_EQ(cache.snapshot()->service("demo/extra")->ports[0].port, 82);
  log.take();

  // vim's rename dance: the file is briefly gone, but the object must not flap.
  uint64_t batches = src.stats().batches;
  writeLikeVim(dir, "extra.yaml", service("extra", 83));
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Modified Service demo/extra"});
  EXPECT_EQ(cache.snapshot()->service("demo/extra")->ports[0].port, 83);
  waitForBatch(src, batches);
  log.take();

  // Writing the same content again is no change.
  batches = src.stats().batches;
  writeFile(dir / "extra.yaml", service("extra", 83));
  waitForBatch(src, batches);
  EXPECT_TRUE(log.take().empty());

  // Break it: the error names the file and the field path; the previous objects stay.
  batches = src.stats().batches;
  writeFile(dir / "extra.yaml", service("extra", 84) + "---\n" +
                                    "apiVersion: v1\nkind: Service\nmetadata: {name: more, namespace: demo}\n"
                                    "spec:\n  ports:\n    - port: \"http\"\n");
  waitForBatch(src, batches);
  auto errors = src.fileErrors();
  ASSERT_EQ(errors.count("extra.yaml"), 1u);
  EXPECT_NE(errors["extra.yaml"].find("extra.yaml: document 2 (line 11): Service demo/more: spec.ports[0].port"),
            std::string::npos)
      << errors["extra.yaml"];
  EXPECT_EQ(src.stats().brokenFiles, 1u);
  EXPECT_EQ(cache.snapshot()->service("demo/extra")->ports[0].port, 83) << "previous good state kept";
  EXPECT_EQ(cache.snapshot()->service("demo/more"), nullptr);
  EXPECT_TRUE(log.take().empty());

  // Bad YAML too.
  batches = src.stats().batches;
  writeFile(dir / "extra.yaml", "apiVersion: v1\nkind: [Service\n");
  waitForBatch(src, batches);
  EXPECT_NE(src.fileErrors()["extra.yaml"].find("extra.yaml: invalid YAML: line"), std::string::npos)
      << src.fileErrors()["extra.yaml"];
  EXPECT_NE(cache.snapshot()->service("demo/extra"), nullptr);

  // Fix it: the new content applies, the error clears.
  writeFile(dir / "extra.yaml", service("extra", 85) + "---\n" + service("more", 86, "10.96.0.51"));
  auto seen = log.waitForCount(2);
  EXPECT_EQ(seen, (std::vector<std::string>{"Modified Service demo/extra", "Added Service demo/more"}));
  EXPECT_TRUE(src.fileErrors().empty());
  log.take();

  // An object removed from the file is deleted; the rest of the file is untouched.
  writeFile(dir / "extra.yaml", service("extra", 85));
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Deleted Service demo/more"});
  log.take();

  // Delete the file.
  fs::remove(dir / "extra.yaml");
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Deleted Service demo/extra"});
  log.take();

  // Moving the file out of the directory deletes too; moving it back adds.
  writeFile(dir / "back.yaml", service("back", 80));
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Added Service demo/back"});
  log.take();
  fs::rename(dir / "back.yaml", dir / "back.yaml.disabled");
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Deleted Service demo/back"});
  log.take();
  fs::rename(dir / "back.yaml.disabled", dir / "back.yaml");
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Added Service demo/back"});
  log.take();

  EXPECT_EQ(cache.size(ObjectKind::Node), 1u) << "other files are unaffected throughout";
  src.stop();
}

TEST(ManifestSourceTest, ObjectsMovedBetweenFilesDoNotFlap) {
  TempDir dir;
  writeFile(dir / "a.yaml", service("web", 80) + "---\n" + service("stay", 81, "10.96.0.52"));
  Cache cache;
  ManifestSource src(dir.path(), cache);
  ASSERT_TRUE(src.start().ok());
  EventLog log(cache);

  // Copy web into b.yaml, then drop it from a.yaml: a conflict for a moment, never a delete.
  uint64_t batches = src.stats().batches;
  writeFile(dir / "b.yaml", service("web", 80));
  waitForBatch(src, batches);
  EXPECT_EQ(src.stats().conflicts, 1u);
  batches = src.stats().batches;
  writeFile(dir / "a.yaml", service("stay", 81, "10.96.0.52"));
  waitForBatch(src, batches);
  EXPECT_EQ(src.stats().conflicts, 0u);
  EXPECT_TRUE(log.take().empty());
  EXPECT_NE(cache.get(ObjectKind::Service, "demo/web"), nullptr);
  src.stop();
}

TEST(ManifestSourceTest, DuplicateDefinitionsFirstFileWins) {
  TempDir dir;
  writeFile(dir / "10-first.yaml", service("web", 80));
  writeFile(dir / "20-second.yaml", service("web", 8080));
  Cache cache;
  ManifestSource src(dir.path(), cache);
  ASSERT_TRUE(src.start().ok());
  EXPECT_EQ(cache.snapshot()->service("demo/web")->ports[0].port, 80);
  EXPECT_EQ(src.stats().conflicts, 1u);

  EventLog log(cache);
  // A handler may read the source's state (it is not locked while the cache notifies).
  size_t conflictsSeenByHandler = 99;
  cache.subscribe([&](const Event&) { conflictsSeenByHandler = src.stats().conflicts + src.fileErrors().size(); });
  fs::remove(dir / "10-first.yaml");
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Modified Service demo/web"});
  EXPECT_EQ(cache.snapshot()->service("demo/web")->ports[0].port, 8080);
  src.stop();
  EXPECT_EQ(conflictsSeenByHandler, 0u);
}

TEST(ManifestSourceTest, BrokenFileAtStartIsSkippedAndReported) {
  TempDir dir;
  writeFile(dir / "good.yaml", service("good", 80));
  writeFile(dir / "bad.yaml", service("bad", 70000));
  Cache cache;
  ManifestSource src(dir.path(), cache);
  ASSERT_TRUE(src.start().ok());
  EXPECT_TRUE(cache.synced(ObjectKind::Service));
  EXPECT_NE(cache.get(ObjectKind::Service, "demo/good"), nullptr);
  EXPECT_EQ(cache.get(ObjectKind::Service, "demo/bad"), nullptr);
  auto errors = src.fileErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors["bad.yaml"].rfind("bad.yaml: Service demo/bad: spec.ports[0].port: expected integer 1-65535", 0), 0u)
      << errors["bad.yaml"];
  EXPECT_EQ(src.stats().files, 1u);

  EventLog log(cache);
  writeFile(dir / "bad.yaml", service("bad", 7000, "10.96.0.53"));
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Added Service demo/bad"});
  EXPECT_TRUE(src.fileErrors().empty());
  src.stop();
}

TEST(ManifestSourceTest, ConfigMapVolumeSymlinkSwap) {
  // A ConfigMap volume: name.yaml -> ..data/name.yaml, ..data -> ..2024_v1; an update renames ..data_tmp over ..data.
  TempDir dir;
  fs::create_directory(dir / "..v1");
  writeFile(dir / "..v1/svc.yaml", service("cm", 80));
  fs::create_directory_symlink("..v1", dir / "..data");
  fs::create_symlink("..data/svc.yaml", dir / "svc.yaml");
  Cache cache;
  ManifestSource src(dir.path(), cache);
  ASSERT_TRUE(src.start().ok());
  ASSERT_NE(cache.snapshot()->service("demo/cm"), nullptr);
  EXPECT_EQ(cache.snapshot()->service("demo/cm")->ports[0].port, 80);

  EventLog log(cache);
  fs::create_directory(dir / "..v2");
  writeFile(dir / "..v2/svc.yaml", service("cm", 81));
  fs::create_directory_symlink("..v2", dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");
  EXPECT_EQ(log.waitForCount(1), std::vector<std::string>{"Modified Service demo/cm"});
  EXPECT_EQ(cache.snapshot()->service("demo/cm")->ports[0].port, 81);
  src.stop();
}

TEST(ManifestSourceTest, RescanAfterStopAndStartTwice) {
  TempDir dir;
  writeFile(dir / "a.yaml", service("a", 80));
  Cache cache;
  ManifestSource src(dir.path(), cache);
  ASSERT_TRUE(src.start().ok());
  EXPECT_FALSE(src.start().ok()) << "start() is once";
  src.stop();
  // Not watching any more: changes arrive only through an explicit rescan.
  EventLog log(cache);
  writeFile(dir / "b.yaml", service("b", 80, "10.96.0.54"));
  fs::remove(dir / "a.yaml");
  src.rescan();
  EXPECT_EQ(log.take(), (std::vector<std::string>{"Deleted Service demo/a", "Added Service demo/b"}));
}

TEST(ManifestSourceTest, MissingDirectoryIsAnError) {
  Cache cache;
  ManifestSource src("/tmp/nodenet-manifests-does-not-exist", cache);
  Status st = src.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("/tmp/nodenet-manifests-does-not-exist"), std::string::npos);
  EXPECT_FALSE(src.synced());
}

}  // namespace
}  // namespace nodenet::kube::manifests
