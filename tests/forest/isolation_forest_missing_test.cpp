// IsolationForest with missing values (NaN): rejected by default; under
// MissingPolicy::route a training row missing a split value follows the
// larger branch, and a scored row takes both branches weighted by the
// training rows that went each way.
//
// The trees are read back from the model's JSON file (format 2) to check
// node counts and routing against hand-computed expectations.

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "../support/forest_test_support.hpp"

using redflag::ExtendedIsolationForest;
using redflag::Index;
using redflag::IsolationForest;
using redflag::Matrix;
using redflag::MissingPolicy;
using redflag::Schema;
using redflag::Vector;
using namespace redflag::test;
namespace forest = redflag::detail::forest;

namespace {

template <class T>
constexpr double tolerance = sizeof(T) == 8 ? 1e-12 : 1e-6;

// Sum over trees of the cover-weighted mean leaf value: the path length of a
// row that tells no tree anything.
template <class T>
double base_depth(const forest::IsolationTrees<T>& trees) {
  double depth = 0.0;
  for (std::size_t t = 0; t < trees.tree_count(); ++t) {
    const auto root = static_cast<std::size_t>(trees.offsets[t]);
    double weighted = 0.0;
    for (auto i = root; i < static_cast<std::size_t>(trees.offsets[t + 1]); ++i) {
      if (trees.nodes[i].kind == forest::NodeKind::leaf) {
        weighted += trees.count[i] * static_cast<double>(trees.nodes[i].value);
      }
    }
    depth += weighted / trees.count[root];
  }
  return depth;
}

}  // namespace

TEST_CASE_TEMPLATE("IsolationForest rejects NaN by default, naming the cell and the policy", T, float, double) {
  using redflag::data_error;
  Matrix<T> X = gaussian_with_nan<T>(50, 3, 1, 0.0);
  Matrix<T> bad = X;
  bad(7, 2) = nan_value<T>;
  const std::string message = "X has NaN at row 7, column 2 (set missing = MissingPolicy::route to accept NaN)";
  IsolationForest<T> model;
  CHECK_THROWS_WITH_AS(model.fit(bad), doctest::Contains((std::string("IsolationForest::fit: ") + message).c_str()),
                       data_error);
  const Schema categorical{{"a", redflag::ColumnKind::numeric},
                           {"mcc", redflag::ColumnKind::categorical},
                           {"b", redflag::ColumnKind::numeric}};
  Matrix<T> codes = bad;
  codes.col(1) = codes.col(1).array().abs().floor().matrix();
  CHECK_THROWS_WITH_AS(model.fit(codes, categorical), doctest::Contains(message.c_str()), data_error);
  ExtendedIsolationForest<T> extended;
  CHECK_THROWS_WITH_AS(extended.fit(bad),
                       doctest::Contains((std::string("ExtendedIsolationForest::fit: ") + message).c_str()),
                       data_error);
  CHECK_FALSE(model.is_fitted());

  model.fit(X);
  CHECK_THROWS_WITH_AS((void)model.anomaly_score(bad), doctest::Contains(message.c_str()), data_error);
  CHECK_THROWS_WITH_AS((void)model.predict(bad), doctest::Contains(message.c_str()), data_error);
  CHECK_THROWS_WITH_AS((void)model.score_one(std::span<const T>(bad.row(7).data(), 3)),
                       doctest::Contains("X has NaN at row 0, column 2 (set missing = MissingPolicy::route"),
                       data_error);
  CHECK_THROWS_WITH_AS(model.fit_more(bad, 2), doctest::Contains(message.c_str()), data_error);
  CHECK(model.n_estimators() == 100);
}

