// A Transaction: an ordered list of operations on one table that the kernel applies as one batch, whole or
// not at all (STYLE.md habit 1).
//
// Each operation is validated when it is added; the first invalid one poisons the transaction (habit 2):
// later operations are ignored, status() returns the error and Kernel::commit() refuses to send it. So a
// builder can chain dozens of calls and check once.
//
//   nft::Transaction tx(nft::Family::Inet, "nodenet-cni");
//   tx.add(nft::Table{nft::Family::Inet, "nodenet-cni"});
//   tx.add(nft::Element{.set = "pods", .key = {nft::Value::ip(podIp)}, .comment = "cid/eth0"});
//   NN_TRY(tx.status());
//   NN_TRY(kernel.commit(tx));
#pragma once

#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/result.h"
#include "netlink/nft/model/objects.h"

namespace nodenet::nft {

/// add: create or keep (no error when it exists); create: EEXIST when it exists; insert: prepend a rule;
/// replace: a rule by handle; remove: ENOENT when missing; flush: empty a table's chains, a chain or a set.
enum class Verb : uint8_t { Add, Create, Insert, Replace, Delete, Flush };

inline const char* verbName(Verb v) {
  static const char* kNames[] = {"add", "create", "insert", "replace", "delete", "flush"};
  return kNames[static_cast<size_t>(v)];
}

using Object = std::variant<Table, Chain, Set, Element, Rule>;

struct Operation {
  Verb verb;
  Object object;
};

/// Longest names and comments the kernel and nft accept (NFT_NAME_MAXLEN 256 and NFTNL_UDATA_COMMENT_MAXLEN
/// 128, both counting the terminating NUL).
constexpr size_t kMaxNameLen = 255;
constexpr size_t kMaxCommentLen = 127;

class Transaction {
 public:
  /// All operations act on the table `family name`.
  Transaction(Family family, std::string table) : family_(family), table_(std::move(table)) {
    if (table_.empty() || table_.size() > kMaxNameLen) status_ = Error("nft transaction: invalid table name");
  }

  Family family() const { return family_; }
  const std::string& table() const { return table_; }

  Transaction& add(Table t) { return push(Verb::Add, std::move(t)); }
  Transaction& add(Chain c) { return push(Verb::Add, std::move(c)); }
  Transaction& add(Set s) { return push(Verb::Add, std::move(s)); }
  Transaction& add(Element e) { return push(Verb::Add, std::move(e)); }
  /// Appends the rule to its chain.
  Transaction& add(Rule r) { return push(Verb::Add, std::move(r)); }

  Transaction& create(Table t) { return push(Verb::Create, std::move(t)); }
  Transaction& create(Chain c) { return push(Verb::Create, std::move(c)); }
  Transaction& create(Set s) { return push(Verb::Create, std::move(s)); }
  Transaction& create(Element e) { return push(Verb::Create, std::move(e)); }

  /// Prepends the rule to its chain.
  Transaction& insert(Rule r) { return push(Verb::Insert, std::move(r)); }
  /// Replaces the rule with r.handle in place.
  Transaction& replace(Rule r) { return push(Verb::Replace, std::move(r)); }

  /// Deletes a table (with everything in it), chain (its rules too; EBUSY while referenced), set, element
  /// (by key) or rule (by handle).
  Transaction& remove(Table t) { return push(Verb::Delete, std::move(t)); }
  Transaction& remove(Chain c) { return push(Verb::Delete, std::move(c)); }
  Transaction& remove(Set s) { return push(Verb::Delete, std::move(s)); }
  Transaction& remove(Element e) { return push(Verb::Delete, std::move(e)); }
  Transaction& remove(Rule r) { return push(Verb::Delete, std::move(r)); }

  /// Flushes the rules of every chain in the table, the rules of one chain, or the elements of a set.
  Transaction& flush(Table t) { return push(Verb::Flush, std::move(t)); }
  Transaction& flush(Chain c) { return push(Verb::Flush, std::move(c)); }
  Transaction& flush(Set s) { return push(Verb::Flush, std::move(s)); }

