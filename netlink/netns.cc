#include "netlink/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <system_error>
#include <thread>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::netlink {
namespace {

Status validateNetnsName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return Error(strCat("invalid netns name \"", name, "\": must be a non-empty file name"), EINVAL);
  return okStatus();
}

std::string namedPath(std::string_view name) { return strCat(kNetnsRunDir, "/", name); }

// `ip netns add` makes the run directory a shared mount point so that later bind mounts under it propagate to
// other mount namespaces (a process that unshared its mount ns still sees new netns files). Mirror that.
Status ensureRunDirShared() {
  if (::mkdir(kNetnsRunDir, 0755) != 0 && errno != EEXIST)
    return Error::fromErrno(errno, strCat("mkdir ", kNetnsRunDir));
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return okStatus();
    // EINVAL: not a mount point yet; bind it onto itself once and retry.
    if (errno != EINVAL || attempt == 1)
      return Error::fromErrno(errno, strCat("make ", kNetnsRunDir, " a shared mount"));
    if (::mount(kNetnsRunDir, kNetnsRunDir, "none", MS_BIND | MS_REC, nullptr) != 0)
      return Error::fromErrno(errno, strCat("bind-mount ", kNetnsRunDir, " onto itself"));
  }
  return okStatus();
}

}  // namespace

Netns& Netns::operator=(Netns&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

Netns::~Netns() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Netns> Netns::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::fromErrno(errno, strCat("open netns ", path));
  Netns ns(fd, path);
  // Reject files that are not namespaces early: setns would fail later with a less helpful EINVAL.
  struct statfs sfs {};
  if (::fstatfs(fd, &sfs) != 0) return Error::fromErrno(errno, strCat("statfs netns ", path));
  if (sfs.f_type != NSFS_MAGIC && sfs.f_type != PROC_SUPER_MAGIC)
    return Error(strCat("open netns ", path, ": not a namespace file"), EINVAL);
  return ns;
}

Result<Netns> Netns::openNamed(std::string_view name) {
  NN_TRY(validateNetnsName(name));
  return open(namedPath(name));
}

Result<Netns> Netns::current() {
  int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::fromErrno(errno, "open current netns /proc/thread-self/ns/net");
  return Netns(fd, "");
}

Result<Netns> Netns::createNamed(std::string_view name) {
  NN_TRY(validateNetnsName(name));
  NN_TRY(ensureRunDirShared());
  const std::string path = namedPath(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return Error::fromErrno(errno, strCat("create netns file ", path));
  ::close(fd);

  // unshare() changes only the calling thread's netns; a throwaway thread keeps ours untouched. The bind
  // mount pins the namespace after the thread exits.
  Status made = okStatus();
  try {
    std::thread t([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        made = Error::fromErrno(errno, strCat("unshare(CLONE_NEWNET) for netns ", name));
        return;
      }
      if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0)
        made = Error::fromErrno(errno, strCat("bind-mount new netns onto ", path));
    });
    t.join();
  } catch (const std::system_error& e) {
    made = Error(strCat("create netns ", name, ": cannot start thread: ", e.what()), e.code().value());
  }
  if (!made.ok()) {
    ::unlink(path.c_str());
    return std::move(made).error();
  }
  auto ns = open(path);
  if (!ns.ok()) {
    (void)deleteNamed(name, true);
    return std::move(ns).error();
  }
  NN_VLOG(2) << "created netns " << path;
  return ns;
}

Status Netns::deleteNamed(std::string_view name, bool ifExists) {
  NN_TRY(validateNetnsName(name));
  const std::string path = namedPath(name);
  // MNT_DETACH: like `ip netns del`, do not fail while some process still has it open.
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return Error::fromErrno(errno, strCat("unmount netns ", path));
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT && ifExists) return okStatus();
    return Error::fromErrno(errno, strCat("delete netns ", path));
  }
  NN_VLOG(2) << "deleted netns " << path;
  return okStatus();
}

std::string Netns::describe() const {
  if (path_.empty()) return strCat("current netns (fd ", fd_, ")");
  return strCat("netns ", path_, " (fd ", fd_, ")");
}

Result<bool> Netns::sameAs(const Netns& other) const {
  struct stat a {}, b {};
  if (::fstat(fd_, &a) != 0) return Error::fromErrno(errno, strCat("stat ", describe()));
  if (::fstat(other.fd_, &b) != 0) return Error::fromErrno(errno, strCat("stat ", other.describe()));
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Result<Netns> Netns::dup() const {
  int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Error::fromErrno(errno, strCat("dup ", describe()));
  return Netns(fd, path_);
}

Status runInNetns(const Netns& ns, const std::function<Status()>& fn) {
  if (!ns.valid()) return Error("runInNetns: invalid netns handle", EBADF);
  Status result = okStatus();
  try {
    std::thread t([&] {
      if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
        result = Error::fromErrno(errno, strCat("setns into ", ns.describe()));
        return;
      }
      // This thread dies right after fn: no need (and no way to fail) to switch back.
      result = fn();
    });
    t.join();
  } catch (const std::system_error& e) {
    return Error(strCat("run in ", ns.describe(), ": cannot start thread: ", e.what()), e.code().value());
  }
  return result;
}

Result<NetnsGuard> NetnsGuard::enter(const Netns& target) {
  NN_ASSIGN_OR_RETURN(Netns saved, Netns::current());
  if (::setns(target.fd(), CLONE_NEWNET) != 0)
    return Error::fromErrno(errno, strCat("setns into ", target.describe()));
  return NetnsGuard(std::move(saved));
}

NetnsGuard::~NetnsGuard() {
  if (!saved_.valid()) return;  // moved from
  if (::setns(saved_.fd(), CLONE_NEWNET) != 0) {
    // The thread would go on in the wrong namespace and corrupt whatever it touches next.
    NN_LOG(Fatal) << "NetnsGuard: cannot switch back to " << saved_.describe() << ": errno " << errno;
  }
}

}  // namespace nodenet::netlink
