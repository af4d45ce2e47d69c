// NetlinkKernel: sends encoded batches and reads nftables objects back. The batch protocol follows nft
// (nftables src/mnl.c): extended acks on, one sendmsg for the whole batch, every ack drained, each error
// mapped to its operation by seq.
#include "netlink/nft/netlink_kernel.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>

#include "base/log.h"
#include "netlink/nfnl_socket.h"
#include "netlink/nft/encode.h"

namespace nodenet::nft {
namespace {

// Receive buffer for acks and dump replies. The kernel sizes dump datagrams to at most 32 KiB
// (netlink_dump caps max_recvmsg_len); 256 KiB leaves room and is allocated once per call.
constexpr size_t kRecvBufferSize = 256 * 1024;
// Socket receive buffer: error acks of a failing 100k-operation batch must fit without ENOBUFS. With
// NETLINK_CAP_ACK an error ack is ~100 bytes of payload but ~1 KiB of skb truesize; 16 MiB keeps ~16k.
constexpr int kRcvBufBytes = 16 * 1024 * 1024;
// Extra send buffer beyond the batch: the kernel rejects a datagram longer than sk_sndbuf - 32
// (netlink_sendmsg), and skb overhead counts against it.
constexpr size_t kSndBufSlack = 64 * 1024;
// How many errors beyond the first a commit error message lists.
constexpr size_t kMaxReportedErrors = 3;

struct SetOps {
  void operator()(nftnl_table* p) const { nftnl_table_free(p); }
  void operator()(nftnl_chain* p) const { nftnl_chain_free(p); }
  void operator()(nftnl_set* p) const { nftnl_set_free(p); }
  void operator()(nftnl_rule* p) const { nftnl_rule_free(p); }
  void operator()(nftnl_set_elems_iter* p) const { nftnl_set_elems_iter_destroy(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, SetOps>;

template <typename T>
T* checkAlloc(T* p) {
  if (!p) NN_LOG(Fatal) << "libnftnl allocation failed";
  return p;
}

/// Finds a string TLV of the given type in nftnl userdata (u8 type, u8 len, value).
std::optional<std::string> udataString(const void* data, uint32_t len, uint8_t type) {
  const auto* p = static_cast<const uint8_t*>(data);
  const auto* end = p + len;
  while (p && end - p >= 2) {
    uint8_t t = p[0], l = p[1];
    if (end - p - 2 < l) break;
    if (t == type) {
      std::string s(reinterpret_cast<const char*>(p + 2), l);
      if (!s.empty() && s.back() == '\0') s.pop_back();
      return s;
    }
    p += 2 + l;
  }
  return std::nullopt;
}

std::optional<DataType> dataTypeFromKernel(uint32_t id) {
  for (uint8_t i = 0; i <= static_cast<uint8_t>(DataType::EtherAddr); ++i)
    if (dataTypeInfo(static_cast<DataType>(i)).kernelType == id) return static_cast<DataType>(i);
  return std::nullopt;
}

/// Splits nft's composed type id back into parts, using the key length to know how many parts there are.
Result<KeyType> keyTypeFromKernel(uint32_t id, uint32_t keyLen, const std::string& set) {
  KeyType parts;
  std::vector<DataType> rev;
  uint32_t rest = id;
  while (rest) {
    auto t = dataTypeFromKernel(rest & ((1u << kTypeBits) - 1));
    if (!t) return Error(strCat("set ", set, ": unsupported key type id ", id));
    rev.push_back(*t);
    rest >>= kTypeBits;
  }
  for (auto it = rev.rbegin(); it != rev.rend(); ++it) parts.push_back(*it);
  if (parts.empty() || parts.overflowed() || keyTypeLen(parts) != keyLen)
    return Error(strCat("set ", set, ": key type id ", id, " does not match key length ", keyLen));
  return parts;
}

Key decodeKey(const KeyType& type, const uint8_t* data, size_t len) {
  Key key;
  if (type.size() == 1) {
    key.push_back(Value::decode(type[0], data, len));
    return key;
  }
  size_t off = 0;
  for (DataType t : type) {
    size_t n = dataTypeInfo(t).len;
    if (off + n > len) break;
    key.push_back(Value::decode(t, data + off, n));
    off += roundUpReg(n);
  }
  return key;
}

std::optional<Hook> hookFromKernel(uint32_t n) {
  switch (n) {
    case NF_INET_PRE_ROUTING: return Hook::Prerouting;
    case NF_INET_LOCAL_IN: return Hook::Input;
    case NF_INET_FORWARD: return Hook::Forward;
    case NF_INET_LOCAL_OUT: return Hook::Output;
    case NF_INET_POST_ROUTING: return Hook::Postrouting;
  }
  return std::nullopt;
}

std::optional<VerdictKind> verdictFromKernel(int32_t code) {
  switch (code) {
    case NF_ACCEPT: return VerdictKind::Accept;
    case NF_DROP: return VerdictKind::Drop;
    case NFT_CONTINUE: return VerdictKind::Continue;
    case NFT_RETURN: return VerdictKind::Return;
    case NFT_JUMP: return VerdictKind::Jump;
    case NFT_GOTO: return VerdictKind::Goto;
  }
  return std::nullopt;
}

/// One error ack: the seq it answers, the errno and the kernel's extended-ack message.
struct AckError {
  uint32_t seq;
  int err;
  std::string kernelMsg;
};

/// Parses an NLMSG_ERROR. Returns the errno (0 for a success ack) and fills the extack message.
int parseAck(const nlmsghdr* nlh, std::string* kernelMsg) {
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EBADMSG;
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    size_t off = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - sizeof(nlmsghdr);
    size_t total = mnl_nlmsg_get_payload_len(nlh);
    if (off < total) {
      const auto* base = reinterpret_cast<const nlattr*>(static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + off);
      const nlattr* attr;
      mnl_attr_for_each_payload(base, total - off) {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG) {
          *kernelMsg = mnl_attr_get_str(attr);
        } else if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS && kernelMsg->empty()) {
          *kernelMsg = strCat("bad attribute at offset ", mnl_attr_get_u32(attr));
        }
      }
    }
  }
  return -err->error;
}

Status setBuf(int fd, int forceOpt, int opt, int bytes, const char* what) {
  // The FORCE variants (CAP_NET_ADMIN) ignore net.core.[rw]mem_max; fall back when not permitted.
  if (setsockopt(fd, SOL_SOCKET, forceOpt, &bytes, sizeof bytes) == 0) return okStatus();
  if (setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes) == 0) return okStatus();
  return Error::fromErrno(errno, strCat("nft socket: set ", what, " to ", bytes));
}

}  // namespace

