// host-local IPAM entry points, usable in-process (the bridge plugin when ipam.type == "host-local") and as
// the standalone `host-local` plugin (hostLocalPlugin() + cni::dispatch). Semantics follow the reference
// plugins/ipam/host-local/main.go, with the differences listed in README.md.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>

#include "cni/ipam/config.h"
#include "cni/ipam/store.h"
#include "cni/skel/args.h"
#include "cni/skel/dispatcher.h"
#include "cni/skel/error.h"
#include "cni/skel/result.h"

namespace nodenet::cni::ipam {

/// Opens the store of a network: (network name, dataDir) -> Store. Tests inject a FakeStore.
using StoreOpener = std::function<nodenet::Result<StorePtr>(const std::string& network, const std::string& dataDir)>;
/// The default: DiskStore::open.
StoreOpener diskStoreOpener();

/// ADD: one address from every range set for (args.containerId, args.ifName); requested IPs (CNI_ARGS IP=,
/// args.cni.ips, runtimeConfig.ips) are honoured in the range set that contains them, and any left unmatched
/// fail the call ("failed to allocate all requested IPs: ..."). On any failure the addresses reserved by this
/// call are released. The result holds ips (no interface index; the caller sets it), ipam.routes and the DNS
/// of ipam.resolvConf. `conf` is the whole network config (stdin). Errors: code 7 for config errors, 999
/// otherwise ("failed to allocate for range 0: no IP addresses available in range set: ...").
CniResult<AddResult> hostLocalAdd(const CmdArgs& args, const nlohmann::json& conf,
                                  const StoreOpener& open = diskStoreOpener());
/// DEL: releases every address of (containerId, ifName). Succeeds when there is none.
CniStatus hostLocalDel(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open = diskStoreOpener());
/// CHECK: (containerId, ifName) holds at least one address, else
/// "host-local: Failed to find address added by container <id>".
CniStatus hostLocalCheck(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open = diskStoreOpener());
/// GC: releases every reservation whose (containerID, ifname) is not in conf's "cni.dev/valid-attachments"
/// (a legacy id-only reservation survives when any attachment has its id).
CniStatus hostLocalGc(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open = diskStoreOpener());
/// STATUS: the config is valid (code 7 otherwise) and the store can be opened (code 50 otherwise).
CniStatus hostLocalStatus(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open = diskStoreOpener());

/// The five commands wired for cni::dispatch (the standalone host-local plugin).
PluginFuncs hostLocalPlugin(const StoreOpener& open = diskStoreOpener());

/// IPAM for a main plugin: host-local in-process, any other ipam.type executed from CNI_PATH (delegated, see
/// cni/skel/exec.h). `env` is the full process environment (delegation passes it on); conf is the parsed
/// config (conf.raw is sent on stdin unchanged as args.stdinData).
CniResult<AddResult> ipamAdd(const CmdArgs& args, const NetConf& conf, const Env& env);
/// DEL counterpart of ipamAdd.
CniStatus ipamDel(const CmdArgs& args, const NetConf& conf, const Env& env);
/// CHECK counterpart of ipamAdd.
CniStatus ipamCheck(const CmdArgs& args, const NetConf& conf, const Env& env);
/// GC counterpart of ipamAdd.
CniStatus ipamGc(const CmdArgs& args, const NetConf& conf, const Env& env);
/// STATUS counterpart of ipamAdd.
CniStatus ipamStatus(const CmdArgs& args, const NetConf& conf, const Env& env);

}  // namespace nodenet::cni::ipam
