#include "netlink/fake/fake_nft.h"

#include <cerrno>
#include <cstring>

namespace nodenet::nft {
namespace {

using TableState = FakeNft::TableState;

Error fail(int err, const std::string& what) { return Error::fromErrno(err, what); }

/// Chains a rule jumps to and sets it reads.
void references(const Rule& r, std::vector<std::string>* chains, std::vector<std::string>* sets) {
  for (const Statement& s : r.statements) {
    if (auto* v = std::get_if<Verdict>(&s); v && v->hasChain()) chains->push_back(v->chain);
    if (auto* n = std::get_if<NumgenVmap>(&s))
      for (const Verdict& v : n->targets)
        if (v.hasChain()) chains->push_back(v.chain);
    if (auto* l = std::get_if<Lookup>(&s)) sets->push_back(l->set);
    if (auto* l = std::get_if<VmapLookup>(&s)) sets->push_back(l->map);
    if (auto* l = std::get_if<SetUpdate>(&s)) sets->push_back(l->set);
    if (auto* l = std::get_if<NatMap>(&s)) sets->push_back(l->map);
  }
}

bool chainReferenced(const TableState& t, const std::string& chain) {
  for (const auto& [name, c] : t.chains) {
    if (name == chain) continue;
    for (const Rule& r : c.rules) {
      std::vector<std::string> chains, sets;
      references(r, &chains, &sets);
      for (const std::string& x : chains)
        if (x == chain) return true;
    }
  }
  for (const auto& [name, s] : t.sets)
    for (const auto& [key, e] : s.elements)
      if (e.verdict && e.verdict->hasChain() && e.verdict->chain == chain) return true;
  return false;
}

bool setReferenced(const TableState& t, const std::string& set) {
  for (const auto& [name, c] : t.chains)
    for (const Rule& r : c.rules) {
      std::vector<std::string> chains, sets;
      references(r, &chains, &sets);
      for (const std::string& x : sets)
        if (x == set) return true;
    }
  return false;
}

/// Errno-style check that an element fits its set, as the kernel checks key/data lengths.
Status checkElementFits(const Set& s, const Element& e, bool keyOnly) {
  bool ok = e.key.size() == s.key.size();
  for (size_t i = 0; ok && i < e.key.size(); ++i) ok = e.key[i].dataType() == s.key[i];
  if (!ok) return fail(EINVAL, "key does not match the set's type");
  if (keyOnly) return okStatus();
  if (!s.dataConcat.empty()) {
    bool fits = e.dataConcat.size() == s.dataConcat.size();
    for (size_t i = 0; fits && i < e.dataConcat.size(); ++i) fits = e.dataConcat[i].dataType() == s.dataConcat[i];
    if (!fits) return fail(EINVAL, "data missing or of the wrong type");
  } else if (!e.dataConcat.empty()) {
    return fail(EINVAL, "set elements have no data");
  }
  if (s.data == DataType::Verdict && !e.verdict) return fail(EINVAL, "verdict missing");
  if (s.data && s.data != DataType::Verdict && (!e.value || e.value->dataType() != *s.data))
    return fail(EINVAL, "value missing or of the wrong type");
  if (!s.data && (e.verdict || e.value)) return fail(EINVAL, "set elements have no data");
  if (e.timeoutSec && !(s.flags & kSetTimeout)) return fail(EINVAL, "timeout in a set without flags timeout");
  return okStatus();
}

class Applier {
 public:
  Applier(std::map<FakeNft::TableKey, TableState>& tables, const Transaction& tx)
      : tables_(tables), tx_(tx), key_{tx.family(), tx.table()} {}

  Status apply(const Operation& op) {
    return std::visit([&](const auto& obj) { return apply(op.verb, obj); }, op.object);
  }

 private:
  TableState* table() {
    auto it = tables_.find(key_);
    return it == tables_.end() ? nullptr : &it->second;
  }

  Status apply(Verb verb, const Table& t) {
    TableState* ts = table();
    switch (verb) {
      case Verb::Add:
      case Verb::Create:
        if (ts) return verb == Verb::Create ? fail(EEXIST, "table exists") : okStatus();
        tables_[key_].table = t;
        return okStatus();
      case Verb::Delete:
        if (!ts) return fail(ENOENT, "no such table");
        tables_.erase(key_);
        return okStatus();
      case Verb::Flush:
        if (!ts) return fail(ENOENT, "no such table");
        for (auto& [n, c] : ts->chains) c.rules.clear();
        return okStatus();
      default: return fail(EINVAL, "unsupported");
    }
  }