Result<std::unique_ptr<NetlinkKernel>> NetlinkKernel::create(const std::string& netnsPath) {
  NN_ASSIGN_OR_RETURN(mnl_socket * nl, netlink::openNetfilterSocket(netnsPath, kRcvBufBytes, "nft socket"));
  return std::unique_ptr<NetlinkKernel>(new NetlinkKernel(nl));
}

NetlinkKernel::NetlinkKernel(mnl_socket* nl)
    : nl_(nl), portId_(mnl_socket_get_portid(nl)), seq_(static_cast<uint32_t>(time(nullptr))) {}

NetlinkKernel::~NetlinkKernel() { mnl_socket_close(nl_); }

Status NetlinkKernel::commit(const Transaction& tx) {
  if (!tx.ok()) return Error("nft commit: refusing an invalid transaction: " + tx.status().error().message());
  if (tx.empty()) return okStatus();
  std::lock_guard<std::mutex> lock(mu_);
  NN_ASSIGN_OR_RETURN(EncodedBatch batch, encodeBatch(tx, seq_));
  seq_ = batch.lastSeq + 1;
  int fd = mnl_socket_get_fd(nl_);

  size_t want = batch.buffer.size() + kSndBufSlack;
  if (want > static_cast<size_t>(sndbuf_)) {
    NN_TRY(setBuf(fd, SO_SNDBUFFORCE, SO_SNDBUF, static_cast<int>(want), "SO_SNDBUF"));
    sndbuf_ = static_cast<int>(want);
  }

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  iovec iov{const_cast<char*>(batch.buffer.data()), batch.buffer.size()};
  msghdr msg{};
  msg.msg_name = &kernel;
  msg.msg_namelen = sizeof kernel;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t sent;
  do {
    sent = sendmsg(fd, &msg, 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Error::fromErrno(errno, strCat("nft commit: sendmsg of ", batch.buffer.size(), " bytes"));
  if (static_cast<size_t>(sent) != batch.buffer.size())
    return Error(strCat("nft commit: short sendmsg (", sent, " of ", batch.buffer.size(), " bytes)"));

  // The kernel processes the batch synchronously inside sendmsg, so every ack is queued by now: drain
  // without blocking until the socket is empty.
  std::vector<char> buf(kRecvBufferSize);
  std::vector<AckError> errors;
  bool sawFinalAck = false, overflow = false;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {  // acks were dropped: only errors are acked, so the batch failed
        overflow = true;
        continue;
      }
      return Error::fromErrno(errno, "nft commit: reading acks");
    }
    auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    int len = static_cast<int>(n);
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      if (nlh->nlmsg_seq < batch.firstSeq || nlh->nlmsg_seq > batch.lastSeq) continue;  // not this batch
      std::string kmsg;
      int err = parseAck(nlh, &kmsg);
      if (nlh->nlmsg_seq == batch.ackSeq) sawFinalAck = true;
      if (err != 0) errors.push_back({nlh->nlmsg_seq, err, std::move(kmsg)});
    }
  }

  if (errors.empty() && !overflow) {
    if (!sawFinalAck) return Error("nft commit: the kernel did not acknowledge the batch");
    NN_VLOG(4) << "nft commit: " << tx.size() << " operations, " << batch.buffer.size() << " bytes";
    return okStatus();
  }
  if (errors.empty()) return Error("nft commit: batch failed; its error acks overflowed the socket buffer", ENOBUFS);

  auto describe = [&](const AckError& e) {
    int32_t op = batch.operationFor(e.seq);
    std::string what = op < 0 ? std::string("batch")
                              : strCat(verbName(tx.operations()[op].verb), " ", tx.describe(tx.operations()[op]));
    std::string s = strCat(what, ": ", strerror(e.err), " (errno ", e.err, ")");
    if (!e.kernelMsg.empty()) s += " (kernel: " + e.kernelMsg + ")";
    return s;
  };
  std::string msgText = "nft commit failed, nothing applied: " + describe(errors[0]);
  if (errors.size() > 1) {
    msgText += strCat("; ", errors.size() - 1, " more error(s)");
    for (size_t i = 1; i < errors.size() && i <= kMaxReportedErrors; ++i) msgText += "; " + describe(errors[i]);
  }
  return Error(msgText, errors[0].err);
}

