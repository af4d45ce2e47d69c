// The fake API server's I/O: one coroutine per connection on a private io_context and thread. Shared state
// sits behind one mutex; a watch coroutine waits on a timer that every change to its outbox cancels (and
// otherwise wakes every few milliseconds to notice a client that went away).
#include "integration/fakeapi/fake_api_server.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::fakeapi {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto kTok = net::as_tuple(net::use_awaitable);
// How often an open watch looks at its outbox and at its client.
constexpr auto kWatchPoll = std::chrono::milliseconds(5);

struct ResourceInfo {
  Resource r;
  const char* path;
  const char* kind;
  const char* listKind;
  const char* apiVersion;
  bool namespaced;
};
constexpr ResourceInfo kResources[] = {
    {Resource::Nodes, "/api/v1/nodes", "Node", "NodeList", "v1", false},
    {Resource::Services, "/api/v1/services", "Service", "ServiceList", "v1", true},
    {Resource::EndpointSlices, "/apis/discovery.k8s.io/v1/endpointslices", "EndpointSlice", "EndpointSliceList",
     "discovery.k8s.io/v1", true},
};
const ResourceInfo& info(Resource r) { return kResources[static_cast<int>(r)]; }

std::string statusJson(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
              {"status", "Failure"}, {"message", message}, {"reason", reason},
              {"code", code}}
      .dump();
}

std::string eventLine(const char* type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

std::string urlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// One requirement of a labelSelector: "key", "!key", "key=value" / "key==value", "key!=value".
struct LabelRequirement {
  enum Op { Exists, NotExists, Equals, NotEquals } op;
  std::string key, value;
};
using LabelSelector = std::vector<LabelRequirement>;

// The set-based forms ("in", "notin") are not supported: an error.
Result<LabelSelector> parseLabelSelector(std::string_view text) {
  LabelSelector sel;
  if (text.empty()) return sel;
  for (auto part : split(text, ',')) {
    std::string p(trim(part));
    if (p.empty() || p.find_first_of("() ") != std::string::npos)
      return Error(strCat("unsupported label selector \"", text, "\""));
    LabelRequirement req;
    if (p[0] == '!') {
      req = {LabelRequirement::NotExists, p.substr(1), ""};
    } else if (auto ne = p.find("!="); ne != std::string::npos) {
      req = {LabelRequirement::NotEquals, p.substr(0, ne), p.substr(ne + 2)};
    } else if (auto eq = p.find('='); eq != std::string::npos) {
      size_t v = eq + 1 < p.size() && p[eq + 1] == '=' ? eq + 2 : eq + 1;
      req = {LabelRequirement::Equals, p.substr(0, eq), p.substr(v)};
    } else {
      req = {LabelRequirement::Exists, p, ""};
    }
    if (req.key.empty()) return Error(strCat("invalid label selector \"", text, "\""));
    sel.push_back(std::move(req));
  }
  return sel;
}

bool labelsMatch(const LabelSelector& sel, const json& obj) {
  if (sel.empty()) return true;
  const json* labels = nullptr;
  if (auto m = obj.find("metadata"); m != obj.end())
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = &*l;
  for (const auto& req : sel) {
    std::optional<std::string> v;
    if (labels)
      if (auto it = labels->find(req.key); it != labels->end() && it->is_string()) v = it->get<std::string>();
    switch (req.op) {
      case LabelRequirement::Exists:
        if (!v) return false;
        break;
      case LabelRequirement::NotExists:
        if (v) return false;
        break;
      case LabelRequirement::Equals:
        if (v != req.value) return false;
        break;
      case LabelRequirement::NotEquals:
        if (v == req.value) return false;  // an absent label satisfies !=, as in Kubernetes
        break;
    }
  }
  return true;
}

struct WatchState {
  Resource r;
  bool bookmarks = false;
  std::string nameFilter;  // fieldSelector=metadata.name=X
  LabelSelector labels;    // labelSelector
  int64_t from = 0;        // the resourceVersion the watch started from (for the 410 message)
  std::deque<std::string> outbox;
  bool gone = false;        // end cleanly after the outbox
  bool disconnect = false;  // close abruptly
  net::steady_timer* timer = nullptr;  // the watch's poll timer; touched on the I/O thread only
};

struct Snapshot {
  int64_t rv;
  std::vector<json> remaining;
};

}  // namespace

