// kubeconfig and in-cluster config parsing. Files live in a per-test temp dir; no network.
#include "kube/client/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace nodenet::kube {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nodenet-kc-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

// "hello" in base64.
constexpr const char* kHello64 = "aGVsbG8=";

std::string kubeconfig(const std::string& clusterExtra, const std::string& userExtra) {
  return R"(apiVersion: v1
kind: Config
current-context: main
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: main
  context:
    cluster: c1
    user: u1
    namespace: kube-system
clusters:
- name: c0
  cluster: {server: "https://10.0.0.9"}
- name: c1
  cluster:
    server: https://10.96.0.1:6443
)" + clusterExtra +
         R"(users:
- name: u1
  user:
)" + userExtra;
}

TEST(Base64, DecodesAndRejects) {
  EXPECT_EQ(*decodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*decodeBase64("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(*decodeBase64(""), "");
  EXPECT_FALSE(decodeBase64("aGVsbG8").ok());
  EXPECT_FALSE(decodeBase64("aG!sbG8=").ok());
  EXPECT_FALSE(decodeBase64("a===").ok());
  EXPECT_FALSE(decodeBase64("aG=sbG8=").ok());
}

TEST(ServerUrl, Parses) {
  auto u = parseServerUrl("https://10.96.0.1:6443");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "10.96.0.1");
  EXPECT_EQ(u->port, 6443);
  u = parseServerUrl("http://[::1]:8080/");
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->hostPort(), "[::1]:8080");
  EXPECT_EQ(parseServerUrl("kube.example")->port, 443);
  EXPECT_FALSE(parseServerUrl("ftp://x").ok());
  EXPECT_FALSE(parseServerUrl("https://x:99999").ok());
  EXPECT_FALSE(parseServerUrl("https://x/prefix").ok());
  EXPECT_FALSE(parseServerUrl("https://::1").ok());
}

TEST(Kubeconfig, EveryFieldFromData) {
  TempDir dir;
  auto cfg = parseKubeconfig(kubeconfig("    certificate-authority-data: aGVsbG8=\n"
                                        "    insecure-skip-tls-verify: false\n"
                                        "    tls-server-name: api.internal\n",
                                        "    client-certificate-data: Y2VydA==\n"
                                        "    client-key-data: a2V5\n"
                                        "    token: abc\n"),
                             dir.path());
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_EQ(cfg->server, "https://10.96.0.1:6443");
  EXPECT_EQ(cfg->url.port, 6443);
  EXPECT_EQ(cfg->caPem, "hello");
  EXPECT_FALSE(cfg->insecureSkipTlsVerify);
  EXPECT_EQ(cfg->tlsServerName, "api.internal");
  EXPECT_EQ(cfg->clientCertPem, "cert");
  EXPECT_EQ(cfg->clientKeyPem, "key");
  EXPECT_EQ(cfg->token->token(), "abc");
  EXPECT_EQ(cfg->nameSpace, "kube-system");
}

TEST(Kubeconfig, RelativeFilesResolveAgainstItsDirectory) {
  TempDir dir;
  dir.write("pki/ca.crt", "CA PEM");
  dir.write("pki/client.crt", "CERT PEM");
  dir.write("/abs-key", "KEY PEM");
  dir.write("tok", "file-token\n");
  std::string text = kubeconfig(
      "    certificate-authority: pki/ca.crt\n    insecure-skip-tls-verify: true\n",
      "    client-certificate: pki/client.crt\n    client-key: " + dir.path() + "/abs-key\n    tokenFile: tok\n");
  std::string path = dir.write("sub/config", text);
  // The kubeconfig sits in sub/, so relative paths must resolve against sub/: move the files there.
  fs::rename(dir.path() + "/pki", dir.path() + "/sub/pki");
  fs::rename(dir.path() + "/tok", dir.path() + "/sub/tok");
  auto cfg = loadKubeconfig(path);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_EQ(cfg->caPem, "CA PEM");
  EXPECT_TRUE(cfg->insecureSkipTlsVerify);
  EXPECT_EQ(cfg->clientCertPem, "CERT PEM");
  EXPECT_EQ(cfg->clientKeyPem, "KEY PEM");
  EXPECT_EQ(cfg->token->token(), "file-token");
}

TEST(Kubeconfig, DataWinsOverFileAndTokenOverTokenFile) {
  TempDir dir;
  auto cfg =
      parseKubeconfig(kubeconfig("    certificate-authority-data: aGVsbG8=\n    certificate-authority: missing\n",
                                 "    token: lit\n    tokenFile: missing\n"),
                      dir.path());
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_EQ(cfg->caPem, "hello");
  EXPECT_EQ(cfg->token->token(), "lit");
}

