// Kube object builders shared by the proxy's unit tests (proxy/rules goldens, proxy/sync): addresses, Service
// ports and Services of a fixed IP plan, built directly as typed objects (no JSON).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "kube/objects/service.h"

namespace nodenet::proxy::kubetest {

inline IpAddress ip(const char* s) { return *IpAddress::parse(s); }
inline Cidr cidr(const char* s) { return *Cidr::parse(s); }
inline kube::InternedString in(std::string_view s) { return kube::InternedString(s); }

/// A Service port named `name` (may be ""), targetPort = port.
inline kube::ServicePort port(const char* name, uint16_t p, L4Proto proto = L4Proto::TCP, uint16_t nodePort = 0) {
  kube::ServicePort sp;
  sp.name = in(name);
  sp.protocol = proto;
  sp.port = p;
  sp.nodePort = nodePort;
  sp.targetPort.number = p;
  return sp;
}

/// A ClusterIP Service with a selector; ipFamilies follow the cluster IPs.
inline kube::Service service(const char* ns, const char* name, std::vector<const char*> clusterIPs,
                             std::vector<kube::ServicePort> ports) {
  kube::Service s;
  s.meta.ns = in(ns);
  s.meta.name = name;
  for (const char* c : clusterIPs) {
    s.clusterIPs.push_back(ip(c));
    s.ipFamilies.push_back(ip(c).family());
  }
  s.ports = std::move(ports);
  s.hasSelector = true;
  return s;
}

}  // namespace nodenet::proxy::kubetest
