// The bridge plugin's own configuration keys, parsed and validated before anything touches the kernel.
//
// Every key of the reference bridge plugin is understood; values that the reference would reject are rejected
// with the same meaning (and code 7, invalid network config). Keys outside this list are left to the common
// CNI parsing (skel) and otherwise ignored, as the spec allows.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace nodenet::cni::bridge {

struct BridgeConf {
  std::string bridge = "cni0";     // "bridge"
  bool isGateway = false;          // "isGateway" (forced on by isDefaultGateway)
  bool isDefaultGateway = false;   // "isDefaultGateway"
  bool forceAddress = false;       // "forceAddress"
  bool ipMasq = false;             // "ipMasq"
  int mtu = 0;                     // "mtu"; 0 = kernel default
  bool hairpinMode = false;        // "hairpinMode"
  bool promiscMode = false;        // "promiscMode"
  int vlan = 0;                    // "vlan" (access port, untagged), 0 = none
  std::vector<uint16_t> vlanTrunk; // "vlanTrunk", expanded, sorted, unique (tagged)
  bool preserveDefaultVlan = true; // "preserveDefaultVlan"
  bool macSpoofChk = false;        // "macspoofchk"
  bool enableDad = false;          // "enabledad"
  bool disableContainerInterface = false;  // "disableContainerInterface"
  bool portIsolation = false;      // "portIsolation"
  std::string ipamType;            // "ipam.type"; empty = layer 2 only
  /// Container MAC from CNI_ARGS MAC=, args.cni.mac or runtimeConfig.mac (that precedence, last wins).
  std::string mac;

  bool vlanFiltering() const { return vlan != 0 || !vlanTrunk.empty(); }
};

/// Parses and validates the bridge keys of one plugin config. `cniArgs` is CNI_ARGS (for MAC=).
/// Errors name the key: "invalid VLAN ID 5000 (must be between 0 and 4094)".
Result<BridgeConf> parseBridgeConf(const nlohmann::json& conf, const std::string& cniArgs);

/// Parses "aa:bb:cc:dd:ee:ff" into 6 bytes; false when malformed.
bool parseMac(const std::string& text, uint8_t out[6]);

}  // namespace nodenet::cni::bridge
