#include "kube/watch/reflector.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::kube {

namespace {

template <typename T>
void appendItems(List<T>& page, std::vector<Object>& out) {
  for (T& item : page.items) out.emplace_back(std::move(item));
}

// Decodes one list page of `kind` into `out`; returns the page's resourceVersion and continue token.
Result<std::pair<std::string, std::string>> decodePage(ObjectKind kind, std::string_view body,
                                                       std::vector<Object>& out) {
  auto take = [&](auto list) -> Result<std::pair<std::string, std::string>> {
    if (!list.ok()) return list.error();
    for (const auto& e : list->errors) NN_LOG(Warning) << objectKindName(kind) << " list: skipping " << e.message();
    appendItems(*list, out);
    return std::make_pair(list->resourceVersion, list->continueToken);
  };
  switch (kind) {
    case ObjectKind::Service:
      return take(decodeServiceListText(body));
    case ObjectKind::EndpointSlice:
      return take(decodeEndpointSliceListText(body));
    case ObjectKind::Node:
      return take(decodeNodeListText(body));
  }
  return Error("unknown kind");
}

std::string statusText(unsigned code, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded()) {
    if (auto st = decodeStatus(j); st.ok() && !st->message.empty()) return strCat(code, " ", st->message);
  }
  return strCat(code);
}

}  // namespace

const char* resourcePathFor(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::Service:
      return "/api/v1/services";
    case ObjectKind::EndpointSlice:
      return "/apis/discovery.k8s.io/v1/endpointslices";
    case ObjectKind::Node:
      return "/api/v1/nodes";
  }
  return "";
}

std::string proxyLabelSelector(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::Service:
      return kProxyServiceLabelSelector;
    case ObjectKind::EndpointSlice:
      return kProxyEndpointSliceLabelSelector;
    case ObjectKind::Node:
      return "";
  }
  return "";
}

std::string nodeFieldSelector(std::string_view nodeName) { return strCat("metadata.name=", nodeName); }

Reflector::Reflector(Connection& conn, WatchSink& sink, ReflectorOptions options)
    : conn_(conn), sink_(sink), opts_(std::move(options)), rng_(opts_.seed) {}

void Reflector::run() {
  Next next = Next::Relist;
  bool needList = true;
  while (!stopped_) {
    if (next == Next::Backoff) {
      backoff();
      if (stopped_) break;
      next = needList ? Next::Relist : Next::Watch;
    }
    if (next == Next::Relist) {
      next = list();
      needList = next != Next::Watch;
    } else {
      next = watch();
      if (next == Next::Relist) {
        std::lock_guard lock(mu_);
        ++stats_.relists410;
      }
      needList = next == Next::Relist;
    }
  }
}

