#include "metrics_test_support.hpp"

#include <redflag/metrics/roc.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <vector>

using metrics_test::check_vector;
using metrics_test::curves_for;
using metrics_test::labels;
using metrics_test::scores;

namespace {

// Mann-Whitney statistic by comparing every positive with every negative.
double pairwise_auc(const redflag::LabelVector& y, const redflag::Vector<double>& s) {
  double wins = 0.0;
  double pairs = 0.0;
  for (redflag::Index i = 0; i < y.size(); ++i) {
    if (y(i) != 1) continue;
    for (redflag::Index j = 0; j < y.size(); ++j) {
      if (y(j) != 0) continue;
      pairs += 1.0;
      wins += s(i) > s(j) ? 1.0 : s(i) == s(j) ? 0.5 : 0.0;
    }
  }
  return wins / pairs;
}

}  // namespace

TEST_CASE_TEMPLATE("roc_curve and roc_auc_score match scikit-learn", T, float, double) {
  int checked = 0;
  for (const auto& c : sklearn_reference::ranking_cases) {
    const auto& expected = curves_for<T>(c);
    if (std::isnan(expected.roc_auc)) continue;  // single class: see the error tests
    CAPTURE(c.name);
    const auto y = labels(c.y_true);
    const auto s = scores<T>(c.scores);

    const redflag::RocCurve curve = redflag::roc_curve(y, s);
    // fpr/tpr are the same integer ratios as scikit-learn's, so they agree exactly.
    check_vector(curve.fpr, expected.roc_fpr);
    check_vector(curve.tpr, expected.roc_tpr);
    check_vector(curve.thresholds, expected.roc_thresholds);

    const redflag::RocCurve full = redflag::roc_curve(y, s, {.drop_intermediate = false});
    check_vector(full.fpr, expected.roc_full_fpr);
    check_vector(full.tpr, expected.roc_full_tpr);
    check_vector(full.thresholds, expected.roc_full_thresholds);

    CHECK(redflag::roc_auc_score(y, s) == doctest::Approx(expected.roc_auc).epsilon(1e-12));
    ++checked;
  }
  CHECK(checked == 10);
}

TEST_CASE("roc_auc_score special cases have the textbook values") {
  const redflag::LabelVector y = labels({0, 0, 1, 1});
  CHECK(redflag::roc_auc_score(y, scores<double>({0.1, 0.2, 0.3, 0.4})) == 1.0);
  CHECK(redflag::roc_auc_score(y, scores<double>({0.4, 0.3, 0.2, 0.1})) == 0.0);
  CHECK(redflag::roc_auc_score(y, scores<double>({0.5, 0.5, 0.5, 0.5})) == 0.5);
  // One tie between a positive and a negative counts half.
  CHECK(redflag::roc_auc_score(y, scores<double>({0.1, 0.3, 0.3, 0.4})) == 0.875);
  // -0.0 and +0.0 are one tied score.
  CHECK(redflag::roc_auc_score(y, scores<double>({-0.0, -1.0, 0.0, 1.0})) == 0.875);
}

TEST_CASE("all-equal scores give the diagonal") {
  const auto curve = redflag::roc_curve(labels({1, 0, 0, 1, 0}), scores<float>({2, 2, 2, 2, 2}));
  REQUIRE(curve.fpr.size() == 2);
  CHECK(curve.fpr(1) == 1.0);
  CHECK(curve.tpr(1) == 1.0);
  CHECK(curve.thresholds(0) == std::numeric_limits<double>::infinity());
  CHECK(curve.thresholds(1) == 2.0);
}

