#include "cni/ipam/range.h"

#include "base/strings.h"

namespace nodenet::cni::ipam {

nodenet::Status Range::canonicalize() {
  const unsigned bits = subnet.address().bits();
  if (subnet.prefix() + 2 > bits)
    return nodenet::Error(strCat("Network ", subnet.toString(), " too small to allocate from"));
  if (!subnet.isNetwork())
    return nodenet::Error(strCat("Network has host bits set. For a subnet mask of length ", subnet.prefix(),
                                 " the network address is ", subnet.network().toString()));
  if (!gateway) gateway = subnet.network().next();
  if (rangeStart) {
    if (!contains(*rangeStart))
      return nodenet::Error(strCat("RangeStart ", rangeStart->toString(), " not in network ", subnet.toString()));
  } else {
    rangeStart = subnet.network().next();
  }
  if (rangeEnd) {
    if (!contains(*rangeEnd))
      return nodenet::Error(strCat("RangeEnd ", rangeEnd->toString(), " not in network ", subnet.toString()));
  } else {
    // The reference's lastIP(): the broadcast address minus one for IPv4, the very last address for IPv6.
    rangeEnd = subnet.isNetwork() && subnet.address().isV4() ? subnet.last().prev() : subnet.last();
  }
  if (*rangeEnd < *rangeStart)
    return nodenet::Error(strCat("RangeStart ", rangeStart->toString(), " is after RangeEnd ", rangeEnd->toString()));
  return {};
}

bool Range::contains(const IpAddress& ip) const {
  if (ip.family() != subnet.family() || !subnet.contains(ip)) return false;
  if (rangeStart && ip < *rangeStart) return false;
  if (rangeEnd && *rangeEnd < ip) return false;
  return true;
}

bool Range::overlaps(const Range& o) const {
  if (!rangeStart || !o.rangeStart || rangeStart->family() != o.rangeStart->family()) return false;
  return contains(*o.rangeStart) || contains(*o.rangeEnd) || o.contains(*rangeStart) || o.contains(*rangeEnd);
}

std::string Range::toString() const {
  return strCat(rangeStart ? rangeStart->toString() : "<nil>", "-", rangeEnd ? rangeEnd->toString() : "<nil>");
}

nodenet::Status canonicalizeRangeSet(RangeSet& set) {
  if (set.empty()) return nodenet::Error("empty range set");
  for (size_t i = 0; i < set.size(); ++i) {
    NN_TRY(set[i].canonicalize());
    if (set[i].rangeStart->family() != set[0].rangeStart->family()) return nodenet::Error("mixed address families");
  }
  for (size_t i = 0; i + 1 < set.size(); ++i)
    for (size_t j = i + 1; j < set.size(); ++j)
      if (set[i].overlaps(set[j]))
        return nodenet::Error(strCat("subnets ", set[i].toString(), " and ", set[j].toString(), " overlap"));
  return {};
}

const Range* rangeFor(const RangeSet& set, const IpAddress& ip) {
  for (const auto& r : set)
    if (r.contains(ip)) return &r;
  return nullptr;
}

bool rangeSetsOverlap(const RangeSet& a, const RangeSet& b) {
  for (const auto& r : a)
    for (const auto& o : b)
      if (r.overlaps(o)) return true;
  return false;
}

std::string rangeSetToString(const RangeSet& set) {
  std::vector<std::string> parts;
  for (const auto& r : set) parts.push_back(r.toString());
  return join(parts, ",");
}

}  // namespace nodenet::cni::ipam
