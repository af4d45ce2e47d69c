// ConfigWatch: a changed --config content is noticed (in-place write, editor rename, ConfigMap ..data symlink
// swap, removal); a rewrite with the same bytes is not. Uses inotify on a temporary directory (no root).
#include "proxy/daemon/config_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace nodenet::proxy::daemon {
namespace {

namespace fs = std::filesystem;

void writeFile(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::trunc);
  f << text;
}

class ConfigWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nn-cfgwatch-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ConfigWatchTest, InPlaceWrites) {
  writeFile(dir_ / "config.conf", "a: 1\n");
  auto w = ConfigWatch::create((dir_ / "config.conf").string(), "a: 1\n");
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_FALSE((*w)->changed());
  writeFile(dir_ / "config.conf", "a: 1\n");
  EXPECT_FALSE((*w)->changed()) << "same bytes";
  writeFile(dir_ / "other.txt", "x");
  EXPECT_FALSE((*w)->changed()) << "another file";
  writeFile(dir_ / "config.conf", "a: 2\n");
  EXPECT_TRUE((*w)->changed());
}

TEST_F(ConfigWatchTest, ConfigMapSymlinkSwap) {
  // The kubelet's layout: config.conf -> ..data/config.conf, ..data -> ..<timestamp> (swapped atomically).
  fs::create_directory(dir_ / "..v1");
  writeFile(dir_ / "..v1" / "config.conf", "v: 1\n");
  fs::create_directory_symlink("..v1", dir_ / "..data");
  fs::create_symlink("..data/config.conf", dir_ / "config.conf");
  auto w = ConfigWatch::create((dir_ / "config.conf").string(), "v: 1\n");
  ASSERT_TRUE(w.ok());
  fs::create_directory(dir_ / "..v2");
  writeFile(dir_ / "..v2" / "config.conf", "v: 2\n");
  fs::create_directory_symlink("..v2", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  EXPECT_TRUE((*w)->changed());
}

TEST_F(ConfigWatchTest, RemovalCountsAsChange) {
  writeFile(dir_ / "config.conf", "a: 1\n");
  auto w = ConfigWatch::create((dir_ / "config.conf").string(), "a: 1\n");
  ASSERT_TRUE(w.ok());
  fs::remove(dir_ / "config.conf");
  EXPECT_TRUE((*w)->changed());
}

TEST_F(ConfigWatchTest, MissingDirectoryIsAnError) {
  auto w = ConfigWatch::create((dir_ / "nope" / "config.conf").string(), "");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message().find("nope"), std::string::npos) << w.error().message();
}

}  // namespace
}  // namespace nodenet::proxy::daemon
