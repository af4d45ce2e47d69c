#include "cni/skel/args.h"

#include <cctype>

#include "base/strings.h"

namespace nodenet::cni {
namespace {

// The reference's cniValidNameChars: ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$.
bool validCniName(std::string_view s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool commandFromName(const std::string& s, Command& out) {
  static const std::pair<const char*, Command> kNames[] = {
      {"ADD", Command::Add}, {"DEL", Command::Del}, {"CHECK", Command::Check},
      {"VERSION", Command::Version}, {"GC", Command::Gc}, {"STATUS", Command::Status}};
  for (const auto& [n, c] : kNames)
    if (s == n) {
      out = c;
      return true;
    }
  return false;
}

}  // namespace

const char* commandName(Command c) {
  switch (c) {
    case Command::Add: return "ADD";
    case Command::Del: return "DEL";
    case Command::Check: return "CHECK";
    case Command::Version: return "VERSION";
    case Command::Gc: return "GC";
    case Command::Status: return "STATUS";
  }
  return "?";
}

Env envFromArray(char** envp) {
  Env env;
  for (char** p = envp; p && *p; ++p) {
    std::string_view kv(*p);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::vector<std::string> CmdArgs::cniPath() const {
  std::vector<std::string> out;
  for (auto& p : split(path, ':'))
    if (!p.empty()) out.push_back(p);
  return out;
}

CniStatus validateContainerId(std::string_view id) {
  if (id.empty()) return Error{kErrUnknownContainer, "missing containerID", {}};
  if (!validCniName(id)) return Error{kErrInvalidEnv, "invalid characters in containerID", std::string(id)};
  return {};
}

CniStatus validateNetworkName(std::string_view name) {
  if (name.empty()) return Error{kErrInvalidNetworkConfig, "missing network name", {}};
  if (!validCniName(name))
    return Error{kErrInvalidNetworkConfig, "invalid characters found in network name", std::string(name)};
  return {};
}

CniStatus validateInterfaceName(std::string_view name) {
  constexpr size_t kMaxInterfaceNameLength = 15;  // IFNAMSIZ - 1
  if (name.empty()) return Error{kErrInvalidEnv, "interface name is empty", {}};
  if (name.size() > kMaxInterfaceNameLength)
    return Error{kErrInvalidEnv, "interface name is too long",
                 strCat("interface name should be less than ", kMaxInterfaceNameLength + 1, " characters")};
  if (name == "." || name == "..") return Error{kErrInvalidEnv, "interface name is . or ..", {}};
  for (char c : name)
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)))
      return Error{kErrInvalidEnv, "interface name contains / or : or whitespace characters", {}};
  return {};
}

CniResult<CmdArgs> parseCmdArgs(const Env& env, std::string stdinData) {
  auto get = [&](const char* k) -> std::string {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  CmdArgs out;
  std::string cmd = get("CNI_COMMAND");
  Command c = Command::Version;
  bool known = commandFromName(cmd, c);
  auto needs = [&](std::initializer_list<Command> cmds) {
    if (!known) return false;
    for (Command x : cmds)
      if (x == c) return true;
    return false;
  };
  std::vector<std::string> missing;
  // Same order as the reference: validation of a present value fails fast; missing ones are collected.
  if (cmd.empty()) missing.push_back("CNI_COMMAND");
  out.containerId = get("CNI_CONTAINERID");
  bool idReq = needs({Command::Add, Command::Check, Command::Del});
  if (out.containerId.empty()) {
    if (idReq) missing.push_back("CNI_CONTAINERID");
  } else if (idReq) {
    NN_TRY(validateContainerId(out.containerId));
  }
  out.netns = get("CNI_NETNS");
  if (out.netns.empty() && needs({Command::Add, Command::Check})) missing.push_back("CNI_NETNS");
  out.ifName = get("CNI_IFNAME");
  if (out.ifName.empty()) {
    if (idReq) missing.push_back("CNI_IFNAME");
  } else if (idReq) {
    NN_TRY(validateInterfaceName(out.ifName));
  }
  out.args = get("CNI_ARGS");
  out.path = get("CNI_PATH");
  if (out.path.empty() && needs({Command::Add, Command::Check, Command::Del, Command::Gc, Command::Status}))
    missing.push_back("CNI_PATH");
  out.netnsOverride = get("CNI_NETNS_OVERRIDE");
  if (!missing.empty())
    return Error{kErrInvalidEnv, strCat("required env variables [", join(missing, ","), "] missing"), {}};
  if (!known) return Error{kErrInvalidEnv, strCat("unknown CNI_COMMAND: ", cmd), {}};
  out.command = c;
  if (c != Command::Version) out.stdinData = std::move(stdinData);
  return out;
}

const std::vector<std::string>& defaultKnownCniArgs() {
  static const std::vector<std::string> kKnown = {
      "IgnoreUnknown", "IP", "MAC", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID",
      "K8S_POD_UID"};
  return kKnown;
}

std::optional<std::string> CniArgs::get(const std::string& key) const {
  auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

nodenet::Result<CniArgs> parseCniArgs(std::string_view text, const std::vector<std::string>& knownKeys) {
  CniArgs out;
  if (text.empty()) return out;
  std::vector<std::string> unknown;
  std::map<std::string, std::string> unknownValues;
  for (const auto& pair : split(text, ';')) {
    auto kv = split(pair, '=');
    if (kv.size() != 2) return nodenet::Error(strCat("ARGS: invalid pair \"", pair, "\""));
    const std::string& key = kv[0];
    bool isKnown = false;
    for (const auto& k : knownKeys)
      if (k == key) isKnown = true;
    if (key == "IgnoreUnknown") {
      std::string v = toLower(kv[1]);
      if (v == "1" || v == "true") out.ignoreUnknown = true;
      else if (v == "0" || v == "false") out.ignoreUnknown = false;
      else
        return nodenet::Error(strCat("ARGS: error parsing value of pair \"", pair,
                                     "\": boolean unmarshal error: invalid input ", v));
      continue;
    }
    if (!isKnown) {
      unknown.push_back("\"" + pair + "\"");
      unknownValues[key] = kv[1];
      continue;
    }
    out.values[key] = kv[1];
  }
  if (!unknown.empty()) {
    if (!out.ignoreUnknown) return nodenet::Error(strCat("ARGS: unknown args [", join(unknown, " "), "]"));
    for (auto& [k, v] : unknownValues) out.values.emplace(k, v);
  }
  return out;
}

}  // namespace nodenet::cni
