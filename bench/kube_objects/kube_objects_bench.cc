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

#include "bench/common/kube_fixtures.h"
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


json makeList(const char* kind, const char* apiVersion, json (*make)(int)) {
  json items = json::array();
  for (int i = 0; i < kObjects; ++i) items.push_back(make(i));
  return {{"kind", kind}, {"apiVersion", apiVersion}, {"metadata", {{"resourceVersion", "987654"}}}, {"items", items}};
}

const std::string& serviceListText() {
  static const std::string text = makeList("ServiceList", "v1", [](int i) { return bench::makeService(i); }).dump();
  return text;
}
const std::string& sliceListText() {
  static const std::string text = makeList("EndpointSliceList", "discovery.k8s.io/v1", [](int i) { return bench::makeEndpointSlice(i); }).dump();
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

/// Decodes the list `text` with `decode` per iteration, then reports throughput and the decoder's heap use.
template <typename Decode>
void benchListDecode(benchmark::State& state, const std::string& text, Decode decode) {
  for (auto _ : state) {
    auto r = decode(text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * kObjects);
  reportMemory(state, text, decode);
}

void BM_ServiceListText(benchmark::State& state) {
  benchListDecode(state, serviceListText(), [](const std::string& t) { return decodeServiceListText(t); });
}
BENCHMARK(BM_ServiceListText)->Unit(benchmark::kMillisecond);

void BM_ServiceListTree(benchmark::State& state) {
  benchListDecode(state, serviceListText(), [](const std::string& t) { return decodeServiceList(json::parse(t)); });
}
BENCHMARK(BM_ServiceListTree)->Unit(benchmark::kMillisecond);

void BM_EndpointSliceListText(benchmark::State& state) {
  benchListDecode(state, sliceListText(), [](const std::string& t) { return decodeEndpointSliceListText(t); });
}
BENCHMARK(BM_EndpointSliceListText)->Unit(benchmark::kMillisecond);

void BM_EndpointSliceListTree(benchmark::State& state) {
  benchListDecode(state, sliceListText(),
                  [](const std::string& t) { return decodeEndpointSliceList(json::parse(t)); });
}
BENCHMARK(BM_EndpointSliceListTree)->Unit(benchmark::kMillisecond);

/// One MODIFIED watch event of a served Service (the steady-state path).
void BM_WatchEventText(benchmark::State& state) {
  const std::string text = json{{"type", "MODIFIED"}, {"object", bench::makeService(42)}}.dump();
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
