// nodenet-dns on a node, asked from a real pod (our CNI) the way a workload asks: dig for every record type,
// a headless Service scaled 3 -> 10 -> 0 by rewriting its manifest, a 100-endpoint headless answer over UDP
// (TC, partial) and TCP (complete), names outside the zone forwarded to a second DNS server (NSD) in another
// namespace, `getent hosts` through a resolv.conf with the cluster search path, and the records read from the
// API server (the fake one, inside the node namespace) through --kubeconfig.
//
// IP plan:
//   node ns  nnt-dns-<pid>-<rand>-node : cni0 10.85.0.1/16 (bridge gateway, from the CRI-O conflist);
//                                        nndnsup0 192.0.2.1/30 (veth to the upstream ns)
//            nodenet-dns --listen 10.85.0.1:53 --listen 127.0.0.1:53 --upstream 192.0.2.2:53
//   pod ns   nnt-dns-<pid>-<rand>-p0   : eth0 10.85.0.x/16 (host-local), default route via 10.85.0.1
//   up ns    nnt-dns-<pid>-<rand>-up   : eth0 192.0.2.2/30, NSD for example.test on 192.0.2.2:53
// Cluster plan: bench/common makeSmallPlan(3) (ClusterIP 10.96.0.x, endpoints 10.244.x.y) plus
//   default/stateful (headless, rewritten by the scale test, 10.244.50.x) and default/big (headless, 100
//   endpoints 10.244.60.x).
#include <gtest/gtest.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "bench/common/cluster_plan.h"
#include "integration/dns/dns_env.h"
#include "integration/fakeapi/fake_api_server.h"
#include "integration/harness/fixture.h"
#include "integration/harness/paths.h"

namespace nodenet::itest::dns {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* const kGateway = "10.85.0.1";
const char* const kUpstream = "192.0.2.2";
const std::string kZone = "cluster.local";

bench::PlanService headless(const std::string& name, int n, int thirdOctet, bool hostnames) {
  bench::PlanService s;
  s.ns = "default";
  s.name = name;
  s.kind = bench::PlanKind::Headless;
  s.ports = {bench::PlanPort{"peer", "TCP", 2380, 2380}};
  for (int i = 0; i < n; ++i) {
    bench::PlanEndpoint e;
    e.address = "10.244." + std::to_string(thirdOctet) + "." + std::to_string(10 + i);
    if (hostnames) e.hostname = name + "-" + std::to_string(i);
    s.endpoints.push_back(e);
  }
  return s;
}

/// A file written by this test under /etc/netns/<ns>/ (what `ip netns exec` bind-mounts over /etc), removed
/// with the directory when it was ours.
class EtcNetnsFile {
 public:
  EtcNetnsFile(const std::string& netns, const std::string& name, const std::string& text) {
    ::mkdir("/etc/netns", 0755) == 0 ? createdTop_ = true : false;
    dir_ = "/etc/netns/" + netns;
    ::mkdir(dir_.c_str(), 0755);
    path_ = dir_ + "/" + name;
    std::ofstream(path_) << text;
  }
  ~EtcNetnsFile() {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
    if (createdTop_) ::rmdir("/etc/netns");
  }

 private:
  bool createdTop_ = false;
  std::string dir_, path_;
};

/// Removes /etc/netns/<prefix>* directories left by a killed run (their namespace is gone), and only those.
void removeStaleEtcNetns(const std::string& prefix) {
  DIR* d = ::opendir("/etc/netns");
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind(prefix, 0) == 0 && ::access(("/run/netns/" + name).c_str(), F_OK) != 0) stale.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : stale) {
    ::unlink(("/etc/netns/" + name + "/resolv.conf").c_str());
    ::rmdir(("/etc/netns/" + name).c_str());
  }
}

class DnsIntegration : public NodeFixture {
 protected:
  std::string netnsPrefix() const override { return "nnt-dns-"; }

