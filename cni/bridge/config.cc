#include "cni/bridge/config.h"

#include <algorithm>
#include <set>

#include "base/strings.h"

namespace nodenet::cni::bridge {
namespace {

using nlohmann::json;

// Reads an optional key of the expected JSON type. Go's encoding/json (the reference) rejects a wrong type,
// so do we, naming the key.
template <typename T>
Status readKey(const json& conf, const char* key, T& out) {
  auto it = conf.find(key);
  if (it == conf.end() || it->is_null()) return {};
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return Error(strCat("invalid \"", key, "\": expected a boolean, got ", it->dump()));
    out = it->get<bool>();
  } else if constexpr (std::is_same_v<T, int>) {
    if (!it->is_number_integer())
      return Error(strCat("invalid \"", key, "\": expected an integer, got ", it->dump()));
    int64_t v = it->get<int64_t>();
    if (v < INT32_MIN || v > INT32_MAX) return Error(strCat("invalid \"", key, "\": out of range"));
    out = static_cast<int>(v);
  } else {
    if (!it->is_string()) return Error(strCat("invalid \"", key, "\": expected a string, got ", it->dump()));
    out = it->get<std::string>();
  }
  return {};
}

Result<std::vector<uint16_t>> collectVlanTrunk(const json& trunk) {
  if (!trunk.is_array()) return Error("invalid \"vlanTrunk\": expected a list");
  std::set<uint16_t> vids;
  auto readId = [](const json& item, const char* key, std::optional<int>& out) -> Status {
    auto it = item.find(key);
    if (it == item.end() || it->is_null()) return {};
    if (!it->is_number_integer()) return Error(strCat("invalid vlanTrunk \"", key, "\": expected an integer"));
    out = static_cast<int>(std::clamp<int64_t>(it->get<int64_t>(), -1, 1 << 20));
    return {};
  };
  for (const auto& item : trunk) {
    if (!item.is_object()) return Error("invalid \"vlanTrunk\": each entry must be an object");
    std::optional<int> minId, maxId, id;
    NN_TRY(readId(item, "minID", minId));
    NN_TRY(readId(item, "maxID", maxId));
    NN_TRY(readId(item, "id", id));
    if (minId && maxId) {
      if (*minId <= 0 || *minId > 4094) return Error("incorrect trunk minID parameter");
      if (*maxId <= 0 || *maxId > 4094) return Error("incorrect trunk maxID parameter");
      if (*maxId < *minId) return Error("minID is greater than maxID in trunk parameter");
      for (int v = *minId; v <= *maxId; ++v) vids.insert(static_cast<uint16_t>(v));
    } else if (maxId) {
      return Error("minID and maxID should be configured simultaneously, minID is missing");
    } else if (minId) {
      return Error("minID and maxID should be configured simultaneously, maxID is missing");
    }
    if (id) {
      if (*id <= 0 || *id > 4094) return Error("incorrect trunk id parameter");
      vids.insert(static_cast<uint16_t>(*id));
    }
  }
  return std::vector<uint16_t>(vids.begin(), vids.end());
}

}  // namespace

bool parseMac(const std::string& text, uint8_t out[6]) {
  if (text.size() != 17) return false;
  for (int i = 0; i < 6; ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(text[i * 3]), lo = hex(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

Result<BridgeConf> parseBridgeConf(const json& conf, const std::string& cniArgs) {
  if (!conf.is_object()) return Error("network config must be a JSON object");
  BridgeConf c;
  NN_TRY(readKey(conf, "bridge", c.bridge));
  if (c.bridge.empty()) c.bridge = "cni0";
  // Linux interface names: at most 15 bytes, no '/', no whitespace, not "." or "..".
  if (c.bridge.size() > 15 || c.bridge == "." || c.bridge == ".." ||
      c.bridge.find_first_of("/ \t\n:") != std::string::npos)
    return Error(strCat("invalid \"bridge\": \"", c.bridge, "\" is not a valid interface name"));
  NN_TRY(readKey(conf, "isGateway", c.isGateway));
  NN_TRY(readKey(conf, "isDefaultGateway", c.isDefaultGateway));
  if (c.isDefaultGateway) c.isGateway = true;
  NN_TRY(readKey(conf, "forceAddress", c.forceAddress));
  NN_TRY(readKey(conf, "ipMasq", c.ipMasq));
  std::string backend;
  NN_TRY(readKey(conf, "ipMasqBackend", backend));
  if (!backend.empty() && backend != "nftables")
    return Error(strCat("invalid \"ipMasqBackend\": \"", backend,
                        "\" is not supported; nodenet masquerades through nftables (use \"nftables\" or omit it)"));
  NN_TRY(readKey(conf, "mtu", c.mtu));
  if (c.mtu < 0 || c.mtu > 65535) return Error(strCat("invalid \"mtu\": ", c.mtu));
  NN_TRY(readKey(conf, "hairpinMode", c.hairpinMode));
  NN_TRY(readKey(conf, "promiscMode", c.promiscMode));
  NN_TRY(readKey(conf, "vlan", c.vlan));
  if (c.vlan < 0 || c.vlan > 4094) return Error(strCat("invalid VLAN ID ", c.vlan, " (must be between 0 and 4094)"));
  if (auto it = conf.find("vlanTrunk"); it != conf.end() && !it->is_null()) {
    NN_ASSIGN_OR_RETURN(c.vlanTrunk, collectVlanTrunk(*it));
  }
  if (c.vlan > 0 && !c.vlanTrunk.empty()) return Error("cannot set vlan and vlanTrunk at the same time");
  NN_TRY(readKey(conf, "preserveDefaultVlan", c.preserveDefaultVlan));
  NN_TRY(readKey(conf, "macspoofchk", c.macSpoofChk));
  NN_TRY(readKey(conf, "enabledad", c.enableDad));
  NN_TRY(readKey(conf, "disableContainerInterface", c.disableContainerInterface));
  NN_TRY(readKey(conf, "portIsolation", c.portIsolation));
  if (auto it = conf.find("ipam"); it != conf.end() && !it->is_null()) {
    if (!it->is_object()) return Error("invalid \"ipam\": expected an object");
    NN_TRY(readKey(*it, "type", c.ipamType));
  }
  if (c.hairpinMode && c.promiscMode) return Error("cannot set hairpin mode and promiscuous mode at the same time");
  if (!c.ipamType.empty() && c.disableContainerInterface)
    return Error("cannot use IPAM when DisableContainerInterface flag is set");
  // ipMasq without ipam is accepted like the reference: there is no pod address, so nothing is masqueraded.

  // MAC: CNI_ARGS MAC=, then args.cni.mac, then runtimeConfig.mac; the later source wins (reference order).
  for (const std::string& kv : split(cniArgs, ';')) {
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.substr(0, eq) == "MAC") c.mac = kv.substr(eq + 1);
  }
  if (auto a = conf.find("args"); a != conf.end() && a->is_object()) {
    if (auto cni = a->find("cni"); cni != a->end() && cni->is_object()) NN_TRY(readKey(*cni, "mac", c.mac));
  }
  if (auto rc = conf.find("runtimeConfig"); rc != conf.end() && rc->is_object()) NN_TRY(readKey(*rc, "mac", c.mac));
  if (!c.mac.empty()) {
    uint8_t b[6];
    if (!parseMac(c.mac, b)) return Error(strCat("invalid MAC address \"", c.mac, "\""));
    if (b[0] & 1) return Error(strCat("invalid MAC address \"", c.mac, "\": multicast bit set"));
  }
  return c;
}

}  // namespace nodenet::cni::bridge
