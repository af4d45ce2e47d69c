// A uniquely named network namespace per test ("nnt-nft-<random>"), deleted in TearDown even on failure.
// Skips when not root. Never touches the root namespace.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

namespace nodenet::nft::testing {

/// Runs a shell command; returns its stdout and sets *status to the exit status.
inline std::string runCommand(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (creates network namespaces)";
    ns_ = newNetns();
    ASSERT_FALSE(ns_.empty());
  }
  void TearDown() override {
    for (const std::string& n : created_) runCommand("ip netns del " + n);
  }

  /// Creates another namespace that TearDown deletes.
  std::string newNetns() {
    std::random_device rd;
    char name[32];
    snprintf(name, sizeof name, "nnt-nft-%08x", rd());
    int st = 0;
    std::string out = runCommand(std::string("ip netns add ") + name, &st);
    if (st != 0) {
      ADD_FAILURE() << "ip netns add " << name << ": " << out;
      return "";
    }
    created_.push_back(name);
    return name;
  }

  std::string nsPath() const { return "/run/netns/" + ns_; }
  /// Runs a command inside the test namespace.
  std::string inNs(const std::string& cmd, int* status = nullptr) const {
    return runCommand("ip netns exec " + ns_ + " " + cmd, status);
  }
  /// `nft -c -f` of a script inside the namespace; returns nft's output, empty on success.
  std::string nftCheck(const std::string& script) const {
    std::string path = "/tmp/" + ns_ + "-check.nft";
    std::ofstream(path) << script;
    int st = 0;
    std::string out = inNs("nft -c -f " + path, &st);
    unlink(path.c_str());
    return st == 0 ? "" : (out.empty() ? "failed" : out);
  }

  std::string ns_;
  std::vector<std::string> created_;
};

}  // namespace nodenet::nft::testing
