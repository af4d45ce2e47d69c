// The only file of the client that includes Boost.Beast (it is slow to compile). The calls are coroutines run
// on a private io_context by the calling thread; stop() posts a socket close into that context.
#include "kube/client/connection.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <limits>
#include <optional>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::kube {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr auto kTok = net::as_tuple(net::use_awaitable);
// Read granularity of response bodies; watch lines are usually far smaller, list pages far larger.
constexpr size_t kReadChunk = 64 * 1024;

std::string sslErrorText(const boost::system::error_code& ec) {
  std::string msg = ec.message();
  if (ec.category() == net::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
    msg = buf;
  }
  return msg;
}

}  // namespace

std::string buildTarget(std::string_view path, const Query& query) {
  std::string out(path);
  char sep = '?';
  for (const auto& [k, v] : query) {
    out += sep;
    sep = '&';
    out += k;
    out += '=';
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        static const char* hex = "0123456789ABCDEF";
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
  }
  return out;
}

class Connection::Impl {
 public:
  Impl(ClientConfig cfg, ConnectionOptions opts) : cfg_(std::move(cfg)), opts_(std::move(opts)) {}

  Status init() {
    if (!cfg_.url.tls) return okStatus();
    sslCtx_.emplace(ssl::context::tls_client);
    boost::system::error_code ec;
    if (cfg_.insecureSkipTlsVerify) {
      sslCtx_->set_verify_mode(ssl::verify_none, ec);
    } else {
      sslCtx_->set_verify_mode(ssl::verify_peer, ec);
      if (!cfg_.caPem.empty()) {
        sslCtx_->add_certificate_authority(net::buffer(cfg_.caPem), ec);
        if (ec) return Error("certificate authority: " + sslErrorText(ec));
      } else {
        sslCtx_->set_default_verify_paths(ec);
        if (ec) return Error("default CA paths: " + sslErrorText(ec));
      }
    }
    if (!cfg_.clientCertPem.empty()) {
      sslCtx_->use_certificate_chain(net::buffer(cfg_.clientCertPem), ec);
      if (ec) return Error("client certificate: " + sslErrorText(ec));
      sslCtx_->use_private_key(net::buffer(cfg_.clientKeyPem), ssl::context::pem, ec);
      if (ec) return Error("client key: " + sslErrorText(ec));
    }
    return okStatus();
  }

  Result<HttpResponse> get(std::string_view path, const Query& query) {
    std::string target = buildTarget(path, query);
    auto r = runWithAuthRetry(target, nullptr);
    if (!r.ok()) return r.error().context("GET " + target);
    HttpResponse out;
    out.status = r->status;
    out.contentType = std::move(r->contentType);
    out.body = std::move(r->body);
    return out;
  }

  Result<WatchResult> watch(std::string_view path, const Query& query, const LineHandler& onLine) {
    std::string target = buildTarget(path, query);
    auto r = runWithAuthRetry(target, &onLine);
    if (!r.ok()) return r.error().context("watch " + target);
    WatchResult out;
    out.status = r->status;
    out.lines = r->lines;
    out.stoppedByCallback = r->stoppedByCallback;
    if (r->status != 200) out.body = std::move(r->body);
    return out;
  }

  void stop() {
    stopped_ = true;
    // Only close the socket here: a read may be pending on the stream, so the stream object must live until
    // that read completes (with operation_aborted) and run() cleans up.
    net::post(ioc_, [this] { cancelStream(); });
  }
  bool stopped() const { return stopped_; }
  size_t connects() const { return connects_; }

 private:
  struct Exchange {
    unsigned status = 0;
    std::string contentType;
    std::string body;
    size_t lines = 0;
    bool stoppedByCallback = false;
    // Nothing of a response arrived on a reused connection: safe to reconnect and resend (a GET is idempotent).
    bool retryable = false;
  };

  Result<Exchange> runWithAuthRetry(const std::string& target, const LineHandler* onLine) {
    auto r = runOnce(target, onLine);
    if (r.ok() && r->status == 401 && cfg_.token->refresh()) {
      NN_VLOG(2) << "401 on " << target << ": retrying with the re-read token";
      r = runOnce(target, onLine);
    }
    return r;
  }

  Result<Exchange> runOnce(const std::string& target, const LineHandler* onLine) {
    bool reused = isOpen();
    auto r = run(target, onLine);
    if (!r.ok() && reused && retryable_ && !stopped_) {
      NN_VLOG(4) << "kept-alive connection was closed by the server; reconnecting";
      r = run(target, onLine);
    }
    return r;
  }

