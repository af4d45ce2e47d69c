#include "proxy/sync/table_sync.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <cstdlib>
#include <ctime>
#include <cerrno>
#include <type_traits>
#include <unordered_set>
#include <variant>

#include "base/log.h"
#include "base/strings.h"
#include "proxy/rules/names.h"
#include "proxy/sync/trace.h"

namespace nodenet::proxy::sync {

namespace {

using ElementIndex = std::map<std::pair<std::string_view, nft::Key>, const AppliedElement*>;

ElementIndex indexElements(const AppliedService* s) {
  ElementIndex out;
  if (s)
    for (const AppliedElement& e : s->elements) out.emplace(std::make_pair(std::string_view(*e.set), e.key), &e);
  return out;
}

/// The set names elements belong to, interned once per process (a few constants of proxy/rules).
const std::string* internSetName(const std::string& name) {
  static std::mutex mu;
  static std::set<std::string, std::less<>> names;
  std::lock_guard<std::mutex> lock(mu);
  return &*names.insert(name).first;
}

/// FNV-1a 64, fed field by field.
struct Fnv {
  uint64_t h = 14695981039346656037ull;
  void bytes(const void* p, size_t n) {
    auto* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= c[i];
      h *= 1099511628211ull;
    }
  }
  void num(uint64_t v) { bytes(&v, sizeof v); }
  void str(std::string_view s) {
    num(s.size());
    bytes(s.data(), s.size());
  }
  void value(const nft::Value& v) {
    num(static_cast<uint64_t>(v.kind()));
    str(v.toString());
  }
  void concat(const nft::Concat& c) {
    num(c.size());
    for (nft::Field f : c) num(static_cast<uint64_t>(f));
  }
  void verdict(const nft::Verdict& v) {
    num(static_cast<uint64_t>(v.kind));
    str(v.chain);
  }
  /// Every field of every statement type (std::visit fails to compile if a new type is not handled here).
  void statement(const nft::Statement& st) {
    num(st.index());
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, nft::Match>) {
            num(static_cast<uint64_t>(x.field));
            num(static_cast<uint64_t>(x.op));
            value(x.value);
            num(x.mask ? uint64_t(*x.mask) | (1ull << 40) : 0);
          } else if constexpr (std::is_same_v<T, nft::Lookup>) {
            concat(x.key);
            str(x.set);
            num(x.invert);
          } else if constexpr (std::is_same_v<T, nft::VmapLookup>) {
            concat(x.key);
            str(x.map);
          } else if constexpr (std::is_same_v<T, nft::NumgenVmap>) {
            num(x.targets.size());
            for (const auto& t : x.targets) verdict(t);
          } else if constexpr (std::is_same_v<T, nft::SetUpdate>) {
            concat(x.key);
            str(x.set);
            num(x.timeoutSec ? uint64_t(*x.timeoutSec) | (1ull << 40) : 0);
          } else if constexpr (std::is_same_v<T, nft::Counter>) {
          } else if constexpr (std::is_same_v<T, nft::Verdict>) {
            verdict(x);
          } else if constexpr (std::is_same_v<T, nft::Nat>) {
            num(static_cast<uint64_t>(x.kind));
            str(x.addr.toString());
            num(x.port ? uint64_t(*x.port) | (1ull << 40) : 0);
            num(x.fullyRandom * 2 + x.persistent);
          } else if constexpr (std::is_same_v<T, nft::Masquerade>) {
            num(x.random * 4 + x.fullyRandom * 2 + x.persistent);
          } else if constexpr (std::is_same_v<T, nft::MarkSet>) {
            num(x.orBits);
            num(x.xorBits);
          } else if constexpr (std::is_same_v<T, nft::Reject>) {
            num(static_cast<uint64_t>(x.kind));
          } else if constexpr (std::is_same_v<T, nft::NumgenMatch>) {
            num(x.modulus);
            num(x.value);
          } else if constexpr (std::is_same_v<T, nft::NatMap>) {
            concat(x.key);
            num(x.numgen ? (uint64_t(x.numgen->modulus) << 32 | x.numgen->offset) : 0);
            num(x.numgen.has_value());
            str(x.map);
          } else {
            static_assert(sizeof(T) == 0, "statement type not digested");
          }
        },
        st);
  }
};

