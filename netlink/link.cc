#include "netlink/link.h"

#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::netlink {
namespace {

// libnl's nla_nest_start does not set NLA_F_NESTED; the bridge code needs it on IFLA_PROTINFO (without it
// the kernel reads the attribute as the pre-3.x single-byte port state), and it is harmless elsewhere.
nlattr* nestStart(nl_msg* m, int type) { return nla_nest_start(m, type | NLA_F_NESTED); }

ifinfomsg* appendIfinfo(nl_msg* m, int family, int index) {
  ifinfomsg ifi{};
  ifi.ifi_family = static_cast<unsigned char>(family);
  ifi.ifi_index = index;
  if (nlmsg_append(m, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) NN_LOG(Fatal) << "nlmsg_append: out of memory";
  return static_cast<ifinfomsg*>(nlmsg_data(nlmsg_hdr(m)));
}

void putName(nl_msg* m, const std::string& name) { putOrDie(nla_put_string(m, IFLA_IFNAME, name.c_str())); }

// A modification message addressed by ifindex or, when only the name is known, by IFLA_IFNAME (rtnl_newlink
// looks a device up by name when ifi_index is 0).
NlMsgPtr linkMsg(int type, int flags, const LinkRef& link) {
  NlMsgPtr m = newMessage(type, flags);
  appendIfinfo(m.get(), AF_UNSPEC, link.index);
  if (link.index == 0) putName(m.get(), link.name);
  return m;
}

std::optional<MacAddress> macFrom(const nlattr* a) {
  if (!a || nla_len(a) != 6) return std::nullopt;
  MacAddress mac;
  std::memcpy(mac.bytes.data(), nla_data(a), 6);
  return mac;
}

std::string strAttr(const nlattr* a) {
  if (!a) return "";
  const char* s = static_cast<const char*>(nla_data(a));
  return std::string(s, strnlen(s, nla_len(a)));
}

uint8_t u8Attr(const nlattr* a) { return nla_len(a) >= 1 ? nla_get_u8(const_cast<nlattr*>(a)) : 0; }

Result<LinkInfo> parseLink(const nlmsghdr* h) {
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg)))
    return Error("parse link: unexpected netlink message", EPROTO);
  auto* hdr = const_cast<nlmsghdr*>(h);
  const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(hdr));
  nlattr* tb[IFLA_MAX + 1] = {};
  if (nlmsg_parse(hdr, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0)
    return Error("parse link: malformed attributes", EPROTO);
  LinkInfo li;
  li.index = ifi->ifi_index;
  li.flags = ifi->ifi_flags;
  li.name = strAttr(tb[IFLA_IFNAME]);
  li.mac = macFrom(tb[IFLA_ADDRESS]);
  if (tb[IFLA_MTU]) li.mtu = nla_get_u32(tb[IFLA_MTU]);
  if (tb[IFLA_MASTER]) li.masterIndex = static_cast<int>(nla_get_u32(tb[IFLA_MASTER]));
  if (tb[IFLA_LINK]) li.linkIndex = static_cast<int>(nla_get_u32(tb[IFLA_LINK]));
  if (tb[IFLA_LINK_NETNSID]) li.linkNetnsId = static_cast<int32_t>(nla_get_u32(tb[IFLA_LINK_NETNSID]));
  if (tb[IFLA_LINKINFO]) {
    nlattr* info[IFLA_INFO_MAX + 1] = {};
    if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) == 0) {
      li.kind = strAttr(info[IFLA_INFO_KIND]);
      li.slaveKind = strAttr(info[IFLA_INFO_SLAVE_KIND]);
      if (li.kind == "bridge" && info[IFLA_INFO_DATA]) {
        nlattr* br[IFLA_BR_MAX + 1] = {};
        if (nla_parse_nested(br, IFLA_BR_MAX, info[IFLA_INFO_DATA], nullptr) == 0 && br[IFLA_BR_VLAN_FILTERING])
          li.vlanFiltering = u8Attr(br[IFLA_BR_VLAN_FILTERING]) != 0;
      }
      if (li.kind == "bridge" && !li.vlanFiltering) li.vlanFiltering = false;
      if (li.slaveKind == "bridge" && info[IFLA_INFO_SLAVE_DATA]) {
        nlattr* bp[IFLA_BRPORT_MAX + 1] = {};
        if (nla_parse_nested(bp, IFLA_BRPORT_MAX, info[IFLA_INFO_SLAVE_DATA], nullptr) == 0) {
          BridgePortInfo port;
          if (bp[IFLA_BRPORT_MODE]) port.hairpin = u8Attr(bp[IFLA_BRPORT_MODE]) != 0;
          if (bp[IFLA_BRPORT_ISOLATED]) port.isolated = u8Attr(bp[IFLA_BRPORT_ISOLATED]) != 0;
          if (bp[IFLA_BRPORT_LEARNING]) port.learning = u8Attr(bp[IFLA_BRPORT_LEARNING]) != 0;
          li.bridgePort = port;
        }
      }
    }
  }
  return li;
}