TEST_CASE_TEMPLATE("IsolationForest rejects infinities under either policy", T, float, double) {
  using redflag::data_error;
  const Matrix<T> X = gaussian_with_nan<T>(40, 2, 2, 0.0);
  for (const auto policy : {MissingPolicy::reject, MissingPolicy::route}) {
    for (const T infinity : {std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity()}) {
      CAPTURE(infinity);
      Matrix<T> bad = X;
      bad(3, 1) = infinity;
      bad(5, 0) = nan_value<T>;  // after the infinity: the infinity is what is reported
      const std::string message =
          "X has " + std::string(infinity > 0 ? "Inf" : "-Inf") + " at row 3, column 1 (finite values required)";
      IsolationForest<T> model({.n_estimators = 5, .missing = policy});
      CHECK_THROWS_WITH_AS(model.fit(bad), doctest::Contains(message.c_str()), data_error);
      Matrix<T> codes = bad;
      codes.col(0) = codes.col(0).array().abs().floor().matrix();  // NaN stays NaN
      CHECK_THROWS_WITH_AS(
          model.fit(codes, Schema{{"mcc", redflag::ColumnKind::categorical}, {"b", redflag::ColumnKind::numeric}}),
          doctest::Contains(message.c_str()), data_error);
      model.fit(X);
      CHECK_THROWS_WITH_AS((void)model.anomaly_score(bad), doctest::Contains(message.c_str()), data_error);
      CHECK_THROWS_WITH_AS((void)model.score_one(std::span<const T>(bad.row(3).data(), 2)),
                           doctest::Contains("at row 0, column 1 (finite values required)"), data_error);
      ExtendedIsolationForest<T> extended({.n_estimators = 5, .missing = policy});
      CHECK_THROWS_WITH_AS(extended.fit(bad), doctest::Contains(message.c_str()), data_error);
    }
  }
}

TEST_CASE_TEMPLATE("IsolationForest routes scattered NaN", T, float, double) {
  Matrix<T> X = gaussian_with_nan<T>(600, 4, 3, 0.1);
  X.row(599) << T(7), nan_value<T>, T(-7), T(7);  // far away in the columns it has
  IsolationForest<T> model({.random_state = 5, .missing = MissingPolicy::route});
  const Vector<T> scores = model.fit(X).anomaly_score(X);
  CHECK(scores.allFinite());
  CHECK(scores.minCoeff() > T(0));
  CHECK(scores.maxCoeff() <= T(1));
  Index top = 0;
  scores.maxCoeff(&top);
  CHECK(top == 599);
  // Rows without NaN score the same in a block that mixes both kinds (fast
  // and general walks) as alone, and score_one agrees with anomaly_score.
  for (const Index i : {Index{0}, Index{1}, Index{2}, Index{599}}) {
    CAPTURE(i);
    CHECK(model.anomaly_score(Matrix<T>(X.row(i)))(0) == scores(i));
    CHECK(model.score_one(std::span<const T>(X.row(i).data(), 4)) == scores(i));
  }
  // Without any NaN in the data the policy changes nothing: same random
  // draws, same trees, same scores.
  const Matrix<T> complete = gaussian_with_nan<T>(300, 3, 4, 0.0);
  IsolationForest<T> rejecting({.random_state = 6});
  IsolationForest<T> routing({.random_state = 6, .missing = MissingPolicy::route});
  CHECK(rejecting.fit(complete).anomaly_score(complete) == routing.fit(complete).anomaly_score(complete));
}

TEST_CASE_TEMPLATE("IsolationForest training rows with NaN follow the larger branch", T, float, double) {
  const auto fitted = [](std::initializer_list<T> values) {
    Matrix<T> X(static_cast<Index>(values.size()), 1);
    Index i = 0;
    for (const T value : values) X(i++, 0) = value;
    IsolationForest<T> model({.n_estimators = 8, .random_state = 3, .missing = MissingPolicy::route});
    model.fit(X);
    return model;
  };
  SUBCASE("one column {0, 10, 10, NaN}: the root sends 1 row left, 2 + the NaN right") {
    // The root's threshold lies in [0, 10): {0} | {10, 10}. The right node
    // holds {10, 10, NaN}: no column can split it, a leaf of 3 at depth 1.
    const auto model = fitted({T(0), T(10), T(10), nan_value<T>});
    const auto trees = trees_of(model);
    for (std::size_t t = 0; t < trees.tree_count(); ++t) {
      const auto root = static_cast<std::size_t>(trees.offsets[t]);
      REQUIRE(trees.offsets[t + 1] - trees.offsets[t] == 3);
      CHECK(trees.count[root] == 4);
      CHECK(trees.count[root + 1] == 1);
      CHECK(trees.count[root + 2] == 3);
      CHECK(trees.nodes[root + 2].value == static_cast<T>(1.0 + forest::average_path_length(3)));
    }
    // Scored, a NaN takes both branches: (1 * 1 + 3 * (1 + c(3))) / 4 per tree.
    const double per_tree =
        (1.0 + 3.0 * static_cast<double>(static_cast<T>(1.0 + forest::average_path_length(3)))) / 4.0;
    const Matrix<T> missing = Matrix<T>::Constant(1, 1, nan_value<T>);
    CHECK(static_cast<double>(model.anomaly_score(missing)(0)) ==
          doctest::Approx(static_cast<double>(score_of<T>(8 * per_tree, 8, 4))).epsilon(tolerance<T>));
  }
  SUBCASE("a tie goes left: {0, 0, 10, 10, NaN}") {
    const auto trees = trees_of(fitted({T(0), T(0), T(10), T(10), nan_value<T>}));
    for (std::size_t t = 0; t < trees.tree_count(); ++t) {
      const auto root = static_cast<std::size_t>(trees.offsets[t]);
      REQUIRE(trees.offsets[t + 1] - trees.offsets[t] == 3);
      CHECK(trees.count[root + 1] == 3);
      CHECK(trees.count[root + 2] == 2);
    }
  }
  SUBCASE("random data: every training row retraces its fit path under the larger-branch rule") {
    // All rows in every tree (max_samples = n, no bootstrap), so the visits
    // of the 200 rows must reproduce every node's count exactly.
    const Matrix<T> X = gaussian_with_nan<T>(200, 3, 8, 0.25);
    IsolationForest<T> model({.n_estimators = 10, .random_state = 2, .missing = MissingPolicy::route});
    const auto trees = trees_of(model.fit(X));
    REQUIRE(trees.numeric_only);
    const std::vector<std::uint32_t> visits = retraced_visits(trees, X, fit_route<T>);
    CHECK(visits == trees.count);
  }
}

