// ns per op for the server's hot path: parseQuery() on a dig query, and composing a typical answer.
// Run: build-dns/bin/dns_wire_bench   (RelWithDebInfo or Release)
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "dns/wire/message.h"
#include "dns/wire/query.h"
#include "dns/wire/response.h"

namespace nodenet::dns {
namespace {

std::vector<uint8_t> hex(const char* s) {
  std::vector<uint8_t> out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (; s[0] && s[1]; s += 2) out.push_back(static_cast<uint8_t>(nib(s[0]) << 4 | nib(s[1])));
  return out;
}

// dig kubernetes.default.svc.cluster.local A (EDNS 1232 + COOKIE), as captured from dig 9.18.
const std::vector<uint8_t> kQuery = hex(
    "36ba012000010000000000010a6b756265726e657465730764656661756c740373766307636c7573746572056c6f63616c00"
    "0001000100002904d000000000000c000a0008c10612653cf07bb9");

void BM_ParseQuery(benchmark::State& state) {
  for (auto _ : state) {
    auto q = parseQuery(kQuery);
    benchmark::DoNotOptimize(q);
  }
}
BENCHMARK(BM_ParseQuery);

// A typical ClusterIP answer: one A record for the qname (owner compresses to the question).
void BM_ComposeSingleA(benchmark::State& state) {
  const Query q = parseQuery(kQuery).value();
  const ResourceRecord rr = makeA(q.question.name, 30, IpAddress::v4(0x0a600001));
  std::array<uint8_t, 1232> buf;
  ResponseComposer c(buf, q.udpLimit());
  for (auto _ : state) {
    c.begin(q, Rcode::NoError);
    c.setAa(true);
    c.add(Section::Answer, rr);
    auto out = c.finish();
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ComposeSingleA);

// A headless service: CNAME-free answer of 8 pod A records plus an SOA in authority (NXDOMAIN-like shape).
void BM_ComposeHeadless8A(benchmark::State& state) {
  const Query q = parseQuery(kQuery).value();
  std::vector<ResourceRecord> rrs;
  for (uint32_t i = 0; i < 8; ++i) rrs.push_back(makeA(q.question.name, 30, IpAddress::v4(0x0af40000 + i)));
  const ResourceRecord soa{Name::fromText("cluster.local").value(), RRType::SOA, RRClass::IN, 5,
                           RdataSoa{Name::fromText("ns.dns.cluster.local").value(),
                                    Name::fromText("hostmaster.cluster.local").value(), 1, 7200, 1800, 86400, 5}};
  std::array<uint8_t, 1232> buf;
  ResponseComposer c(buf, q.udpLimit());
  for (auto _ : state) {
    c.begin(q, Rcode::NoError);
    for (const auto& rr : rrs) c.add(Section::Answer, rr);
    c.add(Section::Authority, soa);
    auto out = c.finish();
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ComposeHeadless8A);

// SRV answer with the targets' A records in additional: exercises suffix compression across names.
void BM_ComposeSrvWithAdditional(benchmark::State& state) {
  Query q = parseQuery(kQuery).value();
  q.question.name = Name::fromText("_http._tcp.web.default.svc.cluster.local").value();
  q.question.type = RRType::SRV;
  std::vector<ResourceRecord> srv, glue;
  for (uint32_t i = 0; i < 4; ++i) {
    Name target = Name::fromText("pod-" + std::to_string(i) + ".web.default.svc.cluster.local").value();
    srv.push_back(makeSrv(q.question.name, 30, 0, 25, 8080, target));
    glue.push_back(makeA(target, 30, IpAddress::v4(0x0af40000 + i)));
  }
  std::array<uint8_t, 1232> buf;
  ResponseComposer c(buf, q.udpLimit());
  for (auto _ : state) {
    c.begin(q, Rcode::NoError);
    for (const auto& rr : srv) c.add(Section::Answer, rr);
    for (const auto& rr : glue) c.add(Section::Additional, rr);
    auto out = c.finish();
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ComposeSrvWithAdditional);

// The whole per-packet wire cost: parse the query, then compose the single-A answer.
void BM_ParseAndAnswer(benchmark::State& state) {
  std::array<uint8_t, 1232> buf;
  const IpAddress addr = IpAddress::v4(0x0a600001);
  for (auto _ : state) {
    auto q = parseQuery(kQuery);
    ResponseComposer c(buf, q->udpLimit());
    c.begin(*q, Rcode::NoError);
    c.add(Section::Answer, makeA(q->question.name, 30, addr));
    auto out = c.finish();
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ParseAndAnswer);

}  // namespace
}  // namespace nodenet::dns

BENCHMARK_MAIN();
