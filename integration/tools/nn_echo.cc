// nn-echo: the traffic tool of the proxy integration tests and the data-plane benchmark. One binary, several
// modes, no dependencies, so it starts in ~1 ms inside any namespace:
//
//   nn-echo serve --name NAME [--tcp PORT]... [--udp PORT]... [--sctp PORT]...
//       TCP: a request starting with "GET " or "HEAD " gets an HTTP/1.0 answer whose body is one line
//       "NAME peer=IP:PORT local=IP:PORT" (the peer is what the backend sees: masquerade checks read it), then
//       the connection is closed. Anything else is line mode: every '\n'-terminated line gets "NAME\n" back
//       (a long-lived session for the "established connections survive" checks).
//       UDP: every datagram gets "NAME peer=IP:PORT" back. SCTP (one-to-one sockets): as TCP. Single-threaded
//       epoll; runs until killed.
//   nn-echo udp --to IP:PORT [--count N] [--timeout-ms T] [--interval-ms I] [--bind-port P]
//       Sends N datagrams from one socket (one conntrack flow), prints each answer ("-" when none came within T),
//       exits 0 only when every datagram was answered.
//   nn-echo session --to IP:PORT --count N --interval-ms I [--timeout-ms T] [--sctp]
//       One TCP (--sctp: SCTP) connection; N lines, one every I ms; every line must be answered within T. Prints
//       "ok N NAME" and exits 0, or names the failure and exits 1.
//   nn-echo http-loop --to IP:PORT [--count N] [--duration-ms D] [--timeout-ms T] [--stop-file F] [--stats]
//       New connections back to back (connect, GET, read the answer, close) until N are done, D has passed or F
//       exists. Prints JSON: {"ok":..,"failed":..,"backends":{"NAME":count},"errors":{"what":count},
//       "p50_us":..,"p99_us":..,"rate":..}; exit 0 when nothing failed. A connection is closed with a reset after the
//       server's FIN (no TIME_WAIT on either side, so 4-tuples can be reused at once).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "nn-echo: %s\n", msg.c_str());
  std::exit(2);
}

struct Args {
  std::string mode;
  std::string name = "nn-echo";
  std::vector<int> tcpPorts, udpPorts, sctpPorts;
  std::string to;
  int count = 1;
  int timeoutMs = 1000;
  int intervalMs = 0;
  int durationMs = 0;
  int bindPort = 0;
  std::string stopFile;
  bool stats = false;
  bool sctp = false;
};

Args parseArgs(int argc, char** argv) {
  if (argc < 2) die("usage: nn-echo serve|udp|session|http-loop [options] (see the source header)");
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + k);
      return argv[++i];
    };
    auto num = [&]() -> int {
      std::string v = val();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0 || n > 1000000000) die("bad number for " + k + ": " + v);
      return static_cast<int>(n);
    };
    if (k == "--name") a.name = val();
    else if (k == "--tcp") a.tcpPorts.push_back(num());
    else if (k == "--udp") a.udpPorts.push_back(num());
    else if (k == "--sctp" && a.mode == "serve") a.sctpPorts.push_back(num());
    else if (k == "--sctp") a.sctp = true;
    else if (k == "--to") a.to = val();
    else if (k == "--count") a.count = num();
    else if (k == "--timeout-ms") a.timeoutMs = num();
    else if (k == "--interval-ms") a.intervalMs = num();
    else if (k == "--duration-ms") a.durationMs = num();
    else if (k == "--bind-port") a.bindPort = num();
    else if (k == "--stop-file") a.stopFile = val();
    else if (k == "--stats") a.stats = true;
    else die("unknown option " + k);
  }
  return a;
}

sockaddr_in parseAddr(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) die("--to wants IP:PORT, got " + text);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (::inet_pton(AF_INET, text.substr(0, colon).c_str(), &sa.sin_addr) != 1) die("bad IPv4 address in " + text);
  int port = std::atoi(text.c_str() + colon + 1);
  if (port <= 0 || port > 65535) die("bad port in " + text);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  return sa;
}

