// The CNI environment (CNI_COMMAND, CNI_CONTAINERID, ...) and CNI_ARGS, parsed and validated per the spec and
// the reference skel (containernetworking/cni pkg/skel, pkg/utils, pkg/types/args.go).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cni/skel/error.h"

namespace nodenet::cni {

enum class Command { Add, Del, Check, Version, Gc, Status };

/// "ADD", "DEL", ... as in CNI_COMMAND.
const char* commandName(Command c);

/// The environment as a map; inject it in tests, build it from `environ` in main().
using Env = std::map<std::string, std::string>;
/// Copies a NULL-terminated `environ`-style array into an Env.
Env envFromArray(char** envp);

/// One invocation's inputs (the reference's skel.CmdArgs).
struct CmdArgs {
  Command command = Command::Version;
  std::string containerId;    // CNI_CONTAINERID
  std::string netns;          // CNI_NETNS
  std::string ifName;         // CNI_IFNAME
  std::string args;           // CNI_ARGS, unparsed (see parseCniArgs)
  std::string path;           // CNI_PATH, colon separated
  std::string netnsOverride;  // CNI_NETNS_OVERRIDE (reference extension)
  std::string stdinData;      // the network configuration JSON (empty for VERSION)

  /// CNI_PATH split on ':' with empty entries dropped.
  std::vector<std::string> cniPath() const;
};

/// Reads and validates the CNI_* variables the command needs, in the reference's order and with its messages:
///  - CNI_COMMAND always; CNI_CONTAINERID and CNI_IFNAME for ADD/CHECK/DEL; CNI_NETNS for ADD/CHECK (not DEL);
///    CNI_PATH for ADD/CHECK/DEL/GC/STATUS; nothing else for VERSION.
///  - a present CNI_CONTAINERID / CNI_IFNAME is validated (code 4; an empty container id is code 3).
///  - missing ones: code 4 "required env variables [A,B] missing".
///  - an unknown command: code 4 "unknown CNI_COMMAND: X".
/// Does not look at stdin; `stdinData` is stored as given (dropped for VERSION).
CniResult<CmdArgs> parseCmdArgs(const Env& env, std::string stdinData);

/// Container id: [a-zA-Z0-9][a-zA-Z0-9_.-]* (so never "..", never a '/'). Code 3 when empty, 4 otherwise.
CniStatus validateContainerId(std::string_view id);
/// Network name: same character set. Code 7 (invalid network config).
CniStatus validateNetworkName(std::string_view name);
/// Interface name: 1..15 bytes, not "." or "..", no '/', ':' or whitespace. Code 4.
CniStatus validateInterfaceName(std::string_view name);

/// Keys that CNI_ARGS may carry without IgnoreUnknown: what the reference plugins (bridge MAC, host-local IP)
/// and Kubernetes runtimes (K8S_POD_*) send.
const std::vector<std::string>& defaultKnownCniArgs();

/// CNI_ARGS parsed: "K=V;K2=V2".
struct CniArgs {
  std::map<std::string, std::string> values;  // known keys (and unknown ones when ignoreUnknown)
  bool ignoreUnknown = false;                 // IgnoreUnknown=1|true (case-insensitive value)

  /// The value of `key`, or nullopt.
  std::optional<std::string> get(const std::string& key) const;
};

/// Parses CNI_ARGS like the reference's types.LoadArgs: pairs split on ';', each must be exactly "K=V"
/// ("ARGS: invalid pair \"x\""); keys are case-sensitive; IgnoreUnknown takes 1/true/0/false; a key not in
/// `knownKeys` is an error ("ARGS: unknown args [\"K=V\"]") unless IgnoreUnknown is true anywhere in the list.
/// Empty input is an empty CniArgs. Callers map the error to code 7 or 4 as they see fit.
nodenet::Result<CniArgs> parseCniArgs(std::string_view text,
                                      const std::vector<std::string>& knownKeys = defaultKnownCniArgs());

}  // namespace nodenet::cni
