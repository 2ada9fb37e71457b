// ExtendedIsolationForest: IsolationForest with random hyperplane splits
// (Hariri, Kind & Brunner, "Extended Isolation Forest", IEEE TKDE 2021).
//
// The trees are read back from the model's JSON file (format 2) where a test
// needs to see the hyperplanes themselves.

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "../support/forest_test_support.hpp"

using redflag::Auto;
using redflag::ExtendedIsolationForest;
using redflag::Index;
using redflag::IsolationForest;
using redflag::Matrix;
using redflag::MissingPolicy;
using redflag::Vector;
using namespace redflag::test;
namespace forest = redflag::detail::forest;

static_assert(redflag::Detector<ExtendedIsolationForest<float>>);
static_assert(redflag::SerializableModel<ExtendedIsolationForest<double>>);
static_assert(ExtendedIsolationForest<double>::model_type == "ExtendedIsolationForest");

namespace {

// Sends a training row down a hyperplane tree from node `at` as fit did: left
// when sum(weight * x) <= offset; a missing projection follows the child
// with more rows (left on a tie). Counts visits.
template <class T>
void hyperplane_fit_route(const forest::IsolationTrees<T>& trees, std::size_t at, const T* x,
                          std::vector<std::uint32_t>& visits) {
  while (true) {
    ++visits[at];
    const auto& node = trees.nodes[at];
    if (node.kind == forest::NodeKind::leaf) return;
    const auto left = static_cast<std::size_t>(node.left);
    // Missing coordinates drop out: (x - p) . n over the known terms.
    double projection = 0.0;
    bool known = false;
    for (std::uint32_t k = 0; k < trees.terms_per_node; ++k) {
      const auto& term = trees.terms[trees.aux[at] + k];
      if (std::isnan(x[term.column]) || term.weight == T(0)) continue;
      known = true;
      projection +=
          static_cast<double>(term.weight) * (static_cast<double>(x[term.column]) - static_cast<double>(term.point));
    }
    const bool go_left = !known ? trees.count[left] >= trees.count[left + 1] : projection <= 0.0;
    at = go_left ? left : left + 1;
  }
}

// Every training row (max_samples = n, no bootstrap) retraces its fit path,
// so visits reproduce every node's training count.
template <class T>
void check_counts_retraced(const forest::IsolationTrees<T>& trees, const Matrix<T>& X) {
  REQUIRE(trees.aux.size() == trees.nodes.size());
  const std::vector<std::uint32_t> visits = retraced_visits(trees, X, hyperplane_fit_route<T>);
  CHECK(visits == trees.count);
}

// Two Gaussian blobs as in the paper's two-cluster example (as we read it):
// 500 points each, sd 1, centred at (0, 10) and (10, 0). The forests below
// use 200 trees of 256 rows, and every figure is averaged over 3 seeds.
template <class T>
Matrix<T> two_blobs() {
  redflag::Random rng(2019);
  Matrix<T> X(1000, 2);
  for (Index i = 0; i < 1000; ++i) {
    const T centre_x = i < 500 ? T(0) : T(10);
    X(i, 0) = centre_x + rng.normal<T>();
    X(i, 1) = T(10) - centre_x + rng.normal<T>();
  }
  return X;
}

struct Artefacts {
  double centre = 0;        // mean score at the two blob centres
  double ghost_excess = 0;  // mean score around (0, 0) and (10, 10) minus `centre`
  double axis_gap = 0;      // mean score off-axis minus on-axis, on circles round the centres
};

// The classic forest's axis-parallel cuts leave bands of low scores along the
// blobs' x and y ranges: where the bands cross, at (0, 0) and (10, 10), "ghost"
// clusters look almost normal, and on a circle round a blob the points on the
// axes score lower than those on the diagonals. An isotropic detector has
// neither artefact.
template <class Model>
Artefacts artefacts(const Model& model) {
  using T = typename Model::scalar_type;
  std::vector<std::pair<double, double>> points = {{0, 10}, {10, 0}};
  for (const double gx : {0.0, 10.0}) {
    for (const double dx : {-1.0, 0.0, 1.0}) {
      for (const double dy : {-1.0, 0.0, 1.0}) points.emplace_back(gx + dx, gx + dy);
    }
  }
  for (const double r : {3.0, 4.0}) {
    const double d = r / std::sqrt(2.0);
    for (const auto& [cx, cy] : {std::pair{0.0, 10.0}, std::pair{10.0, 0.0}}) {
      for (const auto& [dx, dy] :
           {std::pair{r, 0.0}, {-r, 0.0}, {0.0, r}, {0.0, -r}, {d, d}, {d, -d}, {-d, d}, {-d, -d}}) {
        points.emplace_back(cx + dx, cy + dy);
      }
    }
  }
  Matrix<T> Q(static_cast<Index>(points.size()), 2);
  for (std::size_t i = 0; i < points.size(); ++i) {
    Q(static_cast<Index>(i), 0) = static_cast<T>(points[i].first);
    Q(static_cast<Index>(i), 1) = static_cast<T>(points[i].second);
  }
  const Vector<double> s = model.anomaly_score(Q).template cast<double>();
  Artefacts a;
  a.centre = (s(0) + s(1)) / 2;
  a.ghost_excess = s.segment(2, 18).mean() - a.centre;
  double axis = 0, diagonal = 0;
  for (Index k = 20; k < s.size(); k += 8) {
    axis += s.segment(k, 4).sum();
    diagonal += s.segment(k + 4, 4).sum();
  }
  a.axis_gap = (diagonal - axis) / static_cast<double>(s.size() - 20) * 2;
  return a;
}

}  // namespace

