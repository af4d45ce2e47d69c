// The typed object store every source (API watch, manifest directory) feeds and every consumer (proxy, DNS) reads.
//
// Invariants (see kube/README.md):
//  - Events report real changes only: re-adding an object whose content is unchanged (resourceVersion aside) is
//    no event; deleting an absent object is no event. `previous` is always the cache's own former copy.
//  - replaceAll(kind, items) turns a full list (a relist after 410 Gone, a manifest rescan) into the minimal set
//    of Added/Modified/Deleted events.
//  - Snapshots are immutable: a reader may hold one for as long as it likes while the cache moves on.
//    Objects are shared (shared_ptr<const Object>) between the cache, events and snapshots, never copied.
//
// Thread safety: every method may be called from any thread. Writes (apply, replaceAll, markSynced,
// setResourceVersion) are serialized and handlers run on the writing thread, in order, after the state has been
// updated; a handler may read (snapshot(), get()) and (un)subscribe but must not write to the same cache
// (that aborts). snapshot() takes a short internal lock (O(1): it shares the maps); the first write to a kind
// after a snapshot was taken copies that kind's map of pointers (copy-on-write), so a writer never disturbs a
// reader. The intended shape is one writer (the source's thread) and any number of snapshot readers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kube/objects/decode.h"

namespace nodenet::kube {

/// An object held by the cache; shared with events and snapshots, never mutated.
using ObjectPtr = std::shared_ptr<const Object>;

enum class EventType : uint8_t { Added, Modified, Deleted };
/// "Added", "Modified", "Deleted".
const char* eventTypeName(EventType t);

/// A change to one object. As input to Cache::apply, only type, kind, key and current (for Added/Modified)
/// matter; as output, previous and current are the cache's copies before and after.
struct Event {
  EventType type = EventType::Added;
  ObjectKind kind = ObjectKind::Service;
  std::string key;     // "namespace/name", or "name" for Nodes
  ObjectPtr previous;  // null for Added
  ObjectPtr current;   // null for Deleted

  /// An Added event for `o` (Cache::apply treats Added and Modified alike: "the object is now this").
  static Event added(Object o);
  /// A Modified event for `o`.
  static Event modified(Object o);
  /// A Deleted event for the object `key` of `kind` (e.g. from a DELETED watch event or an invalid object).
  static Event deleted(ObjectKind kind, std::string key);
};

/// The cache change a watch event asks for, or nullopt for BOOKMARK and ERROR (the watcher handles those).
/// ADDED/MODIFIED with a decoded object: "the object is now this". An event whose object failed to decode
/// (`invalid`) and DELETED: delete the object by its key, so an object that became invalid stops being served
/// (the caller logs `invalid->error`). `kind` is the watched kind (the key of an invalid object needs it).
std::optional<Event> eventFromWatch(const WatchEvent& w, ObjectKind kind);

/// True when the two objects have the same kind and content; metadata.resourceVersion is ignored (the API
/// server bumps it on writes that change nothing nodenet reads, and it is not content).
bool sameContent(const Object& a, const Object& b);

/// Which objects a consumer wants. `accept` null means everything.
struct ObjectFilter {
  std::string name;
  std::function<bool(const Object&)> accept;

  bool operator()(const Object& o) const { return !accept || accept(o); }
};

/// Accepts everything.
ObjectFilter acceptAllFilter();
/// What nodenet-proxy (like kube-proxy's informers) reads: drops Services and EndpointSlices labelled
/// service.kubernetes.io/service-proxy-name (another proxy owns them) and EndpointSlices labelled
/// service.kubernetes.io/headless (headless Services have no virtual IP to program). Nodes all pass.
ObjectFilter proxyFilter();
/// What nodenet-dns reads: everything, headless Services' slices included (they are its A/AAAA and SRV
/// records) and Services labelled service-proxy-name (their names still resolve).
ObjectFilter dnsFilter();

/// The event as a consumer with `filter` sees it, or nullopt when it sees nothing: when an update moves an
/// object out of the filter (a label added) the consumer sees Deleted, into it Added, as with a label-selector
/// watch.
std::optional<Event> filterEvent(const Event& e, const ObjectFilter& filter);

/// One kind's objects by key, sorted (iteration order is deterministic).
using ObjectMap = std::map<std::string, ObjectPtr, std::less<>>;

/// An immutable view of the cache at one moment. Cheap to take; safe to hold and read from any thread.
class CacheSnapshot {
 public:
  /// All objects of `kind` by key.
  const ObjectMap& objects(ObjectKind kind) const { return *maps_[index(kind)]; }
  size_t size(ObjectKind kind) const { return objects(kind).size(); }
  /// The object `key` of `kind`, or null.
  ObjectPtr find(ObjectKind kind, std::string_view key) const;
  /// Typed lookups; null when absent.
  const Service* service(std::string_view key) const;
  const EndpointSlice* endpointSlice(std::string_view key) const;
  const Node* node(std::string_view name) const;

  /// Calls fn(const T&) for every object of T's kind that `filter` accepts, in key order.
  template <typename T, typename F>
  void forEach(F&& fn, const ObjectFilter& filter = {}) const {
    for (const auto& [key, obj] : objects(kindFor<T>()))
      if (filter(*obj)) fn(std::get<T>(*obj));
  }

