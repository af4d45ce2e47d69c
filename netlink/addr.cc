#include "netlink/addr.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cerrno>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::netlink {
namespace {

int afOf(IpFamily f) { return f == IpFamily::V4 ? AF_INET : AF_INET6; }

NlMsgPtr addrMsg(int type, int flags, int ifindex, const Cidr& a) {
  NlMsgPtr m = newMessage(type, flags);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<unsigned char>(afOf(a.family()));
  ifa.ifa_prefixlen = static_cast<unsigned char>(a.prefix());
  ifa.ifa_index = static_cast<unsigned>(ifindex);
  putOrDie(nlmsg_append(m.get(), &ifa, sizeof ifa, NLMSG_ALIGNTO));
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links and equals
  // IFA_LOCAL otherwise (as iproute2 sends it).
  putOrDie(nla_put(m.get(), IFA_LOCAL, static_cast<int>(a.address().size()), a.address().data()));
  putOrDie(nla_put(m.get(), IFA_ADDRESS, static_cast<int>(a.address().size()), a.address().data()));
  return m;
}

std::optional<IpAddress> ipFrom(const nlattr* a, IpFamily f) {
  size_t want = f == IpFamily::V4 ? 4 : 16;
  if (!a || static_cast<size_t>(nla_len(a)) != want) return std::nullopt;
  return IpAddress::fromBytes(f, static_cast<const uint8_t*>(nla_data(a)));
}

}  // namespace

bool AddressInfo::tentative() const { return flags & IFA_F_TENTATIVE; }

Status addAddress(RtnlSocket& sock, const LinkRef& link, const Cidr& address, const AddressOptions& o) {
  NN_ASSIGN_OR_RETURN(int ifindex, resolveIfindex(sock, link));
  NlMsgPtr m = addrMsg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, address);
  if (address.family() == IpFamily::V4) {
    std::optional<IpAddress> brd = o.broadcast;
    if (!brd && address.prefix() < 31) brd = address.last();
    if (brd) putOrDie(nla_put(m.get(), IFA_BROADCAST, 4, brd->data()));
  }
  if (o.noDad) {
    // ifa_flags is 8 bits; IFA_FLAGS (u32, 3.14+) carries the full set. IFA_F_NODAD fits both.
    static_cast<ifaddrmsg*>(nlmsg_data(nlmsg_hdr(m.get())))->ifa_flags |= IFA_F_NODAD;
    putOrDie(nla_put_u32(m.get(), IFA_FLAGS, IFA_F_NODAD));
  }
  return sock.request(std::move(m), strCat("add address ", address.toString(), " to ", link.toString()));
}

Status ensureAddress(RtnlSocket& sock, const LinkRef& link, const Cidr& address, const AddressOptions& o) {
  Status st = addAddress(sock, link, address, o);
  if (st.ok() || st.error().sysErrno() != EEXIST) return st;
  // IPv4 EEXIST means same address and prefix; IPv6 reports EEXIST for the same address whatever the prefix.
  NN_ASSIGN_OR_RETURN(auto existing, listAddresses(sock, link, address.family()));
  for (const auto& a : existing)
    if (a.address == address) return okStatus();
  return Error(strCat("ensure address ", address.toString(), " on ", link.toString(),
                      ": the address exists with a different prefix length"),
               EEXIST);
}

Status deleteAddress(RtnlSocket& sock, const LinkRef& link, const Cidr& address, bool ifExists) {
  NN_ASSIGN_OR_RETURN(int ifindex, resolveIfindex(sock, link));
  Status st = sock.request(addrMsg(RTM_DELADDR, 0, ifindex, address),
                           strCat("delete address ", address.toString(), " from ", link.toString()));
  if (!st.ok() && ifExists && st.error().sysErrno() == EADDRNOTAVAIL) return okStatus();
  return st;
}

Result<std::vector<AddressInfo>> listAddresses(RtnlSocket& sock, const LinkRef& link,
                                               std::optional<IpFamily> family) {
  int ifindex = 0;
  if (link.index || !link.name.empty()) {
    NN_ASSIGN_OR_RETURN(ifindex, resolveIfindex(sock, link));
  }
  NlMsgPtr m = newMessage(RTM_GETADDR, 0);
  ifaddrmsg req{};
  req.ifa_family = static_cast<unsigned char>(family ? afOf(*family) : AF_UNSPEC);
  putOrDie(nlmsg_append(m.get(), &req, sizeof req, NLMSG_ALIGNTO));
  NN_ASSIGN_OR_RETURN(auto replies,
                      sock.dump(std::move(m), strCat("list addresses of ", ifindex ? link.toString() : "all links")));
  std::vector<AddressInfo> out;
  for (const auto& r : replies) {
    auto* h = const_cast<nlmsghdr*>(r.header());
    if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) continue;
    const auto* ifa = static_cast<const ifaddrmsg*>(nlmsg_data(h));
    if (ifindex && static_cast<int>(ifa->ifa_index) != ifindex) continue;
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) continue;
    IpFamily f = ifa->ifa_family == AF_INET ? IpFamily::V4 : IpFamily::V6;
    if (family && *family != f) continue;
    nlattr* tb[IFA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(ifaddrmsg), tb, IFA_MAX, nullptr) < 0) continue;
    // IPv4 always sends IFA_LOCAL; IPv6 sends only IFA_ADDRESS unless a peer is configured.
    auto ip = ipFrom(tb[IFA_LOCAL], f);
    if (!ip) ip = ipFrom(tb[IFA_ADDRESS], f);
    if (!ip) continue;
    auto cidr = Cidr::create(*ip, ifa->ifa_prefixlen);
    if (!cidr.ok()) continue;
    AddressInfo ai;
    ai.ifindex = static_cast<int>(ifa->ifa_index);
    ai.address = *cidr;
    ai.broadcast = ipFrom(tb[IFA_BROADCAST], f);
    ai.flags = tb[IFA_FLAGS] ? nla_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
    ai.scope = ifa->ifa_scope;
    if (tb[IFA_LABEL]) ai.label = nla_get_string(tb[IFA_LABEL]);
    out.push_back(std::move(ai));
  }
  return out;
}

}  // namespace nodenet::netlink
