// Root-only integration tests of nodenet-proxy: real traffic through the rules the daemon programs inside a node
// namespace, from a client pod and from an "external" namespace (topology and IP plan: proxy_env.h).
//
// IP plan
//   node ns      192.168.77.1/24 (node-a's InternalIP), cni0 10.85.0.1/16; pods 10.85.0.2... (our CNI plugin)
//   external ns  192.168.77.2/24 and 192.168.77.3/24
//   ClusterIPs   10.96.0.0/16 (one per test), LoadBalancer and external IPs 203.0.113.0/24, NodePorts 30000+
//   backends     nn-echo: HTTP 8080 and 8443, UDP 5353; the body names the pod and the peer it saw
//
// Every test runs against the real daemon (build/bin/nodenet-proxy fed by the fake API server through a
// kubeconfig) and skips when it is not built. NODENET_PROXY_MODE=rules runs the same checks with the test itself
// applying proxy/rules through netlink (no daemon): that validates the topology and the traffic tools only, and
// the daemon-only scenarios skip. After each test the applied `ip nodenet` table is dumped and checked with
// `nft -c -f` in an empty namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "integration/harness/fixture.h"
#include "integration/harness/paths.h"
#include "integration/proxy/proxy_env.h"

namespace nodenet::itest::proxy {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::vector<PortSpec> kHttp = {{"http", 80, kHttpPort}};
const std::vector<PortSpec> kUdp = {{"dns", 53, kUdpPort, "UDP"}};

/// How long a change may take to reach the data path (the daemon's minSyncPeriod is 1 s by default).
constexpr auto kConverge = 10s;

/// Skips the test (from its body) unless the real daemon runs it.
#define REQUIRE_DAEMON()                                                                     \
  do {                                                                                       \
    if (mode_ != ProxyMode::Daemon) GTEST_SKIP() << "daemon-only behaviour (NODENET_PROXY_MODE=rules)"; \
  } while (0)

class ProxyIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!isRoot()) GTEST_SKIP() << "needs root (creates network namespaces)";
    mode_ = proxyModeFromEnv();
    if (mode_ == ProxyMode::Daemon && ::access(ProxyEnv::proxyBinary().c_str(), X_OK) != 0)
      GTEST_SKIP() << ProxyEnv::proxyBinary()
                   << " is not built (NODENET_PROXY_MODE=rules checks the topology with proxy/rules alone)";
    installInterruptHandlers();
    ProxyEnvOptions o;
    o.mode = mode_;
    o.startProxy = startProxyInSetUp_;
    auto e = ProxyEnv::create(o);
    ASSERT_TRUE(e.ok()) << e.error().message();
    pe_ = std::move(e).value();
  }

  void TearDown() override {
    if (pe_ && checkRulesetAtEnd_ && !HasFatalFailure()) {
      auto st = pe_->checkRulesetRoundTrip();
      EXPECT_TRUE(st.ok()) << st.error().message();
      // The IPv6 table must round-trip as well: always when the test made the daemon keep one (dual-stack
      // --cluster-cidr), otherwise whenever it exists (this node is IPv4-only).
      auto v6 = pe_->dumpRuleset("ip6");
      if (expectIp6Table_ || (v6.ok() && !v6->empty())) {
        auto st6 = pe_->checkRulesetRoundTrip("ip6");
        EXPECT_TRUE(st6.ok()) << st6.error().message();
      }
    }
    if (pe_ && HasFailure() && pe_->daemon()) {
      std::string log = pe_->daemon()->log();
      if (log.size() > 6000) log = "...\n" + log.substr(log.size() - 6000);
      std::cerr << "---- nodenet-proxy log (tail) ----\n" << log << "\n";
      auto dump = pe_->dumpRuleset();
      if (dump.ok()) std::cerr << "---- nft list table ip nodenet ----\n" << *dump << "\n";
    }
    pe_.reset();
  }


  Backend* add(const std::string& name) {
    auto b = pe_->addBackend(name);
    EXPECT_TRUE(b.ok()) << b.error().message();
    return b.ok() ? *b : nullptr;
  }
  Backend* client(const std::string& name = "client") {
    auto b = pe_->addClient(name);
    EXPECT_TRUE(b.ok()) << b.error().message();
    return b.ok() ? *b : nullptr;
  }

  void upsertService(const json& svc) { NN_ASSERT_OK(pe_->upsertService(svc)); }
  void upsertSlice(const json& slice) { NN_ASSERT_OK(pe_->upsertSlice(slice)); }

  /// One curl; "" when it failed.
  std::string get(const TestNetns& from, const std::string& url, double maxSeconds = 2.0,
                  const std::vector<std::string>& extra = {}) {
    auto r = pe_->curl(from, url, maxSeconds, extra);
    return r.ok() ? r.backend() : "";
  }
  /// Waits until url answers from `from` (the proxy has programmed it); returns the first answer or "".
  std::string waitAnswer(const TestNetns& from, const std::string& url, const std::vector<std::string>& extra = {}) {
    std::string got;
    ProxyEnv::eventually([&] { return !(got = get(from, url, 1.0, extra)).empty(); }, kConverge);
    return got;
  }
  /// Backends answering n requests.
  std::map<std::string, int> spread(const TestNetns& from, const std::string& url, int n,
                                    const std::vector<std::string>& extra = {}) {
    std::map<std::string, int> seen;
    for (int i = 0; i < n; ++i) ++seen[get(from, url, 2.0, extra)];
    return seen;
  }
  /// nn-echo udp from a namespace; the answering backend's name or "".
  std::string udp(const TestNetns& from, const std::string& to, int bindPort = 0, int timeoutMs = 500) {
    std::vector<std::string> argv = {ProxyEnv::echoBinary(), "udp", "--to", to, "--timeout-ms",
                                     std::to_string(timeoutMs)};
    if (bindPort) argv.insert(argv.end(), {"--bind-port", std::to_string(bindPort)});
    auto r = from.exec(argv);
    if (!r.ok() || !r->ok()) return "";
    std::string out(trim(r->out));
    return out.substr(0, out.find(' '));
  }
  /// The errno text of one TCP connect+GET (nn-echo http-loop --count 1), e.g. "connect: Connection refused";
  /// "" when it succeeded. curl 7.88 prints only "Couldn't connect to server", so the kind of failure (a reject
  /// answers ICMP port unreachable -> ECONNREFUSED) is read from the tool.
  std::string connectError(const TestNetns& from, const std::string& to) {
    auto r = from.exec({ProxyEnv::echoBinary(), "http-loop", "--to", to, "--count", "1", "--timeout-ms", "3000"});
    if (!r.ok()) return r.error().message();
    json j = json::parse(r->out, nullptr, false);
    if (!j.is_object()) return "bad output: " + r->out;
    if (j.value("ok", 0) == 1) return "";
    return j["errors"].empty() ? "?" : j["errors"].begin().key();
  }
  /// nn-echo udp's raw answer line: a backend's "NAME peer=...", "refused" (ICMP port unreachable) or "-".
  std::string udpRaw(const TestNetns& from, const std::string& to, int bindPort, int timeoutMs = 300) {
    auto r = from.exec({ProxyEnv::echoBinary(), "udp", "--to", to, "--timeout-ms", std::to_string(timeoutMs),
                        "--bind-port", std::to_string(bindPort)});
    return r.ok() ? std::string(trim(r->out)) : r.error().message();
  }
  bool rulesMention(const std::string& text) {
    auto d = pe_->dumpRuleset();
    return d.ok() && d->find(text) != std::string::npos;
  }
  /// Some rule DNATs to the endpoint: an endpoint chain's `dnat to IP:PORT`, or an endpoints map element's
  /// `... : IP . PORT`.
  bool dnatsTo(const std::string& ip) {
    auto d = pe_->dumpRuleset();
    return d.ok() && (d->find("dnat to " + ip + ":") != std::string::npos || d->find(": " + ip + " . ") != std::string::npos);
  }

  ProxyMode mode_ = ProxyMode::Daemon;
  bool startProxyInSetUp_ = true;
  bool checkRulesetAtEnd_ = true;
  bool expectIp6Table_ = false;
  std::unique_ptr<ProxyEnv> pe_;
};

