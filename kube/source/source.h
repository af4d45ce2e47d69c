// kube/source: one call that starts whatever feeds a daemon's kube::Cache — a manifest directory (the embedded
// default, no API server) or the API server (kubeconfig, --master, or the in-cluster service account) with one
// list+watch Reflector per kind, each on its own thread with its own Connection.
//
//   kube::Cache cache;
//   NN_ASSIGN_OR_RETURN(auto source, kube::Source::start({.manifestsDir = "/etc/nodenet/manifests"}, cache));
//   ... cache.subscribe(...), cache.snapshot() ...
//   source->stop();   // the cache keeps its contents
//
// Which source: manifestsDir non-empty wins; otherwise kubeconfig (with master overriding its server, as
// kube-proxy's --master does), otherwise master alone (plain URL, no credentials), otherwise the in-cluster
// config. Nodes are watched only when nodeName is set (fieldSelector metadata.name=<node>: a daemon needs its
// own Node only); otherwise the Node kind is marked synced at once so CacheSnapshot::allSynced() means "every
// kind this daemon reads has been listed".
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "kube/cache/cache.h"

namespace nodenet::kube {

struct SourceConfig {
  /// A directory of YAML/JSON manifests (inotify). Non-empty: no API server is used.
  std::string manifestsDir;
  /// A kubeconfig file (kube-proxy's --kubeconfig).
  std::string kubeconfig;
  /// The API server URL (kube-proxy's --master): overrides the kubeconfig's server, or alone means a plain
  /// connection without credentials.
  std::string master;
  /// Watch this Node (the daemon's own). Empty: Nodes are not watched.
  std::string nodeName;
  /// List and watch with kube-proxy's label selectors (Services and EndpointSlices owned by another proxy, and
  /// headless Services' slices, are filtered by the API server). Only for a cache that serves the proxy alone.
  bool proxySelectors = false;
};

class Source {
 public:
  /// Starts feeding `cache` (which must outlive the source). With a manifest directory the initial read is done
  /// when this returns (the cache is synced); with an API server the reflectors list in the background (watch
  /// cache.synced()/Source::synced()). Errors: the directory cannot be watched; the kubeconfig or in-cluster
  /// credentials cannot be loaded; a bad --master URL. Connection failures are not errors: the reflectors log
  /// and retry with backoff forever.
  static Result<std::unique_ptr<Source>> start(SourceConfig config, Cache& cache);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  /// Stops every thread and joins it. Idempotent; the cache keeps its contents.
  void stop();
  /// True once every kind this source feeds has delivered its complete initial state.
  bool synced() const;
  /// "manifests /dir" or "API server https://10.0.0.1:6443" (for the startup log line).
  const std::string& describe() const { return description_; }

 private:
  class Impl;
  explicit Source(std::unique_ptr<Impl> impl, std::string description);
  std::unique_ptr<Impl> impl_;
  std::string description_;
};

}  // namespace nodenet::kube
