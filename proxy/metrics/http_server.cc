// HttpServer over Boost.Beast: one io_context, one thread, any number of listeners.
#include "proxy/metrics/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::proxy::metrics {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A probe or scrape request is one short line plus headers; anything bigger is not ours to serve.
constexpr size_t kMaxHeaderBytes = 8 * 1024;
constexpr size_t kMaxBodyBytes = 8 * 1024;
// Idle keep-alive connections and slow clients are dropped after this long (probes open a connection per
// check; Prometheus keeps one alive between scrapes, 15-60 s apart, and reconnects if needed).
constexpr auto kIdleTimeout = std::chrono::seconds(30);
// Pending connections per listener.
constexpr int kBacklog = 128;

asio::ip::address toAsio(const IpAddress& a) {
  if (a.isV4()) {
    asio::ip::address_v4::bytes_type b;
    std::copy(a.data(), a.data() + 4, b.begin());
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b;
  std::copy(a.data(), a.data() + 16, b.begin());
  return asio::ip::address_v6(b);
}

}  // namespace

std::string hostPort(const IpAddress& address, uint16_t port) {
  if (address.isV6()) return strCat("[", address.toString(), "]:", port);
  return strCat(address.toString(), ":", port);
}

class Session;

/// One listening socket and the connections it accepted (so close() can end them).
struct Listener {
  HttpServer::ListenerId id;
  std::string where;
  tcp::acceptor acceptor;
  HttpHandler handler;
  std::set<std::shared_ptr<Session>> sessions;
  bool closed = false;
  Listener(HttpServer::ListenerId i, std::string w, tcp::acceptor a, HttpHandler h)
      : id(i), where(std::move(w)), acceptor(std::move(a)), handler(std::move(h)) {}
};

/// One HTTP/1.1 connection: read a request, answer, repeat while keep-alive. Lives on the io thread only.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket sock, std::shared_ptr<Listener> listener)
      : stream_(std::move(sock)), listener_(std::move(listener)) {}

  void start() { read(); }
  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    if (ec || listener_->closed) return finish();
    const auto& req = parser_->get();
    HttpRequest r{std::string(req.method_string()), std::string(req.target())};
    HttpResponse out;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      out.status = 405;
      out.headers.emplace_back("Allow", "GET, HEAD");
      out.body = "method not allowed\n";
    } else {
      out = listener_->handler(r);
    }
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(out.status),
                                                                    req.version());
    res->set(http::field::content_type, out.contentType);
    for (auto& [k, v] : out.headers) res->set(k, v);
    res->keep_alive(req.keep_alive());
    if (req.method() == http::verb::head) {
      res->content_length(out.body.size());
    } else {
      res->body() = std::move(out.body);
      res->prepare_payload();
    }
    bool keepAlive = res->keep_alive();
    if (req.method() == http::verb::head) {
      // A HEAD answer carries Content-Length but no body: serialize the header alone.
      auto sr = std::make_shared<http::response_serializer<http::string_body>>(*res);
      http::async_write_header(stream_, *sr, [self = shared_from_this(), res, sr, keepAlive](beast::error_code e, size_t) {
        self->onWrite(e, keepAlive);
      });
      return;
    }
    http::async_write(stream_, *res, [self = shared_from_this(), res, keepAlive](beast::error_code e, size_t) {
      self->onWrite(e, keepAlive);
    });
  }

  void onWrite(beast::error_code ec, bool keepAlive) {
    if (ec || !keepAlive || listener_->closed) return finish();
    read();
  }

  void finish() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
    listener_->sessions.erase(shared_from_this());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Listener> listener_;
};

struct HttpServer::Impl {
  std::string name;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::mutex mu;  // guards listeners and nextId from caller threads
  std::map<ListenerId, std::shared_ptr<Listener>> listeners;
  ListenerId nextId = 1;
  bool stopped = false;

