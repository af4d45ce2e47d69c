// dns/records: every record type and negative rule of the Kubernetes DNS spec 1.1.0 as CoreDNS serves it.
//
// Cluster plan (zone cluster.local, TTL 5), decoded from API JSON through kube::decodeObjectListText:
//
//   namespace  service        kind                          addresses / endpoints                      ports
//   default    web            ClusterIP                     10.96.0.10                                 http 80/TCP, dns
//   53/UDP
//                             slice web-1 (IPv4)            10.244.0.5 ready, hostname web-a          http 8080/TCP
//   default    dual           ClusterIP dual-stack          10.96.0.20, fd00:96::20                    https 443/TCP
//   default    noports        ClusterIP                     10.96.0.30                                 (none)
//   prod       db             headless                                                                 pg 5432/TCP
//                             slice db-a (IPv4)             10.1.0.1 db-0 ready, 10.1.0.2 db-1 ready,
//                                                           10.1.0.3 not ready, 10.1.0.4 terminating,
//                                                           10.1.0.5 ready (no hostname)
//                             slice db-b (IPv4)             10.1.0.1 db-0 ready (again), 10.1.0.6 ready
//                             slice db-c (IPv6)             fd00:1::1 db-0 ready
//   prod       quiet          headless                      slice: 10.2.0.1 not ready only
//   prod       pub            headless, publishNotReady     10.3.0.1 pub-0 not ready, 10.3.0.2 ready  (no ports)
//   prod       ext            ExternalName example.com
//   prod       alias          ExternalName web.default.svc.cluster.local
//   empty      (no objects; listed in Snapshot::namespaces)
#include "dns/records/records.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "dns/wire/message.h"
#include "kube/objects/decode.h"

namespace nodenet::dns::records {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr const char* kClusterJson = R"json({
  "kind": "List", "apiVersion": "v1",
  "items": [
    {"kind": "Service", "apiVersion": "v1",
     "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "1"},
     "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
              "selector": {"app": "web"},
              "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                        {"name": "dns", "port": 53, "protocol": "UDP"}]}},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "web-1", "namespace": "default",
                  "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4",
     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["10.244.0.5"], "hostname": "web-a",
                    "conditions": {"ready": true, "serving": true, "terminating": false}}]},
    {"kind": "Service", "apiVersion": "v1",
     "metadata": {"name": "dual", "namespace": "default"},
     "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20", "fd00:96::20"],
              "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack",
              "ports": [{"name": "https", "port": 443}]}},
    {"kind": "Service", "apiVersion": "v1",
     "metadata": {"name": "noports", "namespace": "default"},
     "spec": {"clusterIP": "10.96.0.30"}},
    {"kind": "Service", "apiVersion": "v1",
     "metadata": {"name": "db", "namespace": "prod"},
     "spec": {"clusterIP": "None", "selector": {"app": "db"},
              "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "db-a", "namespace": "prod", "labels": {"kubernetes.io/service-name": "db"}},
     "addressType": "IPv4",
     "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
     "endpoints": [
       {"addresses": ["10.1.0.1"], "hostname": "db-0", "conditions": {"ready": true}},
       {"addresses": ["10.1.0.2"], "hostname": "db-1", "conditions": {"ready": true}},
       {"addresses": ["10.1.0.3"], "hostname": "db-2", "conditions": {"ready": false, "serving": false}},
       {"addresses": ["10.1.0.4"], "conditions": {"ready": false, "serving": true, "terminating": true}},
       {"addresses": ["10.1.0.5"], "conditions": {"ready": true}}]},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "db-b", "namespace": "prod", "labels": {"kubernetes.io/service-name": "db"}},
     "addressType": "IPv4",
     "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
     "endpoints": [
       {"addresses": ["10.1.0.1"], "hostname": "db-0", "conditions": {"ready": true}},
       {"addresses": ["10.1.0.6"], "conditions": {}}]},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "db-c", "namespace": "prod", "labels": {"kubernetes.io/service-name": "db"}},
     "addressType": "IPv6",
     "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["fd00:1::1"], "hostname": "db-0", "conditions": {"ready": true}}]},
    {"kind": "Service", "apiVersion": "v1",
     "metadata": {"name": "quiet", "namespace": "prod"},
     "spec": {"clusterIP": "None", "ports": [{"name": "x", "port": 1}]}},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "quiet-1", "namespace": "prod", "labels": {"kubernetes.io/service-name": "quiet"}},
     "addressType": "IPv4", "ports": [{"name": "x", "port": 1}],
     "endpoints": [{"addresses": ["10.2.0.1"], "conditions": {"ready": false}}]},
    {"kind": "Service", "apiVersion": "v1",
     "metadata": {"name": "pub", "namespace": "prod"},
     "spec": {"clusterIP": "None", "publishNotReadyAddresses": true}},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "pub-1", "namespace": "prod", "labels": {"kubernetes.io/service-name": "pub"}},
     "addressType": "IPv4",
     "endpoints": [{"addresses": ["10.3.0.1"], "hostname": "pub-0", "conditions": {"ready": false}},
                   {"addresses": ["10.3.0.2"], "conditions": {"ready": true}}]},
    {"kind": "Service", "apiVersion": "v1",
     "metadata": {"name": "ext", "namespace": "prod"},
     "spec": {"type": "ExternalName", "externalName": "example.com"}},
    {"kind": "Service", "apiVersion": "v1",
     "metadata": {"name": "alias", "namespace": "prod"},
     "spec": {"type": "ExternalName", "externalName": "web.default.svc.cluster.local"}}
  ]})json";

