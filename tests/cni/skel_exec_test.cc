// Delegated plugin execution with small shell-script plugins in a temp CNI_PATH.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "cni/skel/exec.h"

namespace nodenet::cni {
namespace {

namespace fs = std::filesystem;

class ExecTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nodenet-exec-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void plugin(const std::string& name, const std::string& body) {
    fs::path p = dir_ / name;
    std::ofstream(p) << "#!/bin/sh\n" << body;
    chmod(p.c_str(), 0755);
  }
  Env env() const { return {{"CNI_COMMAND", "ADD"}, {"CNI_PATH", "/nonexistent:" + dir_.string()}, {"CNI_IFNAME", "eth0"}}; }
  fs::path dir_;
};

TEST_F(ExecTest, DelegateAddParsesResultAndPassesEnvAndStdin) {
  // Reads the config from stdin, answers with a 0.4.0 result naming the command and ifname it saw.
  plugin("fake-ipam",
         "read conf\n"
         "echo '{\"cniVersion\": \"0.4.0\", \"ips\": [{\"version\": \"4\", \"address\": \"10.7.0.5/24\", "
         "\"gateway\": \"10.7.0.1\"}], \"dns\": {\"domain\": \"'$CNI_COMMAND-$CNI_IFNAME'\"}}'\n");
  auto r = delegateAdd("fake-ipam", env(), "{\"name\": \"n\"}\n", "0.4.0");
  ASSERT_TRUE(r.ok()) << r.error().toString();
  ASSERT_EQ(r->ips.size(), 1u);
  EXPECT_EQ(r->ips[0].address.toString(), "10.7.0.5/24");
  EXPECT_EQ(r->dns.domain, "ADD-eth0");
}

TEST_F(ExecTest, ErrorJsonIsMapped) {
  plugin("bad", "cat >/dev/null; echo '{\"cniVersion\": \"1.0.0\", \"code\": 11, \"msg\": \"busy\", \"details\": \"later\"}'; exit 1\n");
  auto st = delegateCommand(Command::Del, "bad", env(), "{}");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, 11u);
  EXPECT_EQ(st.error().msg, "busy");
  EXPECT_EQ(st.error().details, "later");
}

TEST_F(ExecTest, NonJsonFailure) {
  plugin("crash", "echo oops >&2; exit 3\n");
  auto st = delegateCommand(Command::Check, "crash", env(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, 999u);
  EXPECT_EQ(st.error().msg, "netplugin failed: \"oops\n\": exit status 3");
}

TEST_F(ExecTest, NotFoundAndInvalidName) {
  EXPECT_EQ(delegateCommand(Command::Del, "missing", env(), "").error().msg,
            "failed to find plugin \"missing\" in path [/nonexistent " + dir_.string() + "]");
  EXPECT_EQ(findPlugin("../x", {"/tmp"}).error().message(), "invalid plugin name: ../x");
  EXPECT_EQ(delegateEnv({{"CNI_COMMAND", "ADD"}, {"A", "1"}}, Command::Del),
            (std::vector<std::string>{"A=1", "CNI_COMMAND=DEL"}));
}

}  // namespace
}  // namespace nodenet::cni