  /// Runs fn on the io thread and waits (or runs it inline when already there or the thread is gone).
  void runOnIo(const std::function<void()>& fn) {
    if (std::this_thread::get_id() == thread.get_id() || !thread.joinable()) {
      fn();
      return;
    }
    std::promise<void> done;
    asio::post(io, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  void accept(const std::shared_ptr<Listener>& l) {
    l->acceptor.async_accept([this, l](beast::error_code ec, tcp::socket sock) {
      if (l->closed) return;
      if (ec) {
        // EMFILE and friends: keep the listener alive, try again shortly rather than spin.
        NN_LOG(Warning) << name << ": accept on " << l->where << ": " << ec.message();
        auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
        t->async_wait([this, l, t](beast::error_code) {
          if (!l->closed) accept(l);
        });
        return;
      }
      beast::error_code ignored;
      sock.set_option(tcp::no_delay(true), ignored);
      auto s = std::make_shared<Session>(std::move(sock), l);
      l->sessions.insert(s);
      s->start();
      accept(l);
    });
  }

  static void closeListener(Listener& l) {
    l.closed = true;
    beast::error_code ec;
    l.acceptor.close(ec);
    auto sessions = std::move(l.sessions);
    for (auto& s : sessions) s->close();
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::create(const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  Impl* p = impl.get();
  try {
    impl->thread = std::thread([p] {
      // Handlers are ours and do not throw; a throwing one is a bug, so let it terminate loudly.
      p->io.run();
    });
  } catch (const std::system_error& e) {
    return Error(strCat(name, ": start server thread: ", e.what()), e.code().value());
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<HttpServer::Bound> HttpServer::listen(const IpAddress& address, uint16_t port, HttpHandler handler) {
  std::string where = hostPort(address, port);
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) return Error(strCat(impl_->name, ": listen on ", where, ": server stopped"));
  }
  tcp::endpoint ep(toAsio(address), port);
  tcp::acceptor acc(impl_->io);
  beast::error_code ec;
  auto fail = [&](const char* step) {
    return Error(strCat(impl_->name, ": ", step, " ", where, ": ", ec.message(), " (errno ", ec.value(), ")"),
                 ec.value());
  };
  if (acc.open(ep.protocol(), ec)) return fail("open socket for");
  // A restarted daemon must rebind while old connections sit in TIME_WAIT.
  if (acc.set_option(asio::socket_base::reuse_address(true), ec)) return fail("SO_REUSEADDR on");
  // "::" must not also claim the IPv4 port: 0.0.0.0 is bound separately when wanted.
  if (address.isV6() && acc.set_option(asio::ip::v6_only(true), ec)) return fail("IPV6_V6ONLY on");
  if (acc.bind(ep, ec)) return fail("bind");
  if (acc.listen(kBacklog, ec)) return fail("listen on");
  uint16_t bound = acc.local_endpoint(ec).port();
  if (ec) return fail("read bound port of");

  std::shared_ptr<Listener> l;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    ListenerId id = impl_->nextId++;
    l = std::make_shared<Listener>(id, hostPort(address, bound), std::move(acc), std::move(handler));
    impl_->listeners[id] = l;
  }
  impl_->runOnIo([&] { impl_->accept(l); });
  NN_VLOG(3) << impl_->name << ": listening on " << l->where;
  return Bound{l->id, bound};
}

void HttpServer::close(ListenerId id) {
  std::shared_ptr<Listener> l;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->listeners.find(id);
    if (it == impl_->listeners.end()) return;
    l = it->second;
    impl_->listeners.erase(it);
  }
  impl_->runOnIo([&] { Impl::closeListener(*l); });
  NN_VLOG(3) << impl_->name << ": closed " << l->where;
}

void HttpServer::stop() {
  std::map<ListenerId, std::shared_ptr<Listener>> all;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    all = std::move(impl_->listeners);
  }
  impl_->runOnIo([&] {
    for (auto& [id, l] : all) Impl::closeListener(*l);
  });
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace nodenet::proxy::metrics