/// Frees a vector's storage (`v = {}` would pick the initializer_list assignment and keep the capacity).
template <typename T>
void release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

/// Everything of an element but its set and key.
uint64_t elementDigest(const nft::Element& e) {
  Fnv f;
  f.num(e.verdict.has_value());
  if (e.verdict) f.verdict(*e.verdict);
  f.num(e.value.has_value());
  if (e.value) f.value(*e.value);
  f.num(e.dataConcat.size());
  for (const nft::Value& v : e.dataConcat) f.value(v);
  f.num(e.timeoutSec ? uint64_t(*e.timeoutSec) | (1ull << 40) : 0);
  f.num(e.comment.has_value());
  if (e.comment) f.str(*e.comment);
  return f.h;
}

/// Records the built elements of `st` as applied ones (rules.elements itself is left to the caller to move).
void recordElements(AppliedService& st) {
  st.elements.clear();
  st.elements.reserve(st.rules.elements.size());
  for (const nft::Element& e : st.rules.elements)
    st.elements.push_back(AppliedElement{internSetName(e.set), e.key, elementDigest(e)});
}

/// True when a freshly planned Service (elements recorded, rules moved out) equals an applied one.
bool sameApplied(const AppliedService& a, const AppliedService& b) {
  return a.elements == b.elements && a.chainDigests == b.chainDigests && a.rules.chains == b.rules.chains &&
         a.rules.sets == b.rules.sets && a.rules.ports == b.rules.ports &&
         a.healthCheckNodePort == b.healthCheckNodePort;
}

/// Calls fn(set, key) for each element of a built or an applied Service.
template <typename F>
void forEachElementKey(const AppliedService& st, F&& fn) {
  if (!st.rules.elements.empty()) {
    for (const nft::Element& e : st.rules.elements) fn(std::string_view(e.set), e.key);
  } else {
    for (const AppliedElement& e : st.elements) fn(std::string_view(*e.set), e.key);
  }
}

/// A digest of each chain's rules (statements and comments, in order), in the order of p.chains.
std::vector<uint64_t> chainDigests(const rules::RuleParts& p, nft::Family) {
  std::unordered_map<std::string_view, Fnv> h;
  h.reserve(p.chains.size());
  for (const nft::Chain& c : p.chains) h.emplace(c.name, Fnv{});
  for (const nft::Rule& r : p.rules) {
    Fnv& f = h[r.chain];
    f.num(r.statements.size());
    for (const nft::Statement& st : r.statements) f.statement(st);
    f.str(r.comment.value_or(std::string()));
    f.num(r.comment.has_value());
  }
  std::vector<uint64_t> out;
  out.reserve(p.chains.size());
  for (const nft::Chain& c : p.chains) out.push_back(h[c.name].h);
  return out;
}

/// Chain name -> digest of an applied or planned Service.
std::unordered_map<std::string_view, uint64_t> digestMap(const AppliedService* s) {
  std::unordered_map<std::string_view, uint64_t> out;
  if (!s) return out;
  for (size_t i = 0; i < s->rules.chains.size(); ++i) out.emplace(s->rules.chains[i].name, s->chainDigests[i]);
  return out;
}

std::unordered_map<std::string_view, const nft::Set*> indexSets(const rules::RuleParts* p) {
  std::unordered_map<std::string_view, const nft::Set*> out;
  if (p)
    for (const nft::Set& s : p->sets) out.emplace(s.name, &s);
  return out;
}

std::string serviceKey(const kube::Service& svc) { return strCat(svc.meta.ns.view(), "/", svc.meta.name); }