const char* resourcePath(Resource r) { return info(r).path; }

namespace {

/// A TCP socket created inside the network namespace at path, on a throwaway thread (the thread that setns()-es
/// exits right after, so no thread of the test process is left in another namespace).
Result<int> socketInNetns(const std::string& path) {
  int nsFd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsFd < 0) return Error(strCat("fake API server: open netns ", path, ": ", std::strerror(errno)));
  int sock = -1;
  std::string err;
  std::thread([&] {
    if (::setns(nsFd, CLONE_NEWNET) != 0) {
      err = strCat("fake API server: setns ", path, ": ", std::strerror(errno));
      return;
    }
    sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) err = strCat("fake API server: socket in ", path, ": ", std::strerror(errno));
  }).join();
  ::close(nsFd);
  if (!err.empty()) return Error(err);
  return sock;
}

}  // namespace

class FakeApiServer::Impl {
 public:
  explicit Impl(Options o) : opts_(std::move(o)), requiredToken_(opts_.requiredToken) {
    rv_ = opts_.initialResourceVersion;
  }

  ~Impl() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  Status start() {
    if (opts_.tls) {
      if (opts_.cert.certPem.empty()) {
        NN_ASSIGN_OR_RETURN(opts_.cert, generateSelfSigned("nodenet-fakeapi", {"127.0.0.1", "localhost"}));
      }
      sslCtx_.emplace(ssl::context::tls_server);
      boost::system::error_code ec;
      sslCtx_->use_certificate_chain(net::buffer(opts_.cert.certPem), ec);
      if (!ec) sslCtx_->use_private_key(net::buffer(opts_.cert.keyPem), ssl::context::pem, ec);
      if (!ec && !opts_.clientCaPem.empty()) {
        sslCtx_->add_certificate_authority(net::buffer(opts_.clientCaPem), ec);
        if (!ec) sslCtx_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
      }
      if (ec) return Error("fake API server TLS setup: " + ec.message());
    }
    boost::system::error_code ec;
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), opts_.port);
    if (opts_.netnsPath.empty()) {
      acceptor_.open(ep.protocol(), ec);
    } else {
      NN_ASSIGN_OR_RETURN(int fd, socketInNetns(opts_.netnsPath));
      acceptor_.assign(ep.protocol(), fd, ec);
      if (ec) ::close(fd);
    }
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Error("fake API server listen: " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(ioc_, acceptLoop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
    return okStatus();
  }

  // ---- control ----
  std::string upsert(Resource r, json obj) {
    std::lock_guard lock(mu_);
    auto& meta = obj["metadata"];
    std::string ns = info(r).namespaced ? meta.value("namespace", "default") : "";
    if (info(r).namespaced) meta["namespace"] = ns;
    std::string key = ns + "/" + meta.value("name", "");
    auto& store = objects_[static_cast<int>(r)];
    bool existed = store.count(key) > 0;
    if (!meta.contains("uid"))
      meta["uid"] = existed ? store[key]["metadata"].value("uid", "") : strCat("uid-", rv_ + 1);
    meta["resourceVersion"] = std::to_string(++rv_);
    json previous = existed ? std::move(store[key]) : json(nullptr);
    store[key] = obj;
    record(r, existed ? "MODIFIED" : "ADDED", obj, std::move(previous));
    return std::to_string(rv_);
  }

  std::string remove(Resource r, const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu_);
    auto& store = objects_[static_cast<int>(r)];
    auto it = store.find((info(r).namespaced ? ns : "") + "/" + name);
    if (it == store.end()) return "";
    json obj = std::move(it->second);
    store.erase(it);
    obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
    record(r, "DELETED", obj);
    return std::to_string(rv_);
  }

  std::string resourceVersion() const {
    std::lock_guard lock(mu_);
    return std::to_string(rv_);
  }
  void compact() {
    std::lock_guard lock(mu_);
    compactedRv_ = rv_;
    log_.clear();
    snapshots_.clear();
  }
  void sendBookmark() {
    std::lock_guard lock(mu_);
    for (auto& w : watches_)
      if (w->bookmarks) {
        w->outbox.push_back(bookmarkLine(w->r));
        wake(w);
      }
  }
  void injectGone() {
    std::lock_guard lock(mu_);
    for (auto& w : watches_) {
      w->outbox.push_back(goneLine(w->from));
      w->gone = true;
      wake(w);
    }
  }
  void injectDisconnect() {
    std::lock_guard lock(mu_);
    for (auto& w : watches_) {
      w->disconnect = true;
      wake(w);
    }
  }
  void injectLine(const std::string& line) {
    std::lock_guard lock(mu_);
    for (auto& w : watches_) {
      w->outbox.push_back(line + "\n");
      wake(w);
    }
  }
  void setResponseDelay(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    delay_ = d;
  }
  void setRequiredToken(const std::string& t) {
    std::lock_guard lock(mu_);
    requiredToken_ = t;
  }
  bool waitForWatches(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return watches_.size() >= n; });
  }
  size_t activeWatches() const {
    std::lock_guard lock(mu_);
    return watches_.size();
  }
  size_t connections() const { return connections_; }
  size_t requests() const {
    std::lock_guard lock(mu_);
    return targets_.size();
  }
  std::vector<std::string> targets() const {
    std::lock_guard lock(mu_);
    return targets_;
  }
  uint16_t port() const { return port_; }
  bool tls() const { return opts_.tls; }
  const std::string& caPem() const { return opts_.cert.certPem; }

 private:
  struct Event {
    int64_t rv;
    Resource r;
    std::string type;
    json object;
    json previous;  // MODIFIED: the object before the change (label selectors need both)
  };

  // mu_ held.
  json withKind(Resource r, json obj) const {
    obj["kind"] = info(r).kind;
    obj["apiVersion"] = info(r).apiVersion;
    return obj;
  }
  bool matches(const WatchState& w, Resource r, const json& obj) const {
    return w.r == r && (w.nameFilter.empty() || obj["metadata"].value("name", "") == w.nameFilter) &&
           labelsMatch(w.labels, obj);
  }
  // The line event `e` sends to watch `w`, as the API server's watch cache filters: a MODIFIED that moves the
  // object into the selector is ADDED, out of it DELETED (the previous object at the event's version).
  std::optional<std::string> lineFor(const WatchState& w, const Event& e) const {
    if (e.type != "MODIFIED") {
      if (!matches(w, e.r, e.object)) return std::nullopt;
      return eventLine(e.type.c_str(), withKind(e.r, e.object));
    }
    bool now = matches(w, e.r, e.object), before = matches(w, e.r, e.previous);
    if (now) return eventLine(before ? "MODIFIED" : "ADDED", withKind(e.r, e.object));
    if (!before) return std::nullopt;
    json prev = e.previous;
    prev["metadata"]["resourceVersion"] = std::to_string(e.rv);
    return eventLine("DELETED", withKind(e.r, std::move(prev)));
  }
  void record(Resource r, const char* type, const json& obj, json previous = nullptr) {
    log_.push_back({rv_, r, type, obj, std::move(previous)});
    const Event& e = log_.back();
    for (auto& w : watches_)
      if (auto line = lineFor(*w, e)) {
        w->outbox.push_back(std::move(*line));
        wake(w);
      }
  }
  // Ends the watch's poll wait now (its coroutine checks the outbox under mu_ before every wait, and the
  // posted cancel runs on the I/O thread only once the coroutine is suspended, so no wake-up is lost).
  void wake(const std::shared_ptr<WatchState>& w) {
    net::post(ioc_, [w] {
      if (w->timer) w->timer->cancel();
    });
  }
  std::string bookmarkLine(Resource r) const {
    json obj = {{"kind", info(r).kind},
                {"apiVersion", info(r).apiVersion},
                {"metadata", {{"resourceVersion", std::to_string(rv_)}, {"creationTimestamp", nullptr}}}};
    return eventLine("BOOKMARK", obj);
  }
  // The API server's wording: "too old resource version: <requested> (<oldest available>)".
  std::string goneLine(int64_t requested) const {
    std::string msg = strCat("too old resource version: ", requested, " (", std::max(compactedRv_, rv_), ")");
    return eventLine("ERROR", json::parse(statusJson(410, "Expired", msg)));
  }

  net::awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(kTok);
      if (ec) co_return;
      ++connections_;
      boost::system::error_code nodelayEc;
      sock.set_option(tcp::no_delay(true), nodelayEc);  // as Go's net/http: no Nagle delay on small watch chunks
      if (sslCtx_) {
        auto stream = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(std::move(sock), *sslCtx_);
        net::co_spawn(ioc_, tlsSession(stream), net::detached);
      } else {
        auto stream = std::make_shared<beast::tcp_stream>(std::move(sock));
        net::co_spawn(ioc_, session(stream), net::detached);
      }
    }
  }

  net::awaitable<void> tlsSession(std::shared_ptr<beast::ssl_stream<beast::tcp_stream>> stream) {
    beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(10));
    auto [ec] = co_await stream->async_handshake(ssl::stream_base::server, kTok);
    if (ec) co_return;  // a client that refused our certificate
    beast::get_lowest_layer(*stream).expires_never();
    co_await session(stream);
  }

  template <typename Stream>
  net::awaitable<bool> writeSimple(Stream& stream, unsigned status, const std::string& body, bool keepAlive) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keepAlive);
    res.body() = body;
    res.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream, res, kTok);
    co_return !ec;
  }

  template <typename Stream>
  net::awaitable<void> session(std::shared_ptr<Stream> streamPtr) {
    Stream& stream = *streamPtr;
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, kTok);
      if (ec) co_return;
      std::string target(req.target());
      std::chrono::milliseconds delay;
      std::string token;
      {
        std::lock_guard lock(mu_);
        targets_.push_back(target);
        delay = delay_;
        token = requiredToken_;
      }
      if (delay.count() > 0) {
        net::steady_timer t(ioc_, delay);
        co_await t.async_wait(kTok);
      }
      if (!token.empty() && req[http::field::authorization] != "Bearer " + token) {
        if (!co_await writeSimple(stream, 401, statusJson(401, "Unauthorized", "Unauthorized"), req.keep_alive()))
          co_return;
        continue;
      }
      auto qpos = target.find('?');
      std::string path = target.substr(0, qpos);
      std::map<std::string, std::string> query;
      if (qpos != std::string::npos) {
        for (const auto& kv : split(std::string_view(target).substr(qpos + 1), '&')) {
          auto eq = kv.find('=');
          query[urlDecode(kv.substr(0, eq))] = eq == std::string::npos ? "" : urlDecode(kv.substr(eq + 1));
        }
      }
      const ResourceInfo* res = nullptr;
      std::string singleName;
      for (const auto& ri : kResources) {
        if (path == ri.path) res = &ri;
        if (!ri.namespaced && startsWith(path, std::string(ri.path) + "/")) {
          res = &ri;
          singleName = path.substr(std::string(ri.path).size() + 1);
        }
      }
      if (!res || req.method() != http::verb::get) {
        if (!co_await writeSimple(stream, 404,
                                  statusJson(404, "NotFound", "the server could not find the requested resource"),
                                  req.keep_alive()))
          co_return;
        continue;
      }
      std::string nameFilter = singleName;
      if (auto fs = query.find("fieldSelector"); fs != query.end() && startsWith(fs->second, "metadata.name="))
        nameFilter = fs->second.substr(14);
      auto selector = parseLabelSelector(query.count("labelSelector") ? query["labelSelector"] : "");
      if (!selector.ok()) {
        if (!co_await writeSimple(stream, 400, statusJson(400, "BadRequest", selector.error().message()),
                                  req.keep_alive()))
          co_return;
        continue;
      }
      bool watch = query.count("watch") && (query["watch"] == "1" || query["watch"] == "true");
      if (watch) {
        bool keep = co_await serveWatch(stream, *res, query, nameFilter, *selector, req.keep_alive());
        if (!keep) co_return;
        continue;
      }
      auto [status, body] = listOrGet(*res, query, nameFilter, *selector, !singleName.empty());
      if (!co_await writeSimple(stream, status, body, req.keep_alive()) || !req.keep_alive()) co_return;
    }
  }

  std::pair<unsigned, std::string> listOrGet(const ResourceInfo& ri, std::map<std::string, std::string>& query,
                                             const std::string& nameFilter, const LabelSelector& selector,
                                             bool single) {
    std::lock_guard lock(mu_);
    auto& store = objects_[static_cast<int>(ri.r)];
    if (single) {
      auto it = store.find("/" + nameFilter);
      if (it == store.end())
        return {404, statusJson(404, "NotFound", strCat(ri.kind, " \"", nameFilter, "\" not found"))};
      return {200, withKind(ri.r, it->second).dump()};
    }
    Snapshot snap;
    if (auto c = query.find("continue"); c != query.end() && !c->second.empty()) {
      auto it = snapshots_.find(c->second);
      if (it == snapshots_.end())
        return {410, statusJson(410, "Expired",
                                "The provided continue parameter is too old to display a consistent "
                                "list result. You can start a new list without the continue parameter.")};
      snap = std::move(it->second);
      snapshots_.erase(it);
    } else {
      snap.rv = rv_;
      for (const auto& [key, obj] : store)
        if ((nameFilter.empty() || obj["metadata"].value("name", "") == nameFilter) && labelsMatch(selector, obj))
          snap.remaining.push_back(obj);
    }
    size_t limit = snap.remaining.size();
    if (auto l = query.find("limit"); l != query.end() && !l->second.empty()) {
      long v = std::atol(l->second.c_str());
      if (v > 0) limit = std::min(limit, static_cast<size_t>(v));
    }
    json items = json::array();
    for (size_t i = 0; i < limit; ++i) items.push_back(std::move(snap.remaining[i]));
    json meta = {{"resourceVersion", std::to_string(snap.rv)}};
    if (limit < snap.remaining.size()) {
      std::string token = strCat("c", ++continueCounter_, "-", snap.rv);
      snap.remaining.erase(snap.remaining.begin(), snap.remaining.begin() + static_cast<long>(limit));
      meta["continue"] = token;
      snapshots_[token] = std::move(snap);
    }
    json list = {{"kind", ri.listKind}, {"apiVersion", ri.apiVersion}, {"metadata", meta}, {"items", items}};
    return {200, list.dump()};
  }

  // Returns whether the connection may serve another request.
  template <typename Stream>
  net::awaitable<bool> serveWatch(Stream& stream, const ResourceInfo& ri, std::map<std::string, std::string>& query,
                                  const std::string& nameFilter, const LabelSelector& selector, bool keepAlive) {
    auto w = std::make_shared<WatchState>();
    w->r = ri.r;
    w->nameFilter = nameFilter;
    w->labels = selector;
    w->bookmarks = query["allowWatchBookmarks"] == "true" || query["allowWatchBookmarks"] == "1";
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (auto t = query.find("timeoutSeconds"); t != query.end() && !t->second.empty())
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::atol(t->second.c_str()));
    {
      std::lock_guard lock(mu_);
      const std::string& rvText = query["resourceVersion"];
      if (rvText.empty() || rvText == "0") {
        for (const auto& [key, obj] : objects_[static_cast<int>(ri.r)])
          if (matches(*w, ri.r, obj)) w->outbox.push_back(eventLine("ADDED", withKind(ri.r, obj)));
      } else {
        int64_t from = std::atoll(rvText.c_str());
        w->from = from;
        if (from < compactedRv_) {
          w->outbox.push_back(goneLine(from));
          w->gone = true;
        } else {
          for (const auto& e : log_)
            if (e.rv > from)
              if (auto line = lineFor(*w, e)) w->outbox.push_back(std::move(*line));
        }
      }
      watches_.push_back(w);
      cv_.notify_all();
    }
    net::steady_timer timer(ioc_);
    w->timer = &timer;
    struct Unregister {
      Impl* self;
      std::shared_ptr<WatchState> w;
      ~Unregister() {
        w->timer = nullptr;
        std::lock_guard lock(self->mu_);
        std::erase(self->watches_, w);
      }
    } unregister{this, w};

    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.chunked(true);
    res.keep_alive(keepAlive);
    http::response_serializer<http::empty_body> sr{res};
    if (auto [ec, n] = co_await http::async_write_header(stream, sr, kTok); ec) co_return false;

    auto& lowest = beast::get_lowest_layer(stream);
    for (;;) {
      std::deque<std::string> out;
      bool gone, disconnect;
      {
        std::lock_guard lock(mu_);
        out.swap(w->outbox);
        gone = w->gone;
        disconnect = w->disconnect;
      }
      if (disconnect) {
        lowest.close();
        co_return false;
      }
      for (const auto& line : out) {
        auto [ec, n] = co_await net::async_write(stream, http::make_chunk(net::buffer(line)), kTok);
        if (ec) co_return false;
      }
      if (gone || (deadline && std::chrono::steady_clock::now() >= *deadline)) {
        auto [ec, n] = co_await net::async_write(stream, http::make_chunk_last(), kTok);
        co_return !ec && keepAlive;
      }
      // The client went away: a peek reads 0 (orderly close) or fails (reset).
      char c;
      ssize_t got = ::recv(lowest.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) co_return false;
      {
        std::lock_guard lock(mu_);
        if (!w->outbox.empty() || w->gone || w->disconnect) continue;
      }
      timer.expires_after(kWatchPoll);
      co_await timer.async_wait(kTok);
    }
  }

  Options opts_;
  std::optional<ssl::context> sslCtx_;  // before ioc_: pending coroutines (destroyed with ioc_) refer to it
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int64_t rv_ = 1000;  // a non-trivial start, so tests never confuse a version with a count
  int64_t compactedRv_ = 0;
  std::map<std::string, json> objects_[3];  // per Resource, keyed "ns/name" (sorted, as the API lists)
  std::vector<Event> log_;
  std::map<std::string, Snapshot> snapshots_;
  uint64_t continueCounter_ = 0;
  std::vector<std::shared_ptr<WatchState>> watches_;
  std::vector<std::string> targets_;
  std::chrono::milliseconds delay_{0};
  std::string requiredToken_;
  std::atomic<size_t> connections_{0};
  uint16_t port_ = 0;
  net::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  std::thread thread_;
};

