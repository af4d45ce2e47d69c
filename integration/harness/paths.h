// Where the harness finds things: the build tree's binaries, the repo's conf/, the reference CNI plugins, and
// scratch directories that clean themselves up.
#pragma once

#include <string>
#include <utility>

#include "base/result.h"

namespace nodenet::itest {

/// The build directory: $NODENET_BUILD_DIR, else the parent of the running binary's folder when it holds a
/// CMakeCache.txt (build/tests/x, build/bin/x), else the build dir this harness was configured in.
std::string buildDir();
/// The repository: $NODENET_SOURCE_DIR, else the source dir this harness was configured from.
std::string sourceDir();
/// <repo>/conf.
std::string confDir();
/// <build>/bin/NAME: one of our programs (nodenet-cni, nodenet-proxy, nodenet-dns).
std::string ourBinary(const std::string& name);
/// <build>/cni: our plugin under its type names (bridge, host-local, loopback).
std::string ourCniPath();
/// $NODENET_REFERENCE_CNI_PATH, else /usr/lib/cni (Debian's containernetworking-plugins).
std::string referenceCniPath();
/// True when every name is an executable file in dir.
bool hasPlugins(const std::string& dir, std::initializer_list<const char*> types);
bool isRoot();
/// 64 random hex digits, like a container runtime's ID.
std::string randomContainerId();

/// A directory "$TMPDIR/<prefix><pid>-XXXXXX" from mkdtemp, removed recursively by the destructor. Move-only.
class TempDir {
 public:
  static Result<TempDir> create(const std::string& prefix = "nodenet-itest-");
  TempDir() = default;
  TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  TempDir& operator=(TempDir&& o) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

/// Removes "$TMPDIR/<prefix><pid>-*" directories whose creator pid no longer runs (a killed run); returns how many.
int removeStaleTempDirs(const std::string& prefix = "nodenet-itest-");

}  // namespace nodenet::itest
