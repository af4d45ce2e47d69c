#include "dns/server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "dns/records/records.h"
#include "dns/server/answer_cache.h"
#include "dns/wire/query.h"
#include "dns/wire/tcp.h"

namespace nodenet::dns::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Receive slot per datagram. Queries are small (a name and an OPT, EDNS padding to 468 octets at most); larger
// datagrams (MSG_TRUNC) are not queries we could answer and are dropped.
constexpr size_t kRxSlot = 2048;
// Ancillary data room per datagram: one in6_pktinfo (the larger of the two pktinfo kinds) with its header.
constexpr size_t kCmsgSpace = CMSG_SPACE(sizeof(in6_pktinfo));
// TCP: bytes read per read_some() call, and the output a connection may queue before it stops reading (a
// client that pipelines without reading its answers is paused rather than buffered without bound).
constexpr size_t kTcpReadChunk = 16384;
constexpr size_t kTcpMaxQueuedOutput = 1u << 20;
// UDP socket buffer sizes asked for (the kernel doubles them for bookkeeping).
constexpr int kUdpRcvBuf = 4 << 20;
constexpr int kUdpSndBuf = 1 << 20;

socklen_t toSockaddr(const SocketAddress& a, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.ip.isV4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(a.port);
    std::memcpy(&s->sin_addr, a.ip.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(a.port);
  std::memcpy(&s->sin6_addr, a.ip.data(), 16);
  return sizeof(sockaddr_in6);
}

Result<uint16_t> boundPort(int fd, const SocketAddress& a) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return Error::fromErrno(errno, "getsockname for " + a.toString());
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// Opens, configures and binds one socket. `shared`: several of our sockets bind this address (threads > 1),
// so SO_REUSEPORT. Only then: a reuseport group costs every datagram a hash and a group lookup on the sender's
// CPU (bench/dns_server: 2-3% more answers per second from the same client without it, at one thread).
// IPV6_V6ONLY so [::]:53 and 0.0.0.0:53 can both be listened on; on a wildcard UDP address, pktinfo so the
// reply leaves from the address the query was sent to (a multi-homed node, or a Service IP DNATed to us).
Result<int> openSocket(const SocketAddress& a, bool isTcp, bool shared) {
  int family = a.ip.isV4() ? AF_INET : AF_INET6;
  // UDP sockets stay blocking: their receiver thread sleeps in recvmmsg (every send is MSG_DONTWAIT).
  int fd = ::socket(family, (isTcp ? SOCK_STREAM | SOCK_NONBLOCK : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  const char* proto = isTcp ? "TCP " : "UDP ";
  if (fd < 0) return Error::fromErrno(errno, std::string("socket for ") + proto + a.toString());
  auto fail = [&](const char* what) {
    int e = errno;
    ::close(fd);
    return Error::fromErrno(e, std::string(what) + " " + proto + a.toString());
  };
  int one = 1;
  if (shared && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return fail("SO_REUSEPORT on");
  if (isTcp && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return fail("SO_REUSEADDR on");
  if (family == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
    return fail("IPV6_V6ONLY on");
  if (!isTcp) {
    // Room for bursts: with the default ~208 KiB a single-threaded server that is descheduled for a few
    // milliseconds under load drops queries in the kernel (RcvbufErrors). SO_RCVBUFFORCE goes past
    // net.core.rmem_max when we have CAP_NET_ADMIN; otherwise take what SO_RCVBUF allows. Kernel memory, only
    // used while datagrams wait; not part of our RSS.
    int rcv = kUdpRcvBuf, snd = kUdpSndBuf;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0)
      (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) != 0)
      (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  }
  if (!isTcp && a.ip.isUnspecified()) {
    int rc = family == AF_INET ? ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one)
                               : ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    if (rc != 0) return fail("pktinfo on");
  }
  sockaddr_storage ss;
  socklen_t len = toSockaddr(a, ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail("binding");
  if (isTcp && ::listen(fd, 1024) != 0) return fail("listening on");
  return fd;
}

// Turns a received pktinfo into the one a reply must carry: leave from the address the query was sent to.
// Returns the control length written into `out` (0 when the datagram carried none).
size_t replyControl(const msghdr& in, uint8_t* out) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&in); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&in), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      pi.ipi_spec_dst = pi.ipi_addr;  // source address of the reply
      pi.ipi_ifindex = 0;             // let routing pick the interface
      auto* o = reinterpret_cast<cmsghdr*>(out);
      o->cmsg_level = IPPROTO_IP;
      o->cmsg_type = IP_PKTINFO;
      o->cmsg_len = CMSG_LEN(sizeof pi);
      std::memcpy(CMSG_DATA(o), &pi, sizeof pi);
      return CMSG_SPACE(sizeof pi);
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;  // address and interface as received (link-local replies need the interface)
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      auto* o = reinterpret_cast<cmsghdr*>(out);
      o->cmsg_level = IPPROTO_IPV6;
      o->cmsg_type = IPV6_PKTINFO;
      o->cmsg_len = CMSG_LEN(sizeof pi);
      std::memcpy(CMSG_DATA(o), &pi, sizeof pi);
      return CMSG_SPACE(sizeof pi);
    }
  }
  return 0;
}