  Result<Exchange> run(const std::string& target, const LineHandler* onLine) {
    if (stopped_) return Error("stopped");
    std::optional<Result<Exchange>> out;
    retryable_ = false;
    ioc_.restart();
    net::co_spawn(ioc_, into(request(target, onLine), &out), [&](std::exception_ptr e) {
      if (e && !out) out.emplace(Error("internal error: exception in request coroutine"));
    });
    ioc_.run();
    if (!out) out.emplace(Error("internal error: request did not complete"));
    if (!out->ok() || stopped_) closeStream();
    if (stopped_) return Error("stopped");
    return std::move(*out);
  }

  static net::awaitable<void> into(net::awaitable<Result<Exchange>> aw, std::optional<Result<Exchange>>* out) {
    out->emplace(co_await std::move(aw));
  }

  bool isOpen() const {
    if (secure_) return beast::get_lowest_layer(*secure_).socket().is_open();
    if (plain_) return plain_->socket().is_open();
    return false;
  }

  void cancelStream() {
    if (secure_) beast::get_lowest_layer(*secure_).close();
    if (plain_) plain_->close();
  }

  // Only while no operation is pending on the stream.
  void closeStream() {
    if (secure_) beast::get_lowest_layer(*secure_).close();
    if (plain_) plain_->close();
    secure_.reset();
    plain_.reset();
    buffer_.clear();
  }

  net::awaitable<Status> connect() {
    closeStream();
    tcp::resolver resolver(ioc_);
    auto [rec, endpoints] = co_await resolver.async_resolve(cfg_.url.host, std::to_string(cfg_.url.port), kTok);
    if (rec) co_return Error(strCat("resolve ", cfg_.url.host, ": ", rec.message()));
    beast::tcp_stream* lowest;
    if (cfg_.url.tls) {
      secure_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, *sslCtx_);
      lowest = &beast::get_lowest_layer(*secure_);
    } else {
      plain_ = std::make_unique<beast::tcp_stream>(ioc_);
      lowest = plain_.get();
    }
    lowest->expires_after(opts_.connectTimeout);
    auto [cec, ep] = co_await lowest->async_connect(endpoints, kTok);
    if (cec) co_return Error(strCat("connect ", cfg_.url.hostPort(), ": ", cec.message()));
    ++connects_;
    if (!cfg_.url.tls) co_return okStatus();

