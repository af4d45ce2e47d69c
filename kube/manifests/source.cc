#include "kube/manifests/source.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"

namespace nodenet::kube::manifests {

namespace {

using Clock = std::chrono::steady_clock;

// What we watch. IN_CLOSE_WRITE: a file written in place is complete (IN_MODIFY would fire mid-write).
// IN_MOVED_TO / IN_MOVED_FROM: atomic renames (kubectl, vim's backupcopy=no, `mv tmp x.yaml`) and files moved
// out. IN_DELETE: rm. IN_CREATE: symlinks and hard links, which produce no IN_CLOSE_WRITE. IN_DELETE_SELF /
// IN_MOVE_SELF: the directory itself went away. IN_EXCL_UNLINK: no events for files already unlinked.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF |
                                IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;

constexpr ObjectKind kKinds[] = {ObjectKind::Service, ObjectKind::EndpointSlice, ObjectKind::Node};


}  // namespace

ManifestSource::ManifestSource(std::string dir, Cache& cache, SourceOptions options)
    : dir_(std::move(dir)), cache_(cache), options_(options) {}

ManifestSource::~ManifestSource() { stop(); }

Status ManifestSource::start() {
  if (inotifyFd_ >= 0) return Error("manifest directory " + dir_ + ": already started");
  // Watch first, then read: a change made while the directory is being read is still seen afterwards.
  inotifyFd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotifyFd_ < 0) return Error::fromErrno(errno, "manifests: inotify_init1");
  if (::inotify_add_watch(inotifyFd_, dir_.c_str(), kWatchMask) < 0) {
    int err = errno;
    ::close(inotifyFd_);
    inotifyFd_ = -1;
    return Error::fromErrno(err, "manifest directory " + dir_);
  }
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd_ < 0) {
    int err = errno;
    ::close(inotifyFd_);
    inotifyFd_ = -1;
    return Error::fromErrno(err, "manifests: eventfd");
  }
  {
    std::lock_guard w(writeMu_);
    Merged merged;
    {
      std::lock_guard l(mu_);
      rescanLocked();
      merged = mergeLocked();
    }
    publish(std::move(merged));
    for (ObjectKind k : kKinds) cache_.markSynced(k);
    std::lock_guard l(mu_);
    synced_ = true;
    NN_LOG(Info) << "manifests " << dir_ << ": " << stats_.files << " files, " << stats_.objects << " objects, "
                 << stats_.unsupported << " of other kinds ignored, " << stats_.brokenFiles << " broken files";
  }
  thread_ = std::thread([this] { run(); });
  return okStatus();
}

void ManifestSource::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (::write(wakeFd_, &one, sizeof one) < 0) NN_LOG(Error) << "manifests: eventfd write: " << std::strerror(errno);
    thread_.join();
  }
  if (inotifyFd_ >= 0) ::close(inotifyFd_);
  if (wakeFd_ >= 0) ::close(wakeFd_);
  inotifyFd_ = wakeFd_ = -1;
}

bool ManifestSource::synced() const {
  std::lock_guard l(mu_);
  return synced_;
}

std::map<std::string, std::string> ManifestSource::fileErrors() const {
  std::lock_guard l(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [name, fs] : files_)
    if (fs.error) out[name] = *fs.error;
  return out;
}

SourceStats ManifestSource::stats() const {
  std::lock_guard l(mu_);
  return stats_;
}

void ManifestSource::rescan() {
  std::lock_guard w(writeMu_);
  Merged merged;
  {
    std::lock_guard l(mu_);
    rescanLocked();
    merged = mergeLocked();
  }
  publish(std::move(merged));
}

void ManifestSource::run() {
  std::set<std::string> changed;  // names to re-read (or forget)
  std::set<std::string> created;  // names seen only in IN_CREATE so far
  bool fullRescan = false;
  bool watching = true;
  Clock::time_point firstEvent, lastEvent;
  alignas(struct inotify_event) char buf[16384];

  for (;;) {
    bool pending = fullRescan || !changed.empty() || !created.empty();
    int timeoutMs = -1;
    if (pending) {
      Clock::time_point due = std::min(lastEvent + options_.settle, firstEvent + options_.maxDelay);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()).count();
      timeoutMs = left < 0 ? 0 : static_cast<int>(left) + 1;
    }
    struct pollfd fds[2] = {{wakeFd_, POLLIN, 0}, {inotifyFd_, static_cast<short>(watching ? POLLIN : 0), 0}};
    int n = ::poll(fds, 2, timeoutMs);
    if (n < 0 && errno != EINTR) {
      NN_LOG(Error) << "manifests " << dir_ << ": poll: " << std::strerror(errno) << "; no longer watching";
      return;
    }
    if (fds[0].revents & POLLIN) return;  // stop()

    if (n > 0 && (fds[1].revents & POLLIN)) {
      for (;;) {
        ssize_t len = ::read(inotifyFd_, buf, sizeof buf);
        if (len <= 0) break;  // EAGAIN: drained
        for (char* p = buf; p < buf + len;) {
          auto* ev = reinterpret_cast<struct inotify_event*>(p);
          p += sizeof(struct inotify_event) + ev->len;
          // Any event, even on an ignored name (vim's backup), postpones the re-read: the burst is not over.
          lastEvent = Clock::now();
          if (ev->mask & IN_Q_OVERFLOW) {
            NN_LOG(Warning) << "manifests " << dir_ << ": inotify queue overflow, re-reading the directory";
            fullRescan = true;
            continue;
          }
          if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
            if (watching)
              NN_LOG(Error) << "manifest directory " << dir_
                            << " was removed or moved: no longer watching it; its objects stay in the cache";
            watching = false;
            continue;
          }
          if (ev->len == 0) continue;
          std::string name(ev->name);
          // A ConfigMap volume swaps its "..data" symlink to publish a new version of every file at once.
          if (name.starts_with("..")) {
            fullRescan = true;
            continue;
          }
          if (!isManifestFileName(name)) continue;
          if ((ev->mask & IN_CREATE) && !(ev->mask & IN_ISDIR))
            created.insert(name);
          else
            changed.insert(name);
        }
      }
    }

    if (!pending && (fullRescan || !changed.empty() || !created.empty())) {
      pending = true;
      firstEvent = Clock::now();
    }
    if (!pending) continue;  // only ignored names changed
    Clock::time_point now = Clock::now();
    if (now < lastEvent + options_.settle && now < firstEvent + options_.maxDelay) continue;

    std::lock_guard w(writeMu_);
    std::unique_lock l(mu_);
    if (fullRescan) {
      rescanLocked();
    } else {
      for (const std::string& name : changed) refreshFileLocked(name);
      for (const std::string& name : created) {
        if (changed.count(name)) continue;
        // A plain file still being written gets IN_CLOSE_WRITE later; symlinks and hard links never do.
        struct stat st;
        std::string path = dir_ + "/" + name;
        if (::lstat(path.c_str(), &st) == 0 && (S_ISLNK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink > 1)))
          refreshFileLocked(name);
      }
    }
    Merged merged = mergeLocked();
    l.unlock();
    publish(std::move(merged));
    l.lock();
    ++stats_.batches;
    l.unlock();
    changed.clear();
    created.clear();
    fullRescan = false;
  }
}

