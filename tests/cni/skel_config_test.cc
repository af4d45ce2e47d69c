// Network configuration parsing: common keys, conflists, version negotiation helpers.
#include <gtest/gtest.h>

#include "cni/skel/config.h"
#include "cni/skel/version.h"

namespace nodenet::cni {
namespace {

TEST(SkelConfig, FullConfig) {
  auto r = parseNetConf(R"({
    "cniVersion": "1.1.0", "name": "podman", "type": "bridge", "ipMasq": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]]},
    "dns": {"nameservers": ["10.0.0.10"], "domain": "cluster.local", "search": ["a.b"], "options": ["ndots:5"]},
    "runtimeConfig": {"ips": ["10.88.0.9", "fd00::9/64"], "mac": "aa:bb:cc:dd:ee:ff", "portMappings": []},
    "args": {"cni": {"ips": ["10.88.0.7"], "mac": "02:00:00:00:00:01"}},
    "cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}],
    "prevResult": {"cniVersion": "1.1.0", "ips": [{"address": "10.88.0.5/16", "gateway": "10.88.0.1"}]}
  })");
  ASSERT_TRUE(r.ok()) << r.error().toString();
  EXPECT_EQ(r->cniVersion, "1.1.0");
  EXPECT_EQ(r->name, "podman");
  EXPECT_EQ(r->type, "bridge");
  EXPECT_TRUE(r->ipMasq);
  EXPECT_EQ(r->ipamType, "host-local");
  EXPECT_EQ(r->dns.nameservers, std::vector<std::string>{"10.0.0.10"});
  EXPECT_EQ(r->dns.domain, "cluster.local");
  EXPECT_EQ(r->runtimeConfig.ips, (std::vector<std::string>{"10.88.0.9", "fd00::9/64"}));
  EXPECT_EQ(r->runtimeConfig.mac, "aa:bb:cc:dd:ee:ff");
  EXPECT_TRUE(r->runtimeConfig.raw.contains("portMappings"));
  EXPECT_EQ(r->argsCniIps, std::vector<std::string>{"10.88.0.7"});
  EXPECT_EQ(r->argsCniMac, "02:00:00:00:00:01");
  ASSERT_EQ(r->validAttachments.size(), 1u);
  EXPECT_EQ(r->validAttachments[0], (GcAttachment{"c1", "eth0"}));
  ASSERT_TRUE(r->prevResult);
  ASSERT_EQ(r->prevResult->ips.size(), 1u);
  EXPECT_EQ(r->prevResult->ips[0].address.toString(), "10.88.0.5/16");
}

TEST(SkelConfig, Defaults) {
  auto r = parseNetConf(R"({"name": "n", "type": "loopback"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cniVersion, "0.1.0");
  EXPECT_EQ(r->ipamType, "");
  EXPECT_FALSE(r->prevResult);
}

struct BadConf {
  const char* json;
  unsigned code;
};

TEST(SkelConfig, EveryError) {
  const BadConf cases[] = {
      {"not json", 6},
      {"[]", 6},
      {R"({"type": "bridge"})", 7},                              // missing name
      {R"({"name": "../evil", "type": "bridge"})", 7},           // escaping name
      {R"({"name": "a/b", "type": "bridge"})", 7},
      {R"({"name": "n"})", 7},                                   // missing type
      {R"({"name": 5, "type": "bridge"})", 6},                   // wrong JSON type
      {R"({"name": "n", "type": "bridge", "ipMasq": "yes"})", 6},
      {R"({"name": "n", "type": "bridge", "ipam": []})", 6},
      {R"({"name": "n", "type": "bridge", "dns": {"nameservers": "1.1.1.1"}})", 6},
      {R"({"name": "n", "type": "bridge", "runtimeConfig": {"ips": ["nope"]}})", 7},
      {R"({"name": "n", "type": "bridge", "args": {"cni": {"ips": ["10.0.0.1/99"]}}})", 7},
      {R"({"name": "n", "type": "bridge", "cni.dev/valid-attachments": {}})", 6},
      {R"({"cniVersion": "1.0.0", "name": "n", "type": "bridge", "prevResult": {"ips": [{"address": "x"}]}})", 7},
      {R"({"cniVersion": "9.9.9", "name": "n", "type": "bridge", "prevResult": {}})", 1},
  };
  for (const auto& c : cases) {
    auto r = parseNetConf(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code, c.code) << c.json << ": " << r.error().toString();
  }
}

TEST(SkelConfig, PrevResultFromOlderVersionsConverts) {
  auto r = parseNetConf(R"({"cniVersion": "0.2.0", "name": "n", "type": "portmap",
    "prevResult": {"ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0"}]}}})");
  ASSERT_TRUE(r.ok()) << r.error().toString();
  ASSERT_EQ(r->prevResult->ips.size(), 1u);
  EXPECT_EQ(r->prevResult->ips[0].gateway->toString(), "10.1.0.1");
  EXPECT_EQ(r->prevResult->routes.size(), 1u);
}