Status setFlags(RtnlSocket& sock, const LinkRef& link, uint32_t mask, bool on, const std::string& what) {
  if (link.index == 0) NN_TRY(validateLinkName(link.name));
  NlMsgPtr m = linkMsg(RTM_NEWLINK, 0, link);
  auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(nlmsg_hdr(m.get())));
  ifi->ifi_change = mask;
  ifi->ifi_flags = on ? mask : 0;
  return sock.request(std::move(m), what);
}

// Resolves a LinkRef to a full LinkInfo (AF_BRIDGE requests and renames need the ifindex).
Result<LinkInfo> resolve(RtnlSocket& sock, const LinkRef& link) { return getLink(sock, link); }

}  // namespace

Result<MacAddress> MacAddress::parse(std::string_view text) {
  MacAddress mac;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() != 17) return Error(strCat("invalid MAC address \"", text, "\""), EINVAL);
  for (size_t i = 0; i < 6; ++i) {
    int hi = hex(text[i * 3]), lo = hex(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-'))
      return Error(strCat("invalid MAC address \"", text, "\""), EINVAL);
    mac.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string MacAddress::toString() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3],
                bytes[4], bytes[5]);
  return buf;
}

std::string LinkRef::toString() const { return index ? strCat("ifindex ", index) : name; }

bool LinkInfo::up() const { return flags & IFF_UP; }
bool LinkInfo::promisc() const { return flags & IFF_PROMISC; }

Status validateLinkName(std::string_view name) {
  bool ok = !name.empty() && name.size() < IFNAMSIZ && name != "." && name != "..";
  for (char c : name)
    if (c == '/' || c == ':' || c == '\0' || std::isspace(static_cast<unsigned char>(c))) ok = false;
  if (!ok) return Error(strCat("invalid interface name \"", name, "\" (1-15 bytes, no '/', ':' or spaces)"), EINVAL);
  return okStatus();
}

// ---- Reading --------------------------------------------------------------------------------------------

Result<int> resolveIfindex(RtnlSocket& sock, const LinkRef& link) {
  if (link.index) return link.index;
  NN_ASSIGN_OR_RETURN(LinkInfo li, getLink(sock, link));
  return li.index;
}

Result<LinkInfo> getLink(RtnlSocket& sock, const LinkRef& link) {
  if (link.index == 0) NN_TRY(validateLinkName(link.name));
  NlMsgPtr m = linkMsg(RTM_GETLINK, 0, link);
  // Ask for the compact form (no per-VF stats); the kernel then fits the reply in one small message.
  putOrDie(nla_put_u32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS));
  NN_ASSIGN_OR_RETURN(auto replies,
                      sock.query(std::move(m), strCat("get link ", link.toString(), " in ", sock.netnsLabel())));
  if (replies.empty()) return Error(strCat("get link ", link.toString(), ": empty reply"), EPROTO);
  return parseLink(replies.front().header());
}

Result<std::optional<LinkInfo>> findLink(RtnlSocket& sock, const LinkRef& link) {
  auto li = getLink(sock, link);
  if (li.ok()) return std::optional<LinkInfo>(std::move(li).value());
  if (li.error().sysErrno() == ENODEV) return std::optional<LinkInfo>();
  return std::move(li).error();
}