TEST(Kubeconfig, ErrorsNameTheKeyPath) {
  TempDir dir;
  auto err = [&](const std::string& cluster, const std::string& user) {
    auto r = parseKubeconfig(kubeconfig(cluster, user), dir.path());
    return r.ok() ? std::string("OK") : r.error().message();
  };
  EXPECT_EQ(err("", "    client-certificate-data: Y2VydA==\n    client-key-data: '!!!'\n"),
            "users[0].user.client-key-data: invalid base64: length is not a multiple of 4");
  EXPECT_THAT(err("    certificate-authority-data: 'a$=='\n", ""),
              HasSubstr("clusters[1].cluster.certificate-authority-data: invalid base64"));
  EXPECT_THAT(err("    certificate-authority: nope.crt\n", ""),
              HasSubstr("clusters[1].cluster.certificate-authority: open " + dir.path() + "/nope.crt"));
  EXPECT_THAT(err("    insecure-skip-tls-verify: maybe\n", ""),
              HasSubstr("clusters[1].cluster.insecure-skip-tls-verify: expected true or false"));
  EXPECT_THAT(err("", "    client-certificate-data: Y2VydA==\n"), HasSubstr("users[0].user: client certificate"));
  EXPECT_THAT(err("", "    tokenFile: gone\n"), HasSubstr("users[0].user.tokenFile: open"));
  std::string badServer = kubeconfig("", "");
  badServer.replace(badServer.find("https://10.96.0.1:6443"), 22, "ftp://x");
  EXPECT_THAT(parseKubeconfig(badServer, "").error().message(),
              HasSubstr("clusters[1].cluster.server: server URL \"ftp://x\": scheme must be https or http"));

  EXPECT_THAT(parseKubeconfig("current-context: x\ncontexts: []\n", "").error().message(),
              HasSubstr("contexts: no entry named \"x\""));
  EXPECT_THAT(parseKubeconfig("contexts: []\n", "").error().message(), HasSubstr("current-context: missing"));
  EXPECT_THAT(parseKubeconfig("a: [b\n", "").error().message(), HasSubstr("invalid YAML"));
  EXPECT_THAT(
      parseKubeconfig("current-context: other\n" + kubeconfig("", "").substr(kubeconfig("", "").find("contexts")), "")
          .error()
          .message(),
      HasSubstr("clusters: no entry named \"nowhere\""));
  auto missing = loadKubeconfig(dir.path() + "/none");
  EXPECT_THAT(missing.error().message(), HasSubstr("kubeconfig: open " + dir.path() + "/none"));
  auto bad = dir.write("bad", kubeconfig("", "    client-key-data: x\n    client-certificate-data: x\n"));
  EXPECT_THAT(loadKubeconfig(bad).error().message(),
              HasSubstr("kubeconfig " + bad + ": users[0].user.client-certificate-data: invalid base64"));
}

TEST(Kubeconfig, ContextOverrideAndMaster) {
  TempDir dir;
  std::string text = kubeconfig("", "    token: t\n") + "- name: nobody\n  user: {token: t}\n";
  text.replace(text.find("{cluster: nowhere"), 17, "{cluster: c0");
  auto other = parseKubeconfig(text, dir.path(), "other");
  ASSERT_TRUE(other.ok()) << other.error().message();
  EXPECT_EQ(other->server, "https://10.0.0.9");
  auto cfg = parseKubeconfig(text, dir.path(), "main");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  ASSERT_TRUE(cfg->overrideServer("http://127.0.0.1:8080").ok());
  EXPECT_FALSE(cfg->url.tls);
  EXPECT_EQ(cfg->url.port, 8080);
  EXPECT_FALSE(cfg->overrideServer("gopher://x").ok());
  auto m = masterOnlyConfig("http://127.0.0.1:1");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->token->token(), "");
}

class InCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  }
  void TearDown() override {
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
  }
  TempDir dir_;
};

TEST_F(InCluster, ReadsEnvTokenCaAndNamespace) {
  dir_.write("token", "t1\n");
  dir_.write("ca.crt", "CA");
  dir_.write("namespace", "nodenet\n");
  auto cfg = inClusterConfig({dir_.path()});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_EQ(cfg->server, "https://[fd00::1]:443");
  EXPECT_EQ(cfg->url.host, "fd00::1");
  EXPECT_EQ(cfg->caPem, "CA");
  EXPECT_EQ(cfg->token->token(), "t1");
  EXPECT_EQ(cfg->nameSpace, "nodenet");
}

TEST_F(InCluster, ErrorsNameWhatIsMissing) {
  EXPECT_THAT(inClusterConfig({dir_.path()}).error().message(), HasSubstr("token: open " + dir_.path() + "/token"));
  dir_.write("token", "t");
  EXPECT_THAT(inClusterConfig({dir_.path()}).error().message(), HasSubstr("CA: open " + dir_.path() + "/ca.crt"));
  unsetenv("KUBERNETES_SERVICE_PORT");
  EXPECT_THAT(inClusterConfig({dir_.path()}).error().message(), HasSubstr("KUBERNETES_SERVICE_PORT"));
}

TEST_F(InCluster, TokenRotation) {
  dir_.write("token", "old");
  dir_.write("ca.crt", "CA");
  // A long interval: the rotated file is seen only on refresh() (what a 401 triggers).
  auto cfg = inClusterConfig({dir_.path(), std::chrono::seconds(3600)});
  ASSERT_TRUE(cfg.ok());
  dir_.write("token", "new");
  EXPECT_EQ(cfg->token->token(), "old");
  EXPECT_TRUE(cfg->token->refresh());
  EXPECT_EQ(cfg->token->token(), "new");
  EXPECT_FALSE(cfg->token->refresh());  // unchanged
  // A zero interval: every token() call re-reads.
  auto fast = inClusterConfig({dir_.path(), std::chrono::seconds(0)});
  ASSERT_TRUE(fast.ok());
  dir_.write("token", "newer");
  EXPECT_EQ(fast->token->token(), "newer");
  // A vanished file keeps the previous token.
  fs::remove(dir_.path() + "/token");
  EXPECT_EQ(fast->token->token(), "newer");
}

}  // namespace
}  // namespace nodenet::kube
