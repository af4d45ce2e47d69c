// ObjectMeta and string maps as nodenet keeps them: only what the proxy and DNS server read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/objects/intern.h"

namespace nodenet::kube {

// Well-known label and annotation keys (the values the API and its controllers use).
/// Label on a Service: handled by another proxy when set; nodenet and kube-proxy skip the Service.
inline constexpr std::string_view kLabelServiceProxyName = "service.kubernetes.io/service-proxy-name";
/// Label on a Service: set on headless Services by some tools; kube-proxy's informer skips such Services.
inline constexpr std::string_view kLabelHeadless = "service.kubernetes.io/headless";
/// Label on an EndpointSlice: the Service it belongs to.
inline constexpr std::string_view kLabelServiceName = "kubernetes.io/service-name";
/// Label on an EndpointSlice: the controller that manages it.
inline constexpr std::string_view kLabelManagedBy = "endpointslice.kubernetes.io/managed-by";
/// Label on a Node: its zone (topology-aware routing).
inline constexpr std::string_view kLabelZone = "topology.kubernetes.io/zone";
/// Label on a Node: its hostname.
inline constexpr std::string_view kLabelHostname = "kubernetes.io/hostname";
/// Legacy Service annotation: comma-separated CIDRs, used when spec.loadBalancerSourceRanges is empty.
inline constexpr std::string_view kAnnotationLoadBalancerSourceRanges =
    "service.beta.kubernetes.io/load-balancer-source-ranges";
/// Service annotation of the topology-aware routing feature ("Auto", "Disabled", ...).
inline constexpr std::string_view kAnnotationTopologyMode = "service.kubernetes.io/topology-mode";
/// Deprecated spelling of kAnnotationTopologyMode (Kubernetes 1.21-1.26).
inline constexpr std::string_view kAnnotationTopologyAwareHints = "service.kubernetes.io/topology-aware-hints";
/// EndpointSlice annotation: when the change that produced this slice happened (network programming latency).
inline constexpr std::string_view kAnnotationLastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time";
/// Bookmark annotation: the end of the initial events of a watch-list (`sendInitialEvents=true`).
inline constexpr std::string_view kAnnotationInitialEventsEnd = "k8s.io/initial-events-end";

/// The annotations the decoder keeps; every other annotation (notably kubectl's last-applied-configuration,
/// often kilobytes) is dropped at decode time.
inline constexpr std::string_view kKeptAnnotations[] = {
    kAnnotationLoadBalancerSourceRanges, kAnnotationTopologyMode,     kAnnotationTopologyAwareHints,
    kAnnotationLastChangeTriggerTime,    kAnnotationInitialEventsEnd,
};

/// A string-to-string map (labels, kept annotations): a vector sorted by key, keys interned.
class StringMap {
 public:
  struct Entry {
    InternedString key;
    std::string value;
    bool operator==(const Entry&) const = default;
  };

  StringMap() = default;
  /// Takes entries in any order; sorts them. Duplicate keys keep the last value (JSON object semantics).
  explicit StringMap(std::vector<Entry> entries);

  /// The value for `key`, or nullopt when absent.
  std::optional<std::string_view> get(std::string_view key) const;
  bool contains(std::string_view key) const { return get(key).has_value(); }
  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  bool operator==(const StringMap&) const = default;

 private:
  std::vector<Entry> entries_;
};

/// metadata: identity, versions, labels, the kept annotations, and whether deletion has started.
struct ObjectMeta {
  InternedString ns;  // "namespace"; empty for cluster-scoped objects (Node)
  std::string name;
  std::string uid;
  std::string resourceVersion;
  int64_t generation = 0;
  StringMap labels;
  StringMap annotations;  // only kKeptAnnotations
  bool deleting = false;  // metadata.deletionTimestamp is set

  bool operator==(const ObjectMeta&) const = default;

  /// "namespace/name", or "name" for cluster-scoped objects.
  std::string key() const;
};

}  // namespace nodenet::kube
