// Network configuration (stdin) parsing: the keys the CNI spec defines for every plugin, plus the conflist
// form. Plugin-specific keys stay in NetConf::raw for the plugin's own parser (e.g. cni/bridge/config.h).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/skel/error.h"
#include "cni/skel/result.h"

namespace nodenet::cni {

/// One entry of "cni.dev/valid-attachments" (GC).
struct GcAttachment {
  std::string containerId;  // "containerID"
  std::string ifName;       // "ifname"
  bool operator==(const GcAttachment&) const = default;
};

/// runtimeConfig capabilities we understand; the whole object stays in `raw`.
struct RuntimeConfig {
  std::vector<std::string> ips;  // "ips": requested addresses, "10.1.2.3" or "10.1.2.3/24"
  std::string mac;               // "mac"
  nlohmann::json raw = nlohmann::json::object();
};

/// A single plugin's network configuration.
struct NetConf {
  std::string cniVersion;  // defaults to "0.1.0" when absent (spec)
  std::string name;
  std::string type;
  bool ipMasq = false;
  nlohmann::json ipam = nlohmann::json::object();  // the "ipam" object as given ({} when absent)
  std::string ipamType;                             // ipam.type, empty when no IPAM
  Dns dns;
  RuntimeConfig runtimeConfig;
  nlohmann::json args = nlohmann::json::object();  // "args" as given
  std::vector<std::string> argsCniIps;             // args.cni.ips
  std::string argsCniMac;                          // args.cni.mac
  std::optional<AddResult> prevResult;             // parsed in cniVersion's format, converted to the 1.1 model
  std::vector<GcAttachment> validAttachments;      // "cni.dev/valid-attachments"
  nlohmann::json raw;                               // the whole object, for plugin-specific keys
};

/// Parses one plugin config. Errors: code 6 when stdin is not a JSON object or a key has the wrong JSON type
/// (the reference's json.Unmarshal failure); code 7 for a missing/invalid name ("missing network name",
/// "invalid characters found in network name"), a missing "type", or an unparsable prevResult/ips entry.
/// Does not check the version against supportedVersions() (the dispatcher does, with code 1).
CniResult<NetConf> parseNetConf(std::string_view stdinData);
/// Same, from an already parsed object.
CniResult<NetConf> parseNetConfJson(const nlohmann::json& conf);

/// A .conflist: {"cniVersion", "cniVersions", "name", "disableCheck", "disableGC", "plugins": [...]}.
struct NetConfList {
  std::string cniVersion;
  std::vector<std::string> cniVersions;  // 1.1: the versions the list supports; highest supported one wins
  std::string name;
  bool disableCheck = false;
  bool disableGc = false;
  std::vector<nlohmann::json> plugins;

  /// The version a runtime would use: the highest of cniVersions that we support, else cniVersion.
  std::string effectiveVersion() const;
  /// The config to hand to plugin `i`: its object with cniVersion and name injected (spec "Deriving execution
  /// configuration from plugin configuration"), and prevResult when given.
  nlohmann::json pluginConfig(size_t i, const std::optional<AddResult>& prevResult = std::nullopt) const;
};

/// Parses a conflist. Code 7 for a missing name, no plugins, or a plugin without "type"; code 6 for bad JSON.
CniResult<NetConfList> parseNetConfList(std::string_view text);

}  // namespace nodenet::cni
