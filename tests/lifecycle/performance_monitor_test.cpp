#include <redflag/lifecycle/performance_monitor.hpp>

#include <doctest/doctest.h>

#include <string>

using redflag::LabelVector;
using redflag::PerformanceMonitor;

TEST_CASE("precision, recall and accuracy per model version") {
  PerformanceMonitor monitor;
  // Version 1: 8 confirmed frauds, 2 false alarms, 1 missed fraud, 9 confirmed normal.
  for (int i = 0; i < 8; ++i) monitor.record(1, true, true);
  for (int i = 0; i < 2; ++i) monitor.record(1, true, false);
  monitor.record(1, false, true);
  for (int i = 0; i < 9; ++i) monitor.record(1, false, false);
  // Version 2 only has false alarms so far.
  monitor.record(2, true, false);
  const auto first = monitor.stats(1);
  CHECK(first.feedback == 20);
  CHECK(first.true_positives == 8);
  CHECK(first.false_positives == 2);
  CHECK(first.false_negatives == 1);
  CHECK(first.true_negatives == 9);
  CHECK(*first.precision == doctest::Approx(0.8));
  CHECK(*first.recall == doctest::Approx(8.0 / 9.0));
  CHECK(first.accuracy == doctest::Approx(17.0 / 20.0));
  const auto second = monitor.stats(2);
  CHECK(*second.precision == 0.0);
  CHECK_FALSE(second.recall.has_value());  // no fraud seen yet
  CHECK(monitor.versions() == std::vector<std::uint64_t>{1, 2});
}

TEST_CASE("alerts below the default thresholds (accuracy 0.8, precision 0.7) once enough feedback arrived") {
  PerformanceMonitor monitor({.window = 200, .min_feedback = 50});
  // 40 outcomes at precision 0.5: too few to alert on.
  for (int i = 0; i < 20; ++i) {
    monitor.record(3, true, true);
    monitor.record(3, true, false);
  }
  CHECK(monitor.alerts().empty());
  for (int i = 0; i < 10; ++i) {
    monitor.record(3, true, true);
    monitor.record(3, true, false);
  }
  const auto alerts = monitor.alerts(3);
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[0].metric == "accuracy");
  CHECK(alerts[0].value == doctest::Approx(0.5));
  CHECK(alerts[0].threshold == 0.8);
  CHECK(alerts[1].metric == "precision");
  CHECK(alerts[1].threshold == 0.7);
  CHECK(alerts[1].message() == "model version 3: precision 0.5 is below 0.7 over the last 60 labelled outcomes");
}

TEST_CASE("the window slides: old outcomes stop counting") {
  PerformanceMonitor monitor({.window = 100, .min_feedback = 100, .min_recall = 0.5});
  for (int i = 0; i < 100; ++i) monitor.record(1, false, true);  // all fraud missed
  REQUIRE(monitor.alerts(1).size() == 2);                        // accuracy 0, recall 0
  CHECK(monitor.alerts(1)[1].metric == "recall");
  for (int i = 0; i < 100; ++i) monitor.record(1, true, true);  // then all caught
  const auto stats = monitor.stats(1);
  CHECK(stats.feedback == 100);
  CHECK(stats.false_negatives == 0);
  CHECK(*stats.recall == 1.0);
  CHECK(monitor.alerts(1).empty());
  monitor.forget(1);
  CHECK(monitor.versions().empty());
}

TEST_CASE("batches of labels, and bad input") {
  PerformanceMonitor monitor;
  monitor.record(4, (LabelVector(4) << 1, 1, 0, 0).finished(), (LabelVector(4) << 1, 0, 0, 1).finished());
  CHECK(monitor.stats(4).true_positives == 1);
  CHECK(monitor.stats(4).false_negatives == 1);
  CHECK_THROWS_WITH_AS(monitor.record(4, (LabelVector(2) << 1, 2).finished(), (LabelVector(2) << 1, 0).finished()),
                       "redflag::PerformanceMonitor::record: predicted[1] = 2 is not a binary label (expected 0 or 1)",
                       redflag::data_error);
  CHECK_THROWS_AS(monitor.record(4, LabelVector(2), LabelVector(3)), redflag::invalid_argument);
  CHECK(monitor.stats(4).feedback == 4);
  CHECK_THROWS_WITH_AS((void)monitor.stats(9),
                       "redflag::PerformanceMonitor::stats: no feedback recorded for model version 9",
                       redflag::invalid_argument);
  CHECK_THROWS_AS(PerformanceMonitor({.window = 0}), redflag::invalid_argument);
  CHECK_THROWS_AS(PerformanceMonitor({.window = 10, .min_feedback = 20}), redflag::invalid_argument);
  CHECK_THROWS_AS(PerformanceMonitor({.min_precision = 1.5}), redflag::invalid_argument);
}
