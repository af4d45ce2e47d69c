// ctnetlink wire format (include/uapi/linux/netfilter/nfnetlink_conntrack.h): a flow is
//   nlmsghdr | nfgenmsg{family, NFNETLINK_V0, res_id 0} | CTA_TUPLE_ORIG { CTA_TUPLE_IP { CTA_IP_V4_SRC ... },
//   CTA_TUPLE_PROTO { CTA_PROTO_NUM u8, CTA_PROTO_SRC_PORT be16, CTA_PROTO_DST_PORT be16 } } | CTA_TUPLE_REPLY
//   {...} | CTA_STATUS be32 | CTA_TIMEOUT be32 | CTA_MARK be32 | CTA_ID be32 | CTA_ZONE be16 ...
// Every integer attribute is big-endian; nested attributes carry NLA_F_NESTED.
#include "netlink/conntrack/message.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cstring>

#include "base/strings.h"

namespace nodenet::conntrack::wire {
namespace {

// Large enough for any single ctnetlink message we build (two tuples with IPv6 addresses plus a few u32
// attributes are ~200 bytes).
constexpr size_t kMaxMessage = 512;
// CTA_FILTER_F_CTA_PROTO_NUM from the kernel's net/netfilter/nf_internals.h (not in the uapi headers; the
// same value libnetfilter_conntrack uses): match the original tuple's protocol number.
constexpr uint32_t kFilterProtoNum = 1u << 3;

// libmnl's iteration macros assign a void* (C only); these ranges do the same walk in C++.
struct AttrRange {
  const char* begin_;
  const char* end_;
  struct It {
    const char* p;
    const char* end;
    const nlattr* operator*() const { return reinterpret_cast<const nlattr*>(p); }
    It& operator++() {
      p += MNL_ALIGN(reinterpret_cast<const nlattr*>(p)->nla_len);
      return *this;
    }
    // Stops at the end, or at an attribute that does not fit (mnl_attr_ok), so a truncated message ends
    // the walk rather than overrunning the buffer.
    bool operator!=(const It&) const {
      return p < end && mnl_attr_ok(reinterpret_cast<const nlattr*>(p), static_cast<int>(end - p));
    }
  };
  It begin() const { return {begin_, end_}; }
  It end() const { return {end_, end_}; }
};

AttrRange nested(const nlattr* nest) {
  const char* b = static_cast<const char*>(mnl_attr_get_payload(nest));
  return {b, reinterpret_cast<const char*>(nest) + nest->nla_len};
}

AttrRange attrsAfter(const nlmsghdr* nlh, size_t extra) {
  const char* b = static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, extra));
  return {b, reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len};
}

uint8_t familyByte(IpFamily f) { return f == IpFamily::V4 ? AF_INET : AF_INET6; }

nlmsghdr* putHeader(char* mem, uint16_t msgType, uint16_t flags, IpFamily family, uint32_t seq) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(mem);
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msgType);
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = familyByte(family);
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  return nlh;
}

void putTuple(nlmsghdr* nlh, uint16_t type, IpFamily family, uint8_t l4proto, const Tuple& t) {
  nlattr* tuple = mnl_attr_nest_start(nlh, type);
  nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
  if (family == IpFamily::V4) {
    mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, t.src.data());
    mnl_attr_put(nlh, CTA_IP_V4_DST, 4, t.dst.data());
  } else {
    mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, t.src.data());
    mnl_attr_put(nlh, CTA_IP_V6_DST, 16, t.dst.data());
  }
  mnl_attr_nest_end(nlh, ip);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, l4proto);
  // Ports exist for the protocols with ports only; the kernel rejects them for ICMP.
  if (l4proto == IPPROTO_TCP || l4proto == IPPROTO_UDP || l4proto == IPPROTO_SCTP ||
      l4proto == IPPROTO_UDPLITE || l4proto == IPPROTO_DCCP) {
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t.srcPort));
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t.dstPort));
  }
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
}

void append(std::vector<uint8_t>& buf, const nlmsghdr* nlh) {
  const auto* p = reinterpret_cast<const uint8_t*>(nlh);
  // nlmsg_len is already aligned by libmnl's attribute helpers; messages are concatenated at NLMSG_ALIGN.
  buf.insert(buf.end(), p, p + NLMSG_ALIGN(nlh->nlmsg_len));
}