// --------------------------------------------------------------------------------------------------------
// Reading

namespace {

using MsgCallback = std::function<Status(const nlmsghdr*)>;

struct CbData {
  const MsgCallback* cb;
  Status status;
};

int trampoline(const nlmsghdr* nlh, void* data) {
  auto* d = static_cast<CbData*>(data);
  Status st = (*d->cb)(nlh);
  if (!st.ok()) {
    d->status = std::move(st);
    return MNL_CB_ERROR;
  }
  return MNL_CB_OK;
}

/// Sends one GET request and feeds every reply message to cb until the dump ends or the ack arrives.
Status request(mnl_socket* nl, uint32_t portId, nlmsghdr* nlh, const std::string& what, const MsgCallback& cb) {
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return Error::fromErrno(errno, what + ": send");
  std::vector<char> buf(kRecvBufferSize);
  CbData data{&cb, okStatus()};
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno(errno, what + ": recv");
    }
    int ret = mnl_cb_run(buf.data(), n, nlh->nlmsg_seq, portId, trampoline, &data);
    if (ret == MNL_CB_STOP) return okStatus();
    if (ret == MNL_CB_ERROR) {
      if (!data.status.ok()) return data.status;
      return Error::fromErrno(errno, what);
    }
  }
}

}  // namespace

