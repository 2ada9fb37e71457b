// IsolationForest::fit_more and drop_oldest_trees: growing a forest in steps
// gives the forest grown at once, and dropped trees leave the random streams
// where they were.
//
// A model's score is 2^(-H / (n c(psi))) with H the sum of the n trees' path
// lengths, so H is recovered from a score; the H of a set of trees is then
// the difference of two models' H, which lets the tests say which trees a
// model holds through the public API alone.

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/metrics/thresholds.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <variant>

#include "../support/forest_test_support.hpp"

using redflag::Auto;
using redflag::ColumnKind;
using redflag::ExtendedIsolationForest;
using redflag::Index;
using redflag::IsolationForest;
using redflag::Matrix;
using redflag::MissingPolicy;
using redflag::Schema;
using redflag::Vector;
using redflag::test::loaded;
using redflag::test::saved;

namespace {

template <class T>
Matrix<T> contaminated_gaussian(Index n, Index d, std::uint64_t seed, T shift = T(0)) {
  redflag::Random rng(seed);
  Matrix<T> X(n, d);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) X(i, j) = rng.normal<T>() + (i % 25 == 0 ? T(4) : T(0)) + shift;
  }
  return X;
}

// Total path length over the model's trees, per row of X.
Vector<double> total_path_length(const IsolationForest<double>& model, const Matrix<double>& X) {
  const double c = redflag::detail::forest::average_path_length(static_cast<double>(model.max_samples()));
  const Vector<double> scores = model.anomaly_score(X);
  return (-scores.array().log2() * c * static_cast<double>(model.n_estimators())).matrix();
}

// Same model: same scores, bit for bit, and the same file.
template <class Model, class T = typename Model::scalar_type>
void check_same(const Model& got, const Model& expected, const Matrix<T>& X) {
  CHECK(got.n_estimators() == expected.n_estimators());
  CHECK(got.params().n_estimators == expected.params().n_estimators);
  CHECK(got.node_count() == expected.node_count());
  CHECK(got.threshold() == expected.threshold());
  CHECK(got.anomaly_score(X) == expected.anomaly_score(X));
  CHECK(saved(got) == saved(expected));
}

}  // namespace

TEST_CASE_TEMPLATE("fit then fit_more gives the forest fit grows at once", T, float, double) {
  const Matrix<T> X = contaminated_gaussian<T>(400, 4, 1);
  for (const auto contamination : {std::variant<Auto, double>(Auto{}), std::variant<Auto, double>(0.1)}) {
    CAPTURE(contamination.index());
    typename IsolationForest<T>::Params params{.n_estimators = 100, .contamination = contamination, .random_state = 7};
    IsolationForest<T> grown(params);
    grown.fit(X).fit_more(X, 100);
    params.n_estimators = 200;
    IsolationForest<T> at_once(params);
    at_once.fit(X);
    check_same(grown, at_once, X);
    CHECK(grown.n_estimators() == 200);

    // In several steps, on two threads.
    params.n_estimators = 30;
    IsolationForest<T> steps(params);
    steps.fit(X);
    steps.set_n_jobs(2);
    steps.fit_more(X, 1).fit_more(X, 69).fit_more(X, 100);
    steps.set_n_jobs(1);
    check_same(steps, at_once, X);
  }
}

TEST_CASE_TEMPLATE("fit_more with sample fractions, bootstrap, max_features, categories and NaN", T, float, double) {
  Matrix<T> X = contaminated_gaussian<T>(300, 5, 2);
  redflag::Random rng(3);
  for (Index i = 0; i < X.rows(); ++i) {
    X(i, 2) = static_cast<T>(rng.uniform_int(6));
    if (i % 7 == 0) X(i, 4) = std::numeric_limits<T>::quiet_NaN();
  }
  const Schema schema{{"amount", ColumnKind::numeric},
                      {"hour", ColumnKind::numeric},
                      {"mcc", ColumnKind::categorical},
                      {"velocity", ColumnKind::numeric},
                      {"balance", ColumnKind::numeric}};
  typename IsolationForest<T>::Params params{.n_estimators = 30,
                                             .max_samples = 0.4,
                                             .contamination = 0.05,
                                             .max_features = 0.6,
                                             .bootstrap = true,
                                             .random_state = 4,
                                             .missing = MissingPolicy::route};
  IsolationForest<T> grown(params);
  grown.fit(X, schema).fit_more(X, 20);
  params.n_estimators = 50;
  IsolationForest<T> at_once(params);
  at_once.fit(X, schema);
  check_same(grown, at_once, X);
  CHECK(grown.max_samples() == 120);
}