    SSL* handle = secure_->native_handle();
    if (!cfg_.insecureSkipTlsVerify) {
      // The certificate must name the server: an IP SAN for an address, a DNS SAN (or CN) for a name.
      const std::string& name = cfg_.tlsServerName.empty() ? cfg_.url.host : cfg_.tlsServerName;
      X509_VERIFY_PARAM* param = SSL_get0_param(handle);
      boost::system::error_code aec;
      net::ip::make_address(name, aec);
      if (!aec) {
        X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
      }
    }
    {
      boost::system::error_code aec;
      net::ip::make_address(cfg_.url.host, aec);
      if (aec) SSL_set_tlsext_host_name(handle, cfg_.url.host.c_str());  // SNI only for names (RFC 6066 §3)
    }
    lowest->expires_after(opts_.connectTimeout);
    auto [hec] = co_await secure_->async_handshake(ssl::stream_base::client, kTok);
    if (hec) {
      long verify = SSL_get_verify_result(handle);
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : sslErrorText(hec);
      co_return Error(strCat("TLS handshake with ", cfg_.url.hostPort(), ": ", why));
    }
    co_return okStatus();
  }

  net::awaitable<Result<Exchange>> request(std::string target, const LineHandler* onLine) {
    bool reused = isOpen();
    if (!reused) {
      auto st = co_await connect();
      if (!st.ok()) co_return st.error();
    }
    // stop() closes the stream from a handler on this io_context. When that handler ran while no stream existed
    // (during the resolve, or before this request started) it closed nothing, so look at the flag here: from
    // now on every step runs on this thread after this check, and a later stop() finds the stream to close.
    if (stopped_) co_return Error("stopped");
    if (secure_) co_return co_await exchange(*secure_, target, onLine, reused);
    co_return co_await exchange(*plain_, target, onLine, reused);
  }

  template <typename Stream>
  net::awaitable<Result<Exchange>> exchange(Stream& stream, const std::string& target, const LineHandler* onLine,
                                            bool reused) {
    beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, cfg_.url.hostPort());
    req.set(http::field::user_agent, opts_.userAgent);
    req.set(http::field::accept, "application/json");
    std::string token = cfg_.token ? cfg_.token->token() : "";
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.keep_alive(true);

    lowest.expires_after(opts_.requestTimeout);
    auto [wec, wn] = co_await http::async_write(stream, req, kTok);
    if (wec) {
      retryable_ = reused;
      co_return Error("write request: " + wec.message());
    }

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // enforced below for get()
    lowest.expires_after(opts_.requestTimeout);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer_, parser, kTok);
    if (hec) {
      // A kept-alive connection the server closed meanwhile fails here with end_of_stream before any byte.
      retryable_ = reused && (hec == http::error::end_of_stream || hec == net::error::connection_reset);
      if (hec == beast::error::timeout) co_return Error("no response header within the request timeout");
      co_return Error("read response header: " + hec.message());
    }

    Exchange ex;
    ex.status = parser.get().result_int();
    ex.contentType = std::string(parser.get()[http::field::content_type]);
    const bool streaming = onLine != nullptr && ex.status == 200;
    std::string pending;  // a partial line
    std::vector<char> buf(kReadChunk);
    auto deliver = [&](bool final) {
      size_t start = 0;
      for (;;) {
        size_t nl = pending.find('\n', start);
        if (nl == std::string::npos && !final) break;
        size_t end = nl == std::string::npos ? pending.size() : nl;
        std::string_view line(pending.data() + start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        start = nl == std::string::npos ? pending.size() : nl + 1;
        if (!line.empty()) {
          ++ex.lines;
          if (!(*onLine)(line)) {
            ex.stoppedByCallback = true;
            break;
          }
        }
        if (nl == std::string::npos) break;
      }
      pending.erase(0, start);
    };

    while (!parser.is_done()) {
      parser.get().body().data = buf.data();
      parser.get().body().size = buf.size();
      lowest.expires_after(streaming ? opts_.watchIdleTimeout : opts_.requestTimeout);
      auto [rec, rn] = co_await http::async_read_some(stream, buffer_, parser, kTok);
      if (rec == http::error::need_buffer) rec = {};
      size_t got = buf.size() - parser.get().body().size;
      if (streaming) {
        pending.append(buf.data(), got);
        deliver(false);
        if (ex.stoppedByCallback) {
          closeStream();
          co_return ex;
        }
      } else {
        ex.body.append(buf.data(), got);
        if (ex.body.size() > opts_.maxBodyBytes)
          co_return Error(strCat("response body exceeds ", opts_.maxBodyBytes, " bytes"));
      }
      if (rec) {
        if (stopped_) co_return Error("stopped");
        std::string what =
            rec == beast::error::timeout
                ? strCat("no data for ", (streaming ? opts_.watchIdleTimeout : opts_.requestTimeout).count(), " ms")
                : rec.message();
        if (streaming) co_return Error(strCat("stream broken after ", ex.lines, " lines: ", what));
        co_return Error("read response body: " + what);
      }
    }
    if (streaming && !pending.empty()) deliver(true);
    if (!parser.keep_alive()) closeStream();
    co_return ex;
  }

  ClientConfig cfg_;
  ConnectionOptions opts_;
  net::io_context ioc_{1};
  std::optional<ssl::context> sslCtx_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure_;
  beast::flat_buffer buffer_;  // bytes read past one response (none with a well-behaved server)
  std::atomic<bool> stopped_{false};
  bool retryable_ = false;
  size_t connects_ = 0;
};

Result<std::unique_ptr<Connection>> Connection::create(ClientConfig config, ConnectionOptions options) {
  if (!config.token) config.token = TokenSource::fixed("");
  auto impl = std::make_unique<Impl>(std::move(config), std::move(options));
  NN_TRY(impl->init());
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Result<HttpResponse> Connection::get(std::string_view path, const Query& query) { return impl_->get(path, query); }
Result<WatchResult> Connection::watch(std::string_view path, const Query& query, const LineHandler& onLine) {
  return impl_->watch(path, query, onLine);
}
void Connection::stop() { impl_->stop(); }
bool Connection::stopped() const { return impl_->stopped(); }
size_t Connection::connectCountForTest() const { return impl_->connects(); }

}  // namespace nodenet::kube
