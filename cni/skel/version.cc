#include "cni/skel/version.h"

#include <nlohmann/json.hpp>

#include <array>

#include "base/strings.h"

namespace nodenet::cni {
namespace {

nodenet::Result<std::array<long, 3>> parseSemver(std::string_view v) {
  std::array<long, 3> out{};
  auto parts = split(v, '.');
  if (parts.size() != 3) return nodenet::Error(strCat("unable to parse version \"", v, "\""));
  for (size_t i = 0; i < 3; ++i) {
    if (parts[i].empty() || parts[i].size() > 9) return nodenet::Error(strCat("unable to parse version \"", v, "\""));
    long n = 0;
    for (char c : parts[i]) {
      if (c < '0' || c > '9') return nodenet::Error(strCat("unable to parse version \"", v, "\""));
      n = n * 10 + (c - '0');
    }
    out[i] = n;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& supportedVersions() {
  static const std::vector<std::string> kAll = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return kAll;
}

bool isSupportedVersion(std::string_view v) {
  for (const auto& s : supportedVersions())
    if (s == v) return true;
  return false;
}

nodenet::Result<int> compareVersions(std::string_view a, std::string_view b) {
  NN_ASSIGN_OR_RETURN(auto va, parseSemver(a));
  NN_ASSIGN_OR_RETURN(auto vb, parseSemver(b));
  for (size_t i = 0; i < 3; ++i)
    if (va[i] != vb[i]) return va[i] < vb[i] ? -1 : 1;
  return 0;
}

nodenet::Result<bool> versionAtLeast(std::string_view a, std::string_view b) {
  NN_ASSIGN_OR_RETURN(int c, compareVersions(a, b));
  return c >= 0;
}

CniResult<std::string> decodeConfigVersion(std::string_view configJson) {
  auto j = nlohmann::json::parse(configJson, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Error{kErrDecodingFailure, "decoding version from network config: invalid JSON object", {}};
  auto it = j.find("cniVersion");
  if (it == j.end() || it->is_null()) return std::string("0.1.0");
  if (!it->is_string())
    return Error{kErrDecodingFailure, "decoding version from network config: \"cniVersion\" must be a string", {}};
  std::string v = it->get<std::string>();
  return v.empty() ? std::string("0.1.0") : v;
}

CniStatus checkVersionSupported(const std::string& configVersion) {
  if (isSupportedVersion(configVersion)) return {};
  // Go's %q of a []string: ["a" "b"].
  std::vector<std::string> quoted;
  for (const auto& v : supportedVersions()) quoted.push_back("\"" + v + "\"");
  return Error{kErrIncompatibleVersion, "incompatible CNI versions",
               strCat("config is \"", configVersion, "\", plugin supports [", join(quoted, " "), "]")};
}

std::string versionJson() {
  nlohmann::ordered_json j;
  j["cniVersion"] = kCurrentVersion;
  j["supportedVersions"] = supportedVersions();
  return j.dump() + "\n";
}

std::string Error::toJson(const std::string& cniVersion) const {
  nlohmann::ordered_json j;
  j["cniVersion"] = cniVersion.empty() ? std::string(kCurrentVersion) : cniVersion;
  j["code"] = code;
  j["msg"] = msg;
  if (!details.empty()) j["details"] = details;
  return j.dump(4);
}

}  // namespace nodenet::cni