std::shared_ptr<AppliedService> buildService(const rules::RulesBuilder& builder, const rules::ServiceInput& in,
                                             nft::Family family) {
  // Built into a reused scratch (its vectors keep their capacity), then moved out at exact size: 10k Services
  // leave no vector-growth garbage between the pieces that stay.
  thread_local rules::ServiceRules scratch;
  scratch.chains.clear();
  scratch.sets.clear();
  scratch.elements.clear();
  scratch.rules.clear();
  scratch.ports.clear();
  builder.appendService(in, scratch);
  if (scratch.chains.empty() && scratch.elements.empty() && scratch.ports.empty()) return nullptr;  // skipped
  auto st = std::make_shared<AppliedService>();
  st->chainDigests = chainDigests(scratch, family);
  auto take = [](auto& from, auto& to) {
    to.reserve(from.size());
    for (auto& x : from) to.push_back(std::move(x));
    from.clear();
  };
  take(scratch.chains, st->rules.chains);
  take(scratch.sets, st->rules.sets);
  take(scratch.elements, st->rules.elements);
  take(scratch.rules, st->rules.rules);
  take(scratch.ports, st->rules.ports);
  const kube::Service& svc = *in.service;
  if (svc.externalTrafficPolicy == kube::TrafficPolicy::Local && svc.healthCheckNodePort != 0)
    st->healthCheckNodePort = svc.healthCheckNodePort;
  return st;
}

/// The UDP flows made stale by going from `old` to `cur` (either may be null), as kube-proxy's
/// deleteStaleServiceConntrackEntries / deleteStaleEndpointConntrackEntries: flows DNATed to an endpoint that is
/// gone, and flows to a service port that had no endpoint and now has one (they were rejected or blackholed and
/// would stay so until they time out).
void conntrackDiff(const AppliedService* old, const AppliedService* cur, IpFamily family,
                   std::vector<UdpFlowFilter>& out) {
  auto findPort = [](const AppliedService* s, const rules::ServicePortInfo& p) -> const rules::ServicePortInfo* {
    if (!s) return nullptr;
    for (const auto& q : s->rules.ports)
      if (q.protocol == p.protocol && q.port == p.port) return &q;
    return nullptr;
  };
  if (old)
    for (const auto& op : old->rules.ports) {
      if (op.protocol != L4Proto::UDP) continue;
      const rules::ServicePortInfo* np = findPort(cur, op);
      for (const IpAddress& ep : op.endpoints) {
        if (np && std::find(np->endpoints.begin(), np->endpoints.end(), ep) != np->endpoints.end()) continue;
        for (const IpAddress& ip : op.serviceIPs) out.push_back({ip, op.port, ep, family});
        if (op.nodePort) out.push_back({std::nullopt, op.nodePort, ep, family});
      }
    }
  if (cur)
    for (const auto& np : cur->rules.ports) {
      if (np.protocol != L4Proto::UDP || np.endpoints.empty()) continue;
      const rules::ServicePortInfo* op = findPort(old, np);
      if (op && !op->endpoints.empty()) continue;
      for (const IpAddress& ip : np.serviceIPs) out.push_back({ip, np.port, std::nullopt, family});
      if (np.nodePort) out.push_back({std::nullopt, np.nodePort, std::nullopt, family});
    }
}

ElementId elementId(const nft::Element& e) { return elementIdOf(e.set, e.key); }

void dedupe(std::vector<UdpFlowFilter>& v) {
  std::vector<UdpFlowFilter> out;
  std::unordered_set<std::string> seen;
  for (auto& f : v)
    if (seen.insert(f.toString()).second) out.push_back(std::move(f));
  v = std::move(out);
}

}  // namespace

ElementId elementIdOf(std::string_view set, const nft::Key& key) {
  ElementId id{14695981039346656037ull, 0x9e3779b97f4a7c15ull};
  auto feed = [&](uint8_t c) {
    id.a = (id.a ^ c) * 1099511628211ull;  // FNV-1a
    id.b = (id.b ^ c) * 0xff51afd7ed558ccdull;
    id.b ^= id.b >> 29;
  };
  for (char c : set) feed(static_cast<uint8_t>(c));
  feed(0xff);
  for (const nft::Value& v : key) {
    uint8_t buf[16];
    size_t n = v.encode(buf);
    feed(static_cast<uint8_t>(v.kind()));
    feed(static_cast<uint8_t>(n));
    for (size_t i = 0; i < n; ++i) feed(buf[i]);
  }
  return id;
}

