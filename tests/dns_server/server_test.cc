// dns/server: a running Server (and Upstream) on 127.0.0.1 with port 0, queried over real UDP and TCP sockets.
// No root needed; nothing leaves loopback.
//
// Cluster plan (zone cluster.local, TTL 5), loaded into a kube::Cache and indexed by an IndexUpdater:
//   default/web   ClusterIP 10.96.0.10, port http 80/TCP
//   prod/db       headless, endpoints 10.1.0.1 (db-0), 10.1.0.2 (db-1)
//   prod/many     headless, 100 ready endpoints 10.50.0.1 .. 10.50.0.100 (truncation)
// Upstream: a FakeUpstream on 127.0.0.1 (UDP and TCP on one port) whose answers each test chooses.
#include "dns/server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "base/strings.h"
#include "dns/server/index_updater.h"
#include "dns/server/upstream.h"
#include "dns/wire/tcp.h"
#include "kube/cache/cache.h"
#include "kube/objects/decode.h"
#include "tests/dns_server/test_util.h"

namespace nodenet::dns::server {
namespace {

using namespace testutil;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string dbSliceJson(const std::vector<std::string>& ips) {
  std::string eps;
  for (size_t i = 0; i < ips.size(); ++i)
    eps += strCat(i ? "," : "", R"({"addresses": [")", ips[i], R"("], "hostname": "db-)", i,
                  R"(", "conditions": {"ready": true}})");
  return strCat(R"({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "db-1", "namespace": "prod", "labels": {"kubernetes.io/service-name": "db"}},
     "addressType": "IPv4", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
     "endpoints": [)",
                eps, "]}");
}

std::string clusterJson() {
  std::string many;
  for (int i = 1; i <= 100; ++i)
    many += strCat(i > 1 ? "," : "", R"({"addresses": ["10.50.0.)", i, R"("], "conditions": {"ready": true}})");
  return strCat(R"({"kind": "List", "apiVersion": "v1", "items": [
    {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80}]}},
    {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "db", "namespace": "prod"},
     "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}},
    )",
                dbSliceJson({"10.1.0.1", "10.1.0.2"}), R"(,
    {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "many", "namespace": "prod"},
     "spec": {"clusterIP": "None", "ports": [{"name": "p", "port": 1}]}},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "many-1", "namespace": "prod", "labels": {"kubernetes.io/service-name": "many"}},
     "addressType": "IPv4", "ports": [{"name": "p", "port": 1}], "endpoints": [)",
                many, "]}]}");
}

// ---- clients ----

sockaddr_storage loopback(uint16_t port, bool v6, socklen_t& len) {
  sockaddr_storage ss{};
  if (v6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    s->sin6_addr = in6addr_loopback;
    len = sizeof(sockaddr_in6);
  } else {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sockaddr_in);
  }
  return ss;
}

bool waitReadable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

class UdpClient {
 public:
  explicit UdpClient(bool v6 = false) : v6_(v6) { fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0); }
  ~UdpClient() { ::close(fd_); }
  void send(uint16_t port, const std::vector<uint8_t>& bytes) {
    socklen_t len;
    sockaddr_storage ss = loopback(port, v6_, len);
    ASSERT_EQ(::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), len),
              static_cast<ssize_t>(bytes.size()));
  }
  std::optional<std::vector<uint8_t>> recv(std::chrono::milliseconds timeout = 2000ms) {
    if (!waitReadable(fd_, timeout)) return std::nullopt;
    std::vector<uint8_t> buf(65536);
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(n);
    return buf;
  }

 private:
  int fd_;
  bool v6_;
};

Message parsed(const std::vector<uint8_t>& bytes) {
  auto m = parseMessage(bytes);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message());
  return m.ok() ? *m : Message{};
}

// One UDP question, its parsed answer (or nullopt on timeout); `size` receives the datagram size.
std::optional<Message> udpAsk(uint16_t port, const std::vector<uint8_t>& query, size_t* size = nullptr,
                              std::chrono::milliseconds timeout = 2000ms) {
  UdpClient c;
  c.send(port, query);
  auto r = c.recv(timeout);
  if (!r) return std::nullopt;
  if (size) *size = r->size();
  return parsed(*r);
}