  /// OK, or the first invalid operation's error.
  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  const std::vector<Operation>& operations() const { return ops_; }
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  void reserve(size_t n) { ops_.reserve(n); }

  /// True when `name` was added in this transaction as a map (used for error wording).
  bool isMapForTest(const std::string& name) const {
    auto it = sets_.find(name);
    return it != sets_.end() && it->second.isMap();
  }

  /// Names the object of an operation: "table inet nodenet-cni", "chain postrouting", "map service-ips",
  /// "element 172.30.0.41 . tcp . 80 in map service-ips", "rule in chain x: ip saddr @pods masquerade".
  std::string describe(const Operation& op) const {
    struct V {
      const Transaction& tx;
      std::string operator()(const Table&) const {
        return strCat("table ", familyName(tx.family_), " ", tx.table_);
      }
      std::string operator()(const Chain& c) const { return "chain " + c.name; }
      std::string operator()(const Set& s) const { return strCat(s.kindName(), " ", s.name); }
      std::string operator()(const Element& e) const {
        bool isMap = e.verdict || e.value || !e.dataConcat.empty() || tx.isMapForTest(e.set);
        return strCat("element ", keyToString(e.key), " in ", isMap ? "map " : "set ", e.set);
      }
      std::string operator()(const Rule& r) const {
        std::string s = "rule";
        if (r.handle) s += strCat(" handle ", *r.handle);
        s += " in chain " + r.chain;
        std::string body = ruleBodyToString(r, tx.family_);
        if (!body.empty()) s += ": " + body;
        return s;
      }
    };
    return std::visit(V{*this}, op.object);
  }

  /// The operation as an nft command line (input syntax for `nft -f`).
  std::string operationToString(const Operation& op) const {
    const std::string where = strCat(familyName(family_), " ", table_);
    struct V {
      const Transaction& tx;
      Verb verb;
      const std::string& where;
      std::string operator()(const Table& t) const {
        std::string s = strCat(verbName(verb), " table ", where);
        if (t.comment && (verb == Verb::Add || verb == Verb::Create)) s += " { comment " + nftQuote(*t.comment) + "; }";
        return s;
      }
      std::string operator()(const Chain& c) const {
        std::string s = strCat(verbName(verb), " chain ", where, " ", c.name);
        if (verb != Verb::Add && verb != Verb::Create) return s;
        std::string body;
        if (c.base) body += " " + baseChainToString(*c.base);
        if (c.comment) body += " comment " + nftQuote(*c.comment) + ";";
        if (!body.empty()) s += " {" + body + " }";
        return s;
      }
      std::string operator()(const Set& st) const {
        std::string s = strCat(verbName(verb), " ", st.kindName(), " ", where, " ", st.name);
        if (verb == Verb::Add || verb == Verb::Create) s += " { " + setBodyToString(st) + " }";
        return s;
      }
      std::string operator()(const Element& e) const {
        if (verb == Verb::Delete) return strCat("delete element ", where, " ", e.set, " { ", keyToString(e.key), " }");
        return strCat(verbName(verb), " element ", where, " ", e.set, " { ", elementToString(e), " }");
      }
      std::string operator()(const Rule& r) const {
        std::string s = strCat(verbName(verb), " rule ", where, " ", r.chain);
        if (r.handle && (verb == Verb::Replace || verb == Verb::Delete)) s += strCat(" handle ", *r.handle);
        if (verb != Verb::Delete) s += " " + ruleBodyToString(r, tx.family_);
        return s;
      }
    };
    return std::visit(V{*this, op.verb, where}, op.object);
  }

  /// The whole transaction as an nft script, one command per line (for --v=9 logs, golden tests, nft -f).
  std::string toString() const {
    std::string s;
    for (const Operation& op : ops_) s += operationToString(op) + "\n";
    return s;
  }

