// nodenet-dns's command line, parsed and validated into one Options value before anything is opened (pure:
// no sockets, no files). Every bad value is an error naming the flag; the daemon prints it and exits 1.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "dns/server/address.h"

namespace nodenet::dns::daemon {

struct Options {
  // --- serving ---
  std::vector<server::SocketAddress> listen;  // --listen (repeatable); default 0.0.0.0:53
  std::string zone = "cluster.local";         // --zone
  uint32_t ttl = 5;                           // --ttl (seconds, 0-3600 as CoreDNS's kubernetes plugin)
  unsigned threads = 0;                       // --threads; 0 = the number of CPUs
  uint16_t maxUdpSize = 1232;                 // --max-udp-size (512-4096)
  std::chrono::milliseconds tcpIdleTimeout{10000};  // --tcp-idle-timeout
  size_t maxTcpConnections = 1024;                  // --max-tcp-connections
  size_t answerCacheBytes = 2u << 20;               // --answer-cache-size (bytes over all receivers; 0 = off)

  // --- upstream (names outside the zone) ---
  std::vector<server::SocketAddress> upstreams;  // --upstream (repeatable)
  bool upstreamNone = false;                     // --upstream none: never forward (REFUSED)
  std::string resolvConf = "/etc/resolv.conf";   // --resolv-conf: nameservers when no --upstream
  std::chrono::milliseconds upstreamTimeout{2000};  // --upstream-timeout (per try)
  size_t cacheSize = 10000;                         // --cache-size (entries; 0 disables)
  uint32_t cacheMaxTtl = 300;                       // --cache-max-ttl (seconds)

  // --- where objects come from (kube/source) ---
  std::string kubeconfig;    // --kubeconfig
  std::string master;        // --master
  std::string manifestsDir;  // --manifests

  // --- process ---
  int verbosity = 0;                              // --v
  log::Format loggingFormat = log::Format::Text;  // --logging-format
  bool help = false;                              // --help / -h
};

/// Parses argv[1..] ("--flag=value" or "--flag value"). Errors name the flag: `--ttl: expected an integer
/// 0-3600, got "x"`; unknown flags and stray arguments are errors. Defaults are applied (listen 0.0.0.0:53).
Result<Options> parseOptions(const std::vector<std::string>& args);

/// Parses a byte count: "1048576", "512Ki", "2Mi". Error: anything else, or more than 1 TiB.
Result<size_t> parseByteSize(std::string_view text);

/// Parses "10s", "500ms", "2m", or a bare number of seconds. Error: anything else or negative.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

/// The --help text.
std::string usage();

}  // namespace nodenet::dns::daemon
