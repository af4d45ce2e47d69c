// host-local entry points end to end (dispatch, temp dataDir), and interop with the reference binary from
// Debian's containernetworking-plugins when it is installed (/usr/lib/cni/host-local).
// IP plan: 10.3.0.0/24 (v4 set, gw .1), fd03::/120 (v6 set), 10.4.0.0/30 (tiny range for exhaustion).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cni/ipam/fake_store.h"
#include "cni/ipam/host_local.h"

namespace nodenet::cni::ipam {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class HostLocalTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nodenet-hostlocal-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string conf(const std::string& version = "1.1.0", const std::string& extra = "") const {
    return R"({"cniVersion": ")" + version + R"(", "name": "hl", "type": "host-local", "ipam": {"type": "host-local",
      "dataDir": ")" + root_.string() + R"(", "ranges": [[{"subnet": "10.3.0.0/24"}], [{"subnet": "fd03::/120"}]],
      "routes": [{"dst": "0.0.0.0/0"}]})" + extra + "}";
  }
  Env env(const char* cmd, const std::string& id = "c1", const std::string& args = "") const {
    Env e{{"CNI_COMMAND", cmd}, {"CNI_CONTAINERID", id}, {"CNI_NETNS", "/var/run/netns/x"},
          {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/usr/lib/cni"}};
    if (!args.empty()) e["CNI_ARGS"] = args;
    return e;
  }
  struct Out {
    int rc;
    std::string out;
  };
  Out run(const Env& e, const std::string& in) {
    std::ostringstream out, err;
    int rc = dispatch(e, in, out, err, hostLocalPlugin());
    return {rc, out.str()};
  }
  fs::path root_;
};

TEST_F(HostLocalTest, AddRendersDualStackResult) {
  auto r = run(env("ADD"), conf("0.3.1"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out, R"({
    "cniVersion": "0.3.1",
    "ips": [
        {
            "version": "4",
            "address": "10.3.0.2/24",
            "gateway": "10.3.0.1"
        },
        {
            "version": "6",
            "address": "fd03::2/120",
            "gateway": "fd03::1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0"
        }
    ],
    "dns": {}
})");
  std::ifstream f(root_ / "hl" / "10.3.0.2");
  std::string content((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(content, "c1\r\neth0");
}

TEST_F(HostLocalTest, IdempotentAddDelCheck) {
  ASSERT_EQ(run(env("ADD"), conf()).rc, 0);
  auto again = run(env("ADD"), conf());
  ASSERT_EQ(again.rc, 0);
  EXPECT_NE(again.out.find("10.3.0.2/24"), std::string::npos);  // same address, not a second one
  EXPECT_EQ(run(env("CHECK"), conf()).rc, 0);
  auto other = run(env("ADD", "c2"), conf());
  EXPECT_NE(other.out.find("10.3.0.3/24"), std::string::npos);
  Env del = env("DEL");
  del.erase("CNI_NETNS");
  EXPECT_EQ(run(del, conf()).rc, 0);
  EXPECT_FALSE(fs::exists(root_ / "hl" / "10.3.0.2"));
  EXPECT_FALSE(fs::exists(root_ / "hl" / "fd03::2"));
  EXPECT_EQ(run(del, conf()).rc, 0);  // DEL twice is fine
  auto chk = run(env("CHECK"), conf());
  EXPECT_EQ(chk.rc, 1);
  EXPECT_EQ(json::parse(chk.out)["msg"], "host-local: Failed to find address added by container c1");
}

TEST_F(HostLocalTest, RequestedIps) {
  auto r = run(env("ADD", "c1", "IgnoreUnknown=1;IP=10.3.0.77"), conf("1.1.0", R"(, "runtimeConfig": {"ips": ["fd03::77"]})"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("10.3.0.77/24"), std::string::npos);
  EXPECT_NE(r.out.find("fd03::77/120"), std::string::npos);
  auto taken = run(env("ADD", "c2", "IP=10.3.0.77"), conf());
  EXPECT_EQ(taken.rc, 1);
  EXPECT_EQ(json::parse(taken.out)["msg"],
            "failed to allocate for range 0: requested IP address 10.3.0.77 is not available in range set "
            "10.3.0.1-10.3.0.254");
  // Nothing of c2 stays behind (the v6 set was never reached, the v4 one failed).
  EXPECT_TRUE(fs::exists(root_ / "hl" / "10.3.0.77"));
  auto outside = run(env("ADD", "c3", "IP=10.9.9.9"), conf());
  EXPECT_EQ(json::parse(outside.out)["msg"], "failed to allocate all requested IPs: 10.9.9.9");
  // c3's addresses from both sets were rolled back.
  std::vector<std::string> left;
  for (auto& e : fs::directory_iterator(root_ / "hl"))
    if (e.is_regular_file()) left.push_back(e.path().filename());
  for (const auto& n : left) {
    std::ifstream f(root_ / "hl" / n);
    std::string content((std::istreambuf_iterator<char>(f)), {});
    EXPECT_EQ(content.find("c3"), std::string::npos) << n;
  }
}

TEST_F(HostLocalTest, ExhaustedAndConfigErrors) {
  std::string tiny = R"({"cniVersion": "1.0.0", "name": "tiny", "type": "host-local", "ipam": {"type": "host-local",
    "dataDir": ")" + root_.string() + R"(", "subnet": "10.4.0.0/30"}})";
  ASSERT_EQ(run(env("ADD", "a"), tiny).rc, 0);
  auto full = run(env("ADD", "b"), tiny);
  EXPECT_EQ(full.rc, 1);
  EXPECT_EQ(json::parse(full.out)["msg"],
            "failed to allocate for range 0: no IP addresses available in range set: 10.4.0.1-10.4.0.2");
  auto bad = run(env("ADD"), R"({"cniVersion": "1.0.0", "name": "n", "type": "host-local", "ipam": {}})");
  EXPECT_EQ(json::parse(bad.out)["code"], 7);
  EXPECT_EQ(json::parse(bad.out)["msg"], "no IP ranges specified");
}

TEST_F(HostLocalTest, GcKeepsOnlyValidAttachments) {
  ASSERT_EQ(run(env("ADD", "keep"), conf()).rc, 0);
  ASSERT_EQ(run(env("ADD", "drop"), conf()).rc, 0);
  fs::path legacy = root_ / "hl" / "10.3.0.200";
  std::ofstream(legacy) << "keep";  // a legacy id-only file of a valid container survives
  fs::path legacyStale = root_ / "hl" / "10.3.0.201";
  std::ofstream(legacyStale) << "gone";
  Env gc{{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/usr/lib/cni"}};
  auto r = run(gc, conf("1.1.0", R"(, "cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}])"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(fs::exists(root_ / "hl" / "10.3.0.2"));
  EXPECT_TRUE(fs::exists(root_ / "hl" / "fd03::2"));
  EXPECT_FALSE(fs::exists(root_ / "hl" / "10.3.0.3"));
  EXPECT_FALSE(fs::exists(root_ / "hl" / "fd03::3"));
  EXPECT_TRUE(fs::exists(legacy));
  EXPECT_FALSE(fs::exists(legacyStale));
  // STATUS
  Env st{{"CNI_COMMAND", "STATUS"}, {"CNI_PATH", "/usr/lib/cni"}};
  EXPECT_EQ(run(st, conf()).rc, 0);
}

TEST_F(HostLocalTest, ResolvConfIntoDns) {
  fs::path rc = root_ / "resolv.conf";
  std::ofstream(rc) << "nameserver 10.0.0.10\nsearch svc.cluster.local\n";
  std::string c = R"({"cniVersion": "1.0.0", "name": "dns", "type": "host-local", "ipam": {"type": "host-local",
    "dataDir": ")" + root_.string() + R"(", "resolvConf": ")" + rc.string() + R"(", "subnet": "10.5.0.0/24"}})";
  auto r = run(env("ADD"), c);
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["dns"]["nameservers"][0], "10.0.0.10");
  EXPECT_EQ(j["dns"]["search"][0], "svc.cluster.local");
}

