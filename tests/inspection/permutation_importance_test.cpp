#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/inspection/permutation_importance.hpp>
#include <redflag/metrics/roc.hpp>

#include <doctest/doctest.h>

#include <cmath>

using redflag::Index;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::Vector;

namespace {

// Column 0 carries the label (shifted by 1.5 for class 1), column 1 a little
// of it, columns 2 and 3 are pure noise.
template <class T>
struct Data {
  Matrix<T> X;
  LabelVector y;
};

template <class T>
Data<T> make_data(Index n, std::uint64_t seed) {
  redflag::Random rng(seed);
  Data<T> data{Matrix<T>(n, 4), LabelVector(n)};
  for (Index i = 0; i < n; ++i) {
    const bool positive = i % 4 == 0;
    data.y(i) = positive ? 1 : 0;
    data.X(i, 0) = static_cast<T>(rng.normal() + (positive ? 1.5 : 0.0));
    data.X(i, 1) = static_cast<T>(rng.normal() + (positive ? 0.4 : 0.0));
    data.X(i, 2) = static_cast<T>(rng.normal());
    data.X(i, 3) = static_cast<T>(rng.uniform());
  }
  return data;
}

}  // namespace

TEST_CASE_TEMPLATE("permutation_importance ranks the informative column first", T, float, double) {
  const auto train = make_data<T>(400, 1);
  const auto test = make_data<T>(400, 2);
  typename redflag::RandomForest<T>::Params params;
  params.n_estimators = 30;
  params.max_depth = 4;
  redflag::RandomForest<T> forest(params);
  forest.fit(train.X, train.y);

  const auto result = redflag::permutation_importance(forest, test.X, test.y, redflag::scorers::roc_auc,
                                                      {.n_repeats = 5, .random_state = 3});
  REQUIRE(result.importances_mean.size() == 4);
  REQUIRE(result.importances.rows() == 4);
  REQUIRE(result.importances.cols() == 5);
  CHECK(result.baseline_score ==
        doctest::Approx(redflag::roc_auc_score(test.y, Vector<T>(forest.predict_proba(test.X).col(1)))));
  Index best = 0;
  result.importances_mean.maxCoeff(&best);
  CHECK(best == 0);
  CHECK(result.importances_mean(0) > 0.1);
  CHECK(result.importances_mean(0) > result.importances_mean(1));
  // Noise: the drop is only the forest's sensitivity to shuffled noise.
  CHECK(std::abs(result.importances_mean(2)) < 0.03);
  CHECK(std::abs(result.importances_mean(3)) < 0.03);
  for (Index j = 0; j < 4; ++j) {
    CHECK(result.importances_std(j) >= 0.0);
    CHECK(result.importances_mean(j) == doctest::Approx(result.importances.row(j).mean()));
  }
}

TEST_CASE_TEMPLATE("permutation_importance of a callable: exact zeros for unused columns", T, float, double) {
  const auto data = make_data<T>(300, 5);
  // Scores from column 0 only: shuffling any other column changes nothing.
  const auto score = [](const Matrix<T>& X) { return Vector<T>(X.col(0)); };
  const auto result =
      redflag::permutation_importance(score, data.X, data.y, redflag::scorers::average_precision, {.n_repeats = 3});
  CHECK(result.importances_mean(0) > 0.2);
  for (Index j = 1; j < 4; ++j) {
    CHECK(result.importances_mean(j) == 0.0);
    CHECK(result.importances_std(j) == 0.0);
  }
}

TEST_CASE_TEMPLATE("permutation_importance is deterministic for a seed and any n_jobs", T, float, double) {
  const auto data = make_data<T>(300, 7);
  const auto score = [](const Matrix<T>& X) { return Vector<T>(X.col(0) + X.col(1) * T(0.5)); };
  const auto run = [&](std::uint64_t seed, int jobs) {
    return redflag::permutation_importance(score, data.X, data.y, redflag::scorers::roc_auc,
                                           {.n_repeats = 4, .random_state = seed, .n_jobs = jobs});
  };
  const auto first = run(11, 1);
  CHECK(first.importances == run(11, 1).importances);
  CHECK(first.importances == run(11, 2).importances);
  CHECK(first.importances != run(12, 1).importances);
}

TEST_CASE("permutation_importance scores a detector by anomaly_score") {
  const auto data = make_data<double>(300, 9);
  redflag::IsolationForest<double> forest({.n_estimators = 30});
  forest.fit(data.X);
  const auto result = redflag::permutation_importance(forest, data.X, data.y, redflag::scorers::roc_auc);
  CHECK(result.importances.cols() == 5);
  CHECK(std::isfinite(result.baseline_score));
}

TEST_CASE("permutation_importance errors") {
  const auto data = make_data<double>(100, 3);
  const auto score = [](const Matrix<double>& X) { return Vector<double>(X.col(0)); };
  const auto& metric = redflag::scorers::roc_auc;
  CHECK_THROWS_WITH_AS(redflag::permutation_importance(score, data.X, data.y, metric, {.n_repeats = 0}),
                       "redflag::permutation_importance: n_repeats must be >= 1, got 0", redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::permutation_importance(score, data.X, data.y, metric, {.n_jobs = 0}),
                  redflag::invalid_argument);
  const LabelVector short_y = data.y.head(50);
  CHECK_THROWS_AS(redflag::permutation_importance(score, data.X, short_y, metric), redflag::invalid_argument);
  const LabelVector one_class = LabelVector::Zero(100);
  CHECK_THROWS_WITH_AS(redflag::permutation_importance(score, data.X, one_class, metric),
                       doctest::Contains("y has a single class (0)"), redflag::data_error);
  CHECK_THROWS_AS(redflag::permutation_importance(score, Matrix<double>(0, 4), LabelVector(0), metric),
                  redflag::data_error);
  // Labels other than 0/1 reach the metric, which refuses them.
  const LabelVector twos = data.y * 2;
  CHECK_THROWS_AS(redflag::permutation_importance(score, data.X, twos, metric), redflag::data_error);
  const auto wrong_length = [](const Matrix<double>& X) { return Vector<double>(X.col(0).head(3)); };
  CHECK_THROWS_WITH_AS(redflag::permutation_importance(wrong_length, data.X, data.y, metric),
                       doctest::Contains("the scorer returned 3 scores for 100 rows"), redflag::invalid_argument);

  // predict_proba with 3 classes: which probability to score is the caller's choice.
  LabelVector three = data.y;
  for (Index i = 0; i < three.size(); i += 3) three(i) = 2;
  redflag::RandomForest<double> forest({.n_estimators = 5});
  forest.fit(data.X, three);
  CHECK_THROWS_WITH_AS(redflag::permutation_importance(forest, data.X, data.y, metric),
                       doctest::Contains("predict_proba has 3 classes"), redflag::invalid_argument);
}
