#include "cni/ipam/disk_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::cni::ipam {
namespace {

constexpr const char* kLastIpFilePrefix = "last_reserved_ip.";
constexpr const char* kLineBreak = "\r\n";  // the reference's separator between container id and ifname
constexpr const char* kIndexDir = ".nodenet";
constexpr const char* kByIdDir = ".nodenet/by-id";
constexpr const char* kStateFile = ".nodenet/state";

nodenet::Result<std::string> readAt(int dirFd, const std::string& name) {
  int fd = openat(dirFd, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nodenet::Error::fromErrno(errno, strCat("open ", name));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return nodenet::Error::fromErrno(e, strCat("read ", name));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

nodenet::Status writeAt(int dirFd, const std::string& name, const std::string& data, int flags) {
  int fd = openat(dirFd, name.c_str(), O_WRONLY | O_CLOEXEC | flags, 0600);
  if (fd < 0) return nodenet::Error::fromErrno(errno, strCat("open ", name));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return nodenet::Error::fromErrno(e, strCat("write ", name));
    }
    off += static_cast<size_t>(n);
  }
  if (close(fd) < 0) return nodenet::Error::fromErrno(errno, strCat("close ", name));
  return {};
}

// Go's strings.TrimSpace for ASCII.
std::string trimSpace(std::string_view s) {
  size_t b = 0, e = s.size();
  auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  while (b < e && sp(s[b])) ++b;
  while (e > b && sp(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// "<id>\r\n<ifname>" (current) or "<id>" (before the reference stored interface names).
Reservation parseOwner(const IpAddress& ip, std::string_view content) {
  std::string t = trimSpace(content);
  auto pos = t.find(kLineBreak);
  if (pos == std::string::npos) return Reservation{ip, t, ""};
  return Reservation{ip, t.substr(0, pos), t.substr(pos + 2)};
}

// Index files are named "<id>+<ifname>"; '+' is outside the CNI container id alphabet, so the split is
// unambiguous. Ids that could not be a file name component are not indexed.
bool indexable(const std::string& id, const std::string& ifName) {
  if (id.empty() || id.size() > 200 || id == "." || id == ".." || ifName.size() > 32) return false;
  for (char c : id)
    if (c == '/' || c == '+' || c == '\0' || c == '\n') return false;
  for (char c : ifName)
    if (c == '/' || c == '\0') return false;
  return true;
}

std::string indexKey(const std::string& id, const std::string& ifName) { return id + "+" + ifName; }

std::string stateText(const struct stat& st) {
  return strCat("v1 ", st.st_mtim.tv_sec, " ", st.st_mtim.tv_nsec, " ", st.st_ino, "\n");
}

}  // namespace

nodenet::Result<std::unique_ptr<DiskStore>> DiskStore::open(const std::string& network, const std::string& dataDir) {
  if (network.empty() || network == "." || network == ".." || network.find('/') != std::string::npos)
    return nodenet::Error(strCat("invalid network name \"", network, "\" for the IPAM store"));
  std::string base = dataDir.empty() ? std::string("/var/lib/cni/networks") : dataDir;
  std::string dir = base + "/" + network;
  // mkdir -p with 0755, like os.MkdirAll.
  for (size_t pos = 1;; ++pos) {
    pos = dir.find('/', pos);
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0755) < 0 && errno != EEXIST) return nodenet::Error::fromErrno(errno, strCat("mkdir ", part));
    if (pos == std::string::npos) break;
  }
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0) return nodenet::Error::fromErrno(errno, strCat("open ", dir));
  int lockFd = openat(dirFd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lockFd < 0) {
    int e = errno;
    close(dirFd);
    return nodenet::Error::fromErrno(e, strCat("open ", dir, "/lock"));
  }
  return std::unique_ptr<DiskStore>(new DiskStore(dir, dirFd, lockFd));
}

DiskStore::~DiskStore() {
  if (indexFd_ >= 0) close(indexFd_);
  if (lockFd_ >= 0) close(lockFd_);
  if (dirFd_ >= 0) close(dirFd_);
}

