// IsolationForest::explain: per-feature contributions to the anomaly score.
//
// Checked against the public scoring API: contributions add up to
// anomaly_score, and on a model that routes NaN they equal Shapley values
// computed by brute force, since a row whose unknown features are NaN is
// scored exactly by the game TreeSHAP explains (both branches, by cover).

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/io/csv.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../support/forest_test_support.hpp"
#include "../support/skip.hpp"

using redflag::Auto;
using redflag::ColumnKind;
using redflag::Explanation;
using redflag::ExtendedIsolationForest;
using redflag::Index;
using redflag::IsolationForest;
using redflag::Matrix;
using redflag::MissingPolicy;
using redflag::Schema;
using redflag::Vector;
using namespace redflag::test;

namespace {

template <class Model>
concept Explainable = requires(const Model& model, const redflag::MatrixRef<typename Model::scalar_type>& X) {
  model.explain(X);
};
static_assert(Explainable<IsolationForest<double>>);
static_assert(!Explainable<ExtendedIsolationForest<double>>);  // hyperplanes mix columns

// expected_value + row sum of contributions vs the score, in T.
template <class T>
constexpr double additivity_tolerance = std::same_as<T, double> ? 1e-9 : 2e-6;

// Every explained row: scores are anomaly_score's bits, and the base value
// plus the row's contributions gives the score.
template <class T, class Model>
Explanation<T> check_additive(const Model& model, const Matrix<T>& X) {
  const Explanation<T> explanation = model.explain(X);
  const Vector<T> scores = model.anomaly_score(X);
  REQUIRE(explanation.contributions.rows() == X.rows());
  REQUIRE(explanation.contributions.cols() == X.cols());
  REQUIRE(explanation.scores.size() == X.rows());
  CHECK(explanation.scores == scores);
  double worst = 0.0;
  for (Index i = 0; i < X.rows(); ++i) {
    const double sum = static_cast<double>(explanation.expected_value) +
                       explanation.contributions.row(i).template cast<double>().sum();
    worst = std::max(worst, std::abs(sum - static_cast<double>(scores(i))));
  }
  CHECK(worst <= additivity_tolerance<T>);
  CHECK(explanation.contributions.allFinite());
  return explanation;
}

Index argmax(const Eigen::Ref<const Eigen::RowVectorXd>& values) {
  Index best = 0;
  values.maxCoeff(&best);
  return best;
}

// Per column: a value clearly beyond the column's range, the maximum plus
// three times its spread (the IQR, or the standard deviation where most
// values coincide and the IQR is 0).
template <class T>
std::vector<T> far_values(const Matrix<T>& X) {
  std::vector<T> out;
  for (Index j = 0; j < X.cols(); ++j) {
    std::vector<T> column(X.col(j).begin(), X.col(j).end());
    std::sort(column.begin(), column.end());
    const auto quantile = [&](double q) { return column[static_cast<std::size_t>(q * double(column.size() - 1))]; };
    const T mean = X.col(j).mean();
    const T sd = std::sqrt((X.col(j).array() - mean).square().mean());
    out.push_back(column.back() + T(3) * std::max(quantile(0.75) - quantile(0.25), sd));
  }
  return out;
}

// For each column k, each of `base`'s rows with column k set far away; row
// r * d + k of the result has column k changed.
template <class T>
Matrix<T> one_feature_anomalies(const Matrix<T>& base, const std::vector<T>& far) {
  const Index d = base.cols();
  Matrix<T> out(base.rows() * d, d);
  for (Index r = 0; r < base.rows(); ++r) {
    for (Index k = 0; k < d; ++k) {
      out.row(r * d + k) = base.row(r);
      out(r * d + k, k) = far[static_cast<std::size_t>(k)];
    }
  }
  return out;
}

// `count` rows of X whose training score is at most the median: ordinary rows
// (not ones that are already unusual in some feature), spread over X.
template <class T>
Matrix<T> ordinary_rows(const IsolationForest<T>& model, const Matrix<T>& X, Index count) {
  const Vector<T> scores = model.anomaly_score(X);
  std::vector<T> sorted(scores.begin(), scores.end());
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  const T median = sorted[sorted.size() / 2];
  Matrix<T> out(count, X.cols());
  Index taken = 0;
  const Index step = std::max<Index>(1, X.rows() / (4 * count));
  for (Index i = 0; i < X.rows() && taken < count; i += step) {
    if (scores(i) <= median) out.row(taken++) = X.row(i);
  }
  REQUIRE(taken == count);
  return out;
}

// Rows changed in column k only must get their largest contribution in k.
template <class T>
void check_blames_the_changed_feature(const IsolationForest<T>& model, const Matrix<T>& base,
                                      const std::vector<T>& far) {
  const Matrix<T> rows = one_feature_anomalies(base, far);
  const Explanation<T> explanation = model.explain(rows);
  const Index d = base.cols();
  const Vector<T> before = model.anomaly_score(base);
  for (Index i = 0; i < rows.rows(); ++i) {
    const Index k = i % d;
    CAPTURE(i);
    CAPTURE(k);
    // The change is one the model sees: the row became more anomalous.
    CHECK(explanation.scores(i) > before(i / d));
    const Eigen::RowVectorXd contributions = explanation.contributions.row(i).template cast<double>();
    CHECK(argmax(contributions) == k);
    CHECK(explanation.top(i, 1).front().column == k);
  }
}

template <class Model>
Model round_tripped(const Model& model) {
  std::stringstream file(std::ios::in | std::ios::out | std::ios::binary);
  redflag::save(model, file);
  return redflag::load<Model>(file);
}

// Mean path length E[h] recovered from an anomaly score.
double mean_path_length(double score, double c) { return -std::log2(score) * c; }

}  // namespace

