// Pure ctnetlink message encoding and parsing (no sockets), so unit tests cover them without root.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/result.h"
#include "netlink/conntrack/conntrack.h"

namespace nodenet::conntrack::wire {

/// Appends an IPCTNL_MSG_CT_GET dump request (NLM_F_REQUEST | NLM_F_DUMP) for the flows of the family (the
/// kernel filters a dump by the nfgenmsg family). With l4proto, the request also carries a kernel-side filter
/// on the protocol number (CTA_FILTER, Linux 5.8+), so a UDP cleanup does not copy every TCP flow to user
/// space; older kernels ignore the unknown attribute and return all flows, which callers filter anyway.
void appendDumpRequest(std::vector<uint8_t>& buf, IpFamily family, uint32_t seq,
                       std::optional<uint8_t> l4proto = std::nullopt);

/// Appends an IPCTNL_MSG_CT_DELETE request (NLM_F_REQUEST | NLM_F_ACK) selecting the flow by its original
/// tuple (addresses, protocol, ports) and its zone, which is how the kernel looks a flow up for deletion.
void appendDeleteRequest(std::vector<uint8_t>& buf, const Flow& flow, uint32_t seq);

/// Appends an IPCTNL_MSG_CT_NEW message describing the flow with the attributes a kernel dump carries
/// (tuples, status, timeout, mark, id, zone). Tests use it as the kernel's side of a round trip.
void appendFlowMessage(std::vector<uint8_t>& buf, const Flow& flow, uint32_t seq);

/// Parses one ctnetlink flow message (nlmsghdr + nfgenmsg + attributes), as a dump yields or as
/// appendDeleteRequest/appendFlowMessage build. Errors: truncated message, missing original tuple or
/// address attributes, address length not matching the family.
Result<Flow> parseFlowMessage(const void* msg, size_t len);

}  // namespace nodenet::conntrack::wire
