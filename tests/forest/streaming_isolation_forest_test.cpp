#include <redflag/core/concepts.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/streaming_isolation_forest.hpp>
#include <redflag/metrics/thresholds.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "../support/allocation_tracker.hpp"
#include "../support/forest_test_support.hpp"

using redflag::Auto;
using redflag::ColumnKind;
using redflag::Index;
using redflag::IsolationForest;
using redflag::Matrix;
using redflag::MissingPolicy;
using redflag::Schema;
using redflag::StreamingIsolationForest;
using redflag::Vector;
using namespace redflag::test;

// A Detector like the batch models, so hosts and the contract test
// (tests/contract/components_test.cpp) use it through the same interface.
static_assert(redflag::Detector<StreamingIsolationForest<float>>);
static_assert(redflag::Detector<StreamingIsolationForest<double>>);

static_assert(redflag::SerializableModel<StreamingIsolationForest<float>>);
static_assert(redflag::SerializableModel<StreamingIsolationForest<double>>);

namespace {

// n rows of d Gaussian columns with mean `mean` from row `shift_at` on (0 before).
template <class T>
Matrix<T> stream(Index n, Index d, std::uint64_t seed, Index shift_at = -1, T mean = T(0)) {
  redflag::Random rng(seed);
  Matrix<T> X(n, d);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) X(i, j) = rng.normal<T>() + (shift_at >= 0 && i >= shift_at ? mean : T(0));
  }
  return X;
}

template <class T>
std::span<const T> row_of(const Matrix<T>& X, Index i) {
  return {X.row(i).data(), static_cast<std::size_t>(X.cols())};
}

// The window after the first `seen` rows of X, built independently of the
// ring: row r holds the latest row i < seen with i = r (mod W).
template <class T>
Matrix<T> expected_window(const Matrix<T>& X, Index seen, Index W) {
  Matrix<T> window = Matrix<T>::Zero(W, X.cols());
  for (Index i = 0; i < seen; ++i) window.row(i % W) = X.row(i);
  return window;
}

// What the detector should hold after the first `seen` rows of X, built with
// IsolationForest's public API: fit on the first full window, then at every
// block fit_more on the window and drop the oldest trees.
template <class T>
IsolationForest<T> replayed(const typename StreamingIsolationForest<T>::Params& params, const Matrix<T>& X, Index seen,
                            const Schema& schema) {
  const Index W = params.window_size;
  const Index replaced = StreamingIsolationForest<T>::resolve_trees_per_block(params);
  IsolationForest<T> forest(params.forest);
  if (seen < W) return forest;
  forest.fit(X.topRows(W), schema);
  for (Index t = W + params.block_size; t <= seen; t += params.block_size) {
    const Matrix<T> window = expected_window(X, t, W);
    forest.fit_more(window, replaced);
    forest.drop_oldest_trees(replaced);
    if (const auto* fraction = std::get_if<double>(&params.forest.contamination)) {
      forest.set_threshold(static_cast<T>(redflag::contamination_threshold(forest.anomaly_score(window), *fraction)));
    }
  }
  return forest;
}

}  // namespace

TEST_CASE_TEMPLATE("StreamingIsolationForest warms up on its first full window", T, float, double) {
  const Matrix<T> X = stream<T>(100, 3, 1);
  StreamingIsolationForest<T> detector(
      {.forest = {.n_estimators = 20, .random_state = 2}, .window_size = 64, .block_size = 16});
  CHECK_FALSE(detector.is_ready());
  CHECK(detector.rows_until_ready() == 64);
  CHECK(detector.schema().empty());
  for (Index i = 0; i < 24; ++i) detector.learn_one(row_of(X, i));
  CHECK(detector.rows_seen() == 24);
  CHECK(detector.schema() == Schema::numeric(3));
  CHECK_THROWS_WITH_AS((void)detector.score_one(row_of(X, 0)),
                       doctest::Contains("StreamingIsolationForest::score_one: the forest is fitted once the window "
                                         "holds its 64 rows; 40 more are needed"),
                       redflag::not_fitted);
  CHECK_THROWS_AS((void)detector.anomaly_score(X), redflag::not_fitted);
  CHECK_FALSE(detector.model().is_fitted());
  detector.learn(X.middleRows(24, 39));
  CHECK(detector.rows_until_ready() == 1);
  detector.learn_one(row_of(X, 63));
  CHECK(detector.is_ready());
  CHECK(detector.rows_until_ready() == 0);
  CHECK(detector.model().n_estimators() == 20);
  CHECK(detector.model().max_samples() == 64);  // auto: min(256, window_size)
  CHECK(detector.trees_per_block() == 5);       // 20 * 16 / 64
  // The first forest is fit on the first 64 rows.
  IsolationForest<T> batch({.n_estimators = 20, .random_state = 2});
  batch.fit(X.topRows(64));
  CHECK(saved(detector.model()) == saved(batch));
  CHECK(detector.anomaly_score(X) == batch.anomaly_score(X));
  CHECK(detector.score_one(row_of(X, 70)) == batch.anomaly_score(X.row(70))(0));
  CHECK(detector.memory_usage() >= 64 * 3 * sizeof(T) + batch.memory_usage());
}

