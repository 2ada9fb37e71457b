#include <redflag/core/concepts.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "../support/forest_test_support.hpp"

using redflag::Auto;
using redflag::Index;
using redflag::IsolationForest;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::Vector;
using namespace redflag::test;

static_assert(redflag::Detector<IsolationForest<float>>);
static_assert(redflag::Detector<IsolationForest<double>>);
static_assert(redflag::SerializableModel<IsolationForest<float>>);
static_assert(redflag::SerializableModel<IsolationForest<double>>);

TEST_CASE("IsolationForest average path length matches scikit-learn's") {
  using redflag::detail::forest::average_path_length;
  CHECK(average_path_length(1) == 0.0);
  CHECK(average_path_length(2) == 1.0);
  // sklearn.ensemble._iforest._average_path_length([3, 256])
  CHECK(average_path_length(3) == doctest::Approx(1.207392357589623).epsilon(1e-15));
  CHECK(average_path_length(256) == doctest::Approx(10.244770920119917).epsilon(1e-15));
  CHECK(redflag::detail::forest::height_limit(2) == 1);
  CHECK(redflag::detail::forest::height_limit(256) == 8);
  CHECK(redflag::detail::forest::height_limit(257) == 9);
}

TEST_CASE_TEMPLATE("IsolationForest known small cases", T, float, double) {
  SUBCASE("two distinct rows: every tree is one split, both scores are exactly 0.5") {
    Matrix<T> X(2, 1);
    X << T(0), T(1);
    IsolationForest<T> model;
    model.fit(X);
    CHECK(model.max_samples() == 2);
    CHECK(model.node_count() == 300);  // 100 trees of root + two leaves
    const Vector<T> scores = model.anomaly_score(X);
    CHECK(scores(0) == T(0.5));
    CHECK(scores(1) == T(0.5));
    CHECK(model.threshold() == T(0.5));
    CHECK(model.predict(X) == LabelVector::Ones(2));  // at the threshold: flagged
  }
  SUBCASE("identical rows cannot be split: single-leaf trees, score 2^(-c(psi)/c(psi))") {
    const Matrix<T> X = Matrix<T>::Constant(40, 3, T(2.5));
    IsolationForest<T> model({.n_estimators = 7});
    model.fit(X);
    CHECK(model.node_count() == 7);
    const Vector<T> scores = model.anomaly_score(X.topRows(3));
    for (Index i = 0; i < 3; ++i) CHECK(scores(i) == doctest::Approx(0.5).epsilon(1e-6));
  }
  SUBCASE("constant columns are skipped when splitting") {
    Matrix<T> X = Matrix<T>::Zero(64, 3);
    for (Index i = 0; i < 64; ++i) X(i, 1) = static_cast<T>(i);
    IsolationForest<T> model({.n_estimators = 5});
    model.fit(X);
    // 64 distinct values and height 6: each tree splits down to single rows
    // or depth 6, never giving up early on a constant column.
    CHECK(model.node_count() > 5 * 20);
  }
}

TEST_CASE_TEMPLATE("IsolationForest scores the obvious outlier highest", T, float, double) {
  const Matrix<T> X = gaussian_with_outlier<T>(300, 4, 11);
  IsolationForest<T> model({.random_state = 3});
  const Vector<T> scores = model.fit(X).anomaly_score(X);
  Index top = 0;
  scores.maxCoeff(&top);
  CHECK(top == 300);
  CHECK(scores(300) > T(0.7));
  CHECK(scores.minCoeff() > T(0));
  CHECK(scores.maxCoeff() <= T(1));
  CHECK(model.predict(X)(300) == 1);
  CHECK(model.n_features() == 4);
  CHECK(model.max_samples() == 256);
  // Fewer rows than 256: auto uses all of them; counts above n are clipped.
  IsolationForest<T> small({.max_samples = Index{1000}});
  CHECK(small.fit(X.topRows(50)).max_samples() == 50);
  IsolationForest<T> half({.max_samples = 0.5, .max_features = Index{2}});
  CHECK(half.fit(X).max_samples() == 150);
  CHECK(half.anomaly_score(X).maxCoeff() <= T(1));
}

