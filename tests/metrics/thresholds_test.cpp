#include "metrics_test_support.hpp"

#include <redflag/metrics/thresholds.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using metrics_test::curves_for;
using metrics_test::labels;
using metrics_test::scores;

namespace {

template <class T>
long count_at_least(const redflag::Vector<T>& s, double threshold) {
  long count = 0;
  for (redflag::Index i = 0; i < s.size(); ++i) count += static_cast<double>(s(i)) >= threshold;
  return count;
}

}  // namespace

TEST_CASE_TEMPLATE("youden_j_threshold matches argmax(tpr - fpr) on scikit-learn's curve", T, float, double) {
  int checked = 0;
  for (const auto& c : sklearn_reference::ranking_cases) {
    const auto& expected = curves_for<T>(c);
    if (std::isnan(expected.roc_auc)) continue;
    CAPTURE(c.name);
    const auto result = redflag::youden_j_threshold(labels(c.y_true), scores<T>(c.scores));
    CHECK(result.threshold == expected.youden[0]);
    CHECK(result.j == doctest::Approx(expected.youden[1]).epsilon(1e-15));
    CHECK(result.tpr == expected.youden[2]);
    CHECK(result.fpr == expected.youden[3]);
    ++checked;
  }
  CHECK(checked == 10);
}

TEST_CASE_TEMPLATE("fbeta_optimal_threshold matches a brute-force scikit-learn search", T, float, double) {
  for (const auto& c : sklearn_reference::ranking_cases) {
    CAPTURE(c.name);
    const auto& expected = curves_for<T>(c);
    const auto y = labels(c.y_true);
    const auto s = scores<T>(c.scores);
    const auto f1 = redflag::fbeta_optimal_threshold(y, s);
    CHECK(f1.threshold == expected.f1_best[0]);
    CHECK(f1.fbeta == doctest::Approx(expected.f1_best[1]).epsilon(1e-14));
    CHECK(f1.precision == doctest::Approx(expected.f1_best[2]).epsilon(1e-14));
    CHECK(f1.recall == doctest::Approx(expected.f1_best[3]).epsilon(1e-14));
    const auto f2 = redflag::fbeta_optimal_threshold(y, s, 2.0);
    CHECK(f2.threshold == expected.f2_best[0]);
    CHECK(f2.fbeta == doctest::Approx(expected.f2_best[1]).epsilon(1e-14));
    CHECK(f2.precision == doctest::Approx(expected.f2_best[2]).epsilon(1e-14));
    CHECK(f2.recall == doctest::Approx(expected.f2_best[3]).epsilon(1e-14));
  }
}

TEST_CASE("threshold ties go to the highest threshold") {
  // J is 0 at every threshold of a useless scorer: the highest score wins.
  const auto y = labels({0, 1, 0, 1});
  const auto useless = redflag::youden_j_threshold(y, scores<double>({1, 1, 2, 2}));
  CHECK(useless.threshold == 2.0);
  CHECK(useless.j == 0.0);
  // Thresholds 3 and 1 both give J = 1/2 (tpr 1/2, fpr 0 and tpr 1, fpr 1/2).
  const auto tied = redflag::youden_j_threshold(labels({1, 0, 1, 0}), scores<double>({3, 2, 1, 0}));
  CHECK(tied.threshold == 3.0);
  CHECK(tied.j == 0.5);
}

TEST_CASE_TEMPLATE("contamination_threshold is numpy's percentile", T, float, double) {
  for (const auto& c : sklearn_reference::contamination_cases) {
    const auto s = scores<T>(c.scores);
    const auto& expected = std::is_same_v<T, float> ? c.float32 : c.float64;
    for (const auto& r : expected) {
      CAPTURE(c.name);
      CAPTURE(r.contamination);
      const double threshold = redflag::contamination_threshold(s, r.contamination);
      // numpy's lerp replayed step by step: equal to the last bit.
      CHECK(threshold == r.threshold);
      CHECK(count_at_least(s, threshold) == r.flagged_ge);
    }
  }
}

