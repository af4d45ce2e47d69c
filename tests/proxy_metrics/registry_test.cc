// The text exposition format, byte for byte.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

#include "proxy/metrics/registry.h"

namespace nodenet::proxy::metrics {
namespace {

TEST(FormatValue, MatchesGoShortestG) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(1), "1");
  EXPECT_EQ(formatValue(-1), "-1");
  EXPECT_EQ(formatValue(0.001), "0.001");
  EXPECT_EQ(formatValue(0.0001), "0.0001");
  EXPECT_EQ(formatValue(0.00001), "1e-05");
  EXPECT_EQ(formatValue(16.384), "16.384");
  EXPECT_EQ(formatValue(123456), "123456");
  EXPECT_EQ(formatValue(999999.5), "999999.5");
  EXPECT_EQ(formatValue(1e6), "1e+06");
  EXPECT_EQ(formatValue(1234567), "1.234567e+06");
  EXPECT_EQ(formatValue(1764000000.25), "1.76400000025e+09");
  EXPECT_EQ(formatValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
}

TEST(Buckets, ExponentialAndLinear) {
  EXPECT_EQ(exponentialBuckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
  EXPECT_EQ(linearBuckets(60, 5, 3), (std::vector<double>{60, 65, 70}));
}

TEST(Registry, GoldenExposition) {
  Registry r;
  Counter& c = r.counter("b_total", "A counter\nwith \\ escapes");
  Gauge& g = r.gauge("a_gauge", "A gauge");
  Histogram& h = r.histogram("c_seconds", "A histogram", {0.1, 0.5, 1});
  CounterVec& cv = r.counterVec("d_total", "Labelled", {"code"});
  GaugeVec& empty = r.gaugeVec("e_unused", "Never set", {"x"});
  (void)empty;
  c.inc();
  c.inc(2.5);
  c.inc(-7);  // ignored: counters never go down
  g.set(-3);
  g.add(1);
  h.observe(0.05);
  h.observe(0.1);  // upper bounds are inclusive
  h.observe(0.7);
  h.observe(30);
  cv.withLabels({"503"}).inc();
  cv.withLabels({"200"}).inc(2);
  cv.withLabels({"a\"b\\c\nd"}).inc();
  EXPECT_EQ(r.exposition(),
            "# HELP a_gauge A gauge\n"
            "# TYPE a_gauge gauge\n"
            "a_gauge -2\n"
            "# HELP b_total A counter\\nwith \\\\ escapes\n"
            "# TYPE b_total counter\n"
            "b_total 3.5\n"
            "# HELP c_seconds A histogram\n"
            "# TYPE c_seconds histogram\n"
            "c_seconds_bucket{le=\"0.1\"} 2\n"
            "c_seconds_bucket{le=\"0.5\"} 2\n"
            "c_seconds_bucket{le=\"1\"} 3\n"
            "c_seconds_bucket{le=\"+Inf\"} 4\n"
            "c_seconds_sum 30.85\n"
            "c_seconds_count 4\n"
            "# HELP d_total Labelled\n"
            "# TYPE d_total counter\n"
            "d_total{code=\"200\"} 2\n"
            "d_total{code=\"503\"} 1\n"
            "d_total{code=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Registry, ConcurrentUpdatesAreNotLost) {
  Registry r;
  Counter& c = r.counter("x_total", "x");
  Histogram& h = r.histogram("y_seconds", "y", {1});
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.value(), 40000);
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulativeCounts[0], 40000u);
  EXPECT_EQ(s.sum, 20000);
}

TEST(RegistryDeathTest, DuplicateOrInvalidNamesAbort) {
  EXPECT_DEATH(
      {
        Registry r;
        r.counter("dup_total", "x");
        r.gauge("dup_total", "y");
      },
      "registered twice");
  EXPECT_DEATH({ Registry().counter("bad-name", "x"); }, "not a valid Prometheus name");
  EXPECT_DEATH({ Registry().histogram("h", "x", {1, 1}); }, "strictly increasing");
  EXPECT_DEATH({ Registry().counterVec("v", "x", {"le"}); }, "invalid label name");
}

}  // namespace
}  // namespace nodenet::proxy::metrics
