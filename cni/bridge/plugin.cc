#include "cni/bridge/plugin.h"

#include <cerrno>
#include <thread>

#include "base/log.h"
#include "base/scope_guard.h"
#include "base/strings.h"
#include "cni/bridge/attach.h"
#include "cni/bridge/config.h"
#include "cni/bridge/masq.h"
#include "cni/bridge/spoofcheck.h"
#include "netlink/addr.h"
#include "netlink/route.h"

namespace nodenet::cni::bridge {
namespace {

using netlink::Netns;
using netlink::RtnlSocket;

CniResult<BridgeConf> loadConf(const CmdArgs& args, const NetConf& conf) {
  auto bc = parseBridgeConf(conf.raw, args.args);
  if (!bc) return Error{kErrInvalidNetworkConfig, bc.error().message(), {}};
  return std::move(bc).value();
}

/// Opens the pod namespace named by CNI_NETNS. A path that does not exist or is not a network namespace is
/// an invalid environment (code 4).
CniResult<Netns> openPodNetns(const std::string& path) {
  auto ns = Netns::open(path);
  if (!ns) return Error{kErrInvalidEnv, strCat("failed to open netns \"", path, "\": ", ns.error().message()), {}};
  return std::move(ns).value();
}

struct Gateways {
  std::vector<Cidr> onBridge;  // gateway address with the pod subnet's prefix, per IP
};

// The reference's calcGateways: all IPs belong to the container interface (index 2); a missing gateway is the
// subnet's first address when isGateway; isDefaultGateway adds a default route per family unless the IPAM
// already gave one with a gateway.
Gateways calcGateways(AddResult& result, const BridgeConf& bc) {
  Gateways g;
  bool defaultRoute[2] = {false, false};
  for (auto& ip : result.ips) {
    ip.interface = 2;
    const int fam = ip.address.family() == IpFamily::V4 ? 0 : 1;
    if (!ip.gateway && bc.isGateway) ip.gateway = ip.address.network().next();
    if (bc.isDefaultGateway && !defaultRoute[fam]) {
      for (const auto& r : result.routes)
        if (r.gw && r.dst.prefix() == 0 && r.dst.family() == ip.address.family()) defaultRoute[fam] = true;
      if (!defaultRoute[fam]) {
        Route r;
        r.dst = *Cidr::create(fam == 0 ? IpAddress() : *IpAddress::parse("::"), 0);
        r.gw = ip.gateway;
        result.routes.push_back(r);
        defaultRoute[fam] = true;
      }
    }
    if (bc.isGateway && ip.gateway) g.onBridge.push_back(*Cidr::create(*ip.gateway, ip.address.prefix()));
  }
  return g;
}

class BridgePlugin {
 public:
  BridgePlugin(IpamOps ipam, NftFactory nft) : ipam_(std::move(ipam)), nft_(std::move(nft)) {}