// ------------------------------------------------------------------------------------------------ ClusterIP

TEST_F(ProxyIntegrationTest, ClusterIpTcpReachesEveryBackend) {
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* b3 = add("b3");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && b3 && c);
  upsertService(makeService("web", "10.96.0.10", kHttp));
  upsertSlice(makeSlice("web", "web-1", {{b1->ip}, {b2->ip}, {b3->ip}}, kHttp));
  ASSERT_NE(waitAnswer(c->pod->ns, "http://10.96.0.10:80/"), "");
  auto seen = spread(c->pod->ns, "http://10.96.0.10:80/", 30);
  EXPECT_EQ(seen.count(""), 0u) << "failed requests";
  EXPECT_GT(seen["b1"], 0);
  EXPECT_GT(seen["b2"], 0);
  EXPECT_GT(seen["b3"], 0);
  // No masquerade for pod sources: the backend sees the client's own address.
  auto r = pe_->curl(c->pod->ns, "http://10.96.0.10:80/");
  EXPECT_THAT(r.body, HasSubstr("peer=" + c->ip + ":"));
}

TEST_F(ProxyIntegrationTest, ClusterIpUdp) {
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && c);
  upsertService(makeService("dns", "10.96.0.11", kUdp));
  upsertSlice(makeSlice("dns", "dns-1", {{b1->ip}, {b2->ip}}, kUdp));
  std::set<std::string> seen;
  ASSERT_TRUE(ProxyEnv::eventually([&] { return !udp(c->pod->ns, "10.96.0.11:53").empty(); }, kConverge));
  for (int i = 0; i < 20; ++i) seen.insert(udp(c->pod->ns, "10.96.0.11:53"));
  EXPECT_EQ(seen, (std::set<std::string>{"b1", "b2"}));
}

TEST_F(ProxyIntegrationTest, MultiplePorts) {
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  std::vector<PortSpec> ports = {{"http", 80, kHttpPort}, {"https", 443, kHttpPort2}, {"dns", 53, kUdpPort, "UDP"}};
  upsertService(makeService("multi", "10.96.0.12", ports));
  upsertSlice(makeSlice("multi", "multi-1", {{b1->ip}}, ports));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.12:80/"), "b1");
  auto r443 = pe_->curl(c->pod->ns, "http://10.96.0.12:443/");
  ASSERT_TRUE(r443.ok()) << r443.err;
  EXPECT_THAT(r443.body, HasSubstr("local=" + b1->ip + ":" + std::to_string(kHttpPort2)));
  auto r80 = pe_->curl(c->pod->ns, "http://10.96.0.12:80/");
  EXPECT_THAT(r80.body, HasSubstr("local=" + b1->ip + ":" + std::to_string(kHttpPort)));
  EXPECT_EQ(udp(c->pod->ns, "10.96.0.12:53"), "b1");
}