class TcpClient {
 public:
  explicit TcpClient(uint16_t port, bool v6 = false) {
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    socklen_t len;
    sockaddr_storage ss = loopback(port, v6, len);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  }
  ~TcpClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void sendRaw(const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  void send(const std::vector<uint8_t>& message) { sendRaw(frameForTcp(message)); }
  // The next whole message, or nullopt on EOF/timeout.
  std::optional<std::vector<uint8_t>> read(std::chrono::milliseconds timeout = 2000ms) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (auto m = splitter_.next()) return std::vector<uint8_t>(m->begin(), m->end());
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || !waitReadable(fd_, left)) return std::nullopt;
      uint8_t buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      splitter_.feed({buf, static_cast<size_t>(n)});
    }
  }
  // True when the server closes the connection within `timeout`.
  bool closedWithin(std::chrono::milliseconds timeout) {
    read(timeout);
    return eof_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  TcpStreamSplitter splitter_;
};

// ---- fake upstream ----

// A DNS server on 127.0.0.1 (UDP and TCP on one port) answering with `handler` (nullopt: stay silent).
class FakeUpstream {
 public:
  using Handler = std::function<std::optional<Message>(const Message& query, bool tcp)>;
  explicit FakeUpstream(Handler h) : handler_(std::move(h)) {
    for (int attempt = 0; attempt < 20 && tcpFd_ < 0; ++attempt) {
      udpFd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
      socklen_t len;
      sockaddr_storage ss = loopback(0, false, len);
      ::bind(udpFd_, reinterpret_cast<sockaddr*>(&ss), len);
      ::getsockname(udpFd_, reinterpret_cast<sockaddr*>(&ss), &len);
      port_ = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
      tcpFd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      ::setsockopt(tcpFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(tcpFd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(tcpFd_, 16) != 0) {
        ::close(tcpFd_);
        ::close(udpFd_);
        tcpFd_ = -1;
      }
    }
    thread_ = std::thread([this] { run(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, s] : conns_) ::close(fd);
    ::close(udpFd_);
    ::close(tcpFd_);
  }
  uint16_t port() const { return port_; }
  int udpQueries() const { return udp_; }
  int tcpQueries() const { return tcp_; }

 private:
  std::optional<std::vector<uint8_t>> respond(std::span<const uint8_t> q, bool tcp) {
    auto m = parseMessage(q);
    if (!m.ok()) return std::nullopt;
    auto r = handler_(*m, tcp);
    if (!r) return std::nullopt;
    r->header.id = m->header.id;
    return wire(*r);
  }
  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{udpFd_, POLLIN, 0}, {tcpFd_, POLLIN, 0}};
      for (auto& [fd, s] : conns_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        uint8_t buf[65536];
        sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t n = ::recvfrom(udpFd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
        if (n > 0) {
          ++udp_;
          if (auto r = respond({buf, static_cast<size_t>(n)}, false))
            ::sendto(udpFd_, r->data(), r->size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
        }
      }
      if (fds[1].revents & POLLIN) {
        int c = ::accept(tcpFd_, nullptr, nullptr);
        if (c >= 0) conns_[c];
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        int fd = fds[i].fd;
        uint8_t buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(fd);
          conns_.erase(fd);
          continue;
        }
        auto& sp = conns_[fd];
        sp.feed({buf, static_cast<size_t>(n)});
        while (auto m = sp.next()) {
          ++tcp_;
          if (auto r = respond(*m, true)) {
            auto f = frameForTcp(*r);
            ::send(fd, f.data(), f.size(), MSG_NOSIGNAL);
          }
        }
      }
    }
  }

  Handler handler_;
  int udpFd_ = -1, tcpFd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> udp_{0}, tcp_{0};
  std::map<int, TcpStreamSplitter> conns_;
  std::thread thread_;
};

IpAddress ip(const char* t) { return *IpAddress::parse(t); }

std::vector<std::string> addresses(const Message& m) {
  std::vector<std::string> v;
  for (const auto& rr : m.answers)
    if (auto* a = std::get_if<RdataA>(&rr.rdata)) v.push_back(a->addr.toString());
  return v;
}

