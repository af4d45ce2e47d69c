// Unit tests of the DNS cluster plan generator (bench/common/cluster_plan): the zone it writes is what the
// differential test holds nodenet-dns to, so its spec rules are pinned here against hand-written expectations.
#include "bench/common/cluster_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "kube/manifests/parse.h"

namespace nodenet::bench {
namespace {

std::vector<std::string> rdatas(const std::vector<PlanRecord>& rrs, const std::string& owner, const std::string& type) {
  std::vector<std::string> out;
  for (const auto& r : rrs)
    if (r.owner == owner && r.type == type) out.push_back(r.rdata);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ClusterPlan, ReverseNames) {
  EXPECT_EQ(reverseName("10.96.0.10"), "10.0.96.10.in-addr.arpa.");
  EXPECT_EQ(reverseName("fd00:96::12"),
            "2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa.");
  EXPECT_EQ(reverseName("not-an-ip"), "");
}

TEST(ClusterPlan, SmallPlanRecordsFollowTheSpec) {
  ClusterPlan p = makeSmallPlan(1);  // offset 1: web is 10.96.0.11, db endpoints 10.244.2.11..15
  auto fwd = forwardRecords(p);
  const std::string z = "cluster.local.";
  ASSERT_GE(fwd.size(), 2u);
  EXPECT_EQ(fwd[0].type, "SOA");
  EXPECT_EQ(fwd[0].rdata, "ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5");
  EXPECT_EQ(fwd[1].type, "NS");
  EXPECT_EQ(rdatas(fwd, "dns-version." + z, "TXT"), std::vector<std::string>{"\"1.1.0\""});
  // ClusterIP: A + one SRV per named port, target the service, weight 100.
  EXPECT_EQ(rdatas(fwd, "web.default.svc." + z, "A"), std::vector<std::string>{"10.96.0.11"});
  EXPECT_EQ(rdatas(fwd, "_https._tcp.web.default.svc." + z, "SRV"),
            std::vector<std::string>{"0 100 443 web.default.svc.cluster.local."});
  // Dual-stack: A and AAAA; SRV weight 100/2.
  EXPECT_EQ(rdatas(fwd, "dual.team-a.svc." + z, "AAAA"), std::vector<std::string>{"fd00:96::13"});
  EXPECT_EQ(rdatas(fwd, "_http._tcp.dual.team-a.svc." + z, "SRV"),
            std::vector<std::string>{"0 50 80 dual.team-a.svc.cluster.local."});
  // An unnamed port has no SRV.
  for (const auto& r : fwd) EXPECT_EQ(r.owner.find("plain.default") != std::string::npos && r.type == "SRV", false);
  // Headless: ready endpoints only (db-3 not ready, db-4 terminating), hostnames, SRV per endpoint.
  EXPECT_EQ(rdatas(fwd, "db.default.svc." + z, "A"),
            (std::vector<std::string>{"10.244.2.11", "10.244.2.12", "10.244.2.13"}));
  EXPECT_EQ(rdatas(fwd, "db-1.db.default.svc." + z, "A"), std::vector<std::string>{"10.244.2.12"});
  EXPECT_TRUE(rdatas(fwd, "db-3.db.default.svc." + z, "A").empty());
  EXPECT_EQ(rdatas(fwd, "_pg._tcp.db.default.svc." + z, "SRV").size(), 3u);
  EXPECT_EQ(rdatas(fwd, "_pg._tcp.db.default.svc." + z, "SRV")[0], "0 33 5432 db-0.db.default.svc.cluster.local.");
  // No hostname: the address label; headless SRV port is the slice (target) port.
  EXPECT_EQ(rdatas(fwd, "_redis._tcp.cache.team-a.svc." + z, "SRV")[0],
            "0 25 6380 10-244-3-11.cache.team-a.svc.cluster.local.");
  EXPECT_EQ(rdatas(fwd, "10-244-3-11.cache.team-a.svc." + z, "A"), std::vector<std::string>{"10.244.3.11"});
  // Not ready and nothing published: no records; publishNotReadyAddresses: published.
  EXPECT_TRUE(rdatas(fwd, "notready.team-a.svc." + z, "A").empty());
  EXPECT_TRUE(rdatas(fwd, "empty.default.svc." + z, "A").empty());
  EXPECT_EQ(rdatas(fwd, "pubnr.team-b.svc." + z, "A").size(), 2u);
  // ExternalName: CNAME.
  EXPECT_EQ(rdatas(fwd, "ext.default.svc." + z, "CNAME"), std::vector<std::string>{"example.com."});
  // ClusterIP endpoints are not in the zone (the spec defines endpoint names for headless Services only).
  EXPECT_TRUE(rdatas(fwd, "10-244-1-11.api.default.svc." + z, "A").empty());

  auto rev = reverseRecords(p);
  EXPECT_EQ(rdatas(rev, "11.0.96.10.in-addr.arpa.", "PTR"), std::vector<std::string>{"web.default.svc.cluster.local."});
  EXPECT_EQ(rdatas(rev, "12.2.244.10.in-addr.arpa.", "PTR"),
            std::vector<std::string>{"db-1.db.default.svc.cluster.local."});
  EXPECT_TRUE(rdatas(rev, "11.1.244.10.in-addr.arpa.", "PTR").empty());  // api's endpoint
  auto zones = zoneFiles(p);
  std::set<std::string> origins;
  for (const auto& zt : zones) origins.insert(zt.origin);
  EXPECT_EQ(origins, (std::set<std::string>{"cluster.local.", "10.in-addr.arpa.", "d.f.ip6.arpa."}));
}

TEST(ClusterPlan, SeedsAreDeterministicAndMoveAddresses) {
  EXPECT_EQ(forwardRecords(makeSmallPlan(5)).size(), forwardRecords(makeSmallPlan(5)).size());
  EXPECT_EQ(zoneFiles(makeSmallPlan(5))[0].text, zoneFiles(makeSmallPlan(5))[0].text);
  EXPECT_NE(zoneFiles(makeSmallPlan(5))[0].text, zoneFiles(makeSmallPlan(6))[0].text);
  EXPECT_EQ(dnsperfQueries(makeBenchPlan(1), 1, 100), dnsperfQueries(makeBenchPlan(1), 1, 100));
}

TEST(ClusterPlan, BenchPlanSize) {
  ClusterPlan p = makeBenchPlan(1);
  EXPECT_EQ(p.services.size(), 2000u);
  size_t records = forwardRecords(p).size() + reverseRecords(p).size();
  EXPECT_GT(records, 26000u);  // the "~27k records"
  EXPECT_LT(records, 28000u);
  // The query mix: 10% NXDOMAIN names, 20% SRV.
  std::string q = dnsperfQueries(p, 1, 10000);
  size_t nx = 0, srv = 0, lines = 0;
  for (size_t pos = 0; (pos = q.find('\n', pos)) != std::string::npos; ++pos) ++lines;
  for (size_t pos = 0; (pos = q.find("missing-", pos)) != std::string::npos; ++pos) ++nx;
  for (size_t pos = 0; (pos = q.find(" SRV\n", pos)) != std::string::npos; ++pos) ++srv;
  EXPECT_EQ(lines, 10000u);
  EXPECT_NEAR(double(nx) / lines, 0.10, 0.02);
  EXPECT_NEAR(double(srv) / lines, 0.20, 0.02);
}

// The manifests must be what nodenet-dns reads: every file decodes whole with the kube/manifests parser.
TEST(ClusterPlan, ManifestsDecode) {
  for (const auto& plan : {makeSmallPlan(3), makeBenchPlan(1, 20, 20, 5)}) {
    size_t objects = 0;
    for (const auto& [file, list] : manifestFiles(plan)) {
      auto parsed = kube::manifests::parseManifest(file, list.dump());
      ASSERT_TRUE(parsed.ok()) << parsed.error().message();
      EXPECT_EQ(parsed->unsupported, 0u);
      objects += parsed->objects.size();
    }
    EXPECT_GE(objects, plan.services.size());
  }
}

}  // namespace
}  // namespace nodenet::bench
