// Runs a callable when the scope ends unless dismissed: the rollback-while-!success habit of the CNI plugins.
#pragma once

#include <utility>

namespace nodenet {

template <typename F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F f) : f_(std::move(f)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (active_) f_();
  }
  /// The operation succeeded: do not run the rollback.
  void dismiss() { active_ = false; }

 private:
  F f_;
  bool active_ = true;
};

}  // namespace nodenet
