#include "integration/proxy/proxy_env.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "base/ip.h"
#include "base/strings.h"
#include "integration/harness/paths.h"
#include "kube/objects/decode.h"
#include "netlink/nft/netlink_kernel.h"
#include "proxy/rules/ruleset.h"

namespace nodenet::itest::proxy {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace prules = ::nodenet::proxy::rules;

ProxyMode proxyModeFromEnv() {
  const char* m = ::getenv("NODENET_PROXY_MODE");
  return m != nullptr && std::string(m) == "rules" ? ProxyMode::Rules : ProxyMode::Daemon;
}

// ------------------------------------------------------------------------------------------------ ProxyEnv

namespace {

Status runOk(const TestNetns& ns, const std::vector<std::string>& argv) {
  NN_ASSIGN_OR_RETURN(RunResult r, ns.exec(argv));
  if (!r.ok()) return Error(strCat(join(argv, " "), " in ", ns.name(), ": ", r.describe()));
  return okStatus();
}

std::string keyOf(const json& obj) {
  return obj["metadata"].value("namespace", "") + "/" + obj["metadata"].value("name", "");
}

}  // namespace

std::string ProxyEnv::echoBinary() { return ourBinary("nn-echo"); }
std::string ProxyEnv::proxyBinary() { return ourBinary("nodenet-proxy"); }

Result<std::unique_ptr<ProxyEnv>> ProxyEnv::create(ProxyEnvOptions options) {
  removeStaleNetns(options.prefix);
  removeStaleTempDirs();
  std::unique_ptr<ProxyEnv> pe(new ProxyEnv());
  pe->opts_ = std::move(options);
  NN_ASSIGN_OR_RETURN(pe->env_, NodeEnv::create(pe->opts_.prefix));
  const TestNetns& node = pe->node();
  // A node forwards; br_netfilter makes bridged pod-to-pod replies pass conntrack, so a DNATed connection
  // between two pods on the same bridge is de-NATed on the way back (what kube-proxy requires of a node).
  NN_TRY(runOk(node, {"sysctl", "-qw", "net.ipv4.ip_forward=1"}));
  NN_TRY(runOk(node, {"sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"}));
  NN_TRY(pe->setupExternal());
  NN_TRY(pe->startApi(0, 1000));
  NN_TRY(pe->writeKubeconfig());
  NN_TRY(pe->upsertNode(makeNode()));
  if (pe->opts_.startProxy) NN_TRY(pe->startProxy());
  return pe;
}

ProxyEnv::~ProxyEnv() {
  daemon_.reset();
  backends_.clear();  // servers die before their namespaces go
  api_.reset();
}

Status ProxyEnv::setupExternal() {
  NN_ASSIGN_OR_RETURN(external_, TestNetns::create(opts_.prefix, "ext"));
  const TestNetns& node = env_->node();
  NN_TRY(runOk(node, {"ip", "link", "add", "nnx0", "type", "veth", "peer", "name", "nnx1", "netns", external_.name()}));
  NN_TRY(runOk(node, {"ip", "addr", "add", strCat(kNodeIp, "/24"), "dev", "nnx0"}));
  NN_TRY(runOk(node, {"ip", "link", "set", "nnx0", "up"}));
  NN_TRY(runOk(external_, {"ip", "addr", "add", strCat(kExternalIp, "/24"), "dev", "nnx1"}));
  NN_TRY(runOk(external_, {"ip", "addr", "add", strCat(kExternalIp2, "/24"), "dev", "nnx1"}));
  NN_TRY(runOk(external_, {"ip", "link", "set", "nnx1", "up"}));
  for (const char* dst : {"10.96.0.0/16", "203.0.113.0/24", kClusterCidr})
    NN_TRY(runOk(external_, {"ip", "route", "add", dst, "via", kNodeIp}));
  NN_TRY(runOk(node, {"ip", "route", "add", "default", "via", kExternalIp}));
  return okStatus();
}

Status ProxyEnv::startApi(uint16_t port, int64_t initialRv) {
  fakeapi::Options o;
  o.initialResourceVersion = initialRv;
  o.netnsPath = env_->node().path();
  o.port = port;
  NN_ASSIGN_OR_RETURN(api_, fakeapi::FakeApiServer::start(o));
  apiPort_ = api_->port();
  return okStatus();
}

Status ProxyEnv::writeKubeconfig() {
  kubeconfig_ = scratch() + "/kubeconfig";
  std::ofstream out(kubeconfig_);
  out << "apiVersion: v1\nkind: Config\n"
      << "clusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:" << apiPort_ << "\n"
      << "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: test\n"
      << "current-context: fake\nusers:\n- name: test\n  user: {}\n";
  if (!out) return Error("write " + kubeconfig_);
  return okStatus();
}

Result<Backend*> ProxyEnv::addPodWith(const std::string& name, bool server) {
  if (backends_.count(name)) return Error("pod " + name + " exists");
  NN_ASSIGN_OR_RETURN(Pod * pod, env_->addPod());
  static Conflist conflist = [] {
    auto c = Conflist::load(confDir() + "/cni/11-crio-ipv4-bridge.conflist");
    return c.ok() ? std::move(c).value() : Conflist{};
  }();
  Conflist list = conflist.withIpamDataDir(scratch() + "/host-local");
  CniRunner runner = env_->runner(ourCniPath());
  NN_ASSIGN_OR_RETURN(CniOutcome out, runner.add(list, pod->rt));
  if (out.exitCode != 0) return Error("CNI ADD for " + name + ": " + out.describe());
  auto b = std::make_unique<Backend>();
  b->name = name;
  b->pod = pod;
  b->ip = firstIp(out.json);
  if (b->ip.empty()) return Error("CNI ADD for " + name + ": no IP in " + out.json.dump());
  if (server) {
    NN_ASSIGN_OR_RETURN(
        b->server,
        Background::start({echoBinary(), "serve", "--name", name, "--tcp", std::to_string(kHttpPort), "--tcp",
                           std::to_string(kHttpPort2), "--udp", std::to_string(kUdpPort)},
                          {.netns = pod->ns.path(), .logPath = scratch() + "/echo-" + name + ".log"}));
    if (!b->server.waitForLog("listening", std::chrono::seconds(5)))
      return Error("nn-echo in " + name + " did not start: " + b->server.log());
  }
  Backend* raw = b.get();
  backends_[name] = std::move(b);
  return raw;
}

Result<Backend*> ProxyEnv::addBackend(const std::string& name) { return addPodWith(name, true); }
Result<Backend*> ProxyEnv::addClient(const std::string& name) { return addPodWith(name, false); }

Backend* ProxyEnv::backend(const std::string& name) {
  auto it = backends_.find(name);
  return it == backends_.end() ? nullptr : it->second.get();
}

void ProxyEnv::stopServer(const std::string& name) {
  if (Backend* b = backend(name)) b->server.stop(SIGKILL);
}

Status ProxyEnv::upsertService(const json& svc) {
  services_[keyOf(svc)] = svc;
  if (api_) api_->upsert(fakeapi::Resource::Services, svc);
  return opts_.mode == ProxyMode::Rules && !deferRules_ ? applyRules() : okStatus();
}

Status ProxyEnv::removeService(const std::string& ns, const std::string& name) {
  services_.erase(ns + "/" + name);
  if (api_) api_->remove(fakeapi::Resource::Services, ns, name);
  return opts_.mode == ProxyMode::Rules && !deferRules_ ? applyRules() : okStatus();
}

Status ProxyEnv::upsertSlice(const json& slice) {
  slices_[keyOf(slice)] = slice;
  if (api_) api_->upsert(fakeapi::Resource::EndpointSlices, slice);
  return opts_.mode == ProxyMode::Rules && !deferRules_ ? applyRules() : okStatus();
}

Status ProxyEnv::removeSlice(const std::string& ns, const std::string& name) {
  slices_.erase(ns + "/" + name);
  if (api_) api_->remove(fakeapi::Resource::EndpointSlices, ns, name);
  return opts_.mode == ProxyMode::Rules && !deferRules_ ? applyRules() : okStatus();
}

Status ProxyEnv::upsertNode(const json& node) {
  node_ = node;
  if (api_) api_->upsert(fakeapi::Resource::Nodes, node);
  return opts_.mode == ProxyMode::Rules && !deferRules_ ? applyRules() : okStatus();
}

Status ProxyEnv::setDeferRules(bool defer) {
  deferRules_ = defer;
  return opts_.mode == ProxyMode::Rules && !defer ? applyRules() : okStatus();
}

Status ProxyEnv::startProxy(const std::vector<std::string>& extraArgs) {
  if (opts_.mode == ProxyMode::Rules) return applyRules();
  if (::access(proxyBinary().c_str(), X_OK) != 0) return Error(proxyBinary() + " is not built");
  std::vector<std::string> argv = {proxyBinary(),
                                   "--kubeconfig=" + kubeconfig_,
                                   std::string("--hostname-override=") + kNodeName,
                                   std::string("--cluster-cidr=") + kClusterCidr,
                                   "--v=2"};
  for (const auto& a : opts_.daemonArgs) argv.push_back(a);
  for (const auto& a : extraArgs) argv.push_back(a);
  NN_ASSIGN_OR_RETURN(Background b, Background::start(argv, {.netns = env_->node().path(), .logPath = scratch() + "/proxy.log"}));
  daemon_.emplace(std::move(b));
  return okStatus();
}

void ProxyEnv::stopApiServer() {
  if (api_) lastRv_ = std::stoll(api_->resourceVersion());
  api_.reset();
}

Status ProxyEnv::restartApiServer() {
  // Same port: the daemon's kubeconfig names it, as a real API server restarts on its address. A new server
  // has a new resourceVersion history, like an etcd restore: clients must relist.
  NN_TRY(startApi(apiPort_, lastRv_));
  api_->upsert(fakeapi::Resource::Nodes, node_);
  for (auto& [k, s] : services_) api_->upsert(fakeapi::Resource::Services, s);
  for (auto& [k, s] : slices_) api_->upsert(fakeapi::Resource::EndpointSlices, s);
  return okStatus();
}

Status ProxyEnv::applyRules() {
  std::vector<kube::Service> svcs;
  std::vector<kube::EndpointSlice> slices;
  for (auto& [k, j] : services_) {
    NN_ASSIGN_OR_RETURN(auto s, kube::decodeService(j));
    svcs.push_back(std::move(s));
  }
  for (auto& [k, j] : slices_) {
    NN_ASSIGN_OR_RETURN(auto s, kube::decodeEndpointSlice(j));
    slices.push_back(std::move(s));
  }
  prules::Input in;
  for (const auto& s : svcs) {
    prules::ServiceInput si;
    si.service = &s;
    for (const auto& sl : slices)
      if (sl.meta.ns == s.meta.ns && sl.serviceName() == s.meta.name) si.slices.push_back(&sl);
    in.services.push_back(std::move(si));
  }
  if (!node_.is_null()) {
    NN_ASSIGN_OR_RETURN(auto n, kube::decodeNode(node_));
    in.node = prules::nodeInputFrom(n);
  }
  prules::Config cfg;
  NN_ASSIGN_OR_RETURN(Cidr cc, Cidr::parse(kClusterCidr));
  cfg.clusterCIDRs.push_back(cc);
  cfg.endpointMaps = !opts_.chainLayout;
  prules::Ruleset rs = prules::buildRuleset(in, cfg);
  NN_ASSIGN_OR_RETURN(auto kernel, nft::NetlinkKernel::create(env_->node().path()));
  // Rules mode has no applied-state memory: drop the old table (stale chains) and add the new one.
  NN_ASSIGN_OR_RETURN(bool has, kernel->hasTable(rs.family, rs.table));
  if (has) {
    nft::Transaction del(rs.family, rs.table);
    del.remove(nft::Table{rs.family, rs.table, std::nullopt});
    NN_TRY(kernel->commit(del));
  }
  nft::Transaction tx = prules::toTransaction(rs);
  NN_TRY(tx.status());
  return kernel->commit(tx);
}

Result<std::string> ProxyEnv::dumpRuleset(const std::string& family) {
  NN_ASSIGN_OR_RETURN(RunResult r, node().exec({"nft", "list", "table", family, "nodenet"}));
  if (!r.ok()) return std::string();
  return r.out;
}

Status ProxyEnv::checkRulesetRoundTrip(const std::string& family) {
  NN_ASSIGN_OR_RETURN(std::string dump, dumpRuleset(family));
  if (dump.empty()) return Error("no table " + family + " nodenet in the node namespace");
  std::string path = scratch() + "/ruleset-" + family + ".nft";
  {
    std::ofstream out(path);
    out << dump;
  }
  NN_ASSIGN_OR_RETURN(TestNetns empty, TestNetns::create(opts_.prefix, "chk"));
  NN_ASSIGN_OR_RETURN(RunResult r, empty.exec({"nft", "-c", "-f", path}));
  if (!r.ok()) return Error("nft -c -f of the dumped table failed: " + r.describe() + "\n" + dump);
  return okStatus();
}

ProxyEnv::CurlResult ProxyEnv::curl(const TestNetns& from, const std::string& url, double maxSeconds,
                                    const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time", strCat(maxSeconds), "--connect-timeout",
                                   strCat(maxSeconds)};
  for (const auto& e : extra) argv.push_back(e);
  argv.push_back(url);
  CurlResult c;
  RunOptions ro;
  ro.timeout = std::chrono::milliseconds(static_cast<int>(maxSeconds * 1000) + 3000);
  auto t0 = Clock::now();
  auto r = from.exec(argv, ro);
  c.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!r.ok()) {
    c.err = r.error().message();
    return c;
  }
  c.exitCode = r->exitCode;
  c.body = std::string(trim(r->out));
  c.err = std::string(trim(r->err));
  return c;
}

