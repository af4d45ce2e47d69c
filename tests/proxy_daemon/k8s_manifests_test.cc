// conf/k8s: what users install must parse, carry the RBAC the daemons need, and the proxy's ConfigMap and
// DaemonSet command line must be accepted by nodenet-proxy's own option parser (the same code the daemon runs).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "dns/daemon/options.h"
#include "kube/manifests/parse.h"
#include "proxy/daemon/options.h"

namespace nodenet::proxy::daemon {
namespace {

using nlohmann::json;

std::string readSource(const std::string& rel) {
  std::ifstream in(std::string(NODENET_SOURCE_DIR) + "/" + rel);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> documents(const std::string& rel) {
  auto docs = kube::manifests::yamlToJson(readSource(rel));
  EXPECT_TRUE(docs.ok()) << (docs.ok() ? "" : docs.error().message());
  std::vector<json> out;
  if (docs.ok())
    for (auto& d : *docs) out.push_back(std::move(d.json));
  return out;
}

const json* findKind(const std::vector<json>& docs, const std::string& kind, const std::string& name) {
  for (const auto& d : docs)
    if (d.value("kind", "") == kind && d["metadata"].value("name", "") == name) return &d;
  return nullptr;
}

// resource -> verbs granted by a ClusterRole.
std::map<std::string, std::set<std::string>> grants(const json& role) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& rule : role["rules"])
    for (const auto& group : rule["apiGroups"])
      for (const auto& res : rule["resources"])
        for (const auto& verb : rule["verbs"])
          out[group.get<std::string>() + "/" + res.get<std::string>()].insert(verb.get<std::string>());
  return out;
}

TEST(K8sManifests, ProxyObjectsAndRbac) {
  auto docs = documents("conf/k8s/nodenet-proxy.yaml");
  ASSERT_EQ(docs.size(), 5u);
  for (const auto& d : docs) {
    EXPECT_TRUE(d.contains("apiVersion")) << d.dump();
    EXPECT_TRUE(d.contains("kind")) << d.dump();
  }
  ASSERT_TRUE(findKind(docs, "ServiceAccount", "nodenet-proxy"));
  const json* role = findKind(docs, "ClusterRole", "nodenet:node-proxier");
  ASSERT_TRUE(role);
  auto g = grants(*role);
  EXPECT_TRUE(g["/services"].count("list") && g["/services"].count("watch"));
  EXPECT_TRUE(g["discovery.k8s.io/endpointslices"].count("list") &&
              g["discovery.k8s.io/endpointslices"].count("watch"));
  for (const char* v : {"get", "list", "watch"}) EXPECT_TRUE(g["/nodes"].count(v)) << v;
  EXPECT_TRUE(g["/events"].count("create"));
  EXPECT_TRUE(g["events.k8s.io/events"].count("create"));
  const json* binding = findKind(docs, "ClusterRoleBinding", "nodenet:node-proxier");
  ASSERT_TRUE(binding);
  EXPECT_EQ((*binding)["roleRef"]["name"], "nodenet:node-proxier");
  EXPECT_EQ((*binding)["subjects"][0]["name"], "nodenet-proxy");
  EXPECT_EQ((*binding)["subjects"][0]["namespace"], "kube-system");

  const json* ds = findKind(docs, "DaemonSet", "nodenet-proxy");
  ASSERT_TRUE(ds);
  const json& pod = (*ds)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["hostNetwork"], true);
  EXPECT_EQ(pod["serviceAccountName"], "nodenet-proxy");
  EXPECT_EQ((*ds)["spec"]["selector"]["matchLabels"], (*ds)["spec"]["template"]["metadata"]["labels"]);
  const json& c = pod["containers"][0];
  EXPECT_THAT(c["securityContext"]["capabilities"]["add"].get<std::vector<std::string>>(),
              ::testing::Contains("NET_ADMIN"));
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"], 10256);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/livez");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/healthz");
}