 private:
  template <typename T>
  Transaction& push(Verb verb, T&& obj) {
    if (!status_.ok()) return *this;
    Operation op{verb, Object(std::forward<T>(obj))};
    Status st = validate(op);
    if (!st.ok()) {
      status_ = Error(strCat("invalid nft operation #", ops_.size(), " (", verbName(verb), " ", describe(op),
                             "): ", st.error().message()));
      return *this;
    }
    if (const Set* s = std::get_if<Set>(&op.object); s && (verb == Verb::Add || verb == Verb::Create))
      sets_[s->name] = *s;
    ops_.push_back(std::move(op));
    return *this;
  }

  static Status checkName(const std::string& what, const std::string& name) {
    if (name.empty()) return Error(what + " name is empty");
    if (name.size() > kMaxNameLen) return Error(strCat(what, " name is longer than ", kMaxNameLen, " bytes"));
    for (char c : name)
      if (c == '"' || c == ' ' || c == '\t' || c == '\n' || c == '{' || c == '}' || c == ';' || c == '@')
        return Error(strCat(what, " name \"", name, "\" contains '", c, "'"));
    return okStatus();
  }
  static Status checkComment(const std::optional<std::string>& c) {
    if (!c) return okStatus();
    if (c->size() > kMaxCommentLen) return Error(strCat("comment is longer than ", kMaxCommentLen, " bytes"));
    if (c->find_first_of("\"\n") != std::string::npos) return Error("comment contains '\"' or a newline");
    return okStatus();
  }

  Status checkFamilyField(Field f) const {
    if (family_ == Family::Ip && fieldIsV6(f)) return Error(strCat(fieldInfo(f).text, " in an ip table"));
    if (family_ == Family::Ip6 && fieldIsV4(f)) return Error(strCat(fieldInfo(f).text, " in an ip6 table"));
    if (f == Field::EtherSaddr && family_ != Family::Bridge)
      return Error(strCat(fieldInfo(f).text, " outside a bridge table"));
    if (family_ == Family::Bridge && (fieldIsV4(f) || fieldIsV6(f)))
      return Error(strCat(fieldInfo(f).text, " in a bridge table (no network-header dependency is generated)"));
    return okStatus();
  }
  Status checkConcat(const Concat& c) const {
    if (c.empty()) return Error("empty key");
    if (c.overflowed()) return Error(strCat("key has more than ", Concat::capacity(), " parts"));
    for (Field f : c) NN_TRY(checkFamilyField(f));
    return okStatus();
  }
  /// The key fields of a rule must produce the set's key type when the set is known to this transaction.
  Status checkConcatAgainstSet(const Concat& c, const std::string& set, bool wantMap) const {
    NN_TRY(checkName("set", set));
    auto it = sets_.find(set);
    if (it == sets_.end()) return okStatus();
    const Set& s = it->second;
    if (wantMap && s.data != DataType::Verdict) return Error(strCat(s.kindName(), " ", set, " is not a verdict map"));
    if (!wantMap && s.isMap()) return Error(strCat("map ", set, " used as a set"));
    if (c.size() != s.key.size()) return Error(strCat("key ", concatToString(c), " does not match ", keyTypeToString(s.key)));
    for (size_t i = 0; i < c.size(); ++i)
      if (fieldInfo(c[i]).type != s.key[i])
        return Error(strCat("key ", concatToString(c), " does not match ", keyTypeToString(s.key)));
    return okStatus();
  }
  /// The fields whose typeof description the encoder knows (netlink/nft/encode.cc).
  static Status checkTypeofField(Field f) {
    switch (f) {
      case Field::IpSaddr: case Field::IpDaddr: case Field::Ip6Saddr: case Field::Ip6Daddr:
      case Field::ThSport: case Field::ThDport: case Field::TcpDport: case Field::MetaL4proto: case Field::MetaMark:
      case Field::CtOriginalIpSaddr: case Field::CtOriginalIpDaddr: case Field::CtOriginalIp6Saddr:
      case Field::CtOriginalIp6Daddr:
        return okStatus();
      default: return Error(strCat(fieldInfo(f).text, " is not supported in typeof"));
    }
  }
  static Status checkVerdict(const Verdict& v) {
    if (v.hasChain()) return checkName("target chain", v.chain);
    if (!v.chain.empty()) return Error("a chain name is only allowed with jump and goto");
    return okStatus();
  }

