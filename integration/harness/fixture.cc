#include "integration/harness/fixture.h"

namespace nodenet::itest {

void NodeFixture::SetUp() {
  if (!isRoot()) GTEST_SKIP() << "needs root (creates network namespaces)";
  removeStaleNetns(netnsPrefix());
  removeStaleTempDirs();
  auto env = NodeEnv::create(netnsPrefix());
  ASSERT_TRUE(env.ok()) << env.error().message();
  env_ = std::move(env).value();
}

void NodeFixture::TearDown() { env_.reset(); }

std::vector<Pod*> NodeFixture::addPods(int n) {
  auto pods = env_->addPods(n);
  EXPECT_TRUE(pods.ok()) << pods.error().message();
  return pods.ok() ? std::move(pods).value() : std::vector<Pod*>{};
}

Conflist NodeFixture::crioConflist() {
  auto c = Conflist::load(confDir() + "/cni/11-crio-ipv4-bridge.conflist");
  EXPECT_TRUE(c.ok()) << c.error().message();
  if (!c.ok()) return {};
  return c->withIpamDataDir(env_->scratch() + "/host-local");
}

}  // namespace nodenet::itest
