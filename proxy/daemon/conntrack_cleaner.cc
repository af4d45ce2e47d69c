#include "proxy/daemon/conntrack_cleaner.h"

namespace nodenet::proxy::daemon {

conntrack::FlowFilter NetlinkConntrackCleaner::toFlowFilter(const sync::UdpFlowFilter& filter) {
  conntrack::FlowFilter f;
  f.family = filter.family;
  f.l4proto = L4Proto::UDP;
  f.origDst = filter.origDst;
  if (filter.origDstPort != 0) f.origDstPort = filter.origDstPort;
  f.replySrc = filter.replySrc;
  return f;
}

Result<size_t> NetlinkConntrackCleaner::deleteUdpFlows(const sync::UdpFlowFilter& filter) {
  auto n = ct_->deleteFlows(toFlowFilter(filter));
  if (!n.ok()) return n.error().context("delete conntrack flows " + filter.toString());
  return n;
}

}  // namespace nodenet::proxy::daemon