nodenet::Status DiskStore::lock() {
  mu_.lock();
  while (flock(lockFd_, LOCK_EX) < 0) {
    if (errno == EINTR) continue;
    int e = errno;
    mu_.unlock();
    return nodenet::Error::fromErrno(e, strCat("flock ", dir_, "/lock"));
  }
  indexChecked_ = false;
  dirty_ = false;
  return {};
}

nodenet::Status DiskStore::unlock() {
  nodenet::Status st;
  if (dirty_) st = recordState();
  dirty_ = false;
  indexChecked_ = false;
  flock(lockFd_, LOCK_UN);
  mu_.unlock();
  return st;
}

nodenet::Status DiskStore::recordState() {
  struct stat st;
  if (fstat(dirFd_, &st) < 0) return nodenet::Error::fromErrno(errno, strCat("stat ", dir_));
  return writeAt(dirFd_, kStateFile, stateText(st), O_CREAT | O_TRUNC);
}

nodenet::Status DiskStore::ensureIndex() {
  if (indexChecked_) return {};
  if (indexFd_ < 0) {
    if (mkdirat(dirFd_, kIndexDir, 0755) < 0 && errno != EEXIST)
      return nodenet::Error::fromErrno(errno, strCat("mkdir ", dir_, "/", kIndexDir));
    if (mkdirat(dirFd_, kByIdDir, 0755) < 0 && errno != EEXIST)
      return nodenet::Error::fromErrno(errno, strCat("mkdir ", dir_, "/", kByIdDir));
    indexFd_ = openat(dirFd_, kByIdDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (indexFd_ < 0) return nodenet::Error::fromErrno(errno, strCat("open ", dir_, "/", kByIdDir));
  }
  struct stat st;
  if (fstat(dirFd_, &st) < 0) return nodenet::Error::fromErrno(errno, strCat("stat ", dir_));
  auto recorded = readAt(dirFd_, kStateFile);
  if (!recorded.ok() || *recorded != stateText(st)) {
    NN_VLOG(2) << "host-local store " << dir_ << ": changed outside nodenet (or new index); rebuilding index";
    NN_TRY(rebuildIndex());
    NN_TRY(recordState());
  }
  indexChecked_ = true;
  return {};
}

nodenet::Result<std::vector<Reservation>> DiskStore::scan() {
  int fd = dup(dirFd_);
  if (fd < 0) return nodenet::Error::fromErrno(errno, "dup");
  DIR* d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return nodenet::Error::fromErrno(e, strCat("opendir ", dir_));
  }
  rewinddir(d);
  std::vector<Reservation> out;
  while (struct dirent* e = readdir(d)) {
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
    auto ip = IpAddress::parse(e->d_name);
    if (!ip.ok()) continue;  // lock, last_reserved_ip.N, .nodenet
    auto content = readAt(dirFd_, e->d_name);
    if (!content.ok()) continue;  // released meanwhile (only possible without the lock)
    out.push_back(parseOwner(*ip, *content));
  }
  closedir(d);
  return out;
}

nodenet::Status DiskStore::rebuildIndex() {
  ++rebuilds_;
  NN_ASSIGN_OR_RETURN(auto all, scan());
  std::map<std::string, std::string> files;
  for (const auto& r : all)
    if (indexable(r.containerId, r.ifName)) files[indexKey(r.containerId, r.ifName)] += r.ip.toString() + "\n";
  // Drop the old index, then write the new one.
  int fd = dup(indexFd_);
  if (fd < 0) return nodenet::Error::fromErrno(errno, "dup");
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    return nodenet::Error::fromErrno(errno, "opendir index");
  }
  rewinddir(d);
  std::vector<std::string> old;
  while (struct dirent* e = readdir(d))
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") old.push_back(e->d_name);
  closedir(d);
  for (const auto& n : old)
    if (!files.count(n)) unlinkat(indexFd_, n.c_str(), 0);
  for (const auto& [name, data] : files) NN_TRY(writeAt(indexFd_, name, data, O_CREAT | O_TRUNC));
  return {};
}