/// True when this kernel can open SCTP sockets (the sctp module is built in or loaded; tests never load it).
bool kernelHasSctp() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TEST_F(ProxyIntegrationTest, SctpServiceDispatchedAndReachable) {
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  const std::vector<PortSpec> ports = {{"http", 80, kHttpPort}, {"sctp", 9999, 7777, "SCTP"}};
  upsertService(makeService("sctp", "10.96.0.40", ports));
  upsertSlice(makeSlice("sctp", "sctp-1", {{b1->ip}}, ports));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.40/"), "b1");  // the proxy has synced the Service
  // The SCTP port has its own endpoint-map element, DNAT to the target port (the nft check runs in TearDown).
  auto dump = pe_->dumpRuleset();
  ASSERT_TRUE(dump.ok());
  EXPECT_THAT(*dump, HasSubstr("10.96.0.40 . sctp . 9999 . 0 : " + b1->ip + " . 7777"));
  if (!kernelHasSctp())
    GTEST_SKIP() << "rules checked; traffic not: this kernel has no SCTP (socket(IPPROTO_SCTP) fails, and the "
                    "tests do not load modules)";
  auto srv = Background::start({ProxyEnv::echoBinary(), "serve", "--name", "b1-sctp", "--sctp", "7777"},
                               {.netns = b1->pod->ns.path(), .logPath = pe_->scratch() + "/echo-sctp.log"});
  ASSERT_TRUE(srv.ok()) << srv.error().message();
  ASSERT_TRUE(srv->waitForLog("listening", 5s)) << srv->log();
  auto r = c->pod->ns.exec({ProxyEnv::echoBinary(), "session", "--sctp", "--to", "10.96.0.40:9999", "--count", "3",
                            "--interval-ms", "10", "--timeout-ms", "2000"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exitCode, 0) << r->out << r->err;
  EXPECT_THAT(r->out, HasSubstr("ok 3 b1-sctp"));
}

TEST_F(ProxyIntegrationTest, DualStackClusterCidrKeepsAnIp6Table) {
  REQUIRE_DAEMON();  // the daemon chooses its families from --cluster-cidr
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  pe_->daemon()->stop(SIGTERM);
  NN_ASSERT_OK(pe_->startProxy({std::string("--cluster-cidr=") + kClusterCidr + ",fd00:85::/64"}));
  expectIp6Table_ = true;
  // A dual-stack Service. The pods are IPv4-only, so the IPv6 side is checked in the rules (and round-tripped
  // through `nft -c -f` in TearDown), the IPv4 side with traffic.
  json svc = makeService("dual", "10.96.0.41", kHttp);
  svc["spec"]["clusterIPs"] = {"10.96.0.41", "fd00:96::41"};
  svc["spec"]["ipFamilies"] = {"IPv4", "IPv6"};
  svc["spec"]["ipFamilyPolicy"] = "RequireDualStack";
  upsertService(svc);
  upsertSlice(makeSlice("dual", "dual-v4", {{b1->ip}}, kHttp));
  json v6 = makeSlice("dual", "dual-v6", {{"fd00:85::2"}, {"fd00:85::3"}}, kHttp);
  v6["addressType"] = "IPv6";
  upsertSlice(v6);
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.41/"), "b1");
  std::string six;
  EXPECT_TRUE(ProxyEnv::eventually(
      [&] {
        auto d = pe_->dumpRuleset("ip6");
        six = d.ok() ? *d : "";
        return six.find("fd00:96::41 . tcp . 80 . 2 : fd00:85::3 . 8080") != std::string::npos;
      },
      kConverge))
      << six;
  EXPECT_THAT(six, HasSubstr("fd00:96::41 . tcp . 80 . 1 : fd00:85::2 . 8080"));
  auto four = pe_->dumpRuleset("ip");
  ASSERT_TRUE(four.ok());
  EXPECT_THAT(*four, ::testing::Not(HasSubstr("fd00:")));
}

// ------------------------------------------------------------------------------------------------ from outside

TEST_F(ProxyIntegrationTest, NodePortFromExternalIsMasqueraded) {
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  ASSERT_TRUE(b1 && b2);
  std::vector<PortSpec> ports = {{"http", 80, kHttpPort, "TCP", 30080}};
  upsertService(makeService("np", "10.96.0.13", ports, "NodePort"));
  upsertSlice(makeSlice("np", "np-1", {{b1->ip}, {b2->ip}}, ports));
  const std::string url = strCat("http://", kNodeIp, ":30080/");
  ASSERT_NE(waitAnswer(pe_->external(), url), "");
  auto seen = spread(pe_->external(), url, 20);
  EXPECT_EQ(seen.count(""), 0u);
  EXPECT_GT(seen["b1"], 0);
  EXPECT_GT(seen["b2"], 0);
  // eTP Cluster from off the node: the backend sees the node's address on the pod bridge, not the client.
  auto r = pe_->curl(pe_->external(), url);
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_THAT(r.body, HasSubstr("peer=10.85.0.1:"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr(kExternalIp)));
}

TEST_F(ProxyIntegrationTest, LoadBalancerIngressIpFromExternal) {
  Backend* b1 = add("b1");
  ASSERT_TRUE(b1);
  std::vector<PortSpec> ports = {{"http", 80, kHttpPort, "TCP", 30081}};
  json svc = makeService("lb", "10.96.0.14", ports, "LoadBalancer");
  svc["status"] = {{"loadBalancer", {{"ingress", {{{"ip", "203.0.113.10"}}}}}}};
  upsertService(svc);
  upsertSlice(makeSlice("lb", "lb-1", {{b1->ip}}, ports));
  EXPECT_EQ(waitAnswer(pe_->external(), "http://203.0.113.10:80/"), "b1");
  EXPECT_EQ(get(pe_->external(), strCat("http://", kNodeIp, ":30081/")), "b1");
}

TEST_F(ProxyIntegrationTest, ExternalIp) {
  Backend* b1 = add("b1");
  ASSERT_TRUE(b1);
  json svc = makeService("ext", "10.96.0.15", kHttp);
  svc["spec"]["externalIPs"] = {"203.0.113.20"};
  upsertService(svc);
  upsertSlice(makeSlice("ext", "ext-1", {{b1->ip}}, kHttp));
  EXPECT_EQ(waitAnswer(pe_->external(), "http://203.0.113.20:80/"), "b1");
}

TEST_F(ProxyIntegrationTest, LoadBalancerSourceRanges) {
  Backend* b1 = add("b1");
  ASSERT_TRUE(b1);
  std::vector<PortSpec> ports = {{"http", 80, kHttpPort, "TCP", 30082}};
  json svc = makeService("fw", "10.96.0.16", ports, "LoadBalancer");
  svc["spec"]["loadBalancerSourceRanges"] = {strCat(kExternalIp, "/32")};
  svc["status"] = {{"loadBalancer", {{"ingress", {{{"ip", "203.0.113.30"}}}}}}};
  upsertService(svc);
  upsertSlice(makeSlice("fw", "fw-1", {{b1->ip}}, ports));
  const std::string url = "http://203.0.113.30:80/";
  EXPECT_EQ(waitAnswer(pe_->external(), url, {"--interface", kExternalIp}), "b1");
  // Another source: dropped (a timeout, not a refusal).
  auto r = pe_->curl(pe_->external(), url, 1.0, {"--interface", kExternalIp2});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exitCode, 28) << "expected a timeout (drop), got: " << r.err;
}