std::string addrText(const sockaddr_in& sa) {
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(sa.sin_port));
}

std::string localText(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return addrText(sa);
}

// ---------------------------------------------------------------- serve

struct Conn {
  std::string in;
  std::string out;
  std::string peer;
  bool http = false;
  bool decided = false;
  bool closeAfterWrite = false;
};

int serve(const Args& a) {
  if (a.tcpPorts.empty() && a.udpPorts.empty() && a.sctpPorts.empty()) die("serve needs --tcp, --udp or --sctp");
  ::signal(SIGPIPE, SIG_IGN);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::unordered_map<int, int> listeners;  // fd -> 1 stream listener (TCP or SCTP), 2 udp
  std::vector<std::pair<int, int>> streamPorts;  // (port, protocol)
  for (int p : a.tcpPorts) streamPorts.push_back({p, IPPROTO_TCP});
  for (int p : a.sctpPorts) streamPorts.push_back({p, IPPROTO_SCTP});
  for (auto [p, proto] : streamPorts) {
    const char* what = proto == IPPROTO_TCP ? "tcp" : "sctp";
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
    if (fd < 0) die(std::string(what) + " socket: " + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(p));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 4096) != 0)
      die(std::string(what) + " port " + std::to_string(p) + ": " + std::strerror(errno));
    listeners[fd] = 1;
  }
  for (int p : a.udpPorts) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(p));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      die("udp port " + std::to_string(p) + ": " + std::strerror(errno));
    listeners[fd] = 2;
  }
  for (auto& [fd, kind] : listeners) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  // Readiness for the test harness: it waits for this line before sending traffic.
  std::printf("listening\n");
  std::fflush(stdout);

  std::unordered_map<int, Conn> conns;
  auto closeConn = [&](int fd) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns.erase(fd);
  };
  auto flush = [&](int fd, Conn& c) -> bool {  // false when the connection was closed
    while (!c.out.empty()) {
      ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) break;
        closeConn(fd);
        return false;
      }
      c.out.erase(0, static_cast<size_t>(n));
    }
    epoll_event ev{};
    ev.data.fd = fd;
    ev.events = EPOLLIN | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
    ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    if (c.out.empty() && c.closeAfterWrite) {
      closeConn(fd);
      return false;
    }
    return true;
  };

  std::vector<epoll_event> events(256);
  char buf[65536];
  for (;;) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      auto li = listeners.find(fd);
      if (li != listeners.end() && li->second == 1) {
        for (;;) {
          sockaddr_in peer{};
          socklen_t len = sizeof peer;
          int c = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (c < 0) break;
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns[c].peer = addrText(peer);
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      if (li != listeners.end()) {  // UDP
        for (;;) {
          sockaddr_in peer{};
          socklen_t len = sizeof peer;
          ssize_t r = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len);
          if (r < 0) break;
          std::string reply = a.name + " peer=" + addrText(peer);
          ::sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
        }
        continue;
      }
      auto ci = conns.find(fd);
      if (ci == conns.end()) continue;
      Conn& c = ci->second;
      if (events[i].events & EPOLLOUT) {
        if (!flush(fd, c)) continue;
      }
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      bool closed = false;
      for (;;) {
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
          c.in.append(buf, static_cast<size_t>(r));
          continue;
        }
        if (r == 0 || errno != EAGAIN) closed = true;
        break;
      }
      if (!c.decided && c.in.size() >= 4) {
        c.decided = true;
        c.http = c.in.rfind("GET ", 0) == 0 || c.in.rfind("HEAD", 0) == 0;
      }
      if (c.http) {
        if (c.in.find("\r\n\r\n") != std::string::npos && !c.closeAfterWrite) {
          std::string body = a.name + " peer=" + c.peer + " local=" + localText(fd) + "\n";
          c.out = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body;
          c.closeAfterWrite = true;
          c.in.clear();
          flush(fd, c);
          continue;
        }
      } else if (c.decided || closed) {
        size_t pos;
        while ((pos = c.in.find('\n')) != std::string::npos) {
          c.in.erase(0, pos + 1);
          c.out += a.name + "\n";
        }
        if (!flush(fd, c)) continue;
      }
      if (closed) closeConn(fd);
    }
  }
}

