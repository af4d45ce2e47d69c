#include "dns/server/upstream.h"

#include <ares.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>

#include "base/log.h"
#include "dns/wire/types.h"

namespace nodenet::dns::server {

namespace {

// c-ares 1.18 reads UDP answers into a buffer of this size (MAXENDSSZ); longer datagrams are cut.
constexpr int kAresUdpMax = 4096;

std::once_flag aresInitOnce;
int aresInitStatus = ARES_SUCCESS;

}  // namespace

struct Upstream::Impl {
  // One c-ares channel per transport: UDP (TC answers passed through) and TCP (ARES_FLAG_USEVC).
  struct Channel {
    ares_channel ch = nullptr;
    std::map<int, short> sockets;  // fd -> poll events, maintained by the socket state callback
  };
  struct Request {
    Impl* impl = nullptr;
    Query q;
    std::vector<uint8_t> raw;
    bool tcp = false;
    Callback done;
  };

  UpstreamConfig config;
  std::string serversCsv;
  // The TCP channel is created on the first TCP client's query (event thread only): most clients never use
  // TCP, and a c-ares 1.18 channel touches ~70 KiB of query tables at init.
  Channel udp, tcp;
  int wakeFd = -1;
  std::thread thread;
  ResponseCache cache;

  std::mutex mu;  // guards queue and stopping
  std::deque<std::unique_ptr<Request>> queue;
  bool stopping = false;

  std::atomic<size_t> inFlight{0};
  std::atomic<uint64_t> forwarded{0}, answered{0}, failed{0}, cacheHits{0};

  explicit Impl(UpstreamConfig c) : config(std::move(c)), cache(config.cacheEntries, config.cacheMaxTtl) {}

  ~Impl() {
    if (udp.ch) ares_destroy(udp.ch);
    if (tcp.ch) ares_destroy(tcp.ch);
    if (wakeFd >= 0) ::close(wakeFd);
  }

  static void onSocketState(void* data, ares_socket_t fd, int readable, int writable) {
    auto* c = static_cast<Channel*>(data);
    if (!readable && !writable) {
      c->sockets.erase(fd);
      return;
    }
    c->sockets[fd] = static_cast<short>((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
  }

  Status initChannel(Channel& c, bool overTcp, const std::string& csv) {
    ares_options opts{};
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS |
               ARES_OPT_EDNSPSZ;
    // NOCHECKRESP: hand SERVFAIL/REFUSED answers to us instead of trying the next server (forward passes
    // rcodes through); STAYOPEN keeps TCP connections for the next query; NOSEARCH: ares_send never searches
    // anyway, set for clarity. IGNTC on UDP: pass TC through so the client comes back over TCP.
    // EDNS + EDNSPSZ: without them c-ares 1.18 cuts every UDP answer to 512 bytes (it only adds OPT to queries
    // it builds itself; ares_send sends our buffer untouched). 4096 is the size of its UDP read buffer.
    opts.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_STAYOPEN | ARES_FLAG_NOSEARCH | ARES_FLAG_EDNS |
                 (overTcp ? ARES_FLAG_USEVC : ARES_FLAG_IGNTC);
    opts.ednspsz = kAresUdpMax;
    opts.timeout = static_cast<int>(config.timeout.count());
    opts.tries = config.tries;
    opts.sock_state_cb = &Impl::onSocketState;
    opts.sock_state_cb_data = &c;
    char lookups[] = "b";  // no /etc/hosts lookups (ares_send ignores them; keeps init from reading files)
    opts.lookups = lookups;
    int rc = ares_init_options(&c.ch, &opts, mask);
    if (rc != ARES_SUCCESS) return Error(std::string("c-ares init: ") + ares_strerror(rc));
    rc = ares_set_servers_ports_csv(c.ch, csv.c_str());
    if (rc != ARES_SUCCESS) return Error("c-ares servers \"" + csv + "\": " + ares_strerror(rc));
    return okStatus();
  }

  static void onAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<Request> r(static_cast<Request*>(arg));
    Impl* self = r->impl;
    self->inFlight.fetch_sub(1, std::memory_order_relaxed);
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
      r->done(Upstream::Outcome::Cancelled, {});
      return;
    }
    // c-ares matched the ID and question; still refuse anything that is not a whole, well-formed response (a
    // UDP answer longer than c-ares's read buffer arrives cut).
    if (status != ARES_SUCCESS || abuf == nullptr || alen < static_cast<int>(kHeaderSize) || !(abuf[2] & 0x80) ||
        !ResponseCache::wellFormed({abuf, static_cast<size_t>(alen)})) {
      self->failed.fetch_add(1, std::memory_order_relaxed);
      NN_VLOG(4) << "upstream query " << r->q.question.name.toText() << " "
                 << rrTypeName(r->q.question.type) << " failed: "
                 << (status != ARES_SUCCESS ? ares_strerror(status) : "not a response");
      r->done(Upstream::Outcome::Failed, {});
      return;
    }
    self->answered.fetch_add(1, std::memory_order_relaxed);
    std::vector<uint8_t> resp(abuf, abuf + alen);
    resp[0] = static_cast<uint8_t>(r->q.id >> 8);
    resp[1] = static_cast<uint8_t>(r->q.id);
    self->cache.insert(r->q, resp, ResponseCache::Clock::now());
    r->done(Upstream::Outcome::Answered, resp);
  }

  void wake() {
    uint64_t one = 1;
    ssize_t n = ::write(wakeFd, &one, sizeof one);
    (void)n;  // the counter only saturates; a failed wake cannot happen with EFD_NONBLOCK below 2^64-2
  }