// ---- fixture ----

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto list = kube::decodeObjectListText(clusterJson());
    ASSERT_TRUE(list.ok()) << list.error().message();
    ASSERT_TRUE(list->errors.empty());
    std::vector<kube::Object> services, slices;
    for (auto& o : list->items)
      (std::holds_alternative<kube::Service>(o) ? services : slices).push_back(std::move(o));
    cache_.replaceAll(kube::ObjectKind::Service, std::move(services));
    cache_.replaceAll(kube::ObjectKind::EndpointSlice, std::move(slices));
    auto u = IndexUpdater::start(cache_, records::Config{}, holder_);
    ASSERT_TRUE(u.ok()) << u.error().message();
    updater_ = std::move(*u);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (updater_) updater_->stop();
  }

  static ServerConfig config(unsigned threads = 1) {
    ServerConfig c;
    c.listen = {*parseListenAddress("127.0.0.1:0")};
    c.threads = threads;
    return c;
  }
  void start(ServerConfig c = config(), std::shared_ptr<Upstream> upstream = nullptr) {
    auto s = Server::start(c, holder_, std::move(upstream));
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s);
    port_ = server_->listening()[0].port;
    ASSERT_NE(port_, 0);
  }
  std::shared_ptr<Upstream> upstreamTo(const FakeUpstream& f, std::chrono::milliseconds timeout = 500ms) {
    UpstreamConfig uc;
    uc.servers = {{ip("127.0.0.1"), f.port()}};
    uc.timeout = timeout;
    uc.tries = 1;
    auto u = Upstream::start(uc);
    EXPECT_TRUE(u.ok()) << u.error().message();
    return u.ok() ? std::shared_ptr<Upstream>(std::move(*u)) : nullptr;
  }

  kube::Cache cache_;
  IndexHolder holder_;
  std::unique_ptr<IndexUpdater> updater_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, UdpAnswersFromTheIndex) {
  start();
  auto r = udpAsk(port_, queryWire("web.default.svc.cluster.local", RRType::A, 0x4321));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.id, 0x4321);
  EXPECT_TRUE(r->header.qr);
  EXPECT_TRUE(r->header.aa);
  EXPECT_TRUE(r->header.rd);
  EXPECT_FALSE(r->header.ra);  // as CoreDNS: cluster answers are authoritative, not recursive
  EXPECT_EQ(r->rcode(), Rcode::NoError);
  EXPECT_EQ(addresses(*r), std::vector<std::string>{"10.96.0.10"});

  auto nx = udpAsk(port_, queryWire("nope.default.svc.cluster.local", RRType::A));
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->rcode(), Rcode::NXDomain);
  ASSERT_EQ(nx->authority.size(), 1u);
  EXPECT_EQ(nx->authority[0].type, RRType::SOA);
  EXPECT_EQ(server_->stats().udpQueries, 2u);
}

