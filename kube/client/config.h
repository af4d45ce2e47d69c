// Where the API server is and how to authenticate: a kubeconfig file, the in-cluster service account, or a
// plain --master URL. Pure data plus file reads; no sockets (those live in connection.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.h"

namespace nodenet::kube {

/// The parts of the server URL the connection needs.
struct ServerUrl {
  bool tls = true;   // https (the default) or http (plain; tests and local setups only)
  std::string host;  // "10.96.0.1", "::1" (no brackets), "api.example"
  uint16_t port = 443;
  /// "host:port" with IPv6 hosts bracketed: the HTTP Host header.
  std::string hostPort() const;
};
/// Parses "https://host[:port][/]" or "http://host[:port][/]"; a URL without scheme is https (as kubectl
/// reads --server). Paths other than "/" are rejected (nodenet does not talk to API servers behind a prefix).
Result<ServerUrl> parseServerUrl(std::string_view url);

/// A bearer token that may rotate: either a fixed string or a file re-read when it may have changed.
/// The service-account token is projected and rotated by the kubelet (about hourly); client-go re-reads it at
/// most once a minute and we do the same, plus at once after a 401.
/// Thread-safe: watcher threads share one source.
class TokenSource {
 public:
  /// A token that never changes (kubeconfig `token`). Empty = no Authorization header.
  static std::shared_ptr<TokenSource> fixed(std::string token);
  /// A token read from `path` now and again when `refreshInterval` has passed since the last read, or on
  /// refresh(). Fails when the first read fails.
  static Result<std::shared_ptr<TokenSource>> fromFile(std::string path,
                                                       std::chrono::seconds refreshInterval = std::chrono::seconds(60));

  /// The current token (re-read from the file when due; a failed re-read keeps the old token and logs).
  std::string token();
  /// Re-reads the file now (call after a 401). Returns true when the token changed.
  bool refresh();
  const std::string& path() const { return path_; }

 private:
  TokenSource() = default;
  bool readLocked();  // mu_ held; true when the token changed

  std::mutex mu_;
  std::string token_;
  std::string path_;  // empty for a fixed token
  std::chrono::seconds interval_{60};
  std::chrono::steady_clock::time_point lastRead_{};
};
using TokenSourcePtr = std::shared_ptr<TokenSource>;

/// Everything a Connection needs. Certificates and keys are held as PEM text (files are read when the config
/// is built, so a missing file is a config error, not a connect error).
struct ClientConfig {
  std::string server;  // the URL as given ("https://10.96.0.1:443")
  ServerUrl url;       // parsed from server
  std::string caPem;   // trusted CAs; empty = the system's default store
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;  // overrides the name checked against the certificate (kubeconfig tls-server-name)
  std::string clientCertPem;  // client certificate (chain), with clientKeyPem
  std::string clientKeyPem;
  TokenSourcePtr token;   // never null after loading; may hold an empty token
  std::string nameSpace;  // the context's namespace (informational; nodenet watches all namespaces)

  /// Replaces the server URL (kube-proxy's --master wins over the kubeconfig). Credentials are kept.
  Status overrideServer(std::string_view url);
};

/// Loads a kubeconfig file. `context` empty = current-context. Relative file paths inside the kubeconfig are
/// resolved against the kubeconfig's directory (as kubectl does). Errors name the key path:
/// "kubeconfig /x/config: users[0].user.client-key-data: invalid base64".
Result<ClientConfig> loadKubeconfig(const std::string& path, const std::string& context = "");
/// As loadKubeconfig, from text; relative paths resolve against `baseDir`.
Result<ClientConfig> parseKubeconfig(std::string_view yaml, const std::string& baseDir,
                                     const std::string& context = "");

/// Where the in-cluster credentials live; the defaults are the kubelet's mount points, overridable for tests.
struct InClusterPaths {
  std::string dir = "/var/run/secrets/kubernetes.io/serviceaccount";  // holds token, ca.crt, namespace
  std::chrono::seconds tokenRefreshInterval{60};
};
/// The service-account config: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the CA in
/// dir/ca.crt and the token in dir/token (re-read as TokenSource::fromFile describes). Errors name the missing
/// variable or file.
Result<ClientConfig> inClusterConfig(const InClusterPaths& paths = {});

/// A plain URL with no credentials (--master without --kubeconfig).
Result<ClientConfig> masterOnlyConfig(std::string_view url);

/// Decodes standard base64 (RFC 4648, padded). CR and LF are skipped, as Go's decoder (which reads kubeconfig
/// *-data fields) skips them. Fails on any other character or bad padding.
Result<std::string> decodeBase64(std::string_view text);

}  // namespace nodenet::kube