Status parseIp(const nlattr* nest, IpFamily family, Tuple* t, const char* which) {
  bool haveSrc = false, haveDst = false;
  for (const nlattr* a : nested(nest)) {
    uint16_t type = mnl_attr_get_type(a);
    uint16_t len = mnl_attr_get_payload_len(a);
    const auto* data = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
    bool v4 = type == CTA_IP_V4_SRC || type == CTA_IP_V4_DST;
    bool v6 = type == CTA_IP_V6_SRC || type == CTA_IP_V6_DST;
    if (!v4 && !v6) continue;
    if ((v4 && family != IpFamily::V4) || (v6 && family != IpFamily::V6))
      return Error(strCat(which, " tuple: address attribute ", type, " does not match the message family"));
    size_t want = v4 ? 4 : 16;
    if (len != want) return Error(strCat(which, " tuple: address attribute ", type, " has length ", len));
    IpAddress addr = IpAddress::fromBytes(family, data);
    if (type == CTA_IP_V4_SRC || type == CTA_IP_V6_SRC) {
      t->src = addr;
      haveSrc = true;
    } else {
      t->dst = addr;
      haveDst = true;
    }
  }
  if (!haveSrc || !haveDst) return Error(strCat(which, " tuple: missing source or destination address"));
  return okStatus();
}

Status parseProto(const nlattr* nest, Tuple* t, uint8_t* l4proto, const char* which) {
  bool haveNum = false;
  for (const nlattr* a : nested(nest)) {
    switch (mnl_attr_get_type(a)) {
      case CTA_PROTO_NUM:
        if (mnl_attr_validate(a, MNL_TYPE_U8) < 0) return Error(strCat(which, " tuple: bad CTA_PROTO_NUM"));
        *l4proto = mnl_attr_get_u8(a);
        haveNum = true;
        break;
      case CTA_PROTO_SRC_PORT:
        if (mnl_attr_validate(a, MNL_TYPE_U16) < 0) return Error(strCat(which, " tuple: bad source port"));
        t->srcPort = ntohs(mnl_attr_get_u16(a));
        break;
      case CTA_PROTO_DST_PORT:
        if (mnl_attr_validate(a, MNL_TYPE_U16) < 0) return Error(strCat(which, " tuple: bad destination port"));
        t->dstPort = ntohs(mnl_attr_get_u16(a));
        break;
      default:
        break;  // ICMP id/type/code and future attributes
    }
  }
  if (!haveNum) return Error(strCat(which, " tuple: missing CTA_PROTO_NUM"));
  return okStatus();
}

Status parseTuple(const nlattr* nest, IpFamily family, Tuple* t, uint8_t* l4proto, const char* which) {
  bool haveIp = false, haveProto = false;
  for (const nlattr* a : nested(nest)) {
    switch (mnl_attr_get_type(a)) {
      case CTA_TUPLE_IP:
        NN_TRY(parseIp(a, family, t, which));
        haveIp = true;
        break;
      case CTA_TUPLE_PROTO:
        NN_TRY(parseProto(a, t, l4proto, which));
        haveProto = true;
        break;
      default:
        break;  // CTA_TUPLE_ZONE
    }
  }
  if (!haveIp || !haveProto) return Error(strCat(which, " tuple: missing CTA_TUPLE_IP or CTA_TUPLE_PROTO"));
  return okStatus();
}

Result<uint32_t> u32Attr(const nlattr* a, const char* name) {
  if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return Error(strCat("bad ", name, " attribute"));
  return ntohl(mnl_attr_get_u32(a));
}

}  // namespace

void appendDumpRequest(std::vector<uint8_t>& buf, IpFamily family, uint32_t seq, std::optional<uint8_t> l4proto) {
  alignas(nlmsghdr) char mem[kMaxMessage] = {};  // libmnl 1.0.4 leaves attribute padding unwritten
  nlmsghdr* nlh = putHeader(mem, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, family, seq);
  if (l4proto) {
    // The filter tuple only needs the fields its flags select (ctnetlink_parse_tuple_filter).
    nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
    nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, *l4proto);
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, tuple);
    nlattr* filter = mnl_attr_nest_start(nlh, CTA_FILTER);
    // Flag values are kernel ABI (net/netfilter/nf_internals.h), host byte order.
    mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS, kFilterProtoNum);
    mnl_attr_put_u32(nlh, CTA_FILTER_REPLY_FLAGS, 0);
    mnl_attr_nest_end(nlh, filter);
  }
  append(buf, nlh);
}