TEST_F(ServerTest, TcpAnswersPipelinedQueriesInOrderOnOneConnection) {
  start();
  TcpClient c(port_);
  ASSERT_TRUE(c.connected());
  std::vector<uint8_t> batch;
  for (auto [name, id] : std::vector<std::pair<std::string, uint16_t>>{{"web.default.svc.cluster.local", 1},
                                                                       {"db.prod.svc.cluster.local", 2},
                                                                       {"nope.prod.svc.cluster.local", 3}}) {
    auto f = frameForTcp(queryWire(name, RRType::A, id));
    batch.insert(batch.end(), f.begin(), f.end());
  }
  c.sendRaw(batch);  // three queries in one segment
  auto a = c.read(), b = c.read(), d = c.read();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(parsed(*a).header.id, 1);
  EXPECT_EQ(addresses(parsed(*a)), std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(parsed(*b).header.id, 2);
  EXPECT_EQ(addresses(parsed(*b)), (std::vector<std::string>{"10.1.0.1", "10.1.0.2"}));
  EXPECT_EQ(parsed(*d).header.id, 3);
  EXPECT_EQ(parsed(*d).rcode(), Rcode::NXDomain);

  // A query split across segments, then another on the same connection.
  auto f = frameForTcp(queryWire("web.default.svc.cluster.local", RRType::A, 4));
  c.sendRaw({f.begin(), f.begin() + 5});
  std::this_thread::sleep_for(30ms);
  c.sendRaw({f.begin() + 5, f.end()});
  auto e = c.read();
  ASSERT_TRUE(e);
  EXPECT_EQ(parsed(*e).header.id, 4);
  EXPECT_EQ(server_->stats().tcpQueries, 4u);
}

TEST_F(ServerTest, UdpTruncatesAtTheClientsLimitWithWholeRecordsAndTcpIsComplete) {
  start();
  size_t size = 0;
  // No EDNS: 512 bytes.
  auto classic = udpAsk(port_, queryWire("many.prod.svc.cluster.local", RRType::A), &size);
  ASSERT_TRUE(classic);
  EXPECT_LE(size, 512u);
  EXPECT_TRUE(classic->header.tc);
  EXPECT_GT(classic->answers.size(), 10u);
  EXPECT_LT(classic->answers.size(), 100u);
  // EDNS 1232.
  auto edns = udpAsk(port_, queryWire("many.prod.svc.cluster.local", RRType::A, 2, 1232), &size);
  ASSERT_TRUE(edns && edns->edns);
  EXPECT_LE(size, 1232u);
  EXPECT_GT(size, 1100u);
  EXPECT_TRUE(edns->header.tc);
  EXPECT_GT(edns->answers.size(), classic->answers.size());
  EXPECT_EQ(edns->edns->udpPayload, 1232);  // what we advertise
  // EDNS 4096 is capped at the server's maximum (1232 by default).
  auto big = udpAsk(port_, queryWire("many.prod.svc.cluster.local", RRType::A, 3, 4096), &size);
  ASSERT_TRUE(big);
  EXPECT_LE(size, 1232u);
  EXPECT_TRUE(big->header.tc);
  // EDNS below 512 counts as 512 (RFC 6891 §6.2.5).
  auto tiny = udpAsk(port_, queryWire("many.prod.svc.cluster.local", RRType::A, 4, 100), &size);
  ASSERT_TRUE(tiny);
  EXPECT_LE(size, 512u);
  EXPECT_GT(size, 400u);
  // TCP: everything.
  TcpClient c(port_);
  c.send(queryWire("many.prod.svc.cluster.local", RRType::A, 5));
  auto full = c.read();
  ASSERT_TRUE(full);
  Message m = parsed(*full);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answers.size(), 100u);
  EXPECT_GE(server_->stats().truncated, 4u);
}

TEST_F(ServerTest, LargerServerPayloadIsHonoured) {
  ServerConfig c = config();
  c.maxUdpPayload = 4096;
  start(c);
  size_t size = 0;
  auto r = udpAsk(port_, queryWire("many.prod.svc.cluster.local", RRType::A, 3, 4096), &size);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header.tc);
  EXPECT_EQ(r->answers.size(), 100u);
  EXPECT_GT(size, 1232u);
}

TEST_F(ServerTest, MalformedQueriesGetFormErrOrNotImpAndHeaderlessOnesNothing) {
  start();
  // A readable header claiming one question, then garbage.
  std::vector<uint8_t> garbage{0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff};
  auto r = udpAsk(port_, garbage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.id, 0x4242);
  EXPECT_EQ(r->rcode(), Rcode::FormErr);
  // Over TCP too, and the connection stays usable.
  TcpClient c(port_);
  c.send(garbage);
  auto t = c.read();
  ASSERT_TRUE(t);
  EXPECT_EQ(parsed(*t).rcode(), Rcode::FormErr);
  c.send(queryWire("web.default.svc.cluster.local", RRType::A, 7));
  auto ok = c.read();
  ASSERT_TRUE(ok);
  EXPECT_EQ(parsed(*ok).rcode(), Rcode::NoError);
  // Opcode NOTIFY: NOTIMP.
  Message notify = queryMessage("web.default.svc.cluster.local", RRType::SOA, 9);
  notify.header.opcode = Opcode::Notify;
  auto n = udpAsk(port_, wire(notify));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->rcode(), Rcode::NotImp);
  // Too short for a header, and a response (QR set): silence.
  EXPECT_FALSE(udpAsk(port_, {1, 2, 3, 4, 5}, nullptr, 300ms));
  Message resp = queryMessage("web.default.svc.cluster.local", RRType::A, 10);
  resp.header.qr = true;
  EXPECT_FALSE(udpAsk(port_, wire(resp), nullptr, 300ms));
  // The server still answers afterwards.
  EXPECT_TRUE(udpAsk(port_, queryWire("web.default.svc.cluster.local", RRType::A)));
  ServerStats st = server_->stats();
  EXPECT_EQ(st.errors, 3u);
  EXPECT_EQ(st.dropped, 2u);
}

