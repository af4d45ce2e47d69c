// The real ConntrackCleaner (proxy/sync's interface for deleting stale UDP flows): ctnetlink through
// netlink/conntrack, in the daemon's own network namespace.
#pragma once

#include <memory>

#include "netlink/conntrack/conntrack.h"
#include "proxy/sync/conntrack_cleaner.h"

namespace nodenet::proxy::daemon {

class NetlinkConntrackCleaner final : public sync::ConntrackCleaner {
 public:
  explicit NetlinkConntrackCleaner(std::unique_ptr<conntrack::Conntrack> ct) : ct_(std::move(ct)) {}
  /// UDP flows of filter.family to origDst:origDstPort (any local address for NodePorts) whose reply comes
  /// from replySrc, when set.
  Result<size_t> deleteUdpFlows(const sync::UdpFlowFilter& filter) override;
  /// All filters against one read of the UDP conntrack table per family.
  Result<size_t> deleteUdpFlowsBatch(const std::vector<sync::UdpFlowFilter>& filters) override;

  /// The conntrack filter a sync filter stands for (pure; tested).
  static conntrack::FlowFilter toFlowFilter(const sync::UdpFlowFilter& filter);

 private:
  std::unique_ptr<conntrack::Conntrack> ct_;
};

}  // namespace nodenet::proxy::daemon
