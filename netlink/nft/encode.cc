// Transaction -> nfnetlink batch. Tables, chains, sets and rules go through libnftnl objects; set elements,
// the bulk of a proxy sync (~100k per full resync), are written directly with libmnl attributes so an element
// costs no heap allocation. One message per operation, so the kernel's error for a message maps back to
// exactly one operation by its seq (nftables src/mnl.c does the same with its cmd list).
#include "netlink/nft/encode.h"

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>
#include <new>
#include <unordered_map>

#include "base/log.h"

namespace nodenet::nft {

char* BatchBuffer::tail(size_t headroom) {
  if (cap_ - len_ < headroom) {
    size_t want = std::max(cap_ * 2, len_ + headroom);
    want = std::max<size_t>(want, 64 * 1024);
    char* p = static_cast<char*>(std::realloc(data_, want));
    if (!p) NN_LOG(Fatal) << "out of memory growing an nft batch to " << want << " bytes";
    data_ = p;
    cap_ = want;
  }
  return data_ + len_;
}

namespace {

// Headroom reserved before building one message. libnftnl and libmnl write attributes without bounds
// checks, so each message must fit: fixed parts plus what the object's strings and statements can add.
constexpr size_t kMessageBaseHeadroom = 8192;
constexpr size_t kPerStatementHeadroom = 1024;  // the largest statement (a concatenated lookup) needs < 400 bytes

// The anonymous-set name template: the kernel replaces %d with a free number (nftables names them "__map%d").
constexpr const char* kAnonMapName = "__map%d";

// nft's byte-order tags stored in set userdata (nftables include/datatype.h enum byteorder).
constexpr uint32_t kByteorderHost = 1;
constexpr uint32_t kByteorderBig = 2;

struct NftnlDeleter {
  void operator()(nftnl_table* p) const { nftnl_table_free(p); }
  void operator()(nftnl_chain* p) const { nftnl_chain_free(p); }
  void operator()(nftnl_set* p) const { nftnl_set_free(p); }
  void operator()(nftnl_rule* p) const { nftnl_rule_free(p); }
};

template <typename T>
using NftnlPtr = std::unique_ptr<T, NftnlDeleter>;

template <typename T>
T* checkAlloc(T* p) {
  if (!p) NN_LOG(Fatal) << "libnftnl allocation failed";
  return p;
}

/// nftnl udata TLV: u8 type, u8 length, value. Comments carry their NUL like nft writes them.
void putUdataString(std::string& out, uint8_t type, std::string_view s) {
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(s.size() + 1));
  out.append(s);
  out.push_back('\0');
}
void putUdataU32(std::string& out, uint8_t type, uint32_t v) {
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(sizeof v));
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

/// A nested udata TLV (nftnl_udata_nest_start/end): the content is built by `fill`.
template <typename F>
void putUdataNest(std::string& out, uint8_t type, F&& fill) {
  std::string inner;
  fill(inner);
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(inner.size()));
  out += inner;
}

/// nft's (nftables 1.0.x) typeof description of one key part: expression type (enum expr_types: EXPR_PAYLOAD 7,
/// EXPR_META 9, EXPR_CT 12, EXPR_NUMGEN 23) and its own attributes (payload: protocol description id and
/// template field; meta/ct: key, ct direction; numgen: mode, modulus, offset). Written like nft writes them so
/// `nft list` prints `typeof ...` and the listing loads back.
void putTypeofPart(std::string& out, uint8_t index, Field f) {
  uint32_t etype = 0;
  std::string data;
  auto payload = [&](uint32_t desc, uint32_t field) {
    etype = 7;
    putUdataU32(data, 0, desc);
    putUdataU32(data, 1, field);
  };
  switch (f) {
    // PROTO_DESC_IP 12 (IPHDR_SADDR 11, IPHDR_DADDR 12), PROTO_DESC_IP6 13 (IP6HDR_SADDR 8, IP6HDR_DADDR 9),
    // PROTO_DESC_TH 11 (THDR_SPORT 1, THDR_DPORT 2).
    case Field::IpSaddr: payload(12, 11); break;
    case Field::IpDaddr: payload(12, 12); break;
    case Field::Ip6Saddr: payload(13, 8); break;
    case Field::Ip6Daddr: payload(13, 9); break;
    case Field::ThSport: payload(11, 1); break;
    case Field::ThDport: payload(11, 2); break;
    case Field::TcpDport: payload(8, 2); break;  // PROTO_DESC_TCP 8, TCPHDR_DPORT 2
    case Field::MetaL4proto: etype = 9; putUdataU32(data, 0, NFT_META_L4PROTO); break;
    case Field::MetaMark: etype = 9; putUdataU32(data, 0, NFT_META_MARK); break;
    case Field::CtOriginalIpSaddr: case Field::CtOriginalIpDaddr: case Field::CtOriginalIp6Saddr:
    case Field::CtOriginalIp6Daddr: {
      etype = 12;
      uint32_t key = f == Field::CtOriginalIpSaddr ? NFT_CT_SRC_IP : f == Field::CtOriginalIpDaddr ? NFT_CT_DST_IP
                     : f == Field::CtOriginalIp6Saddr ? NFT_CT_SRC_IP6 : NFT_CT_DST_IP6;
      putUdataU32(data, 0, key);
      putUdataU32(data, 1, IP_CT_DIR_ORIGINAL);
      break;
    }
    default: break;  // Transaction refuses other fields in typeof
  }
  putUdataNest(out, index, [&](std::string& n) {
    putUdataU32(n, 0, etype);
    putUdataNest(n, 1, [&](std::string& d) { d += data; });
  });
}

