// IsolationForest with categorical columns: whole codes >= 0, split by random
// category subsets; a category a node never saw takes both branches weighted
// by the training rows that went each way, exactly as a missing value does.
//
// The trees are read back from the model's JSON file (format 2) where a test
// needs to see the category lists.

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/metrics/roc.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "../support/forest_test_support.hpp"

using redflag::ColumnKind;
using redflag::Index;
using redflag::IsolationForest;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::MissingPolicy;
using redflag::Schema;
using redflag::Vector;
using namespace redflag::test;
namespace forest = redflag::detail::forest;

namespace {

const Schema mixed_schema{
    {"amount", ColumnKind::numeric}, {"mcc", ColumnKind::categorical}, {"hour", ColumnKind::numeric}};

// n rows of (normal amount, code in [0, codes), normal hour); each cell NaN
// with probability `missing`.
template <class T>
Matrix<T> transactions(Index n, Index codes, std::uint64_t seed, double missing = 0.0) {
  redflag::Random rng(seed);
  Matrix<T> X(n, 3);
  for (Index i = 0; i < n; ++i) {
    X(i, 0) = rng.normal<T>();
    X(i, 1) = static_cast<T>(rng.uniform_int(codes));
    X(i, 2) = rng.normal<T>();
    for (Index j = 0; j < 3; ++j) {
      if (rng.uniform<double>() < missing) X(i, j) = nan_value<T>;
    }
  }
  return X;
}

}  // namespace

TEST_CASE_TEMPLATE("IsolationForest splits categorical columns by category subsets", T, float, double) {
  // 256 rows: every row is in every tree, so the training rows must retrace
  // the node counts; 10% NaN cells exercise the larger-branch rule on both kinds.
  const Matrix<T> X = transactions<T>(256, 6, 1, 0.1);
  IsolationForest<T> model({.n_estimators = 30, .random_state = 3, .missing = MissingPolicy::route});
  model.fit(X, mixed_schema);
  CHECK(model.schema() == mixed_schema);
  const auto trees = trees_of(model);
  REQUIRE(trees.aux.size() == trees.nodes.size());
  CHECK_FALSE(trees.numeric_only);
  Index categorical = 0, numeric = 0, numeric_on_codes = 0, malformed = 0;
  for (std::size_t i = 0; i < trees.nodes.size(); ++i) {
    const auto& node = trees.nodes[i];
    if (node.kind == forest::NodeKind::numeric) {
      ++numeric;
      numeric_on_codes += node.feature == 1 ? 1 : 0;
    }
    if (node.kind != forest::NodeKind::categorical) continue;
    ++categorical;
    CHECK(node.feature == 1);
    const auto entries = categories_of(trees, i);
    const auto right = std::count_if(entries.begin(), entries.end(), [](const auto& e) { return e.second; });
    const bool sorted = std::is_sorted(entries.begin(), entries.end());
    const bool codes_in_range = std::all_of(entries.begin(), entries.end(), [](const auto& e) { return e.first < 6; });
    const auto left = static_cast<std::size_t>(node.left);
    // A non-trivial subset: codes on both sides, rows on both sides.
    malformed += (entries.size() >= 2 && right > 0 && right < static_cast<std::ptrdiff_t>(entries.size()) && sorted &&
                  codes_in_range && trees.count[left] > 0 && trees.count[left + 1] > 0)
                     ? 0
                     : 1;
  }
  CHECK(categorical > 30);
  CHECK(numeric > categorical);
  CHECK(numeric_on_codes == 0);
  CHECK(malformed == 0);
  MESSAGE(categorical, " categorical and ", numeric, " numeric splits in 30 trees");

  const std::vector<std::uint32_t> visits = retraced_visits(trees, X, fit_route<T>);
  CHECK(visits == trees.count);
}

