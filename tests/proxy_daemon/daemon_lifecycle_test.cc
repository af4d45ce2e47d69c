// Root-only: the nodenet-proxy binary's process behaviour inside a throwaway network namespace (label
// integration; traffic tests live in integration/proxy). What is checked here is the daemon's own contract:
// it programs `ip nodenet` from --manifests and follows file changes, SIGTERM exits 0 and LEAVES the rules,
// --cleanup removes only our tables, a bad config or a busy health port exits 1 before touching nftables, and
// --logging-format=json writes JSON lines.
//
// IP plan: node namespace with lo only; ClusterIPs 10.96.0.x; pods 10.85.0.x (no pods: rules only).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "integration/harness/netns.h"
#include "integration/harness/paths.h"
#include "integration/harness/process.h"

namespace nodenet {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The daemon running in the background inside a namespace; SIGKILLed by the destructor if still running.
class Daemon {
 public:
  static std::unique_ptr<Daemon> start(const std::string& netnsPath, std::vector<std::string> argv,
                                       const std::string& logPath) {
    int nsFd = ::open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsFd < 0) return nullptr;
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::setns(nsFd, CLONE_NEWNET) != 0) _exit(126);
      int logFd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (logFd < 0) _exit(126);
      ::dup2(logFd, 2);
      ::dup2(logFd, 1);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      _exit(127);
    }
    ::close(nsFd);
    if (pid < 0) return nullptr;
    auto d = std::unique_ptr<Daemon>(new Daemon);
    d->pid_ = pid;
    return d;
  }
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  /// Sends `sig` and waits (bounded) for the exit; returns the exit status, or -1 on timeout (then killed).
  int signalAndWait(int sig, std::chrono::milliseconds timeout = 10s) {
    ::kill(pid_, sig);
    return waitExit(timeout);
  }
  /// Waits (bounded) for the process to exit by itself; -1 on timeout.
  int waitExit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  Daemon() = default;
  pid_t pid_ = 0;
};

class DaemonLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    binary_ = itest::ourBinary("nodenet-proxy");
    if (::access(binary_.c_str(), X_OK) != 0) GTEST_SKIP() << binary_ << " is not built";
    auto ns = itest::TestNetns::create("nnt-pd-");
    ASSERT_TRUE(ns.ok()) << ns.error().message();
    ns_ = std::move(*ns);
    char tmpl[] = "/tmp/nnt-pd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ + "/manifests");
    fs::copy_file(itest::sourceDir() + "/conf/demo/services.yaml", dir_ + "/manifests/services.yaml");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs a command in the namespace to completion.
  itest::RunResult nsRun(const std::vector<std::string>& argv) {
    auto r = ns_.exec(argv);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? *r : itest::RunResult{};
  }
  std::string nft(const std::string& args) {
    std::vector<std::string> argv = {"nft"};
    std::istringstream in(args);
    for (std::string w; in >> w;) argv.push_back(w);
    return nsRun(argv).out;
  }
  // Polls (bounded) until `nft list ...` output contains `needle`.
  bool waitForNft(const std::string& args, const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (nft(args).find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  std::vector<std::string> daemonArgs(std::vector<std::string> extra) {
    std::vector<std::string> argv = {binary_,
                                     "--manifests=" + dir_ + "/manifests",
                                     "--hostname-override=demo-node",
                                     "--cluster-cidr=10.85.0.0/16",
                                     "--healthz-bind-address=127.0.0.1:0",
                                     "--metrics-bind-address=127.0.0.1:0",
                                     "--v=2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  std::string binary_;
  itest::TestNetns ns_;
  std::string dir_;
};

TEST_F(DaemonLifecycleTest, ProgramsFollowsLeavesRulesOnSigtermAndCleansOnlyItsTables) {
  // Tables that belong to others: nodenet must never touch them.
  nsRun({"nft", "add", "table", "ip", "other"});
  nsRun({"nft", "add", "table", "inet", "nodenet-cni"});
  auto d = Daemon::start(ns_.path(), daemonArgs({}), dir_ + "/proxy.log");
  ASSERT_TRUE(d);
  ASSERT_TRUE(waitForNft("list map ip nodenet endpoints", "10.96.0.10 . tcp . 80 . ")) << readAll(dir_ + "/proxy.log");

  // A new manifest file becomes rules (the source's inotify -> cache -> proxier).
  {
    std::ofstream f(dir_ + "/manifests/extra.yaml");
    f << "apiVersion: v1\nkind: Service\nmetadata: {name: extra, namespace: demo}\n"
         "spec:\n  clusterIP: 10.96.0.99\n  ports:\n    - port: 8080\n";
  }
  EXPECT_TRUE(waitForNft("list set ip nodenet cluster-ips", "10.96.0.99")) << readAll(dir_ + "/proxy.log");

  EXPECT_EQ(d->signalAndWait(SIGTERM), 0) << readAll(dir_ + "/proxy.log");
  std::string log = readAll(dir_ + "/proxy.log");
  EXPECT_THAT(log, HasSubstr("stopping (the rules stay in place)"));
  EXPECT_THAT(nft("list map ip nodenet endpoints"), HasSubstr("10.96.0.10 . tcp . 80 . ")) << "rules left in place";

  auto cleanup = nsRun({binary_, "--cleanup"});
  EXPECT_EQ(cleanup.exitCode, 0) << cleanup.err;
  std::string tables = nft("list tables");
  EXPECT_THAT(tables, Not(HasSubstr("table ip nodenet\n")));
  EXPECT_THAT(tables, HasSubstr("table ip other"));
  EXPECT_THAT(tables, HasSubstr("table inet nodenet-cni"));
  // A second --cleanup with nothing to remove succeeds too.
  EXPECT_EQ(nsRun({binary_, "--cleanup"}).exitCode, 0);
}

TEST_F(DaemonLifecycleTest, RestartReplacesItsOwnStateAtomically) {
  auto d1 = Daemon::start(ns_.path(), daemonArgs({}), dir_ + "/proxy1.log");
  ASSERT_TRUE(d1);
  ASSERT_TRUE(waitForNft("list map ip nodenet endpoints", "10.96.0.11 . tcp . 443 . "));
  ASSERT_EQ(d1->signalAndWait(SIGINT), 0);
  // While it was down, a Service went away: the next run's first (full) sync must drop it.
  fs::remove(dir_ + "/manifests/services.yaml");
  {
    std::ofstream f(dir_ + "/manifests/only.yaml");
    f << "apiVersion: v1\nkind: Service\nmetadata: {name: only, namespace: demo}\n"
         "spec:\n  clusterIP: 10.96.0.77\n  ports:\n    - port: 80\n";
  }
  auto d2 = Daemon::start(ns_.path(), daemonArgs({}), dir_ + "/proxy2.log");
  ASSERT_TRUE(d2);
  ASSERT_TRUE(waitForNft("list set ip nodenet cluster-ips", "10.96.0.77")) << readAll(dir_ + "/proxy2.log");
  EXPECT_THAT(nft("list set ip nodenet cluster-ips"), Not(HasSubstr("10.96.0.11")));
  EXPECT_EQ(d2->signalAndWait(SIGTERM), 0);
}

TEST_F(DaemonLifecycleTest, BadConfigExitsOneBeforeTouchingNftables) {
  {
    std::ofstream f(dir_ + "/config.yaml");
    f << "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n";
  }
  auto r = nsRun({binary_, "--config=" + dir_ + "/config.yaml", "--manifests=" + dir_ + "/manifests"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("config.yaml: mode: \"iptables\" is not supported"));
  auto flag = nsRun({binary_, "--nodeport-addresses=eth0"});
  EXPECT_EQ(flag.exitCode, 1);
  EXPECT_THAT(flag.err, HasSubstr("--nodeport-addresses: \"eth0\" is neither a CIDR nor \"primary\""));
  EXPECT_THAT(nft("list tables"), Not(HasSubstr("nodenet")));
  auto help = nsRun({binary_, "--help"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_THAT(help.out, HasSubstr("--healthz-bind-address"));
}

TEST_F(DaemonLifecycleTest, BusyHealthzPortExitsOne) {
  auto first = Daemon::start(ns_.path(), daemonArgs({"--healthz-bind-address=127.0.0.1:10256"}), dir_ + "/first.log");
  ASSERT_TRUE(first);
  ASSERT_TRUE(waitForNft("list tables", "table ip nodenet"));
  auto second = nsRun({binary_, "--manifests=" + dir_ + "/manifests", "--healthz-bind-address=127.0.0.1:10256",
                       "--metrics-bind-address="});
  EXPECT_EQ(second.exitCode, 1);
  EXPECT_THAT(second.err, HasSubstr("--healthz-bind-address 127.0.0.1:10256"));
  EXPECT_EQ(first->signalAndWait(SIGTERM), 0);
}

TEST_F(DaemonLifecycleTest, ConfigFileChangeExitsOneAndLeavesRules) {
  const std::string header = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";
  {
    std::ofstream f(dir_ + "/config.yaml");
    f << header << "nftables: {minSyncPeriod: 0s}\n";
  }
  auto d = Daemon::start(ns_.path(), daemonArgs({"--config=" + dir_ + "/config.yaml"}), dir_ + "/proxy.log");
  ASSERT_TRUE(d);
  ASSERT_TRUE(waitForNft("list tables", "table ip nodenet"));
  {
    std::ofstream f(dir_ + "/config.yaml");  // same bytes: no restart
    f << header << "nftables: {minSyncPeriod: 0s}\n";
  }
  EXPECT_EQ(d->waitExit(std::chrono::milliseconds(500)), -1) << "still running";
  {
    std::ofstream f(dir_ + "/config.yaml");
    f << header << "nftables: {masqueradeAll: true}\n";
  }
  EXPECT_EQ(d->waitExit(5s), 1);
  EXPECT_THAT(readAll(dir_ + "/proxy.log"), HasSubstr("config.yaml changed; exiting"));
  EXPECT_THAT(nft("list tables"), HasSubstr("table ip nodenet"));
}

TEST_F(DaemonLifecycleTest, JsonLogs) {
  auto d = Daemon::start(ns_.path(), daemonArgs({"--logging-format=json"}), dir_ + "/proxy.log");
  ASSERT_TRUE(d);
  ASSERT_TRUE(waitForNft("list tables", "table ip nodenet"));
  ASSERT_EQ(d->signalAndWait(SIGTERM), 0);
  std::istringstream lines(readAll(dir_ + "/proxy.log"));
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << line;
    ++n;
  }
  EXPECT_GE(n, 3);
}

}  // namespace
}  // namespace nodenet
