// Test-only fake Kubernetes API server on 127.0.0.1 (ephemeral port), plain HTTP or TLS, speaking the real
// wire format for what nodenet reads: lists of Nodes, Services and EndpointSlices (resourceVersion,
// limit/continue pagination, `labelSelector` in the `key`, `!key`, `key=value`, `key!=value` forms,
// `fieldSelector=metadata.name=X`) and watches (`?watch=1&resourceVersion=N&allowWatchBookmarks=true&timeoutSeconds=S`)
// streamed as chunked `application/json`, one `{"type":...,"object":...}` line per chunk.
//
// Objects are stored as JSON. Every change bumps one global resourceVersion (as etcd's revision does) and is
// appended to an event log, so a watch from an older resourceVersion replays what happened since; a watch
// from "" or "0" first gets a synthetic ADDED per current object. A watch with a label selector sees a MODIFIED
// that moves an object out of the selector as DELETED (the previous object) and into it as ADDED, as from the
// real API server's watch cache. compact() expires everything up to now:
// watches from older versions then get an ERROR 410 event and old continue tokens a 410 response.
//
// Threading: the server runs its own I/O thread; every public method is thread-safe. Injections act on the
// watches open when they are called (use waitForWatches() first).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "integration/fakeapi/tls_cert.h"

namespace nodenet::fakeapi {

enum class Resource { Nodes, Services, EndpointSlices };
/// "/api/v1/nodes", "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices".
const char* resourcePath(Resource r);

struct Options {
  bool tls = false;
  /// TLS: the server certificate; when empty, one is generated for 127.0.0.1 and localhost.
  CertAndKey cert;
  /// TLS: when set, clients must present a certificate signed by (or equal to) one of these PEM certificates.
  std::string clientCaPem;
  /// Non-empty: requests without `Authorization: Bearer <requiredToken>` get 401 (a metav1.Status).
  std::string requiredToken;
  /// Non-empty: a network namespace path ("/run/netns/NAME"); the listening socket is created inside it (on a
  /// short-lived thread that setns()-es there and exits), so a daemon running in that namespace reaches the
  /// server at 127.0.0.1:port(). The I/O thread itself stays in the caller's namespace: a socket keeps the
  /// namespace it was created in, and accepted sockets inherit it.
  std::string netnsPath;
  /// The port to listen on; 0 = an ephemeral one. A fixed port lets a test stop the server and start a new one
  /// where a client's kubeconfig already points (an API server restart).
  uint16_t port = 0;
  /// The resourceVersion the server starts at. A restarted server given the old server's resourceVersion()
  /// continues its history (as an API server restarted over the same etcd), so clients resume their watches.
  int64_t initialResourceVersion = 1000;
};

class FakeApiServer {
 public:
  static Result<std::unique_ptr<FakeApiServer>> start(Options options = {});
  ~FakeApiServer();  // closes every connection and joins the I/O thread
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  uint16_t port() const;
  /// "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
  std::string url() const;
  /// TLS: the certificate a client should trust (the server's own, self-signed).
  const std::string& caPem() const;

  /// Adds or replaces an object (identity: metadata.namespace + metadata.name; Nodes are cluster-scoped).
  /// Sets metadata.resourceVersion (and a uid when absent), emits ADDED or MODIFIED, returns the new version.
  std::string upsert(Resource r, nlohmann::json object);
  /// Deletes an object and emits DELETED; returns the new version, or "" when there was no such object.
  std::string remove(Resource r, const std::string& ns, const std::string& name);
  std::string resourceVersion() const;
  /// Expires every resourceVersion up to the current one (410 for older watches and continue tokens).
  void compact();

  /// Sends a BOOKMARK at the current resourceVersion to every open watch that allowed bookmarks.
  void sendBookmark();
  /// Sends `ERROR` with a 410 Expired Status to every open watch, then ends those responses cleanly.
  void injectGone();
  /// Closes every open watch's socket without ending the chunked body (an abrupt disconnect).
  void injectDisconnect();
  /// Sends `line` (plus "\n") as a chunk to every open watch: garbage, a truncated event, ...
  void injectLine(const std::string& line);
  /// Delays every later response (list, watch or error) by this much before its header.
  void setResponseDelay(std::chrono::milliseconds delay);
  /// Changes the token requests must carry ("" = none).
  void setRequiredToken(const std::string& token);

  /// Waits until at least `n` watches are open; false on timeout.
  bool waitForWatches(size_t n, std::chrono::milliseconds timeout) const;
  size_t activeWatches() const;
  /// Accepted TCP connections and served requests so far, and the targets of those requests.
  size_t connectionCount() const;
  size_t requestCount() const;
  std::vector<std::string> requestTargets() const;

  class Impl;

 private:
  explicit FakeApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodenet::fakeapi
