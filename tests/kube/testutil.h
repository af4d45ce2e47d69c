// Shared helpers for the kube/objects tests: fixture loading and Result unwrapping.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "base/strings.h"
#include "kube/objects/decode.h"

namespace nodenet::kube::testing {

inline std::string readTestdata(const std::string& name) {
  std::ifstream in(std::string(NODENET_KUBE_TESTDATA) + "/" + name);
  EXPECT_TRUE(in.good()) << "missing testdata " << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline nlohmann::json loadJson(const std::string& name) { return nlohmann::json::parse(readTestdata(name)); }

/// The value of an ok Result; fails the test (and returns a default) otherwise.
template <typename T>
T unwrap(Result<T> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? std::move(r).value() : T{};
}

/// The error message of a failed Result; fails the test when it succeeded.
template <typename T>
std::string errorOf(const Result<T>& r) {
  EXPECT_FALSE(r.ok()) << "expected an error";
  return r.ok() ? std::string() : r.error().message();
}

inline IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }
inline Cidr cidr(const char* text) { return Cidr::parse(text).value(); }

}  // namespace nodenet::kube::testing