TEST_CASE_TEMPLATE("ExtendedIsolationForest removes the classic forest's axis-parallel artefacts", T, float, double) {
  const Matrix<T> X = two_blobs<T>();
  Artefacts classic, extended, level0;
  const std::uint64_t seeds[] = {1, 2, 3};
  for (const std::uint64_t seed : seeds) {
    IsolationForest<T> axis_model({.n_estimators = 200, .random_state = seed});
    ExtendedIsolationForest<T> full({.n_estimators = 200, .random_state = seed});
    ExtendedIsolationForest<T> flat(
        {.n_estimators = 200, .random_state = seed, .split = {.extension_level = Index{0}}});
    for (auto& [total, model_artefacts] :
         {std::pair{&classic, artefacts(axis_model.fit(X))}, std::pair{&extended, artefacts(full.fit(X))},
          std::pair{&level0, artefacts(flat.fit(X))}}) {
      total->centre += model_artefacts.centre / 3;
      total->ghost_excess += model_artefacts.ghost_excess / 3;
      total->axis_gap += model_artefacts.axis_gap / 3;
    }
  }
  MESSAGE("classic:  centre ", classic.centre, ", ghost excess ", classic.ghost_excess, ", axis gap ",
          classic.axis_gap);
  MESSAGE("extended: centre ", extended.centre, ", ghost excess ", extended.ghost_excess, ", axis gap ",
          extended.axis_gap);
  MESSAGE("level 0:  centre ", level0.centre, ", ghost excess ", level0.ghost_excess, ", axis gap ", level0.axis_gap);
  // The blob centres are normal for every model.
  CHECK(classic.centre < 0.45);
  CHECK(extended.centre < 0.45);
  // The ghosts stand out more with hyperplanes (about 0.28 vs 0.19 above the
  // centres) ...
  CHECK(extended.ghost_excess > classic.ghost_excess + 0.05);
  // ... and the circles round the blobs become nearly isotropic (gap about
  // 0.06 classic vs under 0.01 extended).
  CHECK(classic.axis_gap > 0.04);
  CHECK(extended.axis_gap < classic.axis_gap / 3);
  // Level 0 hyperplanes are axis-parallel cuts: the artefacts come back.
  CHECK(level0.axis_gap > 0.04);
  CHECK(level0.ghost_excess < extended.ghost_excess - 0.05);
}