  /// Whether the kind's source has delivered its complete initial state (list done, manifests read).
  bool synced(ObjectKind kind) const { return synced_[index(kind)]; }
  bool allSynced() const { return synced_[0] && synced_[1] && synced_[2]; }
  /// The last list or watch resourceVersion recorded for the kind (where a watch resumes); may be empty.
  const std::string& resourceVersion(ObjectKind kind) const { return resourceVersions_[index(kind)]; }
  /// Increases with every real change; equal versions mean equal content (consumers can skip a rebuild).
  uint64_t version() const { return version_; }

  template <typename T>
  static constexpr ObjectKind kindFor() {
    if constexpr (std::is_same_v<T, Service>)
      return ObjectKind::Service;
    else if constexpr (std::is_same_v<T, EndpointSlice>)
      return ObjectKind::EndpointSlice;
    else
      return ObjectKind::Node;
  }
  static size_t index(ObjectKind k) { return static_cast<size_t>(k); }

 private:
  friend class Cache;
  std::shared_ptr<const ObjectMap> maps_[3];
  bool synced_[3] = {false, false, false};
  std::string resourceVersions_[3];
  uint64_t version_ = 0;
};
using CacheSnapshotPtr = std::shared_ptr<const CacheSnapshot>;

class Cache {
 public:
  using Handler = std::function<void(const Event&)>;
  using SubscriptionId = uint64_t;

  Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  /// Applies one change and returns the real change (with `previous` filled from the cache), or nullopt when
  /// nothing changed (same content again, or deleting an absent object). For Added/Modified the key is taken
  /// from the object; both mean "the object is now this" (an Added for a known object reports Modified, as a
  /// watch replay after reconnect can do). Subscribers see the returned event.
  std::optional<Event> apply(Event event);

  /// Makes `items` the complete set of `kind`: returns (and notifies) only the differences, Deleted events
  /// first, then Added/Modified in key order. Marks the kind synced and records `resourceVersion` when not
  /// empty. Every item must be of `kind` (aborts otherwise); of duplicate keys the last wins.
  std::vector<Event> replaceAll(ObjectKind kind, std::vector<Object> items, std::string resourceVersion = {});
  /// The same for objects the caller keeps too (the manifest source holds every file's objects). An unchanged
  /// object's stored pointer is replaced by the caller's, so the caller and the cache share one copy instead of
  /// holding two equal ones. This happens without an event, and snapshots already taken keep theirs.
  std::vector<Event> replaceAllShared(ObjectKind kind, std::vector<ObjectPtr> items,
                                      std::string resourceVersion = {});
  /// The same for a typed list (List<Service>::items, ...).
  template <typename T>
  std::vector<Event> replaceAll(std::vector<T> items, std::string resourceVersion = {}) {
    std::vector<Object> objs;
    objs.reserve(items.size());
    for (T& t : items) objs.emplace_back(std::move(t));
    return replaceAll(CacheSnapshot::kindFor<T>(), std::move(objs), std::move(resourceVersion));
  }

  /// Marks the kind synced (e.g. at a watch-list's initial-events-end bookmark). Never unmarked.
  void markSynced(ObjectKind kind);
  bool synced(ObjectKind kind) const;
  /// Records the resourceVersion a watch of `kind` resumes from (bookmarks, events).
  void setResourceVersion(ObjectKind kind, std::string resourceVersion);
  std::string resourceVersion(ObjectKind kind) const;

  /// Calls `handler` for every later real change that `filter` lets through (see filterEvent), on the writing
  /// thread, in order. The handler must not write to this cache.
  SubscriptionId subscribe(Handler handler, ObjectFilter filter = {});
  /// Stops calling the handler. Called from another thread, a notification already under way may still finish.
  void unsubscribe(SubscriptionId id);

  /// The current state, immutable.
  CacheSnapshotPtr snapshot() const;
  /// The current object `key` of `kind`, or null.
  ObjectPtr get(ObjectKind kind, std::string_view key) const;
  size_t size(ObjectKind kind) const;

 private:
  struct Subscriber {
    SubscriptionId id;
    std::shared_ptr<Handler> handler;
    ObjectFilter filter;
  };
  class WriteGuard;

  // Under mu_: the map of `kind`, copied first when a snapshot still shares it.
  ObjectMap& mutableMap(size_t k);
  // Under mu_: applies one change to the state (no notification). `adopt`: when the content is unchanged but
  // the pointer differs, store the event's pointer (shared with the caller) instead of keeping ours.
  std::optional<Event> applyLocked(Event event, bool adopt = false);
  void notify(const std::vector<Event>& events);
  std::vector<Event> replaceAllImpl(ObjectKind kind, std::vector<ObjectPtr> items, std::string resourceVersion,
                                    bool adopt);

  std::mutex writeMu_;  // serializes writers (state change + notification)
  std::atomic<std::thread::id> writer_{};
  mutable std::mutex mu_;  // guards everything below
  std::shared_ptr<ObjectMap> maps_[3];
  bool synced_[3] = {false, false, false};
  std::string resourceVersions_[3];
  uint64_t version_ = 0;
  mutable CacheSnapshotPtr lastSnapshot_;  // reused while nothing changes
  std::vector<Subscriber> subscribers_;
  SubscriptionId nextId_ = 1;
};

}  // namespace nodenet::kube
