#include "kube/source/source.h"

#include <thread>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "kube/client/config.h"
#include "kube/client/connection.h"
#include "kube/manifests/source.h"
#include "kube/watch/cache_sink.h"
#include "kube/watch/reflector.h"

namespace nodenet::kube {

class Source::Impl {
 public:
  explicit Impl(Cache& cache) : cache_(cache), sink_(cache) {}
  ~Impl() { stop(); }

  Status startManifests(const std::string& dir) {
    manifests_ = std::make_unique<manifests::ManifestSource>(dir, cache_);
    return manifests_->start();
  }

  Status startApi(const ClientConfig& config, const SourceConfig& sc) {
    std::vector<ObjectKind> kinds = {ObjectKind::Service, ObjectKind::EndpointSlice};
    if (!sc.nodeName.empty()) kinds.push_back(ObjectKind::Node);
    else cache_.markSynced(ObjectKind::Node);  // not read: nothing to wait for
    for (ObjectKind kind : kinds) {
      // One connection per reflector: a Connection serves one blocked call at a time and a watch blocks.
      NN_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::create(config));
      ReflectorOptions options;
      options.kind = kind;
      if (kind == ObjectKind::Node) options.fieldSelector = nodeFieldSelector(sc.nodeName);
      if (sc.proxySelectors) options.labelSelector = proxyLabelSelector(kind);
      auto reflector = std::make_unique<Reflector>(*conn, sink_, options);
      connections_.push_back(std::move(conn));
      reflectors_.push_back(std::move(reflector));
    }
    for (auto& r : reflectors_) threads_.emplace_back([r = r.get()] { r->run(); });
    return Status();
  }

  void stop() {
    for (auto& r : reflectors_) r->stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
    if (manifests_) manifests_->stop();
  }

  bool synced() const {
    if (manifests_) return manifests_->synced();
    return cache_.synced(ObjectKind::Service) && cache_.synced(ObjectKind::EndpointSlice) &&
           cache_.synced(ObjectKind::Node);
  }

 private:
  Cache& cache_;
  CacheSink sink_;
  std::unique_ptr<manifests::ManifestSource> manifests_;
  // Declared after the connections they use, so they are destroyed first.
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
  std::vector<std::thread> threads_;
};

Source::Source(std::unique_ptr<Impl> impl, std::string description)
    : impl_(std::move(impl)), description_(std::move(description)) {}

Source::~Source() { stop(); }

void Source::stop() {
  if (impl_) impl_->stop();
}

bool Source::synced() const { return impl_->synced(); }

Result<std::unique_ptr<Source>> Source::start(SourceConfig config, Cache& cache) {
  auto impl = std::make_unique<Source::Impl>(cache);
  if (!config.manifestsDir.empty()) {
    if (Status s = impl->startManifests(config.manifestsDir); !s.ok())
      return Error(strCat("manifest source: ", s.error().message()));
    return std::unique_ptr<Source>(new Source(std::move(impl), "manifests " + config.manifestsDir));
  }
  ClientConfig client;
  if (!config.kubeconfig.empty()) {
    NN_ASSIGN_OR_RETURN(client, loadKubeconfig(config.kubeconfig));
    if (!config.master.empty()) NN_TRY(client.overrideServer(config.master));
  } else if (!config.master.empty()) {
    NN_ASSIGN_OR_RETURN(client, masterOnlyConfig(config.master));
  } else {
    auto inCluster = inClusterConfig();
    if (!inCluster.ok())
      return Error(strCat("no --manifests, --kubeconfig or --master, and no in-cluster config: ",
                          inCluster.error().message()));
    client = std::move(*inCluster);
  }
  std::string description = "API server " + client.server;
  NN_TRY(impl->startApi(client, config));
  return std::unique_ptr<Source>(new Source(std::move(impl), std::move(description)));
}

}  // namespace nodenet::kube
