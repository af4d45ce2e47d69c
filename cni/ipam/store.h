// The host-local reservation store: an interface (the reference's backend.Store plus list/releaseIp for GC)
// with an on-disk implementation (disk_store.h) and an in-memory fake (fake_store.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nodenet::cni::ipam {

/// One reserved address and its owner. ifName is empty for files written by old reference versions, which
/// stored only the container id; such a reservation matches the id with any interface name.
struct Reservation {
  IpAddress ip;
  std::string containerId;
  std::string ifName;
  bool operator==(const Reservation&) const = default;
};

/// All methods except lock()/unlock() require the lock to be held (the allocator and host-local entry points
/// take it); implementations need not be thread safe otherwise.
class Store {
 public:
  virtual ~Store() = default;
  /// Takes the store-wide exclusive lock (blocks).
  virtual nodenet::Status lock() = 0;
  virtual nodenet::Status unlock() = 0;
  /// Atomically reserves `ip` for (id, ifName); false when it is already reserved. Records `ip` as the last
  /// reserved address of range set `rangeId`.
  virtual nodenet::Result<bool> reserve(const std::string& id, const std::string& ifName, const IpAddress& ip,
                                        const std::string& rangeId) = 0;
  /// The last address reserved in range set `rangeId`, nullopt when none (or unreadable).
  virtual nodenet::Result<std::optional<IpAddress>> lastReservedIp(const std::string& rangeId) = 0;
  /// Releases every address of (id, ifName); when there is none, those of legacy id-only reservations.
  virtual nodenet::Status releaseById(const std::string& id, const std::string& ifName) = 0;
  /// Addresses of (id, ifName), including legacy id-only reservations of `id`.
  virtual nodenet::Result<std::vector<IpAddress>> getById(const std::string& id, const std::string& ifName) = 0;
  /// Every reservation (GC).
  virtual nodenet::Result<std::vector<Reservation>> list() = 0;
  /// Releases one address whatever its owner (rollback, GC); no error when it is not reserved.
  virtual nodenet::Status releaseIp(const IpAddress& ip) = 0;
};

using StorePtr = std::unique_ptr<Store>;

/// Holds a Store's lock for a scope.
class StoreLock {
 public:
  /// Locks `s`; check status() before relying on it.
  explicit StoreLock(Store& s) : s_(s), st_(s.lock()) {}
  ~StoreLock() {
    if (st_.ok()) (void)s_.unlock();
  }
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;
  const nodenet::Status& status() const { return st_; }

 private:
  Store& s_;
  nodenet::Status st_;
};

}  // namespace nodenet::cni::ipam
