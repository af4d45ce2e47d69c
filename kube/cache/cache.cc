#include "kube/cache/cache.h"

#include <algorithm>
#include <cassert>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::kube {

namespace {

size_t idx(ObjectKind k) { return CacheSnapshot::index(k); }

std::string keyOf(const Object& o) { return metaOf(o).key(); }

bool hasLabel(const Object& o, std::string_view label) { return metaOf(o).labels.contains(label); }

}  // namespace

const char* eventTypeName(EventType t) {
  switch (t) {
    case EventType::Added: return "Added";
    case EventType::Modified: return "Modified";
    case EventType::Deleted: return "Deleted";
  }
  return "?";
}

Event Event::added(Object o) {
  Event e;
  e.type = EventType::Added;
  e.kind = kindOf(o);
  e.key = keyOf(o);
  e.current = std::make_shared<const Object>(std::move(o));
  return e;
}

Event Event::modified(Object o) {
  Event e = added(std::move(o));
  e.type = EventType::Modified;
  return e;
}

Event Event::deleted(ObjectKind kind, std::string key) {
  Event e;
  e.type = EventType::Deleted;
  e.kind = kind;
  e.key = std::move(key);
  return e;
}

std::optional<Event> eventFromWatch(const WatchEvent& w, ObjectKind kind) {
  if (w.type != WatchEventType::Added && w.type != WatchEventType::Modified && w.type != WatchEventType::Deleted)
    return std::nullopt;
  if (w.object) {
    if (w.type == WatchEventType::Deleted) return Event::deleted(kindOf(*w.object), keyOf(*w.object));
    return w.type == WatchEventType::Added ? Event::added(*w.object) : Event::modified(*w.object);
  }
  if (!w.invalid || w.invalid->name.empty()) return std::nullopt;  // nothing to identify the object by
  std::string key = w.invalid->ns.empty() ? w.invalid->name : strCat(w.invalid->ns.view(), "/", w.invalid->name);
  return Event::deleted(kind, std::move(key));
}

bool sameContent(const Object& a, const Object& b) {
  if (a.index() != b.index()) return false;
  const std::string& rvA = metaOf(a).resourceVersion;
  const std::string& rvB = metaOf(b).resourceVersion;
  if (rvA == rvB) return a == b;
  // Compare a copy of b carrying a's resourceVersion. Only reached on updates, which are rare next to the
  // decoding that produced them.
  return std::visit(
      [&](const auto& objA) {
        auto copyB = std::get<std::decay_t<decltype(objA)>>(b);
        copyB.meta.resourceVersion = rvA;
        return objA == copyB;
      },
      a);
}

ObjectFilter acceptAllFilter() { return ObjectFilter{"all", nullptr}; }

ObjectFilter proxyFilter() {
  return ObjectFilter{"proxy", [](const Object& o) {
                        switch (kindOf(o)) {
                          case ObjectKind::Service: return !hasLabel(o, kLabelServiceProxyName);
                          case ObjectKind::EndpointSlice:
                            return !hasLabel(o, kLabelServiceProxyName) && !hasLabel(o, kLabelHeadless);
                          case ObjectKind::Node: return true;
                        }
                        return true;
                      }};
}

ObjectFilter dnsFilter() { return ObjectFilter{"dns", nullptr}; }

std::optional<Event> filterEvent(const Event& e, const ObjectFilter& filter) {
  if (!filter.accept) return e;
  bool prevIn = e.previous && filter(*e.previous);
  bool curIn = e.current && filter(*e.current);
  if (!prevIn && !curIn) return std::nullopt;
  Event out = e;
  if (prevIn && curIn) {
    out.type = EventType::Modified;
  } else if (curIn) {
    out.type = EventType::Added;
    out.previous = nullptr;
  } else {
    out.type = EventType::Deleted;
    out.current = nullptr;
  }
  return out;
}

ObjectPtr CacheSnapshot::find(ObjectKind kind, std::string_view key) const {
  const ObjectMap& m = objects(kind);
  auto it = m.find(key);
  return it == m.end() ? nullptr : it->second;
}

const Service* CacheSnapshot::service(std::string_view key) const {
  auto it = objects(ObjectKind::Service).find(key);
  return it == objects(ObjectKind::Service).end() ? nullptr : &std::get<Service>(*it->second);
}

