// Prometheus text exposition format 0.0.4:
// https://github.com/prometheus/docs/blob/main/content/docs/instrumenting/exposition_formats.md
#include "proxy/metrics/registry.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <variant>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::proxy::metrics {
namespace {

bool validName(const std::string& n, bool label) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  // Label names starting with "__" are reserved for Prometheus itself.
  return !(label && startsWith(n, "__"));
}

std::string escapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escapeLabelValue(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}

/// {a="x",b="y"} plus an optional extra label (le for buckets); "" when there are none.
std::string labelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const std::string& extraName = "", const std::string& extraValue = "") {
  std::vector<std::string> parts;
  for (size_t i = 0; i < names.size(); ++i) parts.push_back(names[i] + "=\"" + escapeLabelValue(values[i]) + "\"");
  if (!extraName.empty()) parts.push_back(extraName + "=\"" + escapeLabelValue(extraValue) + "\"");
  if (parts.empty()) return "";
  return "{" + join(parts, ",") + "}";
}

}  // namespace

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return "0";
  // Go's strconv.FormatFloat(v, 'g', -1, 64), which the Go client's text encoder uses: the shortest digits
  // that round-trip, in %e form when the decimal exponent is < -4 or >= 6 (strconv/ftoa.go fixes the
  // precision at 6 for this decision in shortest mode), else plain decimal. So 1e+06, 123456, 1e-05.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  size_t e = sci.find('e');
  int exp = std::atoi(sci.c_str() + e + 1);
  if (exp < -4 || exp >= 6) {
    // to_chars writes at least two exponent digits with a sign ("1e-05", "1.7640168e+09"), as Go does.
    return sci;
  }
  r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

Histogram::Histogram(std::vector<double> upperBounds)
    : bounds_(std::move(upperBounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // Buckets are few (15 to 80); a linear scan beats a binary search's branch mispredictions at this size.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upperBounds = bounds_;
  uint64_t acc = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    acc += counts_[i].load(std::memory_order_relaxed);
    s.cumulativeCounts.push_back(acc);
  }
  acc += counts_[bounds_.size()].load(std::memory_order_relaxed);
  // The +Inf bucket must equal _count in the output; derive both from the buckets so they always agree.
  s.count = acc;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> exponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(v);
    v *= factor;
  }
  return out;
}

std::vector<double> linearBuckets(double start, double width, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(start + width * i);
  return out;
}

template <typename M>
M& Vec<M>::withLabels(const std::vector<std::string>& values) {
  if (values.size() != labelNames_.size())
    NN_LOG(Fatal) << "metric labels: got " << values.size() << " values for " << labelNames_.size() << " names ("
                  << join(labelNames_, ",") << ")";
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = children_[values];
  if (!slot) slot = std::make_unique<M>();
  return *slot;
}

template <typename M>
std::vector<std::pair<std::vector<std::string>, const M*>> Vec<M>::children() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::vector<std::string>, const M*>> out;
  for (auto& [k, v] : children_) out.emplace_back(k, v.get());
  return out;
}

template class Vec<Counter>;
template class Vec<Gauge>;

struct Registry::Family {
  std::string name;
  std::string help;
  const char* type;
  std::variant<std::unique_ptr<Counter>, std::unique_ptr<Gauge>, std::unique_ptr<Histogram>,
               std::unique_ptr<CounterVec>, std::unique_ptr<GaugeVec>>
      metric;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::add(const std::string& name, const std::string& help, const char* type) {
  if (!validName(name, false)) NN_LOG(Fatal) << "metric name " << name << " is not a valid Prometheus name";
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = families_[name];
  if (slot) NN_LOG(Fatal) << "metric " << name << " registered twice";
  slot = std::make_unique<Family>();
  slot->name = name;
  slot->help = help;
  slot->type = type;
  return *slot;
}

Counter& Registry::counter(const std::string& name, const std::string& help) {
  Family& f = add(name, help, "counter");
  auto p = std::make_unique<Counter>();
  Counter& ref = *p;
  f.metric = std::move(p);
  return ref;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help) {
  Family& f = add(name, help, "gauge");
  auto p = std::make_unique<Gauge>();
  Gauge& ref = *p;
  f.metric = std::move(p);
  return ref;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> upperBounds) {
  for (size_t i = 0; i < upperBounds.size(); ++i) {
    if (!std::isfinite(upperBounds[i]) || (i > 0 && upperBounds[i] <= upperBounds[i - 1]))
      NN_LOG(Fatal) << "histogram " << name << ": bucket bounds must be finite and strictly increasing (bound " << i
                    << " = " << upperBounds[i] << ")";
  }
  Family& f = add(name, help, "histogram");
  auto p = std::make_unique<Histogram>(std::move(upperBounds));
  Histogram& ref = *p;
  f.metric = std::move(p);
  return ref;
}

CounterVec& Registry::counterVec(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  for (auto& l : labels)
    if (!validName(l, true) || l == "le") NN_LOG(Fatal) << "metric " << name << ": invalid label name " << l;
  Family& f = add(name, help, "counter");
  auto p = std::make_unique<CounterVec>(std::move(labels));
  CounterVec& ref = *p;
  f.metric = std::move(p);
  return ref;
}

GaugeVec& Registry::gaugeVec(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  for (auto& l : labels)
    if (!validName(l, true) || l == "le") NN_LOG(Fatal) << "metric " << name << ": invalid label name " << l;
  Family& f = add(name, help, "gauge");
  auto p = std::make_unique<GaugeVec>(std::move(labels));
  GaugeVec& ref = *p;
  f.metric = std::move(p);
  return ref;
}

std::string Registry::exposition() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    std::string samples;
    if (auto* c = std::get_if<std::unique_ptr<Counter>>(&f->metric)) {
      samples = name + " " + formatValue((*c)->value()) + "\n";
    } else if (auto* g = std::get_if<std::unique_ptr<Gauge>>(&f->metric)) {
      samples = name + " " + formatValue((*g)->value()) + "\n";
    } else if (auto* h = std::get_if<std::unique_ptr<Histogram>>(&f->metric)) {
      Histogram::Snapshot s = (*h)->snapshot();
      for (size_t i = 0; i < s.upperBounds.size(); ++i)
        samples += strCat(name, "_bucket{le=\"", formatValue(s.upperBounds[i]), "\"} ", s.cumulativeCounts[i], "\n");
      samples += strCat(name, "_bucket{le=\"+Inf\"} ", s.count, "\n");
      samples += strCat(name, "_sum ", formatValue(s.sum), "\n");
      samples += strCat(name, "_count ", s.count, "\n");
    } else if (auto* cv = std::get_if<std::unique_ptr<CounterVec>>(&f->metric)) {
      for (auto& [values, m] : (*cv)->children())
        samples += name + labelSet((*cv)->labelNames(), values) + " " + formatValue(m->value()) + "\n";
    } else if (auto* gv = std::get_if<std::unique_ptr<GaugeVec>>(&f->metric)) {
      for (auto& [values, m] : (*gv)->children())
        samples += name + labelSet((*gv)->labelNames(), values) + " " + formatValue(m->value()) + "\n";
    }
    if (samples.empty()) continue;
    out += "# HELP " + name + " " + escapeHelp(f->help) + "\n";
    out += "# TYPE " + name + " " + f->type + "\n";
    out += samples;
  }
  return out;
}

}  // namespace nodenet::proxy::metrics
