// Two nftables patterns shared by ipMasq and macspoofchk: per-pod state lives in set/map elements tagged with the
// comment "containerId/ifName", next to a structure (table, chains, rules) created once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "netlink/nft/kernel.h"

namespace nodenet::cni::bridge {

/// Commits the elements that `addElements` adds, alone (one small batch that frees nothing, so closing the
/// nftables socket does not wait for an RCU grace period); only when the kernel answers ENOENT (table, set or
/// chain missing: the first pod, or someone deleted our table) does it commit `buildStructure` plus the
/// elements. `what` prefixes errors ("failed to set up ipMasq").
Status commitElements(nft::Kernel& kernel, nft::Family family, const std::string& table,
                      const std::function<void(nft::Transaction&)>& addElements,
                      const std::function<void(nft::Transaction&)>& buildStructure, const std::string& what);

/// Deletes, in one batch, the elements of `sets` whose comment `drop` selects (and whose verdict, for maps,
/// `keepVerdict` does not veto). Missing table or sets are nothing to delete. `what` prefixes errors.
Status removeElementsWhere(nft::Kernel& kernel, nft::Family family, const std::string& table,
                           const std::vector<std::string>& sets, const std::function<bool(const nft::Element&)>& drop,
                           const std::string& what);

/// The element comment identifying an attachment (the tail is kept when longer than nft allows).
std::string attachmentComment(const std::string& containerId, const std::string& ifName);

}  // namespace nodenet::cni::bridge