TEST(SkelConfigList, VersionsAndPlugins) {
  auto l = parseNetConfList(R"({"cniVersion": "1.0.0", "cniVersions": ["0.4.0", "1.1.0", "2.0.0"],
    "name": "net", "disableGC": true,
    "plugins": [{"type": "bridge", "bridge": "cni0"}, {"type": "portmap"}]})");
  ASSERT_TRUE(l.ok()) << l.error().toString();
  EXPECT_EQ(l->effectiveVersion(), "1.1.0");
  EXPECT_TRUE(l->disableGc);
  EXPECT_FALSE(l->disableCheck);
  auto c = l->pluginConfig(0);
  EXPECT_EQ(c["cniVersion"], "1.1.0");
  EXPECT_EQ(c["name"], "net");
  EXPECT_EQ(c["bridge"], "cni0");
  auto noVersions = parseNetConfList(R"({"cniVersion": "0.4.0", "name": "net", "plugins": [{"type": "x"}]})");
  EXPECT_EQ(noVersions->effectiveVersion(), "0.4.0");
  EXPECT_EQ(parseNetConfList(R"({"name": "net", "plugins": []})").error().code, 7u);
  EXPECT_EQ(parseNetConfList(R"({"plugins": [{"type": "x"}]})").error().code, 7u);
  EXPECT_EQ(parseNetConfList(R"({"name": "n", "plugins": [{"x": 1}]})").error().code, 7u);
}

TEST(SkelVersion, Negotiation) {
  EXPECT_EQ(supportedVersions().size(), 7u);
  for (const char* v : {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) EXPECT_TRUE(isSupportedVersion(v));
  EXPECT_FALSE(isSupportedVersion("1.2.0"));
  EXPECT_FALSE(isSupportedVersion("1.1"));
  auto e = checkVersionSupported("0.5.0");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, 1u);
  EXPECT_EQ(e.error().msg, "incompatible CNI versions");
  EXPECT_EQ(e.error().details,
            "config is \"0.5.0\", plugin supports [\"0.1.0\" \"0.2.0\" \"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]");
  EXPECT_EQ(*compareVersions("0.10.0", "0.9.0"), 1);
  EXPECT_EQ(*compareVersions("1.0.0", "1.0.0"), 0);
  EXPECT_TRUE(*versionAtLeast("1.1.0", "0.4.0"));
  EXPECT_FALSE(*versionAtLeast("0.3.1", "0.4.0"));
  EXPECT_FALSE(compareVersions("1.0", "1.0.0").ok());
  EXPECT_EQ(*decodeConfigVersion("{}"), "0.1.0");
  EXPECT_EQ(*decodeConfigVersion(R"({"cniVersion": ""})"), "0.1.0");
  EXPECT_EQ(decodeConfigVersion("x").error().code, 6u);
  EXPECT_EQ(versionJson(),
            "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\","
            "\"1.0.0\",\"1.1.0\"]}\n");
}

}  // namespace
}  // namespace nodenet::cni
