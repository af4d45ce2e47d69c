// CNI spec versions: the list we support, semver comparison and the VERSION command's output.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cni/skel/error.h"

namespace nodenet::cni {

/// The spec version we implement and print in VERSION output and version-less errors.
inline constexpr const char* kCurrentVersion = "1.1.0";

/// "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" (the reference's version.All).
const std::vector<std::string>& supportedVersions();
/// True when `v` is exactly one of supportedVersions().
bool isSupportedVersion(std::string_view v);

/// Compares two "X.Y.Z" versions: <0, 0, >0. Error when either does not parse (like the reference's semver
/// parse: "unable to parse version").
nodenet::Result<int> compareVersions(std::string_view a, std::string_view b);
/// a >= b; error when either does not parse.
nodenet::Result<bool> versionAtLeast(std::string_view a, std::string_view b);

/// Reads "cniVersion" from a JSON config; a missing or empty value means "0.1.0" (spec). Code 6 when the
/// input is not a JSON object.
CniResult<std::string> decodeConfigVersion(std::string_view configJson);

/// Checks that the plugin supports `configVersion`: code 1 "incompatible CNI versions" with the reference's
/// details `config is "X", plugin supports ["0.1.0" ...]` otherwise.
CniStatus checkVersionSupported(const std::string& configVersion);

/// VERSION output: {"cniVersion":"1.1.0","supportedVersions":[...]} plus a newline (Go's json.Encoder form).
std::string versionJson();

}  // namespace nodenet::cni
