// A tiny virtual packet tracer over a rules::Ruleset (STYLE.md habit 7, after kube-proxy's helpers_test.go).
//
// It walks the base chains of the hooks a packet crosses, in priority order (prerouting, then input or forward,
// then postrouting; output instead of prerouting for host-originated packets), following vmaps, jump/goto and
// every branch of `numgen` (one outcome per reachable target). It models only what proxy/rules emits; anything
// else fails the test instead of being guessed. Conntrack is not modelled: every packet is `ct state new`.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "proxy/rules/ruleset.h"

namespace nodenet::proxy::rules::testing {

struct Packet {
  IpAddress saddr;
  IpAddress daddr;
  L4Proto proto = L4Proto::TCP;
  uint16_t dport = 0;
  IpAddress origDaddr;  // `ct original ip daddr`: the destination before DNAT
  // State the rules change.
  uint32_t mark = 0;
  std::optional<std::pair<IpAddress, uint16_t>> dnat;
  bool masquerade = false;
};

class Tracer {
 public:
  /// localAddresses: what `fib daddr type local` answers true for (the node's addresses).
  Tracer(const Ruleset& rs, std::vector<IpAddress> localAddresses) : rs_(rs), local_(std::move(localAddresses)) {}

  /// Every possible fate of a new connection "saddr -> daddr:dport/proto": "dnat 10.180.0.1:80",
  /// "dnat 10.180.0.1:80 masq", "reject", "drop", "accept" (untouched).
  std::set<std::string> trace(const std::string& saddr, const std::string& daddr, uint16_t dport,
                              L4Proto proto = L4Proto::TCP, bool fromHost = false) {
    Packet p{*IpAddress::parse(saddr), *IpAddress::parse(daddr), proto, dport, *IpAddress::parse(daddr)};
    std::vector<Packet> live{p};
    std::set<std::string> out;
    auto stage = [&](nft::Hook hook) {
      std::vector<Packet> next;
      for (const Packet& pk : live)
        for (Branch& b : runHook(hook, pk)) {
          if (b.end == End::Drop) out.insert("drop");
          else if (b.end == End::Reject) out.insert("reject");
          else next.push_back(b.p);
        }
      live = std::move(next);
    };
    stage(fromHost ? nft::Hook::Output : nft::Hook::Prerouting);
    std::vector<Packet> toLocal, forwarded;
    for (const Packet& pk : live) (!fromHost && !pk.dnat && isLocal(pk.daddr) ? toLocal : forwarded).push_back(pk);
    live = toLocal;
    stage(nft::Hook::Input);
    for (const Packet& pk : live) out.insert(describe(pk));
    live = forwarded;
    if (!fromHost) stage(nft::Hook::Forward);
    stage(nft::Hook::Postrouting);
    for (const Packet& pk : live) out.insert(describe(pk));
    return out;
  }

 private:
  enum class End { Return, Accept, Drop, Reject };
  struct Branch {
    Packet p;
    End end;
  };

  static std::string describe(const Packet& p) {
    if (!p.dnat) return p.masquerade ? "accept masq" : "accept";
    return strCat("dnat ", p.dnat->first.toString(), ":", p.dnat->second, p.masquerade ? " masq" : "");
  }
  bool isLocal(const IpAddress& a) const { return std::find(local_.begin(), local_.end(), a) != local_.end(); }

  std::vector<Branch> runHook(nft::Hook hook, const Packet& p) {
    std::vector<const nft::Chain*> chains;
    for (const auto& c : rs_.chains)
      if (c.base && c.base->hook == hook) chains.push_back(&c);
    std::stable_sort(chains.begin(), chains.end(),
                     [](const nft::Chain* a, const nft::Chain* b) { return a->base->priority < b->base->priority; });
    std::vector<Branch> live{{p, End::Return}};
    for (const nft::Chain* c : chains) {
      std::vector<Branch> next;
      for (const Branch& b : live) {
        if (b.end == End::Drop || b.end == End::Reject) {
          next.push_back(b);
          continue;
        }
        for (Branch& r : runChain(c->name, b.p, 0)) next.push_back(r);
      }
      live = std::move(next);
    }
    return live;
  }