TEST(K8sManifests, ProxyConfigMapAndCommandAreAccepted) {
  auto docs = documents("conf/k8s/nodenet-proxy.yaml");
  const json* cm = findKind(docs, "ConfigMap", "nodenet-proxy");
  ASSERT_TRUE(cm);
  const json* ds = findKind(docs, "DaemonSet", "nodenet-proxy");
  ASSERT_TRUE(ds);
  const json& container = (*ds)["spec"]["template"]["spec"]["containers"][0];
  // The ConfigMap is mounted where the command's --config points.
  const json& mount = container["volumeMounts"][0];
  EXPECT_EQ((*ds)["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"], "nodenet-proxy");

  std::map<std::string, std::string> files;
  for (auto it = (*cm)["data"].begin(); it != (*cm)["data"].end(); ++it)
    files[mount["mountPath"].get<std::string>() + "/" + it.key()] = it.value().get<std::string>();

  // The DaemonSet's command, with the downward-API variable expanded as the kubelet would.
  std::vector<std::string> args;
  for (const auto& a : container["command"]) args.push_back(a.get<std::string>());
  ASSERT_EQ(args.at(0), "/usr/local/bin/nodenet-proxy");
  args.erase(args.begin());
  for (auto& a : args)
    if (auto p = a.find("$(NODE_NAME)"); p != std::string::npos) a.replace(p, 12, "worker-1");

  auto o = loadOptions(
      args,
      [&](const std::string& path) -> Result<std::string> {
        auto it = files.find(path);
        if (it == files.end()) return Error("no such file in the ConfigMap mount: " + path);
        return it->second;
      },
      "ignored-hostname");
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_TRUE(o->warnings.empty()) << o->warnings.front();
  EXPECT_EQ(o->nodeName, "worker-1");
  EXPECT_EQ(o->kubeconfig, "/var/lib/nodenet-proxy/kubeconfig.conf");
  EXPECT_TRUE(files.count(o->kubeconfig)) << "the kubeconfig the config names is in the ConfigMap too";
  ASSERT_EQ(o->clusterCIDRs.size(), 1u);
  EXPECT_EQ(o->clusterCIDRs[0].toString(), "10.244.0.0/16");
  EXPECT_TRUE(o->nodePortAddresses.primary);
  EXPECT_EQ(o->healthzBindAddress->toString(), "0.0.0.0:10256");
  EXPECT_EQ(o->metricsBindAddress->toString(), "127.0.0.1:10249");
  EXPECT_EQ(o->verbosity, 2);

  // The kubeconfig is YAML with the service account's token file and CA.
  auto kc = kube::manifests::yamlToJson(files[o->kubeconfig]);
  ASSERT_TRUE(kc.ok());
  const json& k = kc->front().json;
  EXPECT_EQ(k["users"][0]["user"]["tokenFile"], "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(k["clusters"][0]["cluster"]["certificate-authority"],
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
}

TEST(K8sManifests, DnsObjects) {
  auto docs = documents("conf/k8s/nodenet-dns.yaml");
  ASSERT_EQ(docs.size(), 5u);
  const json* role = findKind(docs, "ClusterRole", "nodenet:dns");
  ASSERT_TRUE(role);
  auto g = grants(*role);
  EXPECT_TRUE(g["/services"].count("watch"));
  EXPECT_TRUE(g["discovery.k8s.io/endpointslices"].count("watch"));
  const json* deploy = findKind(docs, "Deployment", "nodenet-dns");
  ASSERT_TRUE(deploy);
  EXPECT_EQ((*deploy)["spec"]["template"]["spec"]["serviceAccountName"], "nodenet-dns");
  EXPECT_EQ((*deploy)["spec"]["selector"]["matchLabels"]["k8s-app"], "kube-dns");

  // The container's command is accepted by nodenet-dns's own option parser.
  const json& container = (*deploy)["spec"]["template"]["spec"]["containers"][0];
  std::vector<std::string> args;
  for (const auto& a : container["command"]) args.push_back(a.get<std::string>());
  ASSERT_EQ(args.at(0), "/usr/local/bin/nodenet-dns");
  args.erase(args.begin());
  auto dnsOptions = dns::daemon::parseOptions(args);
  ASSERT_TRUE(dnsOptions.ok()) << dnsOptions.error().message();
  EXPECT_EQ(dnsOptions->zone, "cluster.local");
  EXPECT_EQ(dnsOptions->ttl, 5u);
  ASSERT_EQ(dnsOptions->listen.size(), 1u);
  EXPECT_TRUE(dnsOptions->kubeconfig.empty() && dnsOptions->manifestsDir.empty()) << "in-cluster service account";

  // The Service decodes with nodenet's own decoder (what the proxy and DNS would read from the API).
  auto parsed = kube::manifests::parseManifest("nodenet-dns.yaml", readSource("conf/k8s/nodenet-dns.yaml"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->objects.size(), 1u);
  const auto* svc = std::get_if<kube::Service>(&parsed->objects[0]);
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->meta.name, "kube-dns");
  ASSERT_FALSE(svc->clusterIPs.empty());
  EXPECT_EQ(svc->clusterIPs[0].toString(), "10.96.0.10");
  ASSERT_EQ(svc->ports.size(), 2u);
  EXPECT_EQ(svc->ports[0].port, 53);
  EXPECT_EQ(svc->ports[0].protocol, L4Proto::UDP);
  EXPECT_EQ(svc->ports[1].protocol, L4Proto::TCP);
  EXPECT_EQ(parsed->unsupported, 4u);  // ServiceAccount, ClusterRole, ClusterRoleBinding, Deployment
}

}  // namespace
}  // namespace nodenet::proxy::daemon