  Status apply(Verb verb, const Chain& c) {
    TableState* ts = table();
    if (!ts) return fail(ENOENT, "no such table");
    auto it = ts->chains.find(c.name);
    switch (verb) {
      case Verb::Add:
      case Verb::Create:
        if (it != ts->chains.end()) {
          if (verb == Verb::Create) return fail(EEXIST, "chain exists");
          const auto& old = it->second.chain.base;
          if (old.has_value() != c.base.has_value() ||
              (old && (old->type != c.base->type || old->hook != c.base->hook || old->priority != c.base->priority)))
            return fail(EEXIST, "chain exists with another hook");
          if (c.base) it->second.chain.base->policy = c.base->policy;
          return okStatus();
        }
        ts->chains[c.name].chain = c;
        return okStatus();
      case Verb::Delete:
        if (it == ts->chains.end()) return fail(ENOENT, "no such chain");
        if (chainReferenced(*ts, c.name)) return fail(EBUSY, "chain is referenced");
        ts->chains.erase(it);
        return okStatus();
      case Verb::Flush:
        if (it == ts->chains.end()) return fail(ENOENT, "no such chain");
        it->second.rules.clear();
        return okStatus();
      default: return fail(EINVAL, "unsupported");
    }
  }

  Status apply(Verb verb, const Set& s) {
    TableState* ts = table();
    if (!ts) return fail(ENOENT, "no such table");
    auto it = ts->sets.find(s.name);
    switch (verb) {
      case Verb::Add:
      case Verb::Create:
        if (it != ts->sets.end()) {
          if (verb == Verb::Create) return fail(EEXIST, "set exists");
          if (!it->second.set.sameShape(s)) return fail(EEXIST, "set exists with another type");
          return okStatus();
        }
        ts->sets[s.name].set = s;
        return okStatus();
      case Verb::Delete:
        if (it == ts->sets.end()) return fail(ENOENT, "no such set");
        if (setReferenced(*ts, s.name)) return fail(EBUSY, "set is referenced");
        ts->sets.erase(it);
        return okStatus();
      case Verb::Flush:
        if (it == ts->sets.end()) return fail(ENOENT, "no such set");
        it->second.elements.clear();
        return okStatus();
      default: return fail(EINVAL, "unsupported");
    }
  }

  Status apply(Verb verb, const Element& e) {
    TableState* ts = table();
    if (!ts) return fail(ENOENT, "no such table");
    auto sit = ts->sets.find(e.set);
    if (sit == ts->sets.end()) return fail(ENOENT, "no such set");
    auto& elems = sit->second.elements;
    NN_TRY(checkElementFits(sit->second.set, e, verb == Verb::Delete));
    auto it = elems.find(e.key);
    if (verb == Verb::Delete) {
      if (it == elems.end()) return fail(ENOENT, "no such element");
      elems.erase(it);
      return okStatus();
    }
    if (e.verdict && e.verdict->hasChain() && !ts->chains.count(e.verdict->chain))
      return fail(ENOENT, "no such chain " + e.verdict->chain);
    if (it != elems.end()) {
      if (verb == Verb::Create) return fail(EEXIST, "element exists");
      if (it->second.verdict != e.verdict || it->second.value != e.value || !(it->second.dataConcat == e.dataConcat))
        return fail(EBUSY, "element exists with other data");
      return okStatus();
    }
    elems.emplace(e.key, e);
    return okStatus();
  }

  Status apply(Verb verb, const Rule& r) {
    TableState* ts = table();
    if (!ts) return fail(ENOENT, "no such table");
    auto cit = ts->chains.find(r.chain);
    if (cit == ts->chains.end()) return fail(ENOENT, "no such chain");
    auto& rules = cit->second.rules;
    auto byHandle = [&]() {
      for (auto it = rules.begin(); it != rules.end(); ++it)
        if (it->handle == r.handle) return it;
      return rules.end();
    };
    if (verb == Verb::Delete) {
      auto it = byHandle();
      if (it == rules.end()) return fail(ENOENT, "no such rule");
      rules.erase(it);
      return okStatus();
    }
    std::vector<std::string> chains, sets;
    references(r, &chains, &sets);
    for (const std::string& c : chains)
      if (!ts->chains.count(c)) return fail(ENOENT, "no such chain " + c);
    for (const std::string& s : sets)
      if (!ts->sets.count(s)) return fail(ENOENT, "no such set " + s);
    Rule stored = r;
    stored.handle = ts->nextHandle++;
    if (verb == Verb::Replace) {
      auto it = byHandle();
      if (it == rules.end()) return fail(ENOENT, "no such rule");
      *it = std::move(stored);
    } else if (verb == Verb::Insert) {
      rules.insert(rules.begin(), std::move(stored));
    } else {
      rules.push_back(std::move(stored));
    }
    return okStatus();
  }