nodenet::Result<std::vector<IpAddress>> DiskStore::indexRead(const std::string& key) {
  std::vector<IpAddress> out;
  auto text = readAt(indexFd_, key);
  if (!text.ok()) {
    if (text.error().sysErrno() == ENOENT) return out;
    return std::move(text).error();
  }
  for (const auto& line : split(*text, '\n')) {
    if (line.empty()) continue;
    auto ip = IpAddress::parse(line);
    if (ip.ok()) out.push_back(*ip);
  }
  return out;
}

nodenet::Status DiskStore::indexAdd(const std::string& key, const IpAddress& ip) {
  NN_ASSIGN_OR_RETURN(auto ips, indexRead(key));
  if (std::find(ips.begin(), ips.end(), ip) != ips.end()) return {};
  ips.push_back(ip);
  std::string data;
  for (const auto& a : ips) data += a.toString() + "\n";
  return writeAt(indexFd_, key, data, O_CREAT | O_TRUNC);
}

nodenet::Status DiskStore::indexRemove(const std::string& key, const IpAddress& ip) {
  NN_ASSIGN_OR_RETURN(auto ips, indexRead(key));
  ips.erase(std::remove(ips.begin(), ips.end(), ip), ips.end());
  if (ips.empty()) {
    if (unlinkat(indexFd_, key.c_str(), 0) < 0 && errno != ENOENT)
      return nodenet::Error::fromErrno(errno, strCat("unlink index ", key));
    return {};
  }
  std::string data;
  for (const auto& a : ips) data += a.toString() + "\n";
  return writeAt(indexFd_, key, data, O_CREAT | O_TRUNC);
}

nodenet::Result<bool> DiskStore::reserve(const std::string& rawId, const std::string& ifName, const IpAddress& ip,
                                         const std::string& rangeId) {
  NN_TRY(ensureIndex());
  std::string id = trimSpace(rawId);
  std::string name = ip.toString();
  // The file appears complete or not at all: the content goes into an unnamed file (O_TMPFILE) that linkat()
  // then names. linkat fails with EEXIST on an existing name, so the reservation stays exclusive even against a
  // reference plugin that ignores our lock (it uses O_EXCL). Creating the name first and writing after would
  // leave an empty file — an address no DEL can match — when the plugin is killed in between.
  const std::string content = id + kLineBreak + ifName;
  const std::string what = strCat("reserve ", dir_, "/", name);
  auto writeAll = [&](int fd) -> nodenet::Status {
    ssize_t n = write(fd, content.data(), content.size());
    if (n != static_cast<ssize_t>(content.size())) return nodenet::Error::fromErrno(n < 0 ? errno : EIO, what);
    return {};
  };
  int fd = openat(dirFd_, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    auto st = writeAll(fd);
    int rc = st.ok() ? linkat(fd, "", dirFd_, name.c_str(), AT_EMPTY_PATH) : -1;
    int e = errno;
    close(fd);
    if (!st.ok()) return std::move(st).error();
    if (rc < 0) {
      if (e == EEXIST) return false;
      return nodenet::Error::fromErrno(e, what);
    }
  } else if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
    // A filesystem without O_TMPFILE: a named temporary in the same directory (the reference ignores names
    // with a leading dot), linked to the address name, then removed.
    const std::string tmp = strCat(".nodenet/tmp-", getpid());
    int tfd = openat(dirFd_, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (tfd < 0) return nodenet::Error::fromErrno(errno, what);
    auto st = writeAll(tfd);
    close(tfd);
    int rc = st.ok() ? linkat(dirFd_, tmp.c_str(), dirFd_, name.c_str(), 0) : -1;
    int e = errno;
    unlinkat(dirFd_, tmp.c_str(), 0);
    if (!st.ok()) return std::move(st).error();
    if (rc < 0) {
      if (e == EEXIST) return false;
      return nodenet::Error::fromErrno(e, what);
    }
  } else {
    return nodenet::Error::fromErrno(errno, what);
  }
  dirty_ = true;
  NN_TRY(writeAt(dirFd_, kLastIpFilePrefix + rangeId, name, O_CREAT | O_TRUNC));
  if (indexable(id, ifName)) NN_TRY(indexAdd(indexKey(id, ifName), ip));
  return true;
}

