// nft::Kernel: the narrow interface through which nodenet changes and reads nftables state (habit 6).
// NetlinkKernel (netlink_kernel.h) talks to the kernel; FakeNft (netlink/fake) is the test double.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "netlink/nft/model/transaction.h"

namespace nodenet::nft {

class Kernel {
 public:
  virtual ~Kernel() = default;

  /// Applies every operation of tx as one batch: all of them or none. Refuses a transaction whose
  /// status() is an error. On failure the error names the first operation the kernel rejected and its
  /// errno (sysErrno(): EEXIST, ENOENT, EBUSY, ...), e.g.
  /// "add element 172.30.0.41 . tcp . 80 in map service-ips: File exists (errno 17)".
  virtual Status commit(const Transaction& tx) = 0;

  /// Whether the table exists.
  virtual Result<bool> hasTable(Family family, const std::string& table) = 0;
  /// The table's chains (name, hook, comment). Error with errno ENOENT when the table is missing.
  virtual Result<std::vector<Chain>> listChains(Family family, const std::string& table) = 0;
  /// The table's named sets and maps. Error with errno ENOENT when the table is missing.
  virtual Result<std::vector<Set>> listSets(Family family, const std::string& table) = 0;
  /// The elements of a set or map, with values, verdicts, timeouts and comments.
  /// Error with errno ENOENT when the table or set is missing.
  virtual Result<std::vector<Element>> listElements(Family family, const std::string& table,
                                                    const std::string& set) = 0;
  /// The rules of a chain in order, with handle and comment only (statements are not decoded).
  /// Error with errno ENOENT when the table or chain is missing.
  virtual Result<std::vector<Rule>> listRules(Family family, const std::string& table, const std::string& chain) = 0;
};

}  // namespace nodenet::nft
