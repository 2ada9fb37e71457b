#include "metrics_test_support.hpp"

#include <redflag/metrics/precision_recall.hpp>

#include <doctest/doctest.h>

#include <limits>

using metrics_test::check_vector;
using metrics_test::curves_for;
using metrics_test::labels;
using metrics_test::scores;

namespace {

constexpr double tolerance = 1e-14;

}  // namespace

TEST_CASE_TEMPLATE("precision_recall_curve and average_precision_score match scikit-learn", T, float, double) {
  int checked = 0;
  for (const auto& c : sklearn_reference::ranking_cases) {
    CAPTURE(c.name);
    const auto& expected = curves_for<T>(c);
    const auto y = labels(c.y_true);
    const auto s = scores<T>(c.scores);
    const redflag::PrecisionRecallCurve curve = redflag::precision_recall_curve(y, s);
    // Same integer ratios as scikit-learn: equal to the last bit.
    check_vector(curve.precision, expected.pr_precision);
    check_vector(curve.recall, expected.pr_recall);
    check_vector(curve.thresholds, expected.pr_thresholds);
    // Summed in another order than numpy's pairwise sum.
    CHECK(redflag::average_precision_score(y, s) == doctest::Approx(expected.average_precision).epsilon(1e-12));
    ++checked;
  }
  CHECK(checked == 11);
}

TEST_CASE("average_precision_score is a step sum, not a trapezoid") {
  // sklearn's docstring example: AP = 0.8333..., the trapezoid would give 0.7916...
  const auto y = labels({0, 0, 1, 1});
  CHECK(redflag::average_precision_score(y, scores<double>({0.1, 0.4, 0.35, 0.8})) ==
        doctest::Approx(5.0 / 6.0).epsilon(1e-15));
  CHECK(redflag::average_precision_score(y, scores<double>({0.1, 0.2, 0.8, 0.9})) == 1.0);
  // All scores tied: one step at the prevalence.
  CHECK(redflag::average_precision_score(labels({0, 1, 0, 0}), scores<double>({3, 3, 3, 3})) == 0.25);
}

TEST_CASE_TEMPLATE("scores at a threshold match scikit-learn", T, float, double) {
  for (const auto& c : sklearn_reference::threshold_cases) {
    const auto y = labels(c.y_true);
    const auto s = scores<T>(c.scores);
    for (const auto& r : c.results) {
      CAPTURE(c.name);
      CAPTURE(r.threshold);
      // Predict 1 when score >= threshold; the float thresholds are rounded
      // like the scores so that ties stay ties.
      const redflag::AtThreshold at{static_cast<double>(static_cast<T>(r.threshold))};
      const redflag::ConfusionMatrix counts = redflag::confusion_matrix(y, s, at);
      CHECK(counts == redflag::ConfusionMatrix{.tn = r.tn, .fp = r.fp, .fn = r.fn, .tp = r.tp});
      CHECK(redflag::precision_score(y, s, at) == doctest::Approx(r.precision).epsilon(tolerance));
      CHECK(redflag::recall_score(y, s, at) == doctest::Approx(r.recall).epsilon(tolerance));
      CHECK(redflag::f1_score(y, s, at) == doctest::Approx(r.f1).epsilon(tolerance));
      CHECK(redflag::fbeta_score(y, s, at, 2.0) == doctest::Approx(r.f2).epsilon(tolerance));
      CHECK(redflag::fbeta_score(y, s, at, 0.5) == doctest::Approx(r.f05).epsilon(tolerance));
    }
  }
}

TEST_CASE("scores of 0/1 predictions match scikit-learn") {
  for (const auto& c : sklearn_reference::prediction_cases) {
    CAPTURE(c.name);
    const auto y = labels(c.y_true);
    const auto p = labels(c.y_pred);
    const redflag::ConfusionMatrix counts = redflag::confusion_matrix(y, p);
    CHECK(counts == redflag::ConfusionMatrix{.tn = c.tn, .fp = c.fp, .fn = c.fn, .tp = c.tp});
    CHECK(redflag::precision_score(y, p) == doctest::Approx(c.precision).epsilon(tolerance));
    CHECK(redflag::recall_score(y, p) == doctest::Approx(c.recall).epsilon(tolerance));
    CHECK(redflag::f1_score(y, p) == doctest::Approx(c.f1).epsilon(tolerance));
    CHECK(redflag::fbeta_score(y, p, 2.0) == doctest::Approx(c.f2).epsilon(tolerance));
    CHECK(redflag::fbeta_score(y, p, 0.5) == doctest::Approx(c.f05).epsilon(tolerance));
    // The counts overloads give the same numbers.
    CHECK(redflag::f1_score(counts) == redflag::f1_score(y, p));
  }
}