void appendDeleteRequest(std::vector<uint8_t>& buf, const Flow& flow, uint32_t seq) {
  alignas(nlmsghdr) char mem[kMaxMessage] = {};  // libmnl 1.0.4 leaves attribute padding unwritten
  nlmsghdr* nlh = putHeader(mem, IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, flow.family, seq);
  putTuple(nlh, CTA_TUPLE_ORIG, flow.family, flow.l4proto, flow.orig);
  // The zone is part of the lookup key; without it a delete would only find zone-0 flows.
  if (flow.zone != 0) mnl_attr_put_u16(nlh, CTA_ZONE, htons(flow.zone));
  append(buf, nlh);
}

void appendFlowMessage(std::vector<uint8_t>& buf, const Flow& flow, uint32_t seq) {
  alignas(nlmsghdr) char mem[kMaxMessage] = {};  // libmnl 1.0.4 leaves attribute padding unwritten
  nlmsghdr* nlh = putHeader(mem, IPCTNL_MSG_CT_NEW, NLM_F_MULTI, flow.family, seq);
  putTuple(nlh, CTA_TUPLE_ORIG, flow.family, flow.l4proto, flow.orig);
  putTuple(nlh, CTA_TUPLE_REPLY, flow.family, flow.l4proto, flow.reply);
  mnl_attr_put_u32(nlh, CTA_STATUS, htonl(flow.status));
  mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(flow.timeout));
  mnl_attr_put_u32(nlh, CTA_MARK, htonl(flow.mark));
  mnl_attr_put_u32(nlh, CTA_ID, htonl(flow.id));
  if (flow.zone != 0) mnl_attr_put_u16(nlh, CTA_ZONE, htons(flow.zone));
  append(buf, nlh);
}

Result<Flow> parseFlowMessage(const void* msg, size_t len) {
  if (len < NLMSG_HDRLEN + sizeof(nfgenmsg)) return Error(strCat("conntrack message: truncated (", len, " bytes)"));
  const auto* nlh = static_cast<const nlmsghdr*>(msg);
  if (nlh->nlmsg_len > len || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg))
    return Error(strCat("conntrack message: length ", nlh->nlmsg_len, " does not fit ", len, " bytes"));
  if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_CTNETLINK)
    return Error(strCat("conntrack message: type ", nlh->nlmsg_type, " is not ctnetlink"));
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  Flow flow;
  if (nfg->nfgen_family == AF_INET) {
    flow.family = IpFamily::V4;
  } else if (nfg->nfgen_family == AF_INET6) {
    flow.family = IpFamily::V6;
  } else {
    return Error(strCat("conntrack message: unsupported family ", int(nfg->nfgen_family)));
  }
  bool haveOrig = false, haveReply = false;
  uint8_t replyProto = 0;
  for (const nlattr* a : attrsAfter(nlh, sizeof(nfgenmsg))) {
    switch (mnl_attr_get_type(a)) {
      case CTA_TUPLE_ORIG:
        NN_TRY(parseTuple(a, flow.family, &flow.orig, &flow.l4proto, "original"));
        haveOrig = true;
        break;
      case CTA_TUPLE_REPLY:
        NN_TRY(parseTuple(a, flow.family, &flow.reply, &replyProto, "reply"));
        haveReply = true;
        break;
      case CTA_STATUS: {
        NN_ASSIGN_OR_RETURN(flow.status, u32Attr(a, "CTA_STATUS"));
        break;
      }
      case CTA_TIMEOUT: {
        NN_ASSIGN_OR_RETURN(flow.timeout, u32Attr(a, "CTA_TIMEOUT"));
        break;
      }
      case CTA_MARK: {
        NN_ASSIGN_OR_RETURN(flow.mark, u32Attr(a, "CTA_MARK"));
        break;
      }
      case CTA_ID: {
        NN_ASSIGN_OR_RETURN(flow.id, u32Attr(a, "CTA_ID"));
        break;
      }
      case CTA_ZONE:
        if (mnl_attr_validate(a, MNL_TYPE_U16) < 0) return Error("conntrack message: bad CTA_ZONE attribute");
        flow.zone = ntohs(mnl_attr_get_u16(a));
        break;
      default:
        break;  // counters, helpers, labels, timestamps: not needed
    }
  }
  if (!haveOrig) return Error("conntrack message: no original tuple");
  if (haveReply && replyProto != flow.l4proto)
    return Error(strCat("conntrack message: reply protocol ", int(replyProto), " differs from original ",
                        int(flow.l4proto)));
  return flow;
}

}  // namespace nodenet::conntrack::wire