TEST_F(ServerTest, EndpointChangeIsServedWithin100ms) {
  start();
  auto before = udpAsk(port_, queryWire("db.prod.svc.cluster.local", RRType::A));
  ASSERT_TRUE(before);
  ASSERT_EQ(addresses(*before).size(), 2u);
  auto slice = kube::decodeEndpointSliceText(dbSliceJson({"10.1.0.1", "10.1.0.2", "10.1.0.3"}));
  ASSERT_TRUE(slice.ok()) << slice.error().message();
  auto t0 = Clock::now();
  cache_.apply(kube::Event::modified(*slice));
  bool seen = false;
  while (Clock::now() - t0 < 1s) {
    auto r = udpAsk(port_, queryWire("db.prod.svc.cluster.local", RRType::A));
    if (r && addresses(*r).size() == 3) {
      seen = true;
      break;
    }
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  ASSERT_TRUE(seen);
  EXPECT_LT(elapsed.count(), 100) << "change answered after " << elapsed.count() << " ms";
  UpdaterStats us = updater_->stats();
  EXPECT_EQ(us.builds, 2u);
  EXPECT_LT(us.lastChangeToServe, 100ms);

  // Scale to zero: a headless service without ready endpoints is NXDOMAIN.
  auto empty = kube::decodeEndpointSliceText(dbSliceJson({}));
  ASSERT_TRUE(empty.ok());
  cache_.apply(kube::Event::modified(*empty));
  t0 = Clock::now();
  bool gone = false;
  while (!gone && Clock::now() - t0 < 1s) {
    auto r = udpAsk(port_, queryWire("db.prod.svc.cluster.local", RRType::A));
    gone = r && r->rcode() == Rcode::NXDomain;
  }
  EXPECT_TRUE(gone);
}

TEST_F(ServerTest, RepeatedUdpQueriesComeFromTheAnswerCacheUntilTheRecordsChange) {
  start();
  auto first = udpAsk(port_, queryWire("db.prod.svc.cluster.local", RRType::A, 0x0101));
  ASSERT_TRUE(first);
  EXPECT_EQ(server_->stats().answerCacheHits, 0u);
  auto second = udpAsk(port_, queryWire("db.prod.svc.cluster.local", RRType::A, 0x0202));
  ASSERT_TRUE(second);
  EXPECT_EQ(server_->stats().answerCacheHits, 1u);
  EXPECT_EQ(second->header.id, 0x0202);
  EXPECT_EQ(addresses(*second), addresses(*first));
  // Another spelling is another entry, answered with its own case.
  auto upper = udpAsk(port_, queryWire("DB.prod.svc.cluster.local", RRType::A));
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->questions[0].name.toText(), "DB.prod.svc.cluster.local.");
  EXPECT_EQ(server_->stats().answerCacheHits, 1u);
  // TCP never uses it.
  TcpClient tc(port_);
  ASSERT_TRUE(tc.connected());
  tc.sendRaw(frameForTcp(queryWire("db.prod.svc.cluster.local", RRType::A, 0x0303)));
  auto tcp = tc.read();
  ASSERT_TRUE(tcp);
  EXPECT_EQ(addresses(parsed(*tcp)), addresses(*first));
  EXPECT_EQ(server_->stats().answerCacheHits, 1u);

  // A new index empties it: the very query that was cached gets the new addresses.
  auto slice = kube::decodeEndpointSliceText(dbSliceJson({"10.1.0.7"}));
  ASSERT_TRUE(slice.ok()) << slice.error().message();
  cache_.apply(kube::Event::modified(*slice));
  auto t0 = Clock::now();
  std::vector<std::string> now;
  while (Clock::now() - t0 < 1s) {
    auto r = udpAsk(port_, queryWire("db.prod.svc.cluster.local", RRType::A, 0x0404));
    if (r) now = addresses(*r);
    if (now == std::vector<std::string>{"10.1.0.7"}) break;
  }
  EXPECT_EQ(now, std::vector<std::string>{"10.1.0.7"});
}