Result<bool> NetlinkKernel::hasTable(Family family, const std::string& table) {
  std::lock_guard<std::mutex> lock(mu_);
  Ptr<nftnl_table> t(checkAlloc(nftnl_table_alloc()));
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, static_cast<uint16_t>(family), NLM_F_ACK, seq_++);
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  Status st = request(nl_, portId_, nlh, strCat("get table ", familyName(family), " ", table),
                      [](const nlmsghdr*) { return okStatus(); });
  if (!st.ok() && st.error().sysErrno() == ENOENT) return false;
  if (!st.ok()) return st.error();
  return true;
}

Result<std::vector<Chain>> NetlinkKernel::listChains(Family family, const std::string& table) {
  NN_ASSIGN_OR_RETURN(bool exists, hasTable(family, table));
  if (!exists) return Error::fromErrno(ENOENT, strCat("list chains of table ", familyName(family), " ", table));
  std::lock_guard<std::mutex> lock(mu_);
  Ptr<nftnl_chain> filter(checkAlloc(nftnl_chain_alloc()));
  nftnl_chain_set_str(filter.get(), NFTNL_CHAIN_TABLE, table.c_str());
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, static_cast<uint16_t>(family), NLM_F_DUMP, seq_++);
  nftnl_chain_nlmsg_build_payload(nlh, filter.get());
  std::vector<Chain> out;
  NN_TRY(request(nl_, portId_, nlh, "list chains of table " + table, [&](const nlmsghdr* m) -> Status {
    Ptr<nftnl_chain> c(checkAlloc(nftnl_chain_alloc()));
    if (nftnl_chain_nlmsg_parse(m, c.get()) < 0) return Error("list chains: cannot parse a chain");
    if (table != nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE)) return okStatus();
    Chain chain;
    chain.name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)) {
      BaseChain b;
      b.hook = hookFromKernel(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM)).value_or(Hook::Prerouting);
      b.priority = nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO);
      std::string type = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE) : "filter";
      b.type = type == "nat" ? ChainType::Nat : type == "route" ? ChainType::Route : ChainType::Filter;
      b.policy = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_POLICY) &&
                         nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY) == NF_DROP
                     ? Policy::Drop
                     : Policy::Accept;
      chain.base = b;
    }
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_USERDATA)) {
      uint32_t len = 0;
      const void* ud = nftnl_chain_get_data(c.get(), NFTNL_CHAIN_USERDATA, &len);
      chain.comment = udataString(ud, len, NFTNL_UDATA_CHAIN_COMMENT);
    }
    out.push_back(std::move(chain));
    return okStatus();
  }));
  return out;
}

