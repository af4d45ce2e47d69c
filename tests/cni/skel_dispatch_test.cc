// The dispatcher end to end with injected env/stdin/stdout: exit status, result and error JSON.
#include <gtest/gtest.h>

#include <sstream>

#include "cni/skel/dispatcher.h"

namespace nodenet::cni {
namespace {

Env env(const char* cmd) {
  return {{"CNI_COMMAND", cmd}, {"CNI_CONTAINERID", "c1"}, {"CNI_NETNS", "/var/run/netns/c1"},
          {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/opt/cni/bin"}};
}

PluginFuncs funcs(std::vector<std::string>* calls) {
  PluginFuncs f;
  f.add = [calls](const CmdArgs& a, const NetConf& c) -> CniResult<AddResult> {
    calls->push_back("ADD " + a.containerId + " " + c.name);
    AddResult r;
    r.ips.push_back({std::nullopt, *Cidr::parse("10.0.0.5/24"), *IpAddress::parse("10.0.0.1")});
    return r;
  };
  f.del = [calls](const CmdArgs&, const NetConf&) -> CniStatus {
    calls->push_back("DEL");
    return {};
  };
  f.check = [calls](const CmdArgs&, const NetConf&) -> CniStatus {
    calls->push_back("CHECK");
    return Error{kErrUnknownContainer, "no such container", "c1"};
  };
  f.gc = [calls](const CmdArgs&, const NetConf& c) -> CniStatus {
    calls->push_back("GC " + std::to_string(c.validAttachments.size()));
    return {};
  };
  f.status = [calls](const CmdArgs&, const NetConf&) -> CniStatus {
    calls->push_back("STATUS");
    return Error{kErrNotAvailable, "out of addresses", {}};
  };
  return f;
}

struct Run {
  int rc;
  std::string out, err;
};

Run run(const Env& e, const std::string& in, std::vector<std::string>* calls) {
  std::ostringstream out, err;
  int rc = dispatch(e, in, out, err, funcs(calls), "nodenet test plugin");
  return {rc, out.str(), err.str()};
}

TEST(SkelDispatch, AddRendersInConfigVersion) {
  std::vector<std::string> calls;
  auto r = run(env("ADD"), R"({"cniVersion": "0.4.0", "name": "net", "type": "x"})", &calls);
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(calls, std::vector<std::string>{"ADD c1 net"});
  EXPECT_NE(r.out.find("\"version\": \"4\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"cniVersion\": \"0.4.0\""), std::string::npos);
}

TEST(SkelDispatch, VersionOutput) {
  std::vector<std::string> calls;
  auto r = run({{"CNI_COMMAND", "VERSION"}}, "", &calls);
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out.substr(0, 26), "{\"cniVersion\":\"1.1.0\",\"sup");
}

TEST(SkelDispatch, NoCommandPrintsAbout) {
  std::vector<std::string> calls;
  auto r = run({}, "", &calls);
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "nodenet test plugin\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n");
  EXPECT_EQ(r.out, "");
}

TEST(SkelDispatch, ErrorJson) {
  std::vector<std::string> calls;
  auto r = run(env("CHECK"), R"({"cniVersion": "1.0.0", "name": "net", "type": "x"})", &calls);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, R"({
    "cniVersion": "1.0.0",
    "code": 3,
    "msg": "no such container",
    "details": "c1"
})");
}

TEST(SkelDispatch, UnsupportedVersionIsCode1) {
  std::vector<std::string> calls;
  auto r = run(env("ADD"), R"({"cniVersion": "0.5.0", "name": "net", "type": "x"})", &calls);
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(calls.empty());
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["code"], 1);
  EXPECT_EQ(j["cniVersion"], "1.1.0");
  EXPECT_EQ(j["msg"], "incompatible CNI versions");
}

TEST(SkelDispatch, CommandVersionGates) {
  std::vector<std::string> calls;
  auto chk = run(env("CHECK"), R"({"cniVersion": "0.3.1", "name": "net", "type": "x"})", &calls);
  EXPECT_EQ(nlohmann::json::parse(chk.out)["msg"], "config version does not allow CHECK");
  auto gc = run({{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/x"}}, R"({"cniVersion": "1.0.0", "name": "net", "type": "x"})",
                &calls);
  EXPECT_EQ(nlohmann::json::parse(gc.out)["code"], 1);
  EXPECT_EQ(nlohmann::json::parse(gc.out)["msg"], "config version does not allow GC");
  auto st = run({{"CNI_COMMAND", "STATUS"}, {"CNI_PATH", "/x"}}, R"({"cniVersion": "0.4.0", "name": "net", "type": "x"})",
                &calls);
  EXPECT_EQ(nlohmann::json::parse(st.out)["msg"], "config version does not allow STATUS");
  EXPECT_TRUE(calls.empty());
  auto gc11 = run({{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/x"}},
                  R"({"cniVersion": "1.1.0", "name": "net", "type": "x",
                      "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}]})", &calls);
  EXPECT_EQ(gc11.rc, 0);
  EXPECT_EQ(gc11.out, "");
  auto st11 = run({{"CNI_COMMAND", "STATUS"}, {"CNI_PATH", "/x"}}, R"({"cniVersion": "1.1.0", "name": "net", "type": "x"})",
                  &calls);
  EXPECT_EQ(st11.rc, 1);
  EXPECT_EQ(nlohmann::json::parse(st11.out)["code"], 50);
  EXPECT_EQ(calls, (std::vector<std::string>{"GC 1", "STATUS"}));
}

TEST(SkelDispatch, ConfigErrors) {
  std::vector<std::string> calls;
  EXPECT_EQ(nlohmann::json::parse(run(env("ADD"), "{", &calls).out)["code"], 6);
  EXPECT_EQ(nlohmann::json::parse(run(env("ADD"), R"({"type": "x"})", &calls).out)["msg"], "missing network name");
  EXPECT_EQ(nlohmann::json::parse(run(env("DEL"), R"({"name": "../x", "type": "x"})", &calls).out)["code"], 7);
  Env bad = env("ADD");
  bad["CNI_CONTAINERID"] = "../../etc";
  EXPECT_EQ(nlohmann::json::parse(run(bad, R"({"name": "n", "type": "x"})", &calls).out)["code"], 4);
  EXPECT_TRUE(calls.empty());
}

TEST(SkelDispatch, DelSucceedsSilently) {
  std::vector<std::string> calls;
  Env e = env("DEL");
  e.erase("CNI_NETNS");
  auto r = run(e, R"({"cniVersion": "1.1.0", "name": "net", "type": "x"})", &calls);
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(calls, std::vector<std::string>{"DEL"});
}

}  // namespace
}  // namespace nodenet::cni
