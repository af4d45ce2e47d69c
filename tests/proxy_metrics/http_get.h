// Test-only HTTP/1.1 client (Boost.Beast, synchronous): what a probe or a Prometheus scrape does.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <map>
#include <string>

namespace nodenet::testing {

struct HttpReply {
  int status = 0;  // 0: could not connect or read (see error)
  std::map<std::string, std::string> headers;
  std::string body;
  std::string error;
};

/// GET (or another method) http://host:port/target with Connection: close.
inline HttpReply httpGet(const std::string& host, uint16_t port, const std::string& target,
                         boost::beast::http::verb method = boost::beast::http::verb::get) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  using tcp = boost::asio::ip::tcp;
  HttpReply out;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(tcp::endpoint(boost::asio::ip::make_address(host), port));
    http::request<http::empty_body> req{method, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::connection, "close");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.skip(method == http::verb::head);
    http::read(stream, buf, parser);
    auto& res = parser.get();
    out.status = res.result_int();
    for (auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
    out.body = res.body();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace nodenet::testing
