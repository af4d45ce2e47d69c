// The on-disk Store in the reference host-local layout, so a node can switch between nodenet and the reference
// plugin without losing allocations:
//   <dataDir>/<network>/<ip>                  one file per reservation, content "<containerID>\r\n<ifname>"
//                                             (old reference versions wrote only "<containerID>": still read)
//   <dataDir>/<network>/last_reserved_ip.<N>  the last address reserved in range set N (no newline)
//   <dataDir>/<network>/lock                  flock()ed exclusively around every operation
// File names are IpAddress::toString() (inet_ntop, RFC 5952), which equals Go's net.IP.String().
//
// Speed (target: ADD <= 3 ms with 5,000 reservations): the reference reads every file on each ADD to find the
// container's existing addresses. We keep a derived index beside the data, never instead of it:
//   <dataDir>/<network>/.nodenet/by-id/<containerID>+<ifname>   the addresses of that attachment, one a line
//   <dataDir>/<network>/.nodenet/state                          the network directory's mtime after our
//                                                               last change
// Every locked operation first compares the directory's mtime with `state`; any difference (a reference
// plugin ran, we crashed half way, the index is new) rebuilds the index from the IP files. The reference
// ignores these entries (their names are not IPs and their contents never equal "<id>\r\n<ifname>").
// Container ids outside the CNI character set (or with '+') are never indexed and are looked up by scan.
#pragma once

#include <mutex>
#include <string>

#include "cni/ipam/store.h"

namespace nodenet::cni::ipam {

class DiskStore : public Store {
 public:
  /// Opens <dataDir>/<network> (created 0755 with parents) and its lock file. `network` must be a valid CNI
  /// network name (no '/', not "..": the caller validates it; we refuse anything that would escape dataDir).
  static nodenet::Result<std::unique_ptr<DiskStore>> open(const std::string& network, const std::string& dataDir);
  ~DiskStore() override;
  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

  nodenet::Status lock() override;
  nodenet::Status unlock() override;
  nodenet::Result<bool> reserve(const std::string& id, const std::string& ifName, const IpAddress& ip,
                                const std::string& rangeId) override;
  nodenet::Result<std::optional<IpAddress>> lastReservedIp(const std::string& rangeId) override;
  nodenet::Status releaseById(const std::string& id, const std::string& ifName) override;
  nodenet::Result<std::vector<IpAddress>> getById(const std::string& id, const std::string& ifName) override;
  nodenet::Result<std::vector<Reservation>> list() override;
  nodenet::Status releaseIp(const IpAddress& ip) override;

  /// <dataDir>/<network>.
  const std::string& dir() const { return dir_; }
  /// Number of index rebuilds since open (tests check the fast path stays fast).
  int indexRebuildsForTest() const { return rebuilds_; }

 private:
  DiskStore(std::string dir, int dirFd, int lockFd) : dir_(std::move(dir)), dirFd_(dirFd), lockFd_(lockFd) {}
  nodenet::Status ensureIndex();
  nodenet::Status rebuildIndex();
  nodenet::Status recordState();
  nodenet::Status indexAdd(const std::string& key, const IpAddress& ip);
  nodenet::Status indexRemove(const std::string& key, const IpAddress& ip);
  nodenet::Result<std::vector<IpAddress>> indexRead(const std::string& key);
  nodenet::Result<std::vector<Reservation>> scan();

  std::string dir_;
  int dirFd_ = -1;
  int lockFd_ = -1;
  int indexFd_ = -1;  // .nodenet/by-id
  std::mutex mu_;     // flock is per open file: also exclude threads sharing this object
  bool indexChecked_ = false;
  bool dirty_ = false;
  int rebuilds_ = 0;
};

}  // namespace nodenet::cni::ipam