  void SetUp() override {
    NodeFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    removeStaleEtcNetns(netnsPrefix());
    if (::access(ourBinary("nodenet-dns").c_str(), X_OK) != 0) GTEST_FAIL() << ourBinary("nodenet-dns") << " not built";
    if (!hasPlugins(ourCniPath(), {"bridge", "host-local", "loopback"})) GTEST_FAIL() << "our CNI plugins not built";
    if (!findExecutable("nsd", "/usr/sbin:/usr/bin").ok()) GTEST_SKIP() << "nsd not installed";

    // The pod, through our CNI.
    auto pods = addPods(1);
    ASSERT_EQ(pods.size(), 1u);
    pod_ = pods[0];
    list_ = crioConflist();
    auto runner = env().runner(ourCniPath());
    auto added = runner.add(list_, pod_->rt);
    NN_ASSERT_OK(added);
    ASSERT_TRUE(added->ok()) << added->describe();
    podIp_ = firstIp(added->json);
    ASSERT_FALSE(podIp_.empty()) << added->json.dump();

    // The upstream namespace and its NSD (example.test), one veth away from the node.
    auto up = TestNetns::create(netnsPrefix(), "up");
    NN_ASSERT_OK(up);
    up_ = std::move(*up);
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "link", "add", "nndnsup0", "type", "veth", "peer", "name", "eth0", "netns", up_.name()},
             {"ip", "addr", "add", "192.0.2.1/30", "dev", "nndnsup0"},
             {"ip", "link", "set", "nndnsup0", "up"}}) {
      auto r = env().inNode(argv);
      NN_ASSERT_OK(r);
      ASSERT_TRUE(r->ok()) << r->describe();
    }
    for (const auto& argv : std::vector<std::vector<std::string>>{{"ip", "addr", "add", "192.0.2.2/30", "dev", "eth0"},
                                                                  {"ip", "link", "set", "eth0", "up"}}) {
      auto r = up_.exec(argv);
      NN_ASSERT_OK(r);
      ASSERT_TRUE(r->ok()) << r->describe();
    }
    std::string upDir = env().scratch() + "/upstream";
    ::mkdir(upDir.c_str(), 0755);
    bench::ZoneText upZone{"example.test.",
                           "$ORIGIN example.test.\n"
                           "example.test. 300 IN SOA ns.example.test. admin.example.test. 7 3600 600 86400 60\n"
                           "example.test. 300 IN NS ns.example.test.\n"
                           "ns.example.test. 300 IN A 192.0.2.2\n"
                           "www.example.test. 300 IN A 198.51.100.7\n"
                           "txt.example.test. 300 IN TXT \"from-upstream\"\n"};
    auto nsd = startNsd(up_, upDir, {upZone}, kUpstream, 53);
    NN_ASSERT_OK(nsd);
    nsd_ = std::move(*nsd);

    // The cluster: the small plan plus the two Services the tests below need.
    plan_ = bench::makeSmallPlan(3);
    manifests_ = env().scratch() + "/manifests";
    ASSERT_EQ(bench::writeManifests(plan_, manifests_), "");
    writeService("stateful.json", headless("stateful", 3, 50, true));
    writeService("big.json", headless("big", 100, 60, false));

    auto ours = startNodenetDns(node(),
                                {"--listen", std::string(kGateway) + ":53", "--listen", "127.0.0.1:53", "--zone",
                                 kZone, "--ttl", "5", "--threads", "2", "--manifests", manifests_, "--upstream",
                                 std::string(kUpstream) + ":53"},
                                env().scratch() + "/nodenet-dns.log", kGateway, 53, "web.default.svc.cluster.local");
    NN_ASSERT_OK(ours);
    ours_ = std::move(*ours);
  }

  void TearDown() override {
    if (HasFailure() && ours_.pid() > 0) std::cerr << "nodenet-dns log:\n" << ours_.log() << "\n";
    ours_.stop();
    nsd_.stop();
    up_.remove();
    NodeFixture::TearDown();
  }

  void writeService(const std::string& file, const bench::PlanService& s) {
    json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", bench::serviceObjects(s)}};
    ASSERT_EQ(bench::writeFileAtomically(manifests_ + "/" + file, list.dump(1)), "");
  }

  /// dig from the pod to the node's DNS address.
  DigReply ask(const std::string& name, const std::string& type, std::vector<std::string> options = {}) {
    auto r = dig(pod_->ns, kGateway, 53, name, type, options);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : DigReply{};
  }

  static std::vector<std::string> rdatas(const DigReply& r, const std::string& type) {
    std::vector<std::string> out;
    for (const auto& rr : r.answer)
      if (rr.type == type) out.push_back(rr.rdata);
    std::sort(out.begin(), out.end());
    return out;
  }

  const bench::PlanService& service(const std::string& name) const {
    for (const auto& s : plan_.services)
      if (s.name == name) return s;
    std::abort();
  }

  Pod* pod_ = nullptr;
  Conflist list_;
  std::string podIp_, manifests_;
  TestNetns up_;
  Daemon nsd_, ours_;
  bench::ClusterPlan plan_;
};

