// NetlinkKernel: nft::Kernel over a NETLINK_NETFILTER socket (libmnl) bound to one network namespace.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "netlink/nft/kernel.h"

struct mnl_socket;

namespace nodenet::nft {

class NetlinkKernel final : public Kernel {
 public:
  /// Opens the socket in the network namespace at netnsPath ("/run/netns/NAME", "/proc/PID/ns/net"), or in
  /// the caller's namespace when netnsPath is empty. A netlink socket belongs to the namespace it was created
  /// in, so the socket is created on a short-lived thread that enters the namespace; the calling thread's
  /// namespace never changes.
  static Result<std::unique_ptr<NetlinkKernel>> create(const std::string& netnsPath = "");

  ~NetlinkKernel() override;

  Status commit(const Transaction& tx) override;
  Result<bool> hasTable(Family family, const std::string& table) override;
  Result<std::vector<Chain>> listChains(Family family, const std::string& table) override;
  Result<std::vector<Set>> listSets(Family family, const std::string& table) override;
  Result<std::vector<Element>> listElements(Family family, const std::string& table, const std::string& set) override;
  Result<std::vector<Rule>> listRules(Family family, const std::string& table, const std::string& chain) override;

 private:
  explicit NetlinkKernel(mnl_socket* nl);
  Result<Set> getSet(Family family, const std::string& table, const std::string& set);

  mnl_socket* nl_;
  uint32_t portId_;
  uint32_t seq_;
  int sndbuf_ = 0;  // the SO_SNDBUF size we last set
  std::mutex mu_;   // one request at a time on the socket
};

}  // namespace nodenet::nft
