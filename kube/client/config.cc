#include "kube/client/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"

namespace nodenet::kube {

namespace {


std::string resolve(const std::string& baseDir, const std::string& path) {
  if (path.empty() || path[0] == '/' || baseDir.empty()) return path;
  return baseDir + "/" + path;
}

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A kubeconfig token file holds the token and maybe a trailing newline; client-go trims whitespace too.
std::string trimToken(std::string_view t) { return std::string(trim(t)); }

}  // namespace

std::string ServerUrl::hostPort() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return strCat(h, ":", port);
}

Result<ServerUrl> parseServerUrl(std::string_view url) {
  ServerUrl out;
  std::string_view rest = url;
  if (startsWith(rest, "https://")) {
    rest.remove_prefix(8);
  } else if (startsWith(rest, "http://")) {
    out.tls = false;
    out.port = 80;
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return Error(strCat("server URL \"", url, "\": scheme must be https or http"));
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") return Error(strCat("server URL \"", url, "\": a path prefix is not supported"));
    rest = rest.substr(0, slash);
  }
  std::string_view portText;
  if (startsWith(rest, "[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return Error(strCat("server URL \"", url, "\": unterminated [IPv6]"));
    out.host = std::string(rest.substr(1, close - 1));
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Error(strCat("server URL \"", url, "\": junk after ]"));
      portText = after.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    if (rest.find(':') != colon) return Error(strCat("server URL \"", url, "\": IPv6 hosts need [brackets]"));
    out.host = std::string(rest.substr(0, colon));
    portText = rest.substr(colon + 1);
  } else {
    out.host = std::string(rest);
  }
  if (out.host.empty()) return Error(strCat("server URL \"", url, "\": no host"));
  if (!portText.empty() || rest.ends_with(":")) {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), p);
    if (ec != std::errc() || ptr != portText.data() + portText.size() || p == 0 || p > 65535)
      return Error(strCat("server URL \"", url, "\": invalid port \"", portText, "\""));
    out.port = static_cast<uint16_t>(p);
  }
  return out;
}

// ---- TokenSource ----

std::shared_ptr<TokenSource> TokenSource::fixed(std::string token) {
  std::shared_ptr<TokenSource> s(new TokenSource());
  s->token_ = std::move(token);
  return s;
}

Result<std::shared_ptr<TokenSource>> TokenSource::fromFile(std::string path, std::chrono::seconds refreshInterval) {
  std::shared_ptr<TokenSource> s(new TokenSource());
  s->path_ = std::move(path);
  s->interval_ = refreshInterval;
  NN_ASSIGN_OR_RETURN(std::string text, readFile(s->path_));
  s->token_ = trimToken(text);
  s->lastRead_ = std::chrono::steady_clock::now();
  return s;
}

bool TokenSource::readLocked() {
  lastRead_ = std::chrono::steady_clock::now();
  auto text = readFile(path_);
  if (!text.ok()) {
    NN_LOG(Warning) << "token: keeping the previous token: " << text.error().message();
    return false;
  }
  std::string t = trimToken(*text);
  if (t == token_) return false;
  token_ = std::move(t);
  NN_VLOG(2) << "token: re-read " << path_ << " (changed)";
  return true;
}

std::string TokenSource::token() {
  std::lock_guard lock(mu_);
  if (!path_.empty() && std::chrono::steady_clock::now() - lastRead_ >= interval_) readLocked();
  return token_;
}

bool TokenSource::refresh() {
  std::lock_guard lock(mu_);
  if (path_.empty()) return false;
  return readLocked();
}

// ---- base64 ----

