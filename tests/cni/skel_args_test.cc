// CNI environment and CNI_ARGS parsing (reference: containernetworking/cni pkg/skel, pkg/utils, pkg/types/args.go).
#include <gtest/gtest.h>

#include "cni/skel/args.h"

namespace nodenet::cni {
namespace {

Env addEnv() {
  return {{"CNI_COMMAND", "ADD"}, {"CNI_CONTAINERID", "abc123"}, {"CNI_NETNS", "/var/run/netns/x"},
          {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/opt/cni/bin:/usr/lib/cni"}, {"CNI_ARGS", "IgnoreUnknown=1"}};
}

TEST(SkelArgs, AddComplete) {
  auto r = parseCmdArgs(addEnv(), "{}");
  ASSERT_TRUE(r.ok()) << r.error().msg;
  EXPECT_EQ(r->command, Command::Add);
  EXPECT_EQ(r->containerId, "abc123");
  EXPECT_EQ(r->ifName, "eth0");
  EXPECT_EQ(r->stdinData, "{}");
  EXPECT_EQ(r->cniPath(), (std::vector<std::string>{"/opt/cni/bin", "/usr/lib/cni"}));
}

TEST(SkelArgs, MissingListsAllInReferenceOrder) {
  auto r = parseCmdArgs({{"CNI_COMMAND", "ADD"}}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 4u);
  EXPECT_EQ(r.error().msg, "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing");
}

TEST(SkelArgs, NoCommand) {
  auto r = parseCmdArgs({}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().msg, "required env variables [CNI_COMMAND] missing");
}

TEST(SkelArgs, DelDoesNotNeedNetns) {
  Env e = addEnv();
  e["CNI_COMMAND"] = "DEL";
  e.erase("CNI_NETNS");
  EXPECT_TRUE(parseCmdArgs(e, "{}").ok());
  e["CNI_COMMAND"] = "CHECK";
  EXPECT_FALSE(parseCmdArgs(e, "{}").ok());
}

TEST(SkelArgs, GcAndStatusNeedOnlyPath) {
  for (const char* c : {"GC", "STATUS"}) {
    EXPECT_TRUE(parseCmdArgs({{"CNI_COMMAND", c}, {"CNI_PATH", "/x"}}, "{}").ok()) << c;
    auto r = parseCmdArgs({{"CNI_COMMAND", c}}, "{}");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().msg, "required env variables [CNI_PATH] missing");
  }
}

TEST(SkelArgs, VersionNeedsNothingAndDropsStdin) {
  auto r = parseCmdArgs({{"CNI_COMMAND", "VERSION"}}, "garbage");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdinData, "");
}

TEST(SkelArgs, UnknownCommand) {
  auto r = parseCmdArgs({{"CNI_COMMAND", "FROB"}}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 4u);
  EXPECT_EQ(r.error().msg, "unknown CNI_COMMAND: FROB");
}

TEST(SkelArgs, ContainerIdValidation) {
  for (const char* bad : {"../etc", "a/b", "..", ".hidden", "a b", "-x"}) {
    Env e = addEnv();
    e["CNI_CONTAINERID"] = bad;
    auto r = parseCmdArgs(e, "{}");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, 4u);
    EXPECT_EQ(r.error().msg, "invalid characters in containerID");
    EXPECT_EQ(r.error().details, bad);
  }
  EXPECT_EQ(validateContainerId("").error().code, 3u);
  EXPECT_TRUE(validateContainerId("a.b-c_D9").ok());
}

TEST(SkelArgs, NetworkNameValidation) {
  EXPECT_TRUE(validateNetworkName("cni-podman0.x_y").ok());
  EXPECT_EQ(validateNetworkName("").error().code, 7u);
  auto r = validateNetworkName("../x");
  EXPECT_EQ(r.error().code, 7u);
  EXPECT_EQ(r.error().msg, "invalid characters found in network name");
  EXPECT_FALSE(validateNetworkName("a/b").ok());
  EXPECT_FALSE(validateNetworkName("..").ok());
}

TEST(SkelArgs, InterfaceNameValidation) {
  EXPECT_TRUE(validateInterfaceName("eth0").ok());
  EXPECT_EQ(validateInterfaceName("").error().msg, "interface name is empty");
  EXPECT_EQ(validateInterfaceName("0123456789abcdef").error().msg, "interface name is too long");
  EXPECT_TRUE(validateInterfaceName("0123456789abcde").ok());
  EXPECT_EQ(validateInterfaceName("..").error().msg, "interface name is . or ..");
  for (const char* bad : {"a/b", "a:b", "a b", "a\tb"})
    EXPECT_EQ(validateInterfaceName(bad).error().msg, "interface name contains / or : or whitespace characters");
  Env e = addEnv();
  e["CNI_IFNAME"] = "a/b";
  EXPECT_EQ(parseCmdArgs(e, "{}").error().code, 4u);
}

TEST(SkelCniArgs, KnownKeys) {
  auto r = parseCniArgs("IP=10.1.2.3;MAC=aa:bb:cc:dd:ee:ff;K8S_POD_NAME=web");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->get("IP"), "10.1.2.3");
  EXPECT_EQ(r->get("MAC"), "aa:bb:cc:dd:ee:ff");
  EXPECT_EQ(r->get("K8S_POD_NAME"), "web");
  EXPECT_FALSE(r->get("K8S_POD_UID"));
  EXPECT_FALSE(r->ignoreUnknown);
}

TEST(SkelCniArgs, UnknownIsAnErrorUnlessIgnoreUnknown) {
  auto r = parseCniArgs("FOO=bar;IP=10.0.0.1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "ARGS: unknown args [\"FOO=bar\"]");
  for (const char* t : {"IgnoreUnknown=1;FOO=bar", "FOO=bar;IgnoreUnknown=true", "FOO=bar;IgnoreUnknown=TRUE"}) {
    auto ok = parseCniArgs(t);
    ASSERT_TRUE(ok.ok()) << t;
    EXPECT_TRUE(ok->ignoreUnknown);
    EXPECT_EQ(ok->get("FOO"), "bar");
  }
  EXPECT_FALSE(parseCniArgs("IgnoreUnknown=0;FOO=bar").ok());
  // Keys are case-sensitive like Go's reflect FieldByName.
  EXPECT_FALSE(parseCniArgs("ip=10.0.0.1").ok());
}

TEST(SkelCniArgs, MalformedPairs) {
  EXPECT_EQ(parseCniArgs("IP").error().message(), "ARGS: invalid pair \"IP\"");
  EXPECT_EQ(parseCniArgs("IP=a=b").error().message(), "ARGS: invalid pair \"IP=a=b\"");
  EXPECT_FALSE(parseCniArgs("IP=1;").ok());  // a trailing ';' makes an empty pair, as in the reference
  EXPECT_FALSE(parseCniArgs("IgnoreUnknown=maybe").ok());
  EXPECT_TRUE(parseCniArgs("").ok());
}

TEST(SkelCniArgs, CustomKnownKeys) {
  EXPECT_FALSE(parseCniArgs("MAC=x", {"IP"}).ok());
  EXPECT_TRUE(parseCniArgs("IP=x", {"IP"}).ok());
}

}  // namespace
}  // namespace nodenet::cni