/// NFTNL_UDATA_SET_KEY_TYPEOF / _DATA_TYPEOF of a concatenation (EXPR_CONCAT 13), numgen last.
void putTypeof(std::string& out, uint8_t type, const Concat& fields, const std::optional<NumgenKey>& numgen) {
  putUdataNest(out, type, [&](std::string& t) {
    putUdataU32(t, 0, 13);
    putUdataNest(t, 1, [&](std::string& parts) {
      uint8_t i = 0;
      for (Field f : fields) putTypeofPart(parts, i++, f);
      if (numgen)
        putUdataNest(parts, i, [&](std::string& n) {
          putUdataU32(n, 0, 23);
          putUdataNest(n, 1, [&](std::string& d) {
            putUdataU32(d, 0, NFT_NG_RANDOM);
            putUdataU32(d, 1, numgen->modulus);
            putUdataU32(d, 2, numgen->offset);
          });
        });
    });
  });
}

uint32_t hookNum(Hook h) {
  switch (h) {
    case Hook::Prerouting: return NF_INET_PRE_ROUTING;
    case Hook::Input: return NF_INET_LOCAL_IN;
    case Hook::Forward: return NF_INET_FORWARD;
    case Hook::Output: return NF_INET_LOCAL_OUT;
    case Hook::Postrouting: return NF_INET_POST_ROUTING;
  }
  return 0;
}

int32_t verdictCode(VerdictKind k) {
  switch (k) {
    case VerdictKind::Accept: return NF_ACCEPT;
    case VerdictKind::Drop: return NF_DROP;
    case VerdictKind::Continue: return NFT_CONTINUE;
    case VerdictKind::Return: return NFT_RETURN;
    case VerdictKind::Jump: return NFT_JUMP;
    case VerdictKind::Goto: return NFT_GOTO;
  }
  return NF_DROP;
}

/// Writes a key in kernel layout; returns its length. A concatenation pads each part to 32-bit registers.
size_t encodeKey(const Key& key, uint8_t* out) {
  if (key.size() == 1) return key[0].encode(out);
  size_t off = 0;
  for (const Value& v : key) {
    uint8_t part[16] = {};
    size_t n = v.encode(part);
    size_t padded = roundUpReg(n);
    std::memset(out + off, 0, padded);
    std::memcpy(out + off, part, n);
    off += padded;
  }
  return off;
}

class Encoder {
 public:
  Encoder(const Transaction& tx, uint32_t firstSeq) : tx_(tx), fam_(static_cast<uint16_t>(tx.family())) {
    out_.firstSeq = firstSeq;
    seq_ = firstSeq;
  }

  EncodedBatch run() {
    const auto& ops = tx_.operations();
    out_.opOfSeq.reserve(ops.size() + 2);
    // Named sets get a batch-local id so that rules and elements in the same batch can find them.
    for (const Operation& op : ops)
      if (const Set* s = std::get_if<Set>(&op.object); s && (op.verb == Verb::Add || op.verb == Verb::Create))
        setIds_.emplace(s->name, nextSetId_++);

    nlmsghdr* nlh = nftnl_batch_begin(out_.buffer.tail(kMessageBaseHeadroom), nextSeq(-1));
    out_.buffer.commit(nlh->nlmsg_len);
    for (size_t i = 0; i < ops.size(); ++i) {
      opIndex_ = static_cast<int32_t>(i);
      lastIsLastOp_ = i + 1 == ops.size();
      std::visit([&](const auto& obj) { encode(ops[i].verb, obj); }, ops[i].object);
    }
    nlh = nftnl_batch_end(out_.buffer.tail(kMessageBaseHeadroom), nextSeq(-1));
    out_.buffer.commit(nlh->nlmsg_len);
    out_.lastSeq = seq_ - 1;
    return std::move(out_);
  }

 private:
  uint32_t nextSeq(int32_t op) {
    out_.opOfSeq.push_back(op);
    return seq_++;
  }

  /// Starts a message for the current operation. The final operation's last message asks for an ack.
  nlmsghdr* begin(size_t headroom, uint16_t type, uint16_t flags, bool mayBeLast = true) {
    uint32_t seq = nextSeq(opIndex_);
    if (lastIsLastOp_ && mayBeLast) {
      flags |= NLM_F_ACK;
      out_.ackSeq = seq;
    }
    return nftnl_nlmsg_build_hdr(out_.buffer.tail(headroom), type, fam_, flags, seq);
  }
  void end(nlmsghdr* nlh) { out_.buffer.commit(nlh->nlmsg_len); }

  static uint16_t createFlags(Verb v) { return NLM_F_CREATE | (v == Verb::Create ? NLM_F_EXCL : 0); }