TEST_CASE_TEMPLATE("StreamingIsolationForest refreshes from its ring buffer as the public API replays it", T, float,
                   double) {
  struct Case {
    Index window, block, trees, replaced;  // replaced: 0 = auto
    bool contamination;
  };
  // W a multiple of the block or not; the whole forest replaced at once.
  for (const Case c :
       {Case{64, 16, 20, 0, false}, Case{50, 15, 12, 5, true}, Case{40, 40, 6, 6, true}, Case{30, 1, 4, 1, false}}) {
    CAPTURE(c.window);
    typename StreamingIsolationForest<T>::Params params{
        .forest = {.n_estimators = c.trees, .random_state = 3}, .window_size = c.window, .block_size = c.block};
    if (c.replaced > 0) params.trees_per_block = c.replaced;
    if (c.contamination) params.forest.contamination = 0.1;
    const Matrix<T> X = stream<T>(4 * c.window + 7, 2, 4, 2 * c.window, T(3));
    StreamingIsolationForest<T> detector(params);
    for (Index i = 0; i < X.rows(); ++i) {
      detector.learn_one(row_of(X, i));
      // At the first fit, around a wrap of the ring, at the end.
      if (i + 1 == c.window || i + 1 == 3 * c.window + 1 || i + 1 == X.rows()) {
        CAPTURE(i);
        CHECK(detector.window() == expected_window(X, i + 1, c.window));
        const IsolationForest<T> expected = replayed<T>(params, X, i + 1, Schema::numeric(2));
        CHECK(saved(detector.model()) == saved(expected));
        CHECK(detector.model().threshold() == expected.threshold());
      }
    }
    CHECK(detector.model().n_estimators() == c.trees);
  }
}

TEST_CASE_TEMPLATE("StreamingIsolationForest follows a drifting stream", T, float, double) {
  // Mean 0 for 5000 rows, then mean 5 in every column.
  const Index shift = 5000;
  const Matrix<T> X = stream<T>(8000, 3, 5, shift, T(5));
  const auto run = [&] {
    StreamingIsolationForest<T> detector(
        {.forest = {.n_estimators = 50, .random_state = 6}, .window_size = 512, .block_size = 64});
    Vector<T> scores = Vector<T>::Zero(X.rows());  // each row scored before it is learned
    for (Index i = 0; i < X.rows(); ++i) {
      if (detector.is_ready()) scores(i) = detector.score_one(row_of(X, i));
      detector.learn_one(row_of(X, i));
    }
    return std::pair{scores, detector};
  };
  const auto [scores, detector] = run();
  CHECK(detector.trees_per_block() == 6);  // 50 * 64 / 512

  // The old regime is normal, the first rows of the new one are anomalies.
  const auto normal_share = [&](const Vector<T>& part) {
    return static_cast<double>((part.array() < T(0.5)).count()) / static_cast<double>(part.size());
  };
  const Vector<T> before = scores.segment(shift - 1500, 1500);
  const Vector<T> just_after = scores.segment(shift, 50);
  CHECK(before.mean() < T(0.48));
  CHECK(normal_share(before) > 0.7);
  CHECK(just_after.minCoeff() > T(0.6));
  // Once the window holds the new regime and the trees are renewed (W rows,
  // then about W more), the new regime is as normal as the old one was, and
  // the old one anomalous.
  const Vector<T> adapted = scores.segment(shift + 1500, 1500);
  CHECK(adapted.mean() < T(0.48));
  CHECK(std::abs(adapted.mean() - before.mean()) < T(0.02));
  CHECK(normal_share(adapted) > 0.7);
  CHECK(detector.anomaly_score(X.middleRows(shift - 500, 500)).minCoeff() > T(0.6));

  // The same stream and seed give the same detector, bit for bit.
  const auto [again, other] = run();
  CHECK(again == scores);
  CHECK(saved(other) == saved(detector));
}

