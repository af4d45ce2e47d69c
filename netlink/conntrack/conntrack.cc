// Conntrack over a raw NETLINK_NETFILTER socket (libmnl). See conntrack.h for the contract.
#include "netlink/conntrack/conntrack.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "base/log.h"
#include "base/strings.h"
#include "netlink/conntrack/message.h"
#include "netlink/nfnl_socket.h"

namespace nodenet::conntrack {
namespace {

// Receive buffer per recv call: the kernel sizes dump datagrams to at most 32 KiB (netlink_dump caps
// max_recvmsg_len); 64 KiB leaves room.
constexpr size_t kRecvBufferSize = 64 * 1024;
// Socket receive buffer: a dump of 100k flows is paced by our reads, but the acks of a whole delete chunk
// arrive at once; each capped ack costs ~1 KiB of skb truesize. 4 MiB keeps thousands.
constexpr int kRcvBufBytes = 4 * 1024 * 1024;
// Delete requests per sendmsg: ~80 (IPv4) to ~110 (IPv6) bytes each, so 256 fit well below the default
// 208 KiB SO_SNDBUF (the kernel rejects a datagram longer than sk_sndbuf - 32).
constexpr size_t kDeleteChunk = 256;
// A dump whose reply is lost to ENOBUFS (a receive-buffer overrun) is restarted this many times.
constexpr int kDumpAttempts = 3;
// Bound on any single recv: the kernel answers ctnetlink requests synchronously, so silence this long means
// something is wrong, and a proxy sync must not hang on it.
constexpr int kRecvTimeoutSeconds = 5;
// How many failing flows beyond the first an error message names.
constexpr size_t kMaxReportedErrors = 3;

const char* familyName(IpFamily f) { return f == IpFamily::V4 ? "ipv4" : "ipv6"; }

std::string protoName(uint8_t p) {
  switch (p) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_SCTP: return "sctp";
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_ICMPV6: return "icmpv6";
  }
  return strCat("proto ", int(p));
}

std::string endpoint(const IpAddress& a, uint16_t port, IpFamily f) {
  if (f == IpFamily::V6) return strCat("[", a.toString(), "]:", port);
  return strCat(a.toString(), ":", port);
}

Status sendAll(mnl_socket* nl, const std::vector<uint8_t>& buf, const char* what) {
  ssize_t n = mnl_socket_sendto(nl, buf.data(), buf.size());
  if (n < 0) return Error::fromErrno(errno, strCat("conntrack ", what, ": send"));
  if (static_cast<size_t>(n) != buf.size())
    return Error(strCat("conntrack ", what, ": short send (", n, " of ", buf.size(), " bytes)"));
  return okStatus();
}

}  // namespace

std::string Flow::toString() const {
  return strCat(protoName(l4proto), " ", endpoint(orig.src, orig.srcPort, family), " -> ",
                endpoint(orig.dst, orig.dstPort, family), " reply ", endpoint(reply.src, reply.srcPort, family),
                " -> ", endpoint(reply.dst, reply.dstPort, family), zone ? strCat(" zone ", zone) : "");
}

bool FlowFilter::matches(const Flow& flow) const {
  if (flow.family != family || flow.l4proto != static_cast<uint8_t>(l4proto)) return false;
  if (origDst && flow.orig.dst != *origDst) return false;
  if (origDstPort && flow.orig.dstPort != *origDstPort) return false;
  if (replySrc && flow.reply.src != *replySrc) return false;
  if (replySrcPort && flow.reply.srcPort != *replySrcPort) return false;
  if (replySrcNotIn)
    for (const IpAddress& a : *replySrcNotIn)
      if (flow.reply.src == a) return false;
  return true;
}

Status FlowFilter::validate() const {
  if (origDst && origDst->family() != family)
    return Error(strCat("conntrack filter ", toString(), ": origDst ", origDst->toString(), " is not ",
                        familyName(family)));
  if (replySrc && replySrc->family() != family)
    return Error(strCat("conntrack filter ", toString(), ": replySrc ", replySrc->toString(), " is not ",
                        familyName(family)));
  if (replySrcNotIn)
    for (const IpAddress& a : *replySrcNotIn)
      if (a.family() != family)
        return Error(strCat("conntrack filter ", toString(), ": replySrcNotIn ", a.toString(), " is not ",
                            familyName(family)));
  return okStatus();
}

