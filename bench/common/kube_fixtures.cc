#include "bench/common/kube_fixtures.h"

#include <cstdint>
#include <cstdio>
#include <string>

namespace nodenet::bench {
namespace {

using nlohmann::json;

std::string hexId(uint64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-4%03llx-8%03llx-%012llx",
                (unsigned long long)(n * 2654435761u) & 0xffffffffu, (unsigned long long)n & 0xffff,
                (unsigned long long)(n >> 4) & 0xfff, (unsigned long long)(n >> 8) & 0xfff,
                (unsigned long long)n * 7919);
  return buf;
}

std::string ipv4(uint32_t base, uint32_t n) {
  uint32_t a = base + n;
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." +
         std::to_string(a & 255);
}

json managedFields(const char* manager, const json& fields) {
  return json::array({{{"manager", manager},
                       {"operation", "Update"},
                       {"apiVersion", "v1"},
                       {"time", "2024-05-02T09:14:11Z"},
                       {"fieldsType", "FieldsV1"},
                       {"fieldsV1", fields}}});
}

}  // namespace

json makeService(int i, bool withResourceVersion) {
  std::string name = "svc-" + std::to_string(i);
  std::string ns = "ns-" + std::to_string(i % kNamespaces);
  json labels = {{"app", name},
                 {"app.kubernetes.io/name", name},
                 {"app.kubernetes.io/part-of", "shop"},
                 {"app.kubernetes.io/managed-by", "Helm"}};
  json ports = json::array({{{"name", "http"}, {"protocol", "TCP"}, {"port", 80}, {"targetPort", 8080}},
                            {{"name", "metrics"}, {"protocol", "TCP"}, {"port", 9090}, {"targetPort", "metrics"}}});
  json spec = {{"ports", ports},
               {"selector", {{"app", name}}},
               {"clusterIP", ipv4(0x0a600000, i + 10)},
               {"clusterIPs", {ipv4(0x0a600000, i + 10)}},
               {"type", "ClusterIP"},
               {"sessionAffinity", "None"},
               {"ipFamilies", {"IPv4"}},
               {"ipFamilyPolicy", "SingleStack"},
               {"internalTrafficPolicy", "Cluster"}};
  json status = {{"loadBalancer", json::object()}};
  if (i % 10 == 1) {
    spec["type"] = "NodePort";
    spec["externalTrafficPolicy"] = "Cluster";
    spec["ports"][0]["nodePort"] = 30000 + i % 2700;
    spec["ports"][1]["nodePort"] = 32700 - i % 2700;
  } else if (i % 20 == 2) {
    spec["type"] = "LoadBalancer";
    spec["externalTrafficPolicy"] = "Local";
    spec["healthCheckNodePort"] = 31000 + i % 1000;
    spec["ports"][0]["nodePort"] = 30000 + i % 2700;
    spec["ports"][1]["nodePort"] = 32700 - i % 2700;
    spec["loadBalancerSourceRanges"] = {"203.0.113.0/24"};
    status["loadBalancer"]["ingress"] = {{{"ip", ipv4(0xc6336400, i % 250)}, {"ipMode", "VIP"}}};
  }
  json lastApplied = {{"apiVersion", "v1"},
                      {"kind", "Service"},
                      {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
                      {"spec", {{"ports", ports}, {"selector", {{"app", name}}}}}};
  json obj = {
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"uid", hexId(i)},
        {"creationTimestamp", "2024-05-02T09:14:11Z"},
        {"labels", labels},
        {"annotations",
         {{"kubectl.kubernetes.io/last-applied-configuration", lastApplied.dump() + "\n"},
          {"meta.helm.sh/release-name", "shop"},
          {"meta.helm.sh/release-namespace", ns}}},
        {"managedFields",
         managedFields(
             "helm", {{"f:metadata", {{"f:labels", {{".", json::object()}, {"f:app", json::object()}}}}},
                      {"f:spec",
                       {{"f:internalTrafficPolicy", json::object()},
                        {"f:ports", {{".", json::object()}, {"k:{\"port\":80,\"protocol\":\"TCP\"}", json::object()}}},
                        {"f:selector", json::object()},
                        {"f:sessionAffinity", json::object()},
                        {"f:type", json::object()}}}})}}},
      {"spec", spec},
      {"status", status}};
  if (withResourceVersion) obj["metadata"]["resourceVersion"] = std::to_string(100000 + i);
  return obj;
}

namespace {

json makeEndpoint(int i, int k) {
  int node = (i * 2 + k) % kNodes;
  std::string pod = "svc-" + std::to_string(i) + "-7d9f8c6b5-" + std::to_string(10000 + k);
  return {{"addresses", {ipv4(0x0af40000, i * 2 + k + 2)}},
          {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}},
          {"nodeName", "node-" + std::to_string(node)},
          {"zone", "zone-" + std::string(1, static_cast<char>('a' + node % 3))},
          {"hints", {{"forZones", {{{"name", "zone-" + std::string(1, static_cast<char>('a' + node % 3))}}}}}},
          {"targetRef",
           {{"kind", "Pod"},
            {"namespace", "ns-" + std::to_string(i % kNamespaces)},
            {"name", pod},
            {"uid", hexId(i * 2 + k + 1000000)}}}};
}

}  // namespace

json makeEndpointSlice(int i, bool withResourceVersion) {
  std::string svc = "svc-" + std::to_string(i);
  std::string ns = "ns-" + std::to_string(i % kNamespaces);
  json obj = {{"metadata",
           {{"name", svc + "-" + std::string("x7k2p")},
            {"generateName", svc + "-"},
            {"namespace", ns},
            {"uid", hexId(i + 5000000)},
            {"generation", 3},
            {"creationTimestamp", "2024-05-02T09:14:11Z"},
            {"labels",
             {{"app", svc},
              {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"},
              {"kubernetes.io/service-name", svc}}},
            {"annotations", {{"endpoints.kubernetes.io/last-change-trigger-time", "2024-05-02T09:15:02Z"}}},
            {"ownerReferences",
             {{{"apiVersion", "v1"},
               {"kind", "Service"},
               {"name", svc},
               {"uid", hexId(i)},
               {"controller", true},
               {"blockOwnerDeletion", true}}}},
            {"managedFields",
             managedFields("kube-controller-manager",
                           {{"f:addressType", json::object()},
                            {"f:endpoints", json::object()},
                            {"f:ports", json::object()},
                            {"f:metadata", {{"f:labels", {{".", json::object()}, {"f:app", json::object()}}}}}})}}},
          {"addressType", "IPv4"},
          {"endpoints", {makeEndpoint(i, 0), makeEndpoint(i, 1)}},
          {"ports",
           {{{"name", "http"}, {"protocol", "TCP"}, {"port", 8080}},
            {{"name", "metrics"}, {"protocol", "TCP"}, {"port", 9090}}}}};
  if (withResourceVersion) obj["metadata"]["resourceVersion"] = std::to_string(200000 + i);
  return obj;
}

}  // namespace nodenet::bench