TEST_CASE_TEMPLATE("IsolationForest explanations add up to anomaly_score", T, float, double) {
  Matrix<T> X = gaussian<T>(600, 5, 11);
  for (Index i = 0; i < X.rows(); i += 40) X.row(i) *= T(4);  // some anomalies
  const Matrix<T> rows = X.topRows(120);

  SUBCASE("default parameters") {
    IsolationForest<T> model({.n_estimators = 60, .random_state = 1});
    model.fit(X);
    check_additive<T>(model, rows);
  }
  SUBCASE("max_features below 1, bootstrap, sample fraction, contamination") {
    IsolationForest<T> model({.n_estimators = 60,
                              .max_samples = 0.3,
                              .contamination = 0.05,
                              .max_features = 0.6,
                              .bootstrap = true,
                              .random_state = 2});
    model.fit(X);
    check_additive<T>(model, rows);
    // max_features = 3 of 5: each tree splits on its 3 columns only, yet every
    // column may be credited somewhere in the forest.
    IsolationForest<T> few({.n_estimators = 60, .max_features = Index{1}, .random_state = 3});
    few.fit(X);
    const auto explanation = check_additive<T>(few, rows);
    for (Index j = 0; j < X.cols(); ++j) CHECK(explanation.contributions.col(j).cwiseAbs().maxCoeff() > T(0));
  }
  SUBCASE("NaN routed at fit and when explaining") {
    Matrix<T> holed = X;
    redflag::Random rng(5);
    for (Index i = 0; i < holed.rows(); ++i) {
      if (rng.uniform<double>() < 0.2) holed(i, rng.uniform_int(holed.cols())) = nan_value<T>;
    }
    IsolationForest<T> model({.n_estimators = 60, .random_state = 4, .missing = MissingPolicy::route});
    model.fit(holed);
    Matrix<T> explained = holed.topRows(120);
    explained.row(0).setConstant(nan_value<T>);  // knows nothing: scores the base value
    explained.row(1).head(4).setConstant(nan_value<T>);
    const auto explanation = check_additive<T>(model, explained);
    CHECK(explanation.contributions.row(0).isZero(0));
    CHECK(std::abs(static_cast<double>(explanation.scores(0)) - static_cast<double>(explanation.expected_value)) <=
          (std::same_as<T, double> ? 1e-12 : 1e-6));
    // A missing value gets no credit: row 1 is explained by its last column alone.
    CHECK(explanation.contributions.row(1).head(4).isZero(0));
    CHECK(explanation.contributions(1, 4) != T(0));
  }
  SUBCASE("categorical columns, unseen categories") {
    const Schema schema{{"amount", ColumnKind::numeric},
                        {"mcc", ColumnKind::categorical},
                        {"hour", ColumnKind::numeric},
                        {"channel", ColumnKind::categorical},
                        {"velocity", ColumnKind::numeric}};
    Matrix<T> coded = X;
    redflag::Random rng(6);
    for (Index i = 0; i < coded.rows(); ++i) {
      coded(i, 1) = static_cast<T>(rng.uniform_int(12));
      coded(i, 3) = static_cast<T>(i % 40 == 20 ? 7 : rng.uniform_int(3));  // code 7 is rare
    }
    IsolationForest<T> model({.n_estimators = 60, .random_state = 7, .missing = MissingPolicy::route});
    model.fit(coded, schema);
    Matrix<T> explained = coded.topRows(120);
    explained(2, 1) = T(99);  // a code no tree saw
    explained(3, 3) = nan_value<T>;
    const auto explanation = check_additive<T>(model, explained);
    CHECK(explanation.feature_names == std::vector<std::string>{"amount", "mcc", "hour", "channel", "velocity"});
    // An unseen code takes both branches everywhere: no credit, as for NaN.
    CHECK(explanation.contributions(2, 1) == T(0));
    CHECK(explanation.contributions(3, 3) == T(0));
    // Rows with the rare code are blamed on it.
    CHECK(explanation.top(20, 1).front().column == 3);
  }
}