  // --- tables ---------------------------------------------------------------------------------------
  void encode(Verb verb, const Table& t) {
    NftnlPtr<nftnl_table> nt(checkAlloc(nftnl_table_alloc()));
    nftnl_table_set_u32(nt.get(), NFTNL_TABLE_FAMILY, fam_);
    nftnl_table_set_str(nt.get(), NFTNL_TABLE_NAME, tx_.table().c_str());
    if (verb == Verb::Flush) {
      // Deleting rules with only the table named flushes every chain of the table (nft `flush table`).
      NftnlPtr<nftnl_rule> r(checkAlloc(nftnl_rule_alloc()));
      nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, tx_.table().c_str());
      nlmsghdr* nlh = begin(kMessageBaseHeadroom, NFT_MSG_DELRULE, 0);
      nftnl_rule_nlmsg_build_payload(nlh, r.get());
      end(nlh);
      return;
    }
    std::string udata;
    if (t.comment && verb != Verb::Delete) {
      putUdataString(udata, NFTNL_UDATA_TABLE_COMMENT, *t.comment);
      nftnl_table_set_data(nt.get(), NFTNL_TABLE_USERDATA, udata.data(), udata.size());
    }
    nlmsghdr* nlh = verb == Verb::Delete ? begin(kMessageBaseHeadroom, NFT_MSG_DELTABLE, 0)
                                         : begin(kMessageBaseHeadroom, NFT_MSG_NEWTABLE, createFlags(verb));
    nftnl_table_nlmsg_build_payload(nlh, nt.get());
    end(nlh);
  }

  // --- chains ---------------------------------------------------------------------------------------
  void encode(Verb verb, const Chain& c) {
    if (verb == Verb::Flush) {
      NftnlPtr<nftnl_rule> r(checkAlloc(nftnl_rule_alloc()));
      nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, tx_.table().c_str());
      nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, c.name.c_str());
      nlmsghdr* nlh = begin(kMessageBaseHeadroom, NFT_MSG_DELRULE, 0);
      nftnl_rule_nlmsg_build_payload(nlh, r.get());
      end(nlh);
      return;
    }
    NftnlPtr<nftnl_chain> nc(checkAlloc(nftnl_chain_alloc()));
    nftnl_chain_set_str(nc.get(), NFTNL_CHAIN_TABLE, tx_.table().c_str());
    nftnl_chain_set_str(nc.get(), NFTNL_CHAIN_NAME, c.name.c_str());
    std::string udata;
    if (verb != Verb::Delete) {
      if (c.base) {
        nftnl_chain_set_u32(nc.get(), NFTNL_CHAIN_HOOKNUM, hookNum(c.base->hook));
        nftnl_chain_set_s32(nc.get(), NFTNL_CHAIN_PRIO, c.base->priority);
        nftnl_chain_set_str(nc.get(), NFTNL_CHAIN_TYPE, chainTypeName(c.base->type));
        nftnl_chain_set_u32(nc.get(), NFTNL_CHAIN_POLICY, c.base->policy == Policy::Accept ? NF_ACCEPT : NF_DROP);
      }
      if (c.comment) {
        putUdataString(udata, NFTNL_UDATA_CHAIN_COMMENT, *c.comment);
        nftnl_chain_set_data(nc.get(), NFTNL_CHAIN_USERDATA, udata.data(), udata.size());
      }
    }
    nlmsghdr* nlh = verb == Verb::Delete ? begin(kMessageBaseHeadroom, NFT_MSG_DELCHAIN, 0)
                                         : begin(kMessageBaseHeadroom, NFT_MSG_NEWCHAIN, createFlags(verb));
    nftnl_chain_nlmsg_build_payload(nlh, nc.get());
    end(nlh);
  }

  // --- sets -----------------------------------------------------------------------------------------
  void encode(Verb verb, const Set& s) {
    if (verb == Verb::Flush) {
      // A DELSETELEM without an element list flushes the set.
      nlmsghdr* nlh = begin(kMessageBaseHeadroom + s.name.size(), NFT_MSG_DELSETELEM, 0);
      mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, tx_.table().c_str());
      mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s.name.c_str());
      end(nlh);
      return;
    }
    NftnlPtr<nftnl_set> ns(checkAlloc(nftnl_set_alloc()));
    nftnl_set_set_str(ns.get(), NFTNL_SET_TABLE, tx_.table().c_str());
    nftnl_set_set_str(ns.get(), NFTNL_SET_NAME, s.name.c_str());
    if (verb == Verb::Delete) {
      nlmsghdr* nlh = begin(kMessageBaseHeadroom, NFT_MSG_DELSET, 0);
      nftnl_set_nlmsg_build_payload(nlh, ns.get());
      end(nlh);
      return;
    }
    nftnl_set_set_u32(ns.get(), NFTNL_SET_ID, setIds_.at(s.name));
    nftnl_set_set_u32(ns.get(), NFTNL_SET_KEY_TYPE, keyTypeId(s.key));
    nftnl_set_set_u32(ns.get(), NFTNL_SET_KEY_LEN, static_cast<uint32_t>(keyTypeLen(s.key)));
    uint32_t flags = 0;
    if (s.flags & kSetConstant) flags |= NFT_SET_CONSTANT;
    if (s.flags & kSetTimeout) flags |= NFT_SET_TIMEOUT;
    if (s.flags & kSetDynamic) flags |= NFT_SET_EVAL;
    if (!s.dataConcat.empty()) {
      flags |= NFT_SET_MAP;
      nftnl_set_set_u32(ns.get(), NFTNL_SET_DATA_TYPE, keyTypeId(s.dataConcat));
      nftnl_set_set_u32(ns.get(), NFTNL_SET_DATA_LEN, static_cast<uint32_t>(keyTypeLen(s.dataConcat)));
    } else if (s.data) {
      flags |= NFT_SET_MAP;
      if (*s.data == DataType::Verdict) {
        nftnl_set_set_u32(ns.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
      } else {
        nftnl_set_set_u32(ns.get(), NFTNL_SET_DATA_TYPE, dataTypeInfo(*s.data).kernelType);
        nftnl_set_set_u32(ns.get(), NFTNL_SET_DATA_LEN, dataTypeInfo(*s.data).len);
      }
    }
    nftnl_set_set_u32(ns.get(), NFTNL_SET_FLAGS, flags);
    if (s.timeoutSec) nftnl_set_set_u64(ns.get(), NFTNL_SET_TIMEOUT, uint64_t(*s.timeoutSec) * 1000);
    // No NFTA_SET_DESC_CONCAT: only interval concatenations (pipapo) need the field lengths, and since
    // kernel 6.x a multi-field description also demands NFT_SET_CONCAT, which older kernels reject.
    // Userdata tells nft how to print keys and values (their byte order) and keeps the comment.
    std::string udata;
    if (s.typeOf) {
      // What nft writes for `typeof` concatenations: byte orders "invalid" (0), the typeof descriptions, and for
      // a map "data is not an interval".
      putUdataU32(udata, NFTNL_UDATA_SET_KEYBYTEORDER, 0);
      if (s.isMap()) putUdataU32(udata, NFTNL_UDATA_SET_DATABYTEORDER, 0);
      putTypeof(udata, NFTNL_UDATA_SET_KEY_TYPEOF, s.typeOf->key, s.typeOf->keyNumgen);
      if (s.isMap()) {
        putTypeof(udata, NFTNL_UDATA_SET_DATA_TYPEOF, s.typeOf->data, std::nullopt);
        putUdataU32(udata, NFTNL_UDATA_SET_DATA_INTERVAL, 0);
      }
    } else {
      if (s.key.size() == 1)
        putUdataU32(udata, NFTNL_UDATA_SET_KEYBYTEORDER, dataTypeInfo(s.key[0]).hostOrder ? kByteorderHost : kByteorderBig);
      if (s.data && *s.data != DataType::Verdict)
        putUdataU32(udata, NFTNL_UDATA_SET_DATABYTEORDER, dataTypeInfo(*s.data).hostOrder ? kByteorderHost : kByteorderBig);
    }
    if (s.comment) putUdataString(udata, NFTNL_UDATA_SET_COMMENT, *s.comment);
    if (!udata.empty()) nftnl_set_set_data(ns.get(), NFTNL_SET_USERDATA, udata.data(), udata.size());
    nlmsghdr* nlh = begin(kMessageBaseHeadroom, NFT_MSG_NEWSET, createFlags(verb));
    nftnl_set_nlmsg_build_payload(nlh, ns.get());
    end(nlh);
  }

  // --- elements (direct attributes: no allocation per element) --------------------------------------
  static size_t elementHeadroom(const Element& e) {
    return kMessageBaseHeadroom + e.set.size() + (e.verdict ? e.verdict->chain.size() : 0) +
           (e.comment ? e.comment->size() : 0);
  }

  void putElement(nlmsghdr* nlh, const Element& e, bool keyOnly) {
    nlattr* el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    uint8_t key[NFT_DATA_VALUE_MAXLEN];
    size_t keyLen = encodeKey(e.key, key);
    nlattr* k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
    mnl_attr_put(nlh, NFTA_DATA_VALUE, keyLen, key);
    mnl_attr_nest_end(nlh, k);
    if (!keyOnly) {
      if (e.verdict) {
        nlattr* d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
        nlattr* v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
        mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(static_cast<uint32_t>(verdictCode(e.verdict->kind))));
        if (e.verdict->hasChain()) mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, e.verdict->chain.c_str());
        mnl_attr_nest_end(nlh, v);
        mnl_attr_nest_end(nlh, d);
      } else if (!e.dataConcat.empty()) {
        uint8_t data[NFT_DATA_VALUE_MAXLEN];
        size_t n = encodeKey(e.dataConcat, data);
        nlattr* d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
        mnl_attr_put(nlh, NFTA_DATA_VALUE, n, data);
        mnl_attr_nest_end(nlh, d);
      } else if (e.value) {
        uint8_t data[16];
        size_t n = e.value->encode(data);
        nlattr* d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
        mnl_attr_put(nlh, NFTA_DATA_VALUE, n, data);
        mnl_attr_nest_end(nlh, d);
      }
      if (e.timeoutSec) mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, htobe64(uint64_t(*e.timeoutSec) * 1000));
      if (e.comment) {
        char udata[2 + kMaxCommentLen + 1];
        udata[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
        udata[1] = static_cast<char>(e.comment->size() + 1);
        std::memcpy(udata + 2, e.comment->c_str(), e.comment->size() + 1);
        mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, e.comment->size() + 3, udata);
      }
    }
    mnl_attr_nest_end(nlh, el);
  }

  void putElementListHeader(nlmsghdr* nlh, const std::string& set, uint32_t setId) {
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, tx_.table().c_str());
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.c_str());
    if (setId) mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(setId));
  }

  void encode(Verb verb, const Element& e) {
    auto it = setIds_.find(e.set);
    uint32_t setId = it == setIds_.end() ? 0 : it->second;
    nlmsghdr* nlh = verb == Verb::Delete ? begin(elementHeadroom(e), NFT_MSG_DELSETELEM, 0)
                                         : begin(elementHeadroom(e), NFT_MSG_NEWSETELEM, createFlags(verb));
    putElementListHeader(nlh, e.set, setId);
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    putElement(nlh, e, verb == Verb::Delete);
    mnl_attr_nest_end(nlh, list);
    end(nlh);
  }

  // --- rules ----------------------------------------------------------------------------------------
  void encode(Verb verb, const Rule& r);

  friend class RuleBuilder;
  const Transaction& tx_;
  uint16_t fam_;
  EncodedBatch out_;
  uint32_t seq_ = 0;
  int32_t opIndex_ = -1;
  bool lastIsLastOp_ = false;
  std::unordered_map<std::string, uint32_t> setIds_;
  uint32_t nextSetId_ = 1;
};

