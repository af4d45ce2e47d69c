// Decoding Services, EndpointSlices and Nodes from the API server's JSON (single objects, watch events, lists).
//
// Invariants (see kube/README.md):
//  - Unknown fields are ignored; JSON null means "absent" (as Go's decoder treats it).
//  - A wrong-typed or invalid field rejects that one object, with an error naming the object and the field path:
//      Service default/web: spec.ports[1].port: expected integer 1-65535, got "http"
//    A decoder never returns a half-decoded object and never throws.
//  - The API server's defaults are applied where the proxy or DNS needs them (protocol TCP, targetPort = port,
//    affinity timeout 10800, ...), so hand-written manifests decode like served objects.
//  - No JSON is kept: the typed objects hold parsed values (IpAddress, Cidr, enums) and interned strings.
//
// The `...Text` functions parse raw text. They drop metadata.managedFields, kubectl's last-applied-configuration
// and a Node's status.images while parsing, and the list decoders decode each item as soon as it is parsed, so
// a list of 10,000 objects never exists as one JSON tree.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "kube/objects/endpoint_slice.h"
#include "kube/objects/meta.h"
#include "kube/objects/node.h"
#include "kube/objects/service.h"

namespace nodenet::kube {

enum class ObjectKind : uint8_t { Service, EndpointSlice, Node };
/// "Service", "EndpointSlice", "Node".
const char* objectKindName(ObjectKind k);
/// The kind for a `kind` value, or nullopt for kinds nodenet does not decode (ConfigMap, Pod, ...).
std::optional<ObjectKind> parseObjectKind(std::string_view kind);

/// One decoded object of any supported kind.
using Object = std::variant<Service, EndpointSlice, Node>;
ObjectKind kindOf(const Object& o);
const ObjectMeta& metaOf(const Object& o);

/// Decodes a Service. `j` may omit kind and apiVersion (list items do); if present they must be Service and v1.
Result<Service> decodeService(const nlohmann::json& j);
/// Decodes an EndpointSlice (discovery.k8s.io/v1; kind and apiVersion optional as for decodeService).
Result<EndpointSlice> decodeEndpointSlice(const nlohmann::json& j);
/// Decodes a Node (v1; kind and apiVersion optional).
Result<Node> decodeNode(const nlohmann::json& j);
/// Decodes the object named by `j["kind"]`. Errors: missing kind, unsupported kind, or an invalid object.
Result<Object> decodeObject(const nlohmann::json& j);

/// As decodeService, from raw JSON text (a syntax error is reported with its position).
Result<Service> decodeServiceText(std::string_view text);
Result<EndpointSlice> decodeEndpointSliceText(std::string_view text);
Result<Node> decodeNodeText(std::string_view text);
Result<Object> decodeObjectText(std::string_view text);

/// metav1.Status, as carried by ERROR watch events (and failed requests).
struct ApiStatus {
  std::string status;   // "Failure" / "Success"
  std::string message;  // "too old resource version: 123 (456)"
  std::string reason;   // "Expired", "Gone", ...
  int code = 0;         // HTTP code: 410 means the resourceVersion is too old and the watcher must relist
};
/// Decodes a Status object (fields all optional).
Result<ApiStatus> decodeStatus(const nlohmann::json& j);

/// An object that failed to decode, with whatever identity could be read, so a cache can still act on it
/// (e.g. drop the previous version when a MODIFIED event carries an invalid object).
struct InvalidObject {
  std::string kind;
  InternedString ns;
  std::string name;
  std::string resourceVersion;
  Error error;
};

enum class WatchEventType : uint8_t { Added, Modified, Deleted, Bookmark, Error };
const char* watchEventTypeName(WatchEventType t);

/// One line of a watch stream: {"type": "...", "object": {...}}.
struct WatchEvent {
  WatchEventType type = WatchEventType::Added;
  /// metadata.resourceVersion of the object (every type but ERROR; a BOOKMARK carries nothing else).
  std::string resourceVersion;
  /// ADDED/MODIFIED/DELETED: the decoded object ...
  std::optional<Object> object;
  /// ... or, when it failed to decode, its identity and the error (exactly one of the two is set).
  std::optional<InvalidObject> invalid;
  /// BOOKMARK: the k8s.io/initial-events-end annotation is "true" (end of a watch-list's initial state).
  bool initialEventsEnd = false;
  /// ERROR: the Status (code 410 = resourceVersion expired: relist).
  ApiStatus status;
};

/// Decodes a watch event. Fails only when the envelope is malformed (not an object, unknown type, missing
/// object); an invalid object inside a well-formed envelope is reported in `invalid`. When `expected` is set,
/// an object of another kind (kind given and different) is reported in `invalid` too; objects without kind are
/// decoded as `expected` (watch streams of typed resources omit nothing, but manifests may).
Result<WatchEvent> decodeWatchEvent(const nlohmann::json& j, std::optional<ObjectKind> expected = std::nullopt);
Result<WatchEvent> decodeWatchEventText(std::string_view text, std::optional<ObjectKind> expected = std::nullopt);

/// A decoded list: ServiceList, EndpointSliceList, NodeList (T = the item type) or a generic List (T = Object).
template <typename T>
struct List {
  std::string kind;             // as written ("ServiceList", "List", ...); may be empty
  std::string resourceVersion;  // metadata.resourceVersion: where to start the watch
  std::string continueToken;    // metadata.continue: non-empty when more pages follow
  std::vector<T> items;         // the valid items, in order
  /// One error per invalid item ("items[3]: Service default/x: spec.ports[0].port: ..."); those items are skipped.
  std::vector<Error> errors;
  /// Generic lists only: items of kinds nodenet does not decode (ConfigMap, ...), skipped silently.
  size_t unsupportedItems = 0;
};
using ServiceList = List<Service>;
using EndpointSliceList = List<EndpointSlice>;
using NodeList = List<Node>;
using ObjectList = List<Object>;

/// Decodes a list whose items are all of one kind (items need no kind, as the API server omits it). Fails only
/// when the list itself is malformed; invalid items land in `errors`.
Result<ServiceList> decodeServiceList(const nlohmann::json& j);
Result<EndpointSliceList> decodeEndpointSliceList(const nlohmann::json& j);
Result<NodeList> decodeNodeList(const nlohmann::json& j);
/// Decodes a list of mixed kinds (kind "List", as in manifest files); each item needs kind. For a typed list
/// (kind "ServiceList", ...) items without kind are decoded as the list's item kind.
Result<ObjectList> decodeObjectList(const nlohmann::json& j);

/// The streaming forms: each item is decoded and its JSON freed as soon as the item is parsed.
Result<ServiceList> decodeServiceListText(std::string_view text);
Result<EndpointSliceList> decodeEndpointSliceListText(std::string_view text);
Result<NodeList> decodeNodeListText(std::string_view text);
Result<ObjectList> decodeObjectListText(std::string_view text);

}  // namespace nodenet::kube
