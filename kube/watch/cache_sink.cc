#include "kube/watch/cache_sink.h"

namespace nodenet::kube {

void CacheSink::onReplace(ObjectKind kind, std::vector<Object> items, const std::string& resourceVersion) {
  cache_.replaceAll(kind, std::move(items), resourceVersion);
}

void CacheSink::onEvent(ObjectKind kind, const WatchEvent& event) {
  if (auto e = eventFromWatch(event, kind)) cache_.apply(std::move(*e));
}

void CacheSink::onResourceVersion(ObjectKind kind, const std::string& resourceVersion) {
  cache_.setResourceVersion(kind, resourceVersion);
}

}  // namespace nodenet::kube