  Status checkStatement(const Statement& s) const {
    struct V {
      const Transaction& tx;
      Status operator()(const Match& m) const {
        NN_TRY(tx.checkFamilyField(m.field));
        if (!m.value.valid()) return Error("invalid value");
        const FieldInfo& fi = fieldInfo(m.field);
        bool ok;
        switch (m.field) {
          case Field::CtState: ok = m.value.kind() == Value::Kind::CtState; break;
          case Field::FibDaddrType:
          case Field::FibSaddrType: ok = m.value.kind() == Value::Kind::FibType; break;
          case Field::MetaNfproto: ok = m.value.kind() == Value::Kind::Nfproto; break;
          default: ok = m.value.dataType() == fi.type && m.value.kind() != Value::Kind::CtState &&
                        m.value.kind() != Value::Kind::FibType && m.value.kind() != Value::Kind::Nfproto;
        }
        if (!ok) return Error(strCat("value ", m.value.toString(), " does not fit ", fi.text));
        if (m.mask && !(fi.type == DataType::Mark && fi.len == 4))
          return Error(strCat("a mask is only supported on mark fields, not ", fi.text));
        if (m.mask && m.value.isPrefix()) return Error("mask and prefix together");
        return okStatus();
      }
      Status operator()(const Lookup& l) const {
        NN_TRY(tx.checkConcat(l.key));
        return tx.checkConcatAgainstSet(l.key, l.set, false);
      }
      Status operator()(const VmapLookup& v) const {
        NN_TRY(tx.checkConcat(v.key));
        return tx.checkConcatAgainstSet(v.key, v.map, true);
      }
      Status operator()(const NumgenVmap& n) const {
        if (n.targets.empty()) return Error("numgen vmap without targets");
        for (const Verdict& v : n.targets) NN_TRY(checkVerdict(v));
        return okStatus();
      }
      Status operator()(const NumgenMatch& n) const {
        if (n.modulus == 0) return Error("numgen modulus 0");
        if (n.value >= n.modulus) return Error(strCat("numgen value ", n.value, " is not below the modulus ", n.modulus));
        return okStatus();
      }
      Status operator()(const SetUpdate& u) const {
        NN_TRY(tx.checkConcat(u.key));
        NN_TRY(tx.checkConcatAgainstSet(u.key, u.set, false));
        auto it = tx.sets_.find(u.set);
        if (it != tx.sets_.end() && !(it->second.flags & kSetDynamic))
          return Error(strCat("set ", u.set, " is updated from the packet path but lacks flags dynamic"));
        return okStatus();
      }
      Status operator()(const Counter&) const { return okStatus(); }
      Status operator()(const Verdict& v) const { return checkVerdict(v); }
      Status operator()(const Nat& n) const {
        if ((tx.family_ == Family::Ip && n.addr.isV6()) || (tx.family_ == Family::Ip6 && n.addr.isV4()))
          return Error(strCat("nat to ", n.addr.toString(), " in an ", familyName(tx.family_), " table"));
        return okStatus();
      }
      Status operator()(const Masquerade&) const { return okStatus(); }
      Status operator()(const MarkSet& m) const {
        if (m.orBits && m.xorBits) return Error("a mark statement sets either | or ^ bits, not both");
        return okStatus();
      }
      Status operator()(const Reject&) const { return okStatus(); }
      Status operator()(const NatMap& n) const {
        if (tx.family_ != Family::Ip && tx.family_ != Family::Ip6)
          return Error("dnat ... map is supported in ip and ip6 tables only");
        NN_TRY(tx.checkConcat(n.key));
        if (n.key.size() + (n.numgen ? 1 : 0) > Concat::capacity())
          return Error(strCat("key has more than ", Concat::capacity(), " parts"));
        if (n.numgen && n.numgen->modulus == 0) return Error("numgen modulus 0");
        NN_TRY(checkName("map", n.map));
        auto it = tx.sets_.find(n.map);
        if (it == tx.sets_.end()) return okStatus();
        const Set& m = it->second;
        const DataType addr = tx.family_ == Family::Ip6 ? DataType::Ipv6Addr : DataType::Ipv4Addr;
        if (!(m.dataConcat == KeyType{addr, DataType::InetService}))
          return Error(strCat("map ", n.map, " does not map to ", dataTypeInfo(addr).name, " . inet_service"));
        KeyType want;
        for (Field f : n.key) want.push_back(fieldInfo(f).type);
        if (n.numgen) want.push_back(DataType::Integer);
        if (!(want == m.key))
          return Error(strCat("key ", concatToString(n.key), n.numgen ? " . numgen" : "", " does not match ",
                              keyTypeToString(m.key)));
        return okStatus();
      }
    };
    return std::visit(V{*this}, s);
  }

