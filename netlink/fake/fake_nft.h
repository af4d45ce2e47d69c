// FakeNft: an in-memory nft::Kernel for unit tests (STYLE.md habit 6).
//
// commit() applies the transaction to a copy of the state and swaps only when every operation succeeded,
// so it is as all-or-nothing as the kernel, with the kernel's errno for each failure:
//   add      table/chain/set: no error when it exists (EEXIST if a set's type or a chain's hook differ)
//   create   EEXIST when it exists
//   delete   ENOENT when missing; EBUSY for a chain or set still referenced by a rule or map element
//   element  ENOENT without its set; add of an existing key with another value: EBUSY; create: EEXIST
//   rule     ENOENT for a missing chain, jump/goto target or set; replace/delete by handle (ENOENT)
// Not modelled: expression validation beyond the model's own checks (e.g. masquerade outside nat chains),
// timeouts expiring, interval sets.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "netlink/nft/kernel.h"

namespace nodenet::nft {

class FakeNft final : public Kernel {
 public:
  struct ChainState {
    Chain chain;
    std::vector<Rule> rules;  // with handles
  };
  struct SetState {
    Set set;
    std::map<Key, Element> elements;
  };
  struct TableState {
    Table table;
    std::map<std::string, ChainState> chains;
    std::map<std::string, SetState> sets;
    uint64_t nextHandle = 1;
  };
  using TableKey = std::pair<Family, std::string>;

  Status commit(const Transaction& tx) override;
  Result<bool> hasTable(Family family, const std::string& table) override;
  Result<std::vector<Chain>> listChains(Family family, const std::string& table) override;
  Result<std::vector<Set>> listSets(Family family, const std::string& table) override;
  Result<std::vector<Element>> listElements(Family family, const std::string& table, const std::string& set) override;
  Result<std::vector<Rule>> listRules(Family family, const std::string& table, const std::string& chain) override;

  /// The whole state as nft text: tables, then sets and chains sorted by name, elements sorted by key, rules
  /// in order, no handles or counters. Accepted by `nft -f`.
  std::string dump() const;
  /// One table's text, or "" when it does not exist.
  std::string dumpTable(Family family, const std::string& table) const;

  /// The table's state, or nullptr.
  const TableState* table(Family family, const std::string& name) const;
  /// Successful commits so far.
  int commitCount() const { return commits_; }
  /// Makes the next commit fail with err (and apply nothing), to test retry paths.
  void failNextCommitForTest(Error err) { injected_ = std::move(err); }

 private:
  std::map<TableKey, TableState> tables_;
  int commits_ = 0;
  std::optional<Error> injected_;
};

}  // namespace nodenet::nft