TEST_CASE_TEMPLATE("ExtendedIsolationForest::fit_more gives the forest fit grows at once", T, float, double) {
  const Matrix<T> X = contaminated_gaussian<T>(300, 4, 5);
  typename ExtendedIsolationForest<T>::Params params{
      .n_estimators = 40, .contamination = 0.1, .random_state = 8, .split = {.extension_level = Index{2}}};
  ExtendedIsolationForest<T> grown(params);
  grown.fit(X).fit_more(X, 35);
  params.n_estimators = 75;
  ExtendedIsolationForest<T> at_once(params);
  at_once.fit(X);
  check_same(grown, at_once, X);
}

TEST_CASE_TEMPLATE("A loaded model continues its random streams", T, float, double) {
  const Matrix<T> X = contaminated_gaussian<T>(300, 3, 6);
  IsolationForest<T> first({.n_estimators = 50, .random_state = 9});
  first.fit(X);
  auto model = loaded<IsolationForest<T>>(saved(first));
  model.fit_more(X, 50);
  IsolationForest<T> at_once({.n_estimators = 100, .random_state = 9});
  at_once.fit(X);
  check_same(model, at_once, X);
}

TEST_CASE("fit_more on other rows: the new trees are the ones fit grows there") {
  // Trees [50, 100) of `model` are fitted on Y: their path lengths are those
  // of trees [50, 100) of a forest fitted on Y alone.
  const Matrix<double> X = contaminated_gaussian<double>(400, 3, 10);
  const Matrix<double> Y = contaminated_gaussian<double>(400, 3, 11, 2.0);
  const Matrix<double> rows = contaminated_gaussian<double>(60, 3, 12, 1.0);
  const auto fitted = [](const Matrix<double>& data, Index trees) {
    IsolationForest<double> model({.n_estimators = trees, .contamination = 0.1, .random_state = 13});
    model.fit(data);
    return model;
  };
  IsolationForest<double> model = fitted(X, 50);
  model.fit_more(Y, 50);
  const Vector<double> expected = total_path_length(fitted(X, 50), rows) + total_path_length(fitted(Y, 100), rows) -
                                  total_path_length(fitted(Y, 50), rows);
  const Vector<double> got = total_path_length(model, rows);
  for (Index i = 0; i < rows.rows(); ++i) CHECK(got(i) == doctest::Approx(expected(i)).epsilon(1e-10));
  // The contamination threshold is recomputed on Y, with all 100 trees.
  CHECK(model.threshold() == redflag::contamination_threshold(model.anomaly_score(Y), 0.1));
  CHECK(model.threshold() != fitted(X, 50).threshold());
}

TEST_CASE("drop_oldest_trees keeps the newest trees") {
  const Matrix<double> X = contaminated_gaussian<double>(400, 4, 14);
  const Matrix<double> rows = contaminated_gaussian<double>(80, 4, 15, 0.5);
  const auto fitted = [&](Index trees) {
    IsolationForest<double> model({.n_estimators = trees, .random_state = 16});
    model.fit(X);
    return model;
  };
  IsolationForest<double> model = fitted(200);
  const Index nodes = model.node_count();
  model.drop_oldest_trees(120);
  CHECK(model.n_estimators() == 80);
  CHECK(model.params().n_estimators == 80);
  CHECK(model.node_count() < nodes);
  // Trees [120, 200): the path lengths of fit(200) less those of fit(120).
  const Vector<double> expected = total_path_length(fitted(200), rows) - total_path_length(fitted(120), rows);
  const Vector<double> got = total_path_length(model, rows);
  for (Index i = 0; i < rows.rows(); ++i) CHECK(got(i) == doctest::Approx(expected(i)).epsilon(1e-10));

  // Dropping none changes nothing.
  IsolationForest<double> same = fitted(30);
  same.drop_oldest_trees(0);
  check_same(same, fitted(30), X);
}

