// host-local range math (pure): Range and RangeSet with the reference's canonicalization and error messages
// (containernetworking/plugins plugins/ipam/host-local/backend/allocator/range.go, range_set.go).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nodenet::cni::ipam {

/// One allocation range: a subnet and an inclusive [rangeStart, rangeEnd] inside it, plus the gateway that is
/// never handed out. Before canonicalize() the optionals may be empty; afterwards all are set.
struct Range {
  Cidr subnet;
  std::optional<IpAddress> rangeStart;
  std::optional<IpAddress> rangeEnd;
  std::optional<IpAddress> gateway;

  /// Validates and fills defaults, like the reference's Range.Canonicalize:
  ///  - the subnet must hold at least 2 host bits ("Network 10.0.0.0/31 too small to allocate from");
  ///  - no host bits ("Network has host bits set. For a subnet mask of length 24 the network address is ...");
  ///  - gateway defaults to network+1 (it is not required to be inside the subnet, as in the reference);
  ///  - rangeStart/rangeEnd must be inside the subnet ("RangeStart x not in network y");
  ///  - rangeStart defaults to network+1, rangeEnd to broadcast-1 (IPv4) or the last address (IPv6).
  /// rangeStart after rangeEnd fails as "RangeStart x not in network y" (the bounds check each other, as in the
  /// reference).
  nodenet::Status canonicalize();

  /// In the subnet and within [rangeStart, rangeEnd] (unset bounds are ignored). False for the other family.
  bool contains(const IpAddress& ip) const;
  /// True when either range holds the other's start or end (same family only).
  bool overlaps(const Range& other) const;
  /// "start-end", the reference's String().
  std::string toString() const;

  bool operator==(const Range&) const = default;
};

/// Several ranges of one family; one IP is allocated per set.
using RangeSet = std::vector<Range>;

/// Canonicalizes every range; errors: "empty range set", "mixed address families",
/// "subnets a-b and c-d overlap", or the first range's error.
nodenet::Status canonicalizeRangeSet(RangeSet& set);
/// The range of `set` containing `ip`, or nullptr.
const Range* rangeFor(const RangeSet& set, const IpAddress& ip);
/// True when some range of `set` contains `ip`.
inline bool rangeSetContains(const RangeSet& set, const IpAddress& ip) { return rangeFor(set, ip) != nullptr; }
/// True when any range of `a` overlaps any range of `b`.
bool rangeSetsOverlap(const RangeSet& a, const RangeSet& b);
/// "a-b,c-d", the reference's RangeSet.String().
std::string rangeSetToString(const RangeSet& set);

}  // namespace nodenet::cni::ipam
