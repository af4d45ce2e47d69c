// Internal to nodenet_kube_objects: field paths and typed field readers shared by the per-kind decoders.
// Not part of the module's API; include decode.h instead.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "base/ip.h"
#include "base/result.h"
#include "kube/objects/decode.h"

namespace nodenet::kube::detail {

using nlohmann::json;

/// A field path built on the stack while descending ("spec.ports[1].port"); rendered only when an error is
/// reported, so the success path allocates nothing.
///
/// A Path points at its parent, so a Path stored in a variable must have a named (living) parent:
/// `Path sp = root.field("spec");` is fine, `Path p = Path().field("a").field("b");` dangles. Children of the
/// root do not point at it, so `Path p = Path().field("a");` is safe.
class Path {
 public:
  Path() = default;  // the object root
  Path field(std::string_view name) const { return Path(parentForChild(), Kind::Field, name, 0); }
  Path index(size_t i) const { return Path(parentForChild(), Kind::Index, {}, i); }
  /// A map entry, rendered `labels["app.kubernetes.io/name"]`.
  Path mapKey(std::string_view key) const { return Path(parentForChild(), Kind::MapKey, key, 0); }
  std::string str() const;

 private:
  enum class Kind : uint8_t { Root, Field, Index, MapKey };
  Path(const Path* parent, Kind kind, std::string_view name, size_t index)
      : parent_(parent), name_(name), index_(index), kind_(kind) {}
  void render(std::string& out) const;
  // The root renders as nothing: its children need no link to it.
  const Path* parentForChild() const { return kind_ == Kind::Root ? nullptr : this; }

  const Path* parent_ = nullptr;
  std::string_view name_;
  size_t index_ = 0;
  Kind kind_ = Kind::Root;
};

/// Short rendering of a JSON value for messages: strings quoted, numbers and bools as written, "an object"...
std::string describe(const json& v);
/// "path: expected <expected>, got <describe(got)>"
Error typeError(const Path& p, std::string_view expected, const json& got);
/// "path: <message>"
Error fieldError(const Path& p, std::string_view message);

/// The member `key` of `obj` (an object), or nullptr when absent or JSON null (Go decodes null as absent).
inline const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status readString(const json& v, const Path& p, std::string& out);
Status readInterned(const json& v, const Path& p, InternedString& out);
Status readBool(const json& v, const Path& p, bool& out);
/// An integer in [lo, hi]; floats and strings are rejected ("expected integer lo-hi").
Status readInt(const json& v, const Path& p, int64_t lo, int64_t hi, int64_t& out);
/// A port number 1-65535, or 0-65535 when allowZero (nodePort, healthCheckNodePort: 0 = none).
Status readPort(const json& v, const Path& p, bool allowZero, uint16_t& out);
/// "TCP", "UDP" or "SCTP" (case-sensitive, as the API validates it).
Status readProtocol(const json& v, const Path& p, L4Proto& out);
/// An IP address; IPv4 with leading zeros is read as decimal, as Kubernetes' ParseIPSloppy does.
Status readIp(const json& v, const Path& p, IpAddress& out);
/// A CIDR (whitespace around it trimmed, as kube-proxy does); the result is masked to its network.
Status readCidr(const json& v, const Path& p, Cidr& out);
/// Parses IP text with ParseIPSloppy's leniency (leading zeros in IPv4 octets).
Result<IpAddress> parseIpSloppy(std::string_view text);
Result<Cidr> parseCidrSloppy(std::string_view text);

/// A string that must be one of `names`; error "expected one of A, B, got "x"".
template <typename E>
Status readEnum(const json& v, const Path& p, std::initializer_list<std::pair<std::string_view, E>> names, E& out) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    for (const auto& [name, value] : names) {
      if (s == name) {
        out = value;
        return okStatus();
      }
    }
  }
  std::string expected = "one of ";
  bool first = true;
  for (const auto& [name, value] : names) {
    if (!first) expected += ", ";
    expected += name;
    first = false;
  }
  return typeError(p, expected, v);
}

/// Requires an object (the caller has checked it is present).
inline Status requireObject(const json& v, const Path& p) {
  if (!v.is_object()) return typeError(p, "object", v);
  return okStatus();
}

/// Calls f(element, elementPath, index) for each element of the array `v`; stops at the first error.
template <typename F>
Status forEachElement(const json& v, const Path& p, F&& f) {
  if (!v.is_array()) return typeError(p, "array", v);
  size_t i = 0;
  for (const json& e : v) {
    Path ep = p.index(i);
    NN_TRY(f(e, ep, i));
    ++i;
  }
  return okStatus();
}

/// Reads `obj[key]` into `out` with `reader` when present (absent or null leaves `out` unchanged).
template <typename T, typename Reader>
Status optField(const json& obj, std::string_view key, const Path& parent, T& out, Reader reader) {
  const json* v = member(obj, key);
  if (!v) return okStatus();
  return reader(*v, parent.field(key), out);
}

inline Status optString(const json& obj, std::string_view key, const Path& parent, std::string& out) {
  return optField(obj, key, parent, out, readString);
}
inline Status optInterned(const json& obj, std::string_view key, const Path& parent, InternedString& out) {
  return optField(obj, key, parent, out, readInterned);
}
inline Status optBool(const json& obj, std::string_view key, const Path& parent, bool& out) {
  return optField(obj, key, parent, out, readBool);
}
inline Status optTriState(const json& obj, std::string_view key, const Path& parent, std::optional<bool>& out) {
  const json* v = member(obj, key);
  if (!v) return okStatus();
  bool b = false;
  NN_TRY(readBool(*v, parent.field(key), b));
  out = b;
  return okStatus();
}

/// Decodes metadata into `m`. `namespaced` objects without a namespace get "default" (as kubectl does for
/// manifests); cluster-scoped ones keep an empty namespace. `requireName` is false only for bookmarks.
Status decodeMeta(const json& obj, bool namespaced, bool requireName, ObjectMeta& m);

/// Checks kind and apiVersion when present: kind must equal `kind`, apiVersion must be `apiVersion`.
Status checkTypeMeta(const json& obj, std::string_view kind, std::string_view apiVersion);

/// "Service default/web" (or "Node node-1"), read best-effort from raw JSON for error messages.
std::string objectIdentity(std::string_view kind, const json& obj);

/// Wraps a per-field error with the object's identity: "Service default/web: spec.ports[1].port: ...".
Error objectError(std::string_view kind, const json& obj, const Error& e);

// Per-kind decoders (the object must be a JSON object; errors are relative, without the identity prefix).
Status decodeServiceFields(const json& obj, Service& out);
Status decodeEndpointSliceFields(const json& obj, EndpointSlice& out);
Status decodeNodeFields(const json& obj, Node& out);

}  // namespace nodenet::kube::detail
