#include "base/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

#include "base/scope_guard.h"

namespace nodenet {
namespace {

Result<int> half(int x) {
  if (x % 2) return Error("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> quarter(int x) {
  NN_ASSIGN_OR_RETURN(int h, half(x));
  NN_ASSIGN_OR_RETURN(int q, half(h));
  return q;
}

Status checkEven(int x) {
  NN_TRY(half(x));
  return {};
}

TEST(Result, ValueAndError) {
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "odd: 3");
  EXPECT_TRUE(checkEven(4).ok());
  EXPECT_EQ(checkEven(5).error().message(), "odd: 5");
}

TEST(Result, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  auto p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Error, ErrnoAndContext) {
  Error e = Error::fromErrno(-EEXIST, "link cni0").context("ensureBridge");
  EXPECT_EQ(e.sysErrno(), EEXIST);
  EXPECT_EQ(e.message(), "ensureBridge: link cni0: File exists (errno 17)");
}

TEST(ScopeGuard, RunsUnlessDismissed) {
  int runs = 0;
  {
    ScopeGuard g([&] { ++runs; });
  }
  {
    ScopeGuard g([&] { ++runs; });
    g.dismiss();
  }
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace nodenet
