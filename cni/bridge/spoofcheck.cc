#include "cni/bridge/spoofcheck.h"

#include <cerrno>
#include <set>

#include "cni/bridge/masq.h"

namespace nodenet::cni::bridge {
namespace {

using namespace nft;

constexpr const char* kPorts = "ports";
constexpr const char* kAllowed = "allowed";
constexpr const char* kPrerouting = "prerouting";
// The reference's priority: before the bridge's own filter and nat chains see the frame.
constexpr int32_t kSpoofPriority = -300;

void addElements(Transaction& tx, const std::string& port, const netlink::MacAddress& mac, const std::string& comment) {
  tx.add(Element{kPorts, Key{Value::ifname(port)}, std::nullopt, std::nullopt, std::nullopt, comment});
  tx.add(Element{kAllowed, Key{Value::ifname(port), Value::ether(mac.bytes.data())}, std::nullopt, std::nullopt,
                 std::nullopt, comment});
}

void buildSkeleton(Transaction& tx) {
  tx.add(Table{Family::Bridge, kSpoofTable, std::string("nodenet CNI: pod MAC spoof check")});
  tx.add(Set{kPorts, KeyType{DataType::Ifname}, std::nullopt, 0, std::nullopt, std::nullopt});
  tx.add(Set{kAllowed, KeyType{DataType::Ifname, DataType::EtherAddr}, std::nullopt, 0, std::nullopt, std::nullopt});
  tx.add(Chain{kPrerouting, BaseChain{ChainType::Filter, Hook::Prerouting, kSpoofPriority, Policy::Accept},
               std::nullopt});
  tx.flush(Chain{kPrerouting, std::nullopt, std::nullopt});
  tx.add(Rule{kPrerouting,
              {lookup(Concat{Field::MetaIifname}, kPorts),
               notLookup(Concat{Field::MetaIifname, Field::EtherSaddr}, kAllowed), Verdict::drop()},
              std::nullopt, std::nullopt});
}

template <typename Pred>
Status removeWhere(Kernel& kernel, Pred drop, const char* what) {
  Transaction tx(Family::Bridge, kSpoofTable);
  size_t n = 0;
  for (const char* set : {kPorts, kAllowed}) {
    auto elems = kernel.listElements(Family::Bridge, kSpoofTable, set);
    if (!elems) {
      if (elems.error().sysErrno() == ENOENT) continue;
      return std::move(elems).error();
    }
    for (const auto& e : *elems) {
      if (!e.comment || !drop(*e.comment)) continue;
      tx.remove(Element{set, e.key, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
      ++n;
    }
  }
  if (n == 0) return {};
  NN_TRY(tx.status());
  if (auto st = kernel.commit(tx); !st) return std::move(st).error().context(what);
  return {};
}

}  // namespace

Status addSpoofCheck(Kernel& kernel, const std::string& hostPort, const netlink::MacAddress& podMac,
                     const std::string& containerId, const std::string& ifName) {
  const std::string comment = masqComment(containerId, ifName);
  {
    // Fast path: the table exists (every pod after the first); only elements, nothing freed.
    Transaction tx(Family::Bridge, kSpoofTable);
    addElements(tx, hostPort, podMac, comment);
    NN_TRY(tx.status());
    auto st = kernel.commit(tx);
    if (st.ok()) return {};
    if (st.error().sysErrno() != ENOENT) return std::move(st).error().context("failed to set up macspoofchk");
  }
  Transaction tx(Family::Bridge, kSpoofTable);
  buildSkeleton(tx);
  addElements(tx, hostPort, podMac, comment);
  NN_TRY(tx.status());
  if (auto st = kernel.commit(tx); !st) return std::move(st).error().context("failed to set up macspoofchk");
  return {};
}

Status removeSpoofCheck(Kernel& kernel, const std::string& containerId, const std::string& ifName) {
  const std::string comment = masqComment(containerId, ifName);
  return removeWhere(kernel, [&](const std::string& c) { return c == comment; }, "failed to tear down macspoofchk");
}

Status gcSpoofCheck(Kernel& kernel, const std::vector<GcAttachment>& valid) {
  std::set<std::string> keep;
  for (const auto& a : valid) keep.insert(masqComment(a.containerId, a.ifName));
  return removeWhere(kernel, [&](const std::string& c) { return !keep.count(c); }, "failed to garbage-collect macspoofchk");
}

}  // namespace nodenet::cni::bridge