namespace {

Result<Set> setFromKernel(nftnl_set* s) {
  Set set;
  set.name = nftnl_set_get_str(s, NFTNL_SET_NAME);
  uint32_t kflags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
  NN_ASSIGN_OR_RETURN(set.key, keyTypeFromKernel(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
                                                 nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), set.name));
  if (kflags & NFT_SET_MAP) {
    uint32_t dt = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
    if (dt == NFT_DATA_VERDICT) {
      set.data = DataType::Verdict;
    } else if (dt >> kTypeBits) {  // a concatenation (`: ipv4_addr . inet_service`)
      NN_ASSIGN_OR_RETURN(set.dataConcat,
                          keyTypeFromKernel(dt, nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN), set.name));
    } else {
      auto t = dataTypeFromKernel(dt);
      if (!t) return Error(strCat("map ", set.name, ": unsupported data type id ", dt));
      set.data = *t;
    }
  }
  if (kflags & NFT_SET_CONSTANT) set.flags |= kSetConstant;
  if (kflags & NFT_SET_INTERVAL) set.flags |= kSetInterval;
  if (kflags & NFT_SET_TIMEOUT) set.flags |= kSetTimeout;
  if (kflags & NFT_SET_EVAL) set.flags |= kSetDynamic;
  if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT)) {
    uint64_t ms = nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT);
    if (ms) set.timeoutSec = static_cast<uint32_t>(ms / 1000);
  }
  if (nftnl_set_is_set(s, NFTNL_SET_USERDATA)) {
    uint32_t len = 0;
    const void* ud = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);
    set.comment = udataString(ud, len, NFTNL_UDATA_SET_COMMENT);
  }
  return set;
}

}  // namespace

Result<std::vector<Set>> NetlinkKernel::listSets(Family family, const std::string& table) {
  NN_ASSIGN_OR_RETURN(bool exists, hasTable(family, table));
  if (!exists) return Error::fromErrno(ENOENT, strCat("list sets of table ", familyName(family), " ", table));
  std::lock_guard<std::mutex> lock(mu_);
  Ptr<nftnl_set> filter(checkAlloc(nftnl_set_alloc()));
  nftnl_set_set_str(filter.get(), NFTNL_SET_TABLE, table.c_str());
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, static_cast<uint16_t>(family), NLM_F_DUMP, seq_++);
  nftnl_set_nlmsg_build_payload(nlh, filter.get());
  std::vector<Set> out;
  NN_TRY(request(nl_, portId_, nlh, "list sets of table " + table, [&](const nlmsghdr* m) -> Status {
    Ptr<nftnl_set> s(checkAlloc(nftnl_set_alloc()));
    if (nftnl_set_nlmsg_parse(m, s.get()) < 0) return Error("list sets: cannot parse a set");
    if (table != nftnl_set_get_str(s.get(), NFTNL_SET_TABLE)) return okStatus();
    if (nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS) return okStatus();
    NN_ASSIGN_OR_RETURN(Set set, setFromKernel(s.get()));
    out.push_back(std::move(set));
    return okStatus();
  }));
  return out;
}

Result<Set> NetlinkKernel::getSet(Family family, const std::string& table, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Ptr<nftnl_set> req(checkAlloc(nftnl_set_alloc()));
  nftnl_set_set_str(req.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(req.get(), NFTNL_SET_NAME, name.c_str());
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, static_cast<uint16_t>(family), NLM_F_ACK, seq_++);
  nftnl_set_nlmsg_build_payload(nlh, req.get());
  std::optional<Set> found;
  NN_TRY(request(nl_, portId_, nlh, strCat("get set ", name, " in table ", familyName(family), " ", table),
                 [&](const nlmsghdr* m) -> Status {
                   Ptr<nftnl_set> s(checkAlloc(nftnl_set_alloc()));
                   if (nftnl_set_nlmsg_parse(m, s.get()) < 0) return Error("get set: cannot parse the set");
                   NN_ASSIGN_OR_RETURN(Set set, setFromKernel(s.get()));
                   found = std::move(set);
                   return okStatus();
                 }));
  if (!found) return Error::fromErrno(ENOENT, "get set " + name);
  return *found;
}