struct Cluster {
  std::vector<kube::Service> services;
  std::vector<kube::EndpointSlice> slices;
};

Cluster decodeCluster(std::string_view json) {
  auto list = kube::decodeObjectListText(json);
  EXPECT_TRUE(list.ok()) << (list.ok() ? "" : list.error().message());
  Cluster c;
  if (!list.ok()) return c;
  for (const auto& e : list->errors) ADD_FAILURE() << e.message();
  for (auto& obj : list->items) {
    if (auto* s = std::get_if<kube::Service>(&obj)) c.services.push_back(std::move(*s));
    if (auto* s = std::get_if<kube::EndpointSlice>(&obj)) c.slices.push_back(std::move(*s));
  }
  return c;
}

IndexPtr build(const Cluster& c, Config cfg = {}, std::vector<std::string> namespaces = {"empty"}) {
  Snapshot snap = Snapshot::of(c.services, c.slices, 1700000000);
  snap.namespaces = std::move(namespaces);
  auto ix = buildIndex(snap, cfg);
  EXPECT_TRUE(ix.ok()) << (ix.ok() ? "" : ix.error().message());
  return ix.ok() ? *ix : nullptr;
}

/// Presentation form of a record, as dig prints it (minus the class): "name. ttl TYPE rdata".
std::string show(const ResourceRecord& rr) {
  std::string data;
  if (auto* a = std::get_if<RdataA>(&rr.rdata))
    data = a->addr.toString();
  else if (auto* a6 = std::get_if<RdataAAAA>(&rr.rdata))
    data = a6->addr.toString();
  else if (auto* n = std::get_if<RdataName>(&rr.rdata))
    data = n->name.toText();
  else if (auto* s = std::get_if<RdataSrv>(&rr.rdata))
    data = strCat(s->priority, " ", s->weight, " ", s->port, " ", s->target.toText());
  else if (auto* t = std::get_if<RdataTxt>(&rr.rdata))
    data = "\"" + join(t->strings, "\" \"") + "\"";
  else if (auto* soa = std::get_if<RdataSoa>(&rr.rdata))
    data = strCat(soa->mname.toText(), " ", soa->rname.toText(), " ", soa->serial, " ", soa->refresh, " ", soa->retry,
                  " ", soa->expire, " ", soa->minimum);
  return strCat(rr.owner.toText(), " ", rr.ttl, " ", rrTypeName(rr.type), " ", data);
}

std::vector<std::string> showAll(const std::vector<ResourceRecord>& rrs) {
  std::vector<std::string> out;
  for (const auto& rr : rrs) out.push_back(show(rr));
  return out;
}

struct Reply {
  Outcome outcome = Outcome::NotInZone;
  Message msg;
  std::vector<std::string> answer, authority, additional;
};

class RecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = decodeCluster(kClusterJson);
    ASSERT_EQ(cluster_.services.size(), 8u);
    ASSERT_EQ(cluster_.slices.size(), 6u);
    index_ = build(cluster_);
    ASSERT_TRUE(index_);
  }

  static Query query(std::string_view name, RRType type) {
    Query q;
    q.id = 0x1234;
    q.rd = true;
    q.hasQuestion = true;
    q.question.name = Name::fromText(name).value();
    q.question.type = type;
    return q;
  }

  Reply ask(std::string_view name, RRType type, size_t limit = 65535, const Index* ix = nullptr) {
    Query q = query(name, type);
    std::vector<uint8_t> buf(65535);
    ResponseComposer c(buf, limit);
    Reply r;
    r.outcome = resolve(ix ? *ix : *index_, q, c);
    if (r.outcome == Outcome::NotInZone) return r;
    auto bytes = c.finish();
    auto m = parseMessage(bytes);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message());
    if (!m.ok()) return r;
    r.msg = std::move(*m);
    r.answer = showAll(r.msg.answers);
    r.authority = showAll(r.msg.authority);
    r.additional = showAll(r.msg.additional);
    return r;
  }

  static constexpr const char* kSoa =
      "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";

  void expectNoData(std::string_view name, RRType type) {
    SCOPED_TRACE(strCat(name, " ", rrTypeName(type)));
    Reply r = ask(name, type);
    ASSERT_EQ(r.outcome, Outcome::Answered);
    EXPECT_EQ(r.msg.rcode(), Rcode::NoError);
    EXPECT_THAT(r.answer, IsEmpty());
    EXPECT_THAT(r.authority, ElementsAre(kSoa));
    EXPECT_TRUE(r.msg.header.aa);
  }
  void expectNxDomain(std::string_view name, RRType type) {
    SCOPED_TRACE(strCat(name, " ", rrTypeName(type)));
    Reply r = ask(name, type);
    ASSERT_EQ(r.outcome, Outcome::Answered);
    EXPECT_EQ(r.msg.rcode(), Rcode::NXDomain);
    EXPECT_THAT(r.answer, IsEmpty());
    EXPECT_THAT(r.authority, ElementsAre(kSoa));
    EXPECT_TRUE(r.msg.header.aa);
  }

  Cluster cluster_;
  IndexPtr index_;
};

