// Smoke test of the integration harness with the reference CNI plugins (/usr/lib/cni, Debian's
// containernetworking-plugins). IP plan: the CRI-O seed conflist, bridge cni0 = 10.85.0.1/16 in the node
// namespace, pods get 10.85.0.2, 10.85.0.3, ... from a host-local dataDir in the test's scratch directory.
// Namespaces: nnt-cni-<pid>-<rand>-node and -pN; nothing touches the machine's namespace.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "base/strings.h"
#include "integration/harness/fixture.h"

namespace nodenet::itest {
namespace {

TEST(RunTest, CapturesOutputExitCodeAndStdin) {
  RunOptions o;
  o.stdinData = "hello";
  auto r = run({"sh", "-c", "cat; echo oops >&2; exit 3"}, o);
  NN_ASSERT_OK(r);
  EXPECT_EQ(r->exitCode, 3);
  EXPECT_EQ(r->out, "hello");
  EXPECT_EQ(r->err, "oops\n");
  EXPECT_FALSE(r->timedOut);
}

TEST(RunTest, TimeoutKillsTheChild) {
  RunOptions o;
  o.timeout = std::chrono::milliseconds(200);
  auto r = run({"sleep", "30"}, o);
  NN_ASSERT_OK(r);
  EXPECT_TRUE(r->timedOut);
  EXPECT_EQ(r->termSignal, SIGKILL);
  EXPECT_LT(r->elapsed, std::chrono::seconds(5));
}

TEST(RunTest, MissingProgramIsAnError) {
  auto r = run({"/nonexistent/program"});
  EXPECT_FALSE(r.ok());
}

TEST(TestNetnsTest, CreatesWithLoUpAndDeletesInDestructor) {
  if (!isRoot()) GTEST_SKIP() << "needs root";
  std::string name;
  {
    auto ns = TestNetns::create("nnt-cni-", "solo");
    NN_ASSERT_OK(ns);
    name = ns->name();
    EXPECT_EQ(ns->path(), "/run/netns/" + name);
    EXPECT_EQ(listNetns(name).size(), 1u);
    for (NetnsLauncher l : {NetnsLauncher::Setns, NetnsLauncher::IpNetnsExec}) {
      RunOptions o;
      o.launcher = l;
      auto r = ns->exec({"ip", "-o", "link", "show", "lo"}, o);
      NN_ASSERT_OK(r);
      EXPECT_NE(r->out.find("UP"), std::string::npos) << r->out;
      // Only lo lives in a fresh namespace: we are not in the machine's namespace.
      auto all = ns->exec({"ip", "-o", "link"}, o);
      NN_ASSERT_OK(all);
      EXPECT_EQ(std::count(all->out.begin(), all->out.end(), '\n'), 1) << all->out;
    }
  }
  EXPECT_TRUE(listNetns(name).empty());
}

class HarnessSmokeTest : public NodeFixture {};

// ADD two pods with the reference plugins, ping between them, CHECK, DEL, and leave no namespace behind.
TEST_F(HarnessSmokeTest, ReferencePluginsTwoPodsPingDel) {
  const std::string ref = referenceCniPath();
  if (!hasPlugins(ref, {"bridge", "host-local"})) GTEST_SKIP() << "reference CNI plugins missing in " << ref;
  const Conflist list = crioConflist();
  ASSERT_FALSE(list.plugins.empty());
  CniRunner cni = env().runner(ref);

  auto v = cni.validate(list);
  NN_ASSERT_OK(v);
  ASSERT_TRUE(v->ok()) << v->describe();

  std::vector<Pod*> pods = addPods(2);
  ASSERT_EQ(pods.size(), 2u);
  std::vector<std::string> ips;
  for (Pod* p : pods) {
    auto add = cni.add(list, p->rt);
    NN_ASSERT_OK(add);
    ASSERT_TRUE(add->ok()) << add->describe();
    ips.push_back(firstIp(add->json));
    EXPECT_EQ(firstGateway(add->json), "10.85.0.1") << add->json.dump();
  }
  EXPECT_EQ(ips[0], "10.85.0.2");
  EXPECT_EQ(ips[1], "10.85.0.3");

  // The bridge exists in the node namespace (and only there).
  auto br = env().inNode({"ip", "-o", "addr", "show", "dev", "cni0"});
  NN_ASSERT_OK(br);
  EXPECT_NE(br->out.find("10.85.0.1/16"), std::string::npos) << br->describe();

  EXPECT_TRUE(ping(pods[0]->ns, ips[1])) << "pod0 -> pod1";
  EXPECT_TRUE(ping(pods[1]->ns, ips[0])) << "pod1 -> pod0";
  EXPECT_TRUE(ping(pods[0]->ns, "10.85.0.1")) << "pod0 -> gateway";
  EXPECT_TRUE(ping(node(), ips[1])) << "node -> pod1";

  for (Pod* p : pods) {
    auto chk = cni.check(list, p->rt);
    NN_ASSERT_OK(chk);
    EXPECT_TRUE(chk->ok()) << chk->describe();
  }
  for (Pod* p : pods) {
    auto del = cni.del(list, p->rt);
    NN_ASSERT_OK(del);
    EXPECT_TRUE(del->ok()) << del->describe();
    EXPECT_FALSE(cni.cachedResult(list, p->rt).has_value());
    auto eth0 = p->ns.exec({"ip", "link", "show", "eth0"});
    NN_ASSERT_OK(eth0);
    EXPECT_NE(eth0->exitCode, 0) << "eth0 still in " << p->ns.name();
  }
  EXPECT_FALSE(ping(pods[0]->ns, ips[1]));

  // DEL is idempotent (spec): a second DEL of a gone attachment succeeds.
  auto again = cni.del(list, pods[0]->rt);
  NN_ASSERT_OK(again);
  EXPECT_TRUE(again->ok()) << again->describe();

  const std::string mine = env().prefix() + std::to_string(::getpid()) + "-";
  EXPECT_EQ(listNetns(mine).size(), 3u);
  env_.reset();
  EXPECT_TRUE(listNetns(mine).empty()) << "left: " << listNetns(mine).size();
}

TEST_F(HarnessSmokeTest, PluginErrorIsAnOutcomeWithErrorJson) {
  const std::string ref = referenceCniPath();
  if (!hasPlugins(ref, {"bridge"})) GTEST_SKIP() << "reference CNI plugins missing in " << ref;
  Conflist list = crioConflist();
  list.plugins[0]["ipam"]["ranges"] = nlohmann::json::parse(R"([[{"subnet":"not-a-cidr"}]])");
  auto pods = addPods(1);
  ASSERT_EQ(pods.size(), 1u);
  CniRunner cni = env().runner(ref);
  auto add = cni.add(list, pods[0]->rt);
  NN_ASSERT_OK(add);
  EXPECT_FALSE(add->ok());
  EXPECT_TRUE(add->json.contains("msg")) << add->describe();
  EXPECT_FALSE(cni.cachedResult(list, pods[0]->rt).has_value());
}

TEST_F(HarnessSmokeTest, FirstAddValidatesVersionLikeARuntime) {
  const std::string ref = referenceCniPath();
  if (!hasPlugins(ref, {"bridge"})) GTEST_SKIP() << "reference CNI plugins missing in " << ref;
  Conflist list = crioConflist();
  list.cniVersion = "9.9.9";
  auto pods = addPods(1);
  ASSERT_EQ(pods.size(), 1u);
  CniRunner cni = env().runner(ref);
  auto add = cni.add(list, pods[0]->rt);
  NN_ASSERT_OK(add);
  EXPECT_FALSE(add->ok());
  ASSERT_EQ(add->steps.size(), 1u) << add->describe();  // VERSION only, no ADD exec
  EXPECT_NE(add->json.value("msg", "").find("does not support config version"), std::string::npos)
      << add->describe();
}

// Helpers for the teardown tests below: they run this binary again on one DISABLED_ test that fails or dies on
// purpose, then look for namespaces carrying the child's pid.
TEST_F(HarnessSmokeTest, DISABLED_FailsOnPurposeAfterAdd) {
  std::printf("child-pid=%d\n", ::getpid());
  std::fflush(stdout);
  auto pods = addPods(2);
  CniRunner cni = env().runner(referenceCniPath());
  (void)cni.add(crioConflist(), pods[0]->rt);
  ASSERT_TRUE(false) << "failing on purpose";
}

TEST_F(HarnessSmokeTest, DISABLED_KilledOnPurpose) {
  std::printf("child-pid=%d\n", ::getpid());
  std::fflush(stdout);
  addPods(2);
  ::raise(SIGKILL);
}

int childPid(const std::string& out) {
  auto pos = out.find("child-pid=");
  return pos == std::string::npos ? -1 : std::atoi(out.c_str() + pos + 10);
}

Result<RunResult> runSelf(const std::string& test) {
  RunOptions o;
  o.timeout = std::chrono::seconds(60);
  return run({"/proc/self/exe", "--gtest_also_run_disabled_tests", "--gtest_filter=HarnessSmokeTest." + test}, o);
}

TEST(TeardownTest, FailedTestLeavesNoNamespace) {
  if (!isRoot() || !hasPlugins(referenceCniPath(), {"bridge", "host-local"})) GTEST_SKIP() << "needs root";
  auto r = runSelf("DISABLED_FailsOnPurposeAfterAdd");
  NN_ASSERT_OK(r);
  EXPECT_EQ(r->exitCode, 1) << r->describe();
  const int pid = childPid(r->out);
  ASSERT_GT(pid, 0) << r->out;
  EXPECT_NE(r->out.find("failing on purpose"), std::string::npos);
  EXPECT_TRUE(listNetns(strCat("nnt-cni-", pid, "-")).empty());
}

TEST(TeardownTest, KilledRunIsCleanedByTheNextRun) {
  if (!isRoot()) GTEST_SKIP() << "needs root";
  auto r = runSelf("DISABLED_KilledOnPurpose");
  NN_ASSERT_OK(r);
  EXPECT_EQ(r->termSignal, SIGKILL) << r->describe();
  const int pid = childPid(r->out);
  ASSERT_GT(pid, 0) << r->out;
  const std::string theirs = strCat("nnt-cni-", pid, "-");
  EXPECT_EQ(listNetns(theirs).size(), 3u);  // node + 2 pods survive a SIGKILL...
  removeStaleNetns("nnt-cni-");              // ...until the next run's SetUp does this
  removeStaleTempDirs();
  EXPECT_TRUE(listNetns(theirs).empty());
}

TEST(CniRunnerTest, RefusesToRunWithoutNodeNamespace) {
  CniRunner cni(CniRunnerOptions{referenceCniPath(), ""});
  auto v = cni.version("bridge");
  EXPECT_FALSE(v.ok());
}

TEST(CniRunnerTest, BuildsPluginConfigLikeLibcni) {
  auto list = Conflist::parse(R"({"cniVersion":"1.0.0","name":"n","plugins":[
      {"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]})");
  NN_ASSERT_OK(list);
  RuntimeConf rt;
  rt.capabilityArgs = {{"portMappings", nlohmann::json::array({{{"hostPort", 80}}})}, {"bandwidth", 1}};
  auto prev = nlohmann::json{{"cniVersion", "1.0.0"}, {"ips", nlohmann::json::array()}};
  auto c0 = CniRunner::buildPluginConfig(*list, list->plugins[0], nullptr, rt);
  EXPECT_EQ(c0, nlohmann::json::parse(R"({"type":"bridge","name":"n","cniVersion":"1.0.0"})"));
  auto c1 = CniRunner::buildPluginConfig(*list, list->plugins[1], prev, rt);
  EXPECT_EQ(c1["prevResult"], prev);
  EXPECT_EQ(c1["runtimeConfig"], nlohmann::json::parse(R"({"portMappings":[{"hostPort":80}]})"));
}

}  // namespace
}  // namespace nodenet::itest