TEST_CASE("contamination_threshold reproduces a fitted IsolationForest's offset_") {
  for (const auto& c : sklearn_reference::isolation_forest_cases) {
    CAPTURE(c.contamination);
    const auto s = scores<double>(c.scores);
    const double threshold = redflag::contamination_threshold(s, c.contamination);
    CHECK(threshold == doctest::Approx(c.threshold).epsilon(1e-12));
    // IsolationForest flags the scores strictly above the threshold.
    long flagged = 0;
    for (redflag::Index i = 0; i < s.size(); ++i) flagged += s(i) > threshold;
    CHECK(flagged == c.flagged);
  }
}

TEST_CASE("contamination_threshold with a whole-number index flags the tie too") {
  // 11 scores 0..10, contamination 0.1: the 90th percentile is exactly 9, so
  // score >= 9 flags two and IsolationForest's score > 9 flags one.
  redflag::Vector<double> s = redflag::Vector<double>::LinSpaced(11, 0.0, 10.0);
  const double threshold = redflag::contamination_threshold(s, 0.1);
  CHECK(threshold == 9.0);
  CHECK(count_at_least(s, threshold) == 2);
  CHECK(redflag::contamination_threshold(s, 0.5) == 5.0);
  CHECK(redflag::contamination_threshold(s, 0.25) == 7.5);
}

TEST_CASE_TEMPLATE("threshold selection rejects bad input", T, float, double) {
  const auto y = labels({0, 1, 0, 1});
  const auto s = scores<T>({0.1, 0.2, 0.3, 0.4});

  SUBCASE("contamination outside (0, 0.5]") {
    for (const double c : {0.0, -0.1, 0.5000001, 1.0, std::numeric_limits<double>::quiet_NaN()}) {
      CAPTURE(c);
      CHECK_THROWS_WITH_AS(redflag::contamination_threshold(s, c),
                           doctest::Contains("redflag::contamination_threshold: contamination "
                                             "must be in (0, 0.5], got"),
                           redflag::invalid_argument);
    }
    CHECK_NOTHROW(redflag::contamination_threshold(s, 0.5));
  }
  SUBCASE("bad scores") {
    CHECK_THROWS_WITH_AS(redflag::contamination_threshold(redflag::Vector<T>(0), 0.1),
                         doctest::Contains("scores is empty"), redflag::data_error);
    redflag::Vector<T> bad = s;
    bad(3) = std::numeric_limits<T>::quiet_NaN();
    CHECK_THROWS_WITH_AS(redflag::contamination_threshold(bad, 0.1), doctest::Contains("scores[3] = NaN is not finite"),
                         redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::youden_j_threshold(y, bad),
                         doctest::Contains("redflag::youden_j_threshold: scores[3] = NaN"), redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::fbeta_optimal_threshold(y, bad),
                         doctest::Contains("redflag::fbeta_optimal_threshold: scores[3] = NaN"), redflag::data_error);
  }
  SUBCASE("labels") {
    CHECK_THROWS_WITH_AS(redflag::youden_j_threshold(labels({0, 1, 1, 1}), scores<T>({1, 2, 3})),
                         doctest::Contains("y_true has 4 rows but scores has 3"), redflag::invalid_argument);
    CHECK_THROWS_WITH_AS(redflag::youden_j_threshold(labels({0, 1, 5, 1}), s),
                         doctest::Contains("y_true[2] = 5 is not a binary label"), redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::youden_j_threshold(labels({1, 1, 1, 1}), s),
                         doctest::Contains("y_true contains only class 1; Youden's J needs both "
                                           "classes"),
                         redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::fbeta_optimal_threshold(labels({0, 0, 0, 0}), s),
                         doctest::Contains("y_true contains only class 0; an F-beta threshold "
                                           "needs at least one positive"),
                         redflag::data_error);
  }
  SUBCASE("beta") {
    CHECK_THROWS_WITH_AS(redflag::fbeta_optimal_threshold(y, s, 0.0),
                         doctest::Contains("redflag::fbeta_optimal_threshold: beta must be a "
                                           "finite number > 0, got 0"),
                         redflag::invalid_argument);
  }
}
