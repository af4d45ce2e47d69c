// Conntrack: list and delete connection-tracking entries over ctnetlink (NFNL_SUBSYS_CTNETLINK) with raw
// libmnl. The proxy deletes stale UDP flows after endpoint changes, as kube-proxy's pkg/proxy/conntrack
// does: flows whose original destination is a service IP:port that lost endpoints, and flows whose reply
// source is an endpoint that went away.
//
// One kernel dump per (family, protocol) is filtered in user space; matching flows are deleted by their
// original tuple with many delete requests per sendmsg, and every ack is drained.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

struct mnl_socket;

namespace nodenet::conntrack {

/// One direction of a connection: addresses and (for TCP, UDP, SCTP) ports, in host byte order.
struct Tuple {
  IpAddress src;
  IpAddress dst;
  uint16_t srcPort = 0;
  uint16_t dstPort = 0;
  bool operator==(const Tuple&) const = default;
};

/// A conntrack entry as the kernel reports it.
struct Flow {
  IpFamily family = IpFamily::V4;
  /// IP protocol number (6 TCP, 17 UDP, 132 SCTP, 1 ICMP, ...).
  uint8_t l4proto = 0;
  Tuple orig;   // as the client sent it (destination = the service IP:port before DNAT)
  Tuple reply;  // as the reply comes back (source = the endpoint after DNAT)
  uint16_t zone = 0;
  uint32_t id = 0;
  uint32_t mark = 0;
  /// Seconds until the entry expires.
  uint32_t timeout = 0;
  /// IPS_* status bits (IPS_CONFIRMED, IPS_ASSURED, IPS_DST_NAT, ...).
  uint32_t status = 0;

  /// For messages and logs: "udp 10.0.0.1:40000 -> 172.30.0.10:53 reply 10.180.0.5:53 -> 10.0.0.1:40000".
  std::string toString() const;
};

/// Which flows to select. Unset optional fields match anything; an all-unset filter matches every flow of
/// the family and protocol.
struct FlowFilter {
  IpFamily family = IpFamily::V4;
  L4Proto l4proto = L4Proto::UDP;
  /// Original destination address (a ClusterIP, external IP, LoadBalancer IP or node IP).
  std::optional<IpAddress> origDst;
  /// Original destination port (the service port, or the NodePort).
  std::optional<uint16_t> origDstPort;
  /// Reply source address: the endpoint the flow was DNATed to.
  std::optional<IpAddress> replySrc;
  /// Reply source port: the endpoint's target port.
  std::optional<uint16_t> replySrcPort;
  /// Matches only flows whose reply source is none of these (the endpoints that still exist; empty: any flow).
  /// What kube-proxy's start-up cleanup needs: flows DNATed to endpoints that vanished while nobody watched.
  std::optional<std::vector<IpAddress>> replySrcNotIn;

  /// True when the flow has this family and protocol and every set field is equal.
  bool matches(const Flow& flow) const;
  /// Errors: an address whose family differs from `family` (names the field).
  Status validate() const;
  /// "udp ipv4 origDst=172.30.0.10 origDstPort=53 replySrc=10.180.0.5".
  std::string toString() const;
};

/// A ctnetlink socket bound to one network namespace. Thread-safe: calls are serialized.
class Conntrack {
 public:
  /// Opens the socket in the network namespace at netnsPath ("/run/netns/NAME", "/proc/PID/ns/net"), or in
  /// the caller's namespace when empty. The socket is created on a short-lived thread that setns()es, so the
  /// calling thread never changes namespace. Errors: the path cannot be opened, setns (EPERM without
  /// CAP_SYS_ADMIN) or socket creation fails.
  static Result<std::unique_ptr<Conntrack>> create(const std::string& netnsPath = "");

  ~Conntrack();
  Conntrack(const Conntrack&) = delete;
  Conntrack& operator=(const Conntrack&) = delete;

  /// Every flow that matches the filter (one kernel dump of the filter's family and protocol). Errors: an
  /// invalid filter, or the dump failing (errno kept).
  Result<std::vector<Flow>> list(const FlowFilter& filter);

  /// Deletes every flow that matches the filter and returns how many the kernel deleted. A flow that is
  /// already gone (ENOENT) is not an error and not counted. Errors name the first failing flow and its
  /// errno (other matching flows are still attempted).
  Result<size_t> deleteFlows(const FlowFilter& filter);

  /// Deletes every flow that matches ANY of the filters, with one dump per (family, protocol) present, so a
  /// sync that touched many services costs one dump rather than one per service. An empty list deletes
  /// nothing and does not dump. Same counting and errors as above.
  Result<size_t> deleteFlows(const std::vector<FlowFilter>& filters);

  /// Deletes exactly these flows (by original tuple and zone), batching the requests. ENOENT is tolerated
  /// and not counted. Errors name the first failing flow and its errno.
  Result<size_t> deleteFlows(const std::vector<Flow>& flows);

 private:
  explicit Conntrack(mnl_socket* nl);
  Result<std::vector<Flow>> dumpLocked(IpFamily family, uint8_t l4proto);
  Result<size_t> deleteLocked(const std::vector<Flow>& flows);

  mnl_socket* nl_;
  uint32_t portId_;
  uint32_t seq_;
  std::mutex mu_;  // one request at a time on the socket
};

}  // namespace nodenet::conntrack
