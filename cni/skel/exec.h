// Executing another CNI plugin (delegated IPAM, e.g. ipam.type "dhcp" or "static"), per the spec's
// "Delegated plugin protocol" and the reference's pkg/invoke: same environment with CNI_COMMAND set, the
// network config on stdin, the result (or error JSON) on stdout.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cni/skel/args.h"
#include "cni/skel/error.h"
#include "cni/skel/result.h"

namespace nodenet::cni {

/// Finds `type` as a regular file in the CNI_PATH directories (first match). Error when `type` contains a '/'
/// ("invalid plugin name") or is not found ("failed to find plugin \"x\" in path [...]").
nodenet::Result<std::string> findPlugin(const std::string& type, const std::vector<std::string>& dirs);

/// Runs `path` with `env` ("K=V" strings) and `stdinData`; returns its stdout when it exits 0. On failure the
/// plugin's error JSON is returned as the cni::Error (code/msg/details); output that is not error JSON becomes
/// code 999 with the reference's wording ("netplugin failed: ..."). Retries ETXTBSY like the reference.
CniResult<std::string> execPlugin(const std::string& path, const std::vector<std::string>& env,
                                  std::string_view stdinData);

/// The environment for a delegated call: `env` with CNI_COMMAND replaced by `command`.
std::vector<std::string> delegateEnv(const Env& env, Command command);

/// ADD through the IPAM plugin `type` found in CNI_PATH (env["CNI_PATH"]). The result is parsed in
/// `cniVersion`'s format and converted to the current model. `env` is the caller's full environment (in main:
/// envFromArray(environ)); stdinData is the unchanged network config.
CniResult<AddResult> delegateAdd(const std::string& type, const Env& env, std::string_view stdinData,
                                 const std::string& cniVersion);
/// DEL / CHECK / GC / STATUS through the plugin `type`; success when it exits 0.
CniStatus delegateCommand(Command command, const std::string& type, const Env& env, std::string_view stdinData);

}  // namespace nodenet::cni