// An upstream answer too large for the client's UDP limit: the header and question with TC set (RFC 2181 §9),
// keeping the upstream's rcode and RA, so the client retries over TCP.
size_t truncatedStub(const Query& q, std::span<const uint8_t> response, std::span<uint8_t> out) {
  auto rcode = static_cast<Rcode>(response.size() > 3 ? (response[3] & 0x0F) : 2);
  std::span<const uint8_t> m = composeError(q, rcode, out);
  out[2] |= 0x02;                                                 // TC
  if (response.size() > 3) out[3] |= static_cast<uint8_t>(response[3] & 0x80);  // RA as upstream said
  return m.size();
}

// A file descriptor shared with upstream callbacks: the UDP socket stays open until the last late answer that
// could use it is gone, even when the worker closes its own handle first.
struct SharedFd {
  int fd = -1;
  explicit SharedFd(int f) : fd(f) {}
  ~SharedFd() {
    if (fd >= 0) ::close(fd);
  }
};

struct Counters {
  std::atomic<uint64_t> udpQueries{0}, tcpQueries{0}, forwarded{0}, refused{0}, errors{0}, dropped{0},
      truncated{0}, tcpConnections{0}, tcpRejected{0}, answerCacheHits{0};
  static void inc(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // one writer: its worker
  }
};

}  // namespace

// What every answering thread owns: its view of the index, its counters, its scratch buffer. One per UDP
// receiver and one per TCP worker, so nothing on the query path is shared between threads.
struct Server::Answerer {
  // What one query turns into.
  enum class Disposition : uint8_t { Send, Drop, Forward };

  Server& server;
  Counters counters;
  // Index view, refreshed once per batch (UDP) or read (TCP) when the holder's generation moved: no
  // shared_ptr refcount traffic per query.
  records::IndexPtr index;
  uint64_t generation = 0;
  // TCP answers and upstream cache hits: the largest DNS message plus the TCP length prefix. A raw array, not
  // a vector: value-initialising would make all of it resident at startup.
  static constexpr size_t kScratchSize = kTcpLengthSize + kMaxMessageSize;
  std::unique_ptr<uint8_t[]> scratch{new uint8_t[kScratchSize]};

  explicit Answerer(Server& s) : server(s) {}

  void refreshIndex() {
    uint64_t g = server.index_.generation();
    if (g != generation) {
      index = server.index_.load();
      generation = g;
    }
  }

  size_t udpLimit(const Query& q) const {
    return std::max<size_t>(kClassicUdpLimit, std::min<size_t>(q.udpLimit(), server.config_.maxUdpPayload));
  }

  // Answers one query into out[0..outCap): over UDP within the client's limit (udpLimit()), over TCP within
  // 65535 bytes. `size` is the response size when the result is Send; `fromIndex` (when given) is set when the
  // response was composed from the index (what the AnswerCache may keep).
  Disposition answerWithLimit(std::span<const uint8_t> in, Query& q, uint8_t* out, size_t outCap, bool isUdp,
                              size_t& size, bool* fromIndex = nullptr) {
    auto parsed = parseQuery(in);
    if (!parsed.ok()) {
      Counters::inc(counters.dropped);
      return Disposition::Drop;
    }
    q = *parsed;
    return answerParsed(in, q, out, outCap, isUdp ? udpLimit(q) : kMaxMessageSize, size, fromIndex);
  }

