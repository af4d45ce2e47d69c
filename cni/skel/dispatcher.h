// The CNI entry: parse (env + stdin), validate, negotiate the version, act (plugin callbacks), print
// (result or error JSON). Mirrors the reference's skel.PluginMainFuncs with everything injected.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include "cni/skel/args.h"
#include "cni/skel/config.h"
#include "cni/skel/error.h"
#include "cni/skel/result.h"

namespace nodenet::cni {

/// A plugin's commands. Each receives the validated environment and the parsed common config (the raw JSON is
/// in conf.raw and args.stdinData). A missing callback makes the command a no-op success (ADD: an empty
/// result), which is what the spec asks of GC/STATUS for plugins with nothing to do.
struct PluginFuncs {
  std::function<CniResult<AddResult>(const CmdArgs&, const NetConf&)> add;
  std::function<CniStatus(const CmdArgs&, const NetConf&)> del;
  std::function<CniStatus(const CmdArgs&, const NetConf&)> check;
  std::function<CniStatus(const CmdArgs&, const NetConf&)> gc;
  std::function<CniStatus(const CmdArgs&, const NetConf&)> status;
};

/// Runs one invocation and returns the process exit status (0 success, 1 error).
///  - env: the CNI_* variables (see parseCmdArgs); stdinData: the config (ignored for VERSION).
///  - out: receives the ADD result rendered in the config's cniVersion, the VERSION JSON, or the error JSON
///    {"cniVersion","code","msg","details"}; nothing for a successful DEL/CHECK/GC/STATUS.
///  - err: receives `about` plus the supported versions when run with no CNI_COMMAND (reference behaviour).
/// Checks, in the reference's order: env (code 4/3), config JSON (6) and name (7), CHECK needs cniVersion
/// >= 0.4.0 and GC/STATUS >= 1.1.0 (code 1), the version is supported (code 1), then the common keys (6/7).
int dispatch(const Env& env, std::string_view stdinData, std::ostream& out, std::ostream& err,
             const PluginFuncs& funcs, std::string_view about = {});

/// The same as dispatch() but returns the error instead of printing it; `resultOut` receives an ADD result.
/// Useful to chain in-process.
CniStatus dispatchToResult(const Env& env, std::string_view stdinData, const PluginFuncs& funcs,
                           std::ostream& out, AddResult* resultOut = nullptr);

}  // namespace nodenet::cni