TEST_F(ServerTest, AnswerCacheCanBeTurnedOff) {
  ServerConfig c = config();
  c.answerCacheBytes = 0;
  start(c);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(udpAsk(port_, queryWire("web.default.svc.cluster.local", RRType::A)));
  EXPECT_EQ(server_->stats().answerCacheHits, 0u);
  EXPECT_EQ(server_->stats().udpQueries, 3u);
}

TEST_F(ServerTest, BurstOfChangesIsOneRebuild) {
  uint64_t before = updater_->stats().builds;
  for (int i = 3; i < 13; ++i) {
    std::vector<std::string> ips;
    for (int j = 1; j <= i; ++j) ips.push_back(strCat("10.1.0.", j));
    cache_.apply(kube::Event::modified(*kube::decodeEndpointSliceText(dbSliceJson(ips))));
  }
  start();
  // Wait (bounded: a loaded machine may delay the rebuild thread) until the last state is served.
  size_t seen = 0;
  for (auto t0 = Clock::now(); seen != 12 && Clock::now() - t0 < 2s;) {
    auto r = udpAsk(port_, queryWire("db.prod.svc.cluster.local", RRType::A));
    seen = r ? addresses(*r).size() : 0;
  }
  EXPECT_EQ(seen, 12u);
  uint64_t builds = updater_->stats().builds - before;
  EXPECT_GE(builds, 1u);
  EXPECT_LE(builds, 3u);  // debounced: not one per change
}

TEST_F(ServerTest, NamesOutsideTheZoneAreRefusedWithoutUpstream) {
  start();
  auto r = udpAsk(port_, queryWire("example.com", RRType::A, 0x77));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.id, 0x77);
  EXPECT_EQ(r->rcode(), Rcode::Refused);
  ASSERT_EQ(r->questions.size(), 1u);
  EXPECT_EQ(server_->stats().refused, 1u);
}

TEST_F(ServerTest, ForwardsUpstreamAndServesTheSecondQueryFromCache) {
  FakeUpstream up([](const Message& q, bool) -> std::optional<Message> {
    return answerTo(q, {makeA(q.questions[0].name, 60, ip("93.184.216.34"))});
  });
  start(config(), upstreamTo(up));
  auto r = udpAsk(port_, queryWire("example.com", RRType::A, 0x1111));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.id, 0x1111);
  EXPECT_EQ(r->rcode(), Rcode::NoError);
  EXPECT_TRUE(r->header.ra);  // the upstream's flags pass through
  EXPECT_EQ(addresses(*r), std::vector<std::string>{"93.184.216.34"});
  EXPECT_EQ(up.udpQueries(), 1);

  auto again = udpAsk(port_, queryWire("EXAMPLE.com", RRType::A, 0x2222));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->header.id, 0x2222);
  EXPECT_EQ(again->questions[0].name.toText(), "EXAMPLE.com.");
  EXPECT_EQ(addresses(*again), std::vector<std::string>{"93.184.216.34"});
  EXPECT_LE(again->answers[0].ttl, 60u);
  EXPECT_EQ(up.udpQueries(), 1);  // not forwarded again
  EXPECT_EQ(server_->stats().forwarded, 1u);
}

TEST_F(ServerTest, CachedAnswerExpiresWithItsTtl) {
  FakeUpstream up([](const Message& q, bool) -> std::optional<Message> {
    return answerTo(q, {makeA(q.questions[0].name, 1, ip("1.2.3.4"))});
  });
  start(config(), upstreamTo(up));
  ASSERT_TRUE(udpAsk(port_, queryWire("short.example", RRType::A)));
  ASSERT_TRUE(udpAsk(port_, queryWire("short.example", RRType::A)));
  EXPECT_EQ(up.udpQueries(), 1);
  std::this_thread::sleep_for(1100ms);
  ASSERT_TRUE(udpAsk(port_, queryWire("short.example", RRType::A)));
  EXPECT_EQ(up.udpQueries(), 2);
}

