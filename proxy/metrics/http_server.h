// HttpServer: a small HTTP/1.1 server (Boost.Beast, no TLS) for /metrics, /healthz, /livez and the per-service
// health check ports. One io_context on one thread of its own serves every listener; listeners can be opened
// and closed at any time from any thread. Beast stays out of this header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nodenet::proxy::metrics {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // "/healthz?verbose" as sent
  /// The target without its query string.
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct HttpResponse {
  unsigned status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  /// Extra headers (Content-Type and Content-Length are set from the fields above).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// Called on the server thread for every request; must not block for long.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  using ListenerId = uint64_t;

  /// Starts the io_context thread (named `name` in logs). Errors: the thread cannot be started.
  static Result<std::unique_ptr<HttpServer>> create(const std::string& name);
  /// Stops like stop().
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  struct Bound {
    ListenerId id = 0;
    uint16_t port = 0;  // the bound port (useful with port 0)
  };
  /// Binds address:port (SO_REUSEADDR, so a restarted daemon rebinds at once; IPv6 addresses are v6-only)
  /// and serves every connection with handler. HEAD is answered like GET without a body. Errors name the
  /// address and keep the errno (EADDRINUSE, EADDRNOTAVAIL, EACCES).
  Result<Bound> listen(const IpAddress& address, uint16_t port, HttpHandler handler);
  /// Stops accepting on that listener and closes its open connections. Returns when done. Unknown ids are
  /// ignored.
  void close(ListenerId id);
  /// Closes every listener and connection and joins the thread. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// "127.0.0.1:10249" / "[::1]:10249".
std::string hostPort(const IpAddress& address, uint16_t port);

}  // namespace nodenet::proxy::metrics
