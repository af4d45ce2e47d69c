#include "base/log.h"

#include <gtest/gtest.h>

#include "base/strings.h"

namespace nodenet {
namespace {

TEST(Log, VerbosityGatesEvaluation) {
  log::setVerbosity(1);
  int evaluated = 0;
  auto touch = [&] { return ++evaluated; };
  NN_VLOG(2) << touch();
  EXPECT_EQ(evaluated, 0);
  testing::internal::CaptureStderr();
  NN_VLOG(1) << "value " << touch();
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(evaluated, 1);
  EXPECT_EQ(out[0], 'I');
  EXPECT_NE(out.find("log_test.cc:"), std::string::npos);
  EXPECT_NE(out.find("] value 1\n"), std::string::npos);
  log::setVerbosity(0);
}

TEST(Log, JsonFormat) {
  ASSERT_TRUE(log::setFormat(std::string("json")));
  testing::internal::CaptureStderr();
  NN_LOG(Warning) << "quote \" here";
  std::string out = testing::internal::GetCapturedStderr();
  log::setFormat(log::Format::Text);
  EXPECT_NE(out.find("\"level\":\"warning\""), std::string::npos);
  EXPECT_NE(out.find("\"msg\":\"quote \\\" here\""), std::string::npos);
  EXPECT_FALSE(log::setFormat(std::string("xml")));
}

TEST(Strings, Helpers) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(trim("  x y \n"), "x y");
  EXPECT_EQ(jsonEscape("a\"b\\\n"), "a\\\"b\\\\\\n");
  EXPECT_EQ(strCat("mtu ", 1500), "mtu 1500");
}

}  // namespace
}  // namespace nodenet