TEST_CASE_TEMPLATE("A forest of single leaves attributes nothing", T, float, double) {
  // Identical rows cannot be split: every tree is its root leaf.
  const Matrix<T> X = Matrix<T>::Constant(50, 3, T(2));
  IsolationForest<T> model({.n_estimators = 10});
  model.fit(X);
  REQUIRE(model.node_count() == 10);
  Matrix<T> rows = X.topRows(4);
  rows(1, 0) = T(-7);
  const auto explanation = check_additive<T>(model, rows);
  CHECK(explanation.contributions.isZero(0));
  CHECK(explanation.importances().isZero(0));
}

TEST_CASE_TEMPLATE("IsolationForest explains format 1 models (counts recovered from the leaves)", T, float, double) {
  const auto path = golden_dir() / ("isolation_forest_" + std::string(redflag::scalar_name<T>) + ".bin");
  const auto model = redflag::load<IsolationForest<T>>(path);
  const Matrix<T> X = golden_data<T>();
  const auto explanation = check_additive<T>(model, X);
  CHECK(explanation.feature_names == std::vector<std::string>{"amount", "hour", "velocity"});
  // The far-away row (12, -6, 9.5) is blamed on one of its columns, far more
  // than an ordinary row is.
  CHECK(explanation.contributions.row(48).maxCoeff() > 4 * explanation.contributions.row(0).cwiseAbs().maxCoeff());
  // Saved again in format 2 (with the recovered counts) it explains the same.
  const auto again = round_tripped(model).explain(X);
  CHECK(again.contributions == explanation.contributions);
  CHECK(again.expected_value == explanation.expected_value);
}

