// Tables, chains, sets/maps, elements and rules as plain values, plus their nft text.
//
// A Rule is a list of typed statements (never a string): the encoder in netlink/nft turns each into kernel
// expressions and toString() renders what `nft list ruleset` prints for it (nftables 1.0.x), so golden tests
// can compare either side.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "netlink/nft/model/types.h"

namespace nodenet::nft {

// ---------------------------------------------------------------------------------------------------------
// Verdicts and statements

enum class VerdictKind : uint8_t { Accept, Drop, Continue, Return, Jump, Goto };

/// accept, drop, continue, return, jump CHAIN, goto CHAIN.
struct Verdict {
  VerdictKind kind = VerdictKind::Accept;
  std::string chain;  // only for Jump and Goto

  static Verdict accept() { return {VerdictKind::Accept, {}}; }
  static Verdict drop() { return {VerdictKind::Drop, {}}; }
  static Verdict ret() { return {VerdictKind::Return, {}}; }
  static Verdict jump(std::string c) { return {VerdictKind::Jump, std::move(c)}; }
  static Verdict goTo(std::string c) { return {VerdictKind::Goto, std::move(c)}; }

  bool hasChain() const { return kind == VerdictKind::Jump || kind == VerdictKind::Goto; }
  std::string toString() const {
    switch (kind) {
      case VerdictKind::Accept: return "accept";
      case VerdictKind::Drop: return "drop";
      case VerdictKind::Continue: return "continue";
      case VerdictKind::Return: return "return";
      case VerdictKind::Jump: return "jump " + chain;
      case VerdictKind::Goto: return "goto " + chain;
    }
    return "?";
  }
  bool operator==(const Verdict&) const = default;
};

enum class CmpOp : uint8_t { Eq, Neq };

/// `FIELD [& MASK] [!=] VALUE`: "ip daddr != 10.85.0.0/16", "meta l4proto tcp", "ct state new",
/// "fib daddr type local", "fib saddr type local", "meta mark & 0x00004000 == 0x00000000" (mask only for 32-bit
/// host-order fields).
/// A ct state value matches when any of its bits is set (nft's flag semantics).
struct Match {
  Field field = Field::IpSaddr;
  CmpOp op = CmpOp::Eq;
  Value value;
  std::optional<uint32_t> mask;
};

/// `KEY @set` or `KEY != @set`: "ip saddr @pods".
struct Lookup {
  Concat key;
  std::string set;
  bool invert = false;
};

/// `KEY vmap @map`: "ip daddr . meta l4proto . th dport vmap @service-ips".
struct VmapLookup {
  Concat key;
  std::string map;
};

/// `numgen random mod N vmap { 0 : goto a, 1 : goto b }`: the modulus is targets.size(); the kernel holds the
/// targets in an anonymous constant map owned by the rule.
struct NumgenVmap {
  std::vector<Verdict> targets;
};

/// `numgen random mod MODULUS VALUE`: matches when a fresh random number in [0, MODULUS) equals VALUE. A chain
/// of these (mod N, then mod N-1, ... each `0`, then an unconditional verdict) picks uniformly among N targets
/// without the anonymous map NumgenVmap needs: the kernel scans all of a table's sets whenever an anonymous set is
/// created or looked up by name, so thousands of NumgenVmap rules make one batch quadratic.
struct NumgenMatch {
  uint32_t modulus = 1;
  uint32_t value = 0;
};

/// `numgen random mod MODULUS [offset OFFSET]` as the last part of a map key: a fresh random number in
/// [OFFSET, OFFSET + MODULUS) per packet.
struct NumgenKey {
  uint32_t modulus = 1;
  uint32_t offset = 0;
  std::string toString() const {
    std::string s = strCat("numgen random mod ", modulus);
    if (offset) s += strCat(" offset ", offset);
    return s;
  }
  bool operator==(const NumgenKey&) const = default;
};

/// `dnat ip to KEY [. numgen random mod M offset O] map @MAP`: DNAT to the `address . port` the data map holds for
/// the key; no element for the key: the rule does not match (the packet goes on to the next rule). ip and ip6
/// tables only. The map's data must be `ipv4_addr . inet_service` (`ipv6_addr . inet_service`).
struct NatMap {
  Concat key;
  std::optional<NumgenKey> numgen;
  std::string map;
};

/// `update @set { KEY }` (optionally with a per-element timeout): session affinity.
struct SetUpdate {
  Concat key;
  std::string set;
  std::optional<uint32_t> timeoutSec;
};

/// `counter`.
struct Counter {
  bool operator==(const Counter&) const = default;
};

enum class NatKind : uint8_t { Dnat, Snat };

/// `dnat to ADDR[:PORT]` / `snat to ADDR[:PORT]`.
struct Nat {
  NatKind kind = NatKind::Dnat;
  IpAddress addr;
  std::optional<uint16_t> port;
  bool fullyRandom = false;
  bool persistent = false;
};

/// `masquerade [random,fully-random,persistent]`.
struct Masquerade {
  bool random = false;
  bool fullyRandom = false;
  bool persistent = false;
};

/// `meta mark set meta mark | BITS` (kube-proxy's "meta mark set meta mark or 0x4000"), or with xorBits
/// `meta mark set meta mark ^ BITS` (its masquerading chain clears the bit it set). One of the two, not both.
struct MarkSet {
  uint32_t orBits = 0;
  uint32_t xorBits = 0;
};

enum class RejectKind : uint8_t { PortUnreachable, HostUnreachable, AdminProhibited, TcpReset };

/// `reject` (port unreachable), `reject with icmp host-unreachable`, `reject with tcp reset`. The ICMP
/// flavour follows the table family (icmp in ip, icmpv6 in ip6, icmpx in inet).
struct Reject {
  RejectKind kind = RejectKind::PortUnreachable;
};

using Statement =
    std::variant<Match, Lookup, VmapLookup, NumgenVmap, SetUpdate, Counter, Verdict, Nat, Masquerade, MarkSet, Reject,
                 NumgenMatch, NatMap>;

// Convenience constructors for the common shapes.
inline Statement match(Field f, Value v) { return Match{f, CmpOp::Eq, v, std::nullopt}; }
inline Statement notMatch(Field f, Value v) { return Match{f, CmpOp::Neq, v, std::nullopt}; }
inline Statement lookup(Concat key, std::string set) { return Lookup{key, std::move(set), false}; }
inline Statement notLookup(Concat key, std::string set) { return Lookup{key, std::move(set), true}; }
inline Statement vmap(Concat key, std::string map) { return VmapLookup{key, std::move(map)}; }

// ---------------------------------------------------------------------------------------------------------
// Objects

struct Table {
  Family family = Family::Inet;
  std::string name;
  std::optional<std::string> comment;
  bool operator==(const Table&) const = default;
};

enum class ChainType : uint8_t { Filter, Nat, Route };
enum class Hook : uint8_t { Prerouting, Input, Forward, Output, Postrouting };
enum class Policy : uint8_t { Accept, Drop };

/// Standard priorities (NF_IP_PRI_* in linux/netfilter_ipv4.h).
namespace priority {
constexpr int32_t kRaw = -300;
constexpr int32_t kMangle = -150;
constexpr int32_t kDstNat = -100;
constexpr int32_t kFilter = 0;
constexpr int32_t kSecurity = 50;
constexpr int32_t kSrcNat = 100;
}  // namespace priority

/// What makes a chain a base chain: it is attached to a netfilter hook.
struct BaseChain {
  ChainType type = ChainType::Filter;
  Hook hook = Hook::Prerouting;
  int32_t priority = 0;
  Policy policy = Policy::Accept;
  bool operator==(const BaseChain&) const = default;
};

inline const char* chainTypeName(ChainType t) {
  return t == ChainType::Filter ? "filter" : t == ChainType::Nat ? "nat" : "route";
}
inline const char* hookName(Hook h) {
  static const char* kNames[] = {"prerouting", "input", "forward", "output", "postrouting"};
  return kNames[static_cast<size_t>(h)];
}

/// The priority the way nft prints it: a standard name within 10 of a standard value that fits the hook
/// ("srcnat", "dstnat", "filter - 5"), else the number (nftables src/rule.c prio2str).
/// `ct original proto-dst` is typed by nft only after `meta l4proto X` in the same rule.
inline std::string priorityToString(int32_t prio, Hook hook) {
  static const std::pair<int32_t, const char*> kStd[] = {
      {priority::kRaw, "raw"},       {priority::kMangle, "mangle"},     {priority::kDstNat, "dstnat"},
      {priority::kFilter, "filter"}, {priority::kSecurity, "security"}, {priority::kSrcNat, "srcnat"}};
  for (auto& [value, name] : kStd) {
    int64_t off = int64_t(prio) - value;
    if (off < -10 || off > 10) continue;
    bool compat = true;
    // nftables 1.0.6 (Debian 12) knows dstnat only for prerouting; newer releases also name it for output.
    // The number is accepted by every release, so output stays numeric.
    if (value == priority::kDstNat) compat = hook == Hook::Prerouting;
    if (value == priority::kSrcNat) compat = hook == Hook::Input || hook == Hook::Postrouting;
    if (!compat) break;
    if (off > 0) return strCat(name, " + ", off);
    if (off < 0) return strCat(name, " - ", -off);
    return name;
  }
  return std::to_string(prio);
}

struct Chain {
  std::string name;
  std::optional<BaseChain> base;  // unset: a regular chain reached by jump/goto
  std::optional<std::string> comment;
  bool operator==(const Chain&) const = default;
};

enum SetFlag : uint8_t {
  kSetConstant = 1 << 0,
  kSetInterval = 1 << 1,
  kSetTimeout = 1 << 2,
  kSetDynamic = 1 << 3,
};

/// `typeof KEY [: DATA]`: the expressions a set's key (and a map's data) come from. nft needs it (set userdata) to
/// print and parse sets whose key has no named type, such as a key ending in `numgen random mod N`; the kernel
/// only sees `key`/`dataConcat`, which must be the types these expressions yield (numgen: integer).
struct SetTypeof {
  Concat key;
  std::optional<NumgenKey> keyNumgen;
  Concat data;  // empty for a set
  std::string keyToString() const {
    std::string s = concatToString(key);
    if (keyNumgen) s += " . " + keyNumgen->toString();
    return s;
  }
  bool operator==(const SetTypeof&) const = default;
};

/// A named set, or a map when `data` or `dataConcat` is set (`using Map = Set`). Maps with data Verdict are verdict
/// maps; `dataConcat` makes a data map with concatenated values (`: ipv4_addr . inet_service`).
struct Set {
  std::string name;
  KeyType key;
  std::optional<DataType> data;
  uint8_t flags = 0;  // SetFlag bits
  std::optional<uint32_t> timeoutSec;
  std::optional<std::string> comment;
  KeyType dataConcat;               // concatenated data (then `data` is empty)
  std::optional<SetTypeof> typeOf;  // printed as `typeof ...` (userdata); must agree with key/dataConcat

