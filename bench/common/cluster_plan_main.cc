// nodenet-cluster-plan: writes a deterministic cluster plan (bench/common/cluster_plan.h) for the DNS
// differential test and benchmark: manifests for `nodenet-dns --manifests`, zone files for NSD/Knot, a dnsperf
// query file, and the list of zones (one "origin file" line each) on stdout.
//
//   nodenet-cluster-plan --size small|bench [--seed N] [--zone Z] [--ttl S] [--manifests DIR] [--zones DIR]
//                        [--queries FILE [--count N]] [--clusterip N --headless N --endpoints N]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/common/cluster_plan.h"

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "nodenet-cluster-plan: %s\nusage: nodenet-cluster-plan --size small|bench [--seed N] [--zone Z] "
               "[--ttl S] [--manifests DIR] [--zones DIR] [--queries FILE [--count N]] [--clusterip N] "
               "[--headless N] [--endpoints N]\n",
               why);
  return 2;
}

bool toInt(const std::string& s, long lo, long hi, long* out) {
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string size = "small", zone = "cluster.local", manifests, zones, queries;
  long seed = 1, ttl = 5, count = 100000, clusterIp = 1000, headless = 1000, endpoints = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    bool ok = true;
    if (a == "--size") size = v;
    else if (a == "--zone") zone = v;
    else if (a == "--manifests") manifests = v;
    else if (a == "--zones") zones = v;
    else if (a == "--queries") queries = v;
    else if (a == "--seed") ok = toInt(v, 0, 0xffffffffL, &seed);
    else if (a == "--ttl") ok = toInt(v, 0, 86400, &ttl);
    else if (a == "--count") ok = toInt(v, 1, 10000000, &count);
    else if (a == "--clusterip") ok = toInt(v, 1, 60000, &clusterIp);
    else if (a == "--headless") ok = toInt(v, 1, 60000, &headless);
    else if (a == "--endpoints") ok = toInt(v, 1, 250, &endpoints);
    else return usage(("unknown flag " + a).c_str());
    if (!ok) return usage(("bad value for " + a + ": " + v).c_str());
  }
  while (!zone.empty() && zone.back() == '.') zone.pop_back();
  nodenet::bench::ClusterPlan plan;
  if (size == "small") plan = nodenet::bench::makeSmallPlan(uint32_t(seed));
  else if (size == "bench") plan = nodenet::bench::makeBenchPlan(uint32_t(seed), int(clusterIp), int(headless), int(endpoints));
  else return usage("--size must be small or bench");
  if (zone != plan.zone) {
    // ExternalName targets inside the default zone follow the zone.
    for (auto& s : plan.services)
      if (s.externalName.size() > plan.zone.size() &&
          s.externalName.compare(s.externalName.size() - plan.zone.size(), plan.zone.size(), plan.zone) == 0)
        s.externalName = s.externalName.substr(0, s.externalName.size() - plan.zone.size()) + zone;
    plan.zone = zone;
  }
  plan.ttl = uint32_t(ttl);
  if (!manifests.empty()) {
    if (auto err = nodenet::bench::writeManifests(plan, manifests); !err.empty()) {
      std::fprintf(stderr, "nodenet-cluster-plan: %s\n", err.c_str());
      return 1;
    }
  }
  if (!zones.empty()) {
    if (auto err = nodenet::bench::writeZoneFiles(plan, zones); !err.empty()) {
      std::fprintf(stderr, "nodenet-cluster-plan: %s\n", err.c_str());
      return 1;
    }
  }
  if (!queries.empty()) {
    if (auto err = nodenet::bench::writeFileAtomically(
            queries, nodenet::bench::dnsperfQueries(plan, uint32_t(seed), int(count)));
        !err.empty()) {
      std::fprintf(stderr, "nodenet-cluster-plan: %s\n", err.c_str());
      return 1;
    }
  }
  size_t records = 0;
  for (const auto& z : nodenet::bench::zoneFiles(plan)) {
    std::string file = z.origin.substr(0, z.origin.size() - 1) + ".zone";
    std::printf("%s %s\n", z.origin.c_str(), file.c_str());
  }
  records = nodenet::bench::forwardRecords(plan).size() + nodenet::bench::reverseRecords(plan).size();
  std::fprintf(stderr, "nodenet-cluster-plan: %zu services, %zu records\n", plan.services.size(), records);
  return 0;
}