TEST_CASE_TEMPLATE("IsolationForest contamination flags that share of the training rows", T, float, double) {
  const Matrix<T> X = gaussian<T>(500, 3, 5);
  for (const double contamination : {0.01, 0.1, 0.25, 0.5}) {
    IsolationForest<T> model({.contamination = contamination, .random_state = 9});
    const Index flagged = model.fit(X).predict(X).sum();
    const double expected = contamination * 500.0;
    CHECK(std::abs(static_cast<double>(flagged) - expected) <= 2.0);
    CHECK(static_cast<double>(model.threshold()) ==
          doctest::Approx(redflag::contamination_threshold(model.anomaly_score(X), contamination)));
  }
}

TEST_CASE_TEMPLATE("IsolationForest threshold, decision_function, predict and score_samples agree", T, float, double) {
  const Matrix<T> X = gaussian_with_outlier<T>(200, 2, 8);
  IsolationForest<T> model;
  model.fit(X);
  const Vector<T> scores = model.anomaly_score(X);
  CHECK(model.decision_function(X) == (scores.array() - model.threshold()).matrix());
  CHECK(model.predict(X) == (scores.array() >= model.threshold()).template cast<redflag::Label>().matrix());
  CHECK(model.score_samples(X) == -scores);
  model.set_threshold(scores(17));
  CHECK(model.threshold() == scores(17));
  CHECK(model.predict(X)(17) == 1);
  CHECK(model.decision_function(X)(17) == T(0));
  CHECK(model.predict(X).sum() == (scores.array() >= scores(17)).count());
}

TEST_CASE_TEMPLATE("IsolationForest is bit-identical for any n_jobs", T, float, double) {
  const Matrix<T> X = gaussian_with_outlier<T>(3000, 5, 21);  // > one 512-row scoring block
  const auto fitted = [&](int n_jobs) {
    IsolationForest<T> model({.contamination = 0.05, .random_state = 77, .n_jobs = n_jobs});
    return model.fit(X);
  };
  const IsolationForest<T> serial = fitted(1);
  const std::string bytes = saved(serial);
  const Vector<T> scores = serial.anomaly_score(X);
  for (const int n_jobs : {2, 3, -1}) {
    CAPTURE(n_jobs);
    const IsolationForest<T> parallel = fitted(n_jobs);
    CHECK(saved(parallel) == bytes);
    CHECK(parallel.anomaly_score(X) == scores);
    CHECK(parallel.threshold() == serial.threshold());
  }
  IsolationForest<T> other_seed({.random_state = 78});
  CHECK(other_seed.fit(X).anomaly_score(X) != scores);
  IsolationForest<T> bootstrap({.bootstrap = true, .random_state = 77});
  CHECK(bootstrap.fit(X).anomaly_score(X) != scores);
}

