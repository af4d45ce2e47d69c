#include "proxy/daemon/conntrack_cleaner.h"

#include "base/strings.h"

namespace nodenet::proxy::daemon {

conntrack::FlowFilter NetlinkConntrackCleaner::toFlowFilter(const sync::UdpFlowFilter& filter) {
  conntrack::FlowFilter f;
  f.family = filter.family;
  f.l4proto = L4Proto::UDP;
  f.origDst = filter.origDst;
  if (filter.origDstPort != 0) f.origDstPort = filter.origDstPort;
  f.replySrc = filter.replySrc;
  f.replySrcNotIn = filter.replySrcNotIn;
  return f;
}

Result<size_t> NetlinkConntrackCleaner::deleteUdpFlows(const sync::UdpFlowFilter& filter) {
  auto n = ct_->deleteFlows(toFlowFilter(filter));
  if (!n.ok()) return n.error().context("delete conntrack flows " + filter.toString());
  return n;
}

Result<size_t> NetlinkConntrackCleaner::deleteUdpFlowsBatch(const std::vector<sync::UdpFlowFilter>& filters) {
  std::vector<conntrack::FlowFilter> fs;
  fs.reserve(filters.size());
  for (const auto& f : filters) fs.push_back(toFlowFilter(f));
  auto n = ct_->deleteFlows(fs);
  if (!n.ok()) return n.error().context(strCat("delete conntrack flows (", filters.size(), " filters)"));
  return n;
}

}  // namespace nodenet::proxy::daemon