TEST_CASE("IsolationForest explanations are the Shapley values of the path-length game") {
  // v(S) = E[h] of the row with the columns outside S set to NaN, which a
  // routing model scores by descending both branches weighted by training
  // rows: the game TreeSHAP solves. Brute force over all 2^d subsets.
  const Index d = 4;
  Matrix<double> X = gaussian<double>(300, d, 21);
  X.row(7) << 4.0, -3.5, 0.2, 0.1;
  IsolationForest<double> model(
      {.n_estimators = 25, .max_samples = Index{64}, .random_state = 8, .missing = MissingPolicy::route});
  model.fit(X);
  const double c = redflag::detail::forest::average_path_length(64.0);
  const Matrix<double> rows = X.topRows(10);
  const auto explanation = model.explain(rows);

  const Matrix<double> nothing = Matrix<double>::Constant(1, d, nan_value<double>);
  const double base_score = model.anomaly_score(nothing)(0);
  CHECK(explanation.expected_value == doctest::Approx(base_score).epsilon(1e-12));

  const auto subsets = std::size_t{1} << d;
  std::vector<double> factorial(static_cast<std::size_t>(d) + 1, 1.0);
  for (std::size_t i = 1; i < factorial.size(); ++i) factorial[i] = factorial[i - 1] * static_cast<double>(i);
  for (Index r = 0; r < rows.rows(); ++r) {
    CAPTURE(r);
    Matrix<double> masked(static_cast<Index>(subsets), d);
    for (std::size_t s = 0; s < subsets; ++s) {
      for (Index j = 0; j < d; ++j) masked(static_cast<Index>(s), j) = (s >> j) & 1 ? rows(r, j) : nan_value<double>;
    }
    const Vector<double> scores = model.anomaly_score(masked);
    std::vector<double> h(subsets);
    for (std::size_t s = 0; s < subsets; ++s) h[s] = mean_path_length(scores(static_cast<Index>(s)), c);
    std::vector<double> phi(static_cast<std::size_t>(d), 0.0);
    for (Index j = 0; j < d; ++j) {
      for (std::size_t s = 0; s < subsets; ++s) {
        if ((s >> j) & 1) continue;
        const auto size = static_cast<std::size_t>(std::popcount(s));
        const double weight = factorial[size] * factorial[static_cast<std::size_t>(d) - size - 1] /
                              factorial[static_cast<std::size_t>(d)];
        phi[static_cast<std::size_t>(j)] += weight * (h[s | (std::size_t{1} << j)] - h[s]);
      }
    }
    // Each feature keeps its share of the path-length change on the score.
    double phi_sum = 0.0;
    for (const double value : phi) phi_sum += value;
    const double ratio = (explanation.scores(r) - base_score) / phi_sum;
    for (Index j = 0; j < d; ++j) {
      CAPTURE(j);
      CHECK(explanation.contributions(r, j) ==
            doctest::Approx(phi[static_cast<std::size_t>(j)] * ratio).epsilon(1e-7).scale(1e-3));
    }
  }
  // The planted row is blamed on its two far columns, with positive
  // contributions (they raised the score).
  const auto top = explanation.top(7, 2);
  CHECK(((top[0].column == 0 && top[1].column == 1) || (top[0].column == 1 && top[1].column == 0)));
  CHECK(top[1].value > 0.0);
}

TEST_CASE_TEMPLATE("A row made anomalous in one feature is blamed on that feature (synthetic)", T, float, double) {
  // Eight independent Gaussian columns; ordinary rows with one column pushed
  // beyond the data's range.
  const Matrix<T> X = gaussian<T>(2000, 8, 31);
  IsolationForest<T> model({.n_estimators = 100, .random_state = 9});
  model.fit(X);
  check_blames_the_changed_feature(model, ordinary_rows(model, X, 20), far_values(X));
}

TEST_CASE("A row made anomalous in one feature is blamed on that feature (mammography)" * doctest::test_suite("data")) {
  const auto path = redflag::test::dataset("mammography.csv");
  if (!path) return;
  const auto table = redflag::read_csv<double>(*path, {.label_column = "label"});
  REQUIRE(table.values.cols() == 6);
  Matrix<double> inliers(table.values.rows(), 6);
  Index n = 0;
  for (Index i = 0; i < table.values.rows(); ++i) {
    if (table.labels(i) == 0) inliers.row(n++) = table.values.row(i);
  }
  inliers.conservativeResize(n, 6);
  IsolationForest<double> model({.n_estimators = 100, .random_state = 10});
  model.fit(table.values);
  check_blames_the_changed_feature(model, ordinary_rows(model, inliers, 25), far_values(table.values));
}