TEST_CASE_TEMPLATE("A saved StreamingIsolationForest continues the stream identically", T, float, double) {
  const Matrix<T> X = stream<T>(300, 3, 7, 150, T(2));
  const typename StreamingIsolationForest<T>::Params params{
      .forest = {.n_estimators = 15, .contamination = 0.05, .random_state = 8},
      .window_size = 80,
      .block_size = 20,
      .trees_per_block = Index{4}};
  StreamingIsolationForest<T> reference(params);
  reference.learn(X);
  // Before any row, while warming up, just before and just after a refresh,
  // mid-block; binary and JSON.
  for (const Index at : {Index{0}, Index{30}, Index{79}, Index{80}, Index{119}, Index{120}, Index{173}}) {
    for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
      CAPTURE(at);
      CAPTURE(static_cast<int>(format));
      StreamingIsolationForest<T> first(params);
      if (at > 0) first.learn(X.topRows(at));
      auto restored = loaded<StreamingIsolationForest<T>>(saved(first, format));
      CHECK(restored.rows_seen() == static_cast<std::uint64_t>(at));
      CHECK(saved(restored) == saved(first));
      restored.learn(X.bottomRows(X.rows() - at));
      CHECK(saved(restored) == saved(reference));
      CHECK(restored.anomaly_score(X) == reference.anomaly_score(X));
    }
  }
  // Another model type's file is refused.
  CHECK_THROWS_WITH_AS(loaded<IsolationForest<T>>(saved(reference)),
                       doctest::Contains("file holds a 'StreamingIsolationForest', expected 'IsolationForest'"),
                       redflag::serialization_error);
}

TEST_CASE("A StreamingIsolationForest file that contradicts itself is refused") {
  const Matrix<double> X = stream<double>(70, 2, 9);
  StreamingIsolationForest<double> detector({.forest = {.n_estimators = 5}, .window_size = 50, .block_size = 10});
  detector.learn(X);
  const std::string json = saved(detector, redflag::Format::json);
  // A fitted forest with a window that has not filled yet.
  CHECK_THROWS_WITH_AS(
      loaded<StreamingIsolationForest<double>>(replaced(json, "\"rows_seen\": 70", "\"rows_seen\": 10")),
      doctest::Contains("has a forest before its window filled"), redflag::serialization_error);
  CHECK_THROWS_WITH_AS(
      loaded<StreamingIsolationForest<double>>(replaced(json, "\"block_size\": 10", "\"block_size\": 51")),
      doctest::Contains("block_size must be in [1, window_size]"), redflag::serialization_error);
  CHECK_THROWS_WITH_AS(
      loaded<StreamingIsolationForest<double>>(replaced(json, "\"window_size\": 50", "\"window_size\": 60")),
      doctest::Contains("window is 50 x 2, expected 60 x 2"), redflag::serialization_error);
}