Result<std::unique_ptr<FakeApiServer>> FakeApiServer::start(Options options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  NN_TRY(impl->start());
  return std::unique_ptr<FakeApiServer>(new FakeApiServer(std::move(impl)));
}

FakeApiServer::FakeApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FakeApiServer::~FakeApiServer() = default;

uint16_t FakeApiServer::port() const { return impl_->port(); }
std::string FakeApiServer::url() const {
  return strCat(impl_->tls() ? "https" : "http", "://127.0.0.1:", impl_->port());
}
const std::string& FakeApiServer::caPem() const { return impl_->caPem(); }
std::string FakeApiServer::upsert(Resource r, nlohmann::json object) { return impl_->upsert(r, std::move(object)); }
std::string FakeApiServer::remove(Resource r, const std::string& ns, const std::string& name) {
  return impl_->remove(r, ns, name);
}
std::string FakeApiServer::resourceVersion() const { return impl_->resourceVersion(); }
void FakeApiServer::compact() { impl_->compact(); }
void FakeApiServer::sendBookmark() { impl_->sendBookmark(); }
void FakeApiServer::injectGone() { impl_->injectGone(); }
void FakeApiServer::injectDisconnect() { impl_->injectDisconnect(); }
void FakeApiServer::injectLine(const std::string& line) { impl_->injectLine(line); }
void FakeApiServer::setResponseDelay(std::chrono::milliseconds delay) { impl_->setResponseDelay(delay); }
void FakeApiServer::setRequiredToken(const std::string& token) { impl_->setRequiredToken(token); }
bool FakeApiServer::waitForWatches(size_t n, std::chrono::milliseconds timeout) const {
  return impl_->waitForWatches(n, timeout);
}
size_t FakeApiServer::activeWatches() const { return impl_->activeWatches(); }
size_t FakeApiServer::connectionCount() const { return impl_->connections(); }
size_t FakeApiServer::requestCount() const { return impl_->requests(); }
std::vector<std::string> FakeApiServer::requestTargets() const { return impl_->targets(); }

}  // namespace nodenet::fakeapi
