// In-memory Store for unit tests (the reference's backend/testing FakeStore). Thread safe through lock().
#pragma once

#include <map>
#include <mutex>

#include "cni/ipam/store.h"

namespace nodenet::cni::ipam {

class FakeStore : public Store {
 public:
  FakeStore() = default;
  /// Seeds reservations and last reserved IPs (rangeId -> ip).
  FakeStore(std::vector<Reservation> reserved, std::map<std::string, IpAddress> lastReserved);

  nodenet::Status lock() override;
  nodenet::Status unlock() override;
  nodenet::Result<bool> reserve(const std::string& id, const std::string& ifName, const IpAddress& ip,
                                const std::string& rangeId) override;
  nodenet::Result<std::optional<IpAddress>> lastReservedIp(const std::string& rangeId) override;
  nodenet::Status releaseById(const std::string& id, const std::string& ifName) override;
  nodenet::Result<std::vector<IpAddress>> getById(const std::string& id, const std::string& ifName) override;
  nodenet::Result<std::vector<Reservation>> list() override;
  nodenet::Status releaseIp(const IpAddress& ip) override;

  /// Direct view for assertions (ip -> owner).
  const std::map<IpAddress, Reservation>& reservationsForTest() const { return byIp_; }
  /// Sets the last reserved IP of a range set.
  void setLastReservedIpForTest(const std::string& rangeId, const IpAddress& ip) { last_[rangeId] = ip; }

 private:
  std::mutex mu_;
  std::map<IpAddress, Reservation> byIp_;
  std::map<std::string, IpAddress> last_;
};

}  // namespace nodenet::cni::ipam
