// The embedded default source: a directory of manifest files (like kubelet's static pod directory) feeding a
// kube::Cache, kept current with inotify.
//
// Invariants (see kube/README.md):
//  - A file is the unit of replacement: after a change, the objects of a file are exactly those it now holds
//    (objects gone from it are Deleted). An object moved from one file to another is not flapped: the cache
//    receives the merged view of all files and emits only real differences.
//  - A broken file (bad YAML or JSON, an invalid object) is reported (log + fileErrors()) with the file name and
//    the decoder's field path and SKIPPED: what it held before stays; other files are unaffected.
//  - Two files defining the same object: the first by file name wins, with a warning.
//  - The cache's three kinds are synced once the initial read is done (start() returns).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "kube/cache/cache.h"
#include "kube/manifests/parse.h"

namespace nodenet::kube::manifests {

struct SourceOptions {
  /// After an inotify event, wait until the directory has been quiet this long before re-reading, so an editor's
  /// rename dance (vim: rename to x~, write x, unlink x~) is read once, in its final state.
  std::chrono::milliseconds settle{25};
  /// ... but never delay a re-read longer than this behind a steady stream of events.
  std::chrono::milliseconds maxDelay{250};
  /// Files larger than this are reported as broken rather than read.
  size_t maxFileBytes = 16u << 20;
};

/// Counters, for logs, metrics and tests.
struct SourceStats {
  size_t files = 0;        // manifest files currently contributing (loaded at least once and still present)
  size_t objects = 0;      // objects in the merged view
  size_t unsupported = 0;  // documents/items of kinds nodenet ignores, over the current files
  size_t conflicts = 0;    // objects defined by more than one file
  size_t brokenFiles = 0;  // files whose last read failed
  uint64_t batches = 0;    // change batches processed by the watch thread (the initial read is not one)
};

class ManifestSource {
 public:
  /// Feeds `cache` (which must outlive this source) from the files in `dir` (not recursive).
  ManifestSource(std::string dir, Cache& cache, SourceOptions options = {});
  ~ManifestSource();
  ManifestSource(const ManifestSource&) = delete;
  ManifestSource& operator=(const ManifestSource&) = delete;

  /// Starts watching `dir`, reads every manifest file in it into the cache and marks the cache's kinds synced,
  /// then keeps the cache current from a thread of its own. Broken files are not an error here (they are
  /// logged and listed in fileErrors()). Errors: the directory cannot be opened or watched (missing, EACCES,
  /// the inotify limits). Call once.
  Status start();
  /// Stops the watch thread and joins it. Idempotent; the cache keeps its contents.
  void stop();

  /// True once start() has read the directory.
  bool synced() const;
  /// Files whose last read failed, by file name, with the message (file name, document, field path).
  std::map<std::string, std::string> fileErrors() const;
  SourceStats stats() const;
  /// Re-reads every file now, on the calling thread (what an inotify queue overflow triggers).
  void rescan();

 private:
  struct FileState {
    std::vector<ObjectPtr> objects;  // from the last good read; shared with the cache (one copy each)
    size_t unsupported = 0;
    bool loaded = false;               // a good read happened (objects are meaningful)
    std::optional<std::string> error;  // the last read failed
  };

  using Merged = std::array<std::vector<ObjectPtr>, 3>;  // by CacheSnapshot::index(kind)

  void run();
  // Under mu_: re-reads `name` (or forgets it when it is gone or no longer a regular file).
  void refreshFileLocked(const std::string& name);
  // Under mu_: lists the directory and refreshes every manifest file; forgets files that disappeared.
  void rescanLocked();
  // Under mu_: the merged view of all files (first file by name wins); updates the stats and conflict warnings.
  Merged mergeLocked();
  // Under writeMu_ only: hands the merged view to the cache (replaceAll per kind: only real differences).
  void publish(Merged merged);

  const std::string dir_;
  Cache& cache_;
  const SourceOptions options_;
  int inotifyFd_ = -1;
  int wakeFd_ = -1;  // eventfd: stop() wakes the thread
  std::thread thread_;

  // Lock order: writeMu_, then mu_. writeMu_ serializes the writers (the watch thread, start(), rescan()) so the
  // cache receives merged views in order; mu_ is not held while the cache notifies its handlers, so a handler
  // may call stats() or fileErrors().
  std::mutex writeMu_;
  mutable std::mutex mu_;                   // guards everything below
  std::map<std::string, FileState> files_;  // by file name: iteration order decides conflicts
  std::set<std::string> warnedConflicts_;   // "kind key in file", warned once
  SourceStats stats_;
  bool synced_ = false;
};

}  // namespace nodenet::kube::manifests
