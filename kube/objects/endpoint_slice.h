// An EndpointSlice (discovery.k8s.io/v1): addresses parsed, conditions kept tri-state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "kube/objects/intern.h"
#include "kube/objects/meta.h"

namespace nodenet::kube {

enum class AddressType : uint8_t { IPv4, IPv6, FQDN };
const char* addressTypeName(AddressType t);

/// endpoints[].conditions: each a tri-state as in the API (nil = not reported). The effective values follow the
/// API's documented nil semantics.
struct EndpointConditions {
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;

  /// ready; nil = true ("consumers should interpret this unknown state as ready").
  bool isReady() const { return ready.value_or(true); }
  /// serving; nil defers to the ready condition. (kube-proxy reads nil as true; the EndpointSlice controller
  /// always sets all three, so the two readings differ only for hand-written slices.)
  bool isServing() const { return serving.has_value() ? *serving : isReady(); }
  /// terminating; nil = false.
  bool isTerminating() const { return terminating.value_or(false); }
  bool operator==(const EndpointConditions&) const = default;
};

/// endpoints[].targetRef: the object behind the endpoint (usually a Pod).
struct EndpointTargetRef {
  InternedString kind;
  InternedString ns;
  std::string name;
  bool operator==(const EndpointTargetRef&) const = default;
};

struct Endpoint {
  /// For IPv4/IPv6 slices: the parsed addresses (all of the slice's family). Empty for FQDN slices.
  std::vector<IpAddress> addresses;
  /// For FQDN slices only: the names.
  std::vector<std::string> fqdns;
  EndpointConditions conditions;
  std::string hostname;
  InternedString nodeName;
  InternedString zone;
  std::vector<InternedString> hintsForZones;  // hints.forZones[].name
  std::vector<InternedString> hintsForNodes;  // hints.forNodes[].name
  std::optional<EndpointTargetRef> targetRef;
  bool operator==(const Endpoint&) const = default;
};

struct EndpointPort {
  InternedString name;
  L4Proto protocol = L4Proto::TCP;
  /// nil means "all ports" in the API; kube-proxy skips such ports.
  std::optional<uint16_t> port;
  InternedString appProtocol;
  bool operator==(const EndpointPort&) const = default;
};

struct EndpointSlice {
  ObjectMeta meta;
  AddressType addressType = AddressType::IPv4;
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;

  /// The kubernetes.io/service-name label ("" when absent: the slice belongs to no Service).
  std::string_view serviceName() const { return meta.labels.get(kLabelServiceName).value_or(std::string_view()); }
  bool operator==(const EndpointSlice&) const = default;
};

}  // namespace nodenet::kube