TEST_CASE_TEMPLATE("StreamingIsolationForest rejects bad parameters and rows", T, float, double) {
  using Params = typename StreamingIsolationForest<T>::Params;
  const auto construct = [](const Params& params) { return StreamingIsolationForest<T>(params); };
  CHECK_THROWS_WITH_AS(
      construct({.window_size = 1}),
      doctest::Contains("StreamingIsolationForest::StreamingIsolationForest: window_size must be >= 2"),
      redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(construct({.window_size = 100, .block_size = 0}),
                       doctest::Contains("block_size must be in [1, window_size] = [1, 100], got 0"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(construct({.window_size = 100, .block_size = 101}), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(construct({.forest = {.n_estimators = 10}, .trees_per_block = Index{11}}),
                       doctest::Contains("trees_per_block must be auto or in [1, n_estimators] = [1, 10], got 11"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(construct({.trees_per_block = Index{0}}), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(construct({.forest = {.n_estimators = 0}}), doctest::Contains("n_estimators must be >= 1"),
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(construct({.forest = {.max_samples = 0.01}, .window_size = 100, .block_size = 10}),
                       doctest::Contains("max_samples = 0.01 of window_size 100 is 1 rows"), redflag::invalid_argument);
  CHECK_THROWS_AS(construct({.forest = {.n_jobs = 0}}), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(StreamingIsolationForest<T>({.forest = {.max_features = Index{3}}}, Schema::numeric(2)),
                       doctest::Contains("max_features must be in [1, 2]"), redflag::invalid_argument);
  CHECK(construct({.forest = {.n_estimators = 10}, .window_size = 100, .block_size = 5}).trees_per_block() == 1);

  StreamingIsolationForest<T> detector({.forest = {.n_estimators = 5}, .window_size = 20, .block_size = 5});
  const std::vector<T> wide(4, T(1)), narrow(2, T(1)), empty;
  std::vector<T> holed(3, T(1));
  holed[1] = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_WITH_AS(detector.learn_one(holed), doctest::Contains("StreamingIsolationForest::learn_one: X has NaN"),
                       redflag::data_error);
  CHECK(detector.schema().empty());  // a rejected first row fixes nothing
  CHECK_THROWS_WITH_AS(detector.learn_one(empty), doctest::Contains("row is empty"), redflag::data_error);
  detector.learn_one(wide);
  CHECK_THROWS_WITH_AS(detector.learn_one(narrow), doctest::Contains("input has 2 columns, expected 4"),
                       redflag::schema_mismatch);
  Matrix<T> rows = Matrix<T>::Ones(30, 4);
  rows(17, 2) = std::numeric_limits<T>::infinity();
  CHECK_THROWS_WITH_AS(detector.learn(rows), doctest::Contains("Inf at row 17, column 2"), redflag::data_error);
  CHECK(detector.rows_seen() == 1);  // the bad batch learned nothing
  rows = stream<T>(30, 4, 10);
  detector.learn(rows);
  CHECK(detector.is_ready());
  CHECK_THROWS_AS((void)detector.score_one(narrow), redflag::schema_mismatch);
  CHECK_THROWS_AS((void)detector.score_one(holed), redflag::schema_mismatch);
  CHECK_THROWS_AS((void)detector.anomaly_score(Matrix<T>(0, 4)), redflag::data_error);

  // Categorical columns from a schema; NaN accepted when routed.
  const Schema schema{{"amount", ColumnKind::numeric}, {"mcc", ColumnKind::categorical}};
  StreamingIsolationForest<T> coded(
      {.forest = {.n_estimators = 5, .missing = MissingPolicy::route}, .window_size = 20, .block_size = 5}, schema);
  CHECK(coded.schema() == schema);
  const std::vector<T> bad_code{T(1), T(-2)}, missing{std::numeric_limits<T>::quiet_NaN(), T(3)};
  CHECK_THROWS_WITH_AS(coded.learn_one(bad_code), doctest::Contains("categorical column 'mcc'"), redflag::data_error);
  coded.learn_one(missing);
  CHECK(coded.rows_seen() == 1);
}

TEST_CASE("StreamingIsolationForest learns and scores without allocating between refreshes") {
  const Matrix<double> X = stream<double>(400, 4, 11);
  StreamingIsolationForest<double> detector(
      {.forest = {.n_estimators = 30, .random_state = 12}, .window_size = 128, .block_size = 64});
  detector.learn(X.topRows(128));  // warmed up
  const std::size_t before = redflag::test::allocation_count.load();
  double total = 0.0;
  for (Index i = 128; i < 128 + 63; ++i) {  // up to the row before the next refresh
    total += detector.score_one(row_of(X, i));
    detector.learn_one(row_of(X, i));
  }
  const std::size_t after = redflag::test::allocation_count.load();
  CHECK(after == before);
  CHECK(total > 0.0);
  // The 64th row refreshes the forest, which allocates.
  detector.learn_one(row_of(X, 191));
  CHECK(redflag::test::allocation_count.load() > after);
}