TEST_F(HostLocalTest, InProcessWithFakeStore) {
  auto store = std::make_shared<FakeStore>();
  StoreOpener open = [store](const std::string&, const std::string&) -> nodenet::Result<StorePtr> {
    struct Borrowed : Store {
      std::shared_ptr<FakeStore> s;
      nodenet::Status lock() override { return s->lock(); }
      nodenet::Status unlock() override { return s->unlock(); }
      nodenet::Result<bool> reserve(const std::string& a, const std::string& b, const IpAddress& c,
                                    const std::string& d) override { return s->reserve(a, b, c, d); }
      nodenet::Result<std::optional<IpAddress>> lastReservedIp(const std::string& r) override { return s->lastReservedIp(r); }
      nodenet::Status releaseById(const std::string& a, const std::string& b) override { return s->releaseById(a, b); }
      nodenet::Result<std::vector<IpAddress>> getById(const std::string& a, const std::string& b) override { return s->getById(a, b); }
      nodenet::Result<std::vector<Reservation>> list() override { return s->list(); }
      nodenet::Status releaseIp(const IpAddress& ip) override { return s->releaseIp(ip); }
    };
    auto b = std::make_unique<Borrowed>();
    b->s = store;
    return StorePtr(std::move(b));
  };
  CmdArgs a;
  a.command = Command::Add;
  a.containerId = "c1";
  a.ifName = "eth0";
  auto r = hostLocalAdd(a, json::parse(conf()), open);
  ASSERT_TRUE(r.ok()) << r.error().toString();
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_EQ(store->reservationsForTest().size(), 2u);
  ASSERT_TRUE(hostLocalDel(a, json::parse(conf()), open).ok());
  EXPECT_TRUE(store->reservationsForTest().empty());
}