// --- ClusterIP services (spec §2.3.1) ---

TEST_F(RecordsTest, ClusterIpA) {
  Reply r = ask("web.default.svc.cluster.local", RRType::A);
  ASSERT_EQ(r.outcome, Outcome::Answered);
  EXPECT_EQ(r.msg.rcode(), Rcode::NoError);
  EXPECT_TRUE(r.msg.header.aa);
  EXPECT_TRUE(r.msg.header.rd);
  EXPECT_EQ(r.msg.header.id, 0x1234);
  EXPECT_THAT(r.answer, ElementsAre("web.default.svc.cluster.local. 5 A 10.96.0.10"));
  EXPECT_THAT(r.authority, IsEmpty());
}

TEST_F(RecordsTest, ClusterIpSingleStackHasNoAaaa) { expectNoData("web.default.svc.cluster.local", RRType::AAAA); }

TEST_F(RecordsTest, DualStackAnswersEachFamily) {
  EXPECT_THAT(ask("dual.default.svc.cluster.local", RRType::A).answer,
              ElementsAre("dual.default.svc.cluster.local. 5 A 10.96.0.20"));
  EXPECT_THAT(ask("dual.default.svc.cluster.local", RRType::AAAA).answer,
              ElementsAre("dual.default.svc.cluster.local. 5 AAAA fd00:96::20"));
}

TEST_F(RecordsTest, ServiceWithoutPortsStillHasAddress) {
  EXPECT_THAT(ask("noports.default.svc.cluster.local", RRType::A).answer,
              ElementsAre("noports.default.svc.cluster.local. 5 A 10.96.0.30"));
  // The sentinel port never becomes SRV: the name exists, so NODATA.
  expectNoData("noports.default.svc.cluster.local", RRType::SRV);
}

TEST_F(RecordsTest, ExistingNameWithoutTypeIsNoData) {
  expectNoData("web.default.svc.cluster.local", RRType::TXT);
  expectNoData("web.default.svc.cluster.local", RRType::MX);
  expectNoData("web.default.svc.cluster.local", RRType::CNAME);
  expectNoData("web.default.svc.cluster.local", RRType::PTR);
}

// --- SRV (spec §2.3.2 / §2.4.2) ---

TEST_F(RecordsTest, ClusterIpSrvPointsAtServiceWithGlue) {
  Reply r = ask("_http._tcp.web.default.svc.cluster.local", RRType::SRV);
  EXPECT_THAT(r.answer, ElementsAre("_http._tcp.web.default.svc.cluster.local. 5 SRV 0 100 80 "
                                    "web.default.svc.cluster.local."));
  EXPECT_THAT(r.additional, ElementsAre("web.default.svc.cluster.local. 5 A 10.96.0.10"));
  Reply udp = ask("_dns._udp.web.default.svc.cluster.local", RRType::SRV);
  EXPECT_THAT(udp.answer, ElementsAre("_dns._udp.web.default.svc.cluster.local. 5 SRV 0 100 53 "
                                      "web.default.svc.cluster.local."));
}

TEST_F(RecordsTest, SrvPortOrProtocolMismatchIsNxDomain) {
  expectNxDomain("_dns._tcp.web.default.svc.cluster.local", RRType::SRV);
  expectNxDomain("_http._udp.web.default.svc.cluster.local", RRType::SRV);
  expectNxDomain("_nope._tcp.web.default.svc.cluster.local", RRType::SRV);
  expectNxDomain("a._nope._tcp.web.default.svc.cluster.local", RRType::SRV);  // too many labels
}

TEST_F(RecordsTest, SrvNameAlsoAnswersAddressAsCoreDns) {
  EXPECT_THAT(ask("_http._tcp.web.default.svc.cluster.local", RRType::A).answer,
              ElementsAre("_http._tcp.web.default.svc.cluster.local. 5 A 10.96.0.10"));
}

TEST_F(RecordsTest, BareNameSrvListsEveryPort) {
  // CoreDNS: an empty port/protocol matches every port, so SRV on the service name lists them all and splits
  // the weight between the (address, port) pairs.
  Reply r = ask("web.default.svc.cluster.local", RRType::SRV);
  EXPECT_THAT(r.answer,
              UnorderedElementsAre("web.default.svc.cluster.local. 5 SRV 0 50 80 web.default.svc.cluster.local.",
                                   "web.default.svc.cluster.local. 5 SRV 0 50 53 web.default.svc.cluster.local."));
  EXPECT_THAT(r.additional, ElementsAre("web.default.svc.cluster.local. 5 A 10.96.0.10"));
}

