// The proxy test topology, shared by integration/proxy (tests) and bench/proxy_dataplane:
//
//   external ns  192.168.77.2/24, .3/24 (second source for loadBalancerSourceRanges), routes 10.96.0.0/16,
//        |        203.0.113.0/24 (LB and external IPs) and 10.85.0.0/16 via the node
//      veth
//        |
//   node ns      192.168.77.1/24 (the node's InternalIP), default route via 192.168.77.2 (like a real node:
//                unclaimed ClusterIP traffic is forwarded, so cluster-ips-check can reject it), ip_forward=1,
//                bridge cni0 10.85.0.1/16 from our CNI plugin (conf/cni CRI-O conflist), br_netfilter on,
//                the fake API server's listening socket (127.0.0.1:PORT), nodenet-proxy
//        |
//   pod ns ...   10.85.0.x: backends running `nn-echo serve` (HTTP on 8080 and 8443, UDP on 5353), clients
//
// The proxy is either the real daemon (ProxyMode::Daemon: build/bin/nodenet-proxy inside the node ns, fed by the
// fake API server through a kubeconfig) or, to validate the topology and traffic checks without it,
// ProxyMode::Rules: proxy/rules buildRuleset -> toTransaction -> NetlinkKernel commit, run by the test itself on
// every object change. Only Daemon mode proves the daemon; Rules mode proves the topology and the tools.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "integration/fakeapi/fake_api_server.h"
#include "integration/harness/background.h"
#include "integration/harness/node.h"

namespace nodenet::itest::proxy {

/// A daemon or echo server this test started in a namespace (the harness's BackgroundProcess).
using Background = itest::BackgroundProcess;

enum class ProxyMode { Daemon, Rules };

/// NODENET_PROXY_MODE=rules selects Rules; anything else Daemon.
ProxyMode proxyModeFromEnv();

struct Backend {
  std::string name;
  std::string ip;
  Pod* pod = nullptr;
  Background server;
};

/// Ports every backend serves.
inline constexpr int kHttpPort = 8080;
inline constexpr int kHttpPort2 = 8443;
inline constexpr int kUdpPort = 5353;
inline constexpr const char* kNodeName = "node-a";
inline constexpr const char* kNodeIp = "192.168.77.1";
inline constexpr const char* kExternalIp = "192.168.77.2";
inline constexpr const char* kExternalIp2 = "192.168.77.3";
inline constexpr const char* kClusterCidr = "10.85.0.0/16";

struct ProxyEnvOptions {
  std::string prefix = "nnt-proxy-";
  ProxyMode mode = ProxyMode::Daemon;
  /// Extra daemon flags.
  std::vector<std::string> daemonArgs;
  /// Start the daemon (Daemon mode) right away; otherwise call startProxy().
  bool startProxy = true;
  /// Rules mode: kube-proxy's chain per Service and endpoint instead of the endpoint maps
  /// (rules::Config::endpointMaps = false), to compare the two layouts' data paths.
  bool chainLayout = false;
};

/// The topology above. Create with create(); everything is deleted by the destructor (processes first).
class ProxyEnv {
 public:
  static Result<std::unique_ptr<ProxyEnv>> create(ProxyEnvOptions options);
  ~ProxyEnv();

  ProxyMode mode() const { return opts_.mode; }
  NodeEnv& env() { return *env_; }
  const TestNetns& node() const { return env_->node(); }
  const TestNetns& external() const { return external_; }
  fakeapi::FakeApiServer* api() { return api_.get(); }
  const std::string& scratch() const { return env_->scratch(); }

  /// A pod with an IP from our CNI plugin running `nn-echo serve --name NAME` (ports above).
  Result<Backend*> addBackend(const std::string& name);
  /// A pod with an IP and no server.
  Result<Backend*> addClient(const std::string& name);
  Backend* backend(const std::string& name);
  /// Kills the backend's server (the pod stays).
  void stopServer(const std::string& name);