  CniResult<AddResult> add(const CmdArgs& args, const NetConf& conf) {
    NN_ASSIGN_OR_RETURN(BridgeConf bc, loadConf(args, conf));
    NN_ASSIGN_OR_RETURN(Netns podNs, openPodNetns(args.netns));
    NN_ASSIGN_OR_RETURN(Netns nodeNs, Netns::current());
    NN_ASSIGN_OR_RETURN(RtnlSocket node, RtnlSocket::openCurrent());
    NN_ASSIGN_OR_RETURN(RtnlSocket pod, RtnlSocket::open(podNs));

    NN_ASSIGN_OR_RETURN(auto br, ensureBridge(node, nodeNs, bc));
    NN_ASSIGN_OR_RETURN(VethPair pair, ensureVeth(node, pod, podNs, br, bc, args.containerId, args.ifName));
    // Undo only what this call created: a repeated ADD that fails late keeps the pod's working attachment.
    bool success = false;
    ScopeGuard dropVeth([&] {
      if (!success && pair.created) (void)netlink::deleteLink(pod, args.ifName, true);
    });

    AddResult result;
    result.cniVersion = conf.cniVersion;
    result.interfaces.push_back(Interface{bc.bridge, br.mac ? br.mac->toString() : "", 0, "", "", ""});
    result.interfaces.push_back(Interface{pair.host.name, pair.host.mac ? pair.host.mac->toString() : "", 0, "", "", ""});
    result.interfaces.push_back(
        Interface{pair.container.name, pair.container.mac ? pair.container.mac->toString() : "", 0, args.netns, "", ""});

    std::unique_ptr<nft::Kernel> kernel;
    bool spoofInstalled = false;
    ScopeGuard dropSpoof([&] {
      if (!success && spoofInstalled) (void)removeSpoofCheck(*kernel, args.containerId, args.ifName);
    });
    if (bc.macSpoofChk) {
      if (!pair.container.mac) return Error{kErrInternal, strCat("no MAC address on ", args.ifName), {}};
      NN_ASSIGN_OR_RETURN(kernel, nft_());
      NN_TRY(addSpoofCheck(*kernel, pair.host.name, *pair.container.mac, args.containerId, args.ifName));
      spoofInstalled = true;
    }

    bool leased = false;
    ScopeGuard releaseLease([&] {
      if (!success && leased && pair.created) {
        auto st = ipam_.del(args, conf);
        if (!st) NN_LOG(Warning) << "releasing the lease after a failed ADD: " << st.error().msg;
      }
    });
    if (!bc.ipamType.empty()) {
      NN_ASSIGN_OR_RETURN(AddResult ipamResult, ipam_.add(args, conf));
      leased = true;
      result.ips = std::move(ipamResult.ips);
      result.routes = std::move(ipamResult.routes);
      result.dns = std::move(ipamResult.dns);
      if (result.ips.empty()) return Error{kErrInternal, "IPAM plugin returned missing IP config", {}};
      Gateways gws = calcGateways(result, bc);

      std::vector<PodAddress> addrs;
      std::vector<Cidr> masqAddrs;
      for (const auto& ip : result.ips) {
        addrs.push_back(PodAddress{ip.address, ip.gateway});
        masqAddrs.push_back(ip.address);
      }
      std::vector<PodRoute> routes;
      for (const auto& r : result.routes) {
        PodRoute pr;
        pr.dst = r.dst;
        pr.gateway = r.gw;
        if (r.priority) pr.metric = static_cast<uint32_t>(r.priority);
        if (r.table) pr.table = static_cast<uint32_t>(*r.table);
        if (r.scope) pr.scope = static_cast<uint8_t>(*r.scope);
        routes.push_back(pr);
      }
      NN_TRY(configurePod(pod, podNs, bc, args.ifName, addrs, routes));
      if (bc.isGateway) NN_TRY(ensureGatewayAddresses(node, nodeNs, bc, br, gws.onBridge));
      if (bc.ipMasq) {
        if (!kernel) {
          NN_ASSIGN_OR_RETURN(kernel, nft_());
        }
        NN_TRY(addMasq(*kernel, conf.name, args.containerId, args.ifName, masqAddrs));
      }
    } else if (!bc.disableContainerInterface) {
      if (auto st = netlink::setLinkUp(pod, args.ifName); !st)
        return Error{kErrInternal, strCat("failed to set \"", args.ifName, "\" up: ", st.error().message()), {}};
    }

    // A bridge created without a fixed MAC (by the reference plugin) takes the lowest port MAC, which may have
    // just changed with our port: report what it has now.
    if (auto b = netlink::getLink(node, br.index); b && b->mac) result.interfaces[0].mac = b->mac->toString();
    if (!conf.dns.empty()) result.dns = conf.dns;
    success = true;
    return result;
  }

  CniStatus del(const CmdArgs& args, const NetConf& conf) {
    NN_ASSIGN_OR_RETURN(BridgeConf bc, loadConf(args, conf));
    // The masquerade elements are found by their comment, so their removal does not depend on the pod side
    // and runs on its own thread: its commit waits for an RCU grace period, as does the kernel's veth
    // deletion below, and the two waits overlap instead of adding up.
    CniStatus masqStatus;
    std::thread masq;
    if (bc.ipMasq || bc.macSpoofChk) {
      masq = std::thread([&] {
        auto kernel = nft_();
        if (!kernel) {
          masqStatus = Error::from(kernel.error());
          return;
        }
        Status st = bc.ipMasq ? removeMasq(**kernel, conf.name, args.containerId, args.ifName) : Status{};
        if (st.ok() && bc.macSpoofChk) st = removeSpoofCheck(**kernel, args.containerId, args.ifName);
        if (!st) masqStatus = Error::from(st.error());
      });
    }
    CniStatus linkStatus = deleteLinks(args);
    CniStatus ipamStatus = bc.ipamType.empty() ? CniStatus{} : ipam_.del(args, conf);
    if (masq.joinable()) masq.join();
    if (!linkStatus.ok()) return linkStatus;
    if (!ipamStatus.ok()) return ipamStatus;
    return masqStatus;
  }