TEST_CASE_TEMPLATE("IsolationForest rejects bad category codes, naming the column", T, float, double) {
  using redflag::data_error;
  const Matrix<T> X = transactions<T>(100, 4, 2);
  const auto rejects = [&](T code, const std::string& shown) {
    CAPTURE(shown);
    Matrix<T> bad = X;
    bad(4, 1) = code;
    const std::string message =
        "X has " + shown + " at row 4, column 1, categorical column 'mcc' needs whole codes in [0, 2147483647]";
    IsolationForest<T> model({.n_estimators = 5, .missing = MissingPolicy::route});
    CHECK_THROWS_WITH_AS(model.fit(bad, mixed_schema), doctest::Contains(("IsolationForest::fit: " + message).c_str()),
                         data_error);
    model.fit(X, mixed_schema);
    CHECK_THROWS_WITH_AS((void)model.anomaly_score(bad),
                         doctest::Contains(("IsolationForest::anomaly_score: " + message).c_str()), data_error);
    CHECK_THROWS_WITH_AS((void)model.score_one(std::span<const T>(bad.row(4).data(), 3)),
                         doctest::Contains("at row 0, column 1, categorical column 'mcc' needs whole codes"),
                         data_error);
  };
  rejects(T(-1), "-1");
  rejects(T(2.5), "2.5");
  rejects(T(3e9), "3000000000");
  // Numeric columns may hold anything finite; large whole codes are fine.
  Matrix<T> fine = X;
  fine(0, 0) = T(-2.5);
  fine(1, 1) = T(2000000000);
  IsolationForest<T> model({.n_estimators = 5});
  CHECK(model.fit(fine, mixed_schema).anomaly_score(fine).allFinite());
  // NaN and Inf in a categorical column: the missing-value rules.
  Matrix<T> missing = X;
  missing(6, 1) = nan_value<T>;
  CHECK_THROWS_WITH_AS(model.fit(missing, mixed_schema),
                       doctest::Contains("X has NaN at row 6, column 1 (set missing = MissingPolicy::route"),
                       data_error);
  missing(6, 1) = std::numeric_limits<T>::infinity();
  CHECK_THROWS_WITH_AS(model.fit(missing, mixed_schema),
                       doctest::Contains("X has Inf at row 6, column 1 (finite values required)"), data_error);
}

TEST_CASE_TEMPLATE("IsolationForest scores an unseen category like a missing value", T, float, double) {
  const Matrix<T> X = transactions<T>(500, 5, 3);
  IsolationForest<T> routing({.n_estimators = 50, .random_state = 8, .missing = MissingPolicy::route});
  IsolationForest<T> rejecting({.n_estimators = 50, .random_state = 8});
  routing.fit(X, mixed_schema);
  rejecting.fit(X, mixed_schema);  // no NaN in X: the same draws, the same trees
  Matrix<T> unseen = X.topRows(20);
  unseen.col(1).setConstant(T(9));
  Matrix<T> missing = X.topRows(20);
  missing.col(1).setConstant(nan_value<T>);
  const Vector<T> expected = routing.anomaly_score(missing);
  CHECK(routing.anomaly_score(unseen) == expected);
  CHECK(rejecting.anomaly_score(unseen) == expected);
  CHECK(rejecting.score_one(std::span<const T>(unseen.row(0).data(), 3)) == expected(0));
  // A seen code does matter (else the check above would be vacuous).
  Matrix<T> seen = X.topRows(20);
  seen.col(1).setConstant(T(2));
  CHECK(routing.anomaly_score(seen) != expected);

  // With the codes alone and every row in every tree, an unseen code scores
  // the mean path length of the training rows.
  const Matrix<T> codes = X.topRows(200).col(1);
  IsolationForest<T> alone({.n_estimators = 20, .random_state = 9});
  const Vector<T> training = alone.fit(codes, Schema{{"mcc", ColumnKind::categorical}}).anomaly_score(codes);
  const double c = forest::average_path_length(200);
  double mean_depth = 0.0;
  for (Index i = 0; i < training.size(); ++i) {
    mean_depth -= std::log2(static_cast<double>(training(i))) * 20 * c / 200.0;
  }
  const T new_code = alone.anomaly_score(Matrix<T>::Constant(1, 1, T(77)))(0);
  CHECK(static_cast<double>(new_code) == doctest::Approx(std::exp2(-mean_depth / (20 * c))).epsilon(1e-5));
}

TEST_CASE_TEMPLATE("IsolationForest finds a rare category", T, float, double) {
  // 1000 rows with codes 0..4 and an amount bucket 0..3 (uniform, so no
  // amount stands out), plus 5 rows whose code 7 is otherwise never seen.
  const auto data = [](bool continuous_amount, T rare_code) {
    redflag::Random rng(4);
    Matrix<T> X(1005, 2);
    for (Index i = 0; i < X.rows(); ++i) {
      X(i, 0) = i < 1000 ? static_cast<T>(rng.uniform_int(5)) : rare_code;
      X(i, 1) = continuous_amount ? rng.normal<T>() : static_cast<T>(rng.uniform_int(4));
    }
    return X;
  };
  const Schema columns{{"mcc", ColumnKind::categorical}, {"amount_bucket", ColumnKind::numeric}};
  IsolationForest<T> model({.max_samples = Index{512}, .random_state = 5});
  const Vector<T> scores = model.fit(data(false, T(7)), columns).anomaly_score(data(false, T(7)));
  const T rare_lowest = scores.tail(5).minCoeff();
  const T normal_highest = scores.head(1000).maxCoeff();
  MESSAGE("rare code: lowest rare score ", rare_lowest, ", highest other score ", normal_highest);
  CHECK(rare_lowest > normal_highest + T(0.03));
  // The same 5 rows with a common code are unremarkable.
  const Vector<T> common = model.fit(data(false, T(2)), columns).anomaly_score(data(false, T(2)));
  CHECK(common.tail(5).mean() < scores.tail(5).mean() - T(0.1));

  // With a continuous amount, the amount's own tails compete: the rare rows
  // rank high but not necessarily first.
  LabelVector rare = LabelVector::Zero(1005);
  rare.tail(5).setOnes();
  const Vector<T> noisy = model.fit(data(true, T(7)), columns).anomaly_score(data(true, T(7)));
  const double auc = redflag::roc_auc_score(rare, noisy);
  MESSAGE("rare code among a continuous amount: ROC AUC ", auc);
  CHECK(auc > 0.9);
}