  // A value a field yields for the packet (only the fields proxy/rules matches on).
  std::optional<nft::Value> field(nft::Field f, const Packet& p) const {
    using nft::Field;
    using nft::Value;
    bool tcp = p.proto == L4Proto::TCP, udp = p.proto == L4Proto::UDP;
    switch (f) {
      case Field::IpSaddr: case Field::Ip6Saddr: return Value::ip(p.saddr);
      case Field::IpDaddr: case Field::Ip6Daddr: return Value::ip(p.daddr);
      case Field::ThDport: return Value::port(p.dport);
      case Field::TcpDport: return tcp ? std::optional(Value::port(p.dport)) : std::nullopt;
      case Field::UdpDport: return udp ? std::optional(Value::port(p.dport)) : std::nullopt;
      case Field::MetaL4proto: return Value::proto(p.proto);
      case Field::MetaMark: return Value::mark(p.mark);
      case Field::CtOriginalIpDaddr: case Field::CtOriginalIp6Daddr: return Value::ip(p.origDaddr);
      case Field::CtState: return Value::ctState(nft::ct::kNew);
      case Field::FibDaddrType:
        return Value::fibType(isLocal(p.daddr) ? nft::FibAddrType::Local : nft::FibAddrType::Unicast);
      case Field::FibSaddrType:
        return Value::fibType(isLocal(p.saddr) ? nft::FibAddrType::Local : nft::FibAddrType::Unicast);
      default: ADD_FAILURE() << "tracer: unmodelled field " << nft::fieldInfo(f).text; return std::nullopt;
    }
  }

  bool matches(const nft::Match& m, const Packet& p) const {
    auto v = field(m.field, p);
    if (!v) return false;
    bool eq;
    if (m.mask) eq = (v->number() & *m.mask) == m.value.number();
    else if (m.value.isPrefix()) eq = Cidr::create(m.value.address(), m.value.prefixLen())->contains(v->address());
    else if (m.value.kind() == nft::Value::Kind::CtState) eq = (v->number() & m.value.number()) != 0;
    else eq = *v == m.value;
    return m.op == nft::CmpOp::Eq ? eq : !eq;
  }

  std::optional<nft::Key> key(const nft::Concat& c, const Packet& p) const {
    nft::Key k;
    for (nft::Field f : c) {
      auto v = field(f, p);
      if (!v) return std::nullopt;
      k.push_back(*v);
    }
    return k;
  }
  const nft::Element* findElement(const std::string& set, const nft::Key& k) const {
    for (const auto& e : rs_.elements)
      if (e.set == set && e.key == k) return &e;
    return nullptr;
  }

  struct Action {
    Packet p;
    std::optional<nft::Verdict> verdict;  // none: the rule did not match or fell through
    bool reject = false;
  };