Result<std::vector<Element>> NetlinkKernel::listElements(Family family, const std::string& table,
                                                         const std::string& set) {
  NN_ASSIGN_OR_RETURN(Set def, getSet(family, table, set));
  std::lock_guard<std::mutex> lock(mu_);
  Ptr<nftnl_set> req(checkAlloc(nftnl_set_alloc()));
  nftnl_set_set_str(req.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(req.get(), NFTNL_SET_NAME, set.c_str());
  nftnl_set_set_u32(req.get(), NFTNL_SET_FAMILY, static_cast<uint32_t>(family));
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, static_cast<uint16_t>(family), NLM_F_DUMP, seq_++);
  nftnl_set_elems_nlmsg_build_payload(nlh, req.get());
  std::vector<Element> out;
  NN_TRY(request(nl_, portId_, nlh, strCat("list elements of ", def.kindName(), " ", set), [&](const nlmsghdr* m) -> Status {
    Ptr<nftnl_set> s(checkAlloc(nftnl_set_alloc()));
    if (nftnl_set_elems_nlmsg_parse(m, s.get()) < 0) return Error("list elements: cannot parse");
    Ptr<nftnl_set_elems_iter> it(checkAlloc(nftnl_set_elems_iter_create(s.get())));
    for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it.get()); e; e = nftnl_set_elems_iter_next(it.get())) {
      Element el;
      el.set = set;
      uint32_t len = 0;
      const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
      if (!key) continue;
      el.key = decodeKey(def.key, static_cast<const uint8_t*>(key), len);
      if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
        auto kind = verdictFromKernel(static_cast<int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)));
        if (kind) {
          Verdict v{*kind, {}};
          if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)) v.chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
          el.verdict = std::move(v);
        }
      } else if (!def.dataConcat.empty() && nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
        const void* d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
        el.dataConcat = decodeKey(def.dataConcat, static_cast<const uint8_t*>(d), len);
      } else if (def.data && nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
        const void* d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
        el.value = Value::decode(*def.data, static_cast<const uint8_t*>(d), len);
      }
      if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT)) {
        uint64_t ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
        // Elements without their own timeout report the set's default; keep only explicit ones.
        if (ms && (!def.timeoutSec || ms != uint64_t(*def.timeoutSec) * 1000)) el.timeoutSec = static_cast<uint32_t>(ms / 1000);
      }
      if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
        const void* ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
        el.comment = udataString(ud, len, NFTNL_UDATA_SET_ELEM_COMMENT);
      }
      out.push_back(std::move(el));
    }
    return okStatus();
  }));
  return out;
}

Result<std::vector<Rule>> NetlinkKernel::listRules(Family family, const std::string& table, const std::string& chain) {
  NN_ASSIGN_OR_RETURN(std::vector<Chain> chains, listChains(family, table));
  bool found = false;
  for (const Chain& c : chains) found = found || c.name == chain;
  if (!found) return Error::fromErrno(ENOENT, strCat("list rules of chain ", chain, " in table ", table));
  std::lock_guard<std::mutex> lock(mu_);
  Ptr<nftnl_rule> filter(checkAlloc(nftnl_rule_alloc()));
  nftnl_rule_set_str(filter.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(filter.get(), NFTNL_RULE_CHAIN, chain.c_str());
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, static_cast<uint16_t>(family), NLM_F_DUMP, seq_++);
  nftnl_rule_nlmsg_build_payload(nlh, filter.get());
  std::vector<Rule> out;
  NN_TRY(request(nl_, portId_, nlh, "list rules of chain " + chain, [&](const nlmsghdr* m) -> Status {
    Ptr<nftnl_rule> r(checkAlloc(nftnl_rule_alloc()));
    if (nftnl_rule_nlmsg_parse(m, r.get()) < 0) return Error("list rules: cannot parse a rule");
    if (table != nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE) || chain != nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN))
      return okStatus();
    Rule rule;
    rule.chain = chain;
    rule.handle = nftnl_rule_get_u64(r.get(), NFTNL_RULE_HANDLE);
    if (nftnl_rule_is_set(r.get(), NFTNL_RULE_USERDATA)) {
      uint32_t len = 0;
      const void* ud = nftnl_rule_get_data(r.get(), NFTNL_RULE_USERDATA, &len);
      rule.comment = udataString(ud, len, NFTNL_UDATA_RULE_COMMENT);
    }
    out.push_back(std::move(rule));
    return okStatus();
  }));
  return out;
}

}  // namespace nodenet::nft