// ---------------------------------------------------------------- clients

/// Waits until fd is ready for `events` or the deadline passes; false on timeout.
bool waitFd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

int udpClient(const Args& a) {
  sockaddr_in to = parseAddr(a.to);
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (a.bindPort) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(a.bindPort));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die(std::string("bind: ") + std::strerror(errno));
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) die(std::string("connect: ") + std::strerror(errno));
  int answered = 0;
  char buf[2048];
  for (int i = 0; i < a.count; ++i) {
    if (i > 0 && a.intervalMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.intervalMs));
    std::string msg = "ping " + std::to_string(i);
    ::send(fd, msg.data(), msg.size(), 0);
    auto deadline = Clock::now() + std::chrono::milliseconds(a.timeoutMs);
    std::string got = "-";
    while (waitFd(fd, POLLIN, deadline)) {
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r > 0) {
        got.assign(buf, static_cast<size_t>(r));
        ++answered;
        break;
      }
      if (r < 0 && errno == ECONNREFUSED) {  // ICMP port unreachable from an earlier datagram
        got = "refused";
        break;
      }
    }
    std::printf("%s\n", got.c_str());
    std::fflush(stdout);
  }
  return answered == a.count ? 0 : 1;
}

int session(const Args& a) {
  sockaddr_in to = parseAddr(a.to);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, a.sctp ? IPPROTO_SCTP : IPPROTO_TCP);
  if (fd < 0) {
    std::printf("socket failed: %s\n", std::strerror(errno));
    return 1;
  }
  int one = 1;
  if (!a.sctp) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    std::printf("connect failed: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("connected\n");
  std::fflush(stdout);
  std::string name, pending;
  char buf[4096];
  for (int i = 0; i < a.count; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.intervalMs));
    if (::send(fd, "ping\n", 5, MSG_NOSIGNAL) != 5) {
      std::printf("send %d failed: %s\n", i, std::strerror(errno));
      return 1;
    }
    auto deadline = Clock::now() + std::chrono::milliseconds(a.timeoutMs);
    while (pending.find('\n') == std::string::npos) {
      if (!waitFd(fd, POLLIN, deadline)) {
        std::printf("line %d: no answer within %d ms\n", i, a.timeoutMs);
        return 1;
      }
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r <= 0) {
        std::printf("line %d: connection %s\n", i, r == 0 ? "closed" : std::strerror(errno));
        return 1;
      }
      pending.append(buf, static_cast<size_t>(r));
    }
    auto nl = pending.find('\n');
    std::string got = pending.substr(0, nl);
    pending.erase(0, nl + 1);
    if (name.empty()) name = got;
    if (got != name) {
      std::printf("line %d: answered by %s, first by %s\n", i, got.c_str(), name.c_str());
      return 1;
    }
  }
  std::printf("ok %d %s\n", a.count, name.c_str());
  return 0;
}