std::string FlowFilter::toString() const {
  std::string s = strCat(l4ProtoName(l4proto), " ", familyName(family));
  if (origDst) s += " origDst=" + origDst->toString();
  if (origDstPort) s += strCat(" origDstPort=", *origDstPort);
  if (replySrc) s += " replySrc=" + replySrc->toString();
  if (replySrcPort) s += strCat(" replySrcPort=", *replySrcPort);
  if (replySrcNotIn) {
    s += " replySrcNotIn={";
    for (size_t i = 0; i < replySrcNotIn->size(); ++i) s += (i ? "," : "") + (*replySrcNotIn)[i].toString();
    s += "}";
  }
  return s;
}

Result<std::unique_ptr<Conntrack>> Conntrack::create(const std::string& netnsPath) {
  NN_ASSIGN_OR_RETURN(mnl_socket * nl, netlink::openNetfilterSocket(netnsPath, kRcvBufBytes, "conntrack socket"));
  timeval tv{kRecvTimeoutSeconds, 0};
  if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
    NN_LOG(Warning) << "conntrack socket: SO_RCVTIMEO: " << strerror(errno);
  return std::unique_ptr<Conntrack>(new Conntrack(nl));
}

Conntrack::Conntrack(mnl_socket* nl)
    : nl_(nl), portId_(mnl_socket_get_portid(nl)), seq_(static_cast<uint32_t>(time(nullptr))) {}

Conntrack::~Conntrack() { mnl_socket_close(nl_); }

Result<std::vector<Flow>> Conntrack::dumpLocked(IpFamily family, uint8_t l4proto) {
  std::vector<uint8_t> buf(kRecvBufferSize);
  for (int attempt = 1;; ++attempt) {
    uint32_t seq = seq_++;
    std::vector<uint8_t> req;
    wire::appendDumpRequest(req, family, seq, l4proto);
    NN_TRY(sendAll(nl_, req, "dump"));

    struct Ctx {
      std::vector<Flow> flows;
      size_t skipped = 0;
    } ctx;
    auto cb = [](const nlmsghdr* nlh, void* data) -> int {
      auto* c = static_cast<Ctx*>(data);
      Result<Flow> f = wire::parseFlowMessage(nlh, nlh->nlmsg_len);
      if (f.ok()) {
        c->flows.push_back(std::move(*f));
      } else {
        // One unparsable entry must not hide all others from a cleanup; say so and go on.
        if (c->skipped++ == 0) NN_LOG(Warning) << "conntrack dump: skipping an entry: " << f.error().message();
      }
      return MNL_CB_OK;
    };
    int rc = MNL_CB_OK;
    int err = 0;
    while (rc > MNL_CB_STOP) {
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portId_, cb, &ctx);
      if (rc == MNL_CB_ERROR) err = errno;
    }
    if (err == 0) {
      if (ctx.skipped > 1) NN_LOG(Warning) << "conntrack dump: skipped " << ctx.skipped << " unparsable entries";
      return std::move(ctx.flows);
    }
    if (err == ENOBUFS && attempt < kDumpAttempts) {
      // The rest of the interrupted dump may still be queued, and mnl_cb_run would reject its stale seq
      // (ESRCH), so drain without blocking before asking again.
      NN_LOG(Warning) << "conntrack dump " << familyName(family) << " " << protoName(l4proto)
                      << ": receive buffer overrun, restarting";
      while (recv(mnl_socket_get_fd(nl_), buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
      }
      continue;
    }
    return Error::fromErrno(err, strCat("conntrack dump ", familyName(family), " ", protoName(l4proto)));
  }
}