void ManifestSource::refreshFileLocked(const std::string& name) {
  std::string path = dir_ + "/" + name;
  struct stat st;
  // stat, not lstat: a symlink to a file is read (ConfigMap volumes are made of them).
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    if (files_.erase(name)) NN_LOG(Info) << "manifests " << dir_ << ": " << name << " removed";
    return;
  }
  FileState& fs = files_[name];
  auto reportBroken = [&](std::string msg) {
    NN_LOG(Error) << "manifests " << dir_ << ": " << msg << " (file skipped"
                  << (fs.loaded ? "; keeping the objects it held before)" : ")");
    fs.error = std::move(msg);
  };
  Result<std::string> text = readFile(path, options_.maxFileBytes);
  if (!text.ok()) {
    if (text.error().sysErrno() == ENOENT) {  // removed between stat and open
      files_.erase(name);
      return;
    }
    reportBroken(text.error().message());
    return;
  }
  Result<ParsedManifest> parsed = parseManifest(name, *text);
  if (!parsed.ok()) {
    reportBroken(parsed.error().message());
    return;
  }
  NN_VLOG(2) << "manifests " << dir_ << ": read " << name << ": " << parsed->objects.size() << " objects";
  fs.objects.clear();
  fs.objects.reserve(parsed->objects.size());
  for (Object& o : parsed->objects) fs.objects.push_back(std::make_shared<const Object>(std::move(o)));
  fs.unsupported = parsed->unsupported;
  fs.loaded = true;
  fs.error.reset();
}

void ManifestSource::rescanLocked() {
  DIR* d = ::opendir(dir_.c_str());
  if (!d) {
    NN_LOG(Error) << "manifests: cannot list " << dir_ << ": " << std::strerror(errno) << "; keeping what was read";
    return;
  }
  std::set<std::string> present;
  while (struct dirent* e = ::readdir(d))
    if (isManifestFileName(e->d_name)) present.insert(e->d_name);
  ::closedir(d);
  for (auto it = files_.begin(); it != files_.end();) {
    if (!present.count(it->first)) {
      NN_LOG(Info) << "manifests " << dir_ << ": " << it->first << " removed";
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& name : present) refreshFileLocked(name);
}

ManifestSource::Merged ManifestSource::mergeLocked() {
  std::map<std::pair<ObjectKind, std::string>, const std::string*> owner;
  Merged items;
  std::set<std::string> conflicts;
  SourceStats s;
  s.batches = stats_.batches;
  for (const auto& [name, fs] : files_) {
    if (fs.error) ++s.brokenFiles;
    if (!fs.loaded) continue;
    ++s.files;
    s.unsupported += fs.unsupported;
    for (const ObjectPtr& o : fs.objects) {
      ObjectKind kind = kindOf(*o);
      auto [it, inserted] = owner.emplace(std::make_pair(kind, metaOf(*o).key()), &name);
      if (inserted) {
        items[CacheSnapshot::index(kind)].push_back(o);
        continue;
      }
      ++s.conflicts;
      std::string what =
          strCat(objectKindName(kind), " ", it->first.second, " is defined in ", *it->second,
                 *it->second == name ? " twice" : strCat(" and in ", name), "; using the first in ", *it->second);
      if (!warnedConflicts_.count(what)) NN_LOG(Warning) << "manifests " << dir_ << ": " << what;
      conflicts.insert(std::move(what));
    }
  }
  warnedConflicts_ = std::move(conflicts);
  for (const auto& kindItems : items) s.objects += kindItems.size();
  stats_ = s;
  return items;
}

void ManifestSource::publish(Merged merged) {
  for (ObjectKind k : kKinds) cache_.replaceAllShared(k, std::move(merged[CacheSnapshot::index(k)]));
}

}  // namespace nodenet::kube::manifests
