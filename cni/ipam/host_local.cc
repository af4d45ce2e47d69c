#include "cni/ipam/host_local.h"

#include <set>

#include "base/strings.h"
#include "cni/ipam/allocator.h"
#include "cni/ipam/disk_store.h"
#include "cni/skel/exec.h"

namespace nodenet::cni::ipam {
namespace {

CniResult<IpamConfig> load(const CmdArgs& args, const nlohmann::json& conf) {
  return withCode(kErrInvalidNetworkConfig, loadIpamConfig(conf, args.args));
}

CniResult<StorePtr> openStore(const StoreOpener& open, const IpamConfig& c) {
  auto s = open(c.name, c.dataDir);
  if (!s.ok()) return Error::from(s.error(), kErrIoFailure);
  return std::move(s).value();
}

}  // namespace

StoreOpener diskStoreOpener() {
  return [](const std::string& network, const std::string& dataDir) -> nodenet::Result<StorePtr> {
    NN_ASSIGN_OR_RETURN(auto s, DiskStore::open(network, dataDir));
    return StorePtr(std::move(s));
  };
}

CniResult<AddResult> hostLocalAdd(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open) {
  NN_ASSIGN_OR_RETURN(IpamConfig c, load(args, conf));
  AddResult result;
  result.cniVersion = c.cniVersion;
  if (!c.resolvConf.empty()) {
    NN_ASSIGN_OR_RETURN(result.dns, parseResolvConf(c.resolvConf));
  }
  NN_ASSIGN_OR_RETURN(StorePtr store, openStore(open, c));

  std::vector<IpAddress> fresh;  // released again if a later step fails
  auto rollback = [&] {
    StoreLock lock(*store);
    if (!lock.status().ok()) return;
    for (const auto& ip : fresh) (void)store->releaseIp(ip);
  };
  std::vector<IpAddress> requested = c.requestedIps;
  for (size_t idx = 0; idx < c.ranges.size(); ++idx) {
    std::optional<IpAddress> want;
    for (auto it = requested.begin(); it != requested.end(); ++it) {
      if (rangeSetContains(c.ranges[idx], *it)) {
        want = *it;
        requested.erase(it);
        break;
      }
    }
    Allocator alloc(c.ranges[idx], *store, static_cast<int>(idx));
    auto got = alloc.get(args.containerId, args.ifName, want);
    if (!got.ok()) {
      rollback();
      return Error{kErrInternal, strCat("failed to allocate for range ", idx, ": ", got.error().message()), {}};
    }
    if (got->fresh) fresh.push_back(got->address.address());
    result.ips.push_back(IpConfig{std::nullopt, got->address, got->gateway});
  }
  if (!requested.empty()) {
    rollback();
    std::string msg = "failed to allocate all requested IPs:";
    for (const auto& ip : requested) msg += " " + ip.toString();
    return Error{kErrInternal, msg, {}};
  }
  result.routes = c.routes;
  return result;
}

CniStatus hostLocalDel(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open) {
  NN_ASSIGN_OR_RETURN(IpamConfig c, load(args, conf));
  NN_ASSIGN_OR_RETURN(StorePtr store, openStore(open, c));
  // Release is by owner, not by range: one pass covers every range set.
  Allocator alloc(c.ranges[0], *store, 0);
  return alloc.release(args.containerId, args.ifName);
}

CniStatus hostLocalCheck(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open) {
  NN_ASSIGN_OR_RETURN(IpamConfig c, load(args, conf));
  NN_ASSIGN_OR_RETURN(StorePtr store, openStore(open, c));
  StoreLock lock(*store);
  NN_TRY(lock.status());
  NN_ASSIGN_OR_RETURN(auto ips, store->getById(args.containerId, args.ifName));
  if (ips.empty()) return nodenet::Error(strCat("host-local: Failed to find address added by container ", args.containerId));
  return {};
}

CniStatus hostLocalGc(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open) {
  NN_ASSIGN_OR_RETURN(IpamConfig c, load(args, conf));
  NN_ASSIGN_OR_RETURN(NetConf nc, parseNetConfJson(conf));
  std::set<std::pair<std::string, std::string>> valid;
  std::set<std::string> validIds;
  for (const auto& a : nc.validAttachments) {
    valid.emplace(a.containerId, a.ifName);
    validIds.insert(a.containerId);
  }
  NN_ASSIGN_OR_RETURN(StorePtr store, openStore(open, c));
  StoreLock lock(*store);
  NN_TRY(lock.status());
  NN_ASSIGN_OR_RETURN(auto all, store->list());
  std::vector<std::string> errs;
  for (const auto& r : all) {
    bool keep = r.ifName.empty() ? validIds.count(r.containerId) > 0 : valid.count({r.containerId, r.ifName}) > 0;
    if (keep) continue;
    auto st = store->releaseIp(r.ip);
    if (!st.ok()) errs.push_back(st.error().message());
  }
  if (!errs.empty()) return nodenet::Error(join(errs, ";"));
  return {};
}

CniStatus hostLocalStatus(const CmdArgs& args, const nlohmann::json& conf, const StoreOpener& open) {
  NN_ASSIGN_OR_RETURN(IpamConfig c, load(args, conf));
  auto s = open(c.name, c.dataDir);
  if (!s.ok()) return Error{kErrNotAvailable, strCat("host-local store unavailable: ", s.error().message()), {}};
  return {};
}

PluginFuncs hostLocalPlugin(const StoreOpener& open) {
  PluginFuncs f;
  f.add = [open](const CmdArgs& a, const NetConf& c) { return hostLocalAdd(a, c.raw, open); };
  f.del = [open](const CmdArgs& a, const NetConf& c) { return hostLocalDel(a, c.raw, open); };
  f.check = [open](const CmdArgs& a, const NetConf& c) { return hostLocalCheck(a, c.raw, open); };
  f.gc = [open](const CmdArgs& a, const NetConf& c) { return hostLocalGc(a, c.raw, open); };
  f.status = [open](const CmdArgs& a, const NetConf& c) { return hostLocalStatus(a, c.raw, open); };
  return f;
}

namespace {
bool inProcess(const NetConf& conf) { return conf.ipamType == "host-local"; }
CniStatus requireType(const NetConf& conf) {
  if (conf.ipamType.empty()) return Error{kErrInvalidNetworkConfig, "missing \"ipam.type\"", {}};
  return {};
}
}  // namespace

CniResult<AddResult> ipamAdd(const CmdArgs& args, const NetConf& conf, const Env& env) {
  NN_TRY(requireType(conf));
  if (inProcess(conf)) return hostLocalAdd(args, conf.raw);
  return delegateAdd(conf.ipamType, env, args.stdinData, conf.cniVersion);
}

CniStatus ipamDel(const CmdArgs& args, const NetConf& conf, const Env& env) {
  NN_TRY(requireType(conf));
  if (inProcess(conf)) return hostLocalDel(args, conf.raw);
  return delegateCommand(Command::Del, conf.ipamType, env, args.stdinData);
}

CniStatus ipamCheck(const CmdArgs& args, const NetConf& conf, const Env& env) {
  NN_TRY(requireType(conf));
  if (inProcess(conf)) return hostLocalCheck(args, conf.raw);
  return delegateCommand(Command::Check, conf.ipamType, env, args.stdinData);
}

CniStatus ipamGc(const CmdArgs& args, const NetConf& conf, const Env& env) {
  NN_TRY(requireType(conf));
  if (inProcess(conf)) return hostLocalGc(args, conf.raw);
  return delegateCommand(Command::Gc, conf.ipamType, env, args.stdinData);
}

CniStatus ipamStatus(const CmdArgs& args, const NetConf& conf, const Env& env) {
  NN_TRY(requireType(conf));
  if (inProcess(conf)) return hostLocalStatus(args, conf.raw);
  return delegateCommand(Command::Status, conf.ipamType, env, args.stdinData);
}

}  // namespace nodenet::cni::ipam