Result<std::string> decodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  clean.reserve(text.size());
  for (char c : text)
    if (c != '\n' && c != '\r') clean.push_back(c);
  if (clean.size() % 4 != 0) return Error("invalid base64: length is not a multiple of 4");
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (size_t i = 0; i < clean.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = clean[i + k];
      if (c == '=') {
        if (i + 4 != clean.size() || k < 2) return Error("invalid base64: misplaced padding");
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad) return Error("invalid base64: data after padding");
      v[k] = value(c);
      if (v[k] < 0) return Error(strCat("invalid base64: illegal character at offset ", i + k));
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

// ---- kubeconfig ----

namespace {

// Reads string fields of a kubeconfig mapping, naming the key path in every error.
class Node {
 public:
  Node(YAML::Node n, std::string path) : n_(std::move(n)), path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  std::string child(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  Result<std::string> str(const std::string& key) const {
    YAML::Node v = n_[key];
    if (!v || v.IsNull()) return std::string();
    if (!v.IsScalar()) return Error(child(key) + ": expected a string");
    return v.Scalar();
  }
  Result<bool> boolean(const std::string& key) const {
    YAML::Node v = n_[key];
    if (!v || v.IsNull()) return false;
    std::string s = v.IsScalar() ? v.Scalar() : "";
    if (s == "true") return true;
    if (s == "false") return false;
    return Error(child(key) + ": expected true or false");
  }
  Result<Node> map(const std::string& key) const {
    YAML::Node v = n_[key];
    if (!v || v.IsNull()) return Error(child(key) + ": missing");
    if (!v.IsMap()) return Error(child(key) + ": expected a mapping");
    return Node(v, child(key));
  }
  // Finds the entry of a named list (clusters, contexts, users) and returns its inner mapping (`inner`).
  Result<Node> named(const std::string& list, const std::string& name, const std::string& inner) const {
    YAML::Node v = n_[list];
    if (!v || v.IsNull()) return Error(strCat(child(list), ": missing (looking for \"", name, "\")"));
    if (!v.IsSequence()) return Error(child(list) + ": expected a list");
    for (size_t i = 0; i < v.size(); ++i) {
      Node item(v[i], strCat(child(list), "[", i, "]"));
      if (!v[i].IsMap()) return Error(item.path() + ": expected a mapping");
      NN_ASSIGN_OR_RETURN(std::string n, item.str("name"));
      if (n == name) {
        YAML::Node in = v[i][inner];
        if (!in || in.IsNull()) return Node(YAML::Node(YAML::NodeType::Map), item.child(inner));  // `user: {}`
        return item.map(inner);
      }
    }
    return Error(strCat(child(list), ": no entry named \"", name, "\""));
  }

 private:
  YAML::Node n_;
  std::string path_;
};

// `dataKey` (base64) wins over `fileKey` (a path), as in client-go.
Result<std::string> dataOrFile(const Node& n, const std::string& dataKey, const std::string& fileKey,
                               const std::string& baseDir) {
  NN_ASSIGN_OR_RETURN(std::string data, n.str(dataKey));
  if (!data.empty()) {
    auto decoded = decodeBase64(data);
    if (!decoded.ok()) return decoded.error().context(n.child(dataKey));
    return std::move(decoded).value();
  }
  NN_ASSIGN_OR_RETURN(std::string file, n.str(fileKey));
  if (file.empty()) return std::string();
  auto text = readFile(resolve(baseDir, file));
  if (!text.ok()) return text.error().context(n.child(fileKey));
  return std::move(text).value();
}

Result<ClientConfig> parseKubeconfigChecked(const YAML::Node& root, const std::string& baseDir,
                                            const std::string& contextOverride) {
  if (!root.IsMap()) return Error("expected a mapping at the top level");
  Node top(root, "");
  std::string contextName = contextOverride;
  if (contextName.empty()) {
    NN_ASSIGN_OR_RETURN(contextName, top.str("current-context"));
    if (contextName.empty()) return Error("current-context: missing");
  }
  NN_ASSIGN_OR_RETURN(Node context, top.named("contexts", contextName, "context"));
  NN_ASSIGN_OR_RETURN(std::string clusterName, context.str("cluster"));
  if (clusterName.empty()) return Error(context.child("cluster") + ": missing");
  NN_ASSIGN_OR_RETURN(std::string userName, context.str("user"));

  ClientConfig cfg;
  NN_ASSIGN_OR_RETURN(cfg.nameSpace, context.str("namespace"));
  NN_ASSIGN_OR_RETURN(Node cluster, top.named("clusters", clusterName, "cluster"));
  NN_ASSIGN_OR_RETURN(cfg.server, cluster.str("server"));
  if (cfg.server.empty()) return Error(cluster.child("server") + ": missing");
  auto url = parseServerUrl(cfg.server);
  if (!url.ok()) return url.error().context(cluster.child("server"));
  cfg.url = *url;
  NN_ASSIGN_OR_RETURN(cfg.caPem, dataOrFile(cluster, "certificate-authority-data", "certificate-authority", baseDir));
  NN_ASSIGN_OR_RETURN(cfg.insecureSkipTlsVerify, cluster.boolean("insecure-skip-tls-verify"));
  NN_ASSIGN_OR_RETURN(cfg.tlsServerName, cluster.str("tls-server-name"));

  cfg.token = TokenSource::fixed("");
  if (!userName.empty()) {
    NN_ASSIGN_OR_RETURN(Node user, top.named("users", userName, "user"));
    NN_ASSIGN_OR_RETURN(cfg.clientCertPem, dataOrFile(user, "client-certificate-data", "client-certificate", baseDir));
    NN_ASSIGN_OR_RETURN(cfg.clientKeyPem, dataOrFile(user, "client-key-data", "client-key", baseDir));
    if (cfg.clientCertPem.empty() != cfg.clientKeyPem.empty())
      return Error(user.path() + ": client certificate and client key must be given together");
    NN_ASSIGN_OR_RETURN(std::string token, user.str("token"));
    NN_ASSIGN_OR_RETURN(std::string tokenFile, user.str("tokenFile"));
    if (!token.empty()) {
      // client-go: a literal token wins over tokenFile.
      cfg.token = TokenSource::fixed(std::move(token));
    } else if (!tokenFile.empty()) {
      auto source = TokenSource::fromFile(resolve(baseDir, tokenFile));
      if (!source.ok()) return source.error().context(user.child("tokenFile"));
      cfg.token = *source;
    }
  }
  return cfg;
}

}  // namespace

Result<ClientConfig> parseKubeconfig(std::string_view yaml, const std::string& baseDir, const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error(strCat("invalid YAML: ", e.what()));
  }
  try {
    return parseKubeconfigChecked(root, baseDir, context);
  } catch (const YAML::Exception& e) {  // yaml-cpp throws on some malformed shapes; keep it inside
    return Error(strCat("invalid kubeconfig: ", e.what()));
  }
}

Result<ClientConfig> loadKubeconfig(const std::string& path, const std::string& context) {
  auto text = readFile(path);
  if (!text.ok()) return text.error().context("kubeconfig");
  auto cfg = parseKubeconfig(*text, dirOf(path), context);
  if (!cfg.ok()) return cfg.error().context("kubeconfig " + path);
  return cfg;
}

Status ClientConfig::overrideServer(std::string_view newUrl) {
  NN_ASSIGN_OR_RETURN(ServerUrl u, parseServerUrl(newUrl));
  server = std::string(newUrl);
  url = u;
  return okStatus();
}

Result<ClientConfig> masterOnlyConfig(std::string_view urlText) {
  ClientConfig cfg;
  NN_TRY(cfg.overrideServer(urlText));
  cfg.token = TokenSource::fixed("");
  return cfg;
}

Result<ClientConfig> inClusterConfig(const InClusterPaths& paths) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return Error("in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  ClientConfig cfg;
  auto st = cfg.overrideServer(strCat("https://", h, ":", port));
  if (!st.ok()) return st.error().context("in-cluster config");
  auto token = TokenSource::fromFile(paths.dir + "/token", paths.tokenRefreshInterval);
  if (!token.ok()) return token.error().context("in-cluster config: token");
  cfg.token = *token;
  auto ca = readFile(paths.dir + "/ca.crt");
  if (!ca.ok()) return ca.error().context("in-cluster config: CA");
  cfg.caPem = std::move(ca).value();
  if (auto ns = readFile(paths.dir + "/namespace"); ns.ok()) cfg.nameSpace = std::string(trim(*ns));
  return cfg;
}

}  // namespace nodenet::kube