TEST_CASE_TEMPLATE("IsolationForest rejects bad input", T, float, double) {
  using redflag::data_error;
  using redflag::invalid_argument;
  using redflag::not_fitted;
  using redflag::schema_mismatch;
  const Matrix<T> X = gaussian<T>(20, 3, 1);
  IsolationForest<T> model;

  CHECK_THROWS_WITH_AS((void)model.anomaly_score(X),
                       doctest::Contains("IsolationForest::anomaly_score: call fit() before"), not_fitted);
  CHECK_THROWS_AS((void)model.predict(X), not_fitted);
  CHECK_THROWS_AS((void)model.decision_function(X), not_fitted);
  CHECK_THROWS_AS((void)model.threshold(), not_fitted);
  CHECK_THROWS_AS(model.set_threshold(T(0.5)), not_fitted);

  CHECK_THROWS_WITH_AS(model.fit(X.topRows(1)), doctest::Contains("X has 1 row, at least 2"), data_error);
  CHECK_THROWS_WITH_AS(model.fit(Matrix<T>(0, 3)), doctest::Contains("X is empty"), data_error);
  Matrix<T> bad = X;
  bad(4, 2) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_WITH_AS(model.fit(bad), doctest::Contains("IsolationForest::fit: X has NaN at row 4, column 2"),
                       data_error);
  CHECK_THROWS_WITH_AS(model.fit(X, redflag::Schema::numeric(2)), doctest::Contains("input has 3 columns, expected 2"),
                       schema_mismatch);
  CHECK_FALSE(model.is_fitted());

  model.fit(X);
  bad(4, 2) = std::numeric_limits<T>::infinity();
  CHECK_THROWS_WITH_AS((void)model.anomaly_score(bad), doctest::Contains("anomaly_score: X has Inf at row 4, column 2"),
                       data_error);
  CHECK_THROWS_WITH_AS((void)model.decision_function(Matrix<T>(0, 3)),
                       doctest::Contains("IsolationForest::decision_function: X is empty"), data_error);
  CHECK_THROWS_WITH_AS((void)model.predict(X.leftCols(2)), doctest::Contains("input has 2 columns, expected 3"),
                       schema_mismatch);
  CHECK_THROWS_WITH_AS((void)model.anomaly_score(X, redflag::Schema::from_names({"a", "b", "c"})),
                       doctest::Contains("column 0: expected 'x0'"), schema_mismatch);
  CHECK_THROWS_WITH_AS(model.set_threshold(std::numeric_limits<T>::quiet_NaN()),
                       doctest::Contains("threshold must be finite"), invalid_argument);

  using Params = typename IsolationForest<T>::Params;
  // Field ranges are checked at construction, what depends on X at fit.
  const auto rejects = [&](const Params& params, const char* message) {
    CHECK_THROWS_WITH_AS(IsolationForest<T>(params).fit(X), doctest::Contains(message), invalid_argument);
  };
  rejects({.n_estimators = 0}, "n_estimators must be >= 1, got 0");
  rejects({.max_samples = Index{1}}, "max_samples must be auto, a count >= 2 or a fraction in (0, 1], got 1");
  rejects({.max_samples = 1.5}, "max_samples must be auto, a count >= 2 or a fraction in (0, 1], got 1.5");
  rejects({.max_samples = 0.05}, "max_samples = 0.05 of 20 rows is 1 rows, at least 2");
  rejects({.contamination = 0.0}, "contamination must be auto or a fraction in (0, 0.5], got 0");
  rejects({.contamination = 0.6}, "contamination must be auto or a fraction in (0, 0.5], got 0.6");
  rejects({.max_features = Index{0}}, "max_features must be a count >= 1 or a fraction in (0, 1], got 0");
  rejects({.max_features = Index{4}}, "max_features must be in [1, 3] (the number of columns), got 4");
  rejects({.max_features = 0.0}, "max_features must be a count >= 1 or a fraction in (0, 1], got 0");
  rejects({.n_jobs = 0}, "IsolationForest::IsolationForest: n_jobs must be a non-zero integer, got 0");
  CHECK_THROWS_WITH_AS(Params{.n_estimators = 0}.validate(), doctest::Contains("n_estimators must be >= 1"),
                       invalid_argument);
  rejects({.n_estimators = 100000000, .max_samples = Index{20}}, "must be <= 2147483647");
  CHECK_THROWS_AS(model.set_n_jobs(0), invalid_argument);
  CHECK(model.is_fitted());  // failed fits leave the previous fit intact
}

TEST_CASE_TEMPLATE("IsolationForest round-trips through binary and JSON files", T, float, double) {
  const Matrix<T> X = gaussian_with_outlier<T>(400, 3, 2);
  IsolationForest<T> model({.n_estimators = 20,
                            .max_samples = 0.5,
                            .contamination = 0.1,
                            .max_features = Index{2},
                            .bootstrap = true,
                            .random_state = 5});
  model.fit(X);
  const Vector<T> scores = model.anomaly_score(X);
  for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
    const auto copy = loaded<IsolationForest<T>>(saved(model, format));
    CHECK(copy.anomaly_score(X) == scores);
    CHECK(copy.threshold() == model.threshold());
    CHECK(copy.schema() == model.schema());
    CHECK(copy.max_samples() == 200);
    CHECK(std::get<double>(copy.params().max_samples) == 0.5);
    CHECK(std::get<double>(copy.params().contamination) == 0.1);
    CHECK(std::get<Index>(copy.params().max_features) == 2);
    CHECK(copy.params().bootstrap);
    CHECK(copy.params().random_state == 5);
    CHECK(saved(copy) == saved(model));
  }
  // An unfitted model round-trips too and stays unfitted.
  CHECK_FALSE(loaded<IsolationForest<T>>(saved(IsolationForest<T>())).is_fitted());
  // Model size does not depend on the number of training rows beyond psi.
  IsolationForest<T> big({.n_estimators = 20, .random_state = 5});
  IsolationForest<T> bigger({.n_estimators = 20, .random_state = 5});
  big.fit(gaussian<T>(1000, 3, 4));
  bigger.fit(gaussian<T>(20000, 3, 4));
  CHECK(bigger.node_count() <= 20 * 511);
  CHECK(static_cast<double>(saved(bigger).size()) < 1.2 * static_cast<double>(saved(big).size()));
}