bool ProxyEnv::eventually(const std::function<bool()>& fn, std::chrono::milliseconds timeout,
                          std::chrono::milliseconds step) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (fn()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// ------------------------------------------------------------------------------------------------ objects

json makeService(const std::string& name, const std::string& clusterIp, const std::vector<PortSpec>& ports,
                 const std::string& type) {
  json p = json::array();
  for (const auto& ps : ports) {
    json j = {{"name", ps.name}, {"port", ps.port}, {"protocol", ps.protocol},
              {"targetPort", ps.targetPort ? ps.targetPort : ps.port}};
    if (ps.nodePort) j["nodePort"] = ps.nodePort;
    p.push_back(j);
  }
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"namespace", "default"}, {"name", name}}},
          {"spec",
           {{"type", type},
            {"clusterIP", clusterIp},
            {"clusterIPs", {clusterIp}},
            {"ipFamilies", {"IPv4"}},
            {"selector", {{"app", name}}},
            {"ports", p}}}};
}

json makeSlice(const std::string& service, const std::string& slice, const std::vector<EndpointSpec>& eps,
               const std::vector<PortSpec>& ports) {
  json e = json::array();
  for (const auto& ep : eps) {
    e.push_back({{"addresses", {ep.ip}},
                 {"nodeName", ep.nodeName},
                 {"conditions", {{"ready", ep.ready}, {"serving", ep.serving}, {"terminating", ep.terminating}}}});
  }
  json p = json::array();
  for (const auto& ps : ports)
    p.push_back({{"name", ps.name}, {"port", ps.targetPort ? ps.targetPort : ps.port}, {"protocol", ps.protocol}});
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"namespace", "default"},
            {"name", slice},
            {"labels", {{"kubernetes.io/service-name", service}, {"endpointslice.kubernetes.io/managed-by", "test"}}}}},
          {"addressType", "IPv4"},
          {"endpoints", e},
          {"ports", p}};
}

json makeNode() {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", kNodeName}, {"labels", {{"kubernetes.io/hostname", kNodeName}}}}},
          {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", kNodeIp}}, {{"type", "Hostname"}, {"address", kNodeName}}}}}}};
}

}  // namespace nodenet::itest::proxy
