// Link (network interface) operations over an RtnlSocket: read, bridge and veth creation, attribute
// changes, bridge ports and bridge VLANs, namespace moves, deletion.
//
// Errors name the link and carry the kernel errno in sysErrno(). Errnos callers typically branch on:
//   ENODEV  the link does not exist (lookups, changes, deletion)
//   EEXIST  a link with that name already exists (creation, rename, move into a netns that has the name)
//   EBUSY   rename of a link that is up (older kernels)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "netlink/netns.h"
#include "netlink/rtnl_socket.h"

namespace nodenet::netlink {

/// A 48-bit Ethernet address.
struct MacAddress {
  std::array<uint8_t, 6> bytes{};
  /// Parses "aa:bb:cc:dd:ee:ff" (also '-' separated, case-insensitive).
  static Result<MacAddress> parse(std::string_view text);
  /// Lower-case colon-separated text, the form CNI results use.
  std::string toString() const;
  auto operator<=>(const MacAddress&) const = default;
};

/// Names a link by ifindex (preferred: stable across renames) or by name. Implicit from either.
struct LinkRef {
  LinkRef(int ifindex) : index(ifindex) {}
  LinkRef(std::string ifname) : name(std::move(ifname)) {}
  LinkRef(const char* ifname) : name(ifname) {}
  LinkRef(std::string_view ifname) : name(ifname) {}
  int index = 0;
  std::string name;
  /// "eth0" or "ifindex 7", for messages.
  std::string toString() const;
};

/// Bridge port settings (read from IFLA_INFO_SLAVE_DATA when the link is enslaved to a bridge).
struct BridgePortInfo {
  bool hairpin = false;   // IFLA_BRPORT_MODE: frames may leave through the port they came in on
  bool isolated = false;  // IFLA_BRPORT_ISOLATED: no forwarding to other isolated ports
  bool learning = true;   // IFLA_BRPORT_LEARNING
};

/// A snapshot of one link as the kernel reported it.
struct LinkInfo {
  int index = 0;
  std::string name;
  /// IFLA_INFO_KIND: "bridge", "veth", "dummy", ...; empty for physical devices and lo.
  std::string kind;
  /// IFLA_INFO_SLAVE_KIND: "bridge" when the link is a bridge port.
  std::string slaveKind;
  std::optional<MacAddress> mac;  // absent for links without a 6-byte hardware address (lo has 00:..:00)
  uint32_t mtu = 0;
  uint32_t flags = 0;  // IFF_* (ifi_flags)
  /// IFLA_MASTER: the bridge (or bond) ifindex, 0 when none.
  int masterIndex = 0;
  /// IFLA_LINK: for a veth, the peer's ifindex *in the peer's namespace* (see linkNetnsId); 0 when absent.
  int linkIndex = 0;
  /// IFLA_LINK_NETNSID: the peer's namespace as an nsid of this namespace, when the peer lives elsewhere.
  std::optional<int32_t> linkNetnsId;
  /// For kind == "bridge": IFLA_BR_VLAN_FILTERING.
  std::optional<bool> vlanFiltering;
  /// For slaveKind == "bridge".
  std::optional<BridgePortInfo> bridgePort;

