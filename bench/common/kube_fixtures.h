// Realistic API objects for the Kubernetes benchmarks, in the form the API server serves them (managedFields,
// last-applied annotations, status): 10% NodePort, 5% LoadBalancer, 2 endpoints per slice across kNodes nodes
// in 3 zones. Shared by bench/kube_objects (decode) and bench/kube_watch (list+watch against the fake server).
#pragma once

#include <nlohmann/json.hpp>

namespace nodenet::bench {

constexpr int kNamespaces = 100;
constexpr int kNodes = 200;

/// Service number i. withResourceVersion=false leaves metadata.resourceVersion to a server that assigns it.
nlohmann::json makeService(int i, bool withResourceVersion = true);
/// The EndpointSlice of Service i: 2 ready endpoints on two nodes, with zones and hints.
nlohmann::json makeEndpointSlice(int i, bool withResourceVersion = true);

}  // namespace nodenet::bench
