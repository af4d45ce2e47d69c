// One HTTP/1.1 keep-alive connection to the API server (TLS or plain), with the two calls a watcher needs:
// get() for list pages and watch() for a streamed watch response, delivered line by line.
//
// Threading: a Connection is used by one thread at a time (the daemons run one watcher thread per resource,
// each with its own Connection); every call blocks that thread. stop() is the exception: any thread may call
// it, at any time, to make a blocked get()/watch() return promptly with an error, and every later call fails
// at once (a stopped Connection stays stopped). Boost.Beast stays inside connection.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "kube/client/config.h"

namespace nodenet::kube {

/// Query parameters, in order; values are percent-encoded by the connection.
using Query = std::vector<std::pair<std::string, std::string>>;

struct ConnectionOptions {
  /// TCP connect plus TLS handshake.
  std::chrono::milliseconds connectTimeout{10'000};
  /// Each read or write of a get() (the server must send something this often).
  std::chrono::milliseconds requestTimeout{60'000};
  /// A watch that receives no byte for this long is considered dead (the API server ends watches itself
  /// after timeoutSeconds, and sends bookmarks about once a minute when asked for them).
  std::chrono::milliseconds watchIdleTimeout{5 * 60'000};
  /// The largest get() body accepted (a 10,000-Service list is about 16 MiB).
  uint64_t maxBodyBytes = 512ull << 20;
  std::string userAgent = "nodenet";
};

struct HttpResponse {
  unsigned status = 0;
  std::string contentType;
  std::string body;
};

struct WatchResult {
  /// 200 when the stream ran; any other code means no line was delivered and `body` holds the server's
  /// answer (usually a metav1.Status: 410 for an expired resourceVersion, 401/403 for credentials).
  unsigned status = 0;
  std::string body;
  /// Lines handed to the callback.
  size_t lines = 0;
  /// The callback returned false (the connection was closed: the rest of the stream is abandoned).
  bool stoppedByCallback = false;
};

class Connection {
 public:
  /// Called once per non-empty line of a watch stream, without the newline. Return false to end the watch.
  using LineHandler = std::function<bool(std::string_view line)>;

  /// Builds the TLS context (CA, client certificate) now, so bad PEM is a config error; connects lazily.
  static Result<std::unique_ptr<Connection>> create(ClientConfig config, ConnectionOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// GET path?query; returns any HTTP status with its body (the caller decides what 404 or 410 mean). Errors
  /// are transport failures (connect, TLS, timeout, reset, body too large) or stop(). A kept-alive connection
  /// the server closed meanwhile is reopened transparently; a 401 re-reads a file token and retries once when
  /// the token changed.
  Result<HttpResponse> get(std::string_view path, const Query& query = {});

  /// GET path?query as a watch: streams the (chunked) body to `onLine`, one line per watch event, and returns
  /// when the server ends the response (timeoutSeconds, or the server closing the watch) or the callback
  /// returns false. Errors: the connection broke mid-stream or no byte came for watchIdleTimeout (the lines
  /// already delivered stay delivered), transport failures, stop(). 401 is retried as for get().
  Result<WatchResult> watch(std::string_view path, const Query& query, const LineHandler& onLine);

  /// Thread-safe: aborts the blocked call (it returns an error saying "stopped") and every later one.
  void stop();
  bool stopped() const;

  /// How many TCP connections were opened so far (keep-alive checks in tests).
  size_t connectCountForTest() const;

 private:
  class Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// "path?k=v&k2=v2" with the values percent-encoded (RFC 3986 unreserved characters kept).
std::string buildTarget(std::string_view path, const Query& query);

}  // namespace nodenet::kube