TEST_CASE_TEMPLATE("ExtendedIsolationForest extension levels set the terms per hyperplane", T, float, double) {
  Matrix<T> X = gaussian_with_nan<T>(400, 4, 5, 0.0);
  X.row(399).setConstant(T(6));
  const auto check_model = [&](const ExtendedIsolationForest<T>& model, std::uint32_t terms, std::size_t tree_columns) {
    const auto trees = trees_of(model);
    CHECK(trees.terms_per_node == terms);
    REQUIRE(trees.aux.size() == trees.nodes.size());
    Index hyperplanes = 0, zero_weights = 0, repeated_columns = 0, too_many_columns = 0;
    for (std::size_t t = 0; t < trees.tree_count(); ++t) {
      std::set<std::int32_t> columns_of_tree;
      for (auto i = static_cast<std::size_t>(trees.offsets[t]); i < static_cast<std::size_t>(trees.offsets[t + 1]);
           ++i) {
        const auto& node = trees.nodes[i];
        if (node.kind == forest::NodeKind::leaf) continue;
        REQUIRE(node.kind == forest::NodeKind::hyperplane);
        ++hyperplanes;
        std::set<std::int32_t> columns_of_node;
        for (std::uint32_t k = 0; k < terms; ++k) {
          const auto& term = trees.terms[trees.aux[i] + k];
          zero_weights += term.weight == T(0) ? 1 : 0;
          columns_of_node.insert(term.column);
          columns_of_tree.insert(term.column);
        }
        repeated_columns += columns_of_node.size() != terms ? 1 : 0;
      }
      too_many_columns += columns_of_tree.size() > tree_columns ? 1 : 0;
    }
    CHECK(hyperplanes > 0);
    CHECK(zero_weights == 0);
    CHECK(repeated_columns == 0);  // each cut's terms are on distinct columns
    CHECK(too_many_columns == 0);  // ... of its tree's columns
    const Vector<T> scores = model.anomaly_score(X);
    Index top = 0;
    scores.maxCoeff(&top);
    CHECK(top == 399);
    CHECK(scores.minCoeff() > T(0));
    CHECK(scores.maxCoeff() <= T(1));
  };
  SUBCASE("level 0: one term per node, an axis-like cut") {
    ExtendedIsolationForest<T> model({.n_estimators = 30, .random_state = 1, .split = {.extension_level = Index{0}}});
    check_model(model.fit(X), 1, 4);
  }
  SUBCASE("level 2: three terms") {
    ExtendedIsolationForest<T> model({.n_estimators = 30, .random_state = 1, .split = {.extension_level = Index{2}}});
    check_model(model.fit(X), 3, 4);
  }
  SUBCASE("auto: fully extended over the columns of each tree") {
    ExtendedIsolationForest<T> model({.n_estimators = 30, .random_state = 1});
    check_model(model.fit(X), 4, 4);
    ExtendedIsolationForest<T> subset({.n_estimators = 30, .max_features = Index{2}, .random_state = 1});
    check_model(subset.fit(X), 2, 2);
  }
}

TEST_CASE_TEMPLATE("ExtendedIsolationForest rejects bad extension levels and categorical columns", T, float, double) {
  using redflag::invalid_argument;
  const Matrix<T> X = gaussian_with_nan<T>(50, 3, 6, 0.0);
  const auto rejects = [&](const typename ExtendedIsolationForest<T>::Params& params, const char* message) {
    CHECK_THROWS_WITH_AS(ExtendedIsolationForest<T>(params).fit(X), doctest::Contains(message), invalid_argument);
  };
  rejects({.split = {.extension_level = Index{3}}},
          "ExtendedIsolationForest::fit: extension_level must be in [0, 2] (columns per tree - 1), got 3");
  rejects({.max_features = Index{2}, .split = {.extension_level = Index{2}}},
          "extension_level must be in [0, 1] (columns per tree - 1), got 2");
  rejects({.max_features = 0.34, .split = {.extension_level = Index{1}}},
          "extension_level must be in [0, 0] (columns per tree - 1), got 1");
  rejects({.split = {.extension_level = Index{-1}}}, "extension_level must be auto or a level >= 0, got -1");

  const redflag::Schema schema{{"amount", redflag::ColumnKind::numeric},
                               {"mcc", redflag::ColumnKind::categorical},
                               {"hour", redflag::ColumnKind::numeric}};
  Matrix<T> codes = X;
  codes.col(1) = codes.col(1).array().abs().floor().matrix();
  ExtendedIsolationForest<T> model;
  CHECK_THROWS_WITH_AS(model.fit(codes, schema),
                       doctest::Contains("ExtendedIsolationForest::fit: column 'mcc' is categorical; hyperplane "
                                         "splits need numeric columns"),
                       invalid_argument);
  CHECK_FALSE(model.is_fitted());
  // A failed fit leaves a fitted model as it was.
  model.fit(X);
  const Vector<T> scores = model.anomaly_score(X);
  CHECK_THROWS_AS(model.fit(codes, schema), invalid_argument);
  CHECK(model.anomaly_score(X) == scores);
}