TEST_F(RecordsTest, DualStackSrvIsOneRecordWithBothFamiliesInAdditional) {
  Reply r = ask("_https._tcp.dual.default.svc.cluster.local", RRType::SRV);
  // CoreDNS counts one (address, port) pair per family when it computes the weight: 100 / 2.
  EXPECT_THAT(r.answer, ElementsAre("_https._tcp.dual.default.svc.cluster.local. 5 SRV 0 50 443 "
                                    "dual.default.svc.cluster.local."));
  EXPECT_THAT(r.additional, UnorderedElementsAre("dual.default.svc.cluster.local. 5 A 10.96.0.20",
                                                 "dual.default.svc.cluster.local. 5 AAAA fd00:96::20"));
}

TEST_F(RecordsTest, HeadlessSrvOnePerReadyEndpointWithAddresses) {
  Reply r = ask("_pg._tcp.db.prod.svc.cluster.local", RRType::SRV);
  // Five (address, port) pairs: 10.1.0.1 and fd00:1::1 (db-0), 10.1.0.2, 10.1.0.5, 10.1.0.6 -> weight 20.
  EXPECT_THAT(r.answer,
              ElementsAre("_pg._tcp.db.prod.svc.cluster.local. 5 SRV 0 20 5432 10-1-0-5.db.prod.svc.cluster.local.",
                          "_pg._tcp.db.prod.svc.cluster.local. 5 SRV 0 20 5432 10-1-0-6.db.prod.svc.cluster.local.",
                          "_pg._tcp.db.prod.svc.cluster.local. 5 SRV 0 20 5432 db-0.db.prod.svc.cluster.local.",
                          "_pg._tcp.db.prod.svc.cluster.local. 5 SRV 0 20 5432 db-1.db.prod.svc.cluster.local."));
  EXPECT_THAT(
      r.additional,
      ElementsAre("10-1-0-5.db.prod.svc.cluster.local. 5 A 10.1.0.5",
                  "10-1-0-6.db.prod.svc.cluster.local. 5 A 10.1.0.6", "db-0.db.prod.svc.cluster.local. 5 A 10.1.0.1",
                  "db-0.db.prod.svc.cluster.local. 5 AAAA fd00:1::1", "db-1.db.prod.svc.cluster.local. 5 A 10.1.0.2"));
}

TEST_F(RecordsTest, UnderscoreIsOptionalAsCoreDns) {
  EXPECT_THAT(ask("http.tcp.web.default.svc.cluster.local", RRType::SRV).answer,
              ElementsAre("http.tcp.web.default.svc.cluster.local. 5 SRV 0 100 80 web.default.svc.cluster.local."));
}

// --- Headless services (spec §2.4.1) ---

TEST_F(RecordsTest, HeadlessAnswersReadyEndpointsDeduplicatedAcrossSlices) {
  Reply r = ask("db.prod.svc.cluster.local", RRType::A);
  // Not 10.1.0.3 (not ready) nor 10.1.0.4 (terminating); 10.1.0.1 is in two slices but answered once.
  EXPECT_THAT(r.answer,
              ElementsAre("db.prod.svc.cluster.local. 5 A 10.1.0.1", "db.prod.svc.cluster.local. 5 A 10.1.0.2",
                          "db.prod.svc.cluster.local. 5 A 10.1.0.5", "db.prod.svc.cluster.local. 5 A 10.1.0.6"));
  EXPECT_THAT(ask("db.prod.svc.cluster.local", RRType::AAAA).answer,
              ElementsAre("db.prod.svc.cluster.local. 5 AAAA fd00:1::1"));
}

TEST_F(RecordsTest, HeadlessHostnameRecords) {
  EXPECT_THAT(ask("db-0.db.prod.svc.cluster.local", RRType::A).answer,
              ElementsAre("db-0.db.prod.svc.cluster.local. 5 A 10.1.0.1"));
  EXPECT_THAT(ask("db-0.db.prod.svc.cluster.local", RRType::AAAA).answer,
              ElementsAre("db-0.db.prod.svc.cluster.local. 5 AAAA fd00:1::1"));
  expectNoData("db-1.db.prod.svc.cluster.local", RRType::AAAA);
  // The IP-derived name exists for endpoints without a hostname (CoreDNS endpointHostname) ...
  EXPECT_THAT(ask("10-1-0-5.db.prod.svc.cluster.local", RRType::A).answer,
              ElementsAre("10-1-0-5.db.prod.svc.cluster.local. 5 A 10.1.0.5"));
  // ... but not for endpoints that have one, nor for unready endpoints or unknown hostnames.
  expectNxDomain("10-1-0-1.db.prod.svc.cluster.local", RRType::A);
  expectNxDomain("db-2.db.prod.svc.cluster.local", RRType::A);
  expectNxDomain("10-1-0-4.db.prod.svc.cluster.local", RRType::A);
  expectNxDomain("db-9.db.prod.svc.cluster.local", RRType::A);
}

TEST_F(RecordsTest, HeadlessWithoutReadyEndpointIsNxDomain) {
  expectNxDomain("quiet.prod.svc.cluster.local", RRType::A);
  expectNxDomain("quiet.prod.svc.cluster.local", RRType::AAAA);
  expectNxDomain("_x._tcp.quiet.prod.svc.cluster.local", RRType::SRV);
}

