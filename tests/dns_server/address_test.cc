// dns/server/address.h and dns/daemon/options.h: the flag values nodenet-dns accepts and the errors it gives.
#include "dns/server/address.h"

#include <gtest/gtest.h>

#include "dns/daemon/options.h"

namespace nodenet::dns {
namespace {

using server::parseListenAddress;
using server::parseResolvConf;
using server::parseUpstreamAddress;

TEST(ListenAddress, Ipv4AndBracketedIpv6) {
  auto a = parseListenAddress("127.0.0.1:5353");
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->toString(), "127.0.0.1:5353");
  auto b = parseListenAddress("[::1]:53");
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_TRUE(b->ip.isV6());
  EXPECT_EQ(b->toString(), "[::1]:53");
  auto c = parseListenAddress("0.0.0.0:0");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 0);
}

TEST(ListenAddress, ErrorsNameTheInput) {
  for (const char* bad : {"127.0.0.1", "::1:53", "[::1]", "[::1:53", "1.2.3.4:99999", "1.2.3.4:x", "host:53",
                          "1.2.3.4:"}) {
    auto r = parseListenAddress(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find(bad), std::string::npos) << r.error().message();
  }
}

TEST(UpstreamAddress, PortDefaultsTo53) {
  EXPECT_EQ(parseUpstreamAddress("10.0.0.10")->toString(), "10.0.0.10:53");
  EXPECT_EQ(parseUpstreamAddress("10.0.0.10:5300")->toString(), "10.0.0.10:5300");
  EXPECT_EQ(parseUpstreamAddress("fd00::10")->toString(), "[fd00::10]:53");
  EXPECT_EQ(parseUpstreamAddress("[fd00::10]:5300")->toString(), "[fd00::10]:5300");
  EXPECT_FALSE(parseUpstreamAddress("10.0.0.10:0").ok());
  EXPECT_FALSE(parseUpstreamAddress("dns.google").ok());
}

TEST(ResolvConf, NameserversInOrderSkippingJunk) {
  auto v = parseResolvConf(
      "# comment\nsearch default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\n"
      "nameserver\tfd00::10 # trailing\n;nameserver 1.1.1.1\nnameserver fe80::1%eth0\nnameserver bogus\n"
      "  nameserver 8.8.8.8\nnameservers 9.9.9.9\noptions ndots:5");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].toString(), "10.96.0.10:53");
  EXPECT_EQ(v[1].toString(), "[fd00::10]:53");
  EXPECT_EQ(v[2].toString(), "8.8.8.8:53");
  EXPECT_TRUE(parseResolvConf("").empty());
}

TEST(ResolvConf, MissingFileIsAnErrorWithErrno) {
  auto r = server::readResolvConf("/nonexistent/resolv.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sysErrno(), ENOENT);
  EXPECT_NE(r.error().message().find("/nonexistent/resolv.conf"), std::string::npos);
}

TEST(DaemonOptions, Defaults) {
  auto o = daemon::parseOptions({});
  ASSERT_TRUE(o.ok()) << o.error().message();
  ASSERT_EQ(o->listen.size(), 1u);
  EXPECT_EQ(o->listen[0].toString(), "0.0.0.0:53");
  EXPECT_EQ(o->zone, "cluster.local");
  EXPECT_EQ(o->ttl, 5u);
  EXPECT_EQ(o->threads, 0u);
  EXPECT_EQ(o->resolvConf, "/etc/resolv.conf");
  EXPECT_FALSE(o->upstreamNone);
  EXPECT_EQ(o->maxUdpSize, 1232);
  EXPECT_EQ(o->tcpIdleTimeout, std::chrono::seconds(10));
  EXPECT_EQ(o->answerCacheBytes, size_t{2} << 20);
}

TEST(DaemonOptions, AnswerCacheSizeTakesBytesKiAndMi) {
  for (auto [arg, want] : std::vector<std::pair<std::string, size_t>>{
           {"0", 0}, {"65536", 65536}, {"512Ki", 512 * 1024}, {"3Mi", size_t{3} << 20}}) {
    auto o = daemon::parseOptions({"--answer-cache-size", arg});
    ASSERT_TRUE(o.ok()) << arg << ": " << o.error().message();
    EXPECT_EQ(o->answerCacheBytes, want) << arg;
  }
}

TEST(DaemonOptions, RepeatableFlagsAndBothSpellings) {
  auto o = daemon::parseOptions({"--listen", "127.0.0.1:5353", "--listen=[::1]:5353", "--upstream", "10.0.0.1",
                                 "--upstream=[fd00::1]:5300", "--zone=k8s.example", "--ttl", "30", "--threads=1",
                                 "--manifests", "/tmp/m", "--v=4", "--logging-format=json",
                                 "--tcp-idle-timeout=500ms", "--upstream-timeout", "1s"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  ASSERT_EQ(o->listen.size(), 2u);
  EXPECT_EQ(o->listen[1].toString(), "[::1]:5353");
  ASSERT_EQ(o->upstreams.size(), 2u);
  EXPECT_EQ(o->upstreams[1].toString(), "[fd00::1]:5300");
  EXPECT_EQ(o->zone, "k8s.example");
  EXPECT_EQ(o->ttl, 30u);
  EXPECT_EQ(o->threads, 1u);
  EXPECT_EQ(o->manifestsDir, "/tmp/m");
  EXPECT_EQ(o->verbosity, 4);
  EXPECT_EQ(o->loggingFormat, log::Format::Json);
  EXPECT_EQ(o->tcpIdleTimeout, std::chrono::milliseconds(500));
  EXPECT_EQ(o->upstreamTimeout, std::chrono::seconds(1));
}

TEST(DaemonOptions, BadValuesNameTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {{"--ttl", "x"}, "--ttl: expected an integer 0-3600, got \"x\""},
           {{"--ttl=3601"}, "--ttl"},
           {{"--listen", "127.0.0.1"}, "--listen: \"127.0.0.1\""},
           {{"--listen=1.2.3.4:53", "--listen=1.2.3.4:53"}, "given twice"},
           {{"--threads=0"}, "--threads"},
           {{"--upstream=none", "--upstream=1.1.1.1"}, "--upstream: \"none\" cannot be combined"},
           {{"--upstream=example.com"}, "--upstream"},
           {{"--max-udp-size=100"}, "--max-udp-size"},
           {{"--tcp-idle-timeout=soon"}, "--tcp-idle-timeout"},
           {{"--answer-cache-size=2MB"}, "--answer-cache-size: expected a size in bytes such as 2Mi"},
           {{"--answer-cache-size=-1"}, "--answer-cache-size"},
           {{"--answer-cache-size=Mi"}, "--answer-cache-size"},
           {{"--logging-format=xml"}, "--logging-format: expected \"text\" or \"json\""},
           {{"--bogus=1"}, "unknown flag --bogus"},
           {{"stray"}, "unexpected argument \"stray\""},
           {{"--zone"}, "--zone: missing value"},
           {{"--manifests=/a", "--kubeconfig=/b"}, "exclusive"},
       }) {
    auto o = daemon::parseOptions(c.args);
    ASSERT_FALSE(o.ok()) << c.args[0];
    EXPECT_NE(o.error().message().find(c.want), std::string::npos) << o.error().message();
  }
}

TEST(DaemonOptions, UpstreamNoneAndHelp) {
  auto o = daemon::parseOptions({"--upstream", "none", "-h"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->upstreamNone);
  EXPECT_TRUE(o->help);
  EXPECT_NE(daemon::usage().find("--listen ADDR:PORT"), std::string::npos);
}

}  // namespace
}  // namespace nodenet::dns