Result<std::vector<LinkInfo>> listLinks(RtnlSocket& sock) {
  NlMsgPtr m = newMessage(RTM_GETLINK, 0);
  appendIfinfo(m.get(), AF_UNSPEC, 0);
  putOrDie(nla_put_u32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS));
  NN_ASSIGN_OR_RETURN(auto replies, sock.dump(std::move(m), strCat("list links in ", sock.netnsLabel())));
  std::vector<LinkInfo> out;
  for (const auto& r : replies) {
    NN_ASSIGN_OR_RETURN(LinkInfo li, parseLink(r.header()));
    out.push_back(std::move(li));
  }
  return out;
}

// ---- Creation -------------------------------------------------------------------------------------------

Result<LinkInfo> ensureBridge(RtnlSocket& sock, const BridgeOptions& o) {
  NN_TRY(validateLinkName(o.name));
  NN_ASSIGN_OR_RETURN(auto existing, findLink(sock, o.name));
  if (!existing) {
    NlMsgPtr m = newMessage(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    appendIfinfo(m.get(), AF_UNSPEC, 0);
    putName(m.get(), o.name);
    if (o.mtu) putOrDie(nla_put_u32(m.get(), IFLA_MTU, o.mtu));
    if (o.mac) putOrDie(nla_put(m.get(), IFLA_ADDRESS, 6, o.mac->bytes.data()));
    nlattr* info = nestStart(m.get(), IFLA_LINKINFO);
    putOrDie(nla_put_string(m.get(), IFLA_INFO_KIND, "bridge"));
    if (o.vlanFiltering) {
      nlattr* data = nestStart(m.get(), IFLA_INFO_DATA);
      putOrDie(nla_put_u8(m.get(), IFLA_BR_VLAN_FILTERING, 1));
      nla_nest_end(m.get(), data);
    }
    nla_nest_end(m.get(), info);
    Status st = sock.request(std::move(m), strCat("create bridge ", o.name, o.vlanFiltering ? " with vlan_filtering 1" : ""));
    // EEXIST: someone created the name between our lookup and the request; verify it below like any other.
    if (!st.ok() && st.error().sysErrno() != EEXIST) return std::move(st).error();
    NN_ASSIGN_OR_RETURN(existing, findLink(sock, o.name));
    if (!existing) return Error(strCat("bridge ", o.name, " vanished right after creation"), ENODEV);
  }
  if (!existing->isBridge()) {
    return Error(strCat("link ", o.name, " already exists but is not a bridge (kind ",
                        existing->kind.empty() ? "device" : existing->kind, ")"),
                 EEXIST);
  }
  if (o.vlanFiltering && !existing->vlanFiltering.value_or(false))
    NN_TRY(setBridgeVlanFiltering(sock, existing->index, true));
  if (o.up && !existing->up()) NN_TRY(setLinkUp(sock, existing->index));
  return getLink(sock, existing->index);
}

Result<LinkInfo> createVeth(RtnlSocket& sock, const VethOptions& o) {
  NN_TRY(validateLinkName(o.name));
  NN_TRY(validateLinkName(o.peerName));
  const std::string what =
      strCat("create veth ", o.name, " (peer ", o.peerName, " in ",
             o.peerNetns ? strCat("netns fd ", o.peerNetns->fd()) : std::string("the same netns"), ")");
  NlMsgPtr m = newMessage(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  appendIfinfo(m.get(), AF_UNSPEC, 0);
  putName(m.get(), o.name);
  if (o.mtu) putOrDie(nla_put_u32(m.get(), IFLA_MTU, o.mtu));
  if (o.mac) putOrDie(nla_put(m.get(), IFLA_ADDRESS, 6, o.mac->bytes.data()));
  nlattr* info = nestStart(m.get(), IFLA_LINKINFO);
  putOrDie(nla_put_string(m.get(), IFLA_INFO_KIND, "veth"));
  nlattr* data = nestStart(m.get(), IFLA_INFO_DATA);
  // VETH_INFO_PEER holds a whole ifinfomsg followed by the peer's own IFLA_* attributes; IFLA_NET_NS_FD
  // there makes the kernel create the peer directly in that namespace.
  nlattr* peer = nestStart(m.get(), VETH_INFO_PEER);
  ifinfomsg pifi{};
  pifi.ifi_family = AF_UNSPEC;
  putOrDie(nlmsg_append(m.get(), &pifi, sizeof pifi, NLMSG_ALIGNTO));
  putName(m.get(), o.peerName);
  if (o.mtu) putOrDie(nla_put_u32(m.get(), IFLA_MTU, o.mtu));
  if (o.peerMac) putOrDie(nla_put(m.get(), IFLA_ADDRESS, 6, o.peerMac->bytes.data()));
  if (o.peerNetns) putOrDie(nla_put_u32(m.get(), IFLA_NET_NS_FD, static_cast<uint32_t>(o.peerNetns->fd())));
  nla_nest_end(m.get(), peer);
  nla_nest_end(m.get(), data);
  nla_nest_end(m.get(), info);
  NN_TRY(sock.request(std::move(m), what));
  auto li = getLink(sock, o.name);
  if (!li.ok()) return std::move(li).error().context(strCat(what, ": reading it back"));
  return li;
}

// ---- Changing attributes --------------------------------------------------------------------------------

Status setLinkUp(RtnlSocket& sock, const LinkRef& link) {
  return setFlags(sock, link, IFF_UP, true, strCat("set link ", link.toString(), " up"));
}

Status setLinkDown(RtnlSocket& sock, const LinkRef& link) {
  return setFlags(sock, link, IFF_UP, false, strCat("set link ", link.toString(), " down"));
}

Status setLinkPromisc(RtnlSocket& sock, const LinkRef& link, bool on) {
  return setFlags(sock, link, IFF_PROMISC, on, strCat("set link ", link.toString(), " promisc ", on ? "on" : "off"));
}

Status setLinkMtu(RtnlSocket& sock, const LinkRef& link, uint32_t mtu) {
  if (link.index == 0) NN_TRY(validateLinkName(link.name));
  NlMsgPtr m = linkMsg(RTM_NEWLINK, 0, link);
  putOrDie(nla_put_u32(m.get(), IFLA_MTU, mtu));
  return sock.request(std::move(m), strCat("set link ", link.toString(), " mtu ", mtu));
}

Status setLinkMac(RtnlSocket& sock, const LinkRef& link, const MacAddress& mac) {
  if (link.index == 0) NN_TRY(validateLinkName(link.name));
  NlMsgPtr m = linkMsg(RTM_NEWLINK, 0, link);
  putOrDie(nla_put(m.get(), IFLA_ADDRESS, 6, mac.bytes.data()));
  return sock.request(std::move(m), strCat("set link ", link.toString(), " address ", mac.toString()));
}

Status setLinkMaster(RtnlSocket& sock, const LinkRef& link, const LinkRef& master) {
  if (link.index == 0) NN_TRY(validateLinkName(link.name));
  int masterIndex = master.index;
  if (masterIndex == 0) {
    NN_ASSIGN_OR_RETURN(LinkInfo mi, getLink(sock, master));
    masterIndex = mi.index;
  }
  NlMsgPtr m = linkMsg(RTM_NEWLINK, 0, link);
  putOrDie(nla_put_u32(m.get(), IFLA_MASTER, static_cast<uint32_t>(masterIndex)));
  return sock.request(std::move(m), strCat("set link ", link.toString(), " master ", master.toString()));
}

Status setLinkNoMaster(RtnlSocket& sock, const LinkRef& link) {
  if (link.index == 0) NN_TRY(validateLinkName(link.name));
  NlMsgPtr m = linkMsg(RTM_NEWLINK, 0, link);
  putOrDie(nla_put_u32(m.get(), IFLA_MASTER, 0));
  return sock.request(std::move(m), strCat("set link ", link.toString(), " nomaster"));
}

Status renameLink(RtnlSocket& sock, const LinkRef& link, const std::string& newName) {
  NN_TRY(validateLinkName(newName));
  int index = link.index;
  if (index == 0) {
    NN_ASSIGN_OR_RETURN(LinkInfo li, resolve(sock, link));
    index = li.index;
  }
  NlMsgPtr m = newMessage(RTM_NEWLINK, 0);
  appendIfinfo(m.get(), AF_UNSPEC, index);
  putName(m.get(), newName);
  return sock.request(std::move(m), strCat("rename link ", link.toString(), " to ", newName));
}

Status moveLinkToNetns(RtnlSocket& sock, const LinkRef& link, const Netns& target) {
  if (link.index == 0) NN_TRY(validateLinkName(link.name));
  NlMsgPtr m = linkMsg(RTM_NEWLINK, 0, link);
  putOrDie(nla_put_u32(m.get(), IFLA_NET_NS_FD, static_cast<uint32_t>(target.fd())));
  return sock.request(std::move(m), strCat("move link ", link.toString(), " to ", target.describe()));
}

Status deleteLink(RtnlSocket& sock, const LinkRef& link, bool ifExists) {
  if (link.index == 0) NN_TRY(validateLinkName(link.name));
  Status st = sock.request(linkMsg(RTM_DELLINK, 0, link), strCat("delete link ", link.toString()));
  if (!st.ok() && ifExists && (st.error().sysErrno() == ENODEV || st.error().sysErrno() == ENOENT))
    return okStatus();
  return st;
}

// ---- Bridges --------------------------------------------------------------------------------------------

Status setBridgeVlanFiltering(RtnlSocket& sock, const LinkRef& bridge, bool on) {
  if (bridge.index == 0) NN_TRY(validateLinkName(bridge.name));
  NlMsgPtr m = linkMsg(RTM_NEWLINK, 0, bridge);
  // changelink needs IFLA_INFO_KIND to reach the bridge's handler; a non-bridge link fails with EOPNOTSUPP.
  nlattr* info = nestStart(m.get(), IFLA_LINKINFO);
  putOrDie(nla_put_string(m.get(), IFLA_INFO_KIND, "bridge"));
  nlattr* data = nestStart(m.get(), IFLA_INFO_DATA);
  putOrDie(nla_put_u8(m.get(), IFLA_BR_VLAN_FILTERING, on ? 1 : 0));
  nla_nest_end(m.get(), data);
  nla_nest_end(m.get(), info);
  return sock.request(std::move(m), strCat("set bridge ", bridge.toString(), " vlan_filtering ", on ? 1 : 0));
}

Status setBridgePort(RtnlSocket& sock, const LinkRef& port, const BridgePortSettings& s) {
  NN_ASSIGN_OR_RETURN(LinkInfo li, resolve(sock, port));
  std::vector<std::string> parts;
  NlMsgPtr m = newMessage(RTM_SETLINK, 0);
  // AF_BRIDGE requests are handled by the bridge master of the port (rtnl_bridge_setlink) and need ifindex.
  appendIfinfo(m.get(), AF_BRIDGE, li.index);
  nlattr* prot = nestStart(m.get(), IFLA_PROTINFO);
  if (s.hairpin) {
    putOrDie(nla_put_u8(m.get(), IFLA_BRPORT_MODE, *s.hairpin ? 1 : 0));
    parts.push_back(strCat("hairpin ", *s.hairpin ? "on" : "off"));
  }
  if (s.isolated) {
    putOrDie(nla_put_u8(m.get(), IFLA_BRPORT_ISOLATED, *s.isolated ? 1 : 0));
    parts.push_back(strCat("isolated ", *s.isolated ? "on" : "off"));
  }
  if (s.learning) {
    putOrDie(nla_put_u8(m.get(), IFLA_BRPORT_LEARNING, *s.learning ? 1 : 0));
    parts.push_back(strCat("learning ", *s.learning ? "on" : "off"));
  }
  nla_nest_end(m.get(), prot);
  if (parts.empty()) return okStatus();
  return sock.request(std::move(m), strCat("set bridge port ", li.name, " ", join(parts, " ")));
}

namespace {

NlMsgPtr vlanMsg(int type, const LinkInfo& li, const BridgeVlan& vlan) {
  NlMsgPtr m = newMessage(type, 0);
  appendIfinfo(m.get(), AF_BRIDGE, li.index);
  nlattr* spec = nestStart(m.get(), IFLA_AF_SPEC);
  // Without BRIDGE_FLAGS_SELF the request goes to the port's master; for the bridge device itself the VLAN
  // belongs to the bridge's own (host-facing) port, addressed with SELF.
  if (li.isBridge()) putOrDie(nla_put_u16(m.get(), IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF));
  bridge_vlan_info vi{};
  vi.vid = vlan.vid;
  if (vlan.pvid) vi.flags |= BRIDGE_VLAN_INFO_PVID;
  if (vlan.untagged) vi.flags |= BRIDGE_VLAN_INFO_UNTAGGED;
  putOrDie(nla_put(m.get(), IFLA_BRIDGE_VLAN_INFO, sizeof vi, &vi));
  nla_nest_end(m.get(), spec);
  return m;
}

Status validateVid(uint16_t vid) {
  // 0 and 4095 are reserved by 802.1Q.
  if (vid < 1 || vid > 4094) return Error(strCat("invalid VLAN id ", vid, " (1-4094)"), EINVAL);
  return okStatus();
}

}  // namespace

Status addBridgeVlan(RtnlSocket& sock, const LinkRef& link, const BridgeVlan& vlan) {
  NN_TRY(validateVid(vlan.vid));
  NN_ASSIGN_OR_RETURN(LinkInfo li, resolve(sock, link));
  return sock.request(vlanMsg(RTM_SETLINK, li, vlan),
                      strCat("add vlan ", vlan.vid, vlan.pvid ? " pvid" : "", vlan.untagged ? " untagged" : "",
                             " to ", li.isBridge() ? "bridge " : "port ", li.name));
}

Status deleteBridgeVlan(RtnlSocket& sock, const LinkRef& link, uint16_t vid, bool ifExists) {
  NN_TRY(validateVid(vid));
  NN_ASSIGN_OR_RETURN(LinkInfo li, resolve(sock, link));
  Status st = sock.request(vlanMsg(RTM_DELLINK, li, BridgeVlan{vid, false, false}),
                           strCat("delete vlan ", vid, " from ", li.isBridge() ? "bridge " : "port ", li.name));
  if (!st.ok() && ifExists && st.error().sysErrno() == ENOENT) return okStatus();
  return st;
}

Result<std::vector<BridgeVlan>> listBridgeVlans(RtnlSocket& sock, const LinkRef& link) {
  NN_ASSIGN_OR_RETURN(LinkInfo li, resolve(sock, link));
  NlMsgPtr m = newMessage(RTM_GETLINK, 0);
  appendIfinfo(m.get(), AF_BRIDGE, 0);
  // RTEXT_FILTER_BRVLAN: one IFLA_BRIDGE_VLAN_INFO per VLAN (the _COMPRESSED variant would send ranges).
  putOrDie(nla_put_u32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN));
  // AF_BRIDGE GETLINK only exists as a dump (ports of every bridge, plus the bridges themselves).
  NN_ASSIGN_OR_RETURN(auto replies, sock.dump(std::move(m), strCat("list vlans of ", li.name)));
  std::vector<BridgeVlan> out;
  for (const auto& r : replies) {
    auto* h = const_cast<nlmsghdr*>(r.header());
    if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
    if (static_cast<const ifinfomsg*>(nlmsg_data(h))->ifi_index != li.index) continue;
    nlattr* tb[IFLA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0 || !tb[IFLA_AF_SPEC]) continue;
    nlattr* a;
    int rem;
    nla_for_each_nested(a, tb[IFLA_AF_SPEC], rem) {
      if (nla_type(a) != IFLA_BRIDGE_VLAN_INFO || nla_len(a) < static_cast<int>(sizeof(bridge_vlan_info))) continue;
      bridge_vlan_info vi;
      std::memcpy(&vi, nla_data(a), sizeof vi);
      out.push_back(BridgeVlan{vi.vid, (vi.flags & BRIDGE_VLAN_INFO_PVID) != 0,
                               (vi.flags & BRIDGE_VLAN_INFO_UNTAGGED) != 0});
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace nodenet::netlink
