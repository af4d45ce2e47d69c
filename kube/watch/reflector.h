// The reflector: keeps a sink in step with one resource of the API server, the way client-go's Reflector does.
//
//   list (paginated, limit/continue) -> sink.onReplace(kind, items, rv)
//   watch from rv with bookmarks     -> sink.onEvent(kind, event) per ADDED/MODIFIED/DELETED; rv advances with
//                                       every event and bookmark
//   the server ends the watch        -> watch again from rv at once
//   ERROR 410 / 410 response         -> relist (the rv is too old)
//   disconnect, idle, 5xx, bad line  -> back off (exponential, jittered) and watch again from rv; an undecodable
//                                       line ends the watch before rv passes it, so the event is replayed
//
// The sink is never cleared: on disconnect the cache keeps serving what it has. onReplace hands over the
// complete set; computing the differences is the sink's business (kube::Cache::replaceAll does it).
//
// Threading: run() blocks its thread (one reflector thread per resource, each with its own Connection); the
// sink is called on that thread. stop() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "kube/client/connection.h"
#include "kube/objects/decode.h"

namespace nodenet::kube {

/// What a reflector feeds (kube::Cache through CacheSink, or a test recorder).
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  /// The complete current set of `kind` after a (re)list, at `resourceVersion`.
  virtual void onReplace(ObjectKind kind, std::vector<Object> items, const std::string& resourceVersion) = 0;
  /// One ADDED/MODIFIED/DELETED event (possibly carrying `invalid` instead of `object`). BOOKMARK and ERROR
  /// are handled by the reflector and reported only through onResourceVersion.
  virtual void onEvent(ObjectKind kind, const WatchEvent& event) = 0;
  /// The resourceVersion the next watch resumes from moved (after events and bookmarks). Optional.
  virtual void onResourceVersion(ObjectKind /*kind*/, const std::string& /*resourceVersion*/) {}
};

/// The API path listing every object of a kind: "/api/v1/services", ...
const char* resourcePathFor(ObjectKind kind);

/// kube-proxy's informer label selectors: Services not owned by another proxy; EndpointSlices not owned by
/// another proxy and not of headless Services. Nodes: none.
inline constexpr const char* kProxyServiceLabelSelector = "!service.kubernetes.io/service-proxy-name";
inline constexpr const char* kProxyEndpointSliceLabelSelector =
    "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";
/// The labelSelector nodenet-proxy lists and watches `kind` with ("" for Nodes). nodenet-dns uses none.
std::string proxyLabelSelector(ObjectKind kind);
/// "metadata.name=<node>": the fieldSelector that watches one Node.
std::string nodeFieldSelector(std::string_view nodeName);

struct ReflectorOptions {
  ObjectKind kind = ObjectKind::Service;
  /// e.g. "metadata.name=node-a" (nodeFieldSelector): a daemon watches only its own Node.
  std::string fieldSelector;
  /// e.g. proxyLabelSelector(kind): the API server filters lists and watches (an object whose labels stop
  /// matching arrives as DELETED, one that starts matching as ADDED). Empty = everything. Only for a cache that
  /// serves a single consumer: DNS needs the objects kube-proxy's selectors drop.
  std::string labelSelector;
  /// List page size (client-go's default).
  size_t pageSize = 500;
  /// timeoutSeconds of each watch; randomised in [watchTimeout, 2*watchTimeout) as client-go does, so the
  /// watchers of many nodes do not all reconnect at once.
  std::chrono::seconds watchTimeout{300};
  /// Backoff after a failure: initial, doubled per consecutive failure up to max, times a jitter in [1, 2).
  /// Reset after a watch that delivered something or a successful list.
  std::chrono::milliseconds backoffInitial{800};
  std::chrono::milliseconds backoffMax{30'000};
  uint64_t seed = std::random_device{}();
};

class Reflector {
 public:
  struct Stats {
    size_t lists = 0;       // complete (re)lists
    size_t relists410 = 0;  // relists caused by 410
    size_t watches = 0;     // watch requests started
    size_t failures = 0;    // failed lists/watches (each followed by a backoff)
    size_t badLines = 0;    // undecodable watch lines
    std::string resourceVersion;
  };

  /// `conn` and `sink` must outlive the reflector.
  Reflector(Connection& conn, WatchSink& sink, ReflectorOptions options);

  /// Lists and watches until stop(). Never returns early: every failure is logged and retried.
  void run();
  /// Thread-safe: ends run() promptly (stops the connection, wakes a backoff sleep).
  void stop();
  Stats stats() const;

 private:
  // Outcome of one list or watch attempt.
  enum class Next { Watch, Relist, Backoff };
  Next list();
  Next watch();
  void backoff();

  Connection& conn_;
  WatchSink& sink_;
  ReflectorOptions opts_;
  std::mt19937_64 rng_;
  std::string rv_;
  int consecutiveFailures_ = 0;
  std::atomic<bool> stopped_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Stats stats_;
};

}  // namespace nodenet::kube