TEST_CASE_TEMPLATE("IsolationForest keeps column kinds through save and load", T, float, double) {
  const Matrix<T> X = transactions<T>(300, 5, 6, 0.05);
  IsolationForest<T> model(
      {.n_estimators = 12, .contamination = 0.1, .random_state = 2, .missing = MissingPolicy::route});
  model.fit(X, mixed_schema);
  const Vector<T> scores = model.anomaly_score(X);
  for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
    const std::string bytes = saved(model, format);
    std::istringstream in(bytes, std::ios::binary);
    CHECK(redflag::read_info(in).schema == mixed_schema);
    const auto copy = loaded<IsolationForest<T>>(bytes);
    CHECK(copy.schema() == mixed_schema);
    CHECK(copy.schema()[1].kind == ColumnKind::categorical);
    CHECK(copy.anomaly_score(X) == scores);
    CHECK(copy.anomaly_score(X, mixed_schema) == scores);
    CHECK(saved(copy) == saved(model));
  }
  // Scoring with the column declared numeric is a schema mismatch.
  const Schema numeric{{"amount", ColumnKind::numeric}, {"mcc", ColumnKind::numeric}, {"hour", ColumnKind::numeric}};
  CHECK_THROWS_WITH_AS((void)model.anomaly_score(X, numeric),
                       doctest::Contains("column 1: expected 'mcc' (categorical), got 'mcc' (numeric)"),
                       redflag::schema_mismatch);
  // A file whose model calls the column numeric cannot keep its category splits.
  std::string text = saved(model, redflag::Format::json);
  const auto model_part = text.find("\"model\"");
  const auto mcc = text.find("\"mcc\"", model_part);
  const auto kind = text.find("\"kind\": 1", mcc);
  REQUIRE(kind != std::string::npos);
  text.replace(kind, 9, "\"kind\": 0");
  CHECK_THROWS_WITH_AS((void)loaded<IsolationForest<T>>(text),
                       doctest::Contains("splits numeric column 'mcc' by category"), redflag::serialization_error);
}

TEST_CASE_TEMPLATE("IsolationForest with categories and NaN is bit-identical for any n_jobs", T, float, double) {
  const Matrix<T> X = transactions<T>(1500, 8, 7, 0.1);
  const auto fitted = [&](int n_jobs, Index n_estimators) {
    IsolationForest<T> model({.n_estimators = n_estimators,
                              .contamination = 0.05,
                              .random_state = 31,
                              .n_jobs = n_jobs,
                              .missing = MissingPolicy::route});
    return model.fit(X, mixed_schema);
  };
  const IsolationForest<T> serial = fitted(1, 40);
  const std::string bytes = saved(serial);
  const Vector<T> scores = serial.anomaly_score(X);
  CHECK(scores.allFinite());
  for (const int n_jobs : {2, -1}) {
    CAPTURE(n_jobs);
    const IsolationForest<T> parallel = fitted(n_jobs, 40);
    CHECK(saved(parallel) == bytes);
    CHECK(parallel.anomaly_score(X) == scores);
    CHECK(parallel.threshold() == serial.threshold());
  }
  IsolationForest<T> grown = fitted(2, 16);
  grown.fit_more(X, 24);
  CHECK(saved(grown) == bytes);
  // Dropping trees keeps the others' category lists intact.
  IsolationForest<T> rolled = fitted(1, 40);
  rolled.drop_oldest_trees(10).fit_more(X, 10);
  IsolationForest<T> reference = fitted(1, 50);
  reference.drop_oldest_trees(10);
  CHECK(rolled.anomaly_score(X) == reference.anomaly_score(X));
  // The same file too, but for the threshold: fit_more recomputed it on X,
  // dropping trees (which sees no data) kept the 50-tree forest's.
  reference.set_threshold(rolled.threshold());
  CHECK(saved(rolled) == saved(reference));
}