TEST_CASE_TEMPLATE("ExtendedIsolationForest degenerate data", T, float, double) {
  SUBCASE("identical rows: every cut sends all rows one way, down to the height limit") {
    const Matrix<T> X = Matrix<T>::Constant(40, 3, T(1.5));
    ExtendedIsolationForest<T> model({.n_estimators = 7, .random_state = 2});
    model.fit(X);
    const int height = forest::height_limit(40);  // 6
    CHECK(model.node_count() == 7 * (2 * height + 1));
    const Vector<T> scores = model.anomaly_score(X);
    CHECK((scores.array() == scores(0)).all());
    const T expected = score_of<T>(7 * (height + forest::average_path_length(40)), 7, 40);
    CHECK(static_cast<double>(scores(0)) == doctest::Approx(static_cast<double>(expected)).epsilon(1e-6));
    // Any other point leaves the chain early somewhere.
    Matrix<T> other = Matrix<T>::Constant(1, 3, T(1.5));
    other(0, 2) = T(2);
    CHECK(model.anomaly_score(other)(0) > scores(0));
  }
  SUBCASE("a constant column shifts every offset and projection alike") {
    Matrix<T> X = gaussian_with_nan<T>(300, 3, 7, 0.0);
    X.row(299) << T(5), T(0), T(-5);
    X.col(1).setConstant(T(0));
    ExtendedIsolationForest<T> model({.n_estimators = 50, .random_state = 3});
    const Vector<T> scores = model.fit(X).anomaly_score(X);
    Index top = 0;
    scores.maxCoeff(&top);
    CHECK(top == 299);
    // The same draws with the constant elsewhere: equal up to rounding.
    X.col(1).setConstant(T(3));
    const Vector<T> shifted = model.fit(X).anomaly_score(X);
    const auto changed = (shifted.array() != scores.array()).count();
    MESSAGE("rows whose score changed moving the constant column from 0 to 3: ", changed);
    CHECK(changed <= 3);
    CHECK(static_cast<double>((shifted - scores).cwiseAbs().maxCoeff()) < 0.01);
  }
  SUBCASE("two rows: they share every path, so their scores are equal") {
    Matrix<T> X(2, 2);
    X << T(0), T(0), T(1), T(3);
    ExtendedIsolationForest<T> model({.n_estimators = 50, .random_state = 4});
    const Vector<T> scores = model.fit(X).anomaly_score(X);
    CHECK(model.max_samples() == 2);
    CHECK(scores(0) == scores(1));
    // Per tree the path is 1 (split apart) or 1 + c(2) = 2 (cut missed).
    CHECK(scores(0) >= T(0.25));
    CHECK(scores(0) <= T(0.5));
    CHECK(scores(0) < T(0.5));  // with 50 trees some cut misses
  }
}

TEST_CASE_TEMPLATE("ExtendedIsolationForest is bit-identical for any n_jobs, fit_more and drop_oldest_trees", T, float,
                   double) {
  const Matrix<T> X = gaussian_with_nan<T>(1500, 3, 8, 0.0);
  const auto fitted = [&](int n_jobs, Index n_estimators) {
    ExtendedIsolationForest<T> model({.n_estimators = n_estimators,
                                      .contamination = 0.02,
                                      .random_state = 17,
                                      .n_jobs = n_jobs,
                                      .split = {.extension_level = Index{1}}});
    return model.fit(X);
  };
  const ExtendedIsolationForest<T> serial = fitted(1, 40);
  const std::string bytes = saved(serial);
  const Vector<T> scores = serial.anomaly_score(X);
  for (const int n_jobs : {2, -1}) {
    CAPTURE(n_jobs);
    const ExtendedIsolationForest<T> parallel = fitted(n_jobs, 40);
    CHECK(saved(parallel) == bytes);
    CHECK(parallel.anomaly_score(X) == scores);
    CHECK(parallel.threshold() == serial.threshold());
  }
  ExtendedIsolationForest<T> other({.n_estimators = 40, .random_state = 18});
  CHECK(other.fit(X).anomaly_score(X) != scores);
  // fit(a) + fit_more(b) = fit(a + b); dropping trees keeps the others intact.
  ExtendedIsolationForest<T> grown = fitted(1, 15);
  grown.fit_more(X, 25);
  CHECK(saved(grown) == bytes);
  ExtendedIsolationForest<T> rolled = fitted(1, 40);
  rolled.drop_oldest_trees(10).fit_more(X, 10);
  ExtendedIsolationForest<T> reference = fitted(1, 50);
  reference.drop_oldest_trees(10);
  CHECK(rolled.anomaly_score(X) == reference.anomaly_score(X));
  reference.set_threshold(rolled.threshold());  // fit_more recomputed it, dropping trees did not
  CHECK(saved(rolled) == saved(reference));
}

