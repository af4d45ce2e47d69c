#include "cni/skel/dispatcher.h"

#include <ostream>

#include "base/strings.h"
#include "cni/skel/version.h"

namespace nodenet::cni {
namespace {

// The reference's validateConfig: decodable JSON with a valid "name".
CniStatus validateConfigLight(std::string_view stdinData) {
  auto j = nlohmann::json::parse(stdinData, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error{kErrDecodingFailure, "error unmarshall network config: invalid JSON object", {}};
  auto it = j.find("name");
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty())
    return Error{kErrInvalidNetworkConfig, "missing network name", {}};
  return validateNetworkName(it->get<std::string>());
}

CniStatus requireAtLeast(const std::string& configVersion, const char* minVersion, const char* cmd) {
  auto ge = versionAtLeast(configVersion, minVersion);
  if (!ge.ok()) return Error{kErrDecodingFailure, ge.error().message(), {}};
  if (!*ge) return Error{kErrIncompatibleVersion, strCat("config version does not allow ", cmd), {}};
  return {};
}

}  // namespace

CniStatus dispatchToResult(const Env& env, std::string_view stdinData, const PluginFuncs& funcs,
                           std::ostream& out, AddResult* resultOut) {
  NN_ASSIGN_OR_RETURN(CmdArgs args, parseCmdArgs(env, std::string(stdinData)));
  if (args.command == Command::Version) {
    out << versionJson();
    return {};
  }
  NN_TRY(validateConfigLight(args.stdinData));
  NN_ASSIGN_OR_RETURN(std::string version, decodeConfigVersion(args.stdinData));
  switch (args.command) {
    case Command::Check: NN_TRY(requireAtLeast(version, "0.4.0", "CHECK")); break;
    case Command::Gc: NN_TRY(requireAtLeast(version, "1.1.0", "GC")); break;
    case Command::Status: NN_TRY(requireAtLeast(version, "1.1.0", "STATUS")); break;
    default: break;
  }
  NN_TRY(checkVersionSupported(version));
  NN_ASSIGN_OR_RETURN(NetConf conf, parseNetConf(args.stdinData));

  auto call = [&](const std::function<CniStatus(const CmdArgs&, const NetConf&)>& f) -> CniStatus {
    return f ? f(args, conf) : CniStatus();
  };
  switch (args.command) {
    case Command::Add: {
      AddResult r;
      if (funcs.add) {
        NN_ASSIGN_OR_RETURN(r, funcs.add(args, conf));
      }
      NN_ASSIGN_OR_RETURN(std::string text, renderResult(r, version));
      out << text;
      if (resultOut) *resultOut = std::move(r);
      return {};
    }
    case Command::Del: return call(funcs.del);
    case Command::Check: return call(funcs.check);
    case Command::Gc: return call(funcs.gc);
    case Command::Status: return call(funcs.status);
    case Command::Version: break;
  }
  return {};
}

int dispatch(const Env& env, std::string_view stdinData, std::ostream& out, std::ostream& err,
             const PluginFuncs& funcs, std::string_view about) {
  auto cmd = env.find("CNI_COMMAND");
  bool noCommand = cmd == env.end() || cmd->second.empty();
  if (noCommand && !about.empty()) {
    err << about << "\n"
        << "CNI protocol versions supported: " << join(supportedVersions(), ", ") << "\n";
    return 0;
  }
  auto st = dispatchToResult(env, stdinData, funcs, out);
  if (st.ok()) return 0;
  // The error carries the config's version when it can be read; the current one otherwise.
  std::string version = kCurrentVersion;
  if (!noCommand && cmd->second != "VERSION") {
    auto v = decodeConfigVersion(stdinData);
    if (v.ok() && isSupportedVersion(*v)) version = *v;
  }
  out << st.error().toJson(version);
  return 1;
}

}  // namespace nodenet::cni
