// EndpointSlice decoding (discovery.k8s.io/v1).
#include "base/strings.h"
#include "kube/objects/decode_internal.h"

namespace nodenet::kube::detail {
namespace {

Status readAddresses(const json& v, const Path& p, AddressType type, Endpoint& out) {
  if (!v.is_array()) return typeError(p, "array", v);
  if (v.empty()) return fieldError(p, "must contain at least one address");
  if (type == AddressType::FQDN) {
    out.fqdns.reserve(v.size());
    return forEachElement(v, p, [&](const json& e, const Path& ep, size_t) -> Status {
      std::string name;
      NN_TRY(readString(e, ep, name));
      out.fqdns.push_back(std::move(name));
      return okStatus();
    });
  }
  out.addresses.reserve(v.size());
  const IpFamily want = type == AddressType::IPv4 ? IpFamily::V4 : IpFamily::V6;
  const char* expected = type == AddressType::IPv4 ? "IPv4 address" : "IPv6 address";
  return forEachElement(v, p, [&](const json& e, const Path& ep, size_t) -> Status {
    IpAddress ip;
    if (!readIp(e, ep, ip).ok() || ip.family() != want) return typeError(ep, expected, e);
    out.addresses.push_back(ip);
    return okStatus();
  });
}

/// hints.forZones / hints.forNodes: [{"name": "..."}]
Status readHintNames(const json& v, const Path& p, std::vector<InternedString>& out) {
  return forEachElement(v, p, [&](const json& e, const Path& ep, size_t) -> Status {
    NN_TRY(requireObject(e, ep));
    InternedString name;
    NN_TRY(optInterned(e, "name", ep, name));
    if (name.empty()) return fieldError(ep.field("name"), "required");
    out.push_back(name);
    return okStatus();
  });
}

Status readEndpoint(const json& v, const Path& p, AddressType type, Endpoint& out) {
  NN_TRY(requireObject(v, p));
  const json* addrs = member(v, "addresses");
  if (!addrs) return fieldError(p.field("addresses"), "required");
  NN_TRY(readAddresses(*addrs, p.field("addresses"), type, out));
  if (const json* c = member(v, "conditions")) {
    Path cp = p.field("conditions");
    NN_TRY(requireObject(*c, cp));
    NN_TRY(optTriState(*c, "ready", cp, out.conditions.ready));
    NN_TRY(optTriState(*c, "serving", cp, out.conditions.serving));
    NN_TRY(optTriState(*c, "terminating", cp, out.conditions.terminating));
  }
  NN_TRY(optString(v, "hostname", p, out.hostname));
  NN_TRY(optInterned(v, "nodeName", p, out.nodeName));
  NN_TRY(optInterned(v, "zone", p, out.zone));
  if (const json* h = member(v, "hints")) {
    Path hp = p.field("hints");
    NN_TRY(requireObject(*h, hp));
    if (const json* z = member(*h, "forZones")) NN_TRY(readHintNames(*z, hp.field("forZones"), out.hintsForZones));
    if (const json* n = member(*h, "forNodes")) NN_TRY(readHintNames(*n, hp.field("forNodes"), out.hintsForNodes));
  }
  if (const json* t = member(v, "targetRef")) {
    Path tp = p.field("targetRef");
    NN_TRY(requireObject(*t, tp));
    EndpointTargetRef ref;
    NN_TRY(optInterned(*t, "kind", tp, ref.kind));
    NN_TRY(optInterned(*t, "namespace", tp, ref.ns));
    NN_TRY(optString(*t, "name", tp, ref.name));
    out.targetRef = std::move(ref);
  }
  return okStatus();
}

Status readEndpointPort(const json& v, const Path& p, EndpointPort& out) {
  NN_TRY(requireObject(v, p));
  NN_TRY(optInterned(v, "name", p, out.name));
  NN_TRY(optField(v, "protocol", p, out.protocol, readProtocol));
  if (const json* port = member(v, "port")) {
    uint16_t n = 0;
    NN_TRY(readPort(*port, p.field("port"), false, n));
    out.port = n;
  }
  NN_TRY(optInterned(v, "appProtocol", p, out.appProtocol));
  return okStatus();
}

}  // namespace

Status decodeEndpointSliceFields(const json& obj, EndpointSlice& out) {
  NN_TRY(checkTypeMeta(obj, "EndpointSlice", "discovery.k8s.io/v1"));
  NN_TRY(decodeMeta(obj, /*namespaced=*/true, /*requireName=*/true, out.meta));
  Path root;
  const json* at = member(obj, "addressType");
  if (!at) return fieldError(root.field("addressType"), "required");
  NN_TRY(readEnum<AddressType>(*at, root.field("addressType"),
                               {{"IPv4", AddressType::IPv4}, {"IPv6", AddressType::IPv6}, {"FQDN", AddressType::FQDN}},
                               out.addressType));
  if (const json* eps = member(obj, "endpoints")) {
    if (eps->is_array()) out.endpoints.reserve(eps->size());
    NN_TRY(forEachElement(*eps, root.field("endpoints"), [&](const json& e, const Path& ep, size_t) -> Status {
      Endpoint endpoint;
      NN_TRY(readEndpoint(e, ep, out.addressType, endpoint));
      out.endpoints.push_back(std::move(endpoint));
      return okStatus();
    }));
  }
  if (const json* ports = member(obj, "ports")) {
    if (ports->is_array()) out.ports.reserve(ports->size());
    NN_TRY(forEachElement(*ports, root.field("ports"), [&](const json& e, const Path& ep, size_t) -> Status {
      EndpointPort port;
      NN_TRY(readEndpointPort(e, ep, port));
      out.ports.push_back(port);
      return okStatus();
    }));
  }
  return okStatus();
}

}  // namespace nodenet::kube::detail