TEST_CASE("IsolationForest rejects corrupted files") {
  const Matrix<double> X = gaussian<double>(100, 2, 3);
  IsolationForest<double> model({.n_estimators = 3});
  model.fit(X);
  const std::string text = saved(model, redflag::Format::json);
  const auto rejects = [&](const std::string& tampered, const char* message) {
    CHECK_THROWS_WITH_AS((void)loaded<IsolationForest<double>>(tampered), doctest::Contains(message),
                         redflag::serialization_error);
  };
  rejects(replaced(text, R"("node_feature": [)", R"("node_feature": [7, )"), "node arrays differ in length");
  // The root of tree 0 always splits (100 distinct rows): point it elsewhere.
  rejects(first_number_replaced(text, "node_feature", "9"), "node 0 (tree 0) splits on column 9 of 2");
  rejects(first_number_replaced(text, "node_left", "0"), "node 0 (tree 0) has children outside (0,");
  rejects(first_number_replaced(text, "node_kind", "7"), "node 0 has unknown kind 7");
  rejects(first_number_replaced(text, "node_count", "99"), "node 0 (tree 0) has counts that do not add up");
  rejects(first_number_replaced(text, "node_left", "2"), "has counts that do not add up");
  rejects(replaced(text, R"("n_estimators": 3)", R"("n_estimators": 4)"), "has 3 trees, n_estimators says 4");
  rejects(replaced(text, R"("n_estimators": 3)", R"("n_estimators": 0)"), "n_estimators must be >= 1");
  rejects(replaced(text, R"("contamination_kind": 0)", R"("contamination_kind": 5)"),
          "contamination kind 5 is unknown");
  rejects(first_number_replaced(text, "tree_offsets", "1"), "tree offsets do not span");
  // Regression: a first tree ending past the nodes, then a decreasing offset
  // (the ends still span the nodes) made validation read past every node array.
  const std::string nodes = std::to_string(model.node_count());
  rejects(array_replaced(text, "tree_offsets", "0, " + std::to_string(model.node_count() + 1000) + ", 1, " + nodes),
          "tree 1 is empty or its offsets decrease");

  std::string binary = saved(model);
  binary[binary.size() - 3] ^= 0x10;
  rejects(binary, "checksum mismatch");
  rejects(binary.substr(0, binary.size() / 2), "truncated");
}