bool ServiceKeyLess::operator()(std::string_view a, std::string_view b) const {
  size_t sa = a.find('/'), sb = b.find('/');
  std::string_view na = a.substr(0, sa), nb = b.substr(0, sb);
  if (na != nb) return na < nb;
  return a.substr(sa == std::string_view::npos ? a.size() : sa + 1) <
         b.substr(sb == std::string_view::npos ? b.size() : sb + 1);
}

TableSync::TableSync(rules::Config config)
    : config_(std::move(config)),
      family_(config_.family == IpFamily::V6 ? nft::Family::Ip6 : nft::Family::Ip),
      table_(rules::kTableName) {}

TableSync::~TableSync() = default;

const rules::ServiceRules* TableSync::serviceRules(const std::string& key) const {
  auto it = services_.find(key);
  return it == services_.end() ? nullptr : &it->second->rules;
}

std::map<std::string, std::pair<uint16_t, size_t>> TableSync::healthChecks() const {
  std::map<std::string, std::pair<uint16_t, size_t>> out;
  for (const auto& [key, st] : services_) {
    if (!st->healthCheckNodePort) continue;
    size_t local = 0;
    for (const auto& p : st->rules.ports) local = std::max(local, p.localReady);
    out[key] = {st->healthCheckNodePort, local};
  }
  return out;
}

