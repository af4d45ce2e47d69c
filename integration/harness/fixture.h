// GoogleTest fixture for root-only CNI tests: a fresh node namespace per test, pod namespaces on demand, and
// teardown on every exit path (the NodeEnv destructor runs even when an assertion fails; namespaces of a
// crashed earlier run are removed in SetUp by their dead creator pid).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "integration/harness/node.h"

namespace nodenet::itest {

/// ASSERT_OK(resultOrStatus) with the error message in the failure.
#define NN_ASSERT_OK(expr)                                                  \
  do {                                                                      \
    auto&& nn_r_ = (expr);                                                  \
    ASSERT_TRUE(nn_r_.ok()) << #expr << ": " << nn_r_.error().message();    \
  } while (0)

class NodeFixture : public ::testing::Test {
 protected:
  /// Namespace prefix for this fixture's runs; override per test suite to keep suites apart.
  virtual std::string netnsPrefix() const { return "nnt-cni-"; }

  void SetUp() override;
  void TearDown() override;

  NodeEnv& env() { return *env_; }
  const TestNetns& node() const { return env_->node(); }
  /// Creates n pods and fails the test if that does not work.
  std::vector<Pod*> addPods(int n);
  /// The CRI-O seed conflist from conf/cni with ipam.dataDir moved into the scratch directory.
  Conflist crioConflist();
  bool ping(const TestNetns& from, const std::string& ip) { return NodeEnv::ping(from, ip); }

  std::unique_ptr<NodeEnv> env_;
};

}  // namespace nodenet::itest