  // DEL's interfaces: the pod end (its peer goes with it) and, when the pod side is already gone, a host end
  // an interrupted ADD may have left in the node namespace.
  CniStatus deleteLinks(const CmdArgs& args) {
    if (!args.netns.empty()) {
      auto podNs = Netns::open(args.netns);
      if (podNs) {
        NN_ASSIGN_OR_RETURN(RtnlSocket pod, RtnlSocket::open(*podNs));
        if (auto gone = deletePodInterface(pod, *podNs, args.ifName); !gone)
          return Error{kErrInternal, gone.error().message(), {}};
      } else if (podNs.error().sysErrno() != ENOENT) {
        return Error{kErrInternal, strCat("failed to open netns \"", args.netns, "\": ", podNs.error().message()), {}};
      }
    }
    NN_ASSIGN_OR_RETURN(RtnlSocket node, RtnlSocket::openCurrent());
    NN_TRY(netlink::deleteLink(node, hostVethName(args.containerId, args.ifName), true));
    return {};
  }

  CniStatus check(const CmdArgs& args, const NetConf& conf) {
    NN_ASSIGN_OR_RETURN(BridgeConf bc, loadConf(args, conf));
    NN_ASSIGN_OR_RETURN(Netns podNs, openPodNetns(args.netns));
    if (!bc.ipamType.empty()) NN_TRY(ipam_.check(args, conf));
    if (!conf.prevResult) return Error{kErrInternal, "Required prevResult missing", {}};
    const AddResult& prev = *conf.prevResult;
    NN_ASSIGN_OR_RETURN(RtnlSocket node, RtnlSocket::openCurrent());
    NN_ASSIGN_OR_RETURN(RtnlSocket pod, RtnlSocket::open(podNs));

    const Interface* brIf = nullptr;
    const Interface* contIf = nullptr;
    for (const auto& i : prev.interfaces) {
      if (i.name == bc.bridge && i.sandbox.empty()) brIf = &i;
      else if (i.name == args.ifName && i.sandbox == args.netns) contIf = &i;
    }
    if (!brIf) return Error{kErrInternal, strCat("CNI created bridge ", bc.bridge, " in host namespace was not found"), {}};
    auto br = netlink::findLink(node, bc.bridge);
    if (!br) return Error{kErrInternal, br.error().message(), {}};
    if (!*br) return Error{kErrInternal, strCat("Interface name ", bc.bridge, " not found"), {}};
    if (!(*br)->isBridge())
      return Error{kErrInternal, strCat("Interface ", bc.bridge, " does not have link type of bridge"), {}};
    if (!brIf->mac.empty() && (!(*br)->mac || (*br)->mac->toString() != brIf->mac))
      return Error{kErrInternal, strCat("Bridge interface ", bc.bridge, " Mac doesn't match: ", brIf->mac), {}};
    if ((*br)->promisc() != bc.promiscMode)
      return Error{kErrInternal, strCat("Bridge interface ", bc.bridge, " configured Promisc Mode ", bc.promiscMode ? "true" : "false",
                                        " doesn't match current state: ", (*br)->promisc() ? "true" : "false"), {}};
    if (!contIf) {
      if (prev.interfaces.size() > 0)
        for (const auto& i : prev.interfaces)
          if (i.name == args.ifName)
            return Error{kErrInternal, strCat("Sandbox in prevResult ", i.sandbox, " doesn't match configured netns: ", args.netns), {}};
      return Error{kErrInternal, strCat("CNI created interface in container ", args.ifName, " not found"), {}};
    }
    auto cont = netlink::findLink(pod, args.ifName);
    if (!cont) return Error{kErrInternal, cont.error().message(), {}};
    if (!*cont) return Error{kErrInternal, strCat("Interface name ", args.ifName, " not found"), {}};
    if (!(*cont)->isVeth())
      return Error{kErrInternal, strCat("Error: Container interface ", args.ifName, " not of type veth"), {}};
    if (!contIf->mac.empty() && (!(*cont)->mac || (*cont)->mac->toString() != contIf->mac))
      return Error{kErrInternal, strCat("Interface ", args.ifName, " Mac ", contIf->mac, " doesn't match container Mac: ",
                                        (*cont)->mac ? (*cont)->mac->toString() : ""), {}};
    // The host end: a veth whose peer is the container interface and whose master is the bridge.
    bool vethFound = false;
    for (const auto& i : prev.interfaces) {
      if (&i == brIf || &i == contIf || !i.sandbox.empty()) continue;
      auto h = netlink::findLink(node, i.name);
      if (!h || !*h || !(*h)->isVeth()) continue;
      if ((*h)->linkIndex == (*cont)->index && (*cont)->linkIndex == (*h)->index && (*h)->masterIndex == (*br)->index) {
        if (!i.mac.empty() && (!(*h)->mac || (*h)->mac->toString() != i.mac))
          return Error{kErrInternal, strCat("Interface ", i.name, " Mac doesn't match: ", i.mac, " not found"), {}};
        vethFound = true;
        break;
      }
    }
    if (!vethFound) return Error{kErrInternal, strCat("CNI veth created for bridge ", bc.bridge, " was not found"), {}};

    // Addresses and routes from prevResult must be present in the pod.
    NN_ASSIGN_OR_RETURN(auto present, netlink::listAddresses(pod, (*cont)->index));
    for (const auto& ip : prev.ips) {
      bool have = false;
      for (const auto& a : present) have |= a.address == ip.address;
      if (!have)
        return Error{kErrInternal, strCat("Interface ", args.ifName, " does not have ip address ", ip.address.toString()), {}};
    }
    for (const auto& r : prev.routes) {
      NN_ASSIGN_OR_RETURN(auto routes, netlink::listRoutes(pod, r.dst.family(), 0));
      bool have = false;
      for (const auto& kr : routes) have |= kr.dst.masked() == r.dst.masked() && (!r.gw || kr.gateway == r.gw);
      if (!have) return Error{kErrInternal, strCat("Failed to find route ", r.dst.toString(), " in container"), {}};
    }
    return {};
  }