  std::vector<Action> evalRule(const nft::Rule& r, Packet p) {
    for (size_t i = 0; i < r.statements.size(); ++i) {
      const nft::Statement& s = r.statements[i];
      if (auto* m = std::get_if<nft::Match>(&s)) {
        if (!matches(*m, p)) return {{p, std::nullopt}};
      } else if (auto* l = std::get_if<nft::Lookup>(&s)) {
        auto k = key(l->key, p);
        bool found = k && findElement(l->set, *k);
        if (found == l->invert) return {{p, std::nullopt}};
      } else if (auto* v = std::get_if<nft::VmapLookup>(&s)) {
        auto k = key(v->key, p);
        const nft::Element* e = k ? findElement(v->map, *k) : nullptr;
        if (!e) return {{p, std::nullopt}};
        return {{p, *e->verdict}};
      } else if (auto* n = std::get_if<nft::NumgenVmap>(&s)) {
        std::vector<Action> out;
        for (const auto& t : n->targets) out.push_back({p, t});
        return out;
      } else if (std::get_if<nft::NumgenMatch>(&s)) {
        // Random draw: both outcomes are possible. Not taken: the rule does not match; taken: go on with the rest.
        nft::Rule rest{.chain = r.chain,
                       .statements = std::vector<nft::Statement>(r.statements.begin() + i + 1, r.statements.end())};
        std::vector<Action> out{{p, std::nullopt}};
        for (Action& a : evalRule(rest, p)) out.push_back(std::move(a));
        return out;
      } else if (auto* nm = std::get_if<nft::NatMap>(&s)) {
        // One random draw: every index in the numgen range is possible; a missing element means no match.
        auto k = key(nm->key, p);
        if (!k) return {{p, std::nullopt}};
        const uint32_t first = nm->numgen ? nm->numgen->offset : 0, count = nm->numgen ? nm->numgen->modulus : 1;
        std::vector<Action> out;
        bool missed = false;
        for (uint32_t v = first; v < first + count; ++v) {
          nft::Key kk = *k;
          if (nm->numgen) kk.push_back(nft::Value::integer(v));
          const nft::Element* e = findElement(nm->map, kk);
          if (!e || e->dataConcat.size() != 2) {
            missed = true;
            continue;
          }
          Packet q = p;
          q.dnat = std::make_pair(e->dataConcat[0].address(), static_cast<uint16_t>(e->dataConcat[1].number()));
          q.daddr = q.dnat->first;
          q.dport = q.dnat->second;
          out.push_back({q, nft::Verdict::accept()});
        }
        if (missed) out.push_back({p, std::nullopt});
        return out;
      } else if (std::get_if<nft::SetUpdate>(&s) || std::get_if<nft::Counter>(&s)) {
        // affinity state is not modelled: sets stay empty, so every pick is possible
      } else if (auto* v = std::get_if<nft::Verdict>(&s)) {
        return {{p, *v}};
      } else if (auto* nat = std::get_if<nft::Nat>(&s)) {
        p.dnat = std::make_pair(nat->addr, nat->port.value_or(p.dport));
        p.daddr = nat->addr;  // later hooks see the translated destination
        p.dport = p.dnat->second;
        return {{p, nft::Verdict::accept()}};
      } else if (std::get_if<nft::Masquerade>(&s)) {
        p.masquerade = true;
        return {{p, nft::Verdict::accept()}};
      } else if (auto* ms = std::get_if<nft::MarkSet>(&s)) {
        p.mark = (p.mark | ms->orBits) ^ ms->xorBits;
      } else if (std::get_if<nft::Reject>(&s)) {
        Action a{p, nft::Verdict::drop()};
        a.reject = true;
        return {a};
      }
    }
    return {{p, std::nullopt}};
  }

  std::vector<Branch> runChain(const std::string& chain, Packet p, size_t from, int depth = 0) {
    if (depth > 16) {
      ADD_FAILURE() << "tracer: chain loop at " << chain;
      return {};
    }
    std::vector<const nft::Rule*> rules;
    for (const auto& r : rs_.rules)
      if (r.chain == chain) rules.push_back(&r);
    if (!rs_.findChain(chain)) ADD_FAILURE() << "tracer: no chain " << chain;
    for (size_t i = from; i < rules.size(); ++i) {
      std::vector<Action> acts = evalRule(*rules[i], p);
      if (acts.size() == 1 && !acts[0].verdict) {
        p = acts[0].p;
        continue;
      }
      std::vector<Branch> out;
      for (Action& a : acts) {
        if (!a.verdict) {
          for (Branch& b : runChain(chain, a.p, i + 1, depth)) out.push_back(b);
          continue;
        }
        switch (a.verdict->kind) {
          case nft::VerdictKind::Accept: out.push_back({a.p, End::Accept}); break;
          case nft::VerdictKind::Drop: out.push_back({a.p, a.reject ? End::Reject : End::Drop}); break;
          case nft::VerdictKind::Return: out.push_back({a.p, End::Return}); break;
          case nft::VerdictKind::Continue:
            for (Branch& b : runChain(chain, a.p, i + 1, depth)) out.push_back(b);
            break;
          case nft::VerdictKind::Jump:
            for (Branch& b : runChain(a.verdict->chain, a.p, 0, depth + 1)) {
              if (b.end != End::Return) out.push_back(b);
              else for (Branch& c : runChain(chain, b.p, i + 1, depth)) out.push_back(c);
            }
            break;
          case nft::VerdictKind::Goto:
            for (Branch& b : runChain(a.verdict->chain, a.p, 0, depth + 1)) out.push_back(b);
            break;
        }
      }
      return out;
    }
    return {{p, End::Return}};
  }

  const Ruleset& rs_;
  std::vector<IpAddress> local_;
};

}  // namespace nodenet::proxy::rules::testing