TEST_CASE_TEMPLATE("IsolationForest scores a NaN as the count-weighted mean of both branches", T, float, double) {
  // Rows A (0, 0), B (10, 0), C (10, 0), D (10, 5), psi 4, height limit 2.
  // A root on x0 gives {A} | {B, C, D}, then x1 splits {B, C} | {D}: leaf
  // values A 1, {B, C} 2 + c(2) = 3, D 2. A root on x1 gives {A, B, C} | {D},
  // then x0 splits {A} | {B, C}: A 2, {B, C} 3, D 1. Whatever the draws, a
  // tree is one of these two.
  Matrix<T> X(4, 2);
  X << T(0), T(0), T(10), T(0), T(10), T(0), T(10), T(5);
  const Index n_trees = 40;
  IsolationForest<T> model({.n_estimators = n_trees, .random_state = 11, .missing = MissingPolicy::route});
  model.fit(X);
  const auto trees = trees_of(model);
  Index root_on_x0 = 0;
  for (std::size_t t = 0; t < trees.tree_count(); ++t) {
    const auto& root = trees.nodes[static_cast<std::size_t>(trees.offsets[t])];
    REQUIRE(root.kind == forest::NodeKind::numeric);
    REQUIRE(trees.offsets[t + 1] - trees.offsets[t] == 5);
    root_on_x0 += root.feature == 0 ? 1 : 0;
  }
  REQUIRE(root_on_x0 > 0);  // both shapes occur, so both formulas are exercised
  REQUIRE(root_on_x0 < n_trees);
  const auto x0 = static_cast<double>(root_on_x0);
  const auto x1 = static_cast<double>(n_trees - root_on_x0);
  const auto expect = [&](T a, T b, double on_x0, double on_x1) {
    Matrix<T> row(1, 2);
    row << a, b;
    CAPTURE(a);
    CAPTURE(b);
    const T expected = score_of<T>(x0 * on_x0 + x1 * on_x1, n_trees, 4);
    CHECK(static_cast<double>(model.anomaly_score(row)(0)) ==
          doctest::Approx(static_cast<double>(expected)).epsilon(tolerance<T>));
    CHECK(static_cast<double>(model.score_one(std::span<const T>(row.data(), 2))) ==
          doctest::Approx(static_cast<double>(expected)).epsilon(tolerance<T>));
  };
  const T nan = nan_value<T>;
  // x0 unknown: root on x0: (1 * 1 + 3 * 3) / 4; root on x1 (0 goes left): (1 * 2 + 2 * 3) / 3.
  expect(nan, T(0), 10.0 / 4.0, 8.0 / 3.0);
  // x1 unknown, x0 = 0: root on x0 -> A: 1; root on x1: (3 * 2 + 1 * 1) / 4.
  expect(T(0), nan, 1.0, 7.0 / 4.0);
  // Both unknown: the base, the mean of the training rows' path lengths,
  // (1 + 3 + 3 + 2) / 4 for either shape.
  expect(nan, nan, 9.0 / 4.0, 9.0 / 4.0);
  // Known values for contrast: D = (10, 5) -> 2 or 1.
  expect(T(10), T(5), 2.0, 1.0);
}

