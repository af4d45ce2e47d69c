// The `bridge` plugin: CNI commands over the kernel steps (attach.h), IPAM and ipMasq (masq.h).
//
// Flow of ADD (parse, validate, act, print — STYLE habit 10): bridge keys are validated before the kernel is
// touched; then ensureBridge, the veth pair, IPAM, pod addresses and routes, gateway addresses, masquerade.
// Each step after the veth registers its undo, so a failed ADD leaves nothing behind (the lease is released,
// the pair deleted). DEL succeeds when the namespace, the link or the lease is already gone.
#pragma once

#include <functional>
#include <memory>

#include "cni/skel/dispatcher.h"
#include "netlink/nft/kernel.h"

namespace nodenet::cni::bridge {

/// IPAM as the bridge sees it: host-local in-process, or a delegated plugin from CNI_PATH (main.cc decides).
struct IpamOps {
  std::function<CniResult<AddResult>(const CmdArgs&, const NetConf&)> add;
  std::function<CniStatus(const CmdArgs&, const NetConf&)> del;
  std::function<CniStatus(const CmdArgs&, const NetConf&)> check;
  std::function<CniStatus(const CmdArgs&, const NetConf&)> gc;
  std::function<CniStatus(const CmdArgs&, const NetConf&)> status;
};

/// Opens the nftables kernel interface of the node namespace (the one the plugin runs in); injected so tests
/// can pass a fake.
using NftFactory = std::function<Result<std::unique_ptr<nft::Kernel>>()>;

/// The plugin's command table for the dispatcher.
PluginFuncs bridgePlugin(IpamOps ipam, NftFactory nft);

}  // namespace nodenet::cni::bridge
