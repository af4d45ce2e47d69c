#include "cni/bridge/masq.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

#include "base/strings.h"
#include "cni/bridge/nft_elements.h"

namespace nodenet::cni::bridge {
namespace {

constexpr const char* kPostrouting = "postrouting";
constexpr const char* kPods4 = "pods4";
constexpr const char* kPods6 = "pods6";

uint32_t fnv32(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string hex8(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// Fixed-length hashes keep names short and make "masq-<network hash>-" an unambiguous prefix.
std::string networkPrefix(const std::string& network) { return "masq-" + hex8(fnv32(network)) + "-"; }
std::string masqChain(const std::string& network, const Cidr& subnet) {
  return networkPrefix(network) + hex8(fnv32(subnet.toString()));
}

void buildSkeleton(nft::Transaction& tx) {
  using namespace nft;
  tx.add(Table{Family::Inet, kMasqTable, std::string("nodenet CNI: pod masquerade")});
  tx.add(Set{kPods4, KeyType{DataType::Ipv4Addr}, DataType::Verdict, 0, std::nullopt, std::nullopt});
  tx.add(Set{kPods6, KeyType{DataType::Ipv6Addr}, DataType::Verdict, 0, std::nullopt, std::nullopt});
  tx.add(Chain{kPostrouting, BaseChain{ChainType::Nat, Hook::Postrouting, priority::kSrcNat, Policy::Accept},
               std::nullopt});
  // Chains are rebuilt whole in the same batch (flush, then add), so re-sending them is idempotent.
  tx.flush(Chain{kPostrouting, std::nullopt, std::nullopt});
  tx.add(Rule{kPostrouting, {vmap(Concat{Field::IpSaddr}, kPods4)}, std::nullopt, std::nullopt});
  tx.add(Rule{kPostrouting, {vmap(Concat{Field::Ip6Saddr}, kPods6)}, std::nullopt, std::nullopt});
}

void buildSubnetChain(nft::Transaction& tx, const std::string& network, const Cidr& subnet) {
  using namespace nft;
  const std::string chain = masqChain(network, subnet);
  const bool v4 = subnet.family() == IpFamily::V4;
  const Field daddr = v4 ? Field::IpDaddr : Field::Ip6Daddr;
  const Cidr multicast = *Cidr::parse(v4 ? "224.0.0.0/4" : "ff00::/8");
  tx.add(Chain{chain, std::nullopt, strCat("network ", network, " subnet ", subnet.toString())});
  tx.flush(Chain{chain, std::nullopt, std::nullopt});
  tx.add(Rule{chain, {match(daddr, Value::prefix(subnet)), Verdict::ret()}, std::nullopt, std::nullopt});
  tx.add(Rule{chain, {match(daddr, Value::prefix(multicast)), Verdict::ret()}, std::nullopt, std::nullopt});
  tx.add(Rule{chain, {Masquerade{}}, std::nullopt, std::nullopt});
}

}  // namespace

Status addMasq(nft::Kernel& kernel, const std::string& network, const std::string& containerId,
               const std::string& ifName, const std::vector<Cidr>& podAddrs) {
  using namespace nft;
  const std::string comment = attachmentComment(containerId, ifName);
  // Every pod after a subnet's first only adds map elements; the structure is rebuilt (idempotently) when the
  // kernel reports it missing.
  return commitElements(
      kernel, Family::Inet, kMasqTable,
      [&](Transaction& tx) {
        for (const Cidr& a : podAddrs)
          tx.add(Element{a.family() == IpFamily::V4 ? kPods4 : kPods6, Key{Value::ip(a.address())},
                         Verdict::goTo(masqChain(network, a.masked())), std::nullopt, std::nullopt, comment});
      },
      [&](Transaction& tx) {
        buildSkeleton(tx);
        std::vector<Cidr> subnets;
        for (const Cidr& a : podAddrs) {
          const Cidr subnet = a.masked();
          if (std::find(subnets.begin(), subnets.end(), subnet) != subnets.end()) continue;
          subnets.push_back(subnet);
          buildSubnetChain(tx, network, subnet);
        }
      },
      "failed to set up ipMasq");
}

namespace {
// An element of `network`'s chains (the verdict names the chain) whose comment `pred` selects.
std::function<bool(const nft::Element&)> ofNetwork(const std::string& network,
                                                   std::function<bool(const std::string&)> pred) {
  return [prefix = networkPrefix(network), pred = std::move(pred)](const nft::Element& e) {
    return e.verdict && e.verdict->chain.rfind(prefix, 0) == 0 && e.comment && pred(*e.comment);
  };
}
}  // namespace

Status removeMasq(nft::Kernel& kernel, const std::string& network, const std::string& containerId,
                  const std::string& ifName) {
  const std::string comment = attachmentComment(containerId, ifName);
  return removeElementsWhere(kernel, nft::Family::Inet, kMasqTable, {kPods4, kPods6},
                             ofNetwork(network, [&](const std::string& c) { return c == comment; }),
                             "failed to tear down ipMasq");
}

Status gcMasq(nft::Kernel& kernel, const std::string& network, const std::vector<GcAttachment>& valid) {
  std::set<std::string> keep;
  for (const auto& a : valid) keep.insert(attachmentComment(a.containerId, a.ifName));
  return removeElementsWhere(kernel, nft::Family::Inet, kMasqTable, {kPods4, kPods6},
                             ofNetwork(network, [&](const std::string& c) { return !keep.count(c); }),
                             "failed to garbage-collect ipMasq");
}

}  // namespace nodenet::cni::bridge