  bool isMap() const { return data.has_value() || !dataConcat.empty(); }
  const char* kindName() const { return isMap() ? "map" : "set"; }
  /// The shape that must match when a set is re-added (name aside).
  bool sameShape(const Set& o) const {
    return key == o.key && data == o.data && dataConcat == o.dataConcat && flags == o.flags &&
           timeoutSec == o.timeoutSec;
  }
  bool operator==(const Set&) const = default;
};
using Map = Set;

/// An element of a set (key only) or a map (key plus value or verdict).
struct Element {
  std::string set;  // the set or map it belongs to
  Key key;
  std::optional<Verdict> verdict;  // verdict maps
  std::optional<Value> value;      // data maps
  std::optional<uint32_t> timeoutSec;
  std::optional<std::string> comment;
  Key dataConcat;                  // data maps with concatenated data (`10.1.0.5 . 8080`)
  bool operator==(const Element&) const = default;
};

struct Rule {
  std::string chain;
  std::vector<Statement> statements;
  std::optional<std::string> comment;
  std::optional<uint64_t> handle;  // set by the kernel; needed to replace or delete a rule
};

// ---------------------------------------------------------------------------------------------------------
// nft text

namespace detail {

inline std::string concatText(const Concat& c) { return concatToString(c); }

inline std::string statementToString(const Statement& s, Family family) {
  struct Visitor {
    Family family;
    std::string operator()(const Match& m) const {
      std::string lhs = fieldInfo(m.field).text;
      if (m.mask) {
        // nft prints the compared value with the mask's type: "meta mark & 0x00004000 == 0x00000000".
        return strCat(lhs, " & ", Value::mark(*m.mask).toString(), m.op == CmpOp::Eq ? " == " : " != ",
                      Value::mark(m.value.number()).toString());
      }
      return strCat(lhs, m.op == CmpOp::Neq ? " != " : " ", m.value.toString());
    }
    std::string operator()(const Lookup& l) const {
      return strCat(concatText(l.key), l.invert ? " != @" : " @", l.set);
    }
    std::string operator()(const VmapLookup& v) const { return strCat(concatText(v.key), " vmap @", v.map); }
    std::string operator()(const NumgenVmap& n) const {
      std::string s = strCat("numgen random mod ", n.targets.size(), " vmap { ");
      for (size_t i = 0; i < n.targets.size(); ++i)
        s += strCat(i ? ", " : "", i, " : ", n.targets[i].toString());
      return s + " }";
    }
    std::string operator()(const NumgenMatch& n) const {
      return strCat("numgen random mod ", n.modulus, " ", n.value);
    }
    std::string operator()(const NatMap& n) const {
      std::string s = strCat("dnat ", family == Family::Ip6 ? "ip6" : "ip", " to ", concatText(n.key));
      if (n.numgen) s += " . " + n.numgen->toString();
      return strCat(s, " map @", n.map);
    }
    std::string operator()(const SetUpdate& u) const {
      std::string s = strCat("update @", u.set, " { ", concatText(u.key));
      if (u.timeoutSec) s += " timeout " + durationToString(uint64_t(*u.timeoutSec) * 1000);
      return s + " }";
    }
    std::string operator()(const Counter&) const { return "counter"; }
    std::string operator()(const Verdict& v) const { return v.toString(); }
    std::string operator()(const Nat& n) const {
      std::string s = n.kind == NatKind::Dnat ? "dnat" : "snat";
      if (family == Family::Inet) s += n.addr.isV4() ? " ip" : " ip6";
      s += " to ";
      if (n.port && n.addr.isV6())
        s += strCat("[", n.addr.toString(), "]:", *n.port);
      else if (n.port)
        s += strCat(n.addr.toString(), ":", *n.port);
      else
        s += n.addr.toString();
      std::string flags;
      if (n.fullyRandom) flags += "fully-random";
      if (n.persistent) flags += std::string(flags.empty() ? "" : ",") + "persistent";
      if (!flags.empty()) s += " " + flags;
      return s;
    }
    std::string operator()(const Masquerade& m) const {
      std::string flags;
      auto add = [&](bool on, const char* name) {
        if (on) flags += std::string(flags.empty() ? "" : ",") + name;
      };
      add(m.random, "random");
      add(m.fullyRandom, "fully-random");
      add(m.persistent, "persistent");
      return flags.empty() ? "masquerade" : "masquerade " + flags;
    }
    std::string operator()(const MarkSet& m) const {
      if (m.xorBits) return strCat("meta mark set meta mark ^ ", Value::mark(m.xorBits).toString());
      return strCat("meta mark set meta mark | ", Value::mark(m.orBits).toString());
    }
    std::string operator()(const Reject& r) const {
      const char* icmp = family == Family::Ip ? "icmp" : family == Family::Ip6 ? "icmpv6" : "icmpx";
      switch (r.kind) {
        case RejectKind::PortUnreachable: return "reject";
        case RejectKind::HostUnreachable:
          return strCat("reject with ", icmp, family == Family::Ip6 ? " addr-unreachable" : " host-unreachable");
        case RejectKind::AdminProhibited: return strCat("reject with ", icmp, " admin-prohibited");
        case RejectKind::TcpReset: return "reject with tcp reset";
      }
      return "reject";
    }
  };
  return std::visit(Visitor{family}, s);
}

}  // namespace detail

/// The rule body as `nft list` prints it: statements separated by spaces, then `comment "..."`.
inline std::string ruleBodyToString(const Rule& r, Family family) {
  std::string s;
  for (const Statement& st : r.statements) {
    if (!s.empty()) s += ' ';
    s += detail::statementToString(st, family);
  }
  if (r.comment) s += (s.empty() ? "" : " ") + std::string("comment ") + nftQuote(*r.comment);
  return s;
}

/// `type nat hook postrouting priority srcnat; policy accept;` (empty for regular chains).
inline std::string baseChainToString(const BaseChain& b) {
  return strCat("type ", chainTypeName(b.type), " hook ", hookName(b.hook), " priority ",
                priorityToString(b.priority, b.hook), "; policy ", b.policy == Policy::Accept ? "accept" : "drop",
                ";");
}

/// The declaration body of a set: `type ipv4_addr; flags timeout; timeout 3h; comment "x";`.
inline std::string setBodyToString(const Set& s) {
  std::string out;
  if (s.typeOf) {
    out = "typeof " + s.typeOf->keyToString();
    if (!s.typeOf->data.empty()) out += " : " + concatToString(s.typeOf->data);
  } else {
    out = "type " + keyTypeToString(s.key);
    if (s.data) out += strCat(" : ", dataTypeInfo(*s.data).name);
    if (!s.dataConcat.empty()) out += " : " + keyTypeToString(s.dataConcat);
  }
  out += ';';
  if (s.flags) {
    std::string f;
    auto add = [&](uint8_t bit, const char* name) {
      if (s.flags & bit) f += std::string(f.empty() ? "" : ",") + name;
    };
    // nft's print order (nftables src/rule.c set_print_declaration).
    add(kSetConstant, "constant");
    add(kSetInterval, "interval");
    add(kSetTimeout, "timeout");
    add(kSetDynamic, "dynamic");
    out += " flags " + f + ";";
  }
  if (s.timeoutSec) out += " timeout " + durationToString(uint64_t(*s.timeoutSec) * 1000) + ";";
  if (s.comment) out += " comment " + nftQuote(*s.comment) + ";";
  return out;
}

/// One element as nft prints it inside `elements = { ... }`: `KEY [timeout T] [comment "c"] [: VALUE]`.
inline std::string elementToString(const Element& e) {
  std::string s = keyToString(e.key);
  if (e.timeoutSec) s += " timeout " + durationToString(uint64_t(*e.timeoutSec) * 1000);
  if (e.comment) s += " comment " + nftQuote(*e.comment);
  if (e.verdict) s += " : " + e.verdict->toString();
  if (e.value) s += " : " + e.value->toString();
  if (!e.dataConcat.empty()) s += " : " + keyToString(e.dataConcat);
  return s;
}

}  // namespace nodenet::nft