/// Turns statements into expressions, adding the protocol dependencies nft adds (and hides when listing):
/// `meta nfproto ipv4` before an IPv4 header field in an inet table, `meta l4proto tcp` before `tcp dport`.
class RuleBuilder {
 public:
  RuleBuilder(Encoder& enc, nftnl_rule* rule) : enc_(enc), rule_(rule), family_(enc.tx_.family()) {}

  /// Anonymous maps the rule needs; each is sent (NEWSET + NEWSETELEM) before the rule.
  struct AnonMap {
    uint32_t id;
    const NumgenVmap* stmt;
  };
  std::vector<AnonMap> anonMaps;

  void statement(const Statement& s) { std::visit([&](const auto& x) { add(x); }, s); }

 private:
  nftnl_expr* expr(const char* name) {
    nftnl_expr* e = checkAlloc(nftnl_expr_alloc(name));
    nftnl_rule_add_expr(rule_, e);
    return e;
  }
  void meta(uint32_t key, uint32_t dreg) {
    nftnl_expr* e = expr("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
  }
  void payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
    nftnl_expr* e = expr("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
  }
  void ct(uint32_t key, uint32_t dreg, bool original) {
    nftnl_expr* e = expr("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
    if (original) nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
  }
  void cmp(uint32_t sreg, uint32_t op, const void* data, uint32_t len) {
    nftnl_expr* e = expr("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
  }
  void bitwise(uint32_t reg, const void* mask, const void* xorv, uint32_t len) {
    nftnl_expr* e = expr("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xorv, len);
  }
  void immediateVerdict(const Verdict& v) {
    nftnl_expr* e = expr("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(verdictCode(v.kind)));
    if (v.hasChain()) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, v.chain.c_str());
  }
  void immediateData(uint32_t dreg, const void* data, uint32_t len) {
    nftnl_expr* e = expr("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
    nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
  }

  // Protocol context: what earlier matches of this rule already established.
  void needNfproto(uint8_t proto) {
    if (family_ != Family::Inet || nfproto_ == proto) return;
    meta(NFT_META_NFPROTO, NFT_REG_1);
    cmp(NFT_REG_1, NFT_CMP_EQ, &proto, 1);
    nfproto_ = proto;
  }
  void needL4proto(uint8_t proto) {
    if (l4proto_ == proto) return;
    meta(NFT_META_L4PROTO, NFT_REG_1);
    cmp(NFT_REG_1, NFT_CMP_EQ, &proto, 1);
    l4proto_ = proto;
  }
  void dependencies(Field f) {
    if (fieldIsV4(f) && f != Field::CtOriginalIpSaddr && f != Field::CtOriginalIpDaddr) needNfproto(NFPROTO_IPV4);
    if (fieldIsV6(f) && f != Field::CtOriginalIp6Saddr && f != Field::CtOriginalIp6Daddr) needNfproto(NFPROTO_IPV6);
    if (f == Field::TcpSport || f == Field::TcpDport) needL4proto(IPPROTO_TCP);
    if (f == Field::UdpSport || f == Field::UdpDport) needL4proto(IPPROTO_UDP);
  }

  /// Loads a field into dreg; `len` < the field's length loads a prefix of a packet field.
  void load(Field f, uint32_t dreg, uint32_t len = 0) {
    const FieldInfo& fi = fieldInfo(f);
    if (len == 0) len = fi.len;
    switch (f) {
      case Field::IpSaddr: return payload(NFT_PAYLOAD_NETWORK_HEADER, 12, len, dreg);
      case Field::IpDaddr: return payload(NFT_PAYLOAD_NETWORK_HEADER, 16, len, dreg);
      case Field::Ip6Saddr: return payload(NFT_PAYLOAD_NETWORK_HEADER, 8, len, dreg);
      case Field::Ip6Daddr: return payload(NFT_PAYLOAD_NETWORK_HEADER, 24, len, dreg);
      case Field::ThSport: case Field::TcpSport: case Field::UdpSport:
        return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, len, dreg);
      case Field::ThDport: case Field::TcpDport: case Field::UdpDport:
        return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, len, dreg);
      case Field::MetaL4proto: return meta(NFT_META_L4PROTO, dreg);
      case Field::MetaNfproto: return meta(NFT_META_NFPROTO, dreg);
      case Field::MetaMark: return meta(NFT_META_MARK, dreg);
      case Field::MetaIifname: return meta(NFT_META_IIFNAME, dreg);
      case Field::MetaOifname: return meta(NFT_META_OIFNAME, dreg);
      case Field::CtState: return ct(NFT_CT_STATE, dreg, false);
      case Field::CtMark: return ct(NFT_CT_MARK, dreg, false);
      case Field::CtOriginalIpSaddr: return ct(NFT_CT_SRC_IP, dreg, true);
      case Field::CtOriginalIpDaddr: return ct(NFT_CT_DST_IP, dreg, true);
      case Field::CtOriginalIp6Saddr: return ct(NFT_CT_SRC_IP6, dreg, true);
      case Field::CtOriginalIp6Daddr: return ct(NFT_CT_DST_IP6, dreg, true);
      case Field::CtOriginalProtoDst: return ct(NFT_CT_PROTO_DST, dreg, true);
      case Field::EtherSaddr: return payload(NFT_PAYLOAD_LL_HEADER, 6, len, dreg);
      case Field::FibDaddrType:
      case Field::FibSaddrType: {
        nftnl_expr* e = expr("fib");
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, f == Field::FibDaddrType ? NFTA_FIB_F_DADDR : NFTA_FIB_F_SADDR);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
        return;
      }
    }
  }
  static bool isPayload(Field f) { return f <= Field::UdpDport; }

  /// Loads a (possibly concatenated) key. A single field goes to NFT_REG_1; a concatenation fills
  /// consecutive 32-bit registers from NFT_REG32_00, each part rounded up to whole registers.
  uint32_t loadKey(const Concat& key) {
    for (Field f : key) dependencies(f);
    if (key.size() == 1) {
      load(key[0], NFT_REG_1);
      return NFT_REG_1;
    }
    uint32_t words = 0;
    for (Field f : key) {
      load(f, NFT_REG32_00 + words);
      words += static_cast<uint32_t>(roundUpReg(fieldInfo(f).len) / kRegSize);
    }
    return NFT_REG32_00;
  }

  void add(const Match& m) {
    dependencies(m.field);
    uint8_t value[16] = {};
    uint32_t len = static_cast<uint32_t>(m.value.encode(value));
    uint32_t op = m.op == CmpOp::Eq ? NFT_CMP_EQ : NFT_CMP_NEQ;
    if (m.value.isPrefix() && m.value.prefixLen() < len * 8) {
      unsigned plen = m.value.prefixLen();
      if (isPayload(m.field) && plen % 8 == 0 && plen > 0) {
        // Byte-aligned prefix of a header field: load just those bytes (what nft does).
        load(m.field, NFT_REG_1, plen / 8);
        cmp(NFT_REG_1, op, value, plen / 8);
        return;
      }
      uint8_t mask[16] = {}, zero[16] = {};
      for (unsigned i = 0; i < plen; ++i) mask[i / 8] |= static_cast<uint8_t>(0x80u >> (i % 8));
      load(m.field, NFT_REG_1);
      bitwise(NFT_REG_1, mask, zero, len);
      cmp(NFT_REG_1, op, value, len);
      return;
    }
    load(m.field, NFT_REG_1);
    if (m.field == Field::CtState) {
      // Flag semantics: any of the bits (nft: bitwise & value, cmp != 0).
      uint32_t zero = 0;
      bitwise(NFT_REG_1, value, &zero, 4);
      cmp(NFT_REG_1, m.op == CmpOp::Eq ? NFT_CMP_NEQ : NFT_CMP_EQ, &zero, 4);
      return;
    }
    if (m.mask) {
      uint32_t mask = *m.mask, zero = 0;
      bitwise(NFT_REG_1, &mask, &zero, 4);
    }
    cmp(NFT_REG_1, op, value, len);
    if (m.op == CmpOp::Eq && m.field == Field::MetaL4proto) l4proto_ = value[0];
    if (m.op == CmpOp::Eq && m.field == Field::MetaNfproto) nfproto_ = value[0];
  }

  void lookupExpr(uint32_t sreg, const std::string& set, uint32_t setId, std::optional<uint32_t> dreg, bool invert) {
    nftnl_expr* e = expr("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
    if (setId) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, setId);
    if (dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
    if (invert) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
  }
  uint32_t setIdOf(const std::string& name) const {
    auto it = enc_.setIds_.find(name);
    return it == enc_.setIds_.end() ? 0 : it->second;
  }

  void add(const Lookup& l) { lookupExpr(loadKey(l.key), l.set, setIdOf(l.set), std::nullopt, l.invert); }
  void add(const VmapLookup& v) { lookupExpr(loadKey(v.key), v.map, setIdOf(v.map), NFT_REG_VERDICT, false); }
  void add(const NumgenVmap& n) {
    nftnl_expr* e = expr("numgen");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, static_cast<uint32_t>(n.targets.size()));
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
    uint32_t id = enc_.nextSetId_++;
    anonMaps.push_back({id, &n});
    lookupExpr(NFT_REG_1, kAnonMapName, id, NFT_REG_VERDICT, false);
  }
  void add(const NumgenMatch& n) {
    nftnl_expr* e = expr("numgen");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, n.modulus);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
    // numgen writes a host-order u32 (nft lists `[ cmp eq reg 1 0x00000000 ]` for `numgen random mod 3 0`).
    uint32_t value = n.value;
    cmp(NFT_REG_1, NFT_CMP_EQ, &value, sizeof value);
  }
  void add(const SetUpdate& u) {
    uint32_t reg = loadKey(u.key);
    nftnl_expr* e = expr("dynset");
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
    nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, u.set.c_str());
    if (uint32_t id = setIdOf(u.set)) nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, id);
    if (u.timeoutSec) nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, uint64_t(*u.timeoutSec) * 1000);
  }
  /// As nft encodes `dnat ip to KEY . numgen ... map @m`: the key in consecutive 32-bit registers from
  /// NFT_REG32_00, numgen in the next one, the lookup's data (address, then port in the register after the
  /// address) back into NFT_REG_1, and nat reading them from there.
  void add(const NatMap& n) {
    for (Field f : n.key) dependencies(f);
    uint32_t words = 0;
    for (Field f : n.key) {
      load(f, NFT_REG32_00 + words);
      words += static_cast<uint32_t>(roundUpReg(fieldInfo(f).len) / kRegSize);
    }
    if (n.numgen) {
      nftnl_expr* e = expr("numgen");
      nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG32_00 + words);
      nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, n.numgen->modulus);
      nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
      nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, n.numgen->offset);
    }
    lookupExpr(NFT_REG_1, n.map, setIdOf(n.map), NFT_REG_1, false);
    const bool v6 = family_ == Family::Ip6;
    nftnl_expr* e = expr("nat");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, v6 ? NFT_REG_2 : NFT_REG32_01);
  }
  void add(const Counter&) { expr("counter"); }
  void add(const Verdict& v) { immediateVerdict(v); }
  void add(const Nat& n) {
    immediateData(NFT_REG_1, n.addr.data(), static_cast<uint32_t>(n.addr.size()));
    if (n.port) {
      uint16_t port = htons(*n.port);
      immediateData(NFT_REG_2, &port, sizeof port);
    }
    nftnl_expr* e = expr("nat");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, n.kind == NatKind::Dnat ? NFT_NAT_DNAT : NFT_NAT_SNAT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, n.addr.isV4() ? NFPROTO_IPV4 : NFPROTO_IPV6);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
    if (n.port) nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
    uint32_t flags = 0;
    if (n.fullyRandom) flags |= NF_NAT_RANGE_PROTO_RANDOM_FULLY;
    if (n.persistent) flags |= NF_NAT_RANGE_PERSISTENT;
    if (flags) nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, flags);
  }
  void add(const Masquerade& m) {
    nftnl_expr* e = expr("masq");
    uint32_t flags = 0;
    if (m.random) flags |= NF_NAT_RANGE_PROTO_RANDOM;
    if (m.fullyRandom) flags |= NF_NAT_RANGE_PROTO_RANDOM_FULLY;
    if (m.persistent) flags |= NF_NAT_RANGE_PERSISTENT;
    if (flags) nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, flags);
  }
  void add(const MarkSet& m) {
    // mark | bits == (mark & ~bits) ^ bits, and mark ^ bits == (mark & ~0) ^ bits: the kernel's bitwise
    // expression is mask-and-xor.
    meta(NFT_META_MARK, NFT_REG_1);
    uint32_t mask = ~m.orBits, xorv = m.orBits ^ m.xorBits;
    bitwise(NFT_REG_1, &mask, &xorv, 4);
    nftnl_expr* e = expr("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
  }
  void add(const Reject& r) {
    uint32_t type;
    uint8_t code;
    if (r.kind == RejectKind::TcpReset) {
      needL4proto(IPPROTO_TCP);
      type = NFT_REJECT_TCP_RST;
      code = 0;
    } else if (family_ == Family::Inet) {
      type = NFT_REJECT_ICMPX_UNREACH;
      code = r.kind == RejectKind::PortUnreachable   ? NFT_REJECT_ICMPX_PORT_UNREACH
             : r.kind == RejectKind::HostUnreachable ? NFT_REJECT_ICMPX_HOST_UNREACH
                                                     : NFT_REJECT_ICMPX_ADMIN_PROHIBITED;
    } else if (family_ == Family::Ip) {
      type = NFT_REJECT_ICMP_UNREACH;
      // ICMP_PORT_UNREACH 3, ICMP_HOST_UNREACH 1, ICMP_PKT_FILTERED 13 (linux/icmp.h).
      code = r.kind == RejectKind::PortUnreachable ? 3 : r.kind == RejectKind::HostUnreachable ? 1 : 13;
    } else {
      type = NFT_REJECT_ICMP_UNREACH;
      // ICMPV6_PORT_UNREACH 4, ICMPV6_ADDR_UNREACH 3, ICMPV6_ADM_PROHIBITED 1 (linux/icmpv6.h).
      code = r.kind == RejectKind::PortUnreachable ? 4 : r.kind == RejectKind::HostUnreachable ? 3 : 1;
    }
    nftnl_expr* e = expr("reject");
    nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
    nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
  }

  Encoder& enc_;
  nftnl_rule* rule_;
  Family family_;
  uint8_t nfproto_ = 0;
  uint8_t l4proto_ = 0;
};