TEST_F(DnsIntegration, EveryRecordTypeFromAPod) {
  const std::string z = ".svc.cluster.local";
  const auto& web = service("web");
  const auto& dual = service("dual");

  auto a = ask("web.default" + z, "A");
  EXPECT_EQ(a.rcode, "NOERROR") << a.raw;
  EXPECT_EQ(rdatas(a, "A"), std::vector<std::string>{web.clusterIps[0]}) << a.raw;
  EXPECT_TRUE(a.flags.count("aa")) << a.raw;
  EXPECT_EQ(a.answer.at(0).ttl, 5u);

  auto aaaa = ask("dual.team-a" + z, "AAAA");
  EXPECT_EQ(rdatas(aaaa, "AAAA"), std::vector<std::string>{dual.clusterIps[1]}) << aaaa.raw;

  auto srv = ask("_https._tcp.web.default" + z, "SRV");
  EXPECT_EQ(rdatas(srv, "SRV"), std::vector<std::string>{"0 100 443 web.default.svc.cluster.local."}) << srv.raw;

  auto hsrv = ask("_pg._tcp.db.default" + z, "SRV");
  EXPECT_EQ(rdatas(hsrv, "SRV"),
            (std::vector<std::string>{"0 33 5432 db-0.db.default.svc.cluster.local.",
                                      "0 33 5432 db-1.db.default.svc.cluster.local.",
                                      "0 33 5432 db-2.db.default.svc.cluster.local."}))
      << hsrv.raw;

  auto hl = ask("db.default" + z, "A");
  EXPECT_EQ(rdatas(hl, "A").size(), 3u) << hl.raw;
  auto host = ask("db-1.db.default" + z, "A");
  EXPECT_EQ(rdatas(host, "A").size(), 1u) << host.raw;

  auto ptr = ask(bench::reverseName(web.clusterIps[0]), "PTR");
  EXPECT_EQ(rdatas(ptr, "PTR"), std::vector<std::string>{"web.default.svc.cluster.local."}) << ptr.raw;
  auto ptrEp = ask(bench::reverseName(host.answer.at(0).rdata), "PTR");
  EXPECT_EQ(rdatas(ptrEp, "PTR"), std::vector<std::string>{"db-1.db.default.svc.cluster.local."}) << ptrEp.raw;

  auto cname = ask("ext.default" + z, "CNAME");
  EXPECT_EQ(rdatas(cname, "CNAME"), std::vector<std::string>{"example.com."}) << cname.raw;

  auto txt = ask("dns-version.cluster.local", "TXT");
  EXPECT_EQ(rdatas(txt, "TXT"), std::vector<std::string>{"\"1.1.0\""}) << txt.raw;

  // The pod's own record (CoreDNS `pods insecure`).
  std::string label = podIp_;
  std::replace(label.begin(), label.end(), '.', '-');
  auto pod = ask(label + ".default.pod.cluster.local", "A");
  EXPECT_EQ(rdatas(pod, "A"), std::vector<std::string>{podIp_}) << pod.raw;

  auto nx = ask("nosuch.default" + z, "A");
  EXPECT_EQ(nx.rcode, "NXDOMAIN") << nx.raw;
  ASSERT_EQ(nx.authority.size(), 1u) << nx.raw;
  EXPECT_EQ(nx.authority[0].type, "SOA");

  // Over TCP too (RFC 7766), and case kept.
  auto tcp = ask("WEB.Default" + z, "A", {"+tcp"});
  EXPECT_EQ(rdatas(tcp, "A"), std::vector<std::string>{web.clusterIps[0]}) << tcp.raw;
  EXPECT_EQ(tcp.question, "WEB.Default" + z + ".");
}

