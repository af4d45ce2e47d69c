// Network namespace handles and the one safe way to run code inside another namespace.
//
// A netns is held as an open fd (RAII). Code that must run "inside" a namespace runs on a short-lived
// dedicated thread that calls setns() and then dies, so no long-lived thread (an Asio worker, the CNI main
// thread) is ever left in the wrong namespace (STYLE.md habit 9).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"

namespace nodenet::netlink {

/// Directory where named namespaces are bind-mounted, as `ip netns` does (/var/run is a link to /run).
inline constexpr const char* kNetnsRunDir = "/run/netns";

/// An open network namespace file descriptor. Move-only; closes the fd on destruction.
class Netns {
 public:
  Netns() = default;
  Netns(Netns&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}
  Netns& operator=(Netns&& other) noexcept;
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  ~Netns();

  /// Opens a namespace by path: "/var/run/netns/NAME", "/proc/PID/ns/net" or any bind mount of one.
  /// Errors: ENOENT when the path does not exist; EINVAL (sysErrno) when the path is not a network namespace.
  static Result<Netns> open(const std::string& path);
  /// Opens the namespace named NAME under /run/netns (what `ip netns` lists).
  static Result<Netns> openNamed(std::string_view name);
  /// Opens the network namespace of the *calling thread* (/proc/thread-self/ns/net).
  static Result<Netns> current();

  /// Does what `ip netns add NAME` does: makes /run/netns a shared mount point if needed, creates a fresh
  /// namespace on a dedicated thread (unshare) and bind-mounts it at /run/netns/NAME. Returns a handle to it.
  /// The caller's thread never changes namespace. Not idempotent: an existing NAME fails with EEXIST.
  /// The new namespace has only `lo`, and it is down.
  static Result<Netns> createNamed(std::string_view name);
  /// Does what `ip netns del NAME` does: lazily unmounts /run/netns/NAME and removes the file. The namespace
  /// itself lives on while any process or fd (including Netns handles) still refers to it. With
  /// ifExists=true a missing NAME is success; otherwise it fails with ENOENT.
  static Status deleteNamed(std::string_view name, bool ifExists = false);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  /// The path it was opened from ("" for a handle from current()).
  const std::string& path() const { return path_; }
  /// For messages: "netns /run/netns/x (fd 7)" or "current netns (fd 7)".
  std::string describe() const;
  /// True when both handles refer to the same namespace (same nsfs inode).
  Result<bool> sameAs(const Netns& other) const;
  /// Another handle (dup'ed fd) to the same namespace.
  Result<Netns> dup() const;

 private:
  Netns(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

/// Runs fn on a new std::thread that first setns()-es into ns, and waits for it. The caller's thread never
/// changes namespace, and the helper thread exits afterwards, so nothing ever needs restoring. Errors: the
/// setns or thread-creation failure (naming the namespace), or fn's own error unchanged. fn must not throw.
/// Anything fn creates that is bound to a namespace at creation (sockets, including netlink sockets) stays
/// in ns and may be used from any thread afterwards; /proc/sys/net files must be opened inside fn.
Status runInNetns(const Netns& ns, const std::function<Status()>& fn);

/// Like runInNetns, for a callable returning a value.
template <typename T>
Result<T> runInNetnsFor(const Netns& ns, const std::function<Result<T>()>& fn) {
  Result<T> out = Error("runInNetnsFor: callable did not run");
  Status st = runInNetns(ns, [&]() -> Status {
    out = fn();
    return okStatus();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

/// Switches the *calling thread* into a namespace and switches back on destruction. Only for threads that
/// are about to die anyway (runInNetns uses its own thread instead; prefer it). If switching back fails the
/// thread would keep running in the wrong namespace, so the destructor aborts the process.
class NetnsGuard {
 public:
  /// Errors: setns failure (the thread's namespace is unchanged then).
  static Result<NetnsGuard> enter(const Netns& target);
  NetnsGuard(NetnsGuard&& other) noexcept : saved_(std::move(other.saved_)) {}
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  ~NetnsGuard();

 private:
  explicit NetnsGuard(Netns saved) : saved_(std::move(saved)) {}
  Netns saved_;
};

}  // namespace nodenet::netlink
