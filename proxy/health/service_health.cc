// See service_health.h; the semantics are kube-proxy's pkg/proxy/healthcheck/service_health.go.
#include "proxy/health/service_health.h"

#include <cerrno>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::proxy::health {

ServiceHealthServer::ServiceHealthServer(HttpServer& server, Options options)
    : server_(server), options_(std::move(options)) {
  if (options_.bindAddresses.empty()) {
    // All node addresses, both families (kube-proxy listens on "0.0.0.0", which Go makes dual-stack).
    options_.bindAddresses = {IpAddress::v4(0), IpAddress::parse("::").value()};
    defaultAddresses_ = true;
  }
}

ServiceHealthServer::~ServiceHealthServer() {
  std::map<ServiceKey, Instance> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = std::move(services_);
  }
  for (auto& [key, inst] : all) closeInstance(inst);
}

void ServiceHealthServer::closeInstance(Instance& inst) {
  // Never called with mu_ held: close() waits for the server thread, whose handlers take mu_.
  for (auto id : inst.listeners) server_.close(id);
  inst.listeners.clear();
}

size_t ServiceHealthServer::syncServices(const std::map<ServiceKey, uint16_t>& services) {
  std::vector<std::pair<ServiceKey, Instance>> toClose;
  std::vector<std::pair<ServiceKey, uint16_t>> toOpen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = services_.begin(); it != services_.end();) {
      auto want = services.find(it->first);
      if (want == services.end() || want->second != it->second.port) {
        NN_VLOG(2) << "closing healthcheck for service " << it->first.toString() << " port " << it->second.port;
        toClose.emplace_back(it->first, std::move(it->second));
        it = services_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [key, port] : services)
      if (!services_.count(key)) toOpen.emplace_back(key, port);
  }
  for (auto& [key, inst] : toClose) closeInstance(inst);

  size_t failed = 0;
  for (auto& [key, port] : toOpen) {
    Instance inst;
    inst.port = port;
    Status st = okStatus();
    for (const IpAddress& addr : options_.bindAddresses) {
      auto bound = server_.listen(addr, port, [this, key = key](const HttpRequest&) { return answer(key); });
      if (!bound.ok()) {
        int e = bound.error().sysErrno();
        // With the default addresses a node without IPv6 (disabled, or no ::1 in the netns) still serves IPv4.
        if (defaultAddresses_ && addr.isV6() && (e == EAFNOSUPPORT || e == EADDRNOTAVAIL)) continue;
        st = std::move(bound).error();
        break;
      }
      inst.listeners.push_back(bound->id);
    }
    if (!st.ok()) {
      // Close what was opened so a retry (or the port's new owner) can bind; retried on the next sync.
      closeInstance(inst);
      ++failed;
      NN_LOG(Error) << "node " << options_.nodeName << " failed to start healthcheck \"" << key.toString()
                    << "\" on port " << port << ": " << st.error().message();
      continue;
    }
    NN_VLOG(2) << "opened healthcheck for service " << key.toString() << " port " << port;
    std::lock_guard<std::mutex> lock(mu_);
    services_[key] = std::move(inst);
  }
  return failed;
}

void ServiceHealthServer::syncEndpoints(const std::map<ServiceKey, int>& localEndpoints) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, inst] : services_) {
    auto it = localEndpoints.find(key);
    inst.endpoints = it == localEndpoints.end() ? 0 : it->second;
  }
}

std::vector<ServiceKey> ServiceHealthServer::activeServices() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ServiceKey> out;
  for (auto& [key, inst] : services_) out.push_back(key);
  return out;
}

HttpResponse ServiceHealthServer::answer(const ServiceKey& key) const {
  int count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = services_.find(key);
    if (it != services_.end()) count = it->second.endpoints;
  }
  bool proxyHealthy = options_.proxyHealthy();
  HttpResponse r;
  r.status = count != 0 && proxyHealthy ? 200 : 503;
  r.contentType = "application/json";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // Same layout as kube-proxy's (a dedented, indented JSON document).
  r.body = strCat("{\n\t\"service\": {\n\t\t\"namespace\": \"", jsonEscape(key.ns), "\",\n\t\t\"name\": \"",
                  jsonEscape(key.name), "\"\n\t},\n\t\"localEndpoints\": ", count,
                  ",\n\t\"serviceProxyHealthy\": ", proxyHealthy ? "true" : "false", "\n}");
  return r;
}

}  // namespace nodenet::proxy::health