TEST_F(RecordsTest, PublishNotReadyAddressesPublishesAll) {
  EXPECT_THAT(ask("pub.prod.svc.cluster.local", RRType::A).answer,
              ElementsAre("pub.prod.svc.cluster.local. 5 A 10.3.0.1", "pub.prod.svc.cluster.local. 5 A 10.3.0.2"));
  EXPECT_THAT(ask("pub-0.pub.prod.svc.cluster.local", RRType::A).answer,
              ElementsAre("pub-0.pub.prod.svc.cluster.local. 5 A 10.3.0.1"));
  // A slice without ports has addresses but no SRV.
  expectNoData("pub.prod.svc.cluster.local", RRType::SRV);
}

TEST_F(RecordsTest, EndpointNameOfClusterIpServiceAsCoreDns) {
  EXPECT_THAT(ask("web-a.web.default.svc.cluster.local", RRType::A).answer,
              ElementsAre("web-a.web.default.svc.cluster.local. 5 A 10.244.0.5"));
}

// --- PTR (spec §2.3.3 / §2.4.3) ---

TEST_F(RecordsTest, PtrForClusterIpsAndEndpoints) {
  EXPECT_THAT(ask("10.0.96.10.in-addr.arpa", RRType::PTR).answer,
              ElementsAre("10.0.96.10.in-addr.arpa. 5 PTR web.default.svc.cluster.local."));
  EXPECT_THAT(ask("1.0.1.10.in-addr.arpa", RRType::PTR).answer,
              ElementsAre("1.0.1.10.in-addr.arpa. 5 PTR db-0.db.prod.svc.cluster.local."));
  EXPECT_THAT(ask("5.0.1.10.in-addr.arpa", RRType::PTR).answer,
              ElementsAre("5.0.1.10.in-addr.arpa. 5 PTR 10-1-0-5.db.prod.svc.cluster.local."));
  const char* v6 = "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa";
  EXPECT_THAT(ask(v6, RRType::PTR).answer, ElementsAre(strCat(v6, ". 5 PTR dual.default.svc.cluster.local.")));
  const char* ep6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.IP6.ARPA";
  Reply r = ask(ep6, RRType::PTR);
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_THAT(r.answer[0], ::testing::EndsWith("PTR db-0.db.prod.svc.cluster.local."));
}

TEST_F(RecordsTest, UnknownReverseNamesGoUpstream) {
  EXPECT_EQ(ask("9.9.9.9.in-addr.arpa", RRType::PTR).outcome, Outcome::NotInZone);
  EXPECT_EQ(ask("3.0.1.10.in-addr.arpa", RRType::PTR).outcome, Outcome::NotInZone);  // not ready
  EXPECT_EQ(ask("10.0.96.10.in-addr.arpa", RRType::A).outcome, Outcome::NotInZone);
  EXPECT_EQ(ask("96.10.in-addr.arpa", RRType::PTR).outcome, Outcome::NotInZone);
  EXPECT_EQ(ask("010.0.96.10.in-addr.arpa", RRType::PTR).outcome, Outcome::NotInZone);
}

// --- ExternalName (spec §2.5) ---

TEST_F(RecordsTest, ExternalNameIsCnameNotChasedOutOfZone) {
  Reply r = ask("ext.prod.svc.cluster.local", RRType::A);
  EXPECT_EQ(r.msg.rcode(), Rcode::NoError);
  EXPECT_THAT(r.answer, ElementsAre("ext.prod.svc.cluster.local. 5 CNAME example.com."));
  EXPECT_THAT(ask("ext.prod.svc.cluster.local", RRType::CNAME).answer,
              ElementsAre("ext.prod.svc.cluster.local. 5 CNAME example.com."));
  EXPECT_THAT(ask("ext.prod.svc.cluster.local", RRType::AAAA).answer,
              ElementsAre("ext.prod.svc.cluster.local. 5 CNAME example.com."));
  expectNxDomain("x.ext.prod.svc.cluster.local", RRType::A);
  // CoreDNS: SRV points at the external name with port 0; port/protocol labels are accepted and ignored.
  EXPECT_THAT(ask("ext.prod.svc.cluster.local", RRType::SRV).answer,
              ElementsAre("ext.prod.svc.cluster.local. 5 SRV 0 100 0 example.com."));
  EXPECT_THAT(ask("_http._tcp.ext.prod.svc.cluster.local", RRType::A).answer,
              ElementsAre("_http._tcp.ext.prod.svc.cluster.local. 5 CNAME example.com."));
  // Every other type gets the CNAME too (RFC 1034 3.6.2): the client asks example.com itself.
  EXPECT_THAT(ask("ext.prod.svc.cluster.local", RRType::TXT).answer,
              ElementsAre("ext.prod.svc.cluster.local. 5 CNAME example.com."));
  EXPECT_THAT(ask("ext.prod.svc.cluster.local", RRType::MX).answer,
              ElementsAre("ext.prod.svc.cluster.local. 5 CNAME example.com."));
}

