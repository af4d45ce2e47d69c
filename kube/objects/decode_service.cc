// Service decoding: spec (with the API server's defaults) and status.loadBalancer.
#include <string>
#include <string_view>

#include "base/strings.h"
#include "kube/objects/decode_internal.h"

namespace nodenet::kube::detail {
namespace {

Status readTargetPort(const json& v, const Path& p, TargetPort& out) {
  if (v.is_string()) {
    // The API defaults "" (and 0) to the service port; the caller fills that in.
    out = TargetPort{0, InternedString(v.get_ref<const std::string&>())};
    return okStatus();
  }
  if (v.is_number_integer() || v.is_number_unsigned()) {
    int64_t n = 0;
    // 0 is accepted and defaulted to the service port, as the API server's defaulting does.
    if (!readInt(v, p, 0, 65535, n).ok()) return typeError(p, "integer 1-65535 or port name", v);
    out = TargetPort{static_cast<uint16_t>(n), InternedString()};
    return okStatus();
  }
  return typeError(p, "integer 1-65535 or port name", v);
}

Status readServicePort(const json& v, const Path& p, ServicePort& out) {
  NN_TRY(requireObject(v, p));
  NN_TRY(optInterned(v, "name", p, out.name));
  NN_TRY(optField(v, "protocol", p, out.protocol, readProtocol));
  const json* port = member(v, "port");
  if (!port) return fieldError(p.field("port"), "required");
  NN_TRY(readPort(*port, p.field("port"), false, out.port));
  NN_TRY(optField(v, "targetPort", p, out.targetPort, readTargetPort));
  if (!out.targetPort.isNamed() && out.targetPort.number == 0) out.targetPort.number = out.port;
  NN_TRY(optField(v, "nodePort", p, out.nodePort,
                  [](const json& j, const Path& jp, uint16_t& o) { return readPort(j, jp, true, o); }));
  NN_TRY(optInterned(v, "appProtocol", p, out.appProtocol));
  return okStatus();
}

Status readIpFamily(const json& v, const Path& p, IpFamily& out) {
  return readEnum<IpFamily>(v, p, {{"IPv4", IpFamily::V4}, {"IPv6", IpFamily::V6}}, out);
}

/// spec.clusterIP and spec.clusterIPs: "None" = headless; otherwise up to two IPs of different families.
Status readClusterIPs(const json& spec, const Path& sp, Service& out) {
  std::string single;
  NN_TRY(optString(spec, "clusterIP", sp, single));
  const json* list = member(spec, "clusterIPs");
  Path lp = sp.field("clusterIPs");
  if (list && !list->is_array()) return typeError(lp, "array", *list);
  if (list && !list->empty()) {
    if (list->size() > 2) return fieldError(lp, strCat("at most 2 entries allowed, got ", list->size()));
    const json& first = (*list)[0];
    if (!first.is_string()) return typeError(lp.index(0), "IP address or \"None\"", first);
    if (!single.empty() && first.get_ref<const std::string&>() != single)
      return fieldError(sp.field("clusterIP"),
                        strCat('"', single, "\" does not match clusterIPs[0] ", describe(first)));
    if (first.get_ref<const std::string&>() == "None") {
      if (list->size() != 1) return fieldError(lp, "\"None\" must be the only entry");
      out.headless = true;
      return okStatus();
    }
    out.clusterIPs.reserve(list->size());
    for (size_t i = 0; i < list->size(); ++i) {
      IpAddress ip;
      NN_TRY(readIp((*list)[i], lp.index(i), ip));
      if (i == 1 && ip.family() == out.clusterIPs[0].family())
        return fieldError(lp.index(1), "must be of the other IP family than clusterIPs[0]");
      out.clusterIPs.push_back(ip);
    }
    return okStatus();
  }
  // Manifests and pre-1.20 objects carry only clusterIP.
  if (single.empty()) return okStatus();
  if (single == "None") {
    out.headless = true;
    return okStatus();
  }
  IpAddress ip;
  NN_TRY(readIp(spec["clusterIP"], sp.field("clusterIP"), ip));
  out.clusterIPs.push_back(ip);
  return okStatus();
}

Status readSourceRangesAnnotation(Service& out) {
  auto value = out.meta.annotations.get(kAnnotationLoadBalancerSourceRanges);
  if (!value) return okStatus();
  std::string_view v = trim(*value);
  if (v.empty()) return okStatus();  // "" means allow all, like no annotation
  Path mp = Path().field("metadata");
  Path ap = mp.field("annotations");
  Path p = ap.mapKey(kAnnotationLoadBalancerSourceRanges);
  for (const std::string& part : split(v, ',')) {
    auto c = parseCidrSloppy(part);
    if (!c.ok()) return fieldError(p, strCat("invalid CIDR \"", jsonEscape(trim(part)), '"'));
    out.loadBalancerSourceRanges.push_back(*c);
  }
  return okStatus();
}

Status readPortStatus(const json& v, const Path& p, PortStatus& out) {
  NN_TRY(requireObject(v, p));
  const json* port = member(v, "port");
  if (!port) return fieldError(p.field("port"), "required");
  NN_TRY(readPort(*port, p.field("port"), false, out.port));
  NN_TRY(optField(v, "protocol", p, out.protocol, readProtocol));
  if (const json* e = member(v, "error")) {
    std::string s;
    NN_TRY(readString(*e, p.field("error"), s));
    out.error = std::move(s);
  }
  return okStatus();
}

Status readIngress(const json& v, const Path& p, LoadBalancerIngress& out) {
  NN_TRY(requireObject(v, p));
  if (const json* ip = member(v, "ip")) {
    IpAddress a;
    NN_TRY(readIp(*ip, p.field("ip"), a));
    out.ip = a;
  }
  NN_TRY(optString(v, "hostname", p, out.hostname));
  if (const json* m = member(v, "ipMode")) {
    LoadBalancerIpMode mode = LoadBalancerIpMode::VIP;
    NN_TRY(readEnum<LoadBalancerIpMode>(
        *m, p.field("ipMode"), {{"VIP", LoadBalancerIpMode::VIP}, {"Proxy", LoadBalancerIpMode::Proxy}}, mode));
    out.ipMode = mode;
  }
  if (const json* ports = member(v, "ports")) {
    NN_TRY(forEachElement(*ports, p.field("ports"), [&](const json& e, const Path& ep, size_t) -> Status {
      PortStatus ps;
      NN_TRY(readPortStatus(e, ep, ps));
      out.ports.push_back(std::move(ps));
      return okStatus();
    }));
  }
  return okStatus();
}

Status readSpec(const json& spec, const Path& sp, Service& out) {
  NN_TRY(requireObject(spec, sp));
  NN_TRY(optField(spec, "type", sp, out.type, [](const json& v, const Path& p, ServiceType& o) {
    return readEnum<ServiceType>(v, p,
                                 {{"ClusterIP", ServiceType::ClusterIP},
                                  {"NodePort", ServiceType::NodePort},
                                  {"LoadBalancer", ServiceType::LoadBalancer},
                                  {"ExternalName", ServiceType::ExternalName}},
                                 o);
  }));
  NN_TRY(readClusterIPs(spec, sp, out));

  if (const json* fams = member(spec, "ipFamilies")) {
    Path fp = sp.field("ipFamilies");
    if (fams->is_array() && fams->size() > 2)
      return fieldError(fp, strCat("at most 2 entries allowed, got ", fams->size()));
    NN_TRY(forEachElement(*fams, fp, [&](const json& e, const Path& ep, size_t i) -> Status {
      IpFamily f = IpFamily::V4;
      NN_TRY(readIpFamily(e, ep, f));
      if (i == 1 && f == out.ipFamilies[0]) return fieldError(ep, "duplicate IP family");
      out.ipFamilies.push_back(f);
      return okStatus();
    }));
  }
  // The API server fills ipFamilies from the allocated IPs; do the same for manifests.
  if (out.ipFamilies.empty())
    for (const IpAddress& ip : out.clusterIPs) out.ipFamilies.push_back(ip.family());

  NN_TRY(optField(spec, "ipFamilyPolicy", sp, out.ipFamilyPolicy, [](const json& v, const Path& p, IpFamilyPolicy& o) {
    return readEnum<IpFamilyPolicy>(v, p,
                                    {{"SingleStack", IpFamilyPolicy::SingleStack},
                                     {"PreferDualStack", IpFamilyPolicy::PreferDualStack},
                                     {"RequireDualStack", IpFamilyPolicy::RequireDualStack}},
                                    o);
  }));

  if (const json* ports = member(spec, "ports")) {
    if (ports->is_array()) out.ports.reserve(ports->size());
    NN_TRY(forEachElement(*ports, sp.field("ports"), [&](const json& e, const Path& ep, size_t) -> Status {
      ServicePort port;
      NN_TRY(readServicePort(e, ep, port));
      out.ports.push_back(port);
      return okStatus();
    }));
  }

  if (const json* sel = member(spec, "selector")) {
    Path selp = sp.field("selector");
    if (!sel->is_object()) return typeError(selp, "object of strings", *sel);
    for (auto it = sel->begin(); it != sel->end(); ++it)
      if (!it->is_string() && !it->is_null()) return typeError(selp.mapKey(it.key()), "string", it.value());
    out.hasSelector = !sel->empty();
  }

  NN_TRY(
      optField(spec, "sessionAffinity", sp, out.sessionAffinity, [](const json& v, const Path& p, SessionAffinity& o) {
        return readEnum<SessionAffinity>(v, p,
                                         {{"None", SessionAffinity::None}, {"ClientIP", SessionAffinity::ClientIP}}, o);
      }));
  if (const json* cfg = member(spec, "sessionAffinityConfig")) {
    Path cp = sp.field("sessionAffinityConfig");
    NN_TRY(requireObject(*cfg, cp));
    if (const json* cip = member(*cfg, "clientIP")) {
      Path ip = cp.field("clientIP");
      NN_TRY(requireObject(*cip, ip));
      if (const json* t = member(*cip, "timeoutSeconds")) {
        int64_t secs = 0;
        NN_TRY(readInt(*t, ip.field("timeoutSeconds"), 1, kMaxAffinityTimeoutSeconds, secs));
        out.affinityTimeoutSeconds = static_cast<uint32_t>(secs);
      }
    }
  }

  if (const json* ext = member(spec, "externalIPs")) {
    NN_TRY(forEachElement(*ext, sp.field("externalIPs"), [&](const json& e, const Path& ep, size_t) -> Status {
      IpAddress ip;
      NN_TRY(readIp(e, ep, ip));
      out.externalIPs.push_back(ip);
      return okStatus();
    }));
  }

  // "Global" is the pre-1.7 spelling of Cluster; "" is what the API stores for ClusterIP Services.
  NN_TRY(optField(
      spec, "externalTrafficPolicy", sp, out.externalTrafficPolicy,
      [](const json& v, const Path& p, TrafficPolicy& o) -> Status {
        if (v.is_string() && (v.get_ref<const std::string&>().empty() || v == "Global")) {
          o = TrafficPolicy::Cluster;
          return okStatus();
        }
        return readEnum<TrafficPolicy>(v, p, {{"Cluster", TrafficPolicy::Cluster}, {"Local", TrafficPolicy::Local}}, o);
      }));
  NN_TRY(optField(
      spec, "internalTrafficPolicy", sp, out.internalTrafficPolicy, [](const json& v, const Path& p, TrafficPolicy& o) {
        return readEnum<TrafficPolicy>(v, p, {{"Cluster", TrafficPolicy::Cluster}, {"Local", TrafficPolicy::Local}}, o);
      }));
  NN_TRY(optField(spec, "healthCheckNodePort", sp, out.healthCheckNodePort,
                  [](const json& v, const Path& p, uint16_t& o) { return readPort(v, p, true, o); }));

  if (const json* ranges = member(spec, "loadBalancerSourceRanges")) {
    NN_TRY(forEachElement(*ranges, sp.field("loadBalancerSourceRanges"),
                          [&](const json& e, const Path& ep, size_t) -> Status {
                            Cidr c;
                            NN_TRY(readCidr(e, ep, c));
                            out.loadBalancerSourceRanges.push_back(c);
                            return okStatus();
                          }));
  }

  if (const json* td = member(spec, "trafficDistribution")) {
    Path tp = sp.field("trafficDistribution");
    if (!td->is_string()) return typeError(tp, "string", *td);
    const std::string& s = td->get_ref<const std::string&>();
    // Unknown values come from newer API servers: ignore them rather than drop the Service.
    if (s == "PreferClose")
      out.trafficDistribution = TrafficDistribution::PreferClose;
    else if (s == "PreferSameZone")
      out.trafficDistribution = TrafficDistribution::PreferSameZone;
    else if (s == "PreferSameNode")
      out.trafficDistribution = TrafficDistribution::PreferSameNode;
    else if (!s.empty())
      out.trafficDistribution = TrafficDistribution::Other;
  }

  NN_TRY(optBool(spec, "publishNotReadyAddresses", sp, out.publishNotReadyAddresses));
  NN_TRY(optString(spec, "externalName", sp, out.externalName));
  NN_TRY(optTriState(spec, "allocateLoadBalancerNodePorts", sp, out.allocateLoadBalancerNodePorts));
  return okStatus();
}

}  // namespace

Status decodeServiceFields(const json& obj, Service& out) {
  NN_TRY(checkTypeMeta(obj, "Service", "v1"));
  NN_TRY(decodeMeta(obj, /*namespaced=*/true, /*requireName=*/true, out.meta));
  Path root;
  if (const json* spec = member(obj, "spec")) NN_TRY(readSpec(*spec, root.field("spec"), out));
  // The legacy annotation applies only to LoadBalancer Services and only when the field is empty
  // (the API server's GetLoadBalancerSourceRanges); elsewhere a stale annotation must not reject the Service.
  if (out.type == ServiceType::LoadBalancer && out.loadBalancerSourceRanges.empty())
    NN_TRY(readSourceRangesAnnotation(out));

  if (const json* status = member(obj, "status")) {
    Path stp = root.field("status");
    NN_TRY(requireObject(*status, stp));
    if (const json* lb = member(*status, "loadBalancer")) {
      Path lbp = stp.field("loadBalancer");
      NN_TRY(requireObject(*lb, lbp));
      if (const json* ing = member(*lb, "ingress")) {
        NN_TRY(forEachElement(*ing, lbp.field("ingress"), [&](const json& e, const Path& ep, size_t) -> Status {
          LoadBalancerIngress li;
          NN_TRY(readIngress(e, ep, li));
          out.loadBalancerIngress.push_back(std::move(li));
          return okStatus();
        }));
      }
    }
  }
  return okStatus();
}

}  // namespace nodenet::kube::detail
