// Routes (RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE) over an RtnlSocket, IPv4 and IPv6.
//
// Errnos callers may branch on: EEXIST (addRoute: an equal route exists), ESRCH (deleteRoute: no such route),
// ENETUNREACH (the gateway is not reachable through any route/address), ENODEV (bad output ifindex).
#pragma once

#include <linux/rtnetlink.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "netlink/rtnl_socket.h"

namespace nodenet::netlink {

/// A single-path unicast (or other type) route. The family is dst's family.
struct Route {
  /// Destination; prefix 0 is the default route (0.0.0.0/0 or ::/0). Host bits are cleared when sent.
  Cidr dst;
  std::optional<IpAddress> gateway;  // RTA_GATEWAY; must be dst's family
  int oif = 0;                       // RTA_OIF, output ifindex; 0 = none
  /// RT_SCOPE_*. Unset: universe when there is a gateway, link otherwise (as `ip route add` decides); for
  /// deletion unset matches any scope.
  std::optional<uint8_t> scope;
  uint32_t table = RT_TABLE_MAIN;  // RTA_TABLE (any u32)
  uint32_t metric = 0;             // RTA_PRIORITY; 0 = kernel default (IPv6 uses 1024); 0 matches any on delete
  std::optional<IpAddress> src;    // RTA_PREFSRC: preferred source address
  uint8_t protocol = RTPROT_BOOT;  // RTM protocol (`proto boot`, like `ip route add`); ignored on delete
  uint8_t type = RTN_UNICAST;      // RTN_*

  IpFamily family() const { return dst.family(); }
  bool isDefault() const { return dst.prefix() == 0; }
  /// "10.0.0.0/8 via 10.1.0.1 dev 3 table 254 metric 100", for messages.
  std::string toString() const;
  /// Shorthand for a default route through gateway, optionally pinned to an output link.
  static Route defaultVia(const IpAddress& gateway, int oif = 0);
};

/// Adds a route. Not idempotent: an equal route (same dst, table, metric — and for IPv6 same gateway)
/// fails with EEXIST. The link must be up for routes with an oif (else ENETDOWN on IPv4).
Status addRoute(RtnlSocket& sock, const Route& route);
/// Adds or replaces the route with the same dst/table/metric (NLM_F_REPLACE). Idempotent.
Status replaceRoute(RtnlSocket& sock, const Route& route);
/// Deletes the matching route (unset fields are wildcards). Absent: ESRCH, or success with ifExists=true.
Status deleteRoute(RtnlSocket& sock, const Route& route, bool ifExists = false);
/// Routes of one family in one table (0 = every table), optionally only those leaving through oif.
/// Kernel-cloned (cache) routes are skipped; multipath routes are reported with oif 0 and no gateway.
Result<std::vector<Route>> listRoutes(RtnlSocket& sock, IpFamily family, uint32_t table = RT_TABLE_MAIN,
                                      int oif = 0);

}  // namespace nodenet::netlink
