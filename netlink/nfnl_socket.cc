#include "netlink/nfnl_socket.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/strings.h"
#include "netlink/netns.h"

namespace nodenet::netlink {
namespace {

Result<mnl_socket*> openHere(int rcvBufBytes, std::string_view who) {
  mnl_socket* nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (!nl) return Error::fromErrno(errno, strCat(who, ": open NETLINK_NETFILTER"));
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    mnl_socket_close(nl);
    return Error::fromErrno(e, strCat(who, ": bind"));
  }
  int fd = mnl_socket_get_fd(nl);
  int on = 1;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on) != 0)
    NN_LOG(Warning) << who << ": NETLINK_EXT_ACK: " << strerror(errno);
  if (setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on) != 0)
    NN_LOG(Warning) << who << ": NETLINK_CAP_ACK: " << strerror(errno);
  // The FORCE variant (CAP_NET_ADMIN) ignores net.core.rmem_max; fall back when not permitted.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvBufBytes, sizeof rcvBufBytes) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvBufBytes, sizeof rcvBufBytes) != 0)
    NN_LOG(Warning) << who << ": SO_RCVBUF " << rcvBufBytes << ": " << strerror(errno);
  return nl;
}

}  // namespace

Result<mnl_socket*> openNetfilterSocket(const std::string& netnsPath, int rcvBufBytes, std::string_view who) {
  if (netnsPath.empty()) return openHere(rcvBufBytes, who);
  auto ns = Netns::open(netnsPath);
  if (!ns.ok()) return std::move(ns).error().context(std::string(who));
  return runInNetnsFor<mnl_socket*>(*ns, [&] { return openHere(rcvBufBytes, who); });
}

}  // namespace nodenet::netlink