const EndpointSlice* CacheSnapshot::endpointSlice(std::string_view key) const {
  auto it = objects(ObjectKind::EndpointSlice).find(key);
  return it == objects(ObjectKind::EndpointSlice).end() ? nullptr : &std::get<EndpointSlice>(*it->second);
}

const Node* CacheSnapshot::node(std::string_view name) const {
  auto it = objects(ObjectKind::Node).find(name);
  return it == objects(ObjectKind::Node).end() ? nullptr : &std::get<Node>(*it->second);
}

// Serializes writers and catches a handler that writes to the cache it is notified by (a self-deadlock).
class Cache::WriteGuard {
 public:
  explicit WriteGuard(Cache& c) : c_(c) {
    if (c_.writer_.load() == std::this_thread::get_id())
      NN_LOG(Fatal) << "kube::Cache: a handler wrote to the cache that is notifying it";
    c_.writeMu_.lock();
    c_.writer_.store(std::this_thread::get_id());
  }
  ~WriteGuard() {
    c_.writer_.store(std::thread::id());
    c_.writeMu_.unlock();
  }

 private:
  Cache& c_;
};

Cache::Cache() {
  for (auto& m : maps_) m = std::make_shared<ObjectMap>();
}

ObjectMap& Cache::mutableMap(size_t k) {
  // The cached snapshot shares every map; drop it so that only snapshots held by readers count.
  lastSnapshot_.reset();
  if (maps_[k].use_count() > 1) maps_[k] = std::make_shared<ObjectMap>(*maps_[k]);
  return *maps_[k];
}

std::optional<Event> Cache::applyLocked(Event event, bool adopt) {
  size_t k = idx(event.kind);
  if (event.type == EventType::Deleted) {
    auto it = maps_[k]->find(event.key);
    if (it == maps_[k]->end()) return std::nullopt;
    ObjectMap& m = mutableMap(k);
    it = m.find(event.key);
    event.previous = std::move(it->second);
    event.current = nullptr;
    m.erase(it);
    ++version_;
    return event;
  }
  assert(event.current && "Added/Modified events carry the object");
  if (kindOf(*event.current) != event.kind)
    NN_LOG(Fatal) << "kube::Cache: event of kind " << objectKindName(event.kind) << " carries a "
                  << objectKindName(kindOf(*event.current));
  event.key = keyOf(*event.current);
  auto it = maps_[k]->find(event.key);
  if (it != maps_[k]->end()) {
    if (sameContent(*it->second, *event.current)) {
      // No change for consumers, but keep the newest resourceVersion (or the caller's copy when asked to share
      // it). Neither the event nor a snapshot sees it.
      if ((adopt && it->second != event.current) ||
          metaOf(*it->second).resourceVersion != metaOf(*event.current).resourceVersion)
        mutableMap(k)[event.key] = event.current;
      return std::nullopt;
    }
    event.type = EventType::Modified;
    event.previous = it->second;
  } else {
    event.type = EventType::Added;
    event.previous = nullptr;
  }
  mutableMap(k)[event.key] = event.current;
  ++version_;
  return event;
}

void Cache::notify(const std::vector<Event>& events) {
  if (events.empty()) return;
  std::vector<Subscriber> subs;
  {
    std::lock_guard l(mu_);
    subs = subscribers_;
  }
  for (const Event& e : events) {
    for (const Subscriber& s : subs) {
      std::optional<Event> seen = filterEvent(e, s.filter);
      if (seen) (*s.handler)(*seen);
    }
  }
}

std::optional<Event> Cache::apply(Event event) {
  WriteGuard w(*this);
  std::optional<Event> out;
  {
    std::lock_guard l(mu_);
    out = applyLocked(std::move(event));
  }
  if (out) notify({*out});
  return out;
}

std::vector<Event> Cache::replaceAll(ObjectKind kind, std::vector<Object> items, std::string resourceVersion) {
  std::vector<ObjectPtr> ptrs;
  ptrs.reserve(items.size());
  for (Object& o : items) ptrs.push_back(std::make_shared<const Object>(std::move(o)));
  items.clear();
  return replaceAllImpl(kind, std::move(ptrs), std::move(resourceVersion), /*adopt=*/false);
}