  void sendQueued() {
    std::deque<std::unique_ptr<Request>> batch;
    {
      std::lock_guard lock(mu);
      batch.swap(queue);
    }
    for (auto& r : batch) {
      if (r->tcp && tcp.ch == nullptr) {
        Status st = initChannel(tcp, true, serversCsv);
        if (!st.ok()) {
          if (tcp.ch) ares_destroy(tcp.ch);
          tcp.ch = nullptr;
          NN_LOG(Error) << "upstream TCP: " << st.error().message();
          inFlight.fetch_sub(1, std::memory_order_relaxed);
          failed.fetch_add(1, std::memory_order_relaxed);
          r->done(Upstream::Outcome::Failed, {});
          continue;
        }
      }
      Channel& c = r->tcp ? tcp : udp;
      Request* raw = r.release();
      forwarded.fetch_add(1, std::memory_order_relaxed);
      ares_send(c.ch, raw->raw.data(), static_cast<int>(raw->raw.size()), &Impl::onAnswer, raw);
    }
  }

  void run() {
    std::vector<pollfd> fds;
    std::vector<Channel*> owners;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) break;
      }
      fds.clear();
      owners.clear();
      fds.push_back({wakeFd, POLLIN, 0});
      owners.push_back(nullptr);
      for (Channel* c : {&udp, &tcp})
        for (auto [fd, ev] : c->sockets) {
          fds.push_back({fd, ev, 0});
          owners.push_back(c);
        }
      // Wake up for the earliest c-ares timeout (at most 1 s, so a lost wake-up cannot stall for long).
      timeval maxTv{1, 0}, tv{}, tv2{};
      timeval* t = ares_timeout(udp.ch, &maxTv, &tv);
      if (tcp.ch) {
        timeval first = *t;  // separate buffers: ares_timeout must not read and write the same timeval
        t = ares_timeout(tcp.ch, &first, &tv2);
        tv = *t;
        t = &tv;
      }
      int ms = static_cast<int>(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
      int n = ::poll(fds.data(), fds.size(), ms);
      if (n < 0 && errno != EINTR) {
        NN_LOG(Error) << "upstream event loop: poll: " << std::strerror(errno);
        break;
      }
      if (n > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v;
        ssize_t r = ::read(wakeFd, &v, sizeof v);
        (void)r;
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        ares_socket_t rfd = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_socket_t wfd = (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_process_fd(owners[i]->ch, rfd, wfd);
      }
      // Timeouts and retries.
      ares_process_fd(udp.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      if (tcp.ch) ares_process_fd(tcp.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      sendQueued();
    }
    // Cancel what is in flight (callbacks get ARES_ECANCELLED), then what never left the queue.
    ares_cancel(udp.ch);
    if (tcp.ch) ares_cancel(tcp.ch);
    std::deque<std::unique_ptr<Request>> rest;
    {
      std::lock_guard lock(mu);
      rest.swap(queue);
    }
    for (auto& r : rest) {
      inFlight.fetch_sub(1, std::memory_order_relaxed);
      r->done(Upstream::Outcome::Cancelled, {});
    }
  }
};

Upstream::Upstream(std::unique_ptr<Impl> impl, std::string describe)
    : impl_(std::move(impl)), describe_(std::move(describe)) {}

Upstream::~Upstream() { stop(); }

Result<std::unique_ptr<Upstream>> Upstream::start(UpstreamConfig config) {
  if (config.servers.empty()) return Error("upstream: no servers");
  std::call_once(aresInitOnce, [] { aresInitStatus = ares_library_init(ARES_LIB_INIT_ALL); });
  if (aresInitStatus != ARES_SUCCESS) return Error(std::string("c-ares library init: ") + ares_strerror(aresInitStatus));
  std::string csv;
  for (const SocketAddress& s : config.servers) {
    if (!csv.empty()) csv += ",";
    csv += s.toString();
  }
  auto impl = std::make_unique<Impl>(std::move(config));
  NN_TRY(impl->initChannel(impl->udp, false, csv));
  impl->serversCsv = csv;
  impl->wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wakeFd < 0) return Error::fromErrno(errno, "upstream: eventfd");
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Upstream>(new Upstream(std::move(impl), csv));
}

size_t Upstream::answerFromCache(const Query& q, std::span<const uint8_t> rawQuery, std::span<uint8_t> out) {
  size_t n = impl_->cache.lookup(q, rawQuery, out, ResponseCache::Clock::now());
  if (n) impl_->cacheHits.fetch_add(1, std::memory_order_relaxed);
  return n;
}

void Upstream::forward(const Query& q, std::span<const uint8_t> rawQuery, bool overTcp, Callback done) {
  if (impl_->inFlight.fetch_add(1, std::memory_order_relaxed) >= impl_->config.maxInFlight) {
    impl_->inFlight.fetch_sub(1, std::memory_order_relaxed);
    impl_->failed.fetch_add(1, std::memory_order_relaxed);
    done(Outcome::Failed, {});
    return;
  }
  auto r = std::make_unique<Impl::Request>();
  r->impl = impl_.get();
  r->q = q;
  r->raw.assign(rawQuery.begin(), rawQuery.end());
  r->tcp = overTcp;
  r->done = std::move(done);
  bool cancelled = false;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping)
      cancelled = true;
    else
      impl_->queue.push_back(std::move(r));
  }
  if (cancelled) {
    impl_->inFlight.fetch_sub(1, std::memory_order_relaxed);
    r->done(Outcome::Cancelled, {});
    return;
  }
  impl_->wake();
}

void Upstream::stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping && !impl_->thread.joinable()) return;
    impl_->stopping = true;
  }
  impl_->wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

UpstreamStats Upstream::stats() const {
  return {impl_->forwarded.load(), impl_->answered.load(), impl_->failed.load(), impl_->cacheHits.load()};
}

}  // namespace nodenet::dns::server
