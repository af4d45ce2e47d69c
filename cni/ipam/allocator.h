// The host-local allocator over a Store: round-robin from the last reserved address, like the reference's
// allocator.go (IPAllocator.Get / RangeIter), plus idempotent ADD for the same (container, ifname).
#pragma once

#include <optional>
#include <string>

#include "cni/ipam/range.h"
#include "cni/ipam/store.h"

namespace nodenet::cni::ipam {

/// What one allocation produced.
struct Allocation {
  Cidr address;       // the IP with its subnet's prefix length
  IpAddress gateway;  // the gateway of the range it came from
  bool fresh = true;  // false when an existing reservation of (id, ifname) was returned (idempotent ADD)
};

/// Walks a canonical RangeSet the way the reference's RangeIter does: the address after `lastReserved` (or
/// the first range's start when lastReserved is not in the set), through each range's [start, end], into the
/// next range (wrapping), skipping gateways, and stopping after one full lap.
class RangeIter {
 public:
  RangeIter(const RangeSet& set, std::optional<IpAddress> lastReserved);
  /// The next candidate and the range it belongs to; nullopt after a full lap.
  std::optional<std::pair<IpAddress, const Range*>> next();

 private:
  const RangeSet& set_;
  size_t rangeIdx_ = 0;
  std::optional<IpAddress> cur_;
  std::optional<IpAddress> startIp_;
};

class Allocator {
 public:
  /// `set` must be canonical and outlive the allocator. `rangeIndex` names last_reserved_ip.<rangeIndex>.
  Allocator(const RangeSet& set, Store& store, int rangeIndex);

  /// Allocates an address for (id, ifName), taking the store lock.
  ///  - requested: must lie in a range ("10.0.0.9 not in range set 10.0.0.2-10.0.0.254"), must not be the
  ///    gateway ("requested ip X is subnet's gateway"), must be free ("requested IP address X is not available
  ///    in range set ...") unless (id, ifName) already holds it;
  ///  - otherwise: when (id, ifName) already holds an address in this set, that address is returned (fresh =
  ///    false; the reference errors "duplicate allocation is not allowed" here); else round robin;
  ///    exhausted: "no IP addresses available in range set: a-b".
  nodenet::Result<Allocation> get(const std::string& id, const std::string& ifName,
                                  const std::optional<IpAddress>& requested);
  /// Releases every address of (id, ifName) (legacy id-only ones when there are none), taking the lock.
  nodenet::Status release(const std::string& id, const std::string& ifName);

 private:
  nodenet::Result<Allocation> getLocked(const std::string& id, const std::string& ifName,
                                        const std::optional<IpAddress>& requested);
  const RangeSet& set_;
  Store& store_;
  std::string rangeId_;
};

}  // namespace nodenet::cni::ipam