Result<TablePlan> TableSync::planFull(const std::vector<rules::ServiceInput>& services, const rules::NodeInput& node,
                                      nft::Kernel& kernel) const {
  SyncTrace timer(2);
  TablePlan plan(family_);
  plan.full = true;
  auto builder = std::make_shared<const rules::RulesBuilder>(node, config_);
  plan.builder = builder;
  const rules::RuleParts shared = builder->shared();

  // Desired state, in buildRuleset()'s order (namespace/name).
  std::vector<const rules::ServiceInput*> order;
  order.reserve(services.size());
  for (const auto& s : services)
    if (s.service) order.push_back(&s);
  std::sort(order.begin(), order.end(), [](const rules::ServiceInput* a, const rules::ServiceInput* b) {
    return rules::lessByServiceKey(*a->service, *b->service);
  });
  // What the kernel has (an absent table has nothing).
  std::vector<nft::Chain> kchains;
  std::vector<nft::Set> ksets;
  if (auto c = kernel.listChains(family_, table_); c.ok())
    kchains = std::move(*c);
  else if (c.error().sysErrno() != ENOENT)
    return c.error().context(strCat("listing chains of ", nft::familyName(family_), " ", table_));
  if (auto ks = kernel.listSets(family_, table_); ks.ok())
    ksets = std::move(*ks);
  else if (ks.error().sysErrno() != ENOENT)
    return ks.error().context(strCat("listing sets of ", nft::familyName(family_), " ", table_));
  timer.mark("list kernel");
  std::unordered_map<std::string_view, const nft::Chain*> kChain;
  std::unordered_map<std::string_view, const nft::Set*> kSet;
  for (const auto& c : kchains) kChain.emplace(c.name, &c);
  for (const auto& k : ksets) kSet.emplace(k.name, &k);
  std::unordered_set<std::string> wantChains, wantSets;

  // The transaction is written as the Services are built, one Service at a time, so that no second copy of all
  // their elements ever exists: table, flush, shared objects, then per Service (in namespace/name order) its
  // chains, sets, elements and rules, then what the kernel has and nobody wants. Every object is added after
  // what it references (shared sets and chains first; a Service's vmap elements after its own chains).
  nft::Transaction& tx = plan.tx;
  tx.reserve(16 + shared.chains.size() + 2 * shared.sets.size() + shared.elements.size() + shared.rules.size() +
             8 * order.size() + kchains.size() + ksets.size());
  tx.add(nft::Table{family_, table_, std::string(rules::kTableComment)});
  tx.flush(nft::Table{family_, table_});  // every chain's rules: nothing below references a stale object any more
  // Objects whose definition changed cannot be re-added over the old one: delete (unreferenced once the table
  // is flushed: base chains are never referenced, sets only by rules) and add anew.
  auto addChain = [&](const nft::Chain& c) {
    if (auto k = kChain.find(c.name); k != kChain.end() && k->second->base != c.base)
      tx.remove(nft::Chain{.name = c.name});
    wantChains.insert(c.name);
    tx.add(c);
  };
  auto addSet = [&](const nft::Set& want) {
    if (auto k = kSet.find(want.name);
        k != kSet.end() && (!k->second->sameShape(want) || k->second->comment != want.comment))
      tx.remove(*k->second);  // the whole definition, so the text says "delete map" for a map
    wantSets.insert(want.name);
    tx.add(want);
  };
  for (const auto& c : shared.chains) addChain(c);
  for (const auto& st : shared.sets) addSet(st);
  // Dispatch maps are rebuilt whole; affinity sets are dynamic and keep their clients' entries.
  for (const auto& st : shared.sets)
    if (!(st.flags & nft::kSetDynamic)) tx.flush(nft::Set{.name = st.name});
  for (const auto& e : shared.elements) tx.add(e);
  for (const auto& r : shared.rules) tx.add(r);

  plan.services.reserve(order.size());
  std::unordered_map<ElementId, std::string, ElementIdHash> owners;
  owners.reserve(order.size() * 3);
  std::chrono::steady_clock::duration tBuild{0};
  for (const rules::ServiceInput* in : order) {
    auto tb = std::chrono::steady_clock::now();
    auto st = buildService(*builder, *in, family_);
    tBuild += std::chrono::steady_clock::now() - tb;
    if (!st) continue;
    std::string key = serviceKey(*in->service);
    // The first Service (in this order) claiming a map key owns it; see planPartial().
    auto& elems = st->rules.elements;
    size_t kept = 0;
    for (size_t i = 0; i < elems.size(); ++i) {
      auto [it, claimed] = owners.try_emplace(elementId(elems[i]), key);
      if (!claimed && it->second != key) {
        NN_LOG(Warning) << "Service " << key << ": " << elems[i].set << " element " << nft::keyToString(elems[i].key)
                        << " is already claimed by Service " << it->second << "; skipped";
        plan.losers.insert(key);
        continue;
      }
      if (kept != i) elems[kept] = std::move(elems[i]);
      ++kept;
    }
    elems.resize(kept);
    for (const auto& c : st->rules.chains) addChain(c);
    for (const auto& set : st->rules.sets) addSet(set);
    recordElements(*st);
    for (auto& e : elems) tx.add(std::move(e));
    release(elems);
    for (auto& r : st->rules.rules) tx.add(std::move(r));  // the applied state keeps only digests
    release(st->rules.rules);
    // A periodic resync mostly rebuilds what is applied already: keep the applied record instead of a second,
    // equal one (the old state lives until the commit succeeds, so this halves the resync's peak).
    if (auto old = services_.find(key); old != services_.end() && sameApplied(*old->second, *st)) {
      plan.services.emplace_back(std::move(key), std::const_pointer_cast<AppliedService>(old->second));
      continue;
    }
    plan.services.emplace_back(std::move(key), std::move(st));
  }
  if (timer.on())
    std::fprintf(stderr, "sync trace:   (of which build+digest %.3f ms; %zu owners, %zu ops)\n",
                 std::chrono::duration<double, std::milli>(tBuild).count(), owners.size(), tx.size());
  timer.mark("services");
  plan.fullOwners = std::move(owners);
  plan.servicesChanged = plan.services.size();

  // Unwanted chains and sets: delete those flushed by an earlier committed sync, flush the rest now (the table
  // flush emptied the chains) and delete them next time.
  for (const nft::Chain& k : kchains) {
    if (wantChains.contains(k.name)) continue;
    if (pendingChains_.contains(k.name))
      tx.remove(nft::Chain{.name = k.name});
    else
      plan.pendingChains.insert(k.name);
  }
  for (const nft::Set& k : ksets) {
    if (wantSets.contains(k.name)) continue;
    if (pendingSets_.contains(k.name)) {
      tx.remove(k);
    } else {
      tx.flush(nft::Set{.name = k.name});
      plan.pendingSets.insert(k.name);
    }
  }
  NN_TRY(tx.status());
  timer.mark("transaction");

  // Conntrack: only relative to a state we applied (the first sync after start has no "before").
  if (haveFull_) {
    std::unordered_set<std::string_view> seen;
    for (const auto& [key, st] : plan.services) {
      seen.insert(key);
      auto it = services_.find(key);
      const AppliedService* old = it == services_.end() ? nullptr : it->second.get();
      conntrackDiff(old, st.get(), config_.family, plan.conntrack);
    }
    for (const auto& [key, st] : services_)
      if (!seen.contains(key)) conntrackDiff(st.get(), nullptr, config_.family, plan.conntrack);
    dedupe(plan.conntrack);
  } else {
    // The first sync after start knows nothing of what happened before: every UDP flow to a service address
    // (or to a NodePort on a node address) whose reply source is not one of the current endpoints is stale.
    // That covers flows sent before any rules existed (routed, not DNATed: the reply comes from the service
    // IP itself), flows DNATed by an earlier run to endpoints that vanished while the proxy was down, and, for
    // a port without endpoints, every flow (its next datagram meets the reject rule). Flows to endpoints that
    // still exist are kept.
    std::vector<IpAddress> nodeIPs;
    for (const IpAddress& a : node.addresses)
      if (a.family() == config_.family) nodeIPs.push_back(a);
    for (const auto& [key, st] : plan.services)
      for (const auto& p : st->rules.ports) {
        if (p.protocol != L4Proto::UDP) continue;
        for (const IpAddress& ip : p.serviceIPs)
          plan.conntrack.push_back(
              UdpFlowFilter{.origDst = ip, .origDstPort = p.port, .family = config_.family, .replySrcNotIn = p.endpoints});
        if (p.nodePort)
          for (const IpAddress& ip : nodeIPs)
            plan.conntrack.push_back(UdpFlowFilter{
                .origDst = ip, .origDstPort = p.nodePort, .family = config_.family, .replySrcNotIn = p.endpoints});
      }
    dedupe(plan.conntrack);
  }
  timer.mark("conntrack");
  return plan;
}

