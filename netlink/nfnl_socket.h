// NETLINK_NETFILTER sockets (libmnl) for nftables (netlink/nft) and conntrack (netlink/conntrack): one place that
// opens them inside a network namespace and sets the options both need.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

struct mnl_socket;

namespace nodenet::netlink {

/// Opens and binds a NETLINK_NETFILTER socket in the namespace at `netnsPath` ("" = the caller's). The socket is
/// created on a runInNetns() thread, so no long-lived thread changes namespace; it keeps that namespace for
/// life. Extended acks (the kernel's reason) and capped acks (requests are not echoed back) are asked for, and
/// the receive buffer is raised to `rcvBufBytes` (SO_RCVBUFFORCE, else SO_RCVBUF; a warning when neither
/// works). Errors, prefixed with `who` ("nft socket"): open/bind failures, an unopenable namespace (named).
Result<mnl_socket*> openNetfilterSocket(const std::string& netnsPath, int rcvBufBytes, std::string_view who);

}  // namespace nodenet::netlink