TEST_F(DnsIntegration, HeadlessScaleFollowsTheManifest) {
  const std::string name = "stateful.default.svc.cluster.local";
  auto count = [](int n) {
    return [n](const DigReply& r) { return r.ok && r.rcode == "NOERROR" && rdatas(r, "A").size() == size_t(n); };
  };
  auto three = waitFor(pod_->ns, kGateway, 53, name, "A", count(3), 2000ms);
  ASSERT_EQ(rdatas(three, "A").size(), 3u) << three.raw;

  for (int n : {10, 0}) {
    // Timed from just before the manifest is replaced (atomic rename) to the first UDP answer that shows it,
    // probing every ~2 ms from the pod; then confirmed with dig.
    auto probe = [n](const ReplyHeader& h) { return n == 0 ? h.rcode == 3 : (h.rcode == 0 && h.answers == n); };
    std::optional<std::chrono::microseconds> followed;
    std::thread writer([&] {
      std::this_thread::sleep_for(5ms);  // the poller's first query sees the old state
      writeService("stateful.json", headless("stateful", n, 50, true));
    });
    followed = fastPoll(pod_->ns.name(), kGateway, 53, name, 1, probe, 3000ms);
    writer.join();
    ASSERT_TRUE(followed.has_value()) << "scale to " << n << " not answered within 3 s";
    double ms = (followed->count() - 5000) / 1000.0;
    std::cout << "scaled to " << n << ": answered " << ms << " ms after the manifest was replaced\n";
    // The issue: an endpoint change is answered within 100 ms of reaching the index; the manifest source adds
    // its 25 ms settle time. 500 ms leaves room for a loaded machine.
    EXPECT_LE(ms, 500.0) << "scale to " << n << " took too long";
    auto pred = n == 0 ? std::function<bool(const DigReply&)>([](const DigReply& r) { return r.rcode == "NXDOMAIN"; })
                       : std::function<bool(const DigReply&)>(count(n));
    auto r = ask(name, "A");
    EXPECT_TRUE(pred(r)) << r.raw;
    if (n == 10) {
      auto srv = ask("_peer._tcp." + name, "SRV");
      EXPECT_EQ(rdatas(srv, "SRV").size(), 10u) << srv.raw;
      auto h9 = ask("stateful-9." + name, "A");
      EXPECT_EQ(rdatas(h9, "A"), std::vector<std::string>{"10.244.50.19"}) << h9.raw;
    } else {
      auto h0 = ask("stateful-0." + name, "A");
      EXPECT_EQ(h0.rcode, "NXDOMAIN") << h0.raw;
    }
  }
}

TEST_F(DnsIntegration, HundredEndpointsTruncateOverUdpAndCompleteOverTcp) {
  const std::string name = "big.default.svc.cluster.local";
  // 100 A records (16 octets each compressed) do not fit in 1232 octets of EDNS payload, nor in 512 without EDNS.
  for (const auto& opts : std::vector<std::vector<std::string>>{{"+ignore", "+bufsize=1232"},
                                                                {"+ignore", "+noedns"}}) {
    auto udp = ask(name, "A", opts);
    SCOPED_TRACE(opts.back());
    EXPECT_EQ(udp.rcode, "NOERROR") << udp.raw;
    EXPECT_TRUE(udp.flags.count("tc")) << udp.raw;
    auto got = rdatas(udp, "A");
    EXPECT_GT(got.size(), 10u) << "a truncated answer keeps as many whole records as fit";
    EXPECT_LT(got.size(), 100u);
    for (const auto& ip : got) EXPECT_EQ(ip.rfind("10.244.60.", 0), 0u) << ip;
  }
  auto tcp = ask(name, "A", {"+tcp"});
  EXPECT_FALSE(tcp.flags.count("tc")) << tcp.raw;
  auto all = rdatas(tcp, "A");
  EXPECT_EQ(all.size(), 100u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 100u);
  // Without +ignore dig retries over TCP by itself on TC, as stub resolvers do.
  auto retried = ask(name, "A");
  EXPECT_EQ(rdatas(retried, "A").size(), 100u) << retried.raw;
}

