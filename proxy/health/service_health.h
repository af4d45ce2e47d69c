// ServiceHealthServer: the healthCheckNodePort listeners of externalTrafficPolicy=Local LoadBalancer and
// NodePort services (kube-proxy pkg/proxy/healthcheck/service_health.go). Cloud load balancers probe
// http://<node>:<healthCheckNodePort>/ and send traffic only to nodes answering 200, i.e. nodes with local
// endpoints of the service while the proxy itself is healthy.
#pragma once

#include <cstdint>
#include <functional>
#include <compare>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "proxy/metrics/http_server.h"

namespace nodenet::proxy::health {

using metrics::HttpRequest;
using metrics::HttpResponse;
using metrics::HttpServer;

/// namespace/name of a Service.
struct ServiceKey {
  std::string ns;
  std::string name;
  auto operator<=>(const ServiceKey&) const = default;
  std::string toString() const { return ns + "/" + name; }
};

class ServiceHealthServer {
 public:
  struct Options {
    /// Where every health check port listens. Default: all addresses (0.0.0.0 and ::), as kube-proxy with
    /// --nodeport-addresses unset; otherwise the node IPs matching --nodeport-addresses. Port 0 in tests
    /// is not possible here (the port comes from the Service), so tests pass 127.0.0.1 and a free port.
    std::vector<IpAddress> bindAddresses;
    /// Proxier health (ProxierHealthServer::isHealthy); a service is healthy only if this is too.
    std::function<bool()> proxyHealthy = [] { return true; };
    /// For log lines: "node N failed to start healthcheck ns/name on port P".
    std::string nodeName;
  };

  /// `server` must outlive this object.
  ServiceHealthServer(HttpServer& server, Options options);
  /// Closes every listener.
  ~ServiceHealthServer();
  ServiceHealthServer(const ServiceHealthServer&) = delete;
  ServiceHealthServer& operator=(const ServiceHealthServer&) = delete;

  /// Makes `services` (key -> healthCheckNodePort) the active set: listeners of services that left or
  /// changed port close; new ones open on every bind address. A port that cannot be bound is logged with
  /// the service, node and errno and retried on the next call; it never fails the sync (kube-proxy emits
  /// an event and carries on). Returns how many services failed to bind this time.
  size_t syncServices(const std::map<ServiceKey, uint16_t>& services);
  /// Sets the local endpoint counts; services absent from the map count 0. Keys without an active
  /// service are ignored.
  void syncEndpoints(const std::map<ServiceKey, int>& localEndpoints);

  /// Services with open listeners (for tests and logs).
  std::vector<ServiceKey> activeServices() const;
  /// The answer a probe for `key` gets: 200 with localEndpoints > 0 and a healthy proxy, else 503; JSON
  /// {"service":{"namespace":..,"name":..},"localEndpoints":N,"serviceProxyHealthy":bool}. A key without
  /// an active service: 503 with the same shape and 0 endpoints (the listener is closing).
  HttpResponse answer(const ServiceKey& key) const;

 private:
  struct Instance {
    uint16_t port = 0;
    std::vector<HttpServer::ListenerId> listeners;
    int endpoints = 0;
  };
  void closeInstance(Instance& inst);

  HttpServer& server_;
  Options options_;
  bool defaultAddresses_ = false;  // bindAddresses was empty: 0.0.0.0 and :: (IPv6 optional)
  mutable std::mutex mu_;
  std::map<ServiceKey, Instance> services_;
};

}  // namespace nodenet::proxy::health
