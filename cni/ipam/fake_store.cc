#include "cni/ipam/fake_store.h"

namespace nodenet::cni::ipam {

FakeStore::FakeStore(std::vector<Reservation> reserved, std::map<std::string, IpAddress> lastReserved)
    : last_(std::move(lastReserved)) {
  for (auto& r : reserved) byIp_[r.ip] = r;
}

nodenet::Status FakeStore::lock() {
  mu_.lock();
  return {};
}
nodenet::Status FakeStore::unlock() {
  mu_.unlock();
  return {};
}

nodenet::Result<bool> FakeStore::reserve(const std::string& id, const std::string& ifName, const IpAddress& ip,
                                         const std::string& rangeId) {
  if (byIp_.count(ip)) return false;
  byIp_[ip] = Reservation{ip, id, ifName};
  last_[rangeId] = ip;
  return true;
}

nodenet::Result<std::optional<IpAddress>> FakeStore::lastReservedIp(const std::string& rangeId) {
  auto it = last_.find(rangeId);
  if (it == last_.end()) return std::optional<IpAddress>();
  return std::optional<IpAddress>(it->second);
}

nodenet::Status FakeStore::releaseById(const std::string& id, const std::string& ifName) {
  bool found = false;
  for (auto it = byIp_.begin(); it != byIp_.end();) {
    if (it->second.containerId == id && it->second.ifName == ifName) {
      it = byIp_.erase(it);
      found = true;
    } else {
      ++it;
    }
  }
  if (found) return {};
  for (auto it = byIp_.begin(); it != byIp_.end();) {
    if (it->second.containerId == id && it->second.ifName.empty()) it = byIp_.erase(it);
    else ++it;
  }
  return {};
}

nodenet::Result<std::vector<IpAddress>> FakeStore::getById(const std::string& id, const std::string& ifName) {
  std::vector<IpAddress> out;
  for (const auto& [ip, r] : byIp_)
    if (r.containerId == id && (r.ifName == ifName || r.ifName.empty())) out.push_back(ip);
  return out;
}

nodenet::Result<std::vector<Reservation>> FakeStore::list() {
  std::vector<Reservation> out;
  for (const auto& [ip, r] : byIp_) out.push_back(r);
  return out;
}

nodenet::Status FakeStore::releaseIp(const IpAddress& ip) {
  byIp_.erase(ip);
  return {};
}

}  // namespace nodenet::cni::ipam