TEST_F(ServerTest, UpstreamRcodesPassThrough) {
  FakeUpstream up([](const Message& q, bool) -> std::optional<Message> {
    if (q.questions[0].name.toText() == "refused.example.") return answerTo(q, {}, Rcode::Refused);
    return answerTo(q, {}, Rcode::NXDomain, {soaRecord("example", 60, 30)});
  });
  start(config(), upstreamTo(up));
  auto nx = udpAsk(port_, queryWire("nope.example", RRType::A));
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->rcode(), Rcode::NXDomain);
  auto refused = udpAsk(port_, queryWire("refused.example", RRType::A));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->rcode(), Rcode::Refused);
  EXPECT_EQ(up.udpQueries(), 2);  // c-ares did not retry the REFUSED elsewhere
}

TEST_F(ServerTest, UpstreamTimeoutIsServFail) {
  FakeUpstream up([](const Message&, bool) -> std::optional<Message> { return std::nullopt; });
  start(config(), upstreamTo(up, 150ms));
  auto t0 = Clock::now();
  auto r = udpAsk(port_, queryWire("slow.example", RRType::A, 0x5151), nullptr, 3000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.id, 0x5151);
  EXPECT_EQ(r->rcode(), Rcode::ServFail);
  EXPECT_LT(Clock::now() - t0, 2s);
  // Over TCP too.
  TcpClient c(port_);
  c.send(queryWire("slow.example", RRType::AAAA, 0x5252));
  auto t = c.read(3000ms);
  ASSERT_TRUE(t);
  EXPECT_EQ(parsed(*t).rcode(), Rcode::ServFail);
  EXPECT_EQ(parsed(*t).header.id, 0x5252);
}

TEST_F(ServerTest, TcpClientsAreForwardedOverTcp) {
  FakeUpstream up([](const Message& q, bool tcp) -> std::optional<Message> {
    return answerTo(q, {makeA(q.questions[0].name, 60, ip(tcp ? "2.2.2.2" : "1.1.1.1"))});
  });
  start(config(), upstreamTo(up));
  TcpClient c(port_);
  c.send(queryWire("tcp.example", RRType::A, 0x3333));
  auto t = c.read();
  ASSERT_TRUE(t);
  Message m = parsed(*t);
  EXPECT_EQ(m.header.id, 0x3333);
  EXPECT_EQ(addresses(m), std::vector<std::string>{"2.2.2.2"});
  EXPECT_EQ(up.tcpQueries(), 1);
  EXPECT_EQ(up.udpQueries(), 0);
}

TEST_F(ServerTest, UpstreamAnswerTooLargeForTheClientIsATruncatedStub) {
  FakeUpstream up([](const Message& q, bool) -> std::optional<Message> {
    std::vector<ResourceRecord> rrs;
    for (int i = 1; i <= 60; ++i) rrs.push_back(makeA(q.questions[0].name, 60, ip(strCat("10.9.0.", i).c_str())));
    return answerTo(q, rrs);
  });
  start(config(), upstreamTo(up));
  size_t size = 0;
  auto r = udpAsk(port_, queryWire("big.example", RRType::A, 0x4444), &size);  // no EDNS: 512
  ASSERT_TRUE(r);
  EXPECT_LE(size, 512u);
  EXPECT_TRUE(r->header.tc);
  EXPECT_TRUE(r->header.ra);
  EXPECT_EQ(r->header.id, 0x4444);
  EXPECT_TRUE(r->answers.empty());
  // The same name from the cache for a client with room gets it all.
  auto full = udpAsk(port_, queryWire("big.example", RRType::A, 0x4445, 1232));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->answers.size(), 60u);
}

TEST_F(ServerTest, IdleTcpConnectionsAreClosed) {
  ServerConfig c = config();
  c.tcpIdleTimeout = 150ms;
  start(c);
  TcpClient t(port_);
  t.send(queryWire("web.default.svc.cluster.local", RRType::A));
  ASSERT_TRUE(t.read());
  auto t0 = Clock::now();
  EXPECT_TRUE(t.closedWithin(2s));
  EXPECT_GE(Clock::now() - t0, 100ms);
}

