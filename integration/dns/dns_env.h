// Helpers for the DNS integration and differential tests: long-running daemons inside a test namespace
// (nodenet-dns, NSD), dig in batch mode with its output parsed into comparable replies, and the NSD config for a
// set of zone files. Everything runs inside namespaces the tests created (never the root namespace).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "bench/common/cluster_plan.h"
#include "integration/harness/background.h"
#include "integration/harness/netns.h"

namespace nodenet::itest::dns {

/// A server this test started in a namespace (the harness's BackgroundProcess).
using Daemon = itest::BackgroundProcess;

/// One resource record as dig prints it, normalised for comparison: owner lowercase, rdata names lowercase.
struct Rr {
  std::string owner;
  uint32_t ttl = 0;
  std::string type;
  std::string rdata;
  bool operator<(const Rr& o) const;
  bool operator==(const Rr& o) const;
  std::string toString() const;
};

/// One dig reply. ok=false when dig got no answer (timeout, connection refused).
struct DigReply {
  bool ok = false;
  std::string rcode;                // "NOERROR", "NXDOMAIN", ...
  std::set<std::string> flags;      // "qr", "aa", "tc", "rd", "ra"
  std::string question;             // as printed: "DB.default.svc.cluster.local."
  std::vector<Rr> answer, authority, additional;
  std::string raw;                  // this reply's dig text, for failure messages
};

struct DigQuery {
  std::string name, type;
};

/// Runs one `dig` process inside netns for all queries (batch mode, -f), in order. options are dig options
/// applied to every query (e.g. "+norec", "+tcp"). Returns one reply per query, in order.
Result<std::vector<DigReply>> digBatch(const TestNetns& ns, const std::string& server, int port,
                                       const std::vector<DigQuery>& queries,
                                       const std::vector<std::string>& options = {});

/// One query (convenience around digBatch).
Result<DigReply> dig(const TestNetns& ns, const std::string& server, int port, const std::string& name,
                     const std::string& type, const std::vector<std::string>& options = {});

/// Parses dig's "+noall +comments +question +answer +authority +additional" output of `expected` queries.
std::vector<DigReply> parseDigOutput(const std::string& out, size_t expected);

/// Polls until pred(reply) holds or timeout passes; returns the last reply (ok=false if none arrived).
DigReply waitFor(const TestNetns& ns, const std::string& server, int port, const std::string& name,
                 const std::string& type, const std::function<bool(const DigReply&)>& pred,
                 std::chrono::milliseconds timeout, std::chrono::milliseconds* waited = nullptr);

/// The header of a reply as read by fastPoll: rcode and answer count (no further parsing: this is a probe).
struct ReplyHeader {
  int rcode = -1;
  int answers = 0;
  bool tc = false;
};

/// Asks `name`/`qtype` (numeric) over UDP from a thread inside netns every ~2 ms until pred(header) holds or the
/// timeout passes; returns the time from the call to the first matching reply (nullopt on timeout). Much finer
/// than waitFor (a dig exec per round costs 5-30 ms), for measuring how fast an update is answered.
std::optional<std::chrono::microseconds> fastPoll(const std::string& netns, const std::string& server, int port,
                                                  const std::string& name, uint16_t qtype,
                                                  const std::function<bool(const ReplyHeader&)>& pred,
                                                  std::chrono::milliseconds timeout);

/// Writes nsd.conf into dir for the zones (files "<origin>.zone" in dir/zones, as writeZoneFiles makes them),
/// listening on addr@port, one serving process, no rate limiting, no chroot/user switch, no database.
std::string writeNsdConf(const std::string& dir, const std::vector<bench::ZoneText>& zones,
                         const std::string& addr, int port);

/// Writes the zone files and nsd.conf for zones into dir and starts `nsd -d` in netns; waits until it answers the
/// SOA of the first zone (at most 10 s).
Result<Daemon> startNsd(const TestNetns& ns, const std::string& dir, const std::vector<bench::ZoneText>& zones,
                        const std::string& addr, int port);

/// Writes the zone files and a knot.conf into dir and starts `knotd` (foreground) in netns: one UDP and one TCP
/// worker, zone files loaded whole, no journal, no zone file sync; waits until it answers the SOA of the first
/// zone (at most 10 s).
Result<Daemon> startKnot(const TestNetns& ns, const std::string& dir, const std::vector<bench::ZoneText>& zones,
                         const std::string& addr, int port);

/// Starts nodenet-dns (from the build tree) in netns with args and waits until it answers `probeName` A
/// (at most 10 s; any rcode counts as up).
Result<Daemon> startNodenetDns(const TestNetns& ns, const std::vector<std::string>& args, const std::string& logPath,
                               const std::string& addr, int port, const std::string& probeName,
                               bool viaIpNetnsExec = false);

/// "WeB.DeFaUlT..." : every other letter upper-cased (0x20-style mixed case).
std::string mixCase(const std::string& name);

}  // namespace nodenet::itest::dns