TEST_CASE_TEMPLATE("roc_auc_score equals the pairwise probability on large random data with ties", T, float, double) {
  // 3000 scores rounded to one decimal: the radix sort path with many ties.
  const auto data = metrics_test::random_data(3000, 0.2, 1, 11);
  const redflag::Vector<T> s = data.scores.cast<T>();
  const redflag::Vector<double> rounded = s.template cast<double>();
  CHECK(redflag::roc_auc_score(data.y, s) == doctest::Approx(pairwise_auc(data.y, rounded)).epsilon(1e-12));
  // Reversing the scores mirrors the AUC; a monotone transform keeps it.
  const redflag::Vector<T> negated = -s;
  CHECK(redflag::roc_auc_score(data.y, negated) ==
        doctest::Approx(1.0 - redflag::roc_auc_score(data.y, s)).epsilon(1e-12));
  const redflag::Vector<T> shifted = (s.array() * T(2) + T(64)).matrix();
  CHECK(redflag::roc_auc_score(data.y, shifted) == redflag::roc_auc_score(data.y, s));
}

TEST_CASE("the ROC curve's thresholds are the distinct scores in decreasing order") {
  // Negative, subnormal, huge, tiny and zero scores exercise the radix sort's key mapping.
  std::vector<double> values = {
      -1e300, -5.0, -1e-310, -0.0, 0.0, 1e-310, 3.0, 1e300, -std::numeric_limits<double>::max(), 2.5e-8};
  std::vector<double> repeated;
  for (int copy = 0; copy < 150; ++copy) {  // 1500 scores: the radix sort path
    for (const double v : values) repeated.push_back(v / (1.0 + copy % 3));
  }
  const auto n = static_cast<redflag::Index>(repeated.size());
  redflag::Vector<double> s(n);
  redflag::LabelVector y(n);
  for (redflag::Index i = 0; i < n; ++i) {
    s(i) = repeated[static_cast<std::size_t>(i)];
    y(i) = i % 3 == 0 ? 1 : 0;
  }
  const auto curve = redflag::roc_curve(y, s, {.drop_intermediate = false});
  std::vector<double> distinct = repeated;
  std::sort(distinct.begin(), distinct.end(), std::greater<>());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  REQUIRE(curve.thresholds.size() == static_cast<redflag::Index>(distinct.size()) + 1);
  for (std::size_t i = 0; i < distinct.size(); ++i) {
    CHECK(curve.thresholds(static_cast<redflag::Index>(i) + 1) == distinct[i]);
  }
  CHECK(curve.fpr(curve.fpr.size() - 1) == 1.0);
  CHECK(curve.tpr(curve.tpr.size() - 1) == 1.0);
}

TEST_CASE("labels and scores may be any Eigen vector type") {
  const std::vector<double> raw = {0.1, 0.4, 0.35, 0.8};
  const double expected = 0.75;
  Eigen::VectorXi y_int(4);
  y_int << 0, 0, 1, 1;
  Eigen::VectorXd y_double(4);
  y_double << 0, 0, 1, 1;
  Eigen::Matrix<bool, Eigen::Dynamic, 1> y_bool(4);
  y_bool << false, false, true, true;
  Eigen::RowVectorXd s_row(4);
  s_row << 0.1, 0.4, 0.35, 0.8;
  const Eigen::Map<const Eigen::VectorXd> s_map(raw.data(), 4);
  Eigen::MatrixXf s_column(4, 1);
  s_column << 0.1F, 0.4F, 0.35F, 0.8F;

  CHECK(redflag::roc_auc_score(y_int, s_map) == expected);
  CHECK(redflag::roc_auc_score(y_double, s_row) == expected);
  CHECK(redflag::roc_auc_score(y_bool, s_column) == expected);
  CHECK(redflag::roc_auc_score(y_int, (s_map.array() * 2.0 - 1.0).matrix()) == expected);
  CHECK(redflag::roc_auc_score(y_int.transpose(), s_map.segment(0, 4)) == expected);
  CHECK(redflag::roc_auc_score(y_int, (s_row.array() * 2.0).matrix()) == expected);

  // Columns and n x 1 blocks of row-major matrices (strided, no linear
  // access), a 1 x n dynamic expression and a matrix-vector product.
  redflag::Matrix<double> table(4, 3);
  table << 0, 0.1, 5, 0, 0.4, 5, 1, 0.35, 5, 1, 0.8, 5;
  CHECK(redflag::roc_auc_score(table.col(0), table.col(1)) == expected);
  CHECK(redflag::roc_auc_score(table.block(0, 0, 4, 1), table.block(0, 1, 4, 1)) == expected);
  const Eigen::MatrixXd wide = table.transpose();
  CHECK(redflag::roc_auc_score(wide.block(0, 0, 1, 4), wide.block(1, 0, 1, 4) * 3.0) == expected);
  const Eigen::Vector3d pick_second(0.0, 1.0, 0.0);
  CHECK(redflag::roc_auc_score(table.col(0), table * pick_second) == expected);
  CHECK(redflag::roc_curve(table.col(0), table * pick_second).thresholds(1) == 0.8);
}

