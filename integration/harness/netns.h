// Uniquely named network namespaces for root-only tests and benchmarks. Names follow one format,
// "<prefix><creator pid>-<8 hex>[-<label>]", so that leftovers of a crashed run (its creator pid is gone) can be
// found and deleted without touching anyone else's namespaces.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "integration/harness/process.h"

namespace nodenet::itest {

/// A network namespace under /run/netns that this process created (with `ip netns add`, so iproute2 and the
/// CNI plugins see it like any other). Move-only; the destructor deletes it, also when a test fails.
class TestNetns {
 public:
  /// Creates "<prefix><pid>-<rand>[-label]" and brings `lo` up inside. prefix should end with '-'.
  static Result<TestNetns> create(const std::string& prefix, const std::string& label = "");

  TestNetns() = default;
  TestNetns(TestNetns&& other) noexcept : name_(std::exchange(other.name_, {})) {}
  TestNetns& operator=(TestNetns&& other) noexcept;
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;
  ~TestNetns();

  bool valid() const { return !name_.empty(); }
  const std::string& name() const { return name_; }
  /// "/run/netns/NAME": what CNI_NETNS carries.
  std::string path() const { return "/run/netns/" + name_; }

  /// Runs argv inside this namespace (options.netns is overwritten).
  Result<RunResult> exec(const std::vector<std::string>& argv, RunOptions options = {}) const;
  /// Deletes the namespace now; a second call does nothing.
  Status remove();

 private:
  explicit TestNetns(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

/// A fresh name in the format above (not created).
std::string uniqueNetnsName(const std::string& prefix, const std::string& label = "");
/// Names in /run/netns starting with prefix, sorted.
std::vector<std::string> listNetns(const std::string& prefix);
/// Deletes namespaces "<prefix><pid>-<8 hex>..." whose creator pid no longer runs; returns how many.
/// Names of a live process, and names not in this format, are never touched.
int removeStaleNetns(const std::string& prefix);

}  // namespace nodenet::itest
