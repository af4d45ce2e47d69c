// nodenet-proxy's flags and KubeProxyConfiguration: defaults, precedence (defaults < --config < flags), and one
// precise error per bad value. Pure: config files come from an in-memory map, the hostname is a parameter.
#include "proxy/daemon/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace nodenet::proxy::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

class OptionsTest : public ::testing::Test {
 protected:
  Result<Options> load(std::vector<std::string> args, std::string hostname = "Node-1") {
    return loadOptions(
        args,
        [this](const std::string& path) -> Result<std::string> {
          auto it = files_.find(path);
          if (it == files_.end()) return Error::fromErrno(ENOENT, "open " + path);
          return it->second;
        },
        hostname);
  }
  std::string error(std::vector<std::string> args) {
    auto r = load(std::move(args));
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().message();
  }
  std::map<std::string, std::string> files_;
};

constexpr const char* kHeader =
    "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
    "kind: KubeProxyConfiguration\n";

TEST_F(OptionsTest, Defaults) {
  auto o = load({});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->nodeName, "node-1");  // kube-proxy lower-cases the hostname
  EXPECT_TRUE(o->kubeconfig.empty());
  EXPECT_TRUE(o->clusterCIDRs.empty());
  EXPECT_TRUE(o->nodePortAddresses.all());
  EXPECT_FALSE(o->masqueradeAll);
  EXPECT_EQ(o->masqueradeMark(), 0x4000u);
  EXPECT_EQ(o->syncPeriod, 30s);
  EXPECT_EQ(o->minSyncPeriod, 1s);
  ASSERT_TRUE(o->healthzBindAddress);
  EXPECT_EQ(o->healthzBindAddress->toString(), "0.0.0.0:10256");
  ASSERT_TRUE(o->metricsBindAddress);
  EXPECT_EQ(o->metricsBindAddress->toString(), "127.0.0.1:10249");
  EXPECT_EQ(o->verbosity, 0);
  EXPECT_EQ(o->loggingFormat, log::Format::Text);
  EXPECT_FALSE(o->cleanup);
  EXPECT_FALSE(o->help);
}