// ---- interop with the reference binary ----

const char* kReference = "/usr/lib/cni/host-local";

std::string runReference(const std::string& cmd, const std::string& id, const std::string& stdinData, int* rc) {
  std::string in = "/tmp/nodenet-ref-stdin-" + std::to_string(getpid());
  std::ofstream(in) << stdinData;
  std::string line = "CNI_COMMAND=" + cmd + " CNI_CONTAINERID=" + id +
                     " CNI_NETNS=/var/run/netns/x CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni " + kReference + " < " + in;
  FILE* p = popen(line.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  fs::remove(in);
  return out;
}

TEST_F(HostLocalTest, InteropWithReferenceBinary) {
  if (!fs::exists(kReference)) GTEST_SKIP() << "reference host-local not installed";
  std::string c = conf("1.0.0");
  int rc = 0;
  std::string refOut = runReference("ADD", "ref1", c, &rc);
  ASSERT_EQ(rc, 0) << refOut;
  EXPECT_NE(refOut.find("10.3.0.2/24"), std::string::npos);
  // nodenet continues the reference's round robin and sees its reservation.
  auto ours = run(env("ADD", "ours1"), c);
  ASSERT_EQ(ours.rc, 0) << ours.out;
  EXPECT_NE(ours.out.find("10.3.0.3/24"), std::string::npos);
  // The reference continues ours, and finds our allocation on CHECK, and releases it on DEL.
  refOut = runReference("ADD", "ref2", c, &rc);
  ASSERT_EQ(rc, 0) << refOut;
  EXPECT_NE(refOut.find("10.3.0.4/24"), std::string::npos);
  runReference("CHECK", "ours1", c, &rc);
  EXPECT_EQ(rc, 0);
  runReference("DEL", "ours1", c, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_FALSE(fs::exists(root_ / "hl" / "10.3.0.3"));
  // nodenet DEL of a reference allocation; its index learns about the outside changes.
  Env del = env("DEL", "ref1");
  EXPECT_EQ(run(del, c).rc, 0);
  EXPECT_FALSE(fs::exists(root_ / "hl" / "10.3.0.2"));
  EXPECT_FALSE(fs::exists(root_ / "hl" / "fd03::2"));
  // Results agree in shape: same JSON for the same allocation.
  auto chk = run(env("CHECK", "ref2"), c);
  EXPECT_EQ(chk.rc, 0) << chk.out;
}

}  // namespace
}  // namespace nodenet::cni::ipam