/// One HTTP request on a new connection. Returns the backend name (first word of the body), or sets err.
std::string httpOnce(const sockaddr_in& to, int timeoutMs, std::string& err) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    err = std::string("socket: ") + std::strerror(errno);
    return {};
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string result;
  do {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
      err = std::string("connect: ") + std::strerror(errno);
      break;
    }
    if (!waitFd(fd, POLLOUT, deadline)) {
      err = "connect: timeout";
      break;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) {
      err = std::string("connect: ") + std::strerror(soerr);
      break;
    }
    static const char kReq[] = "GET / HTTP/1.0\r\n\r\n";
    if (::send(fd, kReq, sizeof kReq - 1, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof kReq - 1)) {
      err = std::string("send: ") + std::strerror(errno);
      break;
    }
    std::string in;
    char buf[4096];
    bool done = false;
    while (!done) {
      if (!waitFd(fd, POLLIN, deadline)) {
        err = "read: timeout";
        break;
      }
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r > 0) {
        in.append(buf, static_cast<size_t>(r));
      } else if (r == 0) {
        done = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        err = std::string("read: ") + std::strerror(errno);
        break;
      }
    }
    if (!done) break;
    // The server closed first after its answer; answer its FIN with a reset (SO_LINGER 0), which also ends the
    // server's TIME_WAIT (RFC 1337 behaviour of Linux). Otherwise tens of thousands of back-to-back connections
    // from one client reuse 4-tuples still in TIME_WAIT and a SYN now and then waits a retransmit (1 s).
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    auto body = in.find("\r\n\r\n");
    if (in.rfind("HTTP/1.0 200", 0) != 0 || body == std::string::npos) {
      err = "bad answer";
      break;
    }
    std::string rest = in.substr(body + 4);
    result = rest.substr(0, rest.find(' '));
    if (result.empty()) err = "empty body";
  } while (false);
  ::close(fd);
  return result;
}

int httpLoop(const Args& a) {
  sockaddr_in to = parseAddr(a.to);
  std::map<std::string, int> backends, errors;
  std::vector<double> latUs;
  latUs.reserve(static_cast<size_t>(std::max(a.count, 1)));
  int ok = 0, failed = 0;
  auto start = Clock::now();
  auto end = a.durationMs > 0 ? start + std::chrono::milliseconds(a.durationMs) : Clock::time_point::max();
  int maxCount = a.count > 0 ? a.count : 1000000000;
  struct stat st;
  for (int i = 0; i < maxCount && Clock::now() < end; ++i) {
    if (!a.stopFile.empty() && (i % 16) == 0 && ::stat(a.stopFile.c_str(), &st) == 0) break;
    std::string err;
    auto t0 = Clock::now();
    std::string name = httpOnce(to, a.timeoutMs, err);
    auto t1 = Clock::now();
    if (err.empty()) {
      ++ok;
      ++backends[name];
      latUs.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    } else {
      ++failed;
      ++errors[err];
    }
    if (a.intervalMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.intervalMs));
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latUs.begin(), latUs.end());
  auto pct = [&](double p) { return latUs.empty() ? 0.0 : latUs[std::min(latUs.size() - 1, size_t(p * latUs.size()))]; };
  std::string out = "{\"ok\":" + std::to_string(ok) + ",\"failed\":" + std::to_string(failed) + ",\"backends\":{";
  bool first = true;
  for (auto& [k, v] : backends) {
    out += (first ? "\"" : ",\"") + k + "\":" + std::to_string(v);
    first = false;
  }
  out += "},\"errors\":{";
  first = true;
  for (auto& [k, v] : errors) {
    out += (first ? "\"" : ",\"") + k + "\":" + std::to_string(v);
    first = false;
  }
  char tail[160];
  std::snprintf(tail, sizeof tail, "},\"p50_us\":%.1f,\"p99_us\":%.1f,\"rate\":%.1f,\"seconds\":%.3f}", pct(0.5),
                pct(0.99), secs > 0 ? ok / secs : 0.0, secs);
  out += tail;
  std::printf("%s\n", out.c_str());
  return failed == 0 && ok > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parseArgs(argc, argv);
  if (a.mode == "serve") return serve(a);
  if (a.mode == "udp") return udpClient(a);
  if (a.mode == "session") return session(a);
  if (a.mode == "http-loop") return httpLoop(a);
  die("unknown mode " + a.mode);
}
