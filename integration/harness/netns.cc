#include "integration/harness/netns.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <random>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::itest {
namespace {

Status ipNetns(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions o;
  o.timeout = std::chrono::seconds(20);
  o.interruptible = false;  // deleting must work while unwinding after SIGINT
  NN_ASSIGN_OR_RETURN(RunResult r, run(argv, o));
  if (!r.ok()) return Error(strCat(join(argv, " "), ": ", r.describe()));
  return okStatus();
}

}  // namespace

std::string uniqueNetnsName(const std::string& prefix, const std::string& label) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(rng()));
  std::string name = strCat(prefix, ::getpid(), "-", hex);
  if (!label.empty()) name += "-" + label;
  return name;
}

Result<TestNetns> TestNetns::create(const std::string& prefix, const std::string& label) {
  std::string name = uniqueNetnsName(prefix, label);
  NN_TRY(ipNetns({"netns", "add", name}));
  TestNetns ns(std::move(name));  // from here on the destructor deletes it
  NN_TRY(ipNetns({"-n", ns.name(), "link", "set", "lo", "up"}));
  return ns;
}

TestNetns& TestNetns::operator=(TestNetns&& other) noexcept {
  if (this != &other) {
    (void)remove();
    name_ = std::exchange(other.name_, {});
  }
  return *this;
}

TestNetns::~TestNetns() {
  Status s = remove();
  if (!s.ok()) NN_LOG(Error) << "deleting test netns: " << s.error().message();
}

Status TestNetns::remove() {
  if (name_.empty()) return okStatus();
  const std::string name = std::exchange(name_, {});
  // `ip netns del` is plain unmount + unlink; it does not wait for the kernel's asynchronous netns cleanup.
  Status s = ipNetns({"netns", "del", name});
  if (!s.ok() && ::access(("/run/netns/" + name).c_str(), F_OK) != 0) return okStatus();  // already gone
  return s;
}

Result<RunResult> TestNetns::exec(const std::vector<std::string>& argv, RunOptions options) const {
  options.netns = path();
  return run(argv, options);
}

std::vector<std::string> listNetns(const std::string& prefix) {
  std::vector<std::string> names;
  DIR* d = ::opendir("/run/netns");
  if (!d) return names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && startsWith(n, prefix)) names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

int removeStaleNetns(const std::string& prefix) {
  int removed = 0;
  for (const std::string& name : listNetns(prefix)) {
    // "<pid>-<8 hex>" must follow the prefix exactly.
    std::string_view rest = std::string_view(name).substr(prefix.size());
    size_t i = 0;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    if (i == 0 || i > 9 || rest.size() < i + 9 || rest[i] != '-') continue;
    std::string_view hex = rest.substr(i + 1, 8);
    if (!std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
      continue;
    if (rest.size() > i + 9 && rest[i + 9] != '-') continue;
    const pid_t pid = static_cast<pid_t>(std::stol(std::string(rest.substr(0, i))));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // creator alive: not stale
    if (ipNetns({"netns", "del", name}).ok()) {
      NN_LOG(Warning) << "removed stale netns " << name << " (creator pid " << pid << " is gone)";
      ++removed;
    }
  }
  return removed;
}

}  // namespace nodenet::itest
