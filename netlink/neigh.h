// Neighbour (ARP / NDP) entries (RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH) over an RtnlSocket.
//
// Used to pre-seed or repair a pod's gateway entry and to drop stale entries when an address moves to another
// MAC (a pod recreated with the same IP). Errnos callers may branch on: ENOENT (deleteNeighbour: no entry),
// ENODEV (the link does not exist).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "netlink/link.h"
#include "netlink/rtnl_socket.h"

namespace nodenet::netlink {

/// Neighbour states (NUD_* in linux/neighbour.h) that callers set or test.
namespace nud {
constexpr uint16_t kIncomplete = 0x01;
constexpr uint16_t kReachable = 0x02;
constexpr uint16_t kStale = 0x04;
constexpr uint16_t kDelay = 0x08;
constexpr uint16_t kProbe = 0x10;
constexpr uint16_t kFailed = 0x20;
constexpr uint16_t kNoArp = 0x40;
constexpr uint16_t kPermanent = 0x80;
}  // namespace nud

struct Neighbour {
  int ifindex = 0;
  IpAddress address;
  std::optional<MacAddress> mac;  // absent for incomplete/failed entries
  uint16_t state = 0;             // nud::k*
  /// "10.85.0.1 lladdr aa:bb:.. dev 3 state 0x2", for messages.
  std::string toString() const;
};

/// Adds or replaces the entry for address on link (NLM_F_REPLACE): idempotent. state defaults to permanent.
Status replaceNeighbour(RtnlSocket& sock, const LinkRef& link, const IpAddress& address, const MacAddress& mac,
                        uint16_t state = nud::kPermanent);
/// Deletes the entry. Absent: ENOENT, or success with ifExists=true.
Status deleteNeighbour(RtnlSocket& sock, const LinkRef& link, const IpAddress& address, bool ifExists = false);
/// Entries of one link (or all links when link is ifindex 0 without a name), optionally of one family.
Result<std::vector<Neighbour>> listNeighbours(RtnlSocket& sock, const LinkRef& link,
                                              std::optional<IpFamily> family = std::nullopt);
/// Deletes every non-permanent entry of a link (what `ip neigh flush dev X` does); returns how many.
Result<size_t> flushNeighbours(RtnlSocket& sock, const LinkRef& link);

}  // namespace nodenet::netlink
