// Errors as values: Result<T> is a std::expected-shaped holder of either a value or an Error.
//
// Policy (STYLE.md habit 11): anything bad input or the environment can cause returns a Result with a
// message naming the object and, for system calls, the errno. Broken invariants abort. No exception crosses
// a module boundary.
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace nodenet {

/// An error: a human message (already naming the object) and, when it came from the system, the errno.
class Error {
 public:
  Error() = default;
  explicit Error(std::string message, int sysErrno = 0) : message_(std::move(message)), errno_(sysErrno) {}

  /// "what: strerror(err)" with errno kept for callers that branch on it (EEXIST, ENOENT, ...).
  static Error fromErrno(int err, const std::string& what);

  const std::string& message() const { return message_; }
  /// The errno this error came from, or 0 when it did not come from a system call.
  int sysErrno() const { return errno_; }

  /// Prefixes the message with context: "ctx: message". Keeps errno.
  Error context(const std::string& ctx) const& { return Error(ctx + ": " + message_, errno_); }
  Error context(const std::string& ctx) && {
    message_ = ctx + ": " + message_;
    return std::move(*this);
  }

 private:
  std::string message_;
  int errno_ = 0;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  Result(const T& v) : v_(std::in_place_index<0>, v) {}
  Result(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, Error> &&
                                                    !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& u) : v_(std::in_place_index<0>, std::forward<U>(u)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

  T valueOr(T fallback) const { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return err_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(err_);
  }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status okStatus() { return {}; }

}  // namespace nodenet

#define NN_CONCAT_INNER(a, b) a##b
#define NN_CONCAT(a, b) NN_CONCAT_INNER(a, b)

/// Evaluates a Result/Status expression and returns its error from the enclosing function on failure.
#define NN_TRY(expr)                                 \
  do {                                               \
    auto&& nn_try_result_ = (expr);                  \
    if (!nn_try_result_.ok())                        \
      return std::move(nn_try_result_).error();      \
  } while (0)

/// `NN_ASSIGN_OR_RETURN(auto x, f());` declares x from the value, or returns the error.
#define NN_ASSIGN_OR_RETURN(lhs, expr) NN_ASSIGN_OR_RETURN_IMPL(NN_CONCAT(nn_aor_, __LINE__), lhs, expr)
#define NN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).error();  \
  lhs = std::move(tmp).value()