TEST_CASE_TEMPLATE("IsolationForest scores an all-NaN row at the forest's base", T, float, double) {
  const Matrix<T> X = gaussian_with_nan<T>(400, 5, 9, 0.1);
  IsolationForest<T> model(
      {.n_estimators = 30, .max_samples = Index{128}, .random_state = 4, .missing = MissingPolicy::route});
  model.fit(X);
  const auto trees = trees_of(model);
  const Matrix<T> missing = Matrix<T>::Constant(3, 5, nan_value<T>);
  const Vector<T> scores = model.anomaly_score(missing);
  const T base = score_of<T>(base_depth(trees), 30, 128);
  CHECK(static_cast<double>(scores(0)) == doctest::Approx(static_cast<double>(base)).epsilon(tolerance<T>));
  CHECK(scores(1) == scores(0));
  MESSAGE("base score ", base, " (scattered-NaN forest, 30 trees, psi 128)");

  // Trained without NaN on every row (max_samples = n), the base is the mean
  // path length of the training rows themselves.
  const Matrix<T> complete = gaussian_with_nan<T>(100, 3, 10, 0.0);
  IsolationForest<T> full({.n_estimators = 20, .random_state = 4, .missing = MissingPolicy::route});
  const Vector<T> training = full.fit(complete).anomaly_score(complete);
  const double c = forest::average_path_length(100);
  double mean_depth = 0.0;
  for (Index i = 0; i < training.size(); ++i) mean_depth -= std::log2(static_cast<double>(training(i))) * 20 * c;
  mean_depth /= static_cast<double>(training.size());
  const T all_missing = full.anomaly_score(Matrix<T>::Constant(1, 3, nan_value<T>))(0);
  CHECK(static_cast<double>(all_missing) ==
        doctest::Approx(std::exp2(-mean_depth / (20 * c))).epsilon(sizeof(T) == 8 ? 1e-12 : 1e-5));
}

TEST_CASE_TEMPLATE("IsolationForest never splits on a column that is NaN on every row", T, float, double) {
  Matrix<T> X = gaussian_with_nan<T>(300, 3, 12, 0.05);
  X.col(1).setConstant(nan_value<T>);
  IsolationForest<T> model({.n_estimators = 40, .random_state = 7, .missing = MissingPolicy::route});
  model.fit(X);
  const auto trees = trees_of(model);
  Index splits = 0, on_column_1 = 0;
  for (const auto& node : trees.nodes) {
    if (node.kind == forest::NodeKind::leaf) continue;
    ++splits;
    on_column_1 += node.feature == 1 ? 1 : 0;
  }
  CHECK(splits > 40 * 50);  // the other columns are split normally
  CHECK(on_column_1 == 0);
  // So that column's value never matters when scoring.
  const Vector<T> scores = model.anomaly_score(X);
  Matrix<T> filled = X;
  filled.col(1).setConstant(T(1e6));
  CHECK(model.anomaly_score(filled) == scores);
  filled.col(1).setZero();
  CHECK(model.anomaly_score(filled) == scores);
  CHECK(scores.maxCoeff() > scores.minCoeff());
}

TEST_CASE_TEMPLATE("IsolationForest with NaN is bit-identical for any n_jobs and across fit_more", T, float, double) {
  Matrix<T> X = gaussian_with_nan<T>(2000, 4, 13, 0.1);  // several 512-row scoring blocks
  const auto fitted = [&](int n_jobs, Index n_estimators) {
    IsolationForest<T> model({.n_estimators = n_estimators,
                              .contamination = 0.05,
                              .random_state = 21,
                              .n_jobs = n_jobs,
                              .missing = MissingPolicy::route});
    return model.fit(X);
  };
  const IsolationForest<T> serial = fitted(1, 60);
  const std::string bytes = saved(serial);
  const Vector<T> scores = serial.anomaly_score(X);
  CHECK(scores.allFinite());
  for (const int n_jobs : {2, -1}) {
    CAPTURE(n_jobs);
    IsolationForest<T> parallel = fitted(n_jobs, 60);
    CHECK(saved(parallel) == bytes);
    CHECK(parallel.anomaly_score(X) == scores);
    CHECK(parallel.threshold() == serial.threshold());
    // Scoring threads do not matter either.
    parallel.set_n_jobs(1);
    CHECK(parallel.anomaly_score(X) == scores);
  }
  IsolationForest<T> grown = fitted(1, 35);
  grown.fit_more(X, 25);
  CHECK(grown.anomaly_score(X) == scores);
  CHECK(saved(grown) == bytes);
}
