// base/file.h: whole-file reads with errno-carrying errors, a size cap, and no hang on a FIFO.
#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace nodenet {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "nodenet-file-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FileTest, ReadsWholeFileIncludingNulBytesAndLargerThanOneBuffer) {
  std::string content(200'000, 'x');
  content[7] = '\0';
  std::ofstream(dir_ + "/f", std::ios::binary) << content;
  auto text = readFile(dir_ + "/f");
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_EQ(*text, content);
}

TEST_F(FileTest, EmptyFile) {
  std::ofstream(dir_ + "/empty");
  auto text = readFile(dir_ + "/empty");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "");
}

TEST_F(FileTest, MissingFileKeepsErrnoAndNamesThePath) {
  auto text = readFile(dir_ + "/missing");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().sysErrno(), ENOENT);
  EXPECT_NE(text.error().message().find("open " + dir_ + "/missing"), std::string::npos) << text.error().message();
}

TEST_F(FileTest, LargerThanTheCapIsAnError) {
  std::ofstream(dir_ + "/big") << std::string(1000, 'y');
  auto text = readFile(dir_ + "/big", 999);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message().find("larger than 999 bytes"), std::string::npos) << text.error().message();
  EXPECT_TRUE(readFile(dir_ + "/big", 1000).ok());
}

TEST_F(FileTest, DirectoryIsAnError) {
  auto text = readFile(dir_);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().sysErrno(), EISDIR);
}

TEST_F(FileTest, FifoWithoutWriterDoesNotHang) {
  ASSERT_EQ(mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  auto text = readFile(dir_ + "/fifo");  // O_NONBLOCK: no writer reads as end of file at once
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_EQ(*text, "");
}

}  // namespace
}  // namespace nodenet