  std::map<FakeNft::TableKey, TableState>& tables_;
  const Transaction& tx_;
  FakeNft::TableKey key_;
};

std::string setDump(const FakeNft::SetState& s) {
  const Set& set = s.set;
  std::string out = strCat("\t", set.kindName(), " ", set.name, " {\n");
  {
    std::string decl = setBodyToString(Set{.name = "", .key = set.key, .data = set.data, .dataConcat = set.dataConcat,
                                           .typeOf = set.typeOf});
    out += "\t\t" + decl.substr(0, decl.find(';')) + "\n";
  }
  if (set.flags) {
    std::string body = setBodyToString(Set{.name = "", .key = set.key, .flags = set.flags});
    auto p = body.find("flags ");
    out += "\t\t" + body.substr(p, body.find(';', p) - p) + "\n";
  }
  if (set.timeoutSec) out += "\t\ttimeout " + durationToString(uint64_t(*set.timeoutSec) * 1000) + "\n";
  if (set.comment) out += "\t\tcomment " + nftQuote(*set.comment) + "\n";
  if (!s.elements.empty()) {
    out += "\t\telements = {";
    bool first = true;
    for (const auto& [key, e] : s.elements) {
      out += first ? " " : ",\n\t\t\t     ";
      out += elementToString(e);
      first = false;
    }
    out += " }\n";
  }
  return out + "\t}\n";
}

}  // namespace

Status FakeNft::commit(const Transaction& tx) {
  if (!tx.ok()) return Error("nft commit: refusing an invalid transaction: " + tx.status().error().message());
  if (injected_) {
    Error e = std::move(*injected_);
    injected_.reset();
    return e;
  }
  auto copy = tables_;
  Applier applier(copy, tx);
  for (const Operation& op : tx.operations()) {
    Status st = applier.apply(op);
    if (!st.ok()) {
      int err = st.error().sysErrno();
      return Error(strCat("nft commit failed, nothing applied: ", verbName(op.verb), " ", tx.describe(op), ": ",
                          strerror(err), " (errno ", err, ") (fake: ", st.error().message(), ")"),
                   err);
    }
  }
  tables_ = std::move(copy);
  ++commits_;
  return okStatus();
}

const FakeNft::TableState* FakeNft::table(Family family, const std::string& name) const {
  auto it = tables_.find({family, name});
  return it == tables_.end() ? nullptr : &it->second;
}

Result<bool> FakeNft::hasTable(Family family, const std::string& table) { return this->table(family, table) != nullptr; }

Result<std::vector<Chain>> FakeNft::listChains(Family family, const std::string& name) {
  const TableState* t = table(family, name);
  if (!t) return Error::fromErrno(ENOENT, "list chains of table " + name);
  std::vector<Chain> out;
  for (const auto& [n, c] : t->chains) out.push_back(c.chain);
  return out;
}

Result<std::vector<Set>> FakeNft::listSets(Family family, const std::string& name) {
  const TableState* t = table(family, name);
  if (!t) return Error::fromErrno(ENOENT, "list sets of table " + name);
  std::vector<Set> out;
  for (const auto& [n, s] : t->sets) out.push_back(s.set);
  return out;
}

Result<std::vector<Element>> FakeNft::listElements(Family family, const std::string& name, const std::string& set) {
  const TableState* t = table(family, name);
  if (!t) return Error::fromErrno(ENOENT, "list elements: no table " + name);
  auto it = t->sets.find(set);
  if (it == t->sets.end()) return Error::fromErrno(ENOENT, "list elements: no set " + set);
  std::vector<Element> out;
  for (const auto& [k, e] : it->second.elements) out.push_back(e);
  return out;
}

Result<std::vector<Rule>> FakeNft::listRules(Family family, const std::string& name, const std::string& chain) {
  const TableState* t = table(family, name);
  if (!t) return Error::fromErrno(ENOENT, "list rules: no table " + name);
  auto it = t->chains.find(chain);
  if (it == t->chains.end()) return Error::fromErrno(ENOENT, "list rules: no chain " + chain);
  return it->second.rules;
}

std::string FakeNft::dumpTable(Family family, const std::string& name) const {
  const TableState* t = table(family, name);
  if (!t) return "";
  std::string out = strCat("table ", familyName(family), " ", name, " {\n");
  if (t->table.comment) out += "\tcomment " + nftQuote(*t->table.comment) + "\n";
  for (const auto& [n, s] : t->sets) out += setDump(s);
  for (const auto& [n, c] : t->chains) {
    out += "\tchain " + n + " {\n";
    if (c.chain.comment) out += "\t\tcomment " + nftQuote(*c.chain.comment) + "\n";
    if (c.chain.base) out += "\t\t" + baseChainToString(*c.chain.base) + "\n";
    for (const Rule& r : c.rules) out += "\t\t" + ruleBodyToString(r, family) + "\n";
    out += "\t}\n";
  }
  return out + "}\n";
}

std::string FakeNft::dump() const {
  std::string out;
  for (const auto& [key, t] : tables_) out += dumpTable(key.first, key.second);
  return out;
}

}  // namespace nodenet::nft