// ------------------------------------------------------------------------------------------------ policies

TEST_F(ProxyIntegrationTest, SessionAffinityClientIp) {
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* b3 = add("b3");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && b3 && c);
  json svc = makeService("sticky", "10.96.0.17", kHttp);
  svc["spec"]["sessionAffinity"] = "ClientIP";
  svc["spec"]["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 60}}}};
  upsertService(svc);
  upsertSlice(makeSlice("sticky", "sticky-1", {{b1->ip}, {b2->ip}, {b3->ip}}, kHttp));
  ASSERT_NE(waitAnswer(c->pod->ns, "http://10.96.0.17/"), "");
  auto seen = spread(c->pod->ns, "http://10.96.0.17/", 15);
  EXPECT_EQ(seen.size(), 1u) << "affinity broken: " << json(seen).dump();
  EXPECT_EQ(seen.count(""), 0u);
}

TEST_F(ProxyIntegrationTest, ExternalTrafficPolicyLocalAndHealthCheckNodePort) {
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  ASSERT_TRUE(b1 && b2);
  std::vector<PortSpec> ports = {{"http", 80, kHttpPort, "TCP", 30083}};
  json svc = makeService("local", "10.96.0.18", ports, "LoadBalancer");
  svc["spec"]["externalTrafficPolicy"] = "Local";
  svc["spec"]["healthCheckNodePort"] = 32000;
  svc["status"] = {{"loadBalancer", {{"ingress", {{{"ip", "203.0.113.40"}}}}}}};
  upsertService(svc);
  // b2 is (said to be) on another node: external traffic must only reach b1.
  upsertSlice(makeSlice("local", "local-1", {{b1->ip}, {b2->ip, "node-b"}}, ports));
  const std::string url = strCat("http://", kNodeIp, ":30083/");
  ASSERT_NE(waitAnswer(pe_->external(), url), "");
  auto seen = spread(pe_->external(), url, 12);
  EXPECT_EQ(seen, (std::map<std::string, int>{{"b1", 12}}));
  // eTP Local keeps the client address.
  auto r = pe_->curl(pe_->external(), "http://203.0.113.40/");
  EXPECT_THAT(r.body, HasSubstr(strCat("peer=", kExternalIp, ":")));

  if (mode_ == ProxyMode::Rules) return;  // the health server is the daemon's
  const std::string hc = strCat("http://", kNodeIp, ":32000/");
  const std::vector<std::string> withCode = {"-w", "\n%{http_code}"};
  auto health = [&](int* code) {
    auto h = pe_->curl(pe_->external(), hc, 2.0, withCode);
    auto nl = h.body.rfind('\n');
    *code = nl == std::string::npos ? 0 : std::atoi(h.body.c_str() + nl + 1);
    return json::parse(h.body.substr(0, nl == std::string::npos ? 0 : nl), nullptr, false);
  };
  int code = 0;
  json body;
  EXPECT_TRUE(ProxyEnv::eventually([&] { return (body = health(&code)), code == 200; }, kConverge));
  EXPECT_EQ(code, 200);
  EXPECT_EQ(body.value("localEndpoints", -1), 1) << body.dump();
  EXPECT_EQ(body["service"].value("name", ""), "local") << body.dump();
  EXPECT_EQ(body["service"].value("namespace", ""), "default") << body.dump();
  // No local endpoint left: 503 and localEndpoints 0; traffic from outside is dropped, not sent to node-b.
  upsertSlice(makeSlice("local", "local-1", {{b2->ip, "node-b"}}, ports));
  EXPECT_TRUE(ProxyEnv::eventually([&] { return (body = health(&code)), code == 503; }, kConverge));
  EXPECT_EQ(code, 503);
  EXPECT_EQ(body.value("localEndpoints", -1), 0) << body.dump();
  // The health server and the rules are updated by different steps: wait for the rules too (bounded).
  std::string last;
  EXPECT_TRUE(ProxyEnv::eventually([&] { return (last = get(pe_->external(), url, 0.5)).empty(); }, kConverge))
      << "still answered by " << last;
  auto dropped = pe_->curl(pe_->external(), url, 1.0);
  EXPECT_EQ(dropped.exitCode, 28) << "eTP Local without local endpoints drops (a timeout), got: " << dropped.err;
}

TEST_F(ProxyIntegrationTest, InternalTrafficPolicyLocal) {
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && c);
  json svc = makeService("itp", "10.96.0.19", kHttp);
  svc["spec"]["internalTrafficPolicy"] = "Local";
  upsertService(svc);
  upsertSlice(makeSlice("itp", "itp-1", {{b1->ip}, {b2->ip, "node-b"}}, kHttp));
  ASSERT_NE(waitAnswer(c->pod->ns, "http://10.96.0.19/"), "");
  EXPECT_EQ(spread(c->pod->ns, "http://10.96.0.19/", 12), (std::map<std::string, int>{{"b1", 12}}));
}

