// Test helpers for proxy/sync: kube objects from a fixed IP plan, a kernel wrapper that records what was sent,
// a recording conntrack cleaner, and a world that owns a kube::Cache.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kube/cache/cache.h"
#include "netlink/fake/fake_nft.h"
#include "proxy/sync/conntrack_cleaner.h"
#include "proxy/sync/proxier.h"
#include "tests/proxy_rules/kube_builders.h"

namespace nodenet::proxy::sync::testing {

using kubetest::cidr;
using kubetest::in;
using kubetest::ip;
using kubetest::port;
using kubetest::service;

struct Ep {
  std::string ip;
  std::string node = "node-a";
  bool ready = true;
};

/// An EndpointSlice `<svc>-<suffix>` in `ns` for Service `svc`, with one port list for all endpoints.
inline kube::EndpointSlice slice(const char* ns, const char* svc, const std::string& suffix, std::vector<Ep> eps,
                                 std::vector<std::pair<const char*, uint16_t>> ports, L4Proto proto = L4Proto::TCP) {
  kube::EndpointSlice sl;
  sl.meta.ns = in(ns);
  sl.meta.name = std::string(svc) + "-" + suffix;
  sl.meta.labels = kube::StringMap({{in(kube::kLabelServiceName), svc}});
  sl.addressType = eps.empty() || ip(eps[0].ip.c_str()).isV4() ? kube::AddressType::IPv4 : kube::AddressType::IPv6;
  for (const Ep& e : eps) {
    kube::Endpoint ep;
    ep.addresses.push_back(ip(e.ip.c_str()));
    ep.conditions.ready = e.ready;
    ep.conditions.serving = e.ready;
    ep.conditions.terminating = false;
    ep.nodeName = in(e.node);
    sl.endpoints.push_back(std::move(ep));
  }
  for (auto& [name, p] : ports) sl.ports.push_back(kube::EndpointPort{in(name), proto, p, {}});
  return sl;
}

inline kube::Node node(const char* name = "node-a", const char* addr = "192.168.99.2", const char* zone = "zone-a") {
  kube::Node n;
  n.meta.name = name;
  n.meta.labels = kube::StringMap({{in(kube::kLabelZone), zone}});
  kube::NodeAddress a;
  a.type = kube::NodeAddressType::InternalIP;
  a.typeName = in("InternalIP");
  a.address = addr;
  a.ip = ip(addr);
  n.addresses.push_back(a);
  return n;
}

/// nft::Kernel over a FakeNft that remembers the text of every transaction it was asked to commit.
class RecordingKernel final : public nft::Kernel {
 public:
  explicit RecordingKernel(nft::FakeNft& fake) : fake_(fake) {}
  Status commit(const nft::Transaction& tx) override {
    sent.push_back(tx.toString());
    if (failNext_) {
      failNext_ = false;
      return Error("injected failure: add element ...: No space left on device (errno 28)", 28);
    }
    return fake_.commit(tx);
  }
  Result<bool> hasTable(nft::Family f, const std::string& t) override { return fake_.hasTable(f, t); }
  Result<std::vector<nft::Chain>> listChains(nft::Family f, const std::string& t) override {
    return fake_.listChains(f, t);
  }
  Result<std::vector<nft::Set>> listSets(nft::Family f, const std::string& t) override { return fake_.listSets(f, t); }
  Result<std::vector<nft::Element>> listElements(nft::Family f, const std::string& t, const std::string& s) override {
    return fake_.listElements(f, t, s);
  }
  Result<std::vector<nft::Rule>> listRules(nft::Family f, const std::string& t, const std::string& c) override {
    return fake_.listRules(f, t, c);
  }
  /// The next commit fails (nothing applied), as a kernel error would.
  void failNext() { failNext_ = true; }

  std::vector<std::string> sent;

 private:
  nft::FakeNft& fake_;
  bool failNext_ = false;
};

class RecordingConntrack final : public ConntrackCleaner {
 public:
  Result<size_t> deleteUdpFlows(const UdpFlowFilter& f) override {
    calls.push_back(f.toString());
    return size_t{0};
  }
  std::vector<std::string> calls;
};

/// The lines of `text` that contain `needle`.
inline std::vector<std::string> linesWith(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (line.find(needle) != std::string::npos) out.push_back(line);
    pos = end + 1;
  }
  return out;
}

}  // namespace nodenet::proxy::sync::testing