Result<size_t> Conntrack::deleteLocked(const std::vector<Flow>& flows) {
  size_t deleted = 0;
  std::vector<std::string> failures;
  int firstErrno = 0;
  std::vector<uint8_t> req;
  std::vector<uint8_t> buf(kRecvBufferSize);
  for (size_t start = 0; start < flows.size(); start += kDeleteChunk) {
    size_t count = std::min(kDeleteChunk, flows.size() - start);
    uint32_t firstSeq = seq_;
    seq_ += static_cast<uint32_t>(count);
    req.clear();
    for (size_t i = 0; i < count; ++i) wire::appendDeleteRequest(req, flows[start + i], firstSeq + i);
    NN_TRY(sendAll(nl_, req, "delete"));

    // The kernel processes the datagram's messages in order and acks each (NLM_F_ACK), success or not.
    std::vector<bool> acked(count, false);
    size_t pending = count;
    while (pending > 0) {
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::fromErrno(errno, strCat("conntrack delete: waiting for ", pending, " acks of ", count));
      }
      size_t len = static_cast<size_t>(n);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, static_cast<int>(len));
           nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&len))) {
        if (nlh->nlmsg_type != NLMSG_ERROR) continue;
        uint32_t idx = nlh->nlmsg_seq - firstSeq;
        if (idx >= count || acked[idx]) continue;  // a stale ack of an earlier, abandoned request
        acked[idx] = true;
        --pending;
        int e = 0;
        if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)))
          e = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        else
          e = EBADMSG;
        if (e == 0) {
          ++deleted;
        } else if (e != ENOENT) {  // ENOENT: the flow expired or was deleted meanwhile, which is the goal
          if (firstErrno == 0) firstErrno = e;
          failures.push_back(strCat(flows[start + idx].toString(), ": ", strerror(e), " (errno ", e, ")"));
        }
      }
    }
  }
  if (!failures.empty()) {
    std::string msg = strCat("conntrack delete ", failures.front());
    if (failures.size() > 1) {
      std::vector<std::string> more(failures.begin() + 1,
                                    failures.begin() + std::min(failures.size(), kMaxReportedErrors + 1));
      msg += strCat("; also ", join(more, "; "));
      if (failures.size() > kMaxReportedErrors + 1)
        msg += strCat(" and ", failures.size() - kMaxReportedErrors - 1, " more");
    }
    msg += strCat(" (", deleted, " of ", flows.size(), " deleted)");
    return Error(msg, firstErrno);
  }
  return deleted;
}

Result<std::vector<Flow>> Conntrack::list(const FlowFilter& filter) {
  NN_TRY(filter.validate());
  std::lock_guard<std::mutex> lock(mu_);
  NN_ASSIGN_OR_RETURN(std::vector<Flow> all, dumpLocked(filter.family, static_cast<uint8_t>(filter.l4proto)));
  std::vector<Flow> out;
  for (Flow& f : all)
    if (filter.matches(f)) out.push_back(std::move(f));
  return out;
}

Result<size_t> Conntrack::deleteFlows(const FlowFilter& filter) {
  return deleteFlows(std::vector<FlowFilter>{filter});
}

Result<size_t> Conntrack::deleteFlows(const std::vector<FlowFilter>& filters) {
  for (const FlowFilter& f : filters) NN_TRY(f.validate());
  if (filters.empty()) return size_t{0};
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Flow> doomed;
  std::set<std::pair<IpFamily, L4Proto>> dumps;
  for (const FlowFilter& f : filters) dumps.insert({f.family, f.l4proto});
  for (auto [family, proto] : dumps) {
    NN_ASSIGN_OR_RETURN(std::vector<Flow> all, dumpLocked(family, static_cast<uint8_t>(proto)));
    for (Flow& flow : all) {
      if (std::any_of(filters.begin(), filters.end(), [&](const FlowFilter& f) { return f.matches(flow); }))
        doomed.push_back(std::move(flow));
    }
  }
  NN_VLOG(4) << "conntrack: " << doomed.size() << " flows match " << filters.size() << " filters";
  return deleteLocked(doomed);
}

Result<size_t> Conntrack::deleteFlows(const std::vector<Flow>& flows) {
  std::lock_guard<std::mutex> lock(mu_);
  return deleteLocked(flows);
}

}  // namespace nodenet::conntrack