  Disposition answerParsed(std::span<const uint8_t> in, const Query& q, uint8_t* out, size_t outCap, size_t limit,
                           size_t& size, bool* fromIndex) {
    std::span<uint8_t> buf(out, outCap);
    if (q.verdict != QueryVerdict::Answer) {
      Counters::inc(counters.errors);
      NN_VLOG(5) << "query " << q.id << ": " << rcodeName(verdictRcode(q.verdict)) << ": "
                 << (q.problem ? q.problem : "");
      size = composeError(q, verdictRcode(q.verdict), buf).size();
      return Disposition::Send;
    }
    if (!index) {  // not reachable once the daemon serves (it publishes before listening); be safe
      size = composeError(q, Rcode::ServFail, buf).size();
      return Disposition::Send;
    }
    ResponseComposer c(buf, limit);
    c.setServerPayload(server.config_.maxUdpPayload);
    if (records::resolve(*index, q, c) == records::Outcome::Answered) {
      size = c.finish().size();
      if (fromIndex) *fromIndex = true;
      return Disposition::Send;
    }
    if (!server.upstream_) {
      Counters::inc(counters.refused);
      size = composeError(q, Rcode::Refused, buf).size();
      return Disposition::Send;
    }
    size_t hit =
        server.upstream_->answerFromCache(q, in, std::span<uint8_t>(scratch.get() + kTcpLengthSize, kMaxMessageSize));
    if (hit) {
      const uint8_t* msg = scratch.get() + kTcpLengthSize;
      if (hit <= limit && hit <= outCap)
        std::memcpy(out, msg, hit), size = hit;
      else
        size = truncatedStub(q, {msg, hit}, buf);
      return Disposition::Send;
    }
    Counters::inc(counters.forwarded);
    return Disposition::Forward;
  }
};

// One UDP socket and the thread that serves it: it sleeps in recvmmsg(MSG_WAITFORONE), answers
// the batch into buffers it owns and sends it with one sendmmsg. Not an Asio reactor: a socket registered with
// epoll has the epoll entry on its wait queue for good, so every query the client sends runs the epoll
// callback (and, when we sleep, the epoll wake-up) on the client's CPU. A thread blocked in recvmmsg is on the
// queue only while it sleeps. bench/dns_server measured 6% more answers per second from the same client for
// it, and 8% less server CPU per answer.
struct Server::UdpReceiver : Answerer {
  int fd;
  std::shared_ptr<SharedFd> replyFd;  // dup() of fd, for upstream answers sent from the c-ares thread
  std::atomic<bool> stopping{false};
  std::thread thread;
  // UDP answers composed from `index`, by query bytes; emptied when the generation moves.
  AnswerCache answers;

  // Batch buffers, allocated once. Raw arrays, not vectors: these pages become resident only as traffic
  // uses them.
  unsigned batch;
  size_t txSlot;
  std::unique_ptr<uint8_t[]> rx, tx, rxCtl, txCtl;
  std::vector<mmsghdr> rmsg, smsg;
  std::vector<iovec> riov, siov;
  std::vector<sockaddr_storage> addrs;
  std::vector<Query> queries;

  UdpReceiver(Server& s, int socketFd, std::shared_ptr<SharedFd> reply, size_t cacheBytes)
      : Answerer(s), fd(socketFd), replyFd(std::move(reply)), answers(cacheBytes), batch(s.config_.udpBatch) {
    txSlot = std::max<size_t>(s.config_.maxUdpPayload, kClassicUdpLimit);
    rx.reset(new uint8_t[batch * kRxSlot]);
    tx.reset(new uint8_t[batch * txSlot]);
    rxCtl.reset(new uint8_t[batch * kCmsgSpace]);
    txCtl.reset(new uint8_t[batch * kCmsgSpace]);
    rmsg.resize(batch);
    smsg.resize(batch);
    riov.resize(batch);
    siov.resize(batch);
    addrs.resize(batch);
    queries.resize(batch);
  }
  ~UdpReceiver() { ::close(fd); }

  void run() {
    while (!stopping.load(std::memory_order_relaxed)) serveBatch();
  }

