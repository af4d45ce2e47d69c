// A tiny Prometheus registry: counters, gauges and fixed-bucket histograms (optionally with labels), rendered
// in the text exposition format 0.0.4 exactly as the Go client does (families sorted by name, HELP and TYPE
// lines, shortest float formatting, "+Inf"). Updates are lock-free atomics, so hot paths never block a scrape.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace nodenet::proxy::metrics {

/// A monotonically increasing value.
class Counter {
 public:
  /// Adds v (must be >= 0; negative values are ignored, as a counter never goes down).
  void inc(double v = 1) {
    if (v > 0) value_.fetch_add(v, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// A value that goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Cumulative histogram with fixed upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  /// upperBounds must be strictly increasing and finite (the registry checks before constructing).
  explicit Histogram(std::vector<double> upperBounds);
  /// Records one observation: it lands in the first bucket whose upper bound is >= v.
  void observe(double v);

  struct Snapshot {
    std::vector<double> upperBounds;
    std::vector<uint64_t> cumulativeCounts;  // one per upper bound
    uint64_t count = 0;                      // the +Inf bucket
    double sum = 0;
  };
  /// A consistent-enough copy for rendering (each field read atomically; a concurrent observe may be
  /// half-visible, as in the Go client's lock-free path).
  Snapshot snapshot() const;
  const std::vector<double>& upperBounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

/// `count` buckets: start, start*factor, start*factor^2, ... (Prometheus ExponentialBuckets).
std::vector<double> exponentialBuckets(double start, double factor, int count);
/// `count` buckets: start, start+width, ... (Prometheus LinearBuckets).
std::vector<double> linearBuckets(double start, double width, int count);

/// A metric family with label names; children are created on first use and live as long as the registry.
template <typename M>
class Vec {
 public:
  explicit Vec(std::vector<std::string> labelNames) : labelNames_(std::move(labelNames)) {}
  /// The child for these label values (one per label name, in order). A wrong number of values is a
  /// programming error and aborts.
  M& withLabels(const std::vector<std::string>& values);
  const std::vector<std::string>& labelNames() const { return labelNames_; }
  /// Children sorted by label values, for rendering.
  std::vector<std::pair<std::vector<std::string>, const M*>> children() const;

 private:
  std::vector<std::string> labelNames_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};
using CounterVec = Vec<Counter>;
using GaugeVec = Vec<Gauge>;

/// Owns metric families by name. Registration is a startup-time act with constant names: an invalid or
/// duplicate name, or non-increasing buckets, is a programming error and aborts with the name.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(const std::string& name, const std::string& help);
  Gauge& gauge(const std::string& name, const std::string& help);
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> upperBounds);
  CounterVec& counterVec(const std::string& name, const std::string& help, std::vector<std::string> labelNames);
  GaugeVec& gaugeVec(const std::string& name, const std::string& help, std::vector<std::string> labelNames);

  /// Every family in the text exposition format 0.0.4, sorted by name; a labelled family with no children
  /// yet is omitted (as the Go client does). Safe to call concurrently with updates.
  std::string exposition() const;

 private:
  struct Family;
  Family& add(const std::string& name, const std::string& help, const char* type);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

/// The content type of exposition(): what Prometheus expects for the text format.
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Formats a sample value the way the Go client does (strconv 'g', shortest): "0", "1", "0.001", "1e-05",
/// "1.7e+09", "+Inf", "-Inf", "NaN".
std::string formatValue(double v);

}  // namespace nodenet::proxy::metrics