void Reflector::stop() {
  stopped_ = true;
  conn_.stop();
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

Reflector::Stats Reflector::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Reflector::Next Reflector::list() {
  const char* kindName = objectKindName(opts_.kind);
  std::vector<Object> items;
  std::string cont, listRv;
  do {
    Query q = {{"limit", std::to_string(opts_.pageSize)}};
    if (!cont.empty()) q.push_back({"continue", cont});
    if (!opts_.fieldSelector.empty()) q.push_back({"fieldSelector", opts_.fieldSelector});
    if (!opts_.labelSelector.empty()) q.push_back({"labelSelector", opts_.labelSelector});
    auto r = conn_.get(resourcePathFor(opts_.kind), q);
    if (!r.ok()) {
      if (!stopped_) NN_LOG(Warning) << kindName << " list failed: " << r.error().message();
      return Next::Backoff;
    }
    if (r->status == 410 && !cont.empty()) {
      // The continue token expired (compaction): start the list again (client-go does a full list here).
      NN_LOG(Info) << kindName << " list: continue token expired; listing again";
      items.clear();
      cont.clear();
      listRv.clear();
      continue;
    }
    if (r->status != 200) {
      NN_LOG(Warning) << kindName << " list failed: " << statusText(r->status, r->body);
      return Next::Backoff;
    }
    auto page = decodePage(opts_.kind, r->body, items);
    if (!page.ok()) {
      NN_LOG(Warning) << kindName << " list: " << page.error().message();
      return Next::Backoff;
    }
    if (listRv.empty()) listRv = page->first;
    cont = page->second;
  } while (!cont.empty() && !stopped_);
  if (stopped_) return Next::Backoff;
  NN_VLOG(2) << kindName << " listed " << items.size() << " at resourceVersion " << listRv;
  rv_ = listRv;
  consecutiveFailures_ = 0;
  {
    std::lock_guard lock(mu_);
    ++stats_.lists;
    stats_.resourceVersion = rv_;
  }
  sink_.onReplace(opts_.kind, std::move(items), rv_);
  return Next::Watch;
}

Reflector::Next Reflector::watch() {
  const char* kindName = objectKindName(opts_.kind);
  auto timeout = opts_.watchTimeout.count() +
                 std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(opts_.watchTimeout.count() - 1, 0))(rng_);
  Query q = {{"watch", "1"},
             {"resourceVersion", rv_},
             {"allowWatchBookmarks", "true"},
             {"timeoutSeconds", std::to_string(timeout)}};
  if (!opts_.fieldSelector.empty()) q.push_back({"fieldSelector", opts_.fieldSelector});
  if (!opts_.labelSelector.empty()) q.push_back({"labelSelector", opts_.labelSelector});
  {
    std::lock_guard lock(mu_);
    ++stats_.watches;
  }
  bool gone = false, badLine = false;
  size_t delivered = 0;
  auto r = conn_.watch(resourcePathFor(opts_.kind), q, [&](std::string_view line) {
    auto ev = decodeWatchEventText(line, opts_.kind);
    if (!ev.ok()) {
      // End the watch here: rv has not passed this event, so the next watch replays it.
      NN_LOG(Warning) << kindName << " watch: undecodable event, re-watching from " << rv_ << ": "
                      << ev.error().message();
      badLine = true;
      return false;
    }
    switch (ev->type) {
      case WatchEventType::Error:
        if (ev->status.code == 410) {
          NN_LOG(Info) << kindName << " watch: resourceVersion " << rv_ << " expired (" << ev->status.message
                       << "); relisting";
          gone = true;
        } else {
          NN_LOG(Warning) << kindName << " watch: ERROR " << ev->status.code << " " << ev->status.reason << ": "
                          << ev->status.message;
        }
        return false;
      case WatchEventType::Bookmark:
        break;
      default:
        if (ev->invalid)
          NN_LOG(Warning) << kindName << " watch: " << watchEventTypeName(ev->type)
                          << " carries an invalid object: " << ev->invalid->error.message();
        sink_.onEvent(opts_.kind, *ev);
        ++delivered;
        break;
    }
    if (!ev->resourceVersion.empty()) {
      rv_ = ev->resourceVersion;
      sink_.onResourceVersion(opts_.kind, rv_);
      std::lock_guard lock(mu_);
      stats_.resourceVersion = rv_;
    }
    return true;
  });
  if (delivered > 0) consecutiveFailures_ = 0;
  if (gone) return Next::Relist;
  if (badLine) {
    std::lock_guard lock(mu_);
    ++stats_.badLines;
    return Next::Backoff;
  }
  if (!r.ok()) {
    if (!stopped_) NN_LOG(Warning) << kindName << " watch: " << r.error().message() << "; re-watching from " << rv_;
    return Next::Backoff;
  }
  if (r->status == 410) return Next::Relist;
  if (r->status != 200) {
    NN_LOG(Warning) << kindName << " watch failed: " << statusText(r->status, r->body);
    return Next::Backoff;
  }
  if (r->stoppedByCallback) return Next::Backoff;  // an ERROR other than 410
  NN_VLOG(4) << kindName << " watch ended by the server; re-watching from " << rv_;
  return Next::Watch;
}

void Reflector::backoff() {
  {
    std::lock_guard lock(mu_);
    ++stats_.failures;
  }
  int n = std::min(consecutiveFailures_++, 16);
  auto base = std::min<int64_t>(opts_.backoffInitial.count() << n, opts_.backoffMax.count());
  double jitter = std::uniform_real_distribution<double>(1.0, 2.0)(rng_);
  auto delay = std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(base) * jitter));
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, delay, [&] { return stopped_.load(); });
}

}  // namespace nodenet::kube
