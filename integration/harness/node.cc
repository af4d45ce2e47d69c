#include "integration/harness/node.h"

#include "base/strings.h"

namespace nodenet::itest {

Result<std::unique_ptr<NodeEnv>> NodeEnv::create(const std::string& prefix) {
  std::unique_ptr<NodeEnv> env(new NodeEnv());
  env->prefix_ = prefix;
  NN_ASSIGN_OR_RETURN(env->scratch_, TempDir::create("nodenet-itest-"));
  // One random part shared by the node and its pods keeps a run's namespaces together in `ip netns list`.
  NN_ASSIGN_OR_RETURN(env->node_, TestNetns::create(prefix, "node"));
  return env;
}

NodeEnv::~NodeEnv() {
  removePods();
  (void)node_.remove();
}

Result<Pod*> NodeEnv::addPod() {
  auto pod = std::make_unique<Pod>();
  NN_ASSIGN_OR_RETURN(pod->ns, TestNetns::create(prefix_, strCat("p", nextPod_++)));
  pod->rt.containerId = randomContainerId();
  pod->rt.netns = pod->ns.path();
  pod->rt.ifName = "eth0";
  // What CRI-O passes; IgnoreUnknown lets plugins that do not know the K8S_* keys accept them.
  pod->rt.args = {{"IgnoreUnknown", "1"},
                  {"K8S_POD_NAMESPACE", "itest"},
                  {"K8S_POD_NAME", pod->ns.name()},
                  {"K8S_POD_INFRA_CONTAINER_ID", pod->rt.containerId}};
  pods_.push_back(std::move(pod));
  return pods_.back().get();
}

Result<std::vector<Pod*>> NodeEnv::addPods(int n) {
  std::vector<Pod*> out;
  for (int i = 0; i < n; ++i) {
    NN_ASSIGN_OR_RETURN(Pod * p, addPod());
    out.push_back(p);
  }
  return out;
}

void NodeEnv::removePods() {
  while (!pods_.empty()) pods_.pop_back();  // each TestNetns deletes itself
}

CniRunner NodeEnv::runner(const std::string& cniPath, NetnsLauncher launcher) const {
  CniRunnerOptions o;
  o.cniPath = cniPath;
  o.nodeNetns = node_.path();
  o.launcher = launcher;
  return CniRunner(o);
}

bool NodeEnv::ping(const TestNetns& from, const std::string& ip, int timeoutSec) {
  RunOptions o;
  o.timeout = std::chrono::seconds(timeoutSec + 3);
  auto r = from.exec({"ping", "-c", "1", "-W", std::to_string(timeoutSec), "-q", ip}, o);
  return r.ok() && r->ok();
}

std::string firstIp(const nlohmann::json& result) {
  if (!result.is_object() || !result.contains("ips") || !result["ips"].is_array() || result["ips"].empty()) return "";
  const auto& a = result["ips"][0];
  if (!a.contains("address") || !a["address"].is_string()) return "";
  std::string addr = a["address"].get<std::string>();
  return addr.substr(0, addr.find('/'));
}

std::string firstGateway(const nlohmann::json& result) {
  if (!result.is_object() || !result.contains("ips") || !result["ips"].is_array() || result["ips"].empty()) return "";
  const auto& a = result["ips"][0];
  return a.contains("gateway") && a["gateway"].is_string() ? a["gateway"].get<std::string>() : "";
}

}  // namespace nodenet::itest