TEST_CASE_TEMPLATE("feature_importances sum to 1 and rank the column that carries the anomalies first", T, float,
                   double) {
  for (const Index k : {Index{0}, Index{3}, Index{5}}) {
    CAPTURE(k);
    Matrix<T> X = gaussian<T>(1000, 6, 40 + static_cast<std::uint64_t>(k));
    // 3% anomalies, in column k only, scattered on both sides (a tight
    // cluster would be masked: normal to the trees).
    redflag::Random rng(static_cast<std::uint64_t>(k));
    for (Index i = 0; i < X.rows(); i += 33) X(i, k) = (i % 2 == 0 ? T(1) : T(-1)) * (T(5) + T(4) * rng.uniform<T>());
    IsolationForest<T> model({.n_estimators = 50, .contamination = 0.03, .random_state = 11});
    model.fit(X);
    // Over the rows the model flags, k comes first (they include some
    // normal rows far out in other columns). Over all rows it need not: the
    // mean absolute contribution is then made by the normal rows, whose
    // scores vary with every column, column k least (the anomalies widen its
    // range, so its splits seldom cut the normal rows).
    const redflag::LabelVector flagged = model.predict(X);
    Matrix<T> anomalies(flagged.sum(), X.cols());
    for (Index i = 0, n = 0; i < X.rows(); ++i) {
      if (flagged(i) == 1) anomalies.row(n++) = X.row(i);
    }
    const Vector<T> importances = model.feature_importances(anomalies);
    CHECK(std::abs(static_cast<double>(importances.sum()) - 1.0) <= (std::same_as<T, double> ? 1e-12 : 1e-6));
    CHECK((importances.array() >= T(0)).all());
    Index first = -1;
    importances.maxCoeff(&first);
    CHECK(first == k);
    // The explanation's importances are the same numbers.
    CHECK(importances == model.explain(anomalies).importances());
    const Vector<T> overall = model.feature_importances(X.topRows(40));
    CHECK(std::abs(static_cast<double>(overall.sum()) - 1.0) <= (std::same_as<T, double> ? 1e-12 : 1e-6));
  }
}

