// Node decoding: addresses, pod CIDRs, schedulability (labels via ObjectMeta).
#include "base/strings.h"
#include "kube/objects/decode_internal.h"

namespace nodenet::kube::detail {
namespace {

NodeAddressType addressTypeOf(std::string_view s) {
  if (s == "InternalIP") return NodeAddressType::InternalIP;
  if (s == "ExternalIP") return NodeAddressType::ExternalIP;
  if (s == "Hostname") return NodeAddressType::Hostname;
  if (s == "InternalDNS") return NodeAddressType::InternalDNS;
  if (s == "ExternalDNS") return NodeAddressType::ExternalDNS;
  return NodeAddressType::Other;
}

Status readNodeAddress(const json& v, const Path& p, NodeAddress& out) {
  NN_TRY(requireObject(v, p));
  NN_TRY(optInterned(v, "type", p, out.typeName));
  if (out.typeName.empty()) return fieldError(p.field("type"), "required");
  out.type = addressTypeOf(out.typeName.view());
  const json* a = member(v, "address");
  if (!a) return fieldError(p.field("address"), "required");
  NN_TRY(readString(*a, p.field("address"), out.address));
  if (out.type == NodeAddressType::InternalIP || out.type == NodeAddressType::ExternalIP) {
    IpAddress ip;
    NN_TRY(readIp(*a, p.field("address"), ip));
    out.ip = ip;
  }
  return okStatus();
}

}  // namespace

Status decodeNodeFields(const json& obj, Node& out) {
  NN_TRY(checkTypeMeta(obj, "Node", "v1"));
  NN_TRY(decodeMeta(obj, /*namespaced=*/false, /*requireName=*/true, out.meta));
  Path root;
  if (const json* spec = member(obj, "spec")) {
    Path sp = root.field("spec");
    NN_TRY(requireObject(*spec, sp));
    std::string single;
    NN_TRY(optString(*spec, "podCIDR", sp, single));
    if (const json* list = member(*spec, "podCIDRs"); list && !(list->is_array() && list->empty())) {
      NN_TRY(forEachElement(*list, sp.field("podCIDRs"), [&](const json& e, const Path& ep, size_t) -> Status {
        Cidr c;
        NN_TRY(readCidr(e, ep, c));
        out.podCIDRs.push_back(c);
        return okStatus();
      }));
    } else if (!single.empty()) {
      Cidr c;
      NN_TRY(readCidr((*spec)["podCIDR"], sp.field("podCIDR"), c));
      out.podCIDRs.push_back(c);
    }
    NN_TRY(optBool(*spec, "unschedulable", sp, out.unschedulable));
    if (const json* taints = member(*spec, "taints")) {
      NN_TRY(forEachElement(*taints, sp.field("taints"), [&](const json& e, const Path& ep, size_t) -> Status {
        NN_TRY(requireObject(e, ep));
        InternedString key;
        NN_TRY(optInterned(e, "key", ep, key));
        if (key.empty()) return fieldError(ep.field("key"), "required");
        out.taintKeys.push_back(key);
        return okStatus();
      }));
    }
  }
  if (const json* status = member(obj, "status")) {
    Path stp = root.field("status");
    NN_TRY(requireObject(*status, stp));
    if (const json* addrs = member(*status, "addresses")) {
      NN_TRY(forEachElement(*addrs, stp.field("addresses"), [&](const json& e, const Path& ep, size_t) -> Status {
        NodeAddress a;
        NN_TRY(readNodeAddress(e, ep, a));
        out.addresses.push_back(std::move(a));
        return okStatus();
      }));
    }
  }
  return okStatus();
}

}  // namespace nodenet::kube::detail