TEST_F(OptionsTest, EveryFlag) {
  auto o = load({"--kubeconfig=/etc/kp/kubeconfig", "--master", "https://10.0.0.1:6443", "--hostname-override",
                 " Worker-7 ", "--cluster-cidr=10.244.0.0/16, fd00:10:244::/56", "--nodeport-addresses",
                 "192.168.0.0/16,10.0.0.0/8", "--nodeport-addresses=fd00::/64", "--masquerade-all",
                 "--healthz-bind-address=[::]:9999", "--metrics-bind-address", "0.0.0.0", "-v", "4",
                 "--logging-format=json", "--cleanup=true", "--proxy-mode=nftables"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->kubeconfig, "/etc/kp/kubeconfig");
  EXPECT_EQ(o->master, "https://10.0.0.1:6443");
  EXPECT_EQ(o->nodeName, "worker-7");
  ASSERT_EQ(o->clusterCIDRs.size(), 2u);
  EXPECT_EQ(o->clusterCIDRs[0].toString(), "10.244.0.0/16");
  EXPECT_EQ(o->clusterCIDRs[1].toString(), "fd00:10:244::/56");
  // --nodeport-addresses is a string slice: repeated flags append (pflag).
  ASSERT_EQ(o->nodePortAddresses.cidrs.size(), 3u);
  EXPECT_EQ(o->nodePortAddresses.cidrs[2].toString(), "fd00::/64");
  EXPECT_THAT(o->nodePortAddressText, ElementsAre("192.168.0.0/16", "10.0.0.0/8", "fd00::/64"));
  EXPECT_TRUE(o->masqueradeAll);
  EXPECT_EQ(o->healthzBindAddress->toString(), "[::]:9999");
  EXPECT_EQ(o->metricsBindAddress->toString(), "0.0.0.0:10249");  // bare IP: the default port
  EXPECT_EQ(o->verbosity, 4);
  EXPECT_EQ(o->loggingFormat, log::Format::Json);
  EXPECT_TRUE(o->cleanup);
}

TEST_F(OptionsTest, ShortVerbosityForms) {
  EXPECT_EQ(load({"-v=3"})->verbosity, 3);
  EXPECT_EQ(load({"-v5"})->verbosity, 5);
  EXPECT_EQ(load({"--v", "2"})->verbosity, 2);
  EXPECT_EQ(load({"--v=2", "--v=6"})->verbosity, 6);  // last wins
}

TEST_F(OptionsTest, Help) {
  auto o = load({"--kubeconfig", "x", "-h"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_TRUE(load({"--help", "--cluster-cidr=garbage"})->help);  // help wins over validation
  std::string u = usage();
  for (const char* flag : {"--kubeconfig", "--master", "--hostname-override", "--cluster-cidr", "--nodeport-addresses",
                           "--masquerade-all", "--healthz-bind-address", "--metrics-bind-address", "--config",
                           "--v int", "--logging-format", "--manifests", "--cleanup"})
    EXPECT_THAT(u, HasSubstr(flag));
}

TEST_F(OptionsTest, EmptyBindAddressFlagDisablesServer) {
  auto o = load({"--healthz-bind-address=", "--metrics-bind-address", ""});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_FALSE(o->healthzBindAddress);
  EXPECT_FALSE(o->metricsBindAddress);
}

TEST_F(OptionsTest, FlagErrors) {
  EXPECT_EQ(error({"--bogus"}), "unknown flag: --bogus (see --help)");
  EXPECT_EQ(error({"--kubeconfig"}), "flag needs an argument: --kubeconfig");
  EXPECT_EQ(error({"stray"}), "unexpected argument \"stray\" (flags start with --)");
  EXPECT_EQ(error({"--v=x"}), "--v: \"x\" is not a non-negative integer");
  EXPECT_EQ(error({"--v=-1"}), "--v: \"-1\" is not a non-negative integer");
  EXPECT_EQ(error({"--masquerade-all=maybe"}), "--masquerade-all: invalid boolean \"maybe\"");
  // A boolean flag does not consume the next argument.
  EXPECT_EQ(error({"--masquerade-all", "false"}), "unexpected argument \"false\" (flags start with --)");
  EXPECT_EQ(error({"--cluster-cidr=10.0.0.0/33"}), "--cluster-cidr: \"10.0.0.0/33\" is not a CIDR");
  EXPECT_EQ(error({"--cluster-cidr=10.0.0.0/8,pods"}), "--cluster-cidr: \"pods\" is not a CIDR");
  EXPECT_EQ(error({"--nodeport-addresses=10.0.0.0/8,eth0"}),
            "--nodeport-addresses: \"eth0\" is neither a CIDR nor \"primary\"");
  EXPECT_EQ(error({"--nodeport-addresses=primary,10.0.0.0/8"}),
            "--nodeport-addresses: \"primary\" cannot be combined with CIDRs");
  EXPECT_EQ(error({"--healthz-bind-address=0.0.0.0:http"}),
            "--healthz-bind-address: port \"http\" is not a number 0-65535");
  EXPECT_EQ(error({"--metrics-bind-address=localhost:10249"}),
            "--metrics-bind-address: \"localhost\" is not a valid IP address");
  EXPECT_EQ(error({"--healthz-bind-address=::1:10256"}),
            "--healthz-bind-address: \"::1:10256\" is not in a valid format (ip or ip:port; IPv6 as [ip]:port)");
  EXPECT_EQ(error({"--logging-format=yaml"}), "--logging-format: \"yaml\" is not a log format (text or json)");
  EXPECT_EQ(error({"--proxy-mode=iptables"}),
            "--proxy-mode: \"iptables\" is not supported: nodenet-proxy implements the \"nftables\" mode only");
  EXPECT_EQ(error({"--manifests=/m", "--kubeconfig=/k"}),
            "--manifests cannot be combined with --kubeconfig or --master (choose one source)");
  EXPECT_THAT(error({"--config=/missing.yaml"}), HasSubstr("--config /missing.yaml: open /missing.yaml"));
}

TEST_F(OptionsTest, PrimaryNodePortAddresses) {
  auto o = load({"--nodeport-addresses=primary"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_TRUE(o->nodePortAddresses.primary);
  EXPECT_TRUE(o->nodePortAddresses.cidrs.empty());
}

TEST_F(OptionsTest, EmptyHostnameNeedsOverride) {
  auto r = load({}, "  ");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "the hostname is empty: set --hostname-override to the Node's name");
  EXPECT_EQ(load({"--hostname-override=n"}, "")->nodeName, "n");
  EXPECT_TRUE(load({"--cleanup"}, "")->cleanup) << "--cleanup needs no node name";
}

TEST_F(OptionsTest, ConfigFileEveryField) {
  files_["/c.yaml"] = std::string(kHeader) +
                      "clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n  qps: 5\n"
                      "hostnameOverride: From-Config\n"
                      "clusterCIDR: 10.244.0.0/16,fd00:10:244::/56\n"
                      "nodePortAddresses: [primary]\n"
                      "healthzBindAddress: 127.0.0.1\n"
                      "metricsBindAddress: 0.0.0.0:9100\n"
                      "mode: nftables\n"
                      "detectLocalMode: ClusterCIDR\n"
                      "nftables:\n  masqueradeAll: true\n  masqueradeBit: 15\n  syncPeriod: 1m30s\n"
                      "  minSyncPeriod: 500ms\n"
                      "logging:\n  format: json\n  verbosity: 3\n"
                      "iptables:\n  masqueradeBit: 14\n"
                      "conntrack:\n  maxPerCore: 32768\n";
  auto o = load({"--config", "/c.yaml"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->configFile, "/c.yaml");
  EXPECT_EQ(o->kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_EQ(o->nodeName, "from-config");
  ASSERT_EQ(o->clusterCIDRs.size(), 2u);
  EXPECT_TRUE(o->nodePortAddresses.primary);
  EXPECT_EQ(o->healthzBindAddress->toString(), "127.0.0.1:10256");
  EXPECT_EQ(o->metricsBindAddress->toString(), "0.0.0.0:9100");
  EXPECT_TRUE(o->masqueradeAll);
  EXPECT_EQ(o->masqueradeMark(), 0x8000u);
  EXPECT_EQ(o->syncPeriod, 90s);
  EXPECT_EQ(o->minSyncPeriod, 500ms);
  EXPECT_EQ(o->loggingFormat, log::Format::Json);
  EXPECT_EQ(o->verbosity, 3);
  EXPECT_TRUE(o->warnings.empty());
  ASSERT_EQ(o->notices.size(), 1u);
  EXPECT_EQ(o->notices[0],
            "/c.yaml: fields nodenet-proxy does not implement are ignored: conntrack, iptables, "
            "clientConnection.qps");
}

TEST_F(OptionsTest, FlagsOverrideConfigFile) {
  files_["/c.yaml"] = std::string(kHeader) +
                      "clusterCIDR: 10.244.0.0/16\nhostnameOverride: a\nnftables: {masqueradeAll: true}\n"
                      "nodePortAddresses: [10.0.0.0/8]\nhealthzBindAddress: 0.0.0.0:1\nlogging: {verbosity: 7}\n";
  auto o = load({"--config=/c.yaml", "--cluster-cidr=10.1.0.0/16", "--hostname-override=b", "--masquerade-all=false",
                 "--nodeport-addresses=192.168.0.0/24", "--healthz-bind-address=", "--v=1"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->clusterCIDRs[0].toString(), "10.1.0.0/16");
  EXPECT_EQ(o->nodeName, "b");
  EXPECT_FALSE(o->masqueradeAll);
  EXPECT_EQ(o->nodePortAddresses.cidrs[0].toString(), "192.168.0.0/24");
  EXPECT_FALSE(o->healthzBindAddress);
  EXPECT_EQ(o->verbosity, 1);
  EXPECT_THAT(o->notices,
              ::testing::Contains("--cluster-cidr=10.1.0.0/16 overrides /c.yaml: clusterCIDR=10.244.0.0/16"));
}

TEST_F(OptionsTest, ConfigEmptyBindAddressMeansDefault) {
  files_["/c.yaml"] = std::string(kHeader) + "healthzBindAddress: \"\"\nmetricsBindAddress: \"\"\n";
  auto o = load({"--config=/c.yaml"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->healthzBindAddress->toString(), "0.0.0.0:10256");
  EXPECT_EQ(o->metricsBindAddress->toString(), "127.0.0.1:10249");
}

TEST_F(OptionsTest, UnknownConfigFieldsWarn) {
  files_["/c.yaml"] = std::string(kHeader) + "clusterCidr: 10.0.0.0/8\nnftables:\n  syncperiod: 1s\n";
  auto o = load({"--config=/c.yaml"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_THAT(o->warnings,
              ElementsAre("/c.yaml: unknown field \"clusterCidr\" ignored (lenient decoding, as kube-proxy)",
                          "/c.yaml: unknown field \"nftables.syncperiod\" ignored (lenient decoding, as kube-proxy)"));
  EXPECT_TRUE(o->clusterCIDRs.empty());
}

TEST_F(OptionsTest, ConfigFileErrors) {
  auto cfgError = [&](const std::string& body, bool header = true) {
    files_["/c.yaml"] = (header ? std::string(kHeader) : std::string()) + body;
    return error({"--config=/c.yaml"});
  };
  EXPECT_EQ(cfgError("mode: iptables\n"),
            "/c.yaml: mode: \"iptables\" is not supported: nodenet-proxy implements the \"nftables\" mode only "
            "(leave mode empty or set it to \"nftables\")");
  EXPECT_THAT(cfgError("mode: ipvs\n"), HasSubstr("mode: \"ipvs\" is not supported"));
  EXPECT_EQ(cfgError("detectLocalMode: NodeCIDR\n"),
            "/c.yaml: detectLocalMode: \"NodeCIDR\" is not supported: nodenet-proxy detects local traffic by "
            "ClusterCIDR only");
  EXPECT_EQ(cfgError("kind: KubeProxyConfiguration\n", false),
            "/c.yaml: apiVersion: missing (expected kubeproxy.config.k8s.io/v1alpha1)");
  EXPECT_EQ(cfgError("apiVersion: kubeproxy.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n", false),
            "/c.yaml: apiVersion: \"kubeproxy.config.k8s.io/v1beta1\" is not supported (expected "
            "kubeproxy.config.k8s.io/v1alpha1)");
  EXPECT_EQ(cfgError("apiVersion: v1\nkind: ConfigMap\n", false),
            "/c.yaml: kind: \"ConfigMap\" is not KubeProxyConfiguration");
  EXPECT_EQ(cfgError("", false), "/c.yaml: empty file (expected a KubeProxyConfiguration)");
  EXPECT_EQ(cfgError("- a\n", false), "/c.yaml: (top level): expected a mapping, got a list");
  EXPECT_THAT(cfgError("nftables: [\n"), HasSubstr("/c.yaml: "));
  EXPECT_EQ(cfgError("nftables:\n  masqueradeAll: \"yes\"\n"),
            "/c.yaml: nftables.masqueradeAll: expected true or false, got string \"yes\"");
  EXPECT_EQ(cfgError("nftables:\n  masqueradeBit: 32\n"),
            "/c.yaml: nftables.masqueradeBit: 32 is not in the range 0-31");
  EXPECT_EQ(cfgError("nftables:\n  masqueradeBit: fourteen\n"),
            "/c.yaml: nftables.masqueradeBit: expected an integer, got string \"fourteen\"");
  EXPECT_EQ(cfgError("nftables:\n  syncPeriod: 30\n"),
            "/c.yaml: nftables.syncPeriod: expected a string, got number 30");
  EXPECT_EQ(cfgError("nftables:\n  syncPeriod: 30 seconds\n"),
            "/c.yaml: nftables.syncPeriod: \"30 seconds\": unknown unit \" seconds\"");
  EXPECT_EQ(cfgError("nftables:\n  minSyncPeriod: -1s\n"), "/c.yaml: nftables.minSyncPeriod: \"-1s\" is negative");
  EXPECT_EQ(cfgError("nftables:\n  syncPeriod: 1s\n  minSyncPeriod: 2s\n"),
            "/c.yaml: nftables.syncPeriod must be greater than or equal to nftables.minSyncPeriod");
  EXPECT_EQ(cfgError("nftables: true\n"), "/c.yaml: nftables: expected a mapping, got boolean true");
  EXPECT_EQ(cfgError("nodePortAddresses: 10.0.0.0/8\n"),
            "/c.yaml: nodePortAddresses: expected a list of strings, got string \"10.0.0.0/8\"");
  EXPECT_EQ(cfgError("nodePortAddresses: [10.0.0.0/8, 7]\n"),
            "/c.yaml: nodePortAddresses[1]: expected a string, got number 7");
  EXPECT_EQ(cfgError("nodePortAddresses: [10.0.0.0/8, primary]\n"),
            "/c.yaml: nodePortAddresses: \"primary\" cannot be combined with CIDRs");
  EXPECT_EQ(cfgError("clusterCIDR: 10.0.0.0\n"), "/c.yaml: clusterCIDR: \"10.0.0.0\" is not a CIDR");
  EXPECT_EQ(cfgError("healthzBindAddress: 0.0.0.0:99999\n"),
            "/c.yaml: healthzBindAddress: port \"99999\" is not a number 0-65535");
  EXPECT_EQ(cfgError("logging:\n  format: xml\n"),
            "/c.yaml: logging.format: \"xml\" is not a log format (text or json)");
  EXPECT_EQ(cfgError("logging:\n  verbosity: -2\n"), "/c.yaml: logging.verbosity: -2 is not in the range 0-100");
  EXPECT_THAT(cfgError("---\n" + std::string(kHeader) + "---\n" + kHeader, false), HasSubstr("2 YAML documents"));
}

TEST(GoDuration, Forms) {
  EXPECT_EQ(*parseGoDuration("0"), 0ns);
  EXPECT_EQ(*parseGoDuration("30s"), 30s);
  EXPECT_EQ(*parseGoDuration("1m0s"), 60s);
  EXPECT_EQ(*parseGoDuration("1h2m3.5s"), 3723500ms);
  EXPECT_EQ(*parseGoDuration("250ms"), 250ms);
  EXPECT_EQ(*parseGoDuration("1.5us"), 1500ns);
  EXPECT_EQ(*parseGoDuration("2\xC2\xB5s"), 2000ns);  // µs, as Go spells it
}

TEST(GoDuration, Errors) {
  EXPECT_FALSE(parseGoDuration("").ok());
  EXPECT_FALSE(parseGoDuration("s").ok());
  EXPECT_FALSE(parseGoDuration("\xC2\xB5s").ok());
  EXPECT_FALSE(parseGoDuration("10").ok());
  EXPECT_FALSE(parseGoDuration("1.2.3s").ok());
  EXPECT_FALSE(parseGoDuration("5d").ok());
  EXPECT_EQ(parseGoDuration("10").error().message(), "\"10\": missing unit (ns, us, ms, s, m, h)");
}

TEST(BindAddress, Forms) {
  EXPECT_EQ((*parseBindAddress("10.0.0.1", 80))->toString(), "10.0.0.1:80");
  EXPECT_EQ((*parseBindAddress("::", 80))->toString(), "[::]:80");
  EXPECT_EQ((*parseBindAddress("[fd00::1]:0", 80))->toString(), "[fd00::1]:0");
  EXPECT_FALSE(*parseBindAddress("  ", 80));
  EXPECT_FALSE(parseBindAddress("[fd00::1]", 80).ok());
  EXPECT_FALSE(parseBindAddress("1.2.3.4:", 80).ok());
}

TEST(RulesConfig, FromOptions) {
  Options o;
  o.masqueradeAll = true;
  o.masqueradeBit = 3;
  o.clusterCIDRs = {*Cidr::parse("10.0.0.0/8")};
  rules::Config c = rulesConfig(o, IpFamily::V6);
  EXPECT_EQ(c.family, IpFamily::V6);
  EXPECT_TRUE(c.masqueradeAll);
  EXPECT_EQ(c.masqueradeBit, 8u);
  EXPECT_EQ(c.clusterCIDRs.size(), 1u);
}

}  // namespace
}  // namespace nodenet::proxy::daemon