Result<TablePlan> TableSync::planPartial(const std::vector<std::string>& touched, const ServiceLookup& lookup) const {
  if (!haveFull_ || !builder_) return Error("partial sync before the first full sync");
  TablePlan plan(family_);

  // 1. Build the touched Services, keeping element ownership as a full sync would give it (first in
  //    namespace/name order wins); evicted owners and waiting losers join the work list.
  std::map<std::string, std::shared_ptr<AppliedService>, ServiceKeyLess> built;
  std::unordered_map<ElementId, std::optional<std::string>, ElementIdHash> overlay;  // ownership changes made here
  auto ownerOf = [&](const ElementId& id) -> const std::string* {
    if (auto it = overlay.find(id); it != overlay.end()) return it->second ? &*it->second : nullptr;
    if (auto it = owners_.find(id); it != owners_.end()) return &it->second;
    return nullptr;
  };
  auto current = [&](const std::string& key) -> const AppliedService* {
    if (auto it = built.find(key); it != built.end()) return it->second.get();
    if (auto it = services_.find(key); it != services_.end()) return it->second.get();
    return nullptr;
  };
  std::set<std::string, ServiceKeyLess> work(touched.begin(), touched.end());
  std::set<std::string> losers = losers_;
  uint64_t epoch = 0;                              // bumps when a key is released for good
  std::unordered_map<std::string, uint64_t> seenAt;  // the epoch a Service was last planned at
  for (size_t guard = 0; !work.empty(); ++guard) {
    if (guard > 4 * (touched.size() + losers_.size() + 16) + 64) return Error("element ownership does not settle");
    std::string key = *work.begin();
    work.erase(work.begin());
    std::vector<ElementId> released;
    if (const AppliedService* cur = current(key))
      forEachElementKey(*cur, [&](std::string_view set, const nft::Key& k) {
        ElementId id = elementIdOf(set, k);
        if (const std::string* o = ownerOf(id); o && *o == key) {
          overlay[id] = std::nullopt;
          released.push_back(id);
        }
      });
    std::shared_ptr<AppliedService> st;
    if (auto in = lookup(key); in && in->service) st = buildService(*builder_, *in, family_);
    losers.erase(key);
    if (st) {
      auto& elems = st->rules.elements;
      size_t kept = 0;
      for (size_t i = 0; i < elems.size(); ++i) {
        ElementId id = elementId(elems[i]);
        const std::string* o = ownerOf(id);
        if (o && *o != key) {
          if (!ServiceKeyLess()(key, *o)) {  // an earlier Service owns it
            NN_LOG(Warning) << "Service " << key << ": " << elems[i].set << " element "
                            << nft::keyToString(elems[i].key) << " is already claimed by Service " << *o
                            << "; skipped";
            losers.insert(key);
            continue;
          }
          work.insert(*o);  // we sort first: take it over; the former owner is planned again without it
        }
        overlay[id] = key;
        if (kept != i) elems[kept] = std::move(elems[i]);
        ++kept;
      }
      elems.resize(kept);
    }
    for (const ElementId& id : released)
      if (const std::string* o = ownerOf(id); !o) {
        ++epoch;
        break;
      }
    built[key] = std::move(st);
    seenAt[key] = epoch;
    if (work.empty())
      for (const std::string& l : losers)
        if (auto it = seenAt.find(l); it == seenAt.end() || it->second < epoch) work.insert(l);
  }
  plan.losers = std::move(losers);
  for (auto& [id, owner] : overlay) plan.owners.emplace_back(id, std::move(owner));

  // 2. Diff each planned Service against what was applied (phases: see table_sync.h).
  std::vector<nft::Element> delElems, addElems;
  std::vector<nft::Chain> addChains, flushChains;
  std::vector<nft::Set> addSets, recreateSets, flushSets;
  std::vector<const nft::Rule*> addRules;
  std::set<std::string> revivedChains, revivedSets;
  plan.services.reserve(built.size());

  for (auto& [key, curMutable] : built) {
    std::shared_ptr<AppliedService> cur = std::move(curMutable);
    auto it = services_.find(key);
    const AppliedService* old = it == services_.end() ? nullptr : it->second.get();
    if (!old && !cur) continue;
    const rules::ServiceRules* o = old ? &old->rules : nullptr;
    const rules::ServiceRules* n = cur ? &cur->rules : nullptr;
    bool changed = false;

    // Affinity sets.
    auto oldSets = indexSets(o), newSets = indexSets(n);
    bool refillAll = false;
    if (n)
      for (const nft::Set& s : n->sets) {
        auto os = oldSets.find(s.name);
        if (os == oldSets.end()) {
          changed = true;
          if (pendingSets_.contains(s.name)) {
            revivedSets.insert(s.name);
            recreateSets.push_back(s);  // unreferenced leftover of unknown shape: replace it
          } else {
            addSets.push_back(s);
          }
        } else if (!os->second->sameShape(s)) {
          changed = refillAll = true;  // its rules must go before the set can be replaced
          recreateSets.push_back(s);
        }
      }
    if (o)
      for (const nft::Set& s : o->sets)
        if (!newSets.contains(s.name)) {
          changed = true;
          flushSets.push_back(nft::Set{.name = s.name});
          plan.pendingSets.insert(s.name);
        }

    // Chains and their rules.
    auto oldText = digestMap(old), newText = digestMap(cur.get());
    std::unordered_set<std::string_view> refill;
    if (n)
      for (const nft::Chain& c : n->chains) {
        auto ot = oldText.find(c.name);
        if (ot == oldText.end()) {
          changed = true;
          addChains.push_back(c);  // also right for a revived pending chain: it exists, flushed
          if (pendingChains_.contains(c.name)) revivedChains.insert(c.name);
          refill.insert(c.name);
        } else if (refillAll || ot->second != newText[c.name]) {
          changed = true;
          flushChains.push_back(nft::Chain{.name = c.name});
          refill.insert(c.name);
        }
      }
    if (o)
      for (const nft::Chain& c : o->chains)
        if (!newText.contains(c.name)) {
          changed = true;
          flushChains.push_back(nft::Chain{.name = c.name});
          plan.pendingChains.insert(c.name);
        }
    if (n)
      for (const nft::Rule& r : n->rules)
        if (refill.contains(r.chain)) addRules.push_back(&r);

    // Map and set elements.
    ElementIndex oldElems = indexElements(old);
    if (cur) {
      recordElements(*cur);
      for (size_t i = 0; i < cur->rules.elements.size(); ++i) {
        nft::Element& e = cur->rules.elements[i];
        auto oe = oldElems.find({std::string_view(e.set), e.key});
        if (oe != oldElems.end()) {
          bool same = oe->second->digest == cur->elements[i].digest;
          oldElems.erase(oe);
          if (same) continue;
          // A changed element cannot be overwritten (the kernel answers EBUSY): delete, then add.
          delElems.push_back(nft::Element{.set = e.set, .key = e.key});
        }
        changed = true;
        addElems.push_back(std::move(e));
      }
      release(cur->rules.elements);
    }
    for (const auto& [k, e] : oldElems) {
      changed = true;
      delElems.push_back(nft::Element{.set = *e->set, .key = e->key});
    }

    conntrackDiff(old, cur.get(), config_.family, plan.conntrack);
    if (changed) ++plan.servicesChanged;
    plan.services.emplace_back(key, std::move(cur));
  }

  nft::Transaction& tx = plan.tx;
  tx.reserve(pendingChains_.size() + pendingSets_.size() + delElems.size() + addChains.size() + addSets.size() +
             flushChains.size() + 2 * recreateSets.size() + addRules.size() + addElems.size() + flushSets.size());
  // 1. What earlier syncs flushed: nothing references it any more.
  for (const std::string& c : pendingChains_)
    if (!revivedChains.contains(c)) tx.remove(nft::Chain{.name = c});
  for (const std::string& s : pendingSets_)
    if (!revivedSets.contains(s)) tx.remove(nft::Set{.name = s});
  // 2.
  for (auto& e : delElems) tx.remove(std::move(e));
  // 3.
  for (auto& c : addChains) tx.add(std::move(c));
  for (auto& s : addSets) tx.add(std::move(s));
  // 4.
  for (auto& c : flushChains) tx.flush(std::move(c));
  for (const nft::Set& s : recreateSets) {
    tx.remove(nft::Set{.name = s.name});
    tx.add(s);
  }
  // 5.
  for (const nft::Rule* r : addRules) tx.add(*r);
  for (auto& [key, st] : plan.services)
    if (st) release(st->rules.rules);  // copied into the transaction; the applied state keeps digests
  // 6.
  for (auto& e : addElems) tx.add(std::move(e));
  // 7.
  for (auto& s : flushSets) tx.flush(std::move(s));
  NN_TRY(tx.status());
  dedupe(plan.conntrack);
  return plan;
}

void TableSync::applied(TablePlan&& plan) {
  if (plan.full) {
    services_.clear();
    services_.reserve(plan.services.size());
    builder_ = std::move(plan.builder);
    haveFull_ = true;
  }
  for (auto& [key, st] : plan.services) {
    if (st)
      services_[key] = std::move(st);
    else
      services_.erase(key);
  }
  pendingChains_ = std::move(plan.pendingChains);
  pendingSets_ = std::move(plan.pendingSets);
  if (plan.full) owners_ = std::move(plan.fullOwners);
  for (auto& [id, owner] : plan.owners) {
    if (owner)
      owners_[id] = std::move(*owner);
    else
      owners_.erase(id);
  }
  losers_ = std::move(plan.losers);
}

}  // namespace nodenet::proxy::sync
