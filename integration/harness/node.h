// A node namespace plus pod namespaces: the layout every CNI test and benchmark starts from.
//   node ns  <prefix><pid>-<rand>-node : where the plugins run (they create the bridge here)
//   pod ns   <prefix><pid>-<rand>-pN   : one per pod; CNI_NETNS points at it
// Everything is deleted by the destructor, pods first, then the node.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "integration/harness/cni_runner.h"
#include "integration/harness/netns.h"
#include "integration/harness/paths.h"

namespace nodenet::itest {

struct Pod {
  TestNetns ns;
  /// containerId (random), netns = ns.path(), ifName "eth0", CNI_ARGS like CRI-O's.
  RuntimeConf rt;
};

class NodeEnv {
 public:
  /// Creates the node namespace and a scratch directory (host-local dataDir, caches).
  static Result<std::unique_ptr<NodeEnv>> create(const std::string& prefix);
  ~NodeEnv();

  const std::string& prefix() const { return prefix_; }
  const TestNetns& node() const { return node_; }
  /// A scratch directory removed with the node.
  const std::string& scratch() const { return scratch_.path(); }

  /// Creates one more pod namespace; the reference stays valid until removePods().
  Result<Pod*> addPod();
  /// Creates n pod namespaces.
  Result<std::vector<Pod*>> addPods(int n);
  const std::vector<std::unique_ptr<Pod>>& pods() const { return pods_; }
  /// Deletes every pod namespace (the veth peers in the node go with them).
  void removePods();

  /// A runner whose plugins come from cniPath and run inside this node.
  CniRunner runner(const std::string& cniPath, NetnsLauncher launcher = NetnsLauncher::Setns) const;

  /// Runs argv inside the node namespace.
  Result<RunResult> inNode(const std::vector<std::string>& argv) const { return node_.exec(argv); }
  /// One ICMP echo from a namespace to ip, waiting at most timeoutSec; true when answered.
  static bool ping(const TestNetns& from, const std::string& ip, int timeoutSec = 2);

 private:
  NodeEnv() = default;
  std::string prefix_;
  TempDir scratch_;
  TestNetns node_;
  std::vector<std::unique_ptr<Pod>> pods_;
  int nextPod_ = 0;
};

/// The first address of a CNI result without its prefix length ("10.85.0.2"), or "" when there is none.
std::string firstIp(const nlohmann::json& result);
/// The "gateway" of the first IP config, or "".
std::string firstGateway(const nlohmann::json& result);

}  // namespace nodenet::itest