  // ---- objects: published to the fake API server (Daemon) or applied through proxy/rules (Rules)
  Status upsertService(const nlohmann::json& svc);
  Status removeService(const std::string& ns, const std::string& name);
  Status upsertSlice(const nlohmann::json& slice);
  Status removeSlice(const std::string& ns, const std::string& name);
  Status upsertNode(const nlohmann::json& node);
  /// Rules mode: while deferred, object changes are only recorded; setDeferRules(false) applies them once
  /// (a benchmark installing 10,000 Services). Daemon mode: no effect.
  Status setDeferRules(bool defer);

  // ---- the proxy
  /// Starts nodenet-proxy in the node ns (Daemon mode; Rules mode: applies the current objects).
  Status startProxy(const std::vector<std::string>& extraArgs = {});
  /// The daemon process (Daemon mode), or nullptr.
  Background* daemon() { return daemon_ ? &*daemon_ : nullptr; }
  /// Stops the fake API server (Daemon mode): its socket closes, the daemon loses list and watch.
  void stopApiServer();
  /// Starts a new fake API server in the node ns on the same port with the current objects.
  Status restartApiServer();
  /// The daemon's --kubeconfig file.
  const std::string& kubeconfigPath() const { return kubeconfig_; }

  /// `nft list table ip nodenet` inside the node ns (empty when the table is absent).
  Result<std::string> dumpRuleset(const std::string& family = "ip");
  /// Dumps the table and checks it with `nft -c -f` in a fresh, empty namespace. Error: the dump failed, the
  /// table is missing, or nft rejected it (with nft's message).
  Status checkRulesetRoundTrip(const std::string& family = "ip");

  // ---- traffic
  /// curl from a namespace: returns the body's first word (the backend name) or an error naming curl's exit
  /// code and stderr ("curl exit 7: Failed to connect ... Connection refused").
  struct CurlResult {
    int exitCode = -1;
    std::string body;
    std::string err;
    double ms = 0;
    bool ok() const { return exitCode == 0; }
    std::string backend() const { return body.substr(0, body.find(' ')); }
  };
  CurlResult curl(const TestNetns& from, const std::string& url, double maxSeconds = 2.0,
                  const std::vector<std::string>& extra = {});
  /// Repeats fn until it returns true or timeout passes; true on success.
  static bool eventually(const std::function<bool()>& fn, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds step = std::chrono::milliseconds(100));

  /// Path of built binaries.
  static std::string echoBinary();
  static std::string proxyBinary();

 private:
  ProxyEnv() = default;
  Status setupExternal();
  Status startApi(uint16_t port, int64_t initialRv);
  Status writeKubeconfig();
  Status applyRules();
  Result<Backend*> addPodWith(const std::string& name, bool server);

  ProxyEnvOptions opts_;
  std::unique_ptr<NodeEnv> env_;
  TestNetns external_;
  std::unique_ptr<fakeapi::FakeApiServer> api_;
  uint16_t apiPort_ = 0;
  int64_t lastRv_ = 1000;
  bool deferRules_ = false;
  std::string kubeconfig_;
  std::optional<Background> daemon_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  // Objects as published (key "ns/name"), so a restarted API server and Rules mode see the same state.
  std::map<std::string, nlohmann::json> services_, slices_;
  nlohmann::json node_;
};

// ---- object builders (the API server's JSON)
struct PortSpec {
  std::string name;
  int port = 0;
  int targetPort = 0;
  std::string protocol = "TCP";
  int nodePort = 0;
};
/// A ClusterIP Service "default/NAME".
nlohmann::json makeService(const std::string& name, const std::string& clusterIp, const std::vector<PortSpec>& ports,
                           const std::string& type = "ClusterIP");
struct EndpointSpec {
  std::string ip;
  std::string nodeName = kNodeName;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
};
/// An EndpointSlice "default/SLICE" of Service NAME with the ports (name, port, protocol) of the Service.
nlohmann::json makeSlice(const std::string& service, const std::string& slice, const std::vector<EndpointSpec>& eps,
                         const std::vector<PortSpec>& ports);
/// The Node kNodeName with InternalIP kNodeIp.
nlohmann::json makeNode();

}  // namespace nodenet::itest::proxy
