// Interface addresses (RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR) over an RtnlSocket.
//
// Errnos callers may branch on: EEXIST (addAddress: already present), EADDRNOTAVAIL (deleteAddress: not
// present), ENODEV (the link does not exist).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "netlink/link.h"
#include "netlink/rtnl_socket.h"

namespace nodenet::netlink {

struct AddressOptions {
  /// IPv4 broadcast. Unset: computed as the last address of the prefix for prefixes shorter than /31 (what
  /// `ip addr add ... brd +` and the reference plugins do); ignored for IPv6.
  std::optional<IpAddress> broadcast;
  /// IFA_F_NODAD: skip IPv6 duplicate address detection, so the address is usable at once (no "tentative"
  /// state). Containers on a fresh veth do this, as do the reference plugins via accept_dad=0.
  bool noDad = false;
};

/// One address as the kernel reports it.
struct AddressInfo {
  int ifindex = 0;
  Cidr address;                       // the local address with its prefix length
  std::optional<IpAddress> broadcast;  // IPv4 only
  uint32_t flags = 0;                 // IFA_F_* (IFA_FLAGS when present, else ifa_flags)
  uint8_t scope = 0;                  // RT_SCOPE_*
  std::string label;                  // IFA_LABEL (IPv4)
  bool tentative() const;             // IFA_F_TENTATIVE: IPv6 DAD still running
};

/// Adds an address to a link. Not idempotent: an identical address fails with EEXIST (use ensureAddress).
Status addAddress(RtnlSocket& sock, const LinkRef& link, const Cidr& address, const AddressOptions& options = {});
/// Adds an address; success when the same address with the same prefix length is already there. An IPv6
/// address present with a *different* prefix length is an error (EEXIST) rather than silently accepted.
Status ensureAddress(RtnlSocket& sock, const LinkRef& link, const Cidr& address,
                     const AddressOptions& options = {});
/// Removes an address (matched by address and prefix length). Absent: EADDRNOTAVAIL, or success with
/// ifExists=true.
Status deleteAddress(RtnlSocket& sock, const LinkRef& link, const Cidr& address, bool ifExists = false);
/// Addresses of one link (link.index/name), or of every link when link is ifindex 0 and has no name; only
/// one family when given.
Result<std::vector<AddressInfo>> listAddresses(RtnlSocket& sock, const LinkRef& link,
                                               std::optional<IpFamily> family = std::nullopt);

}  // namespace nodenet::netlink