std::vector<Event> Cache::replaceAllShared(ObjectKind kind, std::vector<ObjectPtr> items,
                                           std::string resourceVersion) {
  return replaceAllImpl(kind, std::move(items), std::move(resourceVersion), /*adopt=*/true);
}

std::vector<Event> Cache::replaceAllImpl(ObjectKind kind, std::vector<ObjectPtr> items, std::string resourceVersion,
                                         bool adopt) {
  WriteGuard w(*this);
  std::vector<Event> events;
  {
    std::lock_guard l(mu_);
    size_t k = idx(kind);
    std::map<std::string, ObjectPtr, std::less<>> wanted;
    for (ObjectPtr& o : items) {
      if (!o) NN_LOG(Fatal) << "kube::Cache::replaceAll(" << objectKindName(kind) << ") got a null object";
      if (kindOf(*o) != kind)
        NN_LOG(Fatal) << "kube::Cache::replaceAll(" << objectKindName(kind) << ") got a " << objectKindName(kindOf(*o));
      std::string key = keyOf(*o);
      wanted[std::move(key)] = std::move(o);
    }
    std::vector<std::string> gone;
    for (const auto& [key, obj] : *maps_[k])
      if (!wanted.count(key)) gone.push_back(key);
    for (std::string& key : gone)
      if (auto e = applyLocked(Event::deleted(kind, std::move(key)))) events.push_back(std::move(*e));
    for (auto& [key, obj] : wanted) {
      Event e;
      e.type = EventType::Modified;
      e.kind = kind;
      e.current = std::move(obj);
      if (auto real = applyLocked(std::move(e), adopt)) events.push_back(std::move(*real));
    }
    if (!synced_[k] || (!resourceVersion.empty() && resourceVersions_[k] != resourceVersion)) {
      lastSnapshot_.reset();
      synced_[k] = true;
      if (!resourceVersion.empty()) resourceVersions_[k] = std::move(resourceVersion);
    }
  }
  notify(events);
  return events;
}

void Cache::markSynced(ObjectKind kind) {
  WriteGuard w(*this);
  std::lock_guard l(mu_);
  if (synced_[idx(kind)]) return;
  synced_[idx(kind)] = true;
  lastSnapshot_.reset();
}

bool Cache::synced(ObjectKind kind) const {
  std::lock_guard l(mu_);
  return synced_[idx(kind)];
}

void Cache::setResourceVersion(ObjectKind kind, std::string resourceVersion) {
  WriteGuard w(*this);
  std::lock_guard l(mu_);
  if (resourceVersions_[idx(kind)] == resourceVersion) return;
  resourceVersions_[idx(kind)] = std::move(resourceVersion);
  lastSnapshot_.reset();
}

std::string Cache::resourceVersion(ObjectKind kind) const {
  std::lock_guard l(mu_);
  return resourceVersions_[idx(kind)];
}

Cache::SubscriptionId Cache::subscribe(Handler handler, ObjectFilter filter) {
  std::lock_guard l(mu_);
  SubscriptionId id = nextId_++;
  subscribers_.push_back({id, std::make_shared<Handler>(std::move(handler)), std::move(filter)});
  return id;
}

void Cache::unsubscribe(SubscriptionId id) {
  std::lock_guard l(mu_);
  std::erase_if(subscribers_, [id](const Subscriber& s) { return s.id == id; });
}

CacheSnapshotPtr Cache::snapshot() const {
  std::lock_guard l(mu_);
  if (lastSnapshot_) return lastSnapshot_;
  auto s = std::make_shared<CacheSnapshot>();
  for (size_t k = 0; k < 3; ++k) {
    s->maps_[k] = maps_[k];
    s->synced_[k] = synced_[k];
    s->resourceVersions_[k] = resourceVersions_[k];
  }
  s->version_ = version_;
  lastSnapshot_ = s;
  return s;
}

ObjectPtr Cache::get(ObjectKind kind, std::string_view key) const {
  std::lock_guard l(mu_);
  const ObjectMap& m = *maps_[idx(kind)];
  auto it = m.find(key);
  return it == m.end() ? nullptr : it->second;
}

size_t Cache::size(ObjectKind kind) const {
  std::lock_guard l(mu_);
  return maps_[idx(kind)]->size();
}

}  // namespace nodenet::kube
