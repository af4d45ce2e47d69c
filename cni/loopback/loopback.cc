#include "cni/loopback/loopback.h"

#include <cerrno>

#include "base/strings.h"
#include "netlink/addr.h"
#include "netlink/link.h"

namespace nodenet::cni::loopback {
namespace {

using netlink::Netns;
using netlink::RtnlSocket;

constexpr const char* kLo = "lo";  // the plugin ignores CNI_IFNAME, like the reference

CniResult<RtnlSocket> openPod(const std::string& path) {
  auto ns = Netns::open(path);
  if (!ns) return Error{kErrInvalidEnv, strCat("failed to open netns \"", path, "\": ", ns.error().message()), {}};
  auto sock = RtnlSocket::open(*ns);
  if (!sock) return Error::from(sock.error());
  return std::move(sock).value();
}

CniResult<AddResult> add(const CmdArgs& args, const NetConf& conf) {
  NN_ASSIGN_OR_RETURN(RtnlSocket pod, openPod(args.netns));
  NN_TRY(netlink::setLinkUp(pod, kLo));
  if (conf.prevResult) return *conf.prevResult;
  AddResult r;
  r.cniVersion = conf.cniVersion;
  r.interfaces.push_back(Interface{kLo, "00:00:00:00:00:00", 0, args.netns, "", ""});
  NN_ASSIGN_OR_RETURN(auto addrs, netlink::listAddresses(pod, kLo));
  bool v4 = false, v6 = false;
  for (const auto& a : addrs) {
    bool& seen = a.address.family() == IpFamily::V4 ? v4 : v6;
    if (seen) continue;
    seen = true;
    r.ips.push_back(IpConfig{0, a.address, std::nullopt});
  }
  return r;
}

CniStatus del(const CmdArgs& args, const NetConf&) {
  if (args.netns.empty()) return {};
  auto ns = Netns::open(args.netns);
  if (!ns) {
    if (ns.error().sysErrno() == ENOENT) return {};  // the namespace is gone: nothing to undo
    return Error{kErrInvalidEnv, strCat("failed to open netns \"", args.netns, "\": ", ns.error().message()), {}};
  }
  NN_ASSIGN_OR_RETURN(RtnlSocket pod, RtnlSocket::open(*ns));
  NN_TRY(netlink::setLinkDown(pod, kLo));
  return {};
}

CniStatus check(const CmdArgs& args, const NetConf&) {
  NN_ASSIGN_OR_RETURN(RtnlSocket pod, openPod(args.netns));
  NN_ASSIGN_OR_RETURN(auto lo, netlink::getLink(pod, kLo));
  if (!lo.up()) return Error{kErrInternal, "loopback interface is down", {}};
  return {};
}

}  // namespace

PluginFuncs loopbackPlugin() {
  PluginFuncs f;
  f.add = add;
  f.del = del;
  f.check = check;
  return f;
}

}  // namespace nodenet::cni::loopback
