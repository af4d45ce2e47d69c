#include "proxy/model/change_tracker.h"

#include <algorithm>
#include <ctime>

namespace nodenet::proxy::model {

namespace {

bool sameObject(const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
  if (a == b) return true;
  if (!a || !b) return false;
  return kube::sameContent(*a, *b);
}

const kube::EndpointSlice* asSlice(const kube::ObjectPtr& o) {
  return o ? std::get_if<kube::EndpointSlice>(o.get()) : nullptr;
}

}  // namespace

std::string serviceKeyOf(const kube::EndpointSlice& slice) {
  std::string_view svc = slice.serviceName();
  if (svc.empty()) return {};
  std::string key(slice.meta.ns.view());
  key += '/';
  key += svc;
  return key;
}

std::optional<std::chrono::system_clock::time_point> parseRfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  auto digits = [&](size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!digits(0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' || !digits(8, 2, d) ||
      (s[10] != 'T' && s[10] != 't') || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' ||
      !digits(17, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      nanos += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int offsetSec = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(pos + 4, 2, om))
      return std::nullopt;
    offsetSec = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  return std::chrono::system_clock::time_point(std::chrono::seconds(t - offsetSec)) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanos));
}

bool nodeRelevantChange(const kube::Node* a, const kube::Node* b) {
  if (!a || !b) return a != b;
  if (a->zone() != b->zone()) return true;
  for (auto type : {kube::NodeAddressType::InternalIP, kube::NodeAddressType::ExternalIP})
    if (a->ips(type) != b->ips(type)) return true;
  return false;
}

ChangeTracker::ChangeTracker(std::string nodeName) : nodeName_(std::move(nodeName)) {}

void ChangeTracker::indexSlice(const std::string& sliceKey, const kube::ObjectPtr& previous,
                               const kube::ObjectPtr& current) {
  if (const kube::EndpointSlice* p = asSlice(previous)) {
    std::string svc = serviceKeyOf(*p);
    auto it = sliceIndex_.find(svc);
    if (it != sliceIndex_.end()) {
      it->second.erase(sliceKey);
      if (it->second.empty()) sliceIndex_.erase(it);
    }
  }
  if (const kube::EndpointSlice* c = asSlice(current)) {
    std::string svc = serviceKeyOf(*c);
    if (!svc.empty()) sliceIndex_[svc].insert(sliceKey);
  }
}

void ChangeTracker::recordService(const kube::Event& e) {
  auto [it, inserted] = services_.try_emplace(e.key, Change{e.previous, e.current});
  if (!inserted) it->second.current = e.current;
  // Back where it started since the last sync: nothing to do for this Service (kube-proxy drops such changes).
  if (sameObject(it->second.previous, it->second.current)) services_.erase(it);
}

void ChangeTracker::recordSlice(const kube::Event& e) {
  indexSlice(e.key, e.previous, e.current);
  auto [it, inserted] = slices_.try_emplace(e.key, Change{e.previous, e.current});
  if (!inserted) it->second.current = e.current;
  if (sameObject(it->second.previous, it->second.current)) slices_.erase(it);
}

bool ChangeTracker::recordNode(const kube::Event& e) {
  if (e.key != nodeName_) return false;
  const kube::Node* p = e.previous ? std::get_if<kube::Node>(e.previous.get()) : nullptr;
  const kube::Node* c = e.current ? std::get_if<kube::Node>(e.current.get()) : nullptr;
  if (!nodeRelevantChange(p, c)) return false;
  nodeChanged_ = true;
  return true;
}

bool ChangeTracker::record(const kube::Event& e) {
  std::lock_guard lock(mu_);
  switch (e.kind) {
    case kube::ObjectKind::Service: recordService(e); return true;
    case kube::ObjectKind::EndpointSlice: recordSlice(e); return true;
    case kube::ObjectKind::Node: return recordNode(e);
  }
  return false;
}

void ChangeTracker::reset(const kube::Cache& cache, const kube::ObjectFilter& filter) {
  kube::CacheSnapshotPtr snap = cache.snapshot();
  std::lock_guard lock(mu_);
  services_.clear();
  slices_.clear();
  nodeChanged_ = false;
  sliceIndex_.clear();
  for (const auto& [key, obj] : snap->objects(kube::ObjectKind::EndpointSlice))
    if (filter(*obj)) indexSlice(key, nullptr, obj);
}

Changes ChangeTracker::checkout(const kube::Cache& cache) {
  Changes out;
  std::lock_guard lock(mu_);
  // Taken under mu_: a handler that recorded a change has returned, and the cache updates its state before
  // notifying, so everything recorded so far is in this snapshot.
  out.snapshot = cache.snapshot();
  for (auto& [key, ch] : services_) out.services[key];
  for (auto& [key, ch] : slices_) {
    for (const kube::ObjectPtr* o : {&ch.previous, &ch.current})
      if (const kube::EndpointSlice* s = asSlice(*o)) {
        std::string svc = serviceKeyOf(*s);
        if (!svc.empty()) out.services[svc];
      }
    if (const kube::EndpointSlice* s = asSlice(ch.current))
      if (auto v = s->meta.annotations.get(kube::kAnnotationLastChangeTriggerTime))
        if (auto t = parseRfc3339(*v)) out.triggerTimes.push_back(*t);
  }
  std::sort(out.triggerTimes.begin(), out.triggerTimes.end());
  for (auto& [svc, slices] : out.services) {
    auto it = sliceIndex_.find(svc);
    if (it != sliceIndex_.end()) slices.assign(it->second.begin(), it->second.end());
  }
  out.nodeChanged = nodeChanged_;
  services_.clear();
  slices_.clear();
  nodeChanged_ = false;
  return out;
}

bool ChangeTracker::pending() const {
  std::lock_guard lock(mu_);
  return !services_.empty() || !slices_.empty() || nodeChanged_;
}

std::vector<std::string> ChangeTracker::slicesOf(const std::string& serviceKey) const {
  std::lock_guard lock(mu_);
  auto it = sliceIndex_.find(serviceKey);
  if (it == sliceIndex_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

}  // namespace nodenet::proxy::model
