#include "cni/ipam/allocator.h"

#include <algorithm>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::cni::ipam {
namespace {

Cidr withPrefix(const IpAddress& ip, const Range& r) { return *Cidr::create(ip, r.subnet.prefix()); }

}  // namespace

RangeIter::RangeIter(const RangeSet& set, std::optional<IpAddress> lastReserved) : set_(set) {
  // A last reserved IP outside the set (the ranges changed) only costs round-robin this once.
  if (lastReserved) {
    for (size_t i = 0; i < set_.size(); ++i) {
      if (set_[i].contains(*lastReserved)) {
        rangeIdx_ = i;
        cur_ = lastReserved;  // next() advances first, so it yields lastReserved + 1
        return;
      }
    }
  }
  rangeIdx_ = 0;
  startIp_ = set_[0].rangeStart;
}

std::optional<std::pair<IpAddress, const Range*>> RangeIter::next() {
  for (;;) {
    const Range* r = &set_[rangeIdx_];
    if (!cur_) {
      // First call without a starting point: rangeStart is inclusive.
      cur_ = *r->rangeStart;
      startIp_ = cur_;
      if (*cur_ == *r->gateway) continue;
      return std::make_pair(*cur_, r);
    }
    if (*cur_ == *r->rangeEnd) {
      rangeIdx_ = (rangeIdx_ + 1) % set_.size();
      r = &set_[rangeIdx_];
      cur_ = *r->rangeStart;
    } else {
      cur_ = cur_->next();
    }
    if (!startIp_) {
      startIp_ = cur_;
    } else if (*cur_ == *startIp_) {
      return std::nullopt;  // a full lap
    }
    if (*cur_ == *r->gateway) continue;
    return std::make_pair(*cur_, r);
  }
}

Allocator::Allocator(const RangeSet& set, Store& store, int rangeIndex)
    : set_(set), store_(store), rangeId_(std::to_string(rangeIndex)) {}

nodenet::Result<Allocation> Allocator::get(const std::string& id, const std::string& ifName,
                                           const std::optional<IpAddress>& requested) {
  StoreLock lock(store_);
  NN_TRY(lock.status());
  return getLocked(id, ifName, requested);
}

nodenet::Result<Allocation> Allocator::getLocked(const std::string& id, const std::string& ifName,
                                                 const std::optional<IpAddress>& requested) {
  NN_ASSIGN_OR_RETURN(auto owned, store_.getById(id, ifName));
  if (requested) {
    const Range* r = rangeFor(set_, *requested);
    if (!r)
      return nodenet::Error(strCat(requested->toString(), " not in range set ", rangeSetToString(set_)));
    if (*requested == *r->gateway)
      return nodenet::Error(strCat("requested ip ", requested->toString(), " is subnet's gateway"));
    if (std::find(owned.begin(), owned.end(), *requested) != owned.end())
      return Allocation{withPrefix(*requested, *r), *r->gateway, false};
    NN_ASSIGN_OR_RETURN(bool reserved, store_.reserve(id, ifName, *requested, rangeId_));
    if (!reserved)
      return nodenet::Error(strCat("requested IP address ", requested->toString(), " is not available in range set ",
                                   rangeSetToString(set_)));
    return Allocation{withPrefix(*requested, *r), *r->gateway, true};
  }
  // Idempotent ADD: (id, ifName) already holds an address of this set.
  for (const auto& ip : owned)
    if (const Range* r = rangeFor(set_, ip)) return Allocation{withPrefix(ip, *r), *r->gateway, false};

  auto last = store_.lastReservedIp(rangeId_);
  std::optional<IpAddress> lastIp;
  if (last.ok()) lastIp = *last;
  else NN_LOG(Warning) << "Error retrieving last reserved ip: " << last.error().message();
  RangeIter it(set_, lastIp);
  // The probe is the reservation itself (O_EXCL create on disk): no listing of the store per candidate.
  while (auto cand = it.next()) {
    NN_ASSIGN_OR_RETURN(bool reserved, store_.reserve(id, ifName, cand->first, rangeId_));
    if (reserved) return Allocation{withPrefix(cand->first, *cand->second), *cand->second->gateway, true};
  }
  return nodenet::Error(strCat("no IP addresses available in range set: ", rangeSetToString(set_)));
}

nodenet::Status Allocator::release(const std::string& id, const std::string& ifName) {
  StoreLock lock(store_);
  NN_TRY(lock.status());
  return store_.releaseById(id, ifName);
}

}  // namespace nodenet::cni::ipam