TEST_CASE("zero division gives 0 without throwing") {
  const redflag::ConfusionMatrix nothing_predicted{.tn = 3, .fp = 0, .fn = 2, .tp = 0};
  CHECK(redflag::precision_score(nothing_predicted) == 0.0);
  CHECK(redflag::f1_score(nothing_predicted) == 0.0);
  const redflag::ConfusionMatrix no_positives{.tn = 3, .fp = 1, .fn = 0, .tp = 0};
  CHECK(redflag::recall_score(no_positives) == 0.0);
  CHECK(redflag::fbeta_score(no_positives, 2.0) == 0.0);
  const auto y = labels({0, 1, 1});
  const auto s = scores<double>({0.1, 0.2, 0.3});
  CHECK(redflag::precision_score(y, s, redflag::AtThreshold{std::numeric_limits<double>::infinity()}) == 0.0);
  CHECK(redflag::recall_score(y, s, redflag::AtThreshold{-std::numeric_limits<double>::infinity()}) == 1.0);
}

TEST_CASE("the confusion matrix uses scikit-learn's layout") {
  const auto counts = redflag::confusion_matrix(labels({0, 0, 0, 1, 1, 1, 1}), labels({0, 1, 1, 0, 1, 1, 1}));
  CHECK(counts.tn == 1);
  CHECK(counts.fp == 2);
  CHECK(counts.fn == 1);
  CHECK(counts.tp == 3);
  CHECK(counts.total() == 7);
  const Eigen::Matrix<std::int64_t, 2, 2> matrix = counts.matrix();
  CHECK(matrix(0, 0) == 1);  // true 0, predicted 0
  CHECK(matrix(0, 1) == 2);  // true 0, predicted 1
  CHECK(matrix(1, 0) == 1);  // true 1, predicted 0
  CHECK(matrix(1, 1) == 3);  // true 1, predicted 1
}

TEST_CASE_TEMPLATE("precision-recall functions reject bad input", T, float, double) {
  const redflag::LabelVector y = labels({0, 1, 0, 1});
  const redflag::Vector<T> s = scores<T>({0.1, 0.2, 0.3, 0.4});
  const redflag::AtThreshold at{0.25};

  SUBCASE("no positives for the curve") {
    CHECK_THROWS_WITH_AS(redflag::precision_recall_curve(labels({0, 0, 0, 0}), s),
                         doctest::Contains("redflag::precision_recall_curve: y_true contains "
                                           "only class 0; a precision-recall curve needs at "
                                           "least one positive (class 1)"),
                         redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::average_precision_score(labels({0, 0, 0, 0}), s),
                         doctest::Contains("average precision needs at least one positive"), redflag::data_error);
  }
  SUBCASE("empty") {
    CHECK_THROWS_WITH_AS(redflag::average_precision_score(redflag::LabelVector(0), redflag::Vector<T>(0)),
                         doctest::Contains("redflag::average_precision_score: y_true is empty"), redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::f1_score(redflag::LabelVector(0), redflag::LabelVector(0)),
                         doctest::Contains("redflag::f1_score: y_true is empty"), redflag::data_error);
  }
  SUBCASE("length mismatch") {
    CHECK_THROWS_WITH_AS(redflag::precision_recall_curve(y, scores<T>({0.1})),
                         doctest::Contains("y_true has 4 rows but scores has 1"), redflag::invalid_argument);
    CHECK_THROWS_WITH_AS(redflag::precision_score(y, labels({0, 1})),
                         doctest::Contains("redflag::precision_score: y_true has 4 rows but "
                                           "y_pred has 2"),
                         redflag::invalid_argument);
  }
  SUBCASE("non-finite scores") {
    redflag::Vector<T> bad = s;
    bad(1) = std::numeric_limits<T>::infinity();
    CHECK_THROWS_WITH_AS(redflag::average_precision_score(y, bad), doctest::Contains("scores[1] = Inf is not finite"),
                         redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::recall_score(y, bad, at), doctest::Contains("redflag::recall_score: scores[1] = Inf"),
                         redflag::data_error);
  }
  SUBCASE("labels and predictions other than 0/1") {
    CHECK_THROWS_WITH_AS(redflag::precision_recall_curve(labels({0, 1, 3, 1}), s),
                         doctest::Contains("y_true[2] = 3 is not a binary label"), redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::confusion_matrix(y, labels({0, 1, 0, -1})),
                         doctest::Contains("redflag::confusion_matrix: y_pred[3] = -1 is not a "
                                           "binary label"),
                         redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::fbeta_score(labels({7, 1, 0, 1}), s, at, 2.0), doctest::Contains("y_true[0] = 7"),
                         redflag::data_error);
  }
  SUBCASE("beta") {
    for (const double beta :
         {0.0, -1.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
      CAPTURE(beta);
      CHECK_THROWS_WITH_AS(redflag::fbeta_score(y, y, beta),
                           doctest::Contains("redflag::fbeta_score: beta must be a finite number "
                                             "> 0, got"),
                           redflag::invalid_argument);
      CHECK_THROWS_AS(redflag::fbeta_score(y, s, at, beta), redflag::invalid_argument);
      CHECK_THROWS_AS(redflag::fbeta_score(redflag::ConfusionMatrix{}, beta), redflag::invalid_argument);
    }
  }
  SUBCASE("NaN threshold") {
    CHECK_THROWS_WITH_AS(redflag::f1_score(y, s, redflag::AtThreshold{std::numeric_limits<double>::quiet_NaN()}),
                         doctest::Contains("redflag::f1_score: threshold must be a number (not NaN), got NaN"),
                         redflag::invalid_argument);
  }
}
