// CNI error values (spec section "Error") and the CniResult<T> holder used by every CNI entry point.
//
// Naming note: inside namespace nodenet::cni, `Error` is this CNI error (code + msg + details). Code in that
// namespace that wants the base error type must spell it `nodenet::Error`.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "base/result.h"

namespace nodenet::cni {

/// Well-known error codes from the CNI spec (1.1) plus the reference library's extras (8, 999).
enum ErrorCode : unsigned {
  kErrIncompatibleVersion = 1,  // incompatible CNI version
  kErrUnsupportedField = 2,     // unsupported field in network configuration
  kErrUnknownContainer = 3,     // container unknown or does not exist
  kErrInvalidEnv = 4,           // invalid necessary environment variables
  kErrIoFailure = 5,            // I/O failure
  kErrDecodingFailure = 6,      // failed to decode content
  kErrInvalidNetworkConfig = 7, // invalid network config
  kErrInvalidNetns = 8,         // reference library: CNI_NETNS is the plugin's own netns
  kErrTryAgainLater = 11,       // transient; the runtime should retry
  kErrNotAvailable = 50,        // STATUS: plugin not available, runtime must not ADD
  kErrLimitedConnectivity = 51, // STATUS: limited connectivity
  kErrInternal = 999,           // reference library: any error that carries no code
};
// Codes 100 and above are plugin specific.

/// A CNI error as printed on stdout: {"cniVersion", "code", "msg", "details"}.
struct Error {
  unsigned code = kErrInternal;
  std::string msg;
  std::string details;

  /// Wraps a base error; its message becomes msg. Used for errors that carry no spec code (999, as the
  /// reference skel does for plain Go errors).
  static Error from(const nodenet::Error& e, unsigned code = kErrInternal) { return Error{code, e.message(), {}}; }
  /// "msg; details" like the reference's Error().
  std::string toString() const { return details.empty() ? msg : msg + "; " + details; }
  /// The spec's error JSON, indented with four spaces like the reference (details omitted when empty).
  std::string toJson(const std::string& cniVersion) const;
};

/// Either a value or a cni::Error. Converts implicitly from a base nodenet::Error (code 999), so NN_TRY and
/// NN_ASSIGN_OR_RETURN over base Results work inside functions returning CniResult.
template <typename T>
class [[nodiscard]] CniResult {
 public:
  CniResult(const T& v) : v_(std::in_place_index<0>, v) {}
  CniResult(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}
  CniResult(Error e) : v_(std::in_place_index<1>, std::move(e)) {}
  CniResult(const nodenet::Error& e) : v_(std::in_place_index<1>, Error::from(e)) {}
  /// A base Result converts as a whole (its error gets code 999).
  CniResult(nodenet::Result<T> r)
      : v_(r.ok() ? std::variant<T, Error>(std::in_place_index<0>, std::move(r).value())
                  : std::variant<T, Error>(std::in_place_index<1>, Error::from(r.error()))) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] CniResult<void> {
 public:
  CniResult() = default;
  CniResult(Error e) : err_(std::move(e)), ok_(false) {}
  CniResult(const nodenet::Error& e) : err_(Error::from(e)), ok_(false) {}
  /// A base Status converts as a whole (its error gets code 999).
  CniResult(const nodenet::Status& s) : ok_(s.ok()) {
    if (!s.ok()) err_ = Error::from(s.error());
  }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { assert(!ok_); return err_; }
  Error&& error() && { assert(!ok_); return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

using CniStatus = CniResult<void>;

/// Attaches a spec code to a base Result's error: withCode(kErrInvalidNetworkConfig, parse(...)).
template <typename T>
CniResult<T> withCode(unsigned code, nodenet::Result<T> r) {
  if (r.ok()) return std::move(r).value();
  return Error::from(r.error(), code);
}
inline CniStatus withCode(unsigned code, nodenet::Status s) {
  if (s.ok()) return {};
  return Error::from(s.error(), code);
}

}  // namespace nodenet::cni
