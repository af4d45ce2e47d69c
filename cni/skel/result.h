// The CNI success result in one model (spec 1.1) and its rendering for every supported version:
//  - 1.0.0 / 1.1.0: interfaces, ips (interface index, address, gateway), routes, dns; keys sorted and "dns"
//    omitted when empty, exactly like the reference (its MarshalJSON round-trips through a Go map).
//  - 0.3.0 / 0.3.1 / 0.4.0: same plus "version" in each ip; keys in struct order; "dns" always present.
//  - 0.1.0 / 0.2.0: "ip4"/"ip6" objects {ip, gateway, routes}; only the first IP of each family survives.
// prevResult of any version parses into the same model (the reference's converters), so chaining works.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "cni/skel/error.h"

namespace nodenet::cni {

struct Interface {
  std::string name;
  std::string mac;         // "aa:bb:cc:dd:ee:ff" or empty
  int mtu = 0;             // 1.1 only; 0 = omitted
  std::string sandbox;     // netns path for container interfaces, empty for host ones
  std::string socketPath;  // 1.1 only
  std::string pciId;       // 1.1 only ("pciID")
  bool operator==(const Interface&) const = default;
};

struct IpConfig {
  std::optional<int> interface;  // index into AddResult::interfaces
  Cidr address;                  // address with prefix: 10.85.0.5/16
  std::optional<IpAddress> gateway;
  bool operator==(const IpConfig&) const = default;
};

struct Route {
  Cidr dst;
  std::optional<IpAddress> gw;
  int mtu = 0;       // 1.1
  int advmss = 0;    // 1.1
  int priority = 0;  // 1.1
  std::optional<int> table;  // 1.1
  std::optional<int> scope;  // 1.1
  bool operator==(const Route&) const = default;
};

struct Dns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool empty() const { return nameservers.empty() && domain.empty() && search.empty() && options.empty(); }
  bool operator==(const Dns&) const = default;
};

/// The success result of ADD (also what prevResult carries), in the current (1.1) model.
struct AddResult {
  std::string cniVersion;  // informational; rendering takes the version explicitly
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  Dns dns;
  bool operator==(const AddResult&) const = default;
};

/// Renders `r` as the JSON result for `version`, indented with four spaces like the reference's
/// json.MarshalIndent. Code 1 for an unsupported version; converting to 0.1.0/0.2.0 without any IP fails like
/// the reference ("cannot convert: no valid IP addresses").
CniResult<std::string> renderResult(const AddResult& r, std::string_view version);

/// The result for `version` as JSON (ordered as rendered). Same errors as renderResult.
CniResult<nlohmann::ordered_json> resultToJson(const AddResult& r, std::string_view version);

/// Parses a result written in `version`'s format (0.1.0 ... 1.1.0) into the current model. Used for prevResult
/// (version = the config's cniVersion) and for delegated IPAM output. Code 6 on malformed input, code 1 on an
/// unsupported version.
CniResult<AddResult> parseResult(const nlohmann::json& j, std::string_view version);

}  // namespace nodenet::cni