TEST_CASE_TEMPLATE("IsolationForest fast walk equals the general tree walk", T, float, double) {
  namespace forest = redflag::detail::forest;
  // Rounded values give ties and constant columns on small nodes; 21 trees
  // leave trees outside full groups of the tree-interleaved walk too.
  redflag::Random rng(11);
  Matrix<T> X(700, 4);
  for (Index i = 0; i < X.rows(); ++i) {
    for (Index j = 0; j < X.cols(); ++j) X(i, j) = std::round(rng.normal<T>() * T(j + 1)) / T(2);
  }
  X.col(3).setConstant(T(1));  // a constant column: some trees are one leaf
  forest::IsolationTrees<T> trees;
  for (std::uint64_t t = 0; t < 21; ++t) {
    forest::TreeSettings settings;
    settings.max_samples = t % 3 == 0 ? 2 : (t % 3 == 1 ? 37 : 256);
    settings.max_features = t == 5 ? 1 : 4;
    settings.bootstrap = t % 2 == 1;
    settings.height_limit = forest::height_limit(settings.max_samples);
    settings.categorical.assign(t == 5 ? 1 : 4, false);
    redflag::Random tree_rng = redflag::Random::stream(3, t);
    const Matrix<T> source = t == 5 ? Matrix<T>(X.rightCols(1)) : X;
    trees.append(forest::build_isolation_tree<T>(source, settings, tree_rng));
  }
  trees.derive();
  REQUIRE(trees.numeric_only);
  CHECK(trees.nodes[static_cast<std::size_t>(trees.offsets[5])].kind == forest::NodeKind::leaf);  // one leaf
  // Queries: the training rows, every other one with a value set to a split
  // threshold, so rows also land exactly on thresholds (they go left).
  Matrix<T> Q = X;
  for (Index r = 0; r < Q.rows(); r += 2) {
    const auto& node = trees.nodes[static_cast<std::size_t>(r * 7) % trees.nodes.size()];
    if (node.kind == forest::NodeKind::numeric) Q(r, node.feature) = node.value;
  }
  const forest::FastWalk<T> fast(trees);
  // The complete-tree copy large batches walk (in vector registers where the
  // CPU has AVX-512, else by the scalar complete-tree walk).
  const std::optional<forest::ScoringCopy<T>> copy = forest::scoring_copy(trees);
  REQUIRE(copy.has_value());
  MESSAGE("complete-tree walk on the " << redflag::simd::name(forest::ScoringCopy<T>::walk_path()) << " path");
  for (const std::size_t rows : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, std::size_t{64},
                                 std::size_t{100}, std::size_t{700}}) {
    CAPTURE(rows);
    std::vector<double> reference(rows, 0.0);
    for (std::size_t t = 0; t < trees.tree_count(); ++t) {
      for (std::size_t r = 0; r < rows; ++r) {
        reference[r] +=
            forest::path_length(trees, static_cast<std::size_t>(trees.offsets[t]), Q.row(static_cast<Index>(r)).data());
      }
    }
    std::vector<double> blocked(rows, 0.0);
    fast.add_path_lengths(Q.data(), static_cast<std::size_t>(Q.cols()), rows, static_cast<std::size_t>(Q.cols()),
                          blocked.data());
    CHECK(blocked == reference);
    std::vector<double> by_copy(rows, 0.0);
    fast.add_path_lengths(Q.data(), static_cast<std::size_t>(Q.cols()), rows, static_cast<std::size_t>(Q.cols()),
                          by_copy.data(), &*copy);
    CHECK(by_copy == reference);
  }
}

TEST_CASE_TEMPLATE("IsolationForest scores a large batch as its small slices", T, float, double) {
  // 6000 rows take the complete-tree copy (from 2048 rows, where the CPU has
  // AVX-512), slices of 1000 the node walk; rows with NaN the general walk
  // in both. Same bits, any thread count.
  Matrix<T> X = gaussian_with_outlier<T>(6000, 6, 21);
  for (Index r = 5; r < X.rows(); r += 97) X(r, r % 6) = std::numeric_limits<T>::quiet_NaN();
  IsolationForest<T> model({.n_estimators = 50, .random_state = 8, .missing = redflag::MissingPolicy::route});
  model.fit(X.topRows(2000));
  const Vector<T> whole = model.anomaly_score(X);
  for (Index begin = 0; begin < X.rows(); begin += 1000) {  // 6001 rows: the outlier is last
    CAPTURE(begin);
    const Index rows = std::min<Index>(1000, X.rows() - begin);
    CHECK(model.anomaly_score(X.middleRows(begin, rows)) == whole.segment(begin, rows));
  }
  model.set_n_jobs(3);
  CHECK(model.anomaly_score(X) == whole);
}

TEST_CASE_TEMPLATE("IsolationForest scores a row alone as within a block", T, float, double) {
  // A lone row takes the tree-interleaved walk, rows in a block the
  // row-interleaved one; both must give the same bits.
  const Matrix<T> X = gaussian_with_outlier<T>(200, 5, 12);
  IsolationForest<T> model({.n_estimators = 37, .max_samples = Index{64}, .random_state = 4});
  const Vector<T> scores = model.fit(X).anomaly_score(X);
  for (const Index i : {Index{0}, Index{17}, Index{200}}) {
    const Matrix<T> row = X.row(i);
    CHECK(model.anomaly_score(row)(0) == scores(i));
  }
  // A strided view (every other row) scores as a copy of those rows.
  const Matrix<T> every_other =
      Eigen::Map<const Matrix<T>, 0, Eigen::OuterStride<>>(X.data(), 100, 5, Eigen::OuterStride<>(10));
  const Eigen::Map<const Matrix<T>, 0, Eigen::OuterStride<>> view(X.data(), 100, 5, Eigen::OuterStride<>(10));
  CHECK(model.anomaly_score(view) == model.anomaly_score(every_other));
  CHECK(model.anomaly_score(every_other)(3) == scores(6));
}