TEST_CASE_TEMPLATE("ExtendedIsolationForest round-trips through binary and JSON files", T, float, double) {
  Matrix<T> X = gaussian_with_nan<T>(300, 3, 9, 0.05);
  X.row(0) << T(6), T(-6), T(6);
  for (const auto level : {std::variant<Auto, Index>(Auto{}), std::variant<Auto, Index>(Index{1})}) {
    for (const Index n_trees : {Index{1}, Index{25}}) {
      CAPTURE(n_trees);
      ExtendedIsolationForest<T> model({.n_estimators = n_trees,
                                        .max_samples = Index{128},
                                        .contamination = 0.05,
                                        .random_state = 4,
                                        .missing = MissingPolicy::route,
                                        .split = {.extension_level = level}});
      model.fit(X);
      const Vector<T> scores = model.anomaly_score(X);
      for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
        const std::string bytes = saved(model, format);
        std::istringstream in(bytes, std::ios::binary);
        const redflag::ModelInfo info = redflag::read_info(in);
        CHECK(info.model_type == "ExtendedIsolationForest");
        CHECK(info.model_format_version == 2);
        const auto copy = loaded<ExtendedIsolationForest<T>>(bytes);
        CHECK(copy.anomaly_score(X) == scores);
        CHECK(copy.threshold() == model.threshold());
        CHECK(copy.params().split == model.params().split);
        CHECK(copy.params().missing == MissingPolicy::route);
        CHECK(saved(copy) == saved(model));
        // The model type is checked before the payload is read.
        CHECK_THROWS_WITH_AS((void)loaded<IsolationForest<T>>(bytes),
                             doctest::Contains("file holds a 'ExtendedIsolationForest', expected 'IsolationForest'"),
                             redflag::serialization_error);
      }
    }
  }
  IsolationForest<T> classic({.n_estimators = 3});
  CHECK_THROWS_WITH_AS(
      (void)loaded<ExtendedIsolationForest<T>>(saved(classic.fit(gaussian_with_nan<T>(50, 3, 1, 0.0)))),
      doctest::Contains("file holds a 'IsolationForest', expected 'ExtendedIsolationForest'"),
      redflag::serialization_error);
  CHECK_FALSE(loaded<ExtendedIsolationForest<T>>(saved(ExtendedIsolationForest<T>())).is_fitted());
}