void Encoder::encode(Verb verb, const Rule& r) {
  NftnlPtr<nftnl_rule> nr(checkAlloc(nftnl_rule_alloc()));
  nftnl_rule_set_str(nr.get(), NFTNL_RULE_TABLE, tx_.table().c_str());
  nftnl_rule_set_str(nr.get(), NFTNL_RULE_CHAIN, r.chain.c_str());
  if (r.handle) nftnl_rule_set_u64(nr.get(), NFTNL_RULE_HANDLE, *r.handle);
  if (verb == Verb::Delete) {
    nlmsghdr* nlh = begin(kMessageBaseHeadroom + r.chain.size(), NFT_MSG_DELRULE, 0);
    nftnl_rule_nlmsg_build_payload(nlh, nr.get());
    end(nlh);
    return;
  }
  RuleBuilder b(*this, nr.get());
  for (const Statement& s : r.statements) b.statement(s);
  std::string udata;
  if (r.comment) {
    putUdataString(udata, NFTNL_UDATA_RULE_COMMENT, *r.comment);
    nftnl_rule_set_data(nr.get(), NFTNL_RULE_USERDATA, udata.data(), static_cast<uint32_t>(udata.size()));
  }
  // Anonymous maps first: the rule binds them by id.
  for (const RuleBuilder::AnonMap& am : b.anonMaps) {
    NftnlPtr<nftnl_set> ns(checkAlloc(nftnl_set_alloc()));
    nftnl_set_set_str(ns.get(), NFTNL_SET_TABLE, tx_.table().c_str());
    nftnl_set_set_str(ns.get(), NFTNL_SET_NAME, kAnonMapName);
    nftnl_set_set_u32(ns.get(), NFTNL_SET_ID, am.id);
    nftnl_set_set_u32(ns.get(), NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP);
    nftnl_set_set_u32(ns.get(), NFTNL_SET_KEY_TYPE, dataTypeInfo(DataType::Integer).kernelType);
    nftnl_set_set_u32(ns.get(), NFTNL_SET_KEY_LEN, 4);
    nftnl_set_set_u32(ns.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    nftnl_set_set_u32(ns.get(), NFTNL_SET_DESC_SIZE, static_cast<uint32_t>(am.stmt->targets.size()));
    std::string sud;
    putUdataU32(sud, NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderHost);
    nftnl_set_set_data(ns.get(), NFTNL_SET_USERDATA, sud.data(), static_cast<uint32_t>(sud.size()));
    nlmsghdr* nlh = begin(kMessageBaseHeadroom, NFT_MSG_NEWSET, NLM_F_CREATE, false);
    nftnl_set_nlmsg_build_payload(nlh, ns.get());
    end(nlh);

    size_t headroom = kMessageBaseHeadroom;
    for (const Verdict& v : am.stmt->targets) headroom += 64 + v.chain.size();
    nlh = begin(headroom, NFT_MSG_NEWSETELEM, NLM_F_CREATE, false);
    putElementListHeader(nlh, kAnonMapName, am.id);
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (size_t i = 0; i < am.stmt->targets.size(); ++i) {
      Element e;
      e.key.push_back(Value::integer(static_cast<uint32_t>(i)));
      e.verdict = am.stmt->targets[i];
      putElement(nlh, e, false);
    }
    mnl_attr_nest_end(nlh, list);
    end(nlh);
  }
  uint16_t flags = verb == Verb::Replace ? NLM_F_REPLACE
                   : verb == Verb::Insert ? NLM_F_CREATE
                                          : NLM_F_CREATE | NLM_F_APPEND;
  size_t headroom = kMessageBaseHeadroom + r.chain.size() + udata.size() + kPerStatementHeadroom * r.statements.size();
  nlmsghdr* nlh = begin(headroom, NFT_MSG_NEWRULE, flags);
  nftnl_rule_nlmsg_build_payload(nlh, nr.get());
  end(nlh);
}

}  // namespace

Result<EncodedBatch> encodeBatch(const Transaction& tx, uint32_t firstSeq) {
  if (!tx.ok()) return Error("refusing to encode an invalid transaction: " + tx.status().error().message());
  return Encoder(tx, firstSeq).run();
}

}  // namespace nodenet::nft
