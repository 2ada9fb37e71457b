#include <redflag/core/validation.hpp>

#include <doctest/doctest.h>

#include <limits>
#include <string>

using redflag::Index;
using redflag::Matrix;
using redflag::Vector;
using redflag::detail::format_number;

namespace {

template <class T>
Matrix<T> filled(Index rows, Index cols) {
  Matrix<T> values(rows, cols);
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) values(r, c) = static_cast<T>(r * 10 + c) / T(4);
  }
  return values;
}

}  // namespace

TEST_CASE("format_number prints short, exact-looking numbers") {
  CHECK(format_number(0.0) == "0");
  CHECK(format_number(2.0) == "2");
  CHECK(format_number(-3.0) == "-3");
  CHECK(format_number(1.5) == "1.5");
  CHECK(format_number(0.1) == "0.1");
  CHECK(format_number(0.5f) == "0.5");
  CHECK(format_number(1000000.0) == "1000000");
  CHECK(format_number(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(format_number(std::numeric_limits<double>::infinity()) == "Inf");
  CHECK(format_number(-std::numeric_limits<double>::infinity()) == "-Inf");
  // A tiny or huge value must not be printed as 0 or as hundreds of digits:
  // "got 0" for a rejected 1e-7 would contradict the check it reports.
  CHECK(format_number(1e-7) == "1e-07");
  CHECK(format_number(-2.5e-9) == "-2.5e-09");
  CHECK(format_number(1e300) == "1e+300");
  CHECK(format_number(std::numeric_limits<double>::denorm_min()).find('e') != std::string::npos);
}

TEST_CASE_TEMPLATE("require_non_empty", T, float, double) {
  const std::string where = "RobustZScore::fit";
  CHECK_NOTHROW(redflag::detail::require_non_empty(filled<T>(2, 3), where, "X"));
  CHECK_NOTHROW(redflag::detail::require_non_empty(Vector<T>::Ones(1), where, "y"));
  CHECK_THROWS_WITH_AS(redflag::detail::require_non_empty(Matrix<T>(0, 3), where, "X"),
                       "redflag::RobustZScore::fit: X is empty (0 rows, 3 columns)", redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::detail::require_non_empty(Matrix<T>(4, 0), where, "X"),
                       "redflag::RobustZScore::fit: X is empty (4 rows, 0 columns)", redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::detail::require_non_empty(Vector<T>(0), where, "sample_weight"),
                       doctest::Contains("sample_weight is empty (0 rows, 1 columns)"), redflag::data_error);
}

TEST_CASE_TEMPLATE("require_finite names the first bad cell", T, float, double) {
  const std::string where = "StandardScaler::transform";
  Matrix<T> values = filled<T>(4, 3);
  CHECK_NOTHROW(redflag::detail::require_finite(values, where, "X"));
  values(2, 1) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_WITH_AS(redflag::detail::require_finite(values, where, "X"),
                       "redflag::StandardScaler::transform: X has NaN at row 2, column 1 (finite values required)",
                       redflag::data_error);
  // Row-major scan: an earlier row wins even at a later column.
  values(1, 2) = std::numeric_limits<T>::infinity();
  CHECK_THROWS_WITH_AS(redflag::detail::require_finite(values, where, "X"),
                       doctest::Contains("X has Inf at row 1, column 2"), redflag::data_error);
  values(1, 0) = -std::numeric_limits<T>::infinity();
  CHECK_THROWS_WITH_AS(redflag::detail::require_finite(values, where, "X"),
                       doctest::Contains("X has -Inf at row 1, column 0"), redflag::data_error);

  Vector<T> weights = Vector<T>::Ones(5);
  CHECK_NOTHROW(redflag::detail::require_finite(weights, where, "sample_weight"));
  weights(4) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_WITH_AS(redflag::detail::require_finite(weights, where, "sample_weight"),
                       doctest::Contains("sample_weight has NaN at row 4, column 0"), redflag::data_error);
  // The largest finite value is finite.
  weights(4) = std::numeric_limits<T>::max();
  CHECK_NOTHROW(redflag::detail::require_finite(weights, where, "sample_weight"));
  // Expressions work too (the check takes any DenseBase).
  CHECK_THROWS_AS(redflag::detail::require_finite(values.block(1, 0, 2, 3), where, "X"), redflag::data_error);
  CHECK_NOTHROW(redflag::detail::require_finite(values.block(3, 0, 1, 3), where, "X"));
}

TEST_CASE_TEMPLATE("require_columns", T, float, double) {
  const std::string where = "IsolationForest::anomaly_score";
  CHECK_NOTHROW(redflag::detail::require_columns(filled<T>(3, 4), 4, where, "X"));
  CHECK_THROWS_WITH_AS(redflag::detail::require_columns(filled<T>(3, 2), 4, where, "X"),
                       "redflag::IsolationForest::anomaly_score: X has 2 columns, expected 4",
                       redflag::schema_mismatch);
  CHECK_THROWS_WITH_AS(redflag::detail::require_columns(filled<T>(3, 5), 4, where, "X"),
                       doctest::Contains("X has 5 columns, expected 4"), redflag::schema_mismatch);
}

TEST_CASE("require_same_length") {
  const std::string where = "LogisticRegression::fit";
  CHECK_NOTHROW(redflag::detail::require_same_length(7, 7, where, "X", "y"));
  CHECK_THROWS_WITH_AS(redflag::detail::require_same_length(3, 4, where, "X", "y"),
                       "redflag::LogisticRegression::fit: X has 3 rows but y has 4", redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::detail::require_same_length(5, 0, where, "X", "sample_weight"),
                       doctest::Contains("X has 5 rows but sample_weight has 0"), redflag::invalid_argument);
}

TEST_CASE_TEMPLATE("require_parameter reports requirement and value", T, float, double) {
  const std::string where = "IsolationForest::IsolationForest";
  CHECK_NOTHROW(redflag::detail::require_parameter(true, where, "n_estimators", "positive", -1));
  CHECK_THROWS_WITH_AS(redflag::detail::require_parameter(false, where, "n_estimators", "positive", -1),
                       "redflag::IsolationForest::IsolationForest: n_estimators must be positive, got -1",
                       redflag::invalid_argument);
  const T contamination = T(0.75);
  CHECK_THROWS_WITH_AS(
      redflag::detail::require_parameter(contamination <= T(0.5), where, "contamination", "in (0, 0.5]", contamination),
      doctest::Contains("contamination must be in (0, 0.5], got 0.75"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(
      redflag::detail::require_parameter(false, where, "max_samples", "positive", std::numeric_limits<T>::quiet_NaN()),
      doctest::Contains("max_samples must be positive, got NaN"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(
      redflag::detail::require_parameter(false, where, "criterion", "'gini' or 'entropy'", std::string("log_loss")),
      doctest::Contains("criterion must be 'gini' or 'entropy', got log_loss"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::detail::require_parameter(false, where, "penalty", "'l2'", "l1"),
                       doctest::Contains("penalty must be 'l2', got l1"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::detail::require_parameter(false, where, "tol", "at least 1e-6", 1e-9),
                       doctest::Contains("tol must be at least 1e-6, got 1e-09"), redflag::invalid_argument);
}

TEST_CASE_TEMPLATE("require_binary_labels", T, float, double) {
  const std::string where = "average_precision";
  redflag::LabelVector labels(5);
  labels << 0, 1, 1, 0, 1;
  CHECK_NOTHROW(redflag::detail::require_binary_labels(labels, where, "y_true"));
  labels(3) = 2;
  CHECK_THROWS_WITH_AS(redflag::detail::require_binary_labels(labels, where, "y_true"),
                       "redflag::average_precision: y_true[3] = 2 is not a binary label (expected 0 or 1)",
                       redflag::data_error);
  labels(1) = -1;
  CHECK_THROWS_WITH_AS(redflag::detail::require_binary_labels(labels, where, "y_true"),
                       doctest::Contains("y_true[1] = -1 is not"), redflag::data_error);

  Vector<T> scalar_labels(3);
  scalar_labels << T(1), T(0), T(1);
  CHECK_NOTHROW(redflag::detail::require_binary_labels(scalar_labels, where, "y"));
  scalar_labels(2) = T(0.5);
  CHECK_THROWS_WITH_AS(redflag::detail::require_binary_labels(scalar_labels, where, "y"),
                       doctest::Contains("y[2] = 0.5 is not a binary label"), redflag::data_error);
  scalar_labels(2) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_WITH_AS(redflag::detail::require_binary_labels(scalar_labels, where, "y"),
                       doctest::Contains("y[2] = NaN"), redflag::data_error);
  CHECK_NOTHROW(redflag::detail::require_binary_labels(redflag::LabelVector(0), where, "y"));
}