  CniStatus gc(const CmdArgs& args, const NetConf& conf) {
    NN_ASSIGN_OR_RETURN(BridgeConf bc, loadConf(args, conf));
    if (!bc.ipamType.empty()) NN_TRY(ipam_.gc(args, conf));
    if (bc.ipMasq || bc.macSpoofChk) {
      NN_ASSIGN_OR_RETURN(auto kernel, nft_());
      if (bc.ipMasq) NN_TRY(gcMasq(*kernel, conf.name, conf.validAttachments));
      if (bc.macSpoofChk) NN_TRY(gcSpoofCheck(*kernel, conf.validAttachments));
    }
    return {};
  }

  CniStatus status(const CmdArgs& args, const NetConf& conf) {
    NN_ASSIGN_OR_RETURN(BridgeConf bc, loadConf(args, conf));
    if (!bc.ipamType.empty()) NN_TRY(ipam_.status(args, conf));
    return {};
  }

 private:
  IpamOps ipam_;
  NftFactory nft_;
};

}  // namespace

PluginFuncs bridgePlugin(IpamOps ipam, NftFactory nft) {
  auto p = std::make_shared<BridgePlugin>(std::move(ipam), std::move(nft));
  PluginFuncs f;
  f.add = [p](const CmdArgs& a, const NetConf& c) { return p->add(a, c); };
  f.del = [p](const CmdArgs& a, const NetConf& c) { return p->del(a, c); };
  f.check = [p](const CmdArgs& a, const NetConf& c) { return p->check(a, c); };
  f.gc = [p](const CmdArgs& a, const NetConf& c) { return p->gc(a, c); };
  f.status = [p](const CmdArgs& a, const NetConf& c) { return p->status(a, c); };
  return f;
}

}  // namespace nodenet::cni::bridge
