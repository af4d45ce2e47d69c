// Accessors and names for the object types (no decoding here).
#include <algorithm>

#include "kube/objects/decode.h"

namespace nodenet::kube {

StringMap::StringMap(std::vector<Entry> entries) : entries_(std::move(entries)) {
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
  // Keep the last of equal keys (a JSON object with a repeated key reads as its last value).
  auto out = entries_.begin();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it + 1 != entries_.end() && (it + 1)->key == it->key) continue;
    if (out != it) *out = std::move(*it);
    ++out;
  }
  entries_.erase(out, entries_.end());
  entries_.shrink_to_fit();
}

std::optional<std::string_view> StringMap::get(std::string_view key) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                             [](const Entry& e, std::string_view k) { return e.key.view() < k; });
  if (it == entries_.end() || it->key.view() != key) return std::nullopt;
  return std::string_view(it->value);
}

std::string ObjectMeta::key() const {
  if (ns.empty()) return name;
  std::string k(ns.view());
  k += '/';
  k += name;
  return k;
}

const char* serviceTypeName(ServiceType t) {
  switch (t) {
    case ServiceType::ClusterIP: return "ClusterIP";
    case ServiceType::NodePort: return "NodePort";
    case ServiceType::LoadBalancer: return "LoadBalancer";
    case ServiceType::ExternalName: return "ExternalName";
  }
  return "?";
}

std::optional<IpAddress> Service::clusterIP(IpFamily family) const {
  for (const IpAddress& ip : clusterIPs)
    if (ip.family() == family) return ip;
  return std::nullopt;
}

const char* addressTypeName(AddressType t) {
  switch (t) {
    case AddressType::IPv4: return "IPv4";
    case AddressType::IPv6: return "IPv6";
    case AddressType::FQDN: return "FQDN";
  }
  return "?";
}

std::vector<IpAddress> Node::ips(NodeAddressType type) const {
  std::vector<IpAddress> out;
  for (const NodeAddress& a : addresses)
    if (a.type == type && a.ip) out.push_back(*a.ip);
  return out;
}

const char* objectKindName(ObjectKind k) {
  switch (k) {
    case ObjectKind::Service: return "Service";
    case ObjectKind::EndpointSlice: return "EndpointSlice";
    case ObjectKind::Node: return "Node";
  }
  return "?";
}

std::optional<ObjectKind> parseObjectKind(std::string_view kind) {
  if (kind == "Service") return ObjectKind::Service;
  if (kind == "EndpointSlice") return ObjectKind::EndpointSlice;
  if (kind == "Node") return ObjectKind::Node;
  return std::nullopt;
}

ObjectKind kindOf(const Object& o) { return static_cast<ObjectKind>(o.index()); }

const ObjectMeta& metaOf(const Object& o) {
  return std::visit([](const auto& x) -> const ObjectMeta& { return x.meta; }, o);
}

const char* watchEventTypeName(WatchEventType t) {
  switch (t) {
    case WatchEventType::Added: return "ADDED";
    case WatchEventType::Modified: return "MODIFIED";
    case WatchEventType::Deleted: return "DELETED";
    case WatchEventType::Bookmark: return "BOOKMARK";
    case WatchEventType::Error: return "ERROR";
  }
  return "?";
}

}  // namespace nodenet::kube
