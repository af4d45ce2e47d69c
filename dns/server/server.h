// The DNS server's I/O: UDP receivers and Boost.Asio TCP listeners that answer from the current
// records::Index and forward names outside the zone to an Upstream. No DNS semantics live here (STYLE.md
// habit 12): dns/wire parses and composes, dns/records answers, this file moves bytes.
//
// Threads: per listen address, `threads` UDP sockets and `threads` TCP listeners, bound with SO_REUSEPORT
// when there are several, so the kernel spreads queries and connections and no lock or shared queue sits on
// the query path.
//   - Every UDP socket has its own receiver thread. It sleeps in recvmmsg(MSG_WAITFORONE), not in epoll: an
//     epoll registration would make every query the client sends run the epoll callback on the client's CPU.
//     A batch is answered into buffers the receiver owns (answering allocates nothing) and sent with one
//     sendmmsg.
//   - `threads` TCP workers, each an io_context with its own listener per address (RFC 7766 connections).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.h"
#include "dns/server/address.h"
#include "dns/server/index_updater.h"
#include "dns/server/upstream.h"
#include "dns/wire/response.h"

namespace nodenet::dns::server {

struct ServerConfig {
  /// Every address gets `threads` UDP sockets and `threads` TCP listeners. Port 0 picks one free port shared by
  /// UDP and TCP (tests); listening() reports it.
  std::vector<SocketAddress> listen;
  /// UDP receivers per listen address, and TCP workers (>= 1).
  unsigned threads = 1;
  /// The largest UDP response we send, whatever the client's EDNS payload says (and the size our OPT
  /// advertises). 1232 per DNS Flag Day 2020; at least 512.
  uint16_t maxUdpPayload = kDefaultServerPayload;
  /// TCP connections open at once over all workers; more are closed as soon as they are accepted.
  size_t maxTcpConnections = 1024;
  /// A TCP connection with no query for this long is closed (RFC 7766 §6.2.3).
  std::chrono::milliseconds tcpIdleTimeout{10000};
  /// Datagrams taken per recvmmsg() call.
  unsigned udpBatch = 32;
  /// Bytes of composed UDP answers kept for repeated queries (AnswerCache), over all UDP receivers: each
  /// gets an equal share. 0 turns the cache off.
  size_t answerCacheBytes = kDefaultAnswerCacheBytes;
  static constexpr size_t kDefaultAnswerCacheBytes = 2u << 20;
};

struct ServerStats {
  uint64_t udpQueries = 0;
  uint64_t tcpQueries = 0;
  uint64_t forwarded = 0;   // sent upstream (cache misses)
  uint64_t refused = 0;     // out of zone without upstream
  uint64_t errors = 0;      // FORMERR/NOTIMP/BADVERS answers
  uint64_t dropped = 0;     // not answerable (no header, QR set, oversized datagram)
  uint64_t truncated = 0;   // UDP answers with TC
  uint64_t tcpConnections = 0;  // accepted so far
  uint64_t tcpRejected = 0;     // closed at once: over maxTcpConnections
  uint64_t answerCacheHits = 0;  // UDP queries answered from a receiver's AnswerCache (counted in udpQueries)
};

class Server {
 public:
  /// Binds every socket and starts the threads. `index` must outlive the server; `upstream` may be null
  /// (then names outside the zone get REFUSED). The server stops the upstream in stop(), before its sockets
  /// close, so no late upstream answer can reach a closed socket. Errors: a bad configuration, or an address
  /// that cannot be bound (EADDRINUSE, EACCES, EADDRNOTAVAIL), naming the address.
  static Result<std::unique_ptr<Server>> start(ServerConfig config, const IndexHolder& index,
                                               std::shared_ptr<Upstream> upstream);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Stops the threads and the upstream, closes every socket. Idempotent.
  void stop();
  /// The listen addresses with the ports actually bound (port 0 resolved).
  const std::vector<SocketAddress>& listening() const { return listening_; }
  /// Sums over the threads.
  ServerStats stats() const;

 private:
  struct Answerer;
  struct UdpReceiver;
  struct Worker;
  class TcpConnection;
  Server(ServerConfig config, const IndexHolder& index, std::shared_ptr<Upstream> upstream);

  const ServerConfig config_;
  const IndexHolder& index_;
  std::shared_ptr<Upstream> upstream_;
  std::vector<SocketAddress> listening_;
  std::vector<std::unique_ptr<UdpReceiver>> udp_;  // threads x listen addresses
  std::vector<std::unique_ptr<Worker>> workers_;   // threads (TCP)
  std::atomic<size_t> tcpOpen_{0};
  bool stopped_ = false;
  ServerStats finalStats_;  // stats() after stop()
};

}  // namespace nodenet::dns::server