  // Wakes the thread out of recvmmsg for good: SHUT_RD on a UDP socket (ENOTCONN, but the shutdown flag is set
  // and sleepers are woken) makes every later receive return 0 at once, so a stop that lands between the flag
  // check and the call is not lost.
  void stop() {
    stopping.store(true, std::memory_order_relaxed);
    ::shutdown(fd, SHUT_RD);
  }

  void serveBatch() {
    for (unsigned i = 0; i < batch; ++i) {
      riov[i] = {rx.get() + i * kRxSlot, kRxSlot};
      msghdr& h = rmsg[i].msg_hdr;
      h.msg_name = &addrs[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &riov[i];
      h.msg_iovlen = 1;
      h.msg_control = rxCtl.get() + i * kCmsgSpace;
      h.msg_controllen = kCmsgSpace;
      h.msg_flags = 0;
    }
    // Blocks for the first datagram, then takes what else is queued without waiting.
    int n = ::recvmmsg(fd, rmsg.data(), batch, MSG_WAITFORONE, nullptr);
    if (n == 0) return;  // shut down: stopping
    if (n < 0) {
      // EINTR, or an error this call consumed (ENOMEM, ENOBUFS); a pause keeps a lasting one from spinning.
      if (errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return;
    }
    refreshIndex();
    answers.setGeneration(generation);
    Counters::inc(counters.udpQueries, n);
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
      const msghdr& h = rmsg[i].msg_hdr;
      if (h.msg_flags & MSG_TRUNC) {
        Counters::inc(counters.dropped);
        continue;
      }
      std::span<const uint8_t> in(rx.get() + i * kRxSlot, rmsg[i].msg_len);
      uint8_t* slot = tx.get() + i * txSlot;
      Query& q = queries[i];
      size_t size = answers.lookup(in, {slot, txSlot});
      Disposition d = Disposition::Send;
      if (size > 0) {
        Counters::inc(counters.answerCacheHits);
      } else {
        bool fromIndex = false;
        d = answerWithLimit(in, q, slot, txSlot, /*isUdp=*/true, size, &fromIndex);
        if (fromIndex) answers.insert(in, q.question, {slot, size});
      }
      if (d == Disposition::Drop) continue;
      uint8_t* ctl = txCtl.get() + out * kCmsgSpace;
      size_t ctlLen = h.msg_controllen ? replyControl(h, ctl) : 0;
      if (d == Disposition::Forward) {
        forwardUdp(q, in, h, ctl, ctlLen);
        continue;
      }
      siov[out] = {slot, size};
      msghdr& m = smsg[out].msg_hdr;
      m.msg_name = &addrs[i];
      m.msg_namelen = h.msg_namelen;
      m.msg_iov = &siov[out];
      m.msg_iovlen = 1;
      m.msg_control = ctlLen ? ctl : nullptr;
      m.msg_controllen = ctlLen;
      m.msg_flags = 0;
      if (size > 2 && (slot[2] & 0x02)) Counters::inc(counters.truncated);
      ++out;
    }
    for (unsigned sent = 0; sent < out;) {
      int m = ::sendmmsg(fd, smsg.data() + sent, out - sent, MSG_DONTWAIT);
      if (m <= 0) {
        // EAGAIN: the socket buffer is full (an overloaded client path); UDP may drop, and the client retries.
        if (m < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          // A per-datagram error (e.g. EPERM from a firewall, unreachable destination) reports on the first
          // unsent message: skip it and go on with the rest.
          ++sent;
          Counters::inc(counters.dropped);
          continue;
        }
        Counters::inc(counters.dropped, out - sent);
        break;
      }
      sent += m;
    }
  }

  void forwardUdp(const Query& q, std::span<const uint8_t> in, const msghdr& h, const uint8_t* ctl,
                  size_t ctlLen) {
    struct Client {
      std::shared_ptr<SharedFd> fd;
      sockaddr_storage addr;
      socklen_t addrLen;
      std::array<uint8_t, kCmsgSpace> ctl;
      size_t ctlLen;
      Query q;
      size_t limit;
    };
    auto c = std::make_shared<Client>();
    c->fd = replyFd;
    std::memcpy(&c->addr, h.msg_name, h.msg_namelen);
    c->addrLen = h.msg_namelen;
    std::memcpy(c->ctl.data(), ctl, ctlLen);
    c->ctlLen = ctlLen;
    c->q = q;
    c->limit = udpLimit(q);
    server.upstream_->forward(q, in, /*overTcp=*/false,
                              [c](Upstream::Outcome st, std::span<const uint8_t> response) {
                                if (st == Upstream::Outcome::Cancelled) return;
                                std::array<uint8_t, kClassicUdpLimit> small;
                                std::span<const uint8_t> reply = response;
                                if (st == Upstream::Outcome::Failed)
                                  reply = composeError(c->q, Rcode::ServFail, small);
                                else if (response.size() > c->limit)
                                  reply = {small.data(), truncatedStub(c->q, response, small)};
                                iovec iov{const_cast<uint8_t*>(reply.data()), reply.size()};
                                msghdr m{};
                                m.msg_name = &c->addr;
                                m.msg_namelen = c->addrLen;
                                m.msg_iov = &iov;
                                m.msg_iovlen = 1;
                                m.msg_control = c->ctlLen ? c->ctl.data() : nullptr;
                                m.msg_controllen = c->ctlLen;
                                ::sendmsg(c->fd->fd, &m, MSG_DONTWAIT);  // UDP: a failed send is a lost answer
                              });
  }
};

// One TCP worker: its io_context and its listeners (one per listen address), serving RFC 7766
// connections on its thread.
struct Server::Worker : Answerer {
  asio::io_context io{1};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::thread thread;