TEST_F(RecordsTest, ExternalNameInZoneIsChased) {
  EXPECT_THAT(ask("alias.prod.svc.cluster.local", RRType::A).answer,
              ElementsAre("alias.prod.svc.cluster.local. 5 CNAME web.default.svc.cluster.local.",
                          "web.default.svc.cluster.local. 5 A 10.96.0.10"));
  // The target has no AAAA: CoreDNS then drops the CNAME too, leaving NODATA.
  expectNoData("alias.prod.svc.cluster.local", RRType::AAAA);
  expectNoData("alias.prod.svc.cluster.local", RRType::TXT);
}

// --- Schema version, pods, apex ---

TEST_F(RecordsTest, DnsVersionTxt) {
  EXPECT_THAT(ask("dns-version.cluster.local", RRType::TXT).answer,
              ElementsAre("dns-version.cluster.local. 28800 TXT \"1.1.0\""));
  expectNoData("dns-version.cluster.local", RRType::A);
}

TEST_F(RecordsTest, PodsInsecure) {
  EXPECT_THAT(ask("10-244-1-7.default.pod.cluster.local", RRType::A).answer,
              ElementsAre("10-244-1-7.default.pod.cluster.local. 5 A 10.244.1.7"));
  expectNoData("10-244-1-7.default.pod.cluster.local", RRType::AAAA);
  EXPECT_THAT(ask("fd00-1--7.empty.pod.cluster.local", RRType::AAAA).answer,
              ElementsAre("fd00-1--7.empty.pod.cluster.local. 5 AAAA fd00:1::7"));
  expectNxDomain("10-244-1-7.nope.pod.cluster.local", RRType::A);  // namespace does not exist
  expectNxDomain("1-2-3.default.pod.cluster.local", RRType::A);    // not an address
  expectNxDomain("1-2-3-400.default.pod.cluster.local", RRType::A);
  expectNoData("pod.cluster.local", RRType::A);
  expectNoData("default.pod.cluster.local", RRType::A);
}

TEST_F(RecordsTest, StructuralNamesAreNoData) {
  expectNoData("svc.cluster.local", RRType::A);
  expectNoData("default.svc.cluster.local", RRType::A);
  expectNoData("empty.svc.cluster.local", RRType::A);  // a listed namespace without objects
  expectNoData("cluster.local", RRType::A);
}

TEST_F(RecordsTest, UnknownNamesInZoneAreNxDomain) {
  expectNxDomain("nope.svc.cluster.local", RRType::A);
  expectNxDomain("missing.default.svc.cluster.local", RRType::A);
  expectNxDomain("missing.default.svc.cluster.local", RRType::SRV);
  expectNxDomain("foo.cluster.local", RRType::A);
  expectNxDomain("web.default.cluster.local", RRType::A);
  expectNxDomain("ns.dns.cluster.local", RRType::A);  // no nameserver addresses configured
}

TEST_F(RecordsTest, NamesOutsideTheZoneAreNotInZone) {
  EXPECT_EQ(ask("example.org", RRType::A).outcome, Outcome::NotInZone);
  EXPECT_EQ(ask("cluster.local.example.org", RRType::A).outcome, Outcome::NotInZone);
  EXPECT_EQ(ask("local", RRType::SOA).outcome, Outcome::NotInZone);
  EXPECT_EQ(ask(".", RRType::NS).outcome, Outcome::NotInZone);
}

TEST_F(RecordsTest, OtherClassesAreNotOurs) {
  Query q = query("web.default.svc.cluster.local", RRType::TXT);
  q.question.cls = RRClass::CH;
  std::vector<uint8_t> buf(512);
  ResponseComposer c(buf, 512);
  EXPECT_EQ(resolve(*index_, q, c), Outcome::NotInZone);
}

