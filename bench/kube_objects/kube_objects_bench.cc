// Decoding a ServiceList of 10,000 Services and an EndpointSliceList of 10,000 slices (2 endpoints each), in
// the form the API server serves them (managedFields, kubectl's last-applied annotation, ownerReferences).
//
// Reports per run: time, input size, and memory:
//   held_B/obj    heap held by the decoded objects (mallinfo2 in-use bytes after minus before, list kept alive)
//   peak_MiB      the highest transient heap while decoding (operator new/delete counter below)
// The daemons' budget is 64 MiB RSS for 10,000 Services + 10,000 EndpointSlices (BM_HoldBoth).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>
#include <nlohmann/json.hpp>
#include <string>

#include "kube/objects/decode.h"

// ---- heap accounting: current and peak bytes handed out by operator new ----
namespace {
std::atomic<int64_t> gHeapNow{0};
std::atomic<int64_t> gHeapPeak{0};

void* countedAlloc(size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  int64_t now = gHeapNow.fetch_add(static_cast<int64_t>(malloc_usable_size(p))) + malloc_usable_size(p);
  int64_t peak = gHeapPeak.load(std::memory_order_relaxed);
  while (now > peak && !gHeapPeak.compare_exchange_weak(peak, now)) {
  }
  return p;
}
void countedFree(void* p) {
  if (!p) return;
  gHeapNow.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)));
  std::free(p);
}
}  // namespace

void* operator new(size_t n) { return countedAlloc(n); }
void* operator new[](size_t n) { return countedAlloc(n); }
void operator delete(void* p) noexcept { countedFree(p); }
void operator delete[](void* p) noexcept { countedFree(p); }
void operator delete(void* p, size_t) noexcept { countedFree(p); }
void operator delete[](void* p, size_t) noexcept { countedFree(p); }

namespace nodenet::kube {
namespace {

using nlohmann::json;

constexpr int kObjects = 10000;
constexpr int kNamespaces = 100;
constexpr int kNodes = 200;

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

json makeService(int i) {
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
  return {
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"uid", hexId(i)},
        {"resourceVersion", std::to_string(100000 + i)},
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
}

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

json makeSlice(int i) {
  std::string svc = "svc-" + std::to_string(i);
  std::string ns = "ns-" + std::to_string(i % kNamespaces);
  return {{"metadata",
           {{"name", svc + "-" + std::string("x7k2p")},
            {"generateName", svc + "-"},
            {"namespace", ns},
            {"uid", hexId(i + 5000000)},
            {"resourceVersion", std::to_string(200000 + i)},
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
}

json makeList(const char* kind, const char* apiVersion, json (*make)(int)) {
  json items = json::array();
  for (int i = 0; i < kObjects; ++i) items.push_back(make(i));
  return {{"kind", kind}, {"apiVersion", apiVersion}, {"metadata", {{"resourceVersion", "987654"}}}, {"items", items}};
}

const std::string& serviceListText() {
  static const std::string text = makeList("ServiceList", "v1", makeService).dump();
  return text;
}
const std::string& sliceListText() {
  static const std::string text = makeList("EndpointSliceList", "discovery.k8s.io/v1", makeSlice).dump();
  return text;
}

size_t mallocInUse() { return mallinfo2().uordblks; }

/// Decodes once outside the timed loop and reports what the result holds and the transient peak.
template <typename Decode>
void reportMemory(benchmark::State& state, const std::string& text, Decode decode) {
  malloc_trim(0);
  size_t before = mallocInUse();
  int64_t heapBefore = gHeapNow.load();
  gHeapPeak.store(heapBefore);
  auto list = decode(text);
  if (!list.ok() || list->items.size() != kObjects) {
    state.SkipWithError("decode failed");
    return;
  }
  size_t held = mallocInUse() - before;
  state.counters["held_B/obj"] = static_cast<double>(held) / kObjects;
  state.counters["held_MiB"] = static_cast<double>(held) / (1 << 20);
  state.counters["peak_MiB"] = static_cast<double>(gHeapPeak.load() - heapBefore) / (1 << 20);
  state.counters["input_MiB"] = static_cast<double>(text.size()) / (1 << 20);
}

void BM_ServiceListText(benchmark::State& state) {
  const std::string& text = serviceListText();
  for (auto _ : state) {
    auto r = decodeServiceListText(text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * kObjects);
  reportMemory(state, text, [](const std::string& t) { return decodeServiceListText(t); });
}
BENCHMARK(BM_ServiceListText)->Unit(benchmark::kMillisecond);

void BM_ServiceListTree(benchmark::State& state) {
  const std::string& text = serviceListText();
  auto decode = [](const std::string& t) { return decodeServiceList(json::parse(t)); };
  for (auto _ : state) {
    auto r = decode(text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * kObjects);
  reportMemory(state, text, decode);
}
BENCHMARK(BM_ServiceListTree)->Unit(benchmark::kMillisecond);

void BM_EndpointSliceListText(benchmark::State& state) {
  const std::string& text = sliceListText();
  for (auto _ : state) {
    auto r = decodeEndpointSliceListText(text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * kObjects);
  reportMemory(state, text, [](const std::string& t) { return decodeEndpointSliceListText(t); });
}
BENCHMARK(BM_EndpointSliceListText)->Unit(benchmark::kMillisecond);

void BM_EndpointSliceListTree(benchmark::State& state) {
  const std::string& text = sliceListText();
  auto decode = [](const std::string& t) { return decodeEndpointSliceList(json::parse(t)); };
  for (auto _ : state) {
    auto r = decode(text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * kObjects);
  reportMemory(state, text, decode);
}
BENCHMARK(BM_EndpointSliceListTree)->Unit(benchmark::kMillisecond);

/// One MODIFIED watch event of a served Service (the steady-state path).
void BM_WatchEventText(benchmark::State& state) {
  const std::string text = json{{"type", "MODIFIED"}, {"object", makeService(42)}}.dump();
  for (auto _ : state) {
    auto r = decodeWatchEventText(text, ObjectKind::Service);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_WatchEventText)->Unit(benchmark::kMicrosecond);

/// Both lists decoded and held, as a daemon holds them: total heap and process RSS against the 64 MiB budget.
void BM_HoldBoth(benchmark::State& state) {
  const std::string& svcText = serviceListText();
  const std::string& sliceText = sliceListText();
  for (auto _ : state) {
    malloc_trim(0);
    size_t before = mallocInUse();
    auto services = decodeServiceListText(svcText);
    auto slices = decodeEndpointSliceListText(sliceText);
    size_t held = mallocInUse() - before;
    state.counters["held_MiB"] = static_cast<double>(held) / (1 << 20);
    // RSS includes the two input texts, which a daemon does not keep (it decodes as it reads).
    long pages = 0, resident = 0;
    std::ifstream("/proc/self/statm") >> pages >> resident;
    double rssMiB = static_cast<double>(resident) * 4096 / (1 << 20);
    state.counters["rss_MiB"] = rssMiB;
    state.counters["rss_minus_input_MiB"] = rssMiB - static_cast<double>(svcText.size() + sliceText.size()) / (1 << 20);
    benchmark::DoNotOptimize(services);
    benchmark::DoNotOptimize(slices);
  }
  InternStats is = internStats();
  state.counters["interned"] = static_cast<double>(is.strings);
}
BENCHMARK(BM_HoldBoth)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace nodenet::kube

BENCHMARK_MAIN();