TEST_F(ServerTest, TcpConnectionsBeyondTheLimitAreClosed) {
  ServerConfig c = config();
  c.maxTcpConnections = 2;
  start(c);
  TcpClient a(port_), b(port_);
  a.send(queryWire("web.default.svc.cluster.local", RRType::A, 1));
  b.send(queryWire("web.default.svc.cluster.local", RRType::A, 2));
  ASSERT_TRUE(a.read());
  ASSERT_TRUE(b.read());
  TcpClient extra(port_);
  EXPECT_TRUE(extra.closedWithin(2s));
  EXPECT_EQ(server_->stats().tcpRejected, 1u);
  // The first two still work.
  a.send(queryWire("web.default.svc.cluster.local", RRType::A, 3));
  EXPECT_TRUE(a.read());
}

TEST_F(ServerTest, SeveralWorkersShareThePortAndAnswerEverything) {
  start(config(3));
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int i = 0; i < 24; ++i) clients.push_back(std::make_unique<UdpClient>());
  int answered = 0;
  for (int round = 0; round < 10; ++round) {
    for (auto& c : clients) c->send(port_, queryWire("web.default.svc.cluster.local", RRType::A));
    for (auto& c : clients)
      if (auto r = c->recv()) answered += parsed(*r).answers.size() == 1;
  }
  EXPECT_EQ(answered, 240);
  EXPECT_EQ(server_->stats().udpQueries, 240u);
}

TEST_F(ServerTest, OneThreadKeepsItsPortToItself) {
  // No SO_REUSEPORT with a single socket per address: a second server cannot bind the port and take part of
  // the queries; it fails naming the address.
  start();
  for (unsigned threads : {1u, 2u}) {
    ServerConfig c = config(threads);
    c.listen = {{ip("127.0.0.1"), port_}};
    auto s = Server::start(c, holder_, nullptr);
    ASSERT_FALSE(s.ok()) << threads;
    EXPECT_EQ(s.error().sysErrno(), EADDRINUSE) << s.error().message();
    EXPECT_NE(s.error().message().find("127.0.0.1:" + std::to_string(port_)), std::string::npos)
        << s.error().message();
  }
  auto r = udpAsk(port_, queryWire("web.default.svc.cluster.local", RRType::A));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->answers.size(), 1u);
}

TEST_F(ServerTest, Ipv6Listener) {
  ServerConfig c;
  c.listen = {*parseListenAddress("[::1]:0")};
  auto s = Server::start(c, holder_, nullptr);
  if (!s.ok() && s.error().sysErrno() == EADDRNOTAVAIL) GTEST_SKIP() << "no ::1 here";
  ASSERT_TRUE(s.ok()) << s.error().message();
  uint16_t port = (*s)->listening()[0].port;
  UdpClient u(true);
  u.send(port, queryWire("web.default.svc.cluster.local", RRType::A));
  auto r = u.recv();
  ASSERT_TRUE(r);
  EXPECT_EQ(addresses(parsed(*r)), std::vector<std::string>{"10.96.0.10"});
  TcpClient t(port, true);
  t.send(queryWire("web.default.svc.cluster.local", RRType::A));
  EXPECT_TRUE(t.read());
}

TEST_F(ServerTest, WildcardListenerRepliesFromTheQueriedAddress) {
  // 0.0.0.0 uses IP_PKTINFO: the answer to a query sent to 127.0.0.2 must come from 127.0.0.2.
  ServerConfig c;
  c.listen = {*parseListenAddress("0.0.0.0:0")};
  start(c);
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port_);
  to.sin_addr.s_addr = htonl(0x7f000002);
  auto q = queryWire("web.default.svc.cluster.local", RRType::A);
  ASSERT_EQ(::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(q.size()));
  ASSERT_TRUE(waitReadable(fd, 2s));
  uint8_t buf[1500];
  sockaddr_in from{};
  socklen_t flen = sizeof from;
  ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(ntohl(from.sin_addr.s_addr), 0x7f000002u);
  EXPECT_EQ(ntohs(from.sin_port), port_);
}

TEST_F(ServerTest, BindErrorsNameTheAddress) {
  start();
  ServerConfig c;
  // An address of no interface here cannot be bound.
  c.listen = {*parseListenAddress("192.0.2.1:53")};
  auto s = Server::start(c, holder_, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("192.0.2.1:53"), std::string::npos) << s.error().message();
  EXPECT_EQ(s.error().sysErrno(), EADDRNOTAVAIL);
}

}  // namespace
}  // namespace nodenet::dns::server
