// host-local IPAM configuration (the reference's allocator/config.go LoadIPAMConfig, plus resolvConf parsing).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "cni/ipam/range.h"
#include "cni/skel/result.h"

namespace nodenet::cni::ipam {

/// Where the reference keeps its store.
inline constexpr const char* kDefaultDataDir = "/var/lib/cni/networks";

struct IpamConfig {
  std::string name;        // the network name (store directory under dataDir)
  std::string cniVersion;  // the config's version ("0.1.0" when absent)
  std::string type;        // ipam.type
  std::vector<RangeSet> ranges;     // canonicalized; one IP is allocated from each set
  std::vector<Route> routes;        // ipam.routes, copied to the result
  std::string dataDir = kDefaultDataDir;
  std::string resolvConf;           // ipam.resolvConf path, empty = none
  std::vector<IpAddress> requestedIps;  // CNI_ARGS IP=, then args.cni.ips, then runtimeConfig.ips
};

/// Loads and validates the IPAM part of a network config like the reference:
///  - "IPAM config missing 'ipam' key";
///  - CNI_ARGS `IP=` (address or address/prefix; unknown keys per skel's parseCniArgs);
///  - the legacy single range (ipam.subnet/rangeStart/rangeEnd/gateway) is prepended to ipam.ranges, and
///    runtimeConfig.ipRanges before both;
///  - "no IP ranges specified", "invalid range set N: <range error>", "range set N overlaps with M";
///  - "CNI version X does not support more than 1 address per family" below 0.3.0.
/// Errors are plain (callers give them code 7, invalid network config).
nodenet::Result<IpamConfig> loadIpamConfig(const nlohmann::json& conf, std::string_view cniArgs);

/// Parses resolv.conf text: nameserver, domain, search, options (comments '#' ';' and short lines skipped).
Dns parseResolvConfText(std::string_view text);
/// Reads and parses the file at `path`; error names the file and errno.
nodenet::Result<Dns> parseResolvConf(const std::string& path);

}  // namespace nodenet::cni::ipam