TEST_F(ProxyIntegrationTest, HairpinPodReachesItselfThroughItsService) {
  Backend* b1 = add("b1");
  ASSERT_TRUE(b1);
  upsertService(makeService("self", "10.96.0.20", kHttp));
  upsertSlice(makeSlice("self", "self-1", {{b1->ip}}, kHttp));
  EXPECT_EQ(waitAnswer(b1->pod->ns, "http://10.96.0.20/"), "b1");
  // The reply could only come back because the source was masqueraded (hairpin): the backend saw the node.
  auto r = pe_->curl(b1->pod->ns, "http://10.96.0.20/");
  EXPECT_THAT(r.body, HasSubstr("peer=10.85.0.1:"));
}

TEST_F(ProxyIntegrationTest, TerminatingEndpointsUsedWhenNoneReady) {
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && c);
  upsertService(makeService("term", "10.96.0.21", kHttp));
  EndpointSpec terminating{b1->ip, kNodeName, /*ready=*/false, /*serving=*/true, /*terminating=*/true};
  EndpointSpec gone{b2->ip, kNodeName, false, false, true};  // terminating and not serving: never used
  upsertSlice(makeSlice("term", "term-1", {terminating, gone}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.21/"), "b1");
  EXPECT_EQ(spread(c->pod->ns, "http://10.96.0.21/", 8), (std::map<std::string, int>{{"b1", 8}}));
  // Once a ready endpoint exists, the terminating one is no longer used.
  upsertSlice(makeSlice("term", "term-1", {terminating, {b2->ip}}, kHttp));
  EXPECT_TRUE(ProxyEnv::eventually([&] { return get(c->pod->ns, "http://10.96.0.21/") == "b2"; }, kConverge));
  EXPECT_EQ(spread(c->pod->ns, "http://10.96.0.21/", 8), (std::map<std::string, int>{{"b2", 8}}));
}

TEST_F(ProxyIntegrationTest, ServiceProxyNameLabelIgnored) {
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  json other = makeService("other", "10.96.0.22", kHttp);
  other["metadata"]["labels"] = {{"service.kubernetes.io/service-proxy-name", "someone-else"}};
  upsertService(other);
  upsertSlice(makeSlice("other", "other-1", {{b1->ip}}, kHttp));
  upsertService(makeService("mine", "10.96.0.23", kHttp));
  upsertSlice(makeSlice("mine", "mine-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.23/"), "b1");  // the proxy has synced both
  EXPECT_EQ(get(c->pod->ns, "http://10.96.0.22/", 1.0), "");
  EXPECT_FALSE(rulesMention("10.96.0.22"));
  EXPECT_TRUE(rulesMention("10.96.0.23"));
}

// ------------------------------------------------------------------------------------------------ rejects

TEST_F(ProxyIntegrationTest, ServiceWithoutEndpointsIsRejectedAtOnce) {
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  upsertService(makeService("empty", "10.96.0.24", kHttp));
  upsertSlice(makeSlice("empty", "empty-1", {}, kHttp));
  upsertService(makeService("marker", "10.96.0.25", kHttp));  // tells us the proxy has synced
  upsertSlice(makeSlice("marker", "marker-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.25/"), "b1");
  auto r = pe_->curl(c->pod->ns, "http://10.96.0.24/", 3.0);
  EXPECT_EQ(r.exitCode, 7) << r.err;
  EXPECT_LT(r.ms, 1000) << "a reject is immediate, not a timeout";
  EXPECT_EQ(connectError(c->pod->ns, "10.96.0.24:80"), "connect: Connection refused");
}

TEST_F(ProxyIntegrationTest, ClusterIpWrongPortIsRejected) {
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  upsertService(makeService("web", "10.96.0.26", kHttp));
  upsertSlice(makeSlice("web", "web-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.26:80/"), "b1");
  auto r = pe_->curl(c->pod->ns, "http://10.96.0.26:81/", 3.0);
  EXPECT_EQ(r.exitCode, 7) << r.err;
  EXPECT_LT(r.ms, 1000);
  EXPECT_EQ(connectError(c->pod->ns, "10.96.0.26:81"), "connect: Connection refused");
}

// ------------------------------------------------------------------------------------------------ changes under load

/// Runs `nn-echo http-loop` in a namespace on a thread until stop() (bounded by maxMs); result() is its JSON.
class TrafficLoop {
 public:
  TrafficLoop(const TestNetns& ns, const std::string& scratch, const std::string& to, int maxMs, int intervalMs = 5)
      : stopFile_(scratch + "/stop-" + std::to_string(reinterpret_cast<uintptr_t>(this))) {
    ::unlink(stopFile_.c_str());
    thread_ = std::thread([this, &ns, to, maxMs, intervalMs] {
      RunOptions ro;
      ro.timeout = std::chrono::milliseconds(maxMs + 10000);
      auto r = ns.exec({ProxyEnv::echoBinary(), "http-loop", "--to", to, "--count", "100000000", "--duration-ms",
                        std::to_string(maxMs),
                        "--timeout-ms", "2000", "--interval-ms", std::to_string(intervalMs), "--stop-file",
                        stopFile_},
                       ro);
      if (r.ok()) result_ = json::parse(r->out, nullptr, false);
    });
  }
  json stop() {
    if (thread_.joinable()) {
      std::ofstream(stopFile_) << "stop";
      thread_.join();
    }
    return result_;
  }
  ~TrafficLoop() { stop(); }

 private:
  std::string stopFile_;
  std::thread thread_;
  json result_;
};

TEST_F(ProxyIntegrationTest, ScaleAndRollingUpdateWithoutFailedRequests) {
  // Rules mode deletes and re-adds the whole table in two transactions (a gap with no rules): zero failed
  // requests during changes is the daemon's promise (one transaction per sync).
  REQUIRE_DAEMON();
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* b3 = add("b3");
  Backend* b4 = add("b4");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && b3 && b4 && c);
  upsertService(makeService("roll", "10.96.0.27", kHttp));
  upsertSlice(makeSlice("roll", "roll-1", {{b1->ip}, {b2->ip}}, kHttp));
  ASSERT_NE(waitAnswer(c->pod->ns, "http://10.96.0.27/"), "");
  auto dnatGone = [&](const std::string& ip) {
    return ProxyEnv::eventually([&] { return !dnatsTo(ip); }, kConverge, 50ms);
  };
  TrafficLoop loop(c->pod->ns, pe_->scratch(), "10.96.0.27:80", 30000);
  std::this_thread::sleep_for(300ms);
  // Scale up: b3 joins.
  upsertSlice(makeSlice("roll", "roll-1", {{b1->ip}, {b2->ip}, {b3->ip}}, kHttp));
  EXPECT_TRUE(ProxyEnv::eventually([&] { return dnatsTo(b3->ip); }, kConverge, 50ms));
  std::this_thread::sleep_for(300ms);
  // Scale down: b1 terminates (still serving), then leaves the slice; its server stops only once no rule points at it.
  upsertSlice(makeSlice("roll", "roll-1", {{b1->ip, kNodeName, false, true, true}, {b2->ip}, {b3->ip}}, kHttp));
  std::this_thread::sleep_for(200ms);
  upsertSlice(makeSlice("roll", "roll-1", {{b2->ip}, {b3->ip}}, kHttp));
  EXPECT_TRUE(dnatGone(b1->ip));
  pe_->stopServer("b1");
  // Rolling update: b4 replaces b2 (surge first, then the old one terminates and goes).
  upsertSlice(makeSlice("roll", "roll-1", {{b2->ip}, {b3->ip}, {b4->ip}}, kHttp));
  EXPECT_TRUE(ProxyEnv::eventually([&] { return dnatsTo(b4->ip); }, kConverge, 50ms));
  upsertSlice(makeSlice("roll", "roll-1", {{b2->ip, kNodeName, false, true, true}, {b3->ip}, {b4->ip}}, kHttp));
  std::this_thread::sleep_for(200ms);
  upsertSlice(makeSlice("roll", "roll-1", {{b3->ip}, {b4->ip}}, kHttp));
  EXPECT_TRUE(dnatGone(b2->ip));
  pe_->stopServer("b2");
  std::this_thread::sleep_for(300ms);
  json res = loop.stop();
  ASSERT_TRUE(res.is_object()) << "http-loop gave no result";
  EXPECT_EQ(res.value("failed", -1), 0) << res.dump();
  EXPECT_GT(res.value("ok", 0), 50) << res.dump();
  EXPECT_GT(res["backends"].value("b3", 0), 0) << res.dump();
  EXPECT_GT(res["backends"].value("b4", 0), 0) << res.dump();
  // After the update only b3 and b4 answer.
  auto seen = spread(c->pod->ns, "http://10.96.0.27/", 10);
  EXPECT_EQ(seen.count("b1") + seen.count("b2") + seen.count(""), 0u) << json(seen).dump();
}