TEST_CASE_TEMPLATE("drop_oldest_trees then fit_more continues the random streams", T, float, double) {
  const Matrix<T> X = contaminated_gaussian<T>(300, 4, 17);
  // Trees [40, 140) either way.
  IsolationForest<T> rolled({.n_estimators = 100, .random_state = 18});
  rolled.fit(X).drop_oldest_trees(40);
  rolled.fit_more(X, 40);
  IsolationForest<T> expected({.n_estimators = 140, .random_state = 18});
  expected.fit(X).drop_oldest_trees(40);
  check_same(rolled, expected, X);
  // Rolling again, by one tree at a time, down to a single tree and back.
  for (int step = 0; step < 3; ++step) rolled.drop_oldest_trees(1).fit_more(X, 1);
  rolled.drop_oldest_trees(99).fit_more(X, 99);
  expected.fit_more(X, 102).drop_oldest_trees(102);
  check_same(rolled, expected, X);

  // With a contamination fraction fit_more resets the threshold on its rows.
  IsolationForest<T> flagged({.n_estimators = 60, .contamination = 0.1, .random_state = 19});
  flagged.fit(X).drop_oldest_trees(30);
  const Matrix<T> Y = contaminated_gaussian<T>(300, 4, 20, T(1));
  flagged.fit_more(Y, 30);
  CHECK(flagged.threshold() == static_cast<T>(redflag::contamination_threshold(flagged.anomaly_score(Y), 0.1)));
}

TEST_CASE_TEMPLATE("fit_more and drop_oldest_trees reject bad input and leave the model intact", T, float, double) {
  const Matrix<T> X = contaminated_gaussian<T>(300, 3, 21);
  IsolationForest<T> unfitted;
  CHECK_THROWS_WITH_AS(unfitted.fit_more(X, 10), doctest::Contains("IsolationForest::fit_more: call fit()"),
                       redflag::not_fitted);
  CHECK_THROWS_WITH_AS(unfitted.drop_oldest_trees(1),
                       doctest::Contains("IsolationForest::drop_oldest_trees: call fit()"), redflag::not_fitted);
  ExtendedIsolationForest<T> unfitted_extended;
  CHECK_THROWS_WITH_AS(unfitted_extended.fit_more(X, 10),
                       doctest::Contains("ExtendedIsolationForest::fit_more: call fit()"), redflag::not_fitted);

  IsolationForest<T> model({.n_estimators = 20, .random_state = 22});
  model.fit(X);
  const std::string before = saved(model);
  CHECK_THROWS_WITH_AS(model.fit_more(contaminated_gaussian<T>(300, 4, 1), 10),
                       doctest::Contains("IsolationForest::fit_more"), redflag::schema_mismatch);
  CHECK_THROWS_WITH_AS(model.fit_more(X, 0), doctest::Contains("n_new_trees must be >= 1, got 0"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(model.fit_more(X, -3), redflag::invalid_argument);
  CHECK_THROWS_AS(model.fit_more(Matrix<T>(0, 3), 5), redflag::data_error);
  // 256 rows per tree were drawn without replacement; 255 rows cannot give them.
  CHECK_THROWS_WITH_AS(model.fit_more(X.topRows(255), 5),
                       doctest::Contains("X has 255 rows, the model draws 256 per tree without replacement"),
                       redflag::data_error);
  Matrix<T> holed = X;
  holed(4, 1) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_WITH_AS(model.fit_more(holed, 5), doctest::Contains("NaN at row 4, column 1"), redflag::data_error);
  CHECK_THROWS_WITH_AS(model.drop_oldest_trees(20), doctest::Contains("count must be in [0, n_estimators - 1]"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(model.drop_oldest_trees(-1), redflag::invalid_argument);
  CHECK(saved(model) == before);

  // With bootstrap, fewer rows than max_samples is fine.
  IsolationForest<T> bootstrapped({.n_estimators = 5, .bootstrap = true, .random_state = 23});
  bootstrapped.fit(X).fit_more(X.topRows(10), 5);
  CHECK(bootstrapped.n_estimators() == 10);
  CHECK(bootstrapped.max_samples() == 256);
}
