// Runs a CNI network configuration list the way libcni (containernetworking/cni libcni/api.go) does, against
// plugin binaries found in a CNI_PATH, with every plugin executed inside a node network namespace:
//   ADD   plugins in order; each gets its config with "name" and "cniVersion" injected from the list and
//         "prevResult" = the previous plugin's result; the last result is cached per (network, container, ifname).
//   CHECK plugins in order, each with prevResult = the cached ADD result (spec >= 0.4.0).
//   DEL   plugins in reverse order with prevResult = the cached ADD result; the cache entry is dropped after.
//   VERSION one exec per plugin type with stdin {"cniVersion": ...} (libcni's GetVersionInfo / ValidateNetworkList).
// Environment: the caller's minus CNI_*, plus CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH.
// The cache lives in memory (libcni writes it under /var/lib/cni/results; tests must not).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "integration/harness/process.h"

namespace nodenet::itest {

/// A parsed .conflist: the raw document plus the fields libcni reads.
struct Conflist {
  nlohmann::json raw;
  std::string name;
  std::string cniVersion;
  bool disableCheck = false;
  std::vector<nlohmann::json> plugins;

  /// Parses conflist JSON; errors name the missing or mistyped field.
  static Result<Conflist> parse(std::string_view text);
  static Result<Conflist> load(const std::string& path);
  /// A copy with "dataDir" set in every plugin's "ipam" section, so host-local never uses /var/lib/cni.
  Conflist withIpamDataDir(const std::string& dataDir) const;
};

/// The per-attachment runtime values (libcni's RuntimeConf).
struct RuntimeConf {
  std::string containerId;
  /// CNI_NETNS: the pod namespace path, e.g. TestNetns::path().
  std::string netns;
  std::string ifName = "eth0";
  /// CNI_ARGS as key/value pairs, joined "K=V;K=V".
  std::vector<std::pair<std::string, std::string>> args;
  /// Capability arguments; a plugin that declares {"capabilities": {"x": true}} gets runtimeConfig.x.
  nlohmann::json capabilityArgs = nlohmann::json::object();
};

/// One plugin exec inside an operation.
struct CniStep {
  std::string type;
  int exitCode = -1;
  std::chrono::nanoseconds elapsed{0};
};

/// The outcome of an operation whose plugins ran. A plugin that failed is an outcome with exitCode != 0 and
/// json holding its error object ({"code","msg","details"}); harness failures are Result errors instead.
struct CniOutcome {
  int exitCode = 0;
  /// ADD: the result; VERSION: the version info; failure: the error JSON; CHECK/DEL success: null.
  nlohmann::json json;
  /// The type of the last plugin run (the failing one on error).
  std::string pluginType;
  std::string stderrText;
  std::vector<CniStep> steps;
  /// Sum over the plugin execs of this operation.
  std::chrono::nanoseconds elapsed{0};

  bool ok() const { return exitCode == 0; }
  double elapsedMs() const { return std::chrono::duration<double, std::milli>(elapsed).count(); }
  /// For assertion messages: "plugin bridge exit 1: {...error json...} stderr: ...".
  std::string describe() const;
};

struct CniRunnerOptions {
  /// Colon-separated directories searched for the plugin named by "type".
  std::string cniPath;
  /// The node namespace (name or /run/netns path) every plugin runs in. Required: the harness refuses to run
  /// plugins in the caller's (the machine's) namespace.
  std::string nodeNetns;
  NetnsLauncher launcher = NetnsLauncher::Setns;
  std::chrono::milliseconds timeout{60000};
  /// Extra environment for every plugin exec ("KEY=VALUE").
  std::vector<std::string> extraEnv;
  /// Run validate() (VERSION of every plugin) before the first ADD of each network name, as a runtime does
  /// when it loads a conflist; a failed validation is returned as the ADD's outcome.
  bool validateBeforeFirstAdd = true;
};

/// Thread-safe: parallel ADD/DEL of different containers may share one runner.
class CniRunner {
 public:
  explicit CniRunner(CniRunnerOptions options) : options_(std::move(options)) {}

  const CniRunnerOptions& options() const { return options_; }

  /// VERSION exec of one plugin type; json is its version info ({"cniVersion","supportedVersions"}).
  Result<CniOutcome> version(const std::string& type, const std::string& stdinVersion = "1.0.0");
  /// libcni's ValidateNetworkList: VERSION of every plugin in the list, which must support list.cniVersion
  /// (an unsupported version is an outcome with exitCode 1 and a message).
  Result<CniOutcome> validate(const Conflist& list);

  Result<CniOutcome> add(const Conflist& list, const RuntimeConf& rt);
  Result<CniOutcome> check(const Conflist& list, const RuntimeConf& rt);
  Result<CniOutcome> del(const Conflist& list, const RuntimeConf& rt);

  /// Execs one plugin with a complete stdin config (no injection, no cache): e.g. an IPAM plugin alone.
  Result<CniOutcome> execPlugin(const std::string& type, const std::string& command, const nlohmann::json& config,
                                const RuntimeConf& rt);

  /// The cached ADD result for (list.name, rt.containerId, rt.ifName), if any.
  std::optional<nlohmann::json> cachedResult(const Conflist& list, const RuntimeConf& rt) const;
  /// The config a plugin gets on stdin (libcni's buildOneConfig); prevResult may be null.
  static nlohmann::json buildPluginConfig(const Conflist& list, const nlohmann::json& plugin,
                                          const nlohmann::json& prevResult, const RuntimeConf& rt);

 private:
  Result<RunResult> execRaw(const std::string& type, const std::string& command, const std::string& stdinData,
                            const RuntimeConf& rt, std::string* exePath);
  Result<CniOutcome> validateOnce(const Conflist& list);
  static std::string cacheKey(const Conflist& list, const RuntimeConf& rt);

  CniRunnerOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> cache_;
  std::map<std::string, bool> validated_;  // network name -> validate() succeeded
};

}  // namespace nodenet::itest
