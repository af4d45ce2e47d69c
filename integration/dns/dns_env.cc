#include "integration/dns/dns_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include "base/strings.h"
#include "integration/harness/paths.h"
#include "integration/harness/process.h"

namespace nodenet::itest::dns {
namespace {

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return s;
}

std::vector<std::string> splitWs(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

/// "name. 5 IN A 10.0.0.1" -> Rr. Names inside rdata of the name-bearing types are lowercased (dig prints
/// them as received; DNS names compare case-insensitively).
std::optional<Rr> parseRecordLine(const std::string& line) {
  auto w = splitWs(line);
  if (w.size() < 4) return std::nullopt;
  Rr r;
  r.owner = lower(w[0]);
  r.ttl = uint32_t(std::strtoul(w[1].c_str(), nullptr, 10));
  size_t i = 2;
  if (w[i] == "IN" || w[i] == "CH") ++i;
  r.type = w[i++];
  std::string rd;
  for (; i < w.size(); ++i) rd += (rd.empty() ? "" : " ") + w[i];
  if (r.type == "CNAME" || r.type == "PTR" || r.type == "NS" || r.type == "SRV" || r.type == "SOA") rd = lower(rd);
  r.rdata = rd;
  return r;
}

}  // namespace

bool Rr::operator<(const Rr& o) const {
  return std::tie(owner, type, rdata, ttl) < std::tie(o.owner, o.type, o.rdata, o.ttl);
}
bool Rr::operator==(const Rr& o) const {
  return owner == o.owner && type == o.type && rdata == o.rdata && ttl == o.ttl;
}
std::string Rr::toString() const { return strCat(owner, " ", ttl, " ", type, " ", rdata); }

std::vector<DigReply> parseDigOutput(const std::string& out, size_t expected) {
  std::vector<DigReply> replies;
  std::istringstream in(out);
  enum { None, Question, Answer, Authority, Additional } section = None;
  DigReply* cur = nullptr;
  for (std::string line; std::getline(in, line);) {
    // Every query ends in exactly one of: ";; Got answer:" (a reply follows) or "no servers could be reached".
    if (line.rfind(";; Got answer:", 0) == 0) {
      replies.emplace_back();
      cur = &replies.back();
      cur->ok = true;
      section = None;
    } else if (line.find("no servers could be reached") != std::string::npos) {
      replies.emplace_back();
      replies.back().raw = line;
      cur = nullptr;
      section = None;
      continue;
    }
    if (!cur) continue;
    cur->raw += line + "\n";
    if (line.rfind(";; ->>HEADER<<-", 0) == 0) {
      auto p = line.find("status: ");
      if (p != std::string::npos) {
        auto e = line.find(',', p);
        cur->rcode = line.substr(p + 8, e - p - 8);
      }
    } else if (line.rfind(";; flags:", 0) == 0) {
      auto e = line.find(';', 9);
      for (const auto& f : splitWs(line.substr(9, e - 9))) cur->flags.insert(f);
    } else if (line == ";; QUESTION SECTION:") {
      section = Question;
    } else if (line == ";; ANSWER SECTION:") {
      section = Answer;
    } else if (line == ";; AUTHORITY SECTION:") {
      section = Authority;
    } else if (line == ";; ADDITIONAL SECTION:") {
      section = Additional;
    } else if (line.empty() || line[0] == ';') {
      if (section == Question && line.size() > 1 && line[0] == ';' && line[1] != ';') {
        auto w = splitWs(line.substr(1));
        if (!w.empty()) cur->question = w[0];
      } else if (line.empty()) {
        section = None;
      }
    } else if (auto rr = parseRecordLine(line)) {
      if (section == Answer) cur->answer.push_back(*rr);
      if (section == Authority) cur->authority.push_back(*rr);
      if (section == Additional) cur->additional.push_back(*rr);
    }
  }
  replies.resize(std::max(replies.size(), expected));
  return replies;
}

Result<std::vector<DigReply>> digBatch(const TestNetns& ns, const std::string& server, int port,
                                       const std::vector<DigQuery>& queries, const std::vector<std::string>& options) {
  auto dir = TempDir::create("nodenet-itest-dig-");
  if (!dir.ok()) return dir.error();
  std::string batch;
  for (const auto& q : queries) batch += q.name + " " + q.type + "\n";
  std::string file = dir->path() + "/batch";
  {
    std::ofstream f(file);
    f << batch;
    if (!f) return Error("cannot write " + file);
  }
  std::vector<std::string> argv = {"dig", "@" + server, "-p", std::to_string(port), "+time=2", "+tries=1",
                                   "+nocookie", "+noall", "+comments", "+question", "+answer", "+authority",
                                   "+additional"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("-f");
  argv.push_back(file);
  RunOptions ro;
  ro.timeout = std::chrono::milliseconds(20000 + 3000 * int(queries.size() > 50 ? 50 : queries.size()));
  auto r = ns.exec(argv, ro);
  if (!r.ok()) return r.error();
  auto replies = parseDigOutput(r->out, queries.size());
  if (replies.size() != queries.size())
    return Error(strCat("dig printed ", replies.size(), " replies for ", queries.size(), " queries: ", r->describe()));
  return replies;
}

Result<DigReply> dig(const TestNetns& ns, const std::string& server, int port, const std::string& name,
                     const std::string& type, const std::vector<std::string>& options) {
  auto r = digBatch(ns, server, port, {{name, type}}, options);
  if (!r.ok()) return r.error();
  return r->at(0);
}

DigReply waitFor(const TestNetns& ns, const std::string& server, int port, const std::string& name,
                 const std::string& type, const std::function<bool(const DigReply&)>& pred,
                 std::chrono::milliseconds timeout, std::chrono::milliseconds* waited) {
  auto start = std::chrono::steady_clock::now();
  DigReply last;
  for (;;) {
    auto r = dig(ns, server, port, name, type, {"+norec", "+time=1"});
    if (r.ok()) last = *r;
    auto now = std::chrono::steady_clock::now();
    if (waited) *waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    if ((r.ok() && pred(last)) || now - start > timeout) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::optional<std::chrono::microseconds> fastPoll(const std::string& netns, const std::string& server, int port,
                                                  const std::string& name, uint16_t qtype,
                                                  const std::function<bool(const ReplyHeader&)>& pred,
                                                  std::chrono::milliseconds timeout) {
  // A hand-built query (RFC 1035 §4.1), independent of dns/wire: id, RD=0, one question.
  std::string q = std::string("\x4e\x4e\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  size_t start = 0;
  std::string n = name;
  if (!n.empty() && n.back() == '.') n.pop_back();
  while (start <= n.size()) {
    size_t dot = n.find('.', start);
    if (dot == std::string::npos) dot = n.size();
    q += char(dot - start);
    q += n.substr(start, dot - start);
    start = dot + 1;
  }
  q += '\0';
  q += char(qtype >> 8);
  q += char(qtype & 0xff);
  q += std::string("\x00\x01", 2);
  std::optional<std::chrono::microseconds> result;
  const auto t0 = std::chrono::steady_clock::now();
  // setns on a short-lived thread of its own (the test's threads stay in the root namespace).
  std::thread t([&] {
    std::string path = netns.find('/') == std::string::npos ? "/run/netns/" + netns : netns;
    int nsFd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsFd < 0) return;
    int rc = ::setns(nsFd, CLONE_NEWNET);
    ::close(nsFd);
    if (rc != 0) return;
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(uint16_t(port));
    ::inet_pton(AF_INET, server.c_str(), &sa.sin_addr);
    char buf[4096];
    while (std::chrono::steady_clock::now() - t0 < timeout) {
      ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, 50) == 1) {
        ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        if (got >= 12) {
          ReplyHeader h;
          h.rcode = buf[3] & 0x0f;
          h.tc = (buf[2] & 0x02) != 0;
          h.answers = (uint8_t(buf[6]) << 8) | uint8_t(buf[7]);
          if (pred(h)) {
            result = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
            break;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::close(fd);
  });
  t.join();
  return result;
}

namespace {

Status writeZones(const std::string& dir, const std::vector<bench::ZoneText>& zones) {
  ::mkdir(dir.c_str(), 0755);
  ::mkdir((dir + "/zones").c_str(), 0755);
  for (const auto& z : zones) {
    std::string err =
        bench::writeFileAtomically(dir + "/zones/" + z.origin.substr(0, z.origin.size() - 1) + ".zone", z.text);
    if (!err.empty()) return Error(err);
  }
  return okStatus();
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string writeNsdConf(const std::string& dir, const std::vector<bench::ZoneText>& zones, const std::string& addr,
                         int port) {
  std::string conf = strCat("server:\n  ip-address: ", addr, "@", port,
                            "\n  do-ip6: no\n  server-count: 1\n  username: \"\"\n  chroot: \"\"\n"
                            "  zonesdir: \"",
                            dir, "/zones\"\n  database: \"\"\n  zonelistfile: \"", dir,
                            "/nsd.zonelist\"\n  xfrdfile: \"", dir, "/nsd.xfrd\"\n  xfrdir: \"", dir,
                            "\"\n  pidfile: \"", dir, "/nsd.pid\"\n  logfile: \"", dir,
                            "/nsd.log\"\n  verbosity: 1\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n"
                            "remote-control:\n  control-enable: no\n");
  for (const auto& z : zones)
    conf += strCat("zone:\n  name: \"", z.origin, "\"\n  zonefile: \"", z.origin.substr(0, z.origin.size() - 1),
                   ".zone\"\n");
  return conf;
}

Result<Daemon> startNsd(const TestNetns& ns, const std::string& dir, const std::vector<bench::ZoneText>& zones,
                        const std::string& addr, int port) {
  if (auto st = writeZones(dir, zones); !st.ok()) return st.error();
  std::string err = bench::writeFileAtomically(dir + "/nsd.conf", writeNsdConf(dir, zones, addr, port));
  if (!err.empty()) return Error(err);
  auto nsd = findExecutable("nsd", "/usr/sbin:/usr/bin:/sbin:/bin");
  if (!nsd.ok()) return nsd.error();
  auto d = Daemon::start({*nsd, "-d", "-c", dir + "/nsd.conf"}, {.netns = ns.name(), .logPath = dir + "/nsd.out"});
  if (!d.ok()) return d.error();
  auto reply = waitFor(
      ns, addr, port, zones.at(0).origin, "SOA", [](const DigReply& r) { return r.ok && r.rcode == "NOERROR"; },
      std::chrono::milliseconds(10000));
  if (!reply.ok || reply.rcode != "NOERROR") {
    std::string log = d->log();
    return Error("nsd did not answer within 10 s: " + log + readFile(dir + "/nsd.log"));
  }
  return d;
}


Result<Daemon> startKnot(const TestNetns& ns, const std::string& dir, const std::vector<bench::ZoneText>& zones,
                         const std::string& addr, int port) {
  if (auto st = writeZones(dir, zones); !st.ok()) return st.error();
  ::mkdir((dir + "/db").c_str(), 0755);
  std::string conf = strCat("server:\n  rundir: \"", dir, "\"\n  user: root:root\n  listen: ", addr, "@", port,
                            "\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n"
                            "log:\n  - target: stderr\n    any: warning\n"
                            "database:\n  storage: \"",
                            dir, "/db\"\ntemplate:\n  - id: default\n    storage: \"", dir,
                            "/zones\"\n    file: \"%s.zone\"\n    zonefile-sync: -1\n    zonefile-load: whole\n"
                            "    journal-content: none\n    semantic-checks: off\nzone:\n");
  for (const auto& z : zones) conf += "  - domain: " + z.origin + "\n";
  std::string err = bench::writeFileAtomically(dir + "/knot.conf", conf);
  if (!err.empty()) return Error(err);
  auto knotd = findExecutable("knotd", "/usr/sbin:/usr/bin:/sbin:/bin");
  if (!knotd.ok()) return knotd.error();
  auto d = Daemon::start({*knotd, "-c", dir + "/knot.conf"}, {.netns = ns.name(), .logPath = dir + "/knotd.out"});
  if (!d.ok()) return d.error();
  auto reply = waitFor(
      ns, addr, port, zones.at(0).origin, "SOA", [](const DigReply& r) { return r.ok && r.rcode == "NOERROR"; },
      std::chrono::milliseconds(10000));
  if (!reply.ok || reply.rcode != "NOERROR") return Error("knotd did not answer within 10 s: " + d->log());
  return d;
}

Result<Daemon> startNodenetDns(const TestNetns& ns, const std::vector<std::string>& args, const std::string& logPath,
                               const std::string& addr, int port, const std::string& probeName,
                               bool viaIpNetnsExec) {
  std::vector<std::string> argv = {ourBinary("nodenet-dns")};
  argv.insert(argv.end(), args.begin(), args.end());
  auto d = Daemon::start(argv, {.netns = ns.name(), .logPath = logPath, .viaIpNetnsExec = viaIpNetnsExec});
  if (!d.ok()) return d.error();
  auto reply = waitFor(
      ns, addr, port, probeName, "A", [](const DigReply& r) { return r.ok; }, std::chrono::milliseconds(10000));
  if (!reply.ok) return Error("nodenet-dns did not answer within 10 s; log:\n" + d->log());
  if (!d->running()) return Error("nodenet-dns exited; log:\n" + d->log());
  return d;
}

std::string mixCase(const std::string& name) {
  std::string s = name;
  bool up = true;
  for (char& c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      c = up ? char(std::toupper(c)) : char(std::tolower(c));
      up = !up;
    }
  }
  return s;
}

}  // namespace nodenet::itest::dns