TEST_CASE_TEMPLATE("ExtendedIsolationForest routes NaN", T, float, double) {
  SUBCASE("scattered NaN: sensible scores, training rows retrace their fit paths") {
    Matrix<T> X = gaussian_with_nan<T>(250, 4, 10, 0.1);
    X.row(249) << T(6), nan_value<T>, T(-6), T(6);
    const Matrix<T> all_missing = Matrix<T>::Constant(1, 4, nan_value<T>);
    // Two terms per cut: the outlier is found through the columns it has.
    ExtendedIsolationForest<T> level1({.n_estimators = 40,
                                       .random_state = 5,
                                       .missing = MissingPolicy::route,
                                       .split = {.extension_level = Index{1}}});
    Vector<T> scores = level1.fit(X).anomaly_score(X);
    Index top = 0;
    scores.maxCoeff(&top);
    CHECK(top == 249);
    CHECK(scores(249) > T(0.6));
    CHECK(level1.score_one(std::span<const T>(X.row(249).data(), 4)) == scores(249));
    // Fully extended, every cut involves every column; the missing value
    // drops out of each cut and the three known values still isolate the row.
    ExtendedIsolationForest<T> model({.n_estimators = 40, .random_state = 5, .missing = MissingPolicy::route});
    scores = model.fit(X).anomaly_score(X);
    CHECK(scores.allFinite());
    CHECK(scores.minCoeff() > T(0));
    CHECK(scores.maxCoeff() <= T(1));
    scores.maxCoeff(&top);
    CHECK(top == 249);
    CHECK(scores(249) > model.anomaly_score(all_missing)(0) + T(0.1));
    MESSAGE("outlier (6, NaN, -6, 6): level 1 ", level1.anomaly_score(X.bottomRows(1))(0), ", auto ", scores(249));
    const auto trees = trees_of(model);
    check_counts_retraced(trees, X);
    // A row with every value missing takes every branch: the cover-weighted
    // mean leaf value of each tree.
    double base = 0.0;
    for (std::size_t t = 0; t < trees.tree_count(); ++t) {
      for (auto i = static_cast<std::size_t>(trees.offsets[t]); i < static_cast<std::size_t>(trees.offsets[t + 1]);
           ++i) {
        if (trees.nodes[i].kind == forest::NodeKind::leaf) {
          base += trees.count[i] * static_cast<double>(trees.nodes[i].value) / 250.0;
        }
      }
    }
    CHECK(static_cast<double>(model.anomaly_score(all_missing)(0)) ==
          doctest::Approx(static_cast<double>(score_of<T>(base, 40, 250))).epsilon(1e-6));
  }
  SUBCASE("without NaN in training, an all-NaN row scores the training rows' mean path") {
    const Matrix<T> X = gaussian_with_nan<T>(120, 3, 11, 0.0);
    ExtendedIsolationForest<T> model({.n_estimators = 20, .random_state = 6, .missing = MissingPolicy::route});
    const Vector<T> scores = model.fit(X).anomaly_score(X);
    const double c = forest::average_path_length(120);
    double mean_depth = 0.0;
    for (Index i = 0; i < scores.size(); ++i) mean_depth -= std::log2(static_cast<double>(scores(i))) * 20 * c / 120.0;
    const T all_missing = model.anomaly_score(Matrix<T>::Constant(1, 3, nan_value<T>))(0);
    CHECK(static_cast<double>(all_missing) == doctest::Approx(std::exp2(-mean_depth / (20 * c))).epsilon(1e-5));
  }
  SUBCASE("a column NaN on every row takes no part in the hyperplanes") {
    Matrix<T> X = gaussian_with_nan<T>(250, 3, 12, 0.0);  // max_samples = n: every row in every tree
    X.col(2).setConstant(nan_value<T>);
    X.row(0) << T(6), T(6), nan_value<T>;
    ExtendedIsolationForest<T> model({.n_estimators = 40, .random_state = 7, .missing = MissingPolicy::route});
    const Vector<T> scores = model.fit(X).anomaly_score(X);
    const auto trees = trees_of(model);
    CHECK(trees.terms_per_node == 3);
    for (const auto& term : trees.terms) CHECK(term.column != 2);
    Index top = 0;
    scores.maxCoeff(&top);
    CHECK(top == 0);
    CHECK(scores.maxCoeff() - scores.minCoeff() > T(0.2));
    // Fully extended over the two usable columns draws exactly what level 1 does.
    ExtendedIsolationForest<T> level1({.n_estimators = 40,
                                       .random_state = 7,
                                       .missing = MissingPolicy::route,
                                       .split = {.extension_level = Index{1}}});
    CHECK(level1.fit(X).anomaly_score(X) == scores);
    check_counts_retraced(trees, X);
  }
  SUBCASE("reject is the default") {
    Matrix<T> X = gaussian_with_nan<T>(30, 2, 13, 0.0);
    X(3, 1) = nan_value<T>;
    ExtendedIsolationForest<T> model;
    CHECK_THROWS_WITH_AS(model.fit(X),
                         doctest::Contains("X has NaN at row 3, column 1 (set missing = MissingPolicy::route"),
                         redflag::data_error);
  }
}
