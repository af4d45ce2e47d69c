// TableSync: the applied-state memory of one table (`ip nodenet` or `ip6 nodenet`) and the diff that turns a
// change into ONE nft::Transaction (one netlink batch) holding only what changed (STYLE.md habit 3).
//
//   TableSync t(config);
//   auto plan = t.planFull(input, kernel);            // or t.planPartial(touched services)
//   if (kernel.commit(plan->tx).ok()) t.applied(std::move(*plan));   // else: state unchanged, plan a full sync
//
// What is remembered, per Service key: the chains, affinity sets, map elements and rules that were committed,
// and the ports' facts (service IPs, endpoints) for UDP conntrack cleanup; plus the shared skeleton and the chains
// and sets waiting to be deleted.
//
// Partial transaction layout (every touched Service at once, in this order, so that an element moving from one
// Service to another in the same sync is deleted before it is re-added):
//   1. delete chains/sets flushed by an earlier committed sync (kube-proxy's delay: deleting a chain in the batch
//      that drops its last map reference fails on kernels < 6.2)
//   2. delete map/set elements that went away or changed
//   3. add new chains and affinity sets (an affinity set whose shape changed is deleted and re-added, with the
//      Service's chains refilled, since its rules reference it)
//   4. flush chains whose rules changed, and chains that are no longer wanted (deleted on a later sync)
//   5. add the rules of new and changed chains
//   6. add new and changed elements
//   7. flush affinity sets that are no longer wanted (deleted on a later sync)
// A full transaction adds the table, flushes it, deletes what was flushed by an earlier sync and is still
// unwanted, deletes sets and base chains whose definition differs, re-adds everything and flushes the dispatch
// maps before refilling them; unwanted objects found in the kernel are left flushed and deleted on a later sync.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "netlink/nft/kernel.h"
#include "proxy/rules/ruleset.h"
#include "proxy/sync/conntrack_cleaner.h"

namespace nodenet::proxy::sync {

/// Finds the current input of a Service by key ("ns/name"); nullopt when the Service is gone or ignored.
using ServiceLookup = std::function<std::optional<rules::ServiceInput>(const std::string& key)>;

/// Orders Service keys as buildRuleset() orders Services (namespace, then name).
struct ServiceKeyLess {
  bool operator()(std::string_view a, std::string_view b) const;
};

/// What was committed for one Service in one table. To keep memory low the rules themselves are not kept
/// (`rules.rules` is empty once applied): a digest of each chain's rules (parallel to `rules.chains`) is enough
/// to tell whether a chain must be refilled; the new rules always come from the new build.
/// The identity of an element across Services: a 128-bit hash of its set name and key (two differently mixed
/// 64-bit streams), so that ownership of 100k elements costs no strings. A collision among a million elements has
/// a probability around 1e-27.
struct ElementId {
  uint64_t a = 0, b = 0;
  bool operator==(const ElementId&) const = default;
};
struct ElementIdHash {
  size_t operator()(const ElementId& id) const { return static_cast<size_t>(id.a); }
};
ElementId elementIdOf(std::string_view set, const nft::Key& key);

/// What is remembered of one committed map/set element: enough to delete it and to tell whether a rebuilt one
/// differs (the element itself went into the transaction).
struct AppliedElement {
  const std::string* set = nullptr;  // interned: a handful of names shared by every Service
  nft::Key key;
  uint64_t digest = 0;  // verdict, value, data, timeout and comment
  bool operator==(const AppliedElement&) const = default;
};

struct AppliedService {
  /// Freshly built: the elements are in `rules.elements`. Once planned, they move into the transaction and only
  /// `elements` remains (a third of the size per element, which is what 10k Services are made of).
  rules::ServiceRules rules;
  std::vector<AppliedElement> elements;
  std::vector<uint64_t> chainDigests;
  /// healthCheckNodePort of an externalTrafficPolicy=Local Service (0 otherwise).
  uint16_t healthCheckNodePort = 0;
};

/// One planned sync of one table. Holds the transaction and the state to remember once it is committed.
struct TablePlan {
  bool full = false;
  nft::Transaction tx;
  /// Services whose rules change (partial) or all Services (full).
  size_t servicesChanged = 0;

