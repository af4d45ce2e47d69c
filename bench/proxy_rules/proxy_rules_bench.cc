// Google Benchmark: buildRuleset() + toTransaction() for N Services x 2 endpoints (ClusterIP, one TCP port),
// the pure half of a full sync. Budget: a 10k-Service full sync well inside 0.5 s.
#include <benchmark/benchmark.h>

#include <vector>

#include "proxy/rules/ruleset.h"

namespace nodenet::proxy::rules {
namespace {

struct Fixture {
  std::vector<kube::Service> services;
  std::vector<kube::EndpointSlice> slices;
  Input input;

  explicit Fixture(int n) {
    services.resize(n);
    slices.resize(n);
    kube::InternedString ns("bench"), portName("http"), node("node-a"), other("node-b");
    for (int i = 0; i < n; ++i) {
      kube::Service& s = services[i];
      s.meta.ns = ns;
      s.meta.name = "svc-" + std::to_string(i);
      s.clusterIPs = {IpAddress::v4(0xAC1E0000u + 1 + i)};  // 172.30.0.1 ...
      s.ipFamilies = {IpFamily::V4};
      kube::ServicePort p;
      p.name = portName;
      p.port = 80;
      p.targetPort.number = 8080;
      s.ports = {p};
      kube::EndpointSlice& sl = slices[i];
      sl.meta.ns = ns;
      sl.meta.name = s.meta.name + "-x";
      for (int e = 0; e < 2; ++e) {
        kube::Endpoint ep;
        ep.addresses = {IpAddress::v4(0x0AB40000u + 2 * i + e + 1)};  // 10.180.x.y
        ep.nodeName = e == 0 ? node : other;
        sl.endpoints.push_back(ep);
      }
      sl.ports = {kube::EndpointPort{portName, L4Proto::TCP, 8080, {}}};
    }
    input.node = NodeInput{"node-a", "zone-a", {*IpAddress::parse("192.168.99.2")}};
    for (int i = 0; i < n; ++i) input.services.push_back(ServiceInput{&services[i], {&slices[i]}});
  }
};

void BM_BuildRuleset(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  Config cfg;
  cfg.clusterCIDRs = {*Cidr::parse("10.180.0.0/14")};
  size_t ops = 0;
  for (auto _ : state) {
    Ruleset rs = buildRuleset(f.input, cfg);
    nft::Transaction tx = toTransaction(rs);
    if (!tx.ok()) state.SkipWithError(tx.status().error().message().c_str());
    ops = tx.size();
    benchmark::DoNotOptimize(tx);
  }
  state.counters["nft_ops"] = static_cast<double>(ops);
}
BENCHMARK(BM_BuildRuleset)->Arg(1000)->Arg(10000)->Arg(50000)->Unit(benchmark::kMillisecond);

void BM_BuildRulesetOnly(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  Config cfg;
  cfg.clusterCIDRs = {*Cidr::parse("10.180.0.0/14")};
  for (auto _ : state) benchmark::DoNotOptimize(buildRuleset(f.input, cfg));
}
BENCHMARK(BM_BuildRulesetOnly)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace nodenet::proxy::rules

BENCHMARK_MAIN();