TEST_F(ProxyIntegrationTest, UdpFlowMovesToNewEndpointAfterOldOneIsRemoved) {
  REQUIRE_DAEMON();  // conntrack cleanup is the daemon's (proxy/sync)
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && c);
  upsertService(makeService("udp", "10.96.0.28", kUdp));
  upsertSlice(makeSlice("udp", "udp-1", {{b1->ip}}, kUdp));
  // One flow: always the same client port. b1 keeps running, so only a conntrack cleanup can move the flow.
  ASSERT_TRUE(ProxyEnv::eventually([&] { return udp(c->pod->ns, "10.96.0.28:53", 40053) == "b1"; }, kConverge));
  EXPECT_EQ(udp(c->pod->ns, "10.96.0.28:53", 40053), "b1");
  upsertSlice(makeSlice("udp", "udp-1", {{b2->ip}}, kUdp));
  EXPECT_TRUE(ProxyEnv::eventually([&] { return udp(c->pod->ns, "10.96.0.28:53", 40053, 300) == "b2"; }, kConverge,
                                   200ms))
      << "the UDP flow still goes to the removed endpoint (stale conntrack entry)";
}

TEST_F(ProxyIntegrationTest, UdpFlowRejectedAfterServiceScaledToZero) {
  REQUIRE_DAEMON();  // conntrack cleanup is the daemon's (proxy/sync)
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  upsertService(makeService("udp0", "10.96.0.36", kUdp));
  upsertSlice(makeSlice("udp0", "udp0-1", {{b1->ip}}, kUdp));
  ASSERT_TRUE(ProxyEnv::eventually([&] { return udp(c->pod->ns, "10.96.0.36:53", 40054) == "b1"; }, kConverge));
  // Scaled to zero while b1 still answers: only deleting the flow makes the next datagram meet the reject rule.
  upsertSlice(makeSlice("udp0", "udp0-1", {}, kUdp));
  std::string last;
  EXPECT_TRUE(ProxyEnv::eventually([&] { return (last = udpRaw(c->pod->ns, "10.96.0.36:53", 40054)) == "refused"; },
                                   kConverge, 200ms))
      << "last answer: " << last;
}