TEST_CASE_TEMPLATE("roc_curve and roc_auc_score reject bad input", T, float, double) {
  const redflag::LabelVector y = labels({0, 1, 0, 1});
  const redflag::Vector<T> s = scores<T>({0.1, 0.2, 0.3, 0.4});

  SUBCASE("empty") {
    CHECK_THROWS_WITH_AS(redflag::roc_auc_score(redflag::LabelVector(0), redflag::Vector<T>(0)),
                         doctest::Contains("redflag::roc_auc_score: y_true is empty"), redflag::data_error);
  }
  SUBCASE("length mismatch") {
    CHECK_THROWS_WITH_AS(redflag::roc_curve(y, scores<T>({0.1, 0.2, 0.3})),
                         doctest::Contains("y_true has 4 rows but scores has 3"), redflag::invalid_argument);
  }
  SUBCASE("not a vector") {
    const redflag::Matrix<T> matrix = redflag::Matrix<T>::Zero(2, 2);
    CHECK_THROWS_WITH_AS(redflag::roc_auc_score(y, matrix),
                         doctest::Contains("scores must be a vector, got a 2 x 2 matrix"), redflag::invalid_argument);
  }
  SUBCASE("NaN and Inf scores name the index") {
    redflag::Vector<T> bad = s;
    bad(2) = std::numeric_limits<T>::quiet_NaN();
    CHECK_THROWS_WITH_AS(redflag::roc_auc_score(y, bad),
                         doctest::Contains("redflag::roc_auc_score: scores[2] = NaN is not finite"),
                         redflag::data_error);
    bad(2) = -std::numeric_limits<T>::infinity();
    CHECK_THROWS_WITH_AS(redflag::roc_curve(y, bad),
                         doctest::Contains("redflag::roc_curve: scores[2] = -Inf is not finite"), redflag::data_error);
  }
  SUBCASE("labels other than 0/1 name the index and value") {
    CHECK_THROWS_WITH_AS(redflag::roc_auc_score(labels({0, 2, 0, 1}), s),
                         doctest::Contains("y_true[1] = 2 is not a binary label"), redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::roc_auc_score(labels({0, 1, -1, 1}), s),
                         doctest::Contains("y_true[2] = -1 is not a binary label"), redflag::data_error);
    Eigen::VectorXd fractional(4);
    fractional << 0, 1, 0, 0.5;
    CHECK_THROWS_WITH_AS(redflag::roc_curve(fractional, s), doctest::Contains("y_true[3] = 0.5 is not a binary label"),
                         redflag::data_error);
    fractional(3) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(redflag::roc_curve(fractional, s), doctest::Contains("y_true[3] = NaN is not a binary label"),
                         redflag::data_error);
  }
  SUBCASE("a single class") {
    CHECK_THROWS_WITH_AS(redflag::roc_auc_score(labels({1, 1, 1, 1}), s),
                         doctest::Contains("redflag::roc_auc_score: y_true contains only class 1; ROC AUC needs "
                                           "both classes"),
                         redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::roc_auc_score(labels({0, 0, 0, 0}), s),
                         doctest::Contains("y_true contains only class 0; ROC AUC needs both"), redflag::data_error);
    CHECK_THROWS_WITH_AS(redflag::roc_curve(labels({0}), scores<T>({0.5})),
                         doctest::Contains("redflag::roc_curve: y_true contains only class 0; "
                                           "a ROC curve needs both classes"),
                         redflag::data_error);
  }
}
