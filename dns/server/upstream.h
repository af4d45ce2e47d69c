// Forwarding of names outside the cluster zone to upstream DNS servers with c-ares (like CoreDNS's `forward`
// plugin behind `cache`): the client's query is sent as it came (RD, EDNS and DO untouched), the upstream's
// response is returned with the client's ID, and cacheable responses are kept in a ResponseCache.
//
// Threads: one event thread owns the c-ares channel (c-ares channels are not thread-safe). forward() may be
// called from any thread: it queues the request and wakes the event thread through an eventfd. Completion
// callbacks run on the event thread and must be quick (send a datagram, post to an io_context).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "dns/server/address.h"
#include "dns/server/response_cache.h"
#include "dns/wire/query.h"

namespace nodenet::dns::server {

struct UpstreamConfig {
  /// Servers tried in order (c-ares moves to the next on timeout or error). Must not be empty.
  std::vector<SocketAddress> servers;
  /// Time for one try at one server; c-ares doubles it on each later round.
  std::chrono::milliseconds timeout{2000};
  /// Rounds over the server list before giving up (SERVFAIL).
  int tries = 2;
  /// ResponseCache limits; cacheEntries 0 disables caching.
  size_t cacheEntries = 10000;
  uint32_t cacheMaxTtl = 300;
  /// Queries in flight at once; beyond this, forward() fails at once (SERVFAIL) instead of queueing without
  /// bound.
  size_t maxInFlight = 4096;
};

/// Counters for logs and tests.
struct UpstreamStats {
  uint64_t forwarded = 0;  // queries sent upstream
  uint64_t answered = 0;   // responses received
  uint64_t failed = 0;     // timeouts, errors, overload
  uint64_t cacheHits = 0;
};

class Upstream {
 public:
  /// How a forwarded query ended.
  enum class Outcome : uint8_t {
    /// `response` holds the upstream's message with the client's ID.
    Answered,
    /// The upstream timed out, refused the connection or sent garbage, or too many queries were in flight:
    /// answer SERVFAIL.
    Failed,
    /// The forwarder is shutting down: send nothing.
    Cancelled,
  };
  /// Called once per forward(), on the event thread (or inline for an immediate failure). `response` is valid
  /// only during the call.
  using Callback = std::function<void(Outcome, std::span<const uint8_t> response)>;

  /// Creates the c-ares channel for `config.servers` and starts the event thread. Errors: no servers, c-ares
  /// initialisation or server configuration failed.
  static Result<std::unique_ptr<Upstream>> start(UpstreamConfig config);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  /// Writes a cached response for `q` (the client's ID and spelling, TTLs aged) into `out`; returns its size,
  /// or 0 on a miss. Any thread; no upstream traffic.
  size_t answerFromCache(const Query& q, std::span<const uint8_t> rawQuery, std::span<uint8_t> out);

  /// Sends `rawQuery` (whose decoded form is `q`) upstream and calls `done` with the outcome. Any thread.
  /// Like CoreDNS's forward, the upstream is asked over the client's transport: over UDP a truncated (TC)
  /// upstream answer is passed on as it is (the client retries over TCP); `overTcp` asks over TCP.
  void forward(const Query& q, std::span<const uint8_t> rawQuery, bool overTcp, Callback done);

  /// Cancels every query in flight (callbacks get Cancelled) and joins the event thread. Idempotent.
  void stop();

  UpstreamStats stats() const;
  /// "10.0.0.10:53,[fd00::10]:53" for logs.
  const std::string& describe() const { return describe_; }

 private:
  struct Impl;
  explicit Upstream(std::unique_ptr<Impl> impl, std::string describe);
  std::unique_ptr<Impl> impl_;
  std::string describe_;
};

}  // namespace nodenet::dns::server
