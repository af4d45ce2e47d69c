// An rtnetlink (NETLINK_ROUTE) socket bound to one network namespace, over libnl-3.
//
// A netlink socket talks to the namespace it was *created* in, whatever thread later uses it. open(ns)
// therefore creates the libnl socket on a short-lived thread inside ns (runInNetns); afterwards the socket can
// be used from any thread, and the caller never changes namespace. Calls are serialized by an internal mutex.
//
// The link/addr/route/bridge operations are free functions in link.h, addr.h, route.h taking an RtnlSocket&.
// This header keeps libnl out of its users: only forward declarations of its types appear here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "netlink/netns.h"

struct nl_sock;
struct nl_msg;
struct nlmsghdr;

namespace nodenet::netlink {

/// Deleters for the libnl handles we own (unique_ptr with these never calls into a null handle).
struct NlSockDeleter {
  void operator()(nl_sock* s) const;
};
struct NlMsgDeleter {
  void operator()(nl_msg* m) const;
};
using NlSockPtr = std::unique_ptr<nl_sock, NlSockDeleter>;
using NlMsgPtr = std::unique_ptr<nl_msg, NlMsgDeleter>;

/// One received netlink message, copied out of libnl's buffer (8-byte aligned storage).
class NlMessage {
 public:
  explicit NlMessage(const nlmsghdr* h);
  const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(buf_.data()); }

 private:
  std::vector<uint64_t> buf_;
};

class RtnlSocket {
 public:
  /// Creates an rtnetlink socket inside ns (on a dedicated thread) with extended ACK enabled, so kernel
  /// error strings reach our messages. Errors: setns or socket/connect failures, naming the namespace.
  static Result<RtnlSocket> open(const Netns& ns);
  /// A socket in the calling thread's current namespace.
  static Result<RtnlSocket> openCurrent();

  RtnlSocket(RtnlSocket&&) noexcept;
  RtnlSocket& operator=(RtnlSocket&&) noexcept;
  ~RtnlSocket();

  /// Where this socket lives, for messages ("netns /run/netns/x (fd 7)").
  const std::string& netnsLabel() const;

  /// Sends one request (NLM_F_ACK is added) and waits for its ACK. `what` names the operation for the error:
  /// "what: File exists (errno 17) (kernel: <extack message>)"; sysErrno() is the kernel's errno.
  Status request(NlMsgPtr msg, const std::string& what);
  /// Sends a request and returns the kernel's non-error replies (for "get" requests that answer with one
  /// object, e.g. RTM_GETLINK by name). Errors as for request().
  Result<std::vector<NlMessage>> query(NlMsgPtr msg, const std::string& what);
  /// Sends a dump request (NLM_F_DUMP is added) and collects every message until NLMSG_DONE. A dump that
  /// the kernel marks interrupted (NLM_F_DUMP_INTR: the table changed meanwhile) is retried a few times.
  Result<std::vector<NlMessage>> dump(NlMsgPtr msg, const std::string& what);

 private:
  struct State;
  explicit RtnlSocket(std::unique_ptr<State> s);
  Result<std::vector<NlMessage>> transact(nl_msg* msg, bool isDump, bool* interrupted, const std::string& what);
  std::unique_ptr<State> state_;
};

/// Allocates an nl_msg with a netlink header of the given type and flags (no payload). Aborts on ENOMEM.
NlMsgPtr newMessage(int type, int flags);
/// Checks the return of an nla_put*/nlmsg_append into a message from newMessage(): messages grow on demand,
/// so a failure is out of memory, and that aborts.
void putOrDie(int rc);

}  // namespace nodenet::netlink
