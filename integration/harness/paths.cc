#include "integration/harness/paths.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "base/strings.h"

#ifndef NODENET_ITEST_BUILD_DIR
#define NODENET_ITEST_BUILD_DIR ""
#endif
#ifndef NODENET_ITEST_SOURCE_DIR
#define NODENET_ITEST_SOURCE_DIR ""
#endif

namespace nodenet::itest {
namespace fs = std::filesystem;

namespace {
std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}
}  // namespace

std::string buildDir() {
  if (const char* v = std::getenv("NODENET_BUILD_DIR"); v && *v) return fs::absolute(v).lexically_normal().string();
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path candidate = exe.parent_path().parent_path();
    if (fs::exists(candidate / "CMakeCache.txt", ec)) return candidate.string();
  }
  return NODENET_ITEST_BUILD_DIR;
}

std::string sourceDir() { return envOr("NODENET_SOURCE_DIR", NODENET_ITEST_SOURCE_DIR); }
std::string confDir() { return sourceDir() + "/conf"; }
std::string ourBinary(const std::string& name) { return buildDir() + "/bin/" + name; }
std::string ourCniPath() { return buildDir() + "/cni"; }
std::string referenceCniPath() { return envOr("NODENET_REFERENCE_CNI_PATH", "/usr/lib/cni"); }

bool hasPlugins(const std::string& dir, std::initializer_list<const char*> types) {
  for (const char* t : types) {
    const std::string p = dir + "/" + t;
    if (::access(p.c_str(), X_OK) != 0 || fs::is_directory(p)) return false;
  }
  return true;
}

bool isRoot() { return ::geteuid() == 0; }

std::string randomContainerId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id;
  for (int i = 0; i < 4; ++i) {
    char part[17];
    std::snprintf(part, sizeof part, "%016llx", static_cast<unsigned long long>(rng()));
    id += part;
  }
  return id;
}

Result<TempDir> TempDir::create(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / strCat(prefix, ::getpid(), "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) return Error::fromErrno(errno, "mkdtemp " + tmpl);
  return TempDir(tmpl);
}

TempDir& TempDir::operator=(TempDir&& o) noexcept {
  if (this != &o) {
    TempDir drop(std::exchange(path_, {}));
    path_ = std::exchange(o.path_, {});
  }
  return *this;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int removeStaleTempDirs(const std::string& prefix) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (!startsWith(name, prefix) || !e.is_directory(ec)) continue;
    const std::string rest = name.substr(prefix.size());
    const size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos || dash > 9 ||
        !std::all_of(rest.begin(), rest.begin() + dash, [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    const pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    fs::remove_all(e.path(), ec);
    if (!ec) ++removed;
  }
  return removed;
}

}  // namespace nodenet::itest
