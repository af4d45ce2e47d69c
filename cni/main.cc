// nodenet-cni: one multi-call binary for the `bridge`, `host-local` and `loopback` plugins. The plugin type
// comes from argv[0] (build/cni/bridge is a link to this binary); run as nodenet-cni it takes the type from the
// config's "type" key.
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cni/bridge/plugin.h"
#include "cni/ipam/host_local.h"
#include "cni/loopback/loopback.h"
#include "cni/skel/dispatcher.h"
#include "cni/skel/version.h"
#include "netlink/nft/netlink_kernel.h"

extern char** environ;

namespace {

std::string readStdin() {
  std::string data;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  return data;
}

std::string baseName(const char* path) {
  std::string s(path ? path : "");
  auto slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nodenet::cni;
  (void)argc;
  const Env env = envFromArray(environ);
  std::string type = baseName(argv[0]);
  auto cmd = env.find("CNI_COMMAND");
  // VERSION needs no config; everything else reads stdin as the spec says.
  const std::string stdinData = readStdin();
  if (type != "bridge" && type != "host-local" && type != "loopback") {
    auto j = nlohmann::json::parse(stdinData, nullptr, false);
    if (j.is_object() && j.contains("type") && j["type"].is_string()) type = j["type"].get<std::string>();
  }

  PluginFuncs funcs;
  std::string about;
  if (type == "bridge") {
    bridge::IpamOps ipam;
    ipam.add = [&env](const CmdArgs& a, const NetConf& c) { return ipam::ipamAdd(a, c, env); };
    ipam.del = [&env](const CmdArgs& a, const NetConf& c) { return ipam::ipamDel(a, c, env); };
    ipam.check = [&env](const CmdArgs& a, const NetConf& c) { return ipam::ipamCheck(a, c, env); };
    ipam.gc = [&env](const CmdArgs& a, const NetConf& c) { return ipam::ipamGc(a, c, env); };
    ipam.status = [&env](const CmdArgs& a, const NetConf& c) { return ipam::ipamStatus(a, c, env); };
    funcs = bridge::bridgePlugin(ipam, []() -> nodenet::Result<std::unique_ptr<nodenet::nft::Kernel>> {
      auto k = nodenet::nft::NetlinkKernel::create();
      if (!k) return std::move(k).error();
      return std::unique_ptr<nodenet::nft::Kernel>(std::move(k).value());
    });
    about = "CNI bridge plugin (nodenet)";
  } else if (type == "host-local") {
    funcs = ipam::hostLocalPlugin();
    about = "CNI host-local IPAM plugin (nodenet)";
  } else if (type == "loopback") {
    funcs = loopback::loopbackPlugin();
    about = "CNI loopback plugin (nodenet)";
  } else if (cmd != env.end() && cmd->second == "VERSION") {
    // Any type answers VERSION the same way.
  } else {
    Error e{kErrInvalidNetworkConfig, "unknown plugin type \"" + type + "\"",
            "nodenet-cni implements bridge, host-local and loopback"};
    std::cout << e.toJson(kCurrentVersion) << std::endl;
    return 1;
  }
  return dispatch(env, stdinData, std::cout, std::cerr, funcs, about);
}