nodenet::Result<std::optional<IpAddress>> DiskStore::lastReservedIp(const std::string& rangeId) {
  auto text = readAt(dirFd_, kLastIpFilePrefix + rangeId);
  if (!text.ok()) {
    if (text.error().sysErrno() == ENOENT) return std::optional<IpAddress>();
    return std::move(text).error();
  }
  auto ip = IpAddress::parse(trimSpace(*text));
  if (!ip.ok()) return std::optional<IpAddress>();  // like net.ParseIP returning nil: start from the beginning
  return std::optional<IpAddress>(*ip);
}

nodenet::Result<std::vector<IpAddress>> DiskStore::getById(const std::string& rawId, const std::string& ifName) {
  std::string id = trimSpace(rawId);
  if (!indexable(id, ifName)) {
    std::vector<IpAddress> out;
    NN_ASSIGN_OR_RETURN(auto all, scan());
    for (const auto& r : all)
      if (r.containerId == id && (r.ifName == ifName || r.ifName.empty())) out.push_back(r.ip);
    return out;
  }
  NN_TRY(ensureIndex());
  NN_ASSIGN_OR_RETURN(auto out, indexRead(indexKey(id, ifName)));
  if (!ifName.empty()) {
    NN_ASSIGN_OR_RETURN(auto legacy, indexRead(indexKey(id, "")));
    out.insert(out.end(), legacy.begin(), legacy.end());
  }
  return out;
}

nodenet::Status DiskStore::releaseById(const std::string& rawId, const std::string& ifName) {
  std::string id = trimSpace(rawId);
  NN_TRY(ensureIndex());
  auto releaseOwned = [&](const std::string& wantIf) -> nodenet::Result<bool> {
    std::vector<IpAddress> ips;
    if (indexable(id, wantIf)) {
      NN_ASSIGN_OR_RETURN(ips, indexRead(indexKey(id, wantIf)));
    } else {
      NN_ASSIGN_OR_RETURN(auto all, scan());
      for (const auto& r : all)
        if (r.containerId == id && r.ifName == wantIf) ips.push_back(r.ip);
    }
    bool found = false;
    for (const auto& ip : ips) {
      std::string name = ip.toString();
      if (unlinkat(dirFd_, name.c_str(), 0) == 0) {
        found = true;
        dirty_ = true;
      } else if (errno != ENOENT) {
        return nodenet::Error::fromErrno(errno, strCat("remove ", dir_, "/", name));
      }
    }
    if (indexable(id, wantIf) && !ips.empty()) {
      if (unlinkat(indexFd_, indexKey(id, wantIf).c_str(), 0) < 0 && errno != ENOENT)
        return nodenet::Error::fromErrno(errno, "remove index entry");
    }
    return found;
  };
  NN_ASSIGN_OR_RETURN(bool found, releaseOwned(ifName));
  // Backwards compatibility: files written by reference versions that stored only the container id.
  if (!found && !ifName.empty()) NN_TRY(releaseOwned(""));
  return {};
}

nodenet::Result<std::vector<Reservation>> DiskStore::list() { return scan(); }

nodenet::Status DiskStore::releaseIp(const IpAddress& ip) {
  NN_TRY(ensureIndex());
  std::string name = ip.toString();
  auto content = readAt(dirFd_, name);
  if (!content.ok()) {
    if (content.error().sysErrno() == ENOENT) return {};
    return std::move(content).error();
  }
  Reservation owner = parseOwner(ip, *content);
  if (unlinkat(dirFd_, name.c_str(), 0) < 0 && errno != ENOENT)
    return nodenet::Error::fromErrno(errno, strCat("remove ", dir_, "/", name));
  dirty_ = true;
  if (indexable(owner.containerId, owner.ifName)) NN_TRY(indexRemove(indexKey(owner.containerId, owner.ifName), ip));
  return {};
}

}  // namespace nodenet::cni::ipam