TEST_F(DnsIntegration, NamesOutsideTheZoneGoUpstream) {
  auto www = ask("www.example.test", "A");
  EXPECT_EQ(www.rcode, "NOERROR") << www.raw;
  EXPECT_EQ(rdatas(www, "A"), std::vector<std::string>{"198.51.100.7"}) << www.raw;
  auto txt = ask("TXT.example.test", "TXT");
  EXPECT_EQ(rdatas(txt, "TXT"), std::vector<std::string>{"\"from-upstream\""}) << txt.raw;
  auto nx = ask("nosuch.example.test", "A");
  EXPECT_EQ(nx.rcode, "NXDOMAIN") << nx.raw;
  // Over TCP from the pod as well.
  auto tcp = ask("www.example.test", "A", {"+tcp"});
  EXPECT_EQ(rdatas(tcp, "A"), std::vector<std::string>{"198.51.100.7"}) << tcp.raw;
}

TEST_F(DnsIntegration, GetentHostsThroughThePodSearchPath) {
  EtcNetnsFile resolv(pod_->ns.name(), "resolv.conf",
                      std::string("nameserver ") + kGateway +
                          "\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n");
  RunOptions ro;
  ro.launcher = NetnsLauncher::IpNetnsExec;  // bind-mounts /etc/netns/<pod>/resolv.conf over /etc/resolv.conf
  ro.timeout = 15s;
  auto getent = [&](const std::string& db, const std::string& name) {
    auto r = pod_->ns.exec({"getent", db, name}, ro);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : RunResult{};
  };
  const auto& web = service("web");
  auto short1 = getent("hosts", "web");
  EXPECT_TRUE(short1.ok()) << short1.describe();
  EXPECT_EQ(short1.out.rfind(web.clusterIps[0], 0), 0u) << short1.out;
  EXPECT_NE(short1.out.find("web.default.svc.cluster.local"), std::string::npos) << short1.out;

  auto otherNs = getent("hosts", "resolver.team-a");
  EXPECT_EQ(otherNs.out.rfind(service("resolver").clusterIps[0], 0), 0u) << otherNs.describe();

  auto headlessAll = getent("ahostsv4", "db");
  for (const auto& e : service("db").endpoints)
    if (e.ready) EXPECT_NE(headlessAll.out.find(e.address), std::string::npos) << headlessAll.out;

  auto upstream = getent("hosts", "www.example.test");
  EXPECT_EQ(upstream.out.rfind("198.51.100.7", 0), 0u) << upstream.describe();

  auto missing = getent("hosts", "nosuch");
  EXPECT_EQ(missing.exitCode, 2) << "getent: 2 = not found; " << missing.describe();
}

// Without --upstream the node's resolv.conf decides: its nameservers get the names outside the zone, and when it
// lists none the answer is REFUSED (cluster names still resolve). `ip netns exec` bind-mounts
// /etc/netns/<node>/resolv.conf over /etc/resolv.conf for the daemon.
TEST_F(DnsIntegration, ResolvConfUpstreamAndRefusedWithoutOne) {
  {
    EtcNetnsFile resolv(node().name(), "resolv.conf", "nameserver 192.0.2.2\noptions ndots:1\n");
    auto viaResolv = startNodenetDns(node(), {"--listen", "127.0.0.1:5353", "--manifests", manifests_, "--threads", "1"},
                                     env().scratch() + "/resolv.log", "127.0.0.1", 5353,
                                     "web.default.svc.cluster.local", /*viaIpNetnsExec=*/true);
    NN_ASSERT_OK(viaResolv);
    auto www = dig(node(), "127.0.0.1", 5353, "www.example.test", "A");
    NN_ASSERT_OK(www);
    EXPECT_EQ(rdatas(*www, "A"), std::vector<std::string>{"198.51.100.7"}) << www->raw << viaResolv->log();
  }
  EtcNetnsFile resolv(node().name(), "resolv.conf", "search example.test\n");
  auto none = startNodenetDns(node(), {"--listen", "127.0.0.1:5354", "--manifests", manifests_, "--threads", "1"},
                              env().scratch() + "/none.log", "127.0.0.1", 5354, "web.default.svc.cluster.local",
                              /*viaIpNetnsExec=*/true);
  NN_ASSERT_OK(none);
  auto refused = dig(node(), "127.0.0.1", 5354, "www.example.test", "A");
  NN_ASSERT_OK(refused);
  EXPECT_EQ(refused->rcode, "REFUSED") << refused->raw << none->log();
  auto inZone = dig(node(), "127.0.0.1", 5354, "web.default.svc.cluster.local", "A");
  NN_ASSERT_OK(inZone);
  EXPECT_EQ(rdatas(*inZone, "A"), std::vector<std::string>{service("web").clusterIps[0]}) << inZone->raw;
  // --upstream none: REFUSED whatever resolv.conf says.
  auto flagNone = startNodenetDns(node(),
                                  {"--listen", "127.0.0.1:5355", "--manifests", manifests_, "--threads", "1",
                                   "--upstream", "none"},
                                  env().scratch() + "/flagnone.log", "127.0.0.1", 5355,
                                  "web.default.svc.cluster.local");
  NN_ASSERT_OK(flagNone);
  auto refused2 = dig(node(), "127.0.0.1", 5355, "www.example.test", "A");
  NN_ASSERT_OK(refused2);
  EXPECT_EQ(refused2->rcode, "REFUSED") << refused2->raw;
}