TEST_F(ProxyIntegrationTest, UdpFlowToEndpointRemovedWhileProxyWasDownMovesAfterRestart) {
  REQUIRE_DAEMON();  // conntrack cleanup is the daemon's (proxy/sync)
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && c);
  upsertService(makeService("udpr", "10.96.0.43", kUdp));
  upsertSlice(makeSlice("udpr", "udpr-1", {{b1->ip}}, kUdp));
  ASSERT_TRUE(ProxyEnv::eventually([&] { return udp(c->pod->ns, "10.96.0.43:53", 40056) == "b1"; }, kConverge));
  // The proxy dies; the endpoint changes while nobody watches (b1 keeps answering, so only a conntrack cleanup
  // can move the flow); the restarted proxy's first sync has no "before" to compare with.
  pe_->daemon()->stop(SIGKILL);
  upsertSlice(makeSlice("udpr", "udpr-1", {{b2->ip}}, kUdp));
  EXPECT_EQ(udp(c->pod->ns, "10.96.0.43:53", 40056), "b1") << "the flow follows its conntrack entry meanwhile";
  NN_ASSERT_OK(pe_->startProxy());
  EXPECT_TRUE(ProxyEnv::eventually([&] { return udp(c->pod->ns, "10.96.0.43:53", 40056, 300) == "b2"; }, kConverge,
                                   200ms))
      << "the UDP flow still goes to the endpoint removed while the proxy was down";
}

/// The daemon starts in the test body (after objects and traffic exist).
class ProxyLateStartTest : public ProxyIntegrationTest {
 protected:
  ProxyLateStartTest() { startProxyInSetUp_ = false; }
};

TEST_F(ProxyLateStartTest, UdpFlowSentBeforeTheProxyStartedIsAnsweredOnceProgrammed) {
  REQUIRE_DAEMON();  // conntrack cleanup is the daemon's (proxy/sync)
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  upsertService(makeService("early", "10.96.0.42", kUdp));
  upsertSlice(makeSlice("early", "early-1", {{b1->ip}}, kUdp));
  // No rules yet: the datagrams are routed (not DNATed) and leave a conntrack entry without NAT for the flow,
  // which every later datagram of the flow follows (kube-proxy deletes such flows after its syncs).
  EXPECT_EQ(udpRaw(c->pod->ns, "10.96.0.42:53", 40055), "-");
  NN_ASSERT_OK(pe_->startProxy());
  std::string last;
  EXPECT_TRUE(ProxyEnv::eventually(
      [&] { return (last = udpRaw(c->pod->ns, "10.96.0.42:53", 40055)).rfind("b1 ", 0) == 0; }, kConverge, 200ms))
      << "the flow started before the first sync is still not DNATed; last answer: " << last;
}

TEST_F(ProxyIntegrationTest, NodePortWithoutEndpointsIsRejectedFromOutside) {
  Backend* b1 = add("b1");
  ASSERT_TRUE(b1);
  std::vector<PortSpec> none = {{"http", 80, kHttpPort, "TCP", 30090}};
  std::vector<PortSpec> some = {{"http", 80, kHttpPort, "TCP", 30091}};
  upsertService(makeService("np0", "10.96.0.37", none, "NodePort"));
  upsertSlice(makeSlice("np0", "np0-1", {}, none));
  upsertService(makeService("np1", "10.96.0.38", some, "NodePort"));
  upsertSlice(makeSlice("np1", "np1-1", {{b1->ip}}, some));
  ASSERT_EQ(waitAnswer(pe_->external(), strCat("http://", kNodeIp, ":30091/")), "b1");
  auto r = pe_->curl(pe_->external(), strCat("http://", kNodeIp, ":30090/"), 3.0);
  EXPECT_EQ(r.exitCode, 7) << r.err;
  EXPECT_LT(r.ms, 1000);
  EXPECT_EQ(connectError(pe_->external(), strCat(kNodeIp, ":30090")), "connect: Connection refused");
}

TEST_F(ProxyIntegrationTest, MasqueradeAllHidesPodSources) {
  REQUIRE_DAEMON();
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  upsertService(makeService("web", "10.96.0.39", kHttp));
  upsertSlice(makeSlice("web", "web-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.39/"), "b1");
  EXPECT_THAT(pe_->curl(c->pod->ns, "http://10.96.0.39/").body, HasSubstr("peer=" + c->ip + ":"));
  pe_->daemon()->stop(SIGTERM);
  NN_ASSERT_OK(pe_->startProxy({"--masquerade-all"}));
  EXPECT_TRUE(ProxyEnv::eventually(
      [&] { return pe_->curl(c->pod->ns, "http://10.96.0.39/").body.find("peer=10.85.0.1:") != std::string::npos; },
      kConverge))
      << "with --masquerade-all the backend must see the node, not " << c->ip;
}

// ------------------------------------------------------------------------------------------------ daemon lifecycle

TEST_F(ProxyIntegrationTest, ApiServerStoppedAndRestarted) {
  REQUIRE_DAEMON();
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && c);
  upsertService(makeService("web", "10.96.0.29", kHttp));
  upsertSlice(makeSlice("web", "web-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.29/"), "b1");
  const size_t logBefore = pe_->daemon()->log().size();
  pe_->stopApiServer();
  // A change made while the API server is down cannot arrive; the rules stay and keep serving.
  upsertService(makeService("later", "10.96.0.30", kHttp));
  upsertSlice(makeSlice("later", "later-1", {{b2->ip}}, kHttp));
  // The daemon has noticed the outage and failed to reach the server again (not a fixed sleep).
  std::string outage;
  EXPECT_TRUE(ProxyEnv::eventually(
      [&] {
        outage = pe_->daemon()->log().substr(logBefore);
        return outage.find("Connection refused") != std::string::npos;
      },
      kConverge, 50ms))
      << "no failed reconnect in the daemon's log:\n" << outage;
  EXPECT_TRUE(pe_->daemon()->running()) << "the daemon must survive a lost API server";
  EXPECT_EQ(spread(c->pod->ns, "http://10.96.0.29/", 5), (std::map<std::string, int>{{"b1", 5}}));
  NN_ASSERT_OK(pe_->restartApiServer());
  EXPECT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.30/"), "b2") << "the change made during the outage";
  // And a change made after the restart converges too.
  upsertSlice(makeSlice("web", "web-1", {{b2->ip}}, kHttp));
  EXPECT_TRUE(ProxyEnv::eventually([&] { return get(c->pod->ns, "http://10.96.0.29/") == "b2"; }, kConverge));
}