  Status validate(const Operation& op) const {
    struct V {
      const Transaction& tx;
      Verb verb;
      bool creating() const { return verb == Verb::Add || verb == Verb::Create; }
      Status only(std::initializer_list<Verb> allowed, const char* what) const {
        for (Verb v : allowed)
          if (v == verb) return okStatus();
        return Error(strCat("cannot ", verbName(verb), " a ", what));
      }
      Status operator()(const Table& t) const {
        NN_TRY(only({Verb::Add, Verb::Create, Verb::Delete, Verb::Flush}, "table"));
        if (t.family != tx.family_ || t.name != tx.table_)
          return Error(strCat("table ", familyName(t.family), " ", t.name, " is not the transaction's table"));
        return checkComment(t.comment);
      }
      Status operator()(const Chain& c) const {
        NN_TRY(only({Verb::Add, Verb::Create, Verb::Delete, Verb::Flush}, "chain"));
        NN_TRY(checkName("chain", c.name));
        NN_TRY(checkComment(c.comment));
        if (c.base && creating()) {
          const BaseChain& b = *c.base;
          if (b.type == ChainType::Nat && b.hook == Hook::Forward) return Error("nat chains cannot use the forward hook");
          if (b.type == ChainType::Route && b.hook != Hook::Output) return Error("route chains need the output hook");
        }
        return okStatus();
      }
      Status operator()(const Set& s) const {
        NN_TRY(only({Verb::Add, Verb::Create, Verb::Delete, Verb::Flush}, "set"));
        NN_TRY(checkName(s.kindName(), s.name));
        if (!creating()) return okStatus();
        NN_TRY(checkComment(s.comment));
        if (s.key.empty()) return Error("key type is empty");
        if (s.key.overflowed()) return Error(strCat("key has more than ", KeyType::capacity(), " parts"));
        for (DataType t : s.key)
          if (t == DataType::Verdict) return Error("verdict cannot be part of a key");
        if (s.flags & kSetInterval)
          // TODO(nft): encode interval elements (start plus interval-end elements, or KEY_END for concatenations).
          return Error("interval sets are not supported yet");
        if (s.timeoutSec && !(s.flags & kSetTimeout)) return Error("a default timeout needs flags timeout");
        if (!s.dataConcat.empty()) {
          if (s.data) return Error("a map has either data or concatenated data");
          if (s.dataConcat.overflowed() || s.dataConcat.size() < 2) return Error("concatenated data needs 2 to 4 parts");
          for (DataType t : s.dataConcat)
            if (t == DataType::Verdict) return Error("verdict cannot be part of concatenated data");
        }
        if (s.typeOf) {
          const SetTypeof& t = *s.typeOf;
          NN_TRY(tx.checkConcat(t.key));
          KeyType key, data;
          for (Field f : t.key) key.push_back(fieldInfo(f).type);
          if (t.keyNumgen) key.push_back(DataType::Integer);
          for (Field f : t.data) {
            NN_TRY(tx.checkFamilyField(f));
            data.push_back(fieldInfo(f).type);
          }
          // Only concatenations: nft stores a single typeof expression differently.
          if (key.size() < 2 || key.overflowed()) return Error("typeof needs a key of 2 to 4 parts");
          if (!(key == s.key)) return Error(strCat("typeof key ", t.keyToString(), " does not yield ", keyTypeToString(s.key)));
          if (!(data == s.dataConcat))
            return Error(strCat("typeof data ", concatToString(t.data), " does not yield the map's data type"));
          for (Field f : t.key) NN_TRY(checkTypeofField(f));
          for (Field f : t.data) NN_TRY(checkTypeofField(f));
        }
        if ((s.flags & kSetConstant) && (s.flags & (kSetTimeout | kSetDynamic)))
          return Error("a constant set cannot have timeouts or be dynamic");
        return okStatus();
      }
      Status operator()(const Element& e) const {
        NN_TRY(only({Verb::Add, Verb::Create, Verb::Delete}, "element"));
        NN_TRY(checkName("set", e.set));
        if (e.key.empty()) return Error("empty key");
        if (e.key.overflowed()) return Error(strCat("key has more than ", Key::capacity(), " parts"));
        for (const Value& v : e.key) {
          if (!v.valid()) return Error("invalid key value");
          if (v.isPrefix()) return Error("prefix keys need an interval set, which is not supported yet");
        }
        if ((e.verdict ? 1 : 0) + (e.value ? 1 : 0) + (e.dataConcat.empty() ? 0 : 1) > 1)
          return Error("an element has either a verdict or a value");
        if (e.dataConcat.overflowed()) return Error(strCat("data has more than ", Key::capacity(), " parts"));
        for (const Value& v : e.dataConcat)
          if (!v.valid() || v.isPrefix()) return Error("invalid data value");
        if (e.verdict) NN_TRY(checkVerdict(*e.verdict));
        NN_TRY(checkComment(e.comment));
        auto it = tx.sets_.find(e.set);
        if (it == tx.sets_.end()) return okStatus();
        const Set& s = it->second;
        bool match = e.key.size() == s.key.size();
        for (size_t i = 0; match && i < e.key.size(); ++i) match = e.key[i].dataType() == s.key[i];
        if (!match) return Error(strCat("key does not match the ", s.kindName(), "'s type ", keyTypeToString(s.key)));
        if (verb == Verb::Delete) return okStatus();
        if (s.data == DataType::Verdict && !e.verdict) return Error("a verdict map element needs a verdict");
        if (s.data && s.data != DataType::Verdict && (!e.value || e.value->dataType() != *s.data))
          return Error(strCat("a map element needs a ", dataTypeInfo(*s.data).name, " value"));
        if (!s.dataConcat.empty()) {
          bool fits = e.dataConcat.size() == s.dataConcat.size();
          for (size_t i = 0; fits && i < e.dataConcat.size(); ++i) fits = e.dataConcat[i].dataType() == s.dataConcat[i];
          if (!fits) return Error(strCat("a map element needs a ", keyTypeToString(s.dataConcat), " value"));
        } else if (!e.dataConcat.empty()) {
          return Error(strCat(s.kindName(), " ", s.name, " has no concatenated data"));
        }
        if (!s.isMap() && (e.verdict || e.value)) return Error("a set element cannot have a value");
        if (e.timeoutSec && !(s.flags & kSetTimeout)) return Error("element timeout in a set without flags timeout");
        return okStatus();
      }
      Status operator()(const Rule& r) const {
        NN_TRY(only({Verb::Add, Verb::Insert, Verb::Replace, Verb::Delete}, "rule"));
        NN_TRY(checkName("chain", r.chain));
        if ((verb == Verb::Replace || verb == Verb::Delete) && !r.handle)
          return Error(strCat("cannot ", verbName(verb), " a rule without its handle"));
        if (verb == Verb::Delete) return okStatus();
        if (r.statements.empty()) return Error("rule without statements");
        NN_TRY(checkComment(r.comment));
        for (const Statement& s : r.statements) NN_TRY(tx.checkStatement(s));
        return okStatus();
      }
    };
    return std::visit(V{*this, op.verb}, op.object);
  }

  Family family_;
  std::string table_;
  std::vector<Operation> ops_;
  Status status_;
  std::unordered_map<std::string, Set> sets_;  // sets and maps added by this transaction, for type checks
};

}  // namespace nodenet::nft
