// Reading and writing /proc/sys inside a given network namespace.
//
// Files under /proc/sys/net belong to the namespace of the thread that *opens* them, so every access runs
// on a dedicated thread inside the target namespace (runInNetns); the caller's thread never moves.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "netlink/netns.h"

namespace nodenet::netlink {

/// Reads a sysctl as text with surrounding whitespace trimmed. key is the path below /proc/sys with '/'
/// separators ("net/ipv4/ip_forward", "net/ipv6/conf/eth0/accept_dad"); the dotted form is not accepted
/// because interface names may contain dots. Errors: ENOENT for an unknown key (e.g. an interface that does
/// not exist in ns, or IPv6 disabled), EINVAL for a malformed key.
Result<std::string> readSysctl(const Netns& ns, std::string_view key);
/// Writes value (a newline is not needed) to the sysctl. Idempotent. Errors: ENOENT as above, EINVAL when
/// the kernel rejects the value, EACCES/EPERM for read-only keys.
Status writeSysctl(const Netns& ns, std::string_view key, std::string_view value);

}  // namespace nodenet::netlink
