#include "netlink/route.h"

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cerrno>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::netlink {
namespace {

void putIp(nl_msg* m, int type, const IpAddress& ip) {
  putOrDie(nla_put(m, type, static_cast<int>(ip.size()), ip.data()));
}

Status validate(const Route& r) {
  if (r.gateway && r.gateway->family() != r.family())
    return Error(strCat("route ", r.toString(), ": gateway family differs from destination"), EINVAL);
  if (r.src && r.src->family() != r.family())
    return Error(strCat("route ", r.toString(), ": source family differs from destination"), EINVAL);
  return okStatus();
}

NlMsgPtr routeMsg(int type, int flags, const Route& r, bool forDelete) {
  NlMsgPtr m = newMessage(type, flags);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<unsigned char>(r.family() == IpFamily::V4 ? AF_INET : AF_INET6);
  rtm.rtm_dst_len = static_cast<unsigned char>(r.dst.prefix());
  // rtm_table is 8 bits; RTA_TABLE (below) carries the full id, and the kernel prefers it.
  rtm.rtm_table = r.table < 256 ? static_cast<unsigned char>(r.table) : static_cast<unsigned char>(RT_TABLE_UNSPEC);
  if (forDelete) {
    // Wildcards for fib_table_delete: RT_SCOPE_NOWHERE = any scope, protocol/type 0 = any.
    rtm.rtm_scope = r.scope.value_or(RT_SCOPE_NOWHERE);
    rtm.rtm_protocol = RTPROT_UNSPEC;
    rtm.rtm_type = RTN_UNSPEC;
  } else {
    rtm.rtm_scope = r.scope.value_or(static_cast<uint8_t>(r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK));
    if (!r.scope && (r.type == RTN_LOCAL)) rtm.rtm_scope = RT_SCOPE_HOST;
    rtm.rtm_protocol = r.protocol;
    rtm.rtm_type = r.type;
  }
  putOrDie(nlmsg_append(m.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO));
  putOrDie(nla_put_u32(m.get(), RTA_TABLE, r.table));
  if (r.dst.prefix() > 0) putIp(m.get(), RTA_DST, r.dst.network());
  if (r.gateway) putIp(m.get(), RTA_GATEWAY, *r.gateway);
  if (r.oif) putOrDie(nla_put_u32(m.get(), RTA_OIF, static_cast<uint32_t>(r.oif)));
  if (r.metric) putOrDie(nla_put_u32(m.get(), RTA_PRIORITY, r.metric));
  if (r.src) putIp(m.get(), RTA_PREFSRC, *r.src);
  return m;
}

std::optional<IpAddress> ipFrom(const nlattr* a, IpFamily f) {
  size_t want = f == IpFamily::V4 ? 4 : 16;
  if (!a || static_cast<size_t>(nla_len(a)) != want) return std::nullopt;
  return IpAddress::fromBytes(f, static_cast<const uint8_t*>(nla_data(a)));
}

}  // namespace

std::string Route::toString() const {
  std::string s = isDefault() ? std::string(family() == IpFamily::V4 ? "default" : "default (v6)")
                              : dst.masked().toString();
  if (gateway) s += strCat(" via ", gateway->toString());
  if (oif) s += strCat(" dev ", oif);
  if (table != RT_TABLE_MAIN) s += strCat(" table ", table);
  if (metric) s += strCat(" metric ", metric);
  if (src) s += strCat(" src ", src->toString());
  return s;
}

Route Route::defaultVia(const IpAddress& gateway, int oif) {
  Route r;
  r.dst = *Cidr::create(gateway.isV4() ? IpAddress() : *IpAddress::parse("::"), 0);
  r.gateway = gateway;
  r.oif = oif;
  return r;
}

Status addRoute(RtnlSocket& sock, const Route& route) {
  NN_TRY(validate(route));
  return sock.request(routeMsg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route, false),
                      strCat("add route ", route.toString()));
}

Status replaceRoute(RtnlSocket& sock, const Route& route) {
  NN_TRY(validate(route));
  return sock.request(routeMsg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route, false),
                      strCat("replace route ", route.toString()));
}

Status deleteRoute(RtnlSocket& sock, const Route& route, bool ifExists) {
  NN_TRY(validate(route));
  Status st = sock.request(routeMsg(RTM_DELROUTE, 0, route, true), strCat("delete route ", route.toString()));
  // IPv4 answers ESRCH for a missing route; IPv6 too (older kernels: ENOENT).
  if (!st.ok() && ifExists && (st.error().sysErrno() == ESRCH || st.error().sysErrno() == ENOENT))
    return okStatus();
  return st;
}

Result<std::vector<Route>> listRoutes(RtnlSocket& sock, IpFamily family, uint32_t table, int oif) {
  NlMsgPtr m = newMessage(RTM_GETROUTE, 0);
  rtmsg req{};
  req.rtm_family = static_cast<unsigned char>(family == IpFamily::V4 ? AF_INET : AF_INET6);
  putOrDie(nlmsg_append(m.get(), &req, sizeof req, NLMSG_ALIGNTO));
  NN_ASSIGN_OR_RETURN(auto replies, sock.dump(std::move(m), strCat("list ", family == IpFamily::V4 ? "IPv4" : "IPv6",
                                                                   " routes in ", sock.netnsLabel())));
  std::vector<Route> out;
  for (const auto& rep : replies) {
    auto* h = const_cast<nlmsghdr*>(rep.header());
    if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) continue;
    const auto* rtm = static_cast<const rtmsg*>(nlmsg_data(h));
    if (rtm->rtm_flags & RTM_F_CLONED) continue;
    nlattr* tb[RTA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(rtmsg), tb, RTA_MAX, nullptr) < 0) continue;
    Route r;
    r.table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
    if (table && r.table != table) continue;
    auto dst = ipFrom(tb[RTA_DST], family);
    if (!dst) dst = family == IpFamily::V4 ? IpAddress() : *IpAddress::parse("::");
    auto cidr = Cidr::create(*dst, rtm->rtm_dst_len);
    if (!cidr.ok()) continue;
    r.dst = *cidr;
    r.gateway = ipFrom(tb[RTA_GATEWAY], family);
    if (tb[RTA_OIF]) r.oif = static_cast<int>(nla_get_u32(tb[RTA_OIF]));
    if (oif && r.oif != oif) continue;
    if (tb[RTA_PRIORITY]) r.metric = nla_get_u32(tb[RTA_PRIORITY]);
    r.src = ipFrom(tb[RTA_PREFSRC], family);
    r.scope = rtm->rtm_scope;
    r.protocol = rtm->rtm_protocol;
    r.type = rtm->rtm_type;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace nodenet::netlink
