#include "cni/bridge/spoofcheck.h"

#include <cerrno>
#include <set>

#include "cni/bridge/nft_elements.h"

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

}  // namespace

Status addSpoofCheck(Kernel& kernel, const std::string& hostPort, const netlink::MacAddress& podMac,
                     const std::string& containerId, const std::string& ifName) {
  const std::string comment = attachmentComment(containerId, ifName);
  return commitElements(
      kernel, Family::Bridge, kSpoofTable, [&](Transaction& tx) { addElements(tx, hostPort, podMac, comment); },
      buildSkeleton, "failed to set up macspoofchk");
}

Status removeSpoofCheck(Kernel& kernel, const std::string& containerId, const std::string& ifName) {
  const std::string comment = attachmentComment(containerId, ifName);
  return removeElementsWhere(
      kernel, Family::Bridge, kSpoofTable, {kPorts, kAllowed},
      [&](const Element& e) { return e.comment && *e.comment == comment; }, "failed to tear down macspoofchk");
}

Status gcSpoofCheck(Kernel& kernel, const std::vector<GcAttachment>& valid) {
  std::set<std::string> keep;
  for (const auto& a : valid) keep.insert(attachmentComment(a.containerId, a.ifName));
  return removeElementsWhere(
      kernel, Family::Bridge, kSpoofTable, {kPorts, kAllowed},
      [&](const Element& e) { return e.comment && !keep.count(*e.comment); }, "failed to garbage-collect macspoofchk");
}

}  // namespace nodenet::cni::bridge
