#include "netlink/rtnl_socket.h"

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "base/log.h"
#include "base/strings.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace nodenet::netlink {

void NlSockDeleter::operator()(nl_sock* s) const {
  if (s) nl_socket_free(s);  // also closes the fd
}
void NlMsgDeleter::operator()(nl_msg* m) const {
  if (m) nlmsg_free(m);
}

NlMessage::NlMessage(const nlmsghdr* h) : buf_((h->nlmsg_len + 7) / 8) { std::memcpy(buf_.data(), h, h->nlmsg_len); }

NlMsgPtr newMessage(int type, int flags) {
  nl_msg* m = nlmsg_alloc_simple(type, flags);
  if (!m) NN_LOG(Fatal) << "nlmsg_alloc_simple: out of memory";
  return NlMsgPtr(m);
}

void putOrDie(int rc) {
  if (rc < 0) NN_LOG(Fatal) << "building netlink message: out of memory";
}

struct RtnlSocket::State {
  NlSockPtr sock;
  std::string label;
  std::mutex mu;
};

namespace {

// Receive-loop state for one request. Messages whose sequence number is not ours (leftovers of an earlier
// request that failed half-way) are skipped instead of being misattributed.
struct Exchange {
  uint32_t seq = 0;
  bool isDump = false;
  bool done = false;
  bool interrupted = false;
  int err = 0;
  std::string extack;
  std::vector<NlMessage> replies;
};

int onSeqCheck(nl_msg*, void*) { return NL_OK; }  // we match seq ourselves (below)

int onValid(nl_msg* msg, void* arg) {
  auto* ex = static_cast<Exchange*>(arg);
  const nlmsghdr* h = nlmsg_hdr(msg);
  if (h->nlmsg_seq != ex->seq) return NL_SKIP;
  ex->replies.emplace_back(h);
  return NL_OK;
}

int onFinish(nl_msg* msg, void* arg) {
  auto* ex = static_cast<Exchange*>(arg);
  const nlmsghdr* h = nlmsg_hdr(msg);
  if (h->nlmsg_seq != ex->seq) return NL_SKIP;
  // NLMSG_DONE may carry an error code (e.g. a dump that failed half-way).
  if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
    int code = 0;
    std::memcpy(&code, nlmsg_data(h), sizeof code);
    if (code < 0) ex->err = -code;
  }
  ex->done = true;
  return NL_STOP;
}

int onAck(nl_msg* msg, void* arg) {
  auto* ex = static_cast<Exchange*>(arg);
  if (nlmsg_hdr(msg)->nlmsg_seq != ex->seq) return NL_SKIP;
  ex->done = true;
  return NL_STOP;
}

int onDumpIntr(nl_msg* msg, void* arg) {
  auto* ex = static_cast<Exchange*>(arg);
  if (nlmsg_hdr(msg)->nlmsg_seq == ex->seq) ex->interrupted = true;
  return NL_OK;
}

// Extended ACK (NETLINK_EXT_ACK, kernel 4.12+): TLVs after the nlmsgerr carry a human message. With
// NETLINK_CAP_ACK the original request is not echoed, so the TLVs follow the nlmsgerr header directly.
std::string extackMessage(const nlmsgerr* e) {
  const auto* h = reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(e) - NLMSG_HDRLEN);
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - NLMSG_HDRLEN;
  if (off >= h->nlmsg_len) return "";
  auto* attrs = reinterpret_cast<nlattr*>(const_cast<char*>(reinterpret_cast<const char*>(h)) + off);
  int len = static_cast<int>(h->nlmsg_len - off);
  nlattr* a;
  int rem;
  nla_for_each_attr(a, attrs, len, rem) {
    if (nla_type(a) == NLMSGERR_ATTR_MSG && nla_len(a) > 0)
      return std::string(static_cast<const char*>(nla_data(a)), strnlen(static_cast<const char*>(nla_data(a)), nla_len(a)));
  }
  return "";
}

int onError(sockaddr_nl*, nlmsgerr* e, void* arg) {
  auto* ex = static_cast<Exchange*>(arg);
  if (e->msg.nlmsg_seq != ex->seq) return NL_SKIP;
  ex->err = -e->error;
  ex->extack = extackMessage(e);
  ex->done = true;
  return NL_STOP;
}

Error kernelError(int err, const std::string& extack, const std::string& what) {
  Error e = Error::fromErrno(err, what);
  if (extack.empty()) return e;
  return Error(strCat(e.message(), " (kernel: ", extack, ")"), e.sysErrno());
}

