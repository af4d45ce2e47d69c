// Feeds a kube::Cache from a Reflector: onReplace -> replaceAll (only the differences reach subscribers),
// onEvent -> apply(eventFromWatch), resourceVersions recorded for metrics and debugging.
#pragma once

#include "kube/cache/cache.h"
#include "kube/watch/reflector.h"

namespace nodenet::kube {

class CacheSink : public WatchSink {
 public:
  /// `cache` must outlive the sink.
  explicit CacheSink(Cache& cache) : cache_(cache) {}
  void onReplace(ObjectKind kind, std::vector<Object> items, const std::string& resourceVersion) override;
  void onEvent(ObjectKind kind, const WatchEvent& event) override;
  void onResourceVersion(ObjectKind kind, const std::string& resourceVersion) override;

 private:
  Cache& cache_;
};

}  // namespace nodenet::kube