TEST_CASE("Explanation::top ranks contributions, largest first, ties by column") {
  Explanation<double> explanation;
  explanation.feature_names = {"a", "b", "c", "d", "e"};
  explanation.contributions.resize(2, 5);
  explanation.contributions << 0.1, -0.3, 0.4, 0.1, 0.0,  //
      -0.2, -0.1, -0.5, -0.1, -0.4;
  using Reason = Explanation<double>::Contribution;
  const auto top = explanation.top(0, 5);
  REQUIRE(top.size() == 5);
  CHECK(top[0] == Reason{2, "c", 0.4});
  CHECK(top[1] == Reason{0, "a", 0.1});  // tie with column 3: lower column first
  CHECK(top[2] == Reason{3, "d", 0.1});
  CHECK(top[3] == Reason{4, "e", 0.0});
  CHECK(top[4] == Reason{1, "b", -0.3});
  CHECK(explanation.top(0, 2) == std::vector<Reason>(top.begin(), top.begin() + 2));
  CHECK(explanation.top(0, 0).empty());
  CHECK(explanation.top(0, 99).size() == 5);
  CHECK(explanation.top(1, 2) == std::vector<Reason>{{1, "b", -0.1}, {3, "d", -0.1}});
  CHECK_THROWS_WITH_AS((void)explanation.top(2, 1), doctest::Contains("Explanation::top: row must be in [0, 2), got 2"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS((void)explanation.top(-1, 1), redflag::invalid_argument);

  // Mean absolute contributions, normalised.
  const Vector<double> importances = explanation.importances();
  CHECK(importances.sum() == doctest::Approx(1.0));
  CHECK(importances(2) == doctest::Approx(0.9 / 2.2));
  Explanation<double> silent;
  silent.contributions = Matrix<double>::Zero(3, 2);
  CHECK(silent.importances().isZero(0));
}

TEST_CASE_TEMPLATE("IsolationForest explanations name the schema's columns and rank by top()", T, float, double) {
  const Matrix<T> X = gaussian<T>(400, 3, 51);
  IsolationForest<T> model({.n_estimators = 30, .random_state = 12});
  model.fit(X, Schema::from_names({"amount", "hour", "velocity"}));
  Matrix<T> rows = X.topRows(30);
  rows(0, 2) = T(9);
  const auto explanation = model.explain(rows);
  CHECK(explanation.feature_names == std::vector<std::string>{"amount", "hour", "velocity"});
  CHECK(explanation.top(0, 1).front().column == 2);
  for (Index i = 0; i < rows.rows(); ++i) {
    const auto top = explanation.top(i, 3);
    REQUIRE(top.size() == 3);
    CHECK(top[0].value >= top[1].value);
    CHECK(top[1].value >= top[2].value);
    for (const auto& [column, name, value] : top) {
      CHECK(value == explanation.contributions(i, column));
      CHECK(name == explanation.feature_names[static_cast<std::size_t>(column)]);
    }
  }
  IsolationForest<T> unnamed({.n_estimators = 5, .random_state = 12});
  unnamed.fit(X);
  CHECK(unnamed.explain(rows).feature_names == std::vector<std::string>{"x0", "x1", "x2"});
}

TEST_CASE_TEMPLATE("IsolationForest explanations are bit-identical for any n_jobs", T, float, double) {
  Matrix<T> X = gaussian<T>(500, 4, 61);
  X(3, 1) = nan_value<T>;
  IsolationForest<T> model({.n_estimators = 40, .random_state = 13, .missing = MissingPolicy::route});
  model.fit(X);
  const Matrix<T> rows = X.topRows(64);  // 4 blocks of 16 rows
  const auto serial = model.explain(rows);
  model.set_n_jobs(2);
  const auto parallel = model.explain(rows);
  model.set_n_jobs(-1);
  const auto all = model.explain(rows);
  CHECK(parallel.contributions == serial.contributions);
  CHECK(parallel.scores == serial.scores);
  CHECK(parallel.expected_value == serial.expected_value);
  CHECK(all.contributions == serial.contributions);
}

TEST_CASE_TEMPLATE("IsolationForest::explain rejects bad input", T, float, double) {
  const Matrix<T> X = gaussian<T>(100, 3, 71);
  IsolationForest<T> unfitted;
  CHECK_THROWS_WITH_AS((void)unfitted.explain(X), doctest::Contains("IsolationForest::explain: call fit()"),
                       redflag::not_fitted);
  CHECK_THROWS_AS((void)unfitted.feature_importances(X), redflag::not_fitted);
  IsolationForest<T> model({.n_estimators = 5});
  model.fit(X);
  CHECK_THROWS_WITH_AS((void)model.explain(gaussian<T>(4, 2, 1)), doctest::Contains("IsolationForest::explain"),
                       redflag::schema_mismatch);
  CHECK_THROWS_AS((void)model.feature_importances(gaussian<T>(4, 4, 1)), redflag::schema_mismatch);
  Matrix<T> holed = X.topRows(3);
  holed(1, 2) = nan_value<T>;
  CHECK_THROWS_WITH_AS((void)model.explain(holed), doctest::Contains("NaN at row 1, column 2"), redflag::data_error);
  CHECK_THROWS_AS((void)model.explain(Matrix<T>(0, 3)), redflag::data_error);
}