  bool up() const;        // IFF_UP (administratively up)
  bool promisc() const;   // IFF_PROMISC
  bool isBridge() const { return kind == "bridge"; }
  bool isVeth() const { return kind == "veth"; }
};

// ---- Reading --------------------------------------------------------------------------------------------

/// Reads one link. Errors: ENODEV when it does not exist (message names the link and the namespace).
Result<LinkInfo> getLink(RtnlSocket& sock, const LinkRef& link);
/// The ifindex of link: link.index when set, else looked up by name (ENODEV when missing).
Result<int> resolveIfindex(RtnlSocket& sock, const LinkRef& link);
/// Like getLink, but a missing link is std::nullopt instead of an error.
Result<std::optional<LinkInfo>> findLink(RtnlSocket& sock, const LinkRef& link);
/// All links of the socket's namespace, in kernel (ifindex) order.
Result<std::vector<LinkInfo>> listLinks(RtnlSocket& sock);

// ---- Creation -------------------------------------------------------------------------------------------

struct BridgeOptions {
  std::string name;
  uint32_t mtu = 0;                 // 0: kernel default (1500)
  std::optional<MacAddress> mac;    // set at creation: a user-set address stops the bridge from adopting
                                    // the lowest port MAC whenever ports come and go
  bool vlanFiltering = false;
  bool up = true;                   // bring the bridge up (create and verify paths alike)
};

/// Create-or-verify. Creates the bridge when no link has that name (mtu, mac, vlanFiltering as given). When
/// the name exists (also when a concurrent creator wins: EEXIST is accepted) the link is re-read and must be
/// of kind "bridge", else the error is "link NAME already exists but is not a bridge (kind veth)" with
/// sysErrno EEXIST. An existing bridge keeps its MTU and MAC; vlanFiltering=true is switched on if off (never
/// switched off). Brings it up when options.up. Returns the bridge as read back. Idempotent.
Result<LinkInfo> ensureBridge(RtnlSocket& sock, const BridgeOptions& options);

struct VethOptions {
  std::string name;                      // this side, created in the socket's namespace
  std::string peerName;                  // the other side
  const Netns* peerNetns = nullptr;      // where the peer is created (IFLA_NET_NS_FD); nullptr: same netns
  uint32_t mtu = 0;                      // both sides; 0: kernel default
  std::optional<MacAddress> mac;         // this side
  std::optional<MacAddress> peerMac;     // the peer (the container side)
};

/// Creates a veth pair in one request, the peer directly inside options.peerNetns (it never appears in the
/// socket's namespace, so there is no window where a host name can clash with the container's "eth0").
/// Both sides start down. Not idempotent: EEXIST when either name exists in its namespace (the message
/// cannot say which; callers choose a fresh random host name and retry, like the reference plugin).
/// Returns this side as read back; its linkIndex is the peer's ifindex in the peer namespace.
Result<LinkInfo> createVeth(RtnlSocket& sock, const VethOptions& options);

// ---- Changing attributes (each is idempotent: setting the current value succeeds) -----------------------

Status setLinkUp(RtnlSocket& sock, const LinkRef& link);
Status setLinkDown(RtnlSocket& sock, const LinkRef& link);
Status setLinkMtu(RtnlSocket& sock, const LinkRef& link, uint32_t mtu);
Status setLinkMac(RtnlSocket& sock, const LinkRef& link, const MacAddress& mac);
Status setLinkPromisc(RtnlSocket& sock, const LinkRef& link, bool on);
/// Enslaves link to master (a bridge). Re-enslaving to the same master is a no-op success.
Status setLinkMaster(RtnlSocket& sock, const LinkRef& link, const LinkRef& master);
/// Releases link from its master; success when it has none.
Status setLinkNoMaster(RtnlSocket& sock, const LinkRef& link);
/// Renames a link. Kernels before 6.2 refuse renaming an up link (EBUSY): bring it down first.
Status renameLink(RtnlSocket& sock, const LinkRef& link, const std::string& newName);
/// Moves link into target (IFLA_NET_NS_FD). The link keeps its ifindex unless target already uses that
/// index; addresses and routes on it are flushed by the kernel and it arrives down. EEXIST when target has
/// a link of the same name. Afterwards it is gone from this socket's namespace.
Status moveLinkToNetns(RtnlSocket& sock, const LinkRef& link, const Netns& target);
/// Deletes a link (for a veth, the peer goes too). A missing link is ENODEV, or success with ifExists=true.
Status deleteLink(RtnlSocket& sock, const LinkRef& link, bool ifExists = false);

// ---- Bridges --------------------------------------------------------------------------------------------

/// Switches IFLA_BR_VLAN_FILTERING on a bridge. Errors: EOPNOTSUPP/EINVAL when link is not a bridge.
Status setBridgeVlanFiltering(RtnlSocket& sock, const LinkRef& bridge, bool on);

/// Bridge port flags to change; unset fields stay as they are.
struct BridgePortSettings {
  std::optional<bool> hairpin;   // IFLA_BRPORT_MODE
  std::optional<bool> isolated;  // IFLA_BRPORT_ISOLATED (kernel 4.18+)
  std::optional<bool> learning;  // IFLA_BRPORT_LEARNING
};
/// Changes bridge port flags (AF_BRIDGE RTM_SETLINK with IFLA_PROTINFO). The link must be enslaved to a
/// bridge already (else EOPNOTSUPP or EINVAL from the kernel). Idempotent.
Status setBridgePort(RtnlSocket& sock, const LinkRef& port, const BridgePortSettings& settings);

/// One VLAN on a bridge port or on the bridge device itself.
struct BridgeVlan {
  uint16_t vid = 0;       // 1..4094
  bool pvid = false;      // untagged ingress frames are assigned this VLAN
  bool untagged = false;  // egress frames leave untagged
  auto operator<=>(const BridgeVlan&) const = default;
};
/// Adds (or updates the flags of) a VLAN on a bridge port, or on the bridge itself when link is the bridge
/// (BRIDGE_FLAGS_SELF). Only meaningful with vlan filtering on. Setting pvid moves the PVID from any other
/// VLAN of that port. Idempotent.
Status addBridgeVlan(RtnlSocket& sock, const LinkRef& link, const BridgeVlan& vlan);
/// Removes a VLAN from a port (or the bridge itself). Removing an absent VLAN: ENOENT from the kernel, or
/// success with ifExists=true.
Status deleteBridgeVlan(RtnlSocket& sock, const LinkRef& link, uint16_t vid, bool ifExists = false);
/// The VLANs of a port (or of the bridge itself), sorted by vid; empty when vlan filtering is off.
Result<std::vector<BridgeVlan>> listBridgeVlans(RtnlSocket& sock, const LinkRef& link);

/// Validates an interface name as the kernel would (1..15 bytes, no '/', ':' or whitespace, not "." or
/// ".."); errors carry EINVAL.
Status validateLinkName(std::string_view name);

}  // namespace nodenet::netlink
