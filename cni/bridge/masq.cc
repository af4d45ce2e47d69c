#include "cni/bridge/masq.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

#include "base/strings.h"

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

// Collects the delete operations for elements of `network` that `drop` selects. Returns how many.
template <typename Pred>
Result<size_t> collectDeletes(nft::Kernel& kernel, nft::Transaction& tx, const std::string& network, Pred drop) {
  size_t n = 0;
  const std::string prefix = networkPrefix(network);
  for (const char* map : {kPods4, kPods6}) {
    auto elems = kernel.listElements(nft::Family::Inet, kMasqTable, map);
    if (!elems) {
      if (elems.error().sysErrno() == ENOENT) continue;  // no table or map yet: nothing of ours
      return std::move(elems).error();
    }
    for (const auto& e : *elems) {
      if (!e.verdict || e.verdict->chain.rfind(prefix, 0) != 0 || !e.comment || !drop(*e.comment)) continue;
      tx.remove(nft::Element{map, e.key, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
      ++n;
    }
  }
  return n;
}

}  // namespace

std::string masqComment(const std::string& containerId, const std::string& ifName) {
  std::string c = containerId + "/" + ifName;
  if (c.size() > nft::kMaxCommentLen) c = c.substr(c.size() - nft::kMaxCommentLen);
  return c;
}

Status addMasq(nft::Kernel& kernel, const std::string& network, const std::string& containerId,
               const std::string& ifName, const std::vector<Cidr>& podAddrs) {
  using namespace nft;
  const std::string comment = masqComment(containerId, ifName);
  auto addElements = [&](Transaction& tx) {
    for (const Cidr& a : podAddrs)
      tx.add(Element{a.family() == IpFamily::V4 ? kPods4 : kPods6, Key{Value::ip(a.address())},
                     Verdict::goTo(masqChain(network, a.masked())), std::nullopt, std::nullopt, comment});
  };
  // Fast path: the table and this subnet's chain exist (every pod after the first), so only the map elements
  // are sent. A batch that frees nothing also spares the process an RCU grace period when its nftables
  // socket closes (the kernel waits for pending destroy work on release, ~10 ms here).
  {
    Transaction tx(Family::Inet, kMasqTable);
    addElements(tx);
    NN_TRY(tx.status());
    auto st = kernel.commit(tx);
    if (st.ok()) return {};
    if (st.error().sysErrno() != ENOENT) return std::move(st).error().context("failed to set up ipMasq");
  }
  // First pod of a subnet (or the table is gone): the whole structure, rebuilt idempotently, and the elements.
  Transaction tx(Family::Inet, kMasqTable);
  buildSkeleton(tx);
  std::vector<Cidr> subnets;
  for (const Cidr& a : podAddrs) {
    const Cidr subnet = a.masked();
    if (std::find(subnets.begin(), subnets.end(), subnet) == subnets.end()) {
      subnets.push_back(subnet);
      buildSubnetChain(tx, network, subnet);
    }
  }
  addElements(tx);
  NN_TRY(tx.status());
  if (auto st = kernel.commit(tx); !st) return std::move(st).error().context("failed to set up ipMasq");
  return {};
}

Status removeMasq(nft::Kernel& kernel, const std::string& network, const std::string& containerId,
                  const std::string& ifName) {
  nft::Transaction tx(nft::Family::Inet, kMasqTable);
  const std::string comment = masqComment(containerId, ifName);
  NN_ASSIGN_OR_RETURN(size_t n, collectDeletes(kernel, tx, network, [&](const std::string& c) { return c == comment; }));
  if (n == 0) return {};
  NN_TRY(tx.status());
  if (auto st = kernel.commit(tx); !st) return std::move(st).error().context("failed to tear down ipMasq");
  return {};
}

Status gcMasq(nft::Kernel& kernel, const std::string& network, const std::vector<GcAttachment>& valid) {
  std::set<std::string> keep;
  for (const auto& a : valid) keep.insert(masqComment(a.containerId, a.ifName));
  nft::Transaction tx(nft::Family::Inet, kMasqTable);
  NN_ASSIGN_OR_RETURN(size_t n, collectDeletes(kernel, tx, network, [&](const std::string& c) { return !keep.count(c); }));
  if (n == 0) return {};
  NN_TRY(tx.status());
  if (auto st = kernel.commit(tx); !st) return std::move(st).error().context("failed to garbage-collect ipMasq");
  return {};
}

}  // namespace nodenet::cni::bridge
