// nodenet-proxy's command line and --config file: kube-proxy's flag names and a KubeProxyConfiguration subset,
// parsed and validated into one Options value before anything touches the kernel (pure: no sockets, the config
// file's text and the hostname are passed in).
//
// Precedence: defaults < --config file < flags given on the command line. (kube-proxy itself ignores most flags
// when --config is given, except the logging flags and --hostname-override; nodenet lets every explicit flag
// win, which gives the same result for the usual `--config F --hostname-override=$(NODE_NAME)` DaemonSet.)
// Every bad value is an error that names the flag (`--cluster-cidr`) or the config field
// (`/etc/kube-proxy/config.conf: nftables.syncPeriod`); the daemon prints it and exits 1, as kube-proxy does.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/log.h"
#include "base/result.h"
#include "proxy/rules/ruleset.h"

namespace nodenet::proxy::daemon {

/// An HTTP server's listen address (--healthz-bind-address, --metrics-bind-address).
struct BindAddress {
  IpAddress ip;
  uint16_t port = 0;
  /// "0.0.0.0:10256", "[::]:10256".
  std::string toString() const;
  bool operator==(const BindAddress&) const = default;
};

/// Parses kube-proxy's ip-or-ip:port flag value: "IP:PORT", "[IPv6]:PORT", or a bare "IP" (then
/// `defaultPort`). Returns nullopt for "" (kube-proxy: an empty address disables the server).
/// Error: a malformed address or port, naming the value (the caller prefixes the flag or field).
Result<std::optional<BindAddress>> parseBindAddress(std::string_view text, uint16_t defaultPort);

/// Parses a Go time.Duration string ("30s", "1m0s", "500ms", "1h2m3.5s", "0"). Error: anything else,
/// including a negative duration (no nodenet period may be negative).
Result<std::chrono::nanoseconds> parseGoDuration(std::string_view text);

/// Everything the daemon needs, validated and with defaults applied.
struct Options {
  // --- where objects come from (kube/source) ---
  std::string kubeconfig;    // --kubeconfig, clientConnection.kubeconfig
  std::string master;        // --master
  std::string manifestsDir;  // --manifests: the embedded default source (no API server)
  /// The Node this proxy serves (--hostname-override / hostnameOverride, else the hostname), trimmed and
  /// lower-cased as kube-proxy does. Decides which endpoints are local and which Node object is watched.
  std::string nodeName;

  // --- the ruleset (proxy/rules::Config) ---
  std::vector<Cidr> clusterCIDRs;                // --cluster-cidr / clusterCIDR (comma list, masked)
  rules::NodePortAddresses nodePortAddresses;    // --nodeport-addresses / nodePortAddresses
  std::vector<std::string> nodePortAddressText;  // the same, as given (for the startup log line)
  bool masqueradeAll = false;                    // --masquerade-all / nftables.masqueradeAll
  unsigned masqueradeBit = 14;                   // nftables.masqueradeBit (0-31); the mark is 1 << bit
  std::chrono::nanoseconds syncPeriod = std::chrono::seconds(30);    // nftables.syncPeriod (full resync)
  std::chrono::nanoseconds minSyncPeriod = std::chrono::seconds(1);  // nftables.minSyncPeriod

  // --- servers (nullopt = disabled, as kube-proxy with an empty address) ---
  std::optional<BindAddress> healthzBindAddress = BindAddress{IpAddress::v4(0), 10256};
  std::optional<BindAddress> metricsBindAddress = BindAddress{IpAddress::v4(0x7f000001), 10249};

  // --- process ---
  int verbosity = 0;                              // --v / logging.verbosity
  log::Format loggingFormat = log::Format::Text;  // --logging-format / logging.format
  bool cleanup = false;                           // --cleanup: remove our tables and exit
  bool help = false;                              // --help / -h: print usage() and exit 0
  std::string configFile;                         // --config

  /// Things worth a log line once logging is set up (unknown config fields, ignored fields, overrides), in order.
  /// Each names the field or flag.
  std::vector<std::string> warnings;
  std::vector<std::string> notices;

  /// The masquerade mark (1 << masqueradeBit), what proxy/rules::Config wants.
  uint32_t masqueradeMark() const { return uint32_t{1} << masqueradeBit; }
};

/// Reads a whole file; injected so the parser stays pure (tests pass a map).
using ReadFileFn = std::function<Result<std::string>(const std::string& path)>;

/// Parses argv (argv[0] excluded) and the --config file it names, applies the precedence rules and validates.
/// `hostname` is the machine's hostname (the default node name). Errors name the flag or field and the value.
/// With --help, returns Options{help = true} without validating the rest.
Result<Options> loadOptions(const std::vector<std::string>& args, const ReadFileFn& readFile,
                            const std::string& hostname);

/// The KubeProxyConfiguration fields nodenet reads; a field that is absent stays nullopt (so flags and
/// defaults can fill it).
struct ConfigFile {
  std::optional<std::string> kubeconfig;
  std::optional<std::string> hostnameOverride;
  std::optional<std::string> clusterCIDR;
  std::optional<std::vector<std::string>> nodePortAddresses;
  std::optional<std::string> healthzBindAddress;
  std::optional<std::string> metricsBindAddress;
  std::optional<bool> masqueradeAll;
  std::optional<int64_t> masqueradeBit;
  std::optional<std::string> syncPeriod;
  std::optional<std::string> minSyncPeriod;
  std::optional<int64_t> verbosity;
  std::optional<std::string> loggingFormat;
  /// Unknown fields (kube-proxy falls back to lenient decoding with a log line; so do we: a warning each).
  std::vector<std::string> unknownFields;
  /// Known KubeProxyConfiguration fields nodenet does not implement (iptables.*, ipvs.*, conntrack.*, ...):
  /// present in the file, accepted and ignored.
  std::vector<std::string> ignoredFields;
};

/// Parses a KubeProxyConfiguration (apiVersion kubeproxy.config.k8s.io/v1alpha1). `name` prefixes errors.
/// Errors: not YAML, not a mapping, wrong apiVersion/kind, a field of the wrong type, mode other than
/// "nftables"/"" (iptables and ipvs are other proxies), detectLocalMode other than ClusterCIDR/"".
Result<ConfigFile> parseConfigFile(std::string_view text, const std::string& name);

/// The --help text.
std::string usage();

/// The ruleset config for one family from the options.
rules::Config rulesConfig(const Options& options, IpFamily family);

}  // namespace nodenet::proxy::daemon