TEST_F(ProxyIntegrationTest, ProxyKilledAndRestartedUnderTraffic) {
  REQUIRE_DAEMON();
  Backend* b1 = add("b1");
  Backend* b2 = add("b2");
  Backend* c = client();
  ASSERT_TRUE(b1 && b2 && c);
  upsertService(makeService("web", "10.96.0.31", kHttp));
  upsertSlice(makeSlice("web", "web-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.31/"), "b1");
  // An established connection: 40 lines over ~4 s, each answered within 1 s, across kill -9 and restart.
  RunResult session;
  std::thread t([&] {
    auto r = c->pod->ns.exec({ProxyEnv::echoBinary(), "session", "--to", "10.96.0.31:80", "--count", "40",
                              "--interval-ms", "100", "--timeout-ms", "1000"});
    if (r.ok()) session = *r;
  });
  TrafficLoop loop(c->pod->ns, pe_->scratch(), "10.96.0.31:80", 20000, 20);
  std::this_thread::sleep_for(500ms);
  pe_->daemon()->stop(SIGKILL);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(get(c->pod->ns, "http://10.96.0.31/"), "b1") << "rules must stay when the daemon dies";
  NN_ASSERT_OK(pe_->startProxy());
  upsertService(makeService("new", "10.96.0.32", kHttp));
  upsertSlice(makeSlice("new", "new-1", {{b2->ip}}, kHttp));
  EXPECT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.32/"), "b2");
  t.join();
  EXPECT_EQ(session.exitCode, 0) << session.out << session.err;
  EXPECT_THAT(session.out, HasSubstr("ok 40 b1"));
  json res = loop.stop();
  EXPECT_EQ(res.value("failed", -1), 0) << res.dump();
}

TEST_F(ProxyIntegrationTest, SigtermLeavesRulesInPlace) {
  REQUIRE_DAEMON();
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  upsertService(makeService("web", "10.96.0.33", kHttp));
  upsertSlice(makeSlice("web", "web-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.33/"), "b1");
  int st = pe_->daemon()->stop(SIGTERM, 5s);
  EXPECT_TRUE(WIFEXITED(st) || WIFSIGNALED(st)) << "did not exit on SIGTERM";
  EXPECT_EQ(get(c->pod->ns, "http://10.96.0.33/"), "b1");
}

TEST_F(ProxyIntegrationTest, HealthzAndMetricsRespond) {
  REQUIRE_DAEMON();
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  upsertService(makeService("web", "10.96.0.34", kHttp));
  upsertSlice(makeSlice("web", "web-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.34/"), "b1");
  ProxyEnv::CurlResult hz;
  EXPECT_TRUE(ProxyEnv::eventually(
      [&] { return (hz = pe_->curl(pe_->node(), "http://127.0.0.1:10256/healthz", 2.0, {"-f"})).ok(); }, kConverge));
  EXPECT_TRUE(hz.ok()) << hz.err;
  auto lz = pe_->curl(pe_->node(), "http://127.0.0.1:10256/livez", 2.0, {"-f"});
  EXPECT_TRUE(lz.ok()) << lz.err;
  auto m = pe_->curl(pe_->node(), "http://127.0.0.1:10249/metrics", 2.0, {"-f"});
  ASSERT_TRUE(m.ok()) << m.err;
  EXPECT_THAT(m.body, HasSubstr("kubeproxy_sync_proxy_rules_duration_seconds"));
}

TEST_F(ProxyIntegrationTest, CleanupRemovesOnlyOurTables) {
  REQUIRE_DAEMON();
  Backend* b1 = add("b1");
  Backend* c = client();
  ASSERT_TRUE(b1 && c);
  // Someone else's table in the node namespace.
  auto add = pe_->node().exec({"nft", "add table inet unrelated; add chain inet unrelated keep { type filter hook "
                                      "input priority 10; policy accept; }; add rule inet unrelated keep counter"});
  ASSERT_TRUE(add.ok() && add->ok()) << (add.ok() ? add->describe() : add.error().message());
  upsertService(makeService("web", "10.96.0.35", kHttp));
  upsertSlice(makeSlice("web", "web-1", {{b1->ip}}, kHttp));
  ASSERT_EQ(waitAnswer(c->pod->ns, "http://10.96.0.35/"), "b1");
  NN_ASSERT_OK(pe_->checkRulesetRoundTrip());
  auto before = pe_->node().exec({"nft", "list", "tables"});
  ASSERT_TRUE(before.ok());
  pe_->daemon()->stop(SIGTERM);
  auto r = pe_->node().exec({ProxyEnv::proxyBinary(), "--cleanup", "--v=2"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exitCode, 0) << r->describe();
  auto after = pe_->node().exec({"nft", "list", "tables"});
  ASSERT_TRUE(after.ok());
  auto ours = [](const std::string& line) { return line == "table ip nodenet" || line == "table ip6 nodenet"; };
  for (const auto& line : split(after->out, '\n')) EXPECT_FALSE(ours(line)) << after->out;
  EXPECT_THAT(after->out, HasSubstr("table inet unrelated"));
  // Every other table that was there (the CNI plugin's) is still there.
  for (const auto& line : split(before->out, '\n')) {
    if (line.empty() || ours(line)) continue;
    EXPECT_THAT(after->out, HasSubstr(line));
  }
  auto unrelated = pe_->node().exec({"nft", "list", "table", "inet", "unrelated"});
  ASSERT_TRUE(unrelated.ok());
  EXPECT_THAT(unrelated->out, HasSubstr("counter"));
  checkRulesetAtEnd_ = false;  // the table is gone on purpose
}

}  // namespace
}  // namespace nodenet::itest::proxy
