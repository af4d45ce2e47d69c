// Index rebuild time and resolve() ns/op for nodenet-dns's record layer.
//
// Cluster: 1,000 ClusterIP Services (one named port) + 1,000 headless Services x 5 ready endpoints (one slice
// each, hostnames on every other endpoint), spread over 50 namespaces. The objects are built as structs before
// timing; BM_BuildIndex times buildIndex() alone, the resolve benchmarks time begin() + resolve() + finish()
// into a 1232-byte buffer (what the server does per UDP query after parseQuery()).
// Run: build-rec/bin/dns_records_bench   (RelWithDebInfo or Release)
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "base/strings.h"
#include "dns/records/records.h"

namespace nodenet::dns::records {
namespace {

constexpr int kServices = 1000;  // of each kind
constexpr int kEndpoints = 5;
constexpr int kNamespaces = 50;

struct Cluster {
  std::vector<kube::Service> services;
  std::vector<kube::EndpointSlice> slices;
};

const Cluster& cluster() {
  static const Cluster c = [] {
    Cluster c;
    const kube::InternedString http("http"), svcLabel(kube::kLabelServiceName);
    for (int i = 0; i < 2 * kServices; ++i) {
      kube::Service s;
      s.meta.ns = kube::InternedString(strCat("ns-", i % kNamespaces));
      const bool headless = i >= kServices;
      s.meta.name = strCat(headless ? "headless-" : "svc-", i);
      s.headless = headless;
      if (!headless) s.clusterIPs = {IpAddress::v4(0x0a600000u + static_cast<uint32_t>(i))};
      kube::ServicePort p;
      p.name = http;
      p.port = 80;
      s.ports = {p};
      if (headless) {
        kube::EndpointSlice sl;
        sl.meta.ns = s.meta.ns;
        sl.meta.name = s.meta.name + "-abcde";
        sl.meta.labels = kube::StringMap({{svcLabel, s.meta.name}});
        kube::EndpointPort ep;
        ep.name = http;
        ep.port = 8080;
        sl.ports = {ep};
        for (int e = 0; e < kEndpoints; ++e) {
          kube::Endpoint end;
          end.addresses = {IpAddress::v4(0x0a800000u + static_cast<uint32_t>(i * 8 + e))};
          end.conditions.ready = true;
          if (e % 2 == 0) end.hostname = strCat("pod-", e);
          sl.endpoints.push_back(std::move(end));
        }
        c.slices.push_back(std::move(sl));
      }
      c.services.push_back(std::move(s));
    }
    return c;
  }();
  return c;
}

IndexPtr index() {
  static const IndexPtr ix = buildIndex(Snapshot::of(cluster().services, cluster().slices), Config{}).value();
  return ix;
}

void BM_BuildIndex(benchmark::State& state) {
  const Snapshot snap = Snapshot::of(cluster().services, cluster().slices);
  size_t endpoints = 0;
  for (auto _ : state) {
    auto ix = buildIndex(snap, Config{});
    endpoints = (*ix)->stats().endpoints;
    benchmark::DoNotOptimize(ix);
  }
  state.counters["services"] = static_cast<double>(snap.services.size());
  state.counters["endpoints"] = static_cast<double>(endpoints);
}
BENCHMARK(BM_BuildIndex)->Unit(benchmark::kMillisecond);

void resolveLoop(benchmark::State& state, const char* name, RRType type) {
  const IndexPtr ix = index();
  Query q;
  q.hasQuestion = true;
  q.question.name = Name::fromText(name).value();
  q.question.type = type;
  q.hasEdns = true;
  q.edns.udpPayload = 1232;
  std::array<uint8_t, 1232> buf;
  ResponseComposer c(buf, q.udpLimit());
  size_t bytes = 0;
  for (auto _ : state) {
    if (resolve(*ix, q, c) == Outcome::Answered) bytes = c.finish().size();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

void BM_ResolveClusterIpA(benchmark::State& s) { resolveLoop(s, "svc-500.ns-0.svc.cluster.local", RRType::A); }
BENCHMARK(BM_ResolveClusterIpA);
void BM_ResolveHeadlessA(benchmark::State& s) { resolveLoop(s, "headless-1500.ns-0.svc.cluster.local", RRType::A); }
BENCHMARK(BM_ResolveHeadlessA);
void BM_ResolveClusterIpSrv(benchmark::State& s) {
  resolveLoop(s, "_http._tcp.svc-500.ns-0.svc.cluster.local", RRType::SRV);
}
BENCHMARK(BM_ResolveClusterIpSrv);
void BM_ResolveHeadlessSrv(benchmark::State& s) {
  resolveLoop(s, "_http._tcp.headless-1500.ns-0.svc.cluster.local", RRType::SRV);
}
BENCHMARK(BM_ResolveHeadlessSrv);
void BM_ResolveNxDomain(benchmark::State& s) { resolveLoop(s, "nope.ns-0.svc.cluster.local", RRType::A); }
BENCHMARK(BM_ResolveNxDomain);
void BM_ResolvePtr(benchmark::State& s) { resolveLoop(s, "244.1.96.10.in-addr.arpa", RRType::PTR); }
BENCHMARK(BM_ResolvePtr);
void BM_ResolveNotInZone(benchmark::State& s) { resolveLoop(s, "www.example.com", RRType::A); }
BENCHMARK(BM_ResolveNotInZone);

}  // namespace
}  // namespace nodenet::dns::records

BENCHMARK_MAIN();