TEST_F(RecordsTest, ReadersSeeWholeIndexesWhileTheWriterSwaps) {
  // The server's pattern: one writer rebuilds and publishes, readers load once per query and never block.
  std::atomic<std::shared_ptr<const Index>> current(index_);
  std::atomic<bool> stop = false;
  std::atomic<int> bad = 0;
  auto reader = [&] {
    const Query q = query("db.prod.svc.cluster.local", RRType::A);
    std::vector<uint8_t> buf(1232);
    ResponseComposer c(buf, 1232);
    while (!stop.load()) {
      const std::shared_ptr<const Index> ix = current.load();
      if (resolve(*ix, q, c) != Outcome::Answered) ++bad;
      auto m = parseMessage(c.finish());
      if (!m.ok() || m->answers.size() != 4) ++bad;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int i = 0; i < 50; ++i) current.store(build(cluster_));
  stop = true;
  r1.join();
  r2.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(RecordsTest, ApexSoaAndNs) {
  Reply r = ask("cluster.local", RRType::SOA);
  EXPECT_THAT(r.answer, ElementsAre(kSoa));
  EXPECT_THAT(r.authority, IsEmpty());
  EXPECT_THAT(ask("cluster.local", RRType::NS).answer, ElementsAre("cluster.local. 5 NS ns.dns.cluster.local."));

  Config cfg;
  cfg.nameservers = {IpAddress::parse("10.96.0.53").value()};
  auto ix = build(cluster_, cfg);
  Reply ns = ask("cluster.local", RRType::NS, 65535, ix.get());
  EXPECT_THAT(ns.additional, ElementsAre("ns.dns.cluster.local. 5 A 10.96.0.53"));
  EXPECT_THAT(ask("ns.dns.cluster.local", RRType::A, 65535, ix.get()).answer,
              ElementsAre("ns.dns.cluster.local. 5 A 10.96.0.53"));
}

// --- Case, zone, TTL ---

TEST_F(RecordsTest, CaseInsensitiveAndEchoesTheQueryCase) {
  Reply r = ask("WeB.DeFault.SVC.Cluster.LOCAL", RRType::A);
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_TRUE(r.msg.questions[0].name.exactlyEquals(Name::fromText("WeB.DeFault.SVC.Cluster.LOCAL").value()));
  EXPECT_TRUE(r.msg.answers[0].owner.exactlyEquals(Name::fromText("WeB.DeFault.SVC.Cluster.LOCAL").value()));
  EXPECT_THAT(ask("_HTTP._Tcp.WEB.default.svc.cluster.local", RRType::SRV).answer, ::testing::SizeIs(1));
  EXPECT_THAT(ask("DB-0.Db.Prod.svc.cluster.local", RRType::A).answer, ::testing::SizeIs(1));
  EXPECT_THAT(ask("10-244-1-7.DEFAULT.POD.cluster.local", RRType::A).answer, ::testing::SizeIs(1));
  EXPECT_THAT(ask("DNS-VERSION.cluster.local", RRType::TXT).answer, ::testing::SizeIs(1));
}

TEST_F(RecordsTest, ZoneAndTtlAreConfigurable) {
  Config cfg;
  cfg.zone = "Corp.Example.";
  cfg.ttl = 30;
  auto ix = build(cluster_, cfg);
  ASSERT_TRUE(ix);
  EXPECT_THAT(ask("web.default.svc.corp.example", RRType::A, 65535, ix.get()).answer,
              ElementsAre("web.default.svc.corp.example. 30 A 10.96.0.10"));
  EXPECT_EQ(ask("web.default.svc.cluster.local", RRType::A, 65535, ix.get()).outcome, Outcome::NotInZone);
  Reply nx = ask("nope.default.svc.corp.example", RRType::A, 65535, ix.get());
  EXPECT_THAT(
      nx.authority,
      ElementsAre("corp.example. 30 SOA ns.dns.corp.example. hostmaster.corp.example. 1700000000 7200 1800 86400 30"));
  // The SOA's own TTL is capped at 300 (CoreDNS); its minimum keeps the configured TTL.
  cfg.ttl = 3600;
  ix = build(cluster_, cfg);
  EXPECT_THAT(
      ask("corp.example", RRType::SOA, 65535, ix.get()).answer,
      ElementsAre(
          "corp.example. 300 SOA ns.dns.corp.example. hostmaster.corp.example. 1700000000 7200 1800 86400 3600"));
}

TEST(RecordsBuild, BadZoneIsAnError) {
  Config cfg;
  cfg.zone = "a..b";
  EXPECT_FALSE(buildIndex(Snapshot{}, cfg).ok());
  cfg.zone = ".";
  EXPECT_FALSE(buildIndex(Snapshot{}, cfg).ok());
}

TEST(RecordsBuild, UnservableObjectsAreSkippedNotFatal) {
  Cluster c = decodeCluster(R"json({"kind": "List", "items": [
    {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "ok", "namespace": "a"},
     "spec": {"clusterIP": "10.0.0.1"}},
    {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "ipext", "namespace": "a"},
     "spec": {"type": "ExternalName", "externalName": "1.2.3.4"}},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "orphan", "namespace": "a", "labels": {"kubernetes.io/service-name": "gone"}},
     "addressType": "IPv4", "endpoints": [{"addresses": ["10.9.9.9"]}]}]})json");
  auto ix = build(c);
  ASSERT_TRUE(ix);
  EXPECT_EQ(ix->stats().services, 1u);
  EXPECT_EQ(ix->stats().skipped, 1u);
  EXPECT_THAT(ix->stats().skipMessages, ElementsAre(::testing::HasSubstr("a/ipext")));
}

TEST_F(RecordsTest, NilSlicePortMatchesByNameButHasNoSrv) {
  Cluster c = decodeCluster(R"json({"kind": "List", "items": [
    {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "h", "namespace": "a"},
     "spec": {"clusterIP": "None"}},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "h-1", "namespace": "a", "labels": {"kubernetes.io/service-name": "h"}},
     "addressType": "IPv4", "ports": [{"name": "all", "port": null, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["10.7.0.1"]}]}]})json");
  auto ix = build(c);
  ASSERT_TRUE(ix);
  Reply a = ask("_all._tcp.h.a.svc.cluster.local", RRType::A, 65535, ix.get());
  EXPECT_THAT(a.answer, ElementsAre("_all._tcp.h.a.svc.cluster.local. 5 A 10.7.0.1"));
  Reply srv = ask("_all._tcp.h.a.svc.cluster.local", RRType::SRV, 65535, ix.get());
  EXPECT_EQ(srv.msg.rcode(), Rcode::NoError);
  EXPECT_THAT(srv.answer, IsEmpty());
}

