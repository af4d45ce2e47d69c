// ConntrackCleaner: how proxy/sync asks for stale UDP conntrack flows to be deleted (habit 6). The real one
// wraps netlink/conntrack (NETLINK_NETFILTER); tests use a recording fake.
//
// Why: UDP has no connection teardown, so a client that keeps sending to a Service keeps hitting the conntrack
// entry that DNATs it to an endpoint that no longer exists (or, before the Service had endpoints, the entry
// created while packets were rejected). kube-proxy deletes such entries after each sync; so do we.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nodenet::proxy::sync {

/// Which UDP flows to delete. Every set field must match; unset fields match anything.
struct UdpFlowFilter {
  /// The original destination address (ClusterIP, externalIP, LoadBalancer IP). Unset for NodePorts, which
  /// match on the port alone (any local address).
  std::optional<IpAddress> origDst;
  /// The original destination port (the service port, or the NodePort).
  uint16_t origDstPort = 0;
  /// The reply source: the endpoint the flow was DNATed to. Unset = every flow to origDst:origDstPort.
  std::optional<IpAddress> replySrc;
  /// The address family of the flows (conntrack tables are per family).
  IpFamily family = IpFamily::V4;
  /// Only flows whose reply source is none of these (the current endpoints): the first sync after a start
  /// cannot know which endpoints vanished while the proxy was down.
  std::optional<std::vector<IpAddress>> replySrcNotIn;

  /// "udp 172.30.0.41:53 -> 10.180.0.3" / "udp nodeport 30053" for logs and tests.
  std::string toString() const {
    std::string s = "udp ";
    if (origDst) {
      s += origDst->family() == IpFamily::V6 ? "[" + origDst->toString() + "]" : origDst->toString();
      s += ":" + std::to_string(origDstPort);
    } else {
      s += "nodeport " + std::to_string(origDstPort);
    }
    if (replySrc) s += " -> " + replySrc->toString();
    if (replySrcNotIn) {
      s += " -> not {";
      for (size_t i = 0; i < replySrcNotIn->size(); ++i) s += (i ? "," : "") + (*replySrcNotIn)[i].toString();
      s += "}";
    }
    return s;
  }
  bool operator==(const UdpFlowFilter&) const = default;
};

class ConntrackCleaner {
 public:
  virtual ~ConntrackCleaner() = default;
  /// Deletes the UDP conntrack entries matching `filter`; returns how many were deleted. No matching entry is
  /// not an error. An error names the filter and the errno.
  virtual Result<size_t> deleteUdpFlows(const UdpFlowFilter& filter) = 0;
  /// Deletes the UDP conntrack entries matching any of `filters` (a sync's whole list); returns how many. The
  /// default calls deleteUdpFlows() per filter and stops at the first error; the netlink cleaner reads the
  /// conntrack table once for all of them (one dump per filter made a first sync with 10k UDP Services
  /// read the table 10k times).
  virtual Result<size_t> deleteUdpFlowsBatch(const std::vector<UdpFlowFilter>& filters) {
    size_t n = 0;
    for (const UdpFlowFilter& f : filters) {
      auto r = deleteUdpFlows(f);
      if (!r.ok()) return r.error();
      n += *r;
    }
    return n;
  }
};

}  // namespace nodenet::proxy::sync