  // Applied-state updates, used by TableSync::applied().
  std::vector<std::pair<std::string, std::shared_ptr<AppliedService>>> services;  // null = gone
  /// Element ownership changes: element id -> owning Service key (nullopt: released). Partial plans only.
  std::vector<std::pair<ElementId, std::optional<std::string>>> owners;
  /// Full plans: every element id -> its owning Service key (replaces the applied ownership).
  std::unordered_map<ElementId, std::string, ElementIdHash> fullOwners;
  /// Services that lost an element to another Service (conflicting externalIPs/LB IPs), after this plan.
  std::set<std::string> losers;
  std::set<std::string> pendingChains, pendingSets;  // new "delete next time" lists
  /// Full plans: the builder for the node they were made for (kept for later partial plans).
  std::shared_ptr<const rules::RulesBuilder> builder;
  /// The UDP flows to delete once the transaction is committed.
  std::vector<UdpFlowFilter> conntrack;

  explicit TablePlan(nft::Family family) : tx(family, "nodenet") {}
};

class TableSync {
 public:
  /// `config.family` picks the table. Nothing is applied until the first full plan is committed.
  explicit TableSync(rules::Config config);
  ~TableSync();

  nft::Family family() const { return family_; }
  const std::string& table() const { return table_; }
  const rules::Config& config() const { return config_; }
  /// True until a full plan has been committed (then partial plans are possible).
  bool needsFull() const { return !haveFull_; }

  /// A full sync of every Service in `services` (any order) for `node`. Lists the kernel's chains and sets of
  /// the table (absent table = empty) to delete what is not wanted. Error: listing failed (other than ENOENT),
  /// or the transaction is invalid (a bug or an unrepresentable object: the message names it).
  Result<TablePlan> planFull(const std::vector<rules::ServiceInput>& services, const rules::NodeInput& node,
                             nft::Kernel& kernel) const;

  /// A partial sync of the touched Services only; untouched Services cost nothing. Requires !needsFull().
  /// `lookup` gives the current input of a Service: of each touched one, and of the few others that conflicts
  /// over a map key pull in (see below). Error: the transaction is invalid.
  ///
  /// Conflicts: two Services may claim the same map key (the API does not keep externalIPs or shared LB IPs
  /// unique). The kernel refuses a second element with the same key (EBUSY) and the whole batch would fail, every
  /// time; so each key belongs to the first claiming Service in namespace/name order (what a full sync gives) and
  /// the others go without that element (logged). A partial sync keeps that invariant: a touched Service that
  /// sorts first takes the key over (the loser is re-planned), and a released key goes to a waiting loser.
  Result<TablePlan> planPartial(const std::vector<std::string>& touched, const ServiceLookup& lookup) const;

  /// Records a committed plan as the applied state. Call only after kernel.commit(plan.tx) succeeded.
  void applied(TablePlan&& plan);

  /// Chains and sets flushed and waiting for deletion by the next sync.
  const std::set<std::string>& pendingChains() const { return pendingChains_; }
  const std::set<std::string>& pendingSets() const { return pendingSets_; }
  bool hasPendingDeletes() const { return !pendingChains_.empty() || !pendingSets_.empty(); }

  /// Services that currently go without an element another Service owns.
  const std::set<std::string>& conflictedServices() const { return losers_; }

  /// Number of Services with applied state (handled ones only).
  size_t serviceCount() const { return services_.size(); }
  /// The applied rules of one Service (chains, sets, ports; its elements are in the records), or nullptr.
  const rules::ServiceRules* serviceRules(const std::string& key) const;
  /// Local ready endpoints (max over ports) of an applied Service, and its healthCheckNodePort when it is an
  /// externalTrafficPolicy=Local Service with one (0 otherwise).
  std::map<std::string, std::pair<uint16_t, size_t>> healthChecks() const;

 private:
  rules::Config config_;
  nft::Family family_;
  std::string table_;
  bool haveFull_ = false;
  std::shared_ptr<const rules::RulesBuilder> builder_;  // for the node of the last committed full sync
  std::unordered_map<std::string, std::shared_ptr<const AppliedService>> services_;
  std::set<std::string> pendingChains_, pendingSets_;
  std::unordered_map<ElementId, std::string, ElementIdHash> owners_;  // element -> owning Service key
  std::set<std::string> losers_;
};

}  // namespace nodenet::proxy::sync