Result<NlSockPtr> openHere() {
  NlSockPtr sock(nl_socket_alloc());
  if (!sock) return Error("nl_socket_alloc: out of memory", ENOMEM);
  int rc = nl_connect(sock.get(), NETLINK_ROUTE);
  if (rc < 0) return Error(strCat("connect rtnetlink socket: ", nl_geterror(rc)), EIO);
  int fd = nl_socket_get_fd(sock.get());
  int one = 1;
  // Best effort: both exist since 4.12 / 4.3; without them errors just lack the kernel's text.
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  // Dumps of many links/routes arrive in bursts; a larger receive buffer avoids ENOBUFS.
  (void)nl_socket_set_buffer_size(sock.get(), 1 << 20, 1 << 20);
  return sock;
}

}  // namespace

RtnlSocket::RtnlSocket(std::unique_ptr<State> s) : state_(std::move(s)) {}
RtnlSocket::RtnlSocket(RtnlSocket&&) noexcept = default;
RtnlSocket& RtnlSocket::operator=(RtnlSocket&&) noexcept = default;
RtnlSocket::~RtnlSocket() = default;

Result<RtnlSocket> RtnlSocket::open(const Netns& ns) {
  NN_ASSIGN_OR_RETURN(NlSockPtr sock, runInNetnsFor<NlSockPtr>(ns, [] { return openHere(); }));
  auto st = std::make_unique<State>();
  st->sock = std::move(sock);
  st->label = ns.describe();
  return RtnlSocket(std::move(st));
}

Result<RtnlSocket> RtnlSocket::openCurrent() {
  NN_ASSIGN_OR_RETURN(NlSockPtr sock, openHere());
  auto st = std::make_unique<State>();
  st->sock = std::move(sock);
  st->label = "current netns";
  return RtnlSocket(std::move(st));
}

const std::string& RtnlSocket::netnsLabel() const { return state_->label; }

Result<std::vector<NlMessage>> RtnlSocket::transact(nl_msg* msg, bool isDump, bool* interrupted,
                                                    const std::string& what) {
  std::lock_guard<std::mutex> lock(state_->mu);
  nl_sock* sk = state_->sock.get();
  nlmsghdr* h = nlmsg_hdr(msg);
  h->nlmsg_flags |= NLM_F_REQUEST | (isDump ? NLM_F_DUMP : NLM_F_ACK);
  h->nlmsg_seq = NL_AUTO_SEQ;  // (re)assigned by nl_send_auto
  int rc = nl_send_auto(sk, msg);
  if (rc < 0) return Error(strCat(what, ": send: ", nl_geterror(rc)), EIO);

  Exchange ex;
  ex.seq = h->nlmsg_seq;
  ex.isDump = isDump;
  std::unique_ptr<nl_cb, void (*)(nl_cb*)> cb(nl_cb_alloc(NL_CB_DEFAULT), nl_cb_put);
  if (!cb) return Error(strCat(what, ": nl_cb_alloc: out of memory"), ENOMEM);
  nl_cb_set(cb.get(), NL_CB_SEQ_CHECK, NL_CB_CUSTOM, onSeqCheck, nullptr);
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, onValid, &ex);
  nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, onFinish, &ex);
  nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, onAck, &ex);
  nl_cb_set(cb.get(), NL_CB_DUMP_INTR, NL_CB_CUSTOM, onDumpIntr, &ex);
  nl_cb_err(cb.get(), NL_CB_CUSTOM, onError, &ex);

  while (!ex.done) {
    rc = nl_recvmsgs(sk, cb.get());
    if (rc < 0 && !ex.done) {
      // NLE_* codes are libnl's own; the kernel errno is only known via onError (handled above).
      return Error(strCat(what, ": receive: ", nl_geterror(rc)), rc == -NLE_NOMEM ? ENOBUFS : EIO);
    }
  }
  if (ex.err != 0) return kernelError(ex.err, ex.extack, what);
  if (interrupted) *interrupted = ex.interrupted;
  return std::move(ex.replies);
}

Status RtnlSocket::request(NlMsgPtr msg, const std::string& what) {
  NN_VLOG(5) << "rtnl request: " << what;
  NN_TRY(transact(msg.get(), false, nullptr, what));
  return okStatus();
}

Result<std::vector<NlMessage>> RtnlSocket::query(NlMsgPtr msg, const std::string& what) {
  return transact(msg.get(), false, nullptr, what);
}

Result<std::vector<NlMessage>> RtnlSocket::dump(NlMsgPtr msg, const std::string& what) {
  // The kernel sets NLM_F_DUMP_INTR when the table changed during a multi-part dump; the snapshot may then
  // miss or duplicate entries. A few retries make a consistent snapshot overwhelmingly likely.
  constexpr int kDumpAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    bool interrupted = false;
    NN_ASSIGN_OR_RETURN(auto replies, transact(msg.get(), true, &interrupted, what));
    if (!interrupted || attempt == kDumpAttempts) {
      if (interrupted) NN_LOG(Warning) << what << ": dump still interrupted after " << attempt << " attempts";
      return replies;
    }
  }
}

}  // namespace nodenet::netlink