// --kubeconfig: the records come from the API server (the fake one, real wire format, listening inside the node
// namespace on 127.0.0.1) through list+watch, and follow its changes.
TEST_F(DnsIntegration, ServesFromTheApiServerThroughKubeconfig) {
  fakeapi::Options o;
  o.netnsPath = node().path();
  auto api = fakeapi::FakeApiServer::start(o);
  NN_ASSERT_OK(api);
  bench::PlanService web;
  web.ns = "default";
  web.name = "api-web";
  web.clusterIps = {"10.96.7.7"};
  web.ports = {bench::PlanPort{"http", "TCP", 80, 8080}};
  auto upsertAll = [&](const bench::PlanService& s) {
    for (const auto& obj : bench::serviceObjects(s))
      (*api)->upsert(obj["kind"] == "Service" ? fakeapi::Resource::Services : fakeapi::Resource::EndpointSlices, obj);
  };
  upsertAll(web);
  upsertAll(headless("api-hl", 2, 70, false));
  std::string kubeconfig = env().scratch() + "/kubeconfig";
  {
    std::ofstream out(kubeconfig);
    out << "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: " << (*api)->url()
        << "\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: test\n"
        << "current-context: fake\nusers:\n- name: test\n  user: {}\n";
    ASSERT_TRUE(out.good());
  }
  auto fromApi = startNodenetDns(node(),
                                 {"--listen", "127.0.0.1:5356", "--kubeconfig", kubeconfig, "--threads", "1",
                                  "--upstream", "none"},
                                 env().scratch() + "/api.log", "127.0.0.1", 5356, "api-web.default.svc.cluster.local");
  NN_ASSERT_OK(fromApi);
  auto a = waitFor(node(), "127.0.0.1", 5356, "api-web.default.svc.cluster.local", "A",
                   [](const DigReply& r) { return !r.answer.empty(); }, 5s);
  EXPECT_EQ(rdatas(a, "A"), std::vector<std::string>{"10.96.7.7"}) << a.raw << fromApi->log();
  auto hl = waitFor(node(), "127.0.0.1", 5356, "api-hl.default.svc.cluster.local", "A",
                    [](const DigReply& r) { return r.answer.size() == 2; }, 5s);
  EXPECT_EQ(rdatas(hl, "A"), (std::vector<std::string>{"10.244.70.10", "10.244.70.11"})) << hl.raw;

  // Changes arrive through the watch: a third endpoint, then the ClusterIP Service deleted.
  upsertAll(headless("api-hl", 3, 70, false));
  hl = waitFor(node(), "127.0.0.1", 5356, "api-hl.default.svc.cluster.local", "A",
               [](const DigReply& r) { return r.answer.size() == 3; }, 5s);
  EXPECT_EQ(hl.answer.size(), 3u) << hl.raw << fromApi->log();
  (*api)->remove(fakeapi::Resource::Services, "default", "api-web");
  a = waitFor(node(), "127.0.0.1", 5356, "api-web.default.svc.cluster.local", "A",
              [](const DigReply& r) { return r.rcode == "NXDOMAIN"; }, 5s);
  EXPECT_EQ(a.rcode, "NXDOMAIN") << a.raw << fromApi->log();
}

}  // namespace
}  // namespace nodenet::itest::dns
