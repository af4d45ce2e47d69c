#include "cni/bridge/nft_elements.h"

#include <cerrno>

namespace nodenet::cni::bridge {

Status commitElements(nft::Kernel& kernel, nft::Family family, const std::string& table,
                      const std::function<void(nft::Transaction&)>& addElements,
                      const std::function<void(nft::Transaction&)>& buildStructure, const std::string& what) {
  {
    nft::Transaction tx(family, table);
    addElements(tx);
    NN_TRY(tx.status());
    auto st = kernel.commit(tx);
    if (st.ok()) return {};
    if (st.error().sysErrno() != ENOENT) return std::move(st).error().context(what);
  }
  nft::Transaction tx(family, table);
  buildStructure(tx);
  addElements(tx);
  NN_TRY(tx.status());
  if (auto st = kernel.commit(tx); !st) return std::move(st).error().context(what);
  return {};
}

Status removeElementsWhere(nft::Kernel& kernel, nft::Family family, const std::string& table,
                           const std::vector<std::string>& sets, const std::function<bool(const nft::Element&)>& drop,
                           const std::string& what) {
  nft::Transaction tx(family, table);
  size_t n = 0;
  for (const std::string& set : sets) {
    auto elems = kernel.listElements(family, table, set);
    if (!elems) {
      if (elems.error().sysErrno() == ENOENT) continue;  // no table or set yet: nothing of ours
      return std::move(elems).error().context(what);
    }
    for (const auto& e : *elems) {
      if (!drop(e)) continue;
      tx.remove(nft::Element{set, e.key, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
      ++n;
    }
  }
  if (n == 0) return {};
  NN_TRY(tx.status());
  if (auto st = kernel.commit(tx); !st) return std::move(st).error().context(what);
  return {};
}

std::string attachmentComment(const std::string& containerId, const std::string& ifName) {
  std::string c = containerId + "/" + ifName;
  if (c.size() > nft::kMaxCommentLen) c = c.substr(c.size() - nft::kMaxCommentLen);
  return c;
}

}  // namespace nodenet::cni::bridge