// --- Truncation (RFC 1035 §4.2.1 through the composer) ---

TEST_F(RecordsTest, BigHeadlessAnswerTruncatesWithWholeRecords) {
  std::string json = R"json({"kind": "List", "items": [
    {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "big", "namespace": "load"},
     "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}},
    {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
     "metadata": {"name": "big-1", "namespace": "load", "labels": {"kubernetes.io/service-name": "big"}},
     "addressType": "IPv4", "ports": [{"name": "http", "port": 80}], "endpoints": [)json";
  for (int i = 0; i < 100; ++i)
    json += strCat(i ? "," : "", R"({"addresses": ["10.50.0.)", i + 1, R"("], "conditions": {"ready": true}})");
  json += "]}]}";
  auto ix = build(decodeCluster(json));
  ASSERT_TRUE(ix);

  Reply udp = ask("big.load.svc.cluster.local", RRType::A, 512, ix.get());
  EXPECT_TRUE(udp.msg.header.tc);
  EXPECT_GT(udp.answer.size(), 10u);
  EXPECT_LT(udp.answer.size(), 100u);
  EXPECT_EQ(udp.answer.front(), "big.load.svc.cluster.local. 5 A 10.50.0.1");
  EXPECT_THAT(udp.authority, IsEmpty());

  Reply tcp = ask("big.load.svc.cluster.local", RRType::A, 65535, ix.get());
  EXPECT_FALSE(tcp.msg.header.tc);
  EXPECT_EQ(tcp.answer.size(), 100u);

  // SRV: the answers truncate too; the additional section is simply cut (RFC 2181 §9) when SRVs all fit.
  Reply srv = ask("_http._tcp.big.load.svc.cluster.local", RRType::SRV, 512, ix.get());
  EXPECT_TRUE(srv.msg.header.tc);
  EXPECT_GT(srv.answer.size(), 0u);
  EXPECT_THAT(srv.additional, IsEmpty());
  Reply srvTcp = ask("_http._tcp.big.load.svc.cluster.local", RRType::SRV, 65535, ix.get());
  EXPECT_EQ(srvTcp.answer.size(), 100u);
  EXPECT_EQ(srvTcp.additional.size(), 100u);
  EXPECT_THAT(srvTcp.answer[0], ::testing::HasSubstr(" SRV 0 1 80 "));
}

TEST_F(RecordsTest, RebuildIsDeterministicAcrossInputOrder) {
  Cluster reversed = cluster_;
  std::reverse(reversed.services.begin(), reversed.services.end());
  std::reverse(reversed.slices.begin(), reversed.slices.end());
  auto ix = build(reversed);
  for (const char* name : {"db.prod.svc.cluster.local", "_pg._tcp.db.prod.svc.cluster.local", "1.0.1.10.in-addr.arpa",
                           "web.default.svc.cluster.local"}) {
    for (RRType t : {RRType::A, RRType::SRV, RRType::PTR}) {
      Reply a = ask(name, t), b = ask(name, t, 65535, ix.get());
      EXPECT_EQ(a.answer, b.answer) << name;
      EXPECT_EQ(a.additional, b.additional) << name;
    }
  }
}

TEST_F(RecordsTest, ThousandsOfServicesAreEachFoundByName) {
  // The index's flat name table: every one of 3,000 Services (similar names, long shared suffix) resolves to
  // its own address in any case; near misses are NXDOMAIN.
  Cluster big;
  for (int i = 0; i < 3000; ++i) {
    auto svc = kube::decodeServiceText(strCat(R"({"metadata": {"name": "svc-)", i, R"(", "namespace": "ns-)", i % 7,
                                              R"("}, "spec": {"clusterIP": "10.)", 100 + i / 256, ".", i % 256,
                                              R"(.1", "ports": [{"name": "http", "port": 80}]}})"));
    ASSERT_TRUE(svc.ok()) << svc.error().message();
    big.services.push_back(std::move(*svc));
  }
  auto ix = build(big);
  ASSERT_TRUE(ix);
  for (int i = 0; i < 3000; ++i) {
    std::string name = strCat(i % 2 ? "SVC-" : "svc-", i, ".ns-", i % 7, ".svc.cluster.local");
    Reply r = ask(name, RRType::A, 65535, ix.get());
    ASSERT_EQ(r.answer.size(), 1u) << name;
    EXPECT_NE(r.answer[0].find(strCat(" A 10.", 100 + i / 256, ".", i % 256, ".1")), std::string::npos) << r.answer[0];
  }
  EXPECT_EQ(ask("svc-3000.ns-4.svc.cluster.local", RRType::A, 65535, ix.get()).msg.rcode(), Rcode::NXDomain);
  EXPECT_EQ(ask("svc-1.ns-2.svc.cluster.local", RRType::A, 65535, ix.get()).msg.rcode(), Rcode::NXDomain);
  EXPECT_EQ(ask("svc-10.ns-3.svc.cluster.local", RRType::A, 65535, ix.get()).msg.rcode(), Rcode::NoError);
}

}  // namespace
}  // namespace nodenet::dns::records