  explicit Worker(Server& s) : Answerer(s) {}

  void armAccept(tcp::acceptor& a) {
    a.async_accept(io, [this, &a](const boost::system::error_code& ec, tcp::socket sock) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) onAccepted(std::move(sock));
      // Other errors (EMFILE, ECONNABORTED) are per attempt: keep accepting.
      armAccept(a);
    });
  }

  void onAccepted(tcp::socket sock);

  void run() {
    for (auto& a : acceptors) armAccept(*a);
    io.run();
  }
};

// One TCP client (RFC 7766): length-prefixed queries, any number per connection, answered in order as they
// are read (answers from upstream may overtake: RFC 7766 §6.2.1.1 allows out-of-order responses and clients
// match by ID). Closed after tcpIdleTimeout without a query, or when the client closes.
class Server::TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  TcpConnection(Worker& w, tcp::socket sock) : w_(w), sock_(std::move(sock)), idle_(w.io) {}
  ~TcpConnection() { w_.server.tcpOpen_.fetch_sub(1, std::memory_order_relaxed); }

  void start() {
    boost::system::error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);  // answers are small and should leave at once
    armIdle();
    read();
  }

 private:
  void armIdle() {
    idle_.expires_after(w_.server.config_.tcpIdleTimeout);
    idle_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // re-armed or closed
      if (self->pendingUpstream_ > 0) {  // waiting for upstream answers is not idleness
        self->armIdle();
        return;
      }
      NN_VLOG(5) << "closing idle DNS TCP connection";
      self->close();
    });
  }

  void read() {
    if (closed_ || reading_) return;
    if (queued() > kTcpMaxQueuedOutput) return;  // resumed when the output drains
    reading_ = true;
    sock_.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                           size_t n) {
      self->reading_ = false;
      if (ec) {
        // EOF or reset. Answers still being written or awaited from upstream are abandoned with the socket
        // only on errors; on a clean half-close finish writing what we have.
        if (ec == asio::error::eof && (self->writing_ || self->pendingUpstream_ > 0)) {
          self->eof_ = true;
          return;
        }
        self->close();
        return;
      }
      self->onData(n);
    });
  }

  size_t queued() const { return out_.size() + writingBuf_.size(); }

  void onData(size_t n) {
    armIdle();
    splitter_.feed({rbuf_.data(), n});
    w_.refreshIndex();
    while (auto msg = splitter_.next()) {
      Counters::inc(w_.counters.tcpQueries);
      Query q;
      size_t size = 0;
      uint8_t* out = w_.scratch.get() + kTcpLengthSize;
      auto d = w_.answerWithLimit(*msg, q, out, kMaxMessageSize, /*isUdp=*/false, size);
      if (d == Worker::Disposition::Send) {
        writeTcpLength(w_.scratch.get(), size);
        out_.insert(out_.end(), w_.scratch.get(), w_.scratch.get() + kTcpLengthSize + size);
      } else if (d == Worker::Disposition::Forward) {
        forward(q, *msg);
      }
    }
    flush();
    read();
  }

  void forward(const Query& q, std::span<const uint8_t> raw) {
    ++pendingUpstream_;
    asio::io_context& io = w_.io;
    w_.server.upstream_->forward(
        q, raw, /*overTcp=*/true,
        [self = shared_from_this(), &io, q](Upstream::Outcome st, std::span<const uint8_t> response) {
          if (st == Upstream::Outcome::Cancelled) return;
          std::vector<uint8_t> framed(kTcpLengthSize);
          if (st == Upstream::Outcome::Failed) {
            std::array<uint8_t, kClassicUdpLimit> buf;
            auto m = composeError(q, Rcode::ServFail, buf);
            framed.insert(framed.end(), m.begin(), m.end());
          } else {
            framed.insert(framed.end(), response.begin(), response.end());
          }
          writeTcpLength(framed.data(), framed.size() - kTcpLengthSize);
          asio::post(io, [self, framed = std::move(framed)] {
            --self->pendingUpstream_;
            if (self->closed_) return;
            self->out_.insert(self->out_.end(), framed.begin(), framed.end());
            self->flush();
          });
        });
  }

  void flush() {
    if (writing_ || out_.empty() || closed_) return;
    writing_ = true;
    writingBuf_.swap(out_);
    out_.clear();
    asio::async_write(sock_, asio::buffer(writingBuf_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        self->writingBuf_.clear();
                        if (ec) {
                          self->close();
                          return;
                        }
                        self->flush();
                        if (self->eof_ && !self->writing_ && self->pendingUpstream_ == 0) {
                          self->close();
                          return;
                        }
                        self->read();
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    idle_.cancel();
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
  }

  Worker& w_;
  tcp::socket sock_;
  asio::steady_timer idle_;
  TcpStreamSplitter splitter_;
  std::array<uint8_t, kTcpReadChunk> rbuf_;
  std::vector<uint8_t> out_, writingBuf_;
  int pendingUpstream_ = 0;
  bool reading_ = false, writing_ = false, closed_ = false, eof_ = false;
};

void Server::Worker::onAccepted(tcp::socket sock) {
  Counters::inc(counters.tcpConnections);
  if (server.tcpOpen_.fetch_add(1, std::memory_order_relaxed) >= server.config_.maxTcpConnections) {
    server.tcpOpen_.fetch_sub(1, std::memory_order_relaxed);
    Counters::inc(counters.tcpRejected);
    NN_VLOG(2) << "DNS TCP connection refused: " << server.config_.maxTcpConnections << " already open";
    boost::system::error_code ec;
    sock.close(ec);
    return;
  }
  std::make_shared<TcpConnection>(*this, std::move(sock))->start();
}

Server::Server(ServerConfig config, const IndexHolder& index, std::shared_ptr<Upstream> upstream)
    : config_(std::move(config)), index_(index), upstream_(std::move(upstream)) {}

Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::start(ServerConfig config, const IndexHolder& index,
                                              std::shared_ptr<Upstream> upstream) {
  if (config.listen.empty()) return Error("DNS server: no listen address");
  if (config.threads == 0) return Error("DNS server: threads must be at least 1");
  if (config.udpBatch == 0) config.udpBatch = 1;
  if (config.maxUdpPayload < kClassicUdpLimit) config.maxUdpPayload = kClassicUdpLimit;
  std::unique_ptr<Server> s(new Server(std::move(config), index, std::move(upstream)));
  const ServerConfig& cfg = s->config_;
  const bool shared = cfg.threads > 1;
  for (unsigned i = 0; i < cfg.threads; ++i) s->workers_.push_back(std::make_unique<Worker>(*s));
  // The answer cache budget is over all UDP receivers.
  const size_t cacheBytes = cfg.answerCacheBytes / (size_t{cfg.threads} * cfg.listen.size());

  auto adoptUdp = [&](int fd, const SocketAddress& a) -> Status {
    int dupFd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dupFd < 0) {
      int e = errno;
      ::close(fd);
      return Error::fromErrno(e, "dup of UDP " + a.toString());
    }
    s->udp_.push_back(std::make_unique<UdpReceiver>(*s, fd, std::make_shared<SharedFd>(dupFd), cacheBytes));
    return okStatus();
  };
  auto adoptTcp = [&](Worker& w, int fd, const SocketAddress& a) -> Status {
    auto acc = std::make_unique<tcp::acceptor>(w.io);
    boost::system::error_code ec;
    acc->assign(a.ip.isV4() ? tcp::v4() : tcp::v6(), fd, ec);
    if (ec) {
      ::close(fd);
      return Error("adopting TCP " + a.toString() + ": " + ec.message());
    }
    w.acceptors.push_back(std::move(acc));
    return okStatus();
  };

  for (SocketAddress a : cfg.listen) {
    // The first pair fixes the port (port 0: the kernel picks it for UDP, and TCP must get the same one, which
    // may be taken: retry with another).
    int udpFd = -1, tcpFd = -1;
    const bool pick = a.port == 0;
    for (int attempt = 0;; ++attempt) {
      SocketAddress want = a;
      NN_ASSIGN_OR_RETURN(udpFd, openSocket(want, false, shared));
      if (pick) {
        auto port = boundPort(udpFd, want);
        if (!port.ok()) {
          ::close(udpFd);
          return std::move(port).error();
        }
        want.port = *port;
      }
      auto t = openSocket(want, true, shared);
      if (t.ok()) {
        tcpFd = *t;
        a = want;
        break;
      }
      ::close(udpFd);
      if (!pick || t.error().sysErrno() != EADDRINUSE || attempt >= 16) return std::move(t).error();
    }
    NN_TRY(adoptUdp(udpFd, a));
    NN_TRY(adoptTcp(*s->workers_[0], tcpFd, a));
    for (unsigned i = 1; i < cfg.threads; ++i) {
      NN_ASSIGN_OR_RETURN(int u, openSocket(a, false, shared));
      NN_TRY(adoptUdp(u, a));
      NN_ASSIGN_OR_RETURN(int t, openSocket(a, true, shared));
      NN_TRY(adoptTcp(*s->workers_[i], t, a));
    }
    s->listening_.push_back(a);
  }
  for (auto& r : s->udp_) {
    UdpReceiver* raw = r.get();
    r->thread = std::thread([raw] { raw->run(); });
  }
  for (auto& w : s->workers_) {
    Worker* raw = w.get();
    w->thread = std::thread([raw] { raw->run(); });
  }
  return s;
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& r : udp_) r->stop();
  for (auto& w : workers_) w->io.stop();
  for (auto& r : udp_)
    if (r->thread.joinable()) r->thread.join();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  // Upstream answers arriving from now on are cancelled; UDP ones hold their own descriptor, TCP ones post to
  // an io_context that is stopped but still alive until the workers are destroyed below.
  if (upstream_) upstream_->stop();
  finalStats_ = stats();
  udp_.clear();
  workers_.clear();
}

ServerStats Server::stats() const {
  if (workers_.empty()) return finalStats_;
  ServerStats s;
  auto add = [&s](const Counters& c) {
    s.udpQueries += c.udpQueries.load(std::memory_order_relaxed);
    s.tcpQueries += c.tcpQueries.load(std::memory_order_relaxed);
    s.forwarded += c.forwarded.load(std::memory_order_relaxed);
    s.refused += c.refused.load(std::memory_order_relaxed);
    s.errors += c.errors.load(std::memory_order_relaxed);
    s.dropped += c.dropped.load(std::memory_order_relaxed);
    s.truncated += c.truncated.load(std::memory_order_relaxed);
    s.tcpConnections += c.tcpConnections.load(std::memory_order_relaxed);
    s.tcpRejected += c.tcpRejected.load(std::memory_order_relaxed);
    s.answerCacheHits += c.answerCacheHits.load(std::memory_order_relaxed);
  };
  for (const auto& r : udp_) add(r->counters);
  for (const auto& w : workers_) add(w->counters);
  return s;
}

}  // namespace nodenet::dns::server
