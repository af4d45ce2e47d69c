#include "netlink/neigh.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::netlink {
namespace {

NlMsgPtr neighMsg(int type, int flags, int ifindex, const IpAddress& a, uint16_t state) {
  NlMsgPtr m = newMessage(type, flags);
  ndmsg nd{};
  nd.ndm_family = static_cast<uint8_t>(a.isV4() ? AF_INET : AF_INET6);
  nd.ndm_ifindex = ifindex;
  nd.ndm_state = state;
  putOrDie(nlmsg_append(m.get(), &nd, sizeof nd, NLMSG_ALIGNTO));
  putOrDie(nla_put(m.get(), NDA_DST, static_cast<int>(a.size()), a.data()));
  return m;
}

}  // namespace

std::string Neighbour::toString() const {
  return strCat(address.toString(), mac ? " lladdr " + mac->toString() : std::string(), " dev ", ifindex,
                " state 0x", std::hex, state);
}

Status replaceNeighbour(RtnlSocket& sock, const LinkRef& link, const IpAddress& address, const MacAddress& mac,
                        uint16_t state) {
  NN_ASSIGN_OR_RETURN(int ifindex, resolveIfindex(sock, link));
  NlMsgPtr m = neighMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, address, state);
  putOrDie(nla_put(m.get(), NDA_LLADDR, 6, mac.bytes.data()));
  return sock.request(std::move(m), strCat("replace neighbour ", address.toString(), " lladdr ", mac.toString(),
                                           " on ", link.toString()));
}

Status deleteNeighbour(RtnlSocket& sock, const LinkRef& link, const IpAddress& address, bool ifExists) {
  NN_ASSIGN_OR_RETURN(int ifindex, resolveIfindex(sock, link));
  Status st = sock.request(neighMsg(RTM_DELNEIGH, 0, ifindex, address, 0),
                           strCat("delete neighbour ", address.toString(), " on ", link.toString()));
  if (!st.ok() && ifExists && st.error().sysErrno() == ENOENT) return okStatus();
  return st;
}

Result<std::vector<Neighbour>> listNeighbours(RtnlSocket& sock, const LinkRef& link, std::optional<IpFamily> family) {
  int ifindex = 0;
  if (link.index || !link.name.empty()) {
    NN_ASSIGN_OR_RETURN(ifindex, resolveIfindex(sock, link));
  }
  NlMsgPtr m = newMessage(RTM_GETNEIGH, 0);
  ndmsg req{};
  req.ndm_family = static_cast<uint8_t>(!family ? AF_UNSPEC : *family == IpFamily::V4 ? AF_INET : AF_INET6);
  putOrDie(nlmsg_append(m.get(), &req, sizeof req, NLMSG_ALIGNTO));
  NN_ASSIGN_OR_RETURN(auto replies,
                      sock.dump(std::move(m), strCat("list neighbours of ", ifindex ? link.toString() : "all links")));
  std::vector<Neighbour> out;
  for (const auto& r : replies) {
    auto* h = const_cast<nlmsghdr*>(r.header());
    if (h->nlmsg_type != RTM_NEWNEIGH || h->nlmsg_len < NLMSG_LENGTH(sizeof(ndmsg))) continue;
    const auto* nd = static_cast<const ndmsg*>(nlmsg_data(h));
    if (ifindex && nd->ndm_ifindex != ifindex) continue;
    if (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) continue;
    const IpFamily f = nd->ndm_family == AF_INET ? IpFamily::V4 : IpFamily::V6;
    nlattr* tb[NDA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(ndmsg), tb, NDA_MAX, nullptr) < 0 || !tb[NDA_DST]) continue;
    if (static_cast<size_t>(nla_len(tb[NDA_DST])) != (f == IpFamily::V4 ? 4u : 16u)) continue;
    Neighbour n;
    n.ifindex = nd->ndm_ifindex;
    n.address = IpAddress::fromBytes(f, static_cast<const uint8_t*>(nla_data(tb[NDA_DST])));
    n.state = nd->ndm_state;
    if (tb[NDA_LLADDR] && nla_len(tb[NDA_LLADDR]) == 6) {
      MacAddress mac;
      std::memcpy(mac.bytes.data(), nla_data(tb[NDA_LLADDR]), 6);
      n.mac = mac;
    }
    out.push_back(n);
  }
  return out;
}

Result<size_t> flushNeighbours(RtnlSocket& sock, const LinkRef& link) {
  NN_ASSIGN_OR_RETURN(auto entries, listNeighbours(sock, link));
  size_t n = 0;
  for (const auto& e : entries) {
    if (e.state & (nud::kPermanent | nud::kNoArp)) continue;
    NN_TRY(deleteNeighbour(sock, e.ifindex, e.address, true));
    ++n;
  }
  return n;
}

}  // namespace nodenet::netlink
