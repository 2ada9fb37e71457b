#include <redflag/core/concepts.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/io/csv.hpp>
#include <redflag/metrics/roc.hpp>
#include <redflag/preprocessing/train_test_split.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <string>

#include "../support/skip.hpp"

using redflag::Index;
using redflag::Label;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::RandomForest;
using redflag::Vector;

static_assert(redflag::Classifier<RandomForest<float>>);
static_assert(redflag::Classifier<RandomForest<double>>);
static_assert(redflag::SerializableModel<RandomForest<float>>);
static_assert(redflag::SerializableModel<RandomForest<double>>);

namespace {

// Three Gaussian blobs in d columns (only the first two informative),
// labelled with `labels`.
template <class T>
struct Blobs {
  Matrix<T> X;
  LabelVector y;
};

template <class T>
Blobs<T> blobs(Index n, Index d, std::uint64_t seed, std::vector<Label> labels = {-3, 7, 40}) {
  redflag::Random rng(seed);
  Blobs<T> data{Matrix<T>(n, d), LabelVector(n)};
  for (Index i = 0; i < n; ++i) {
    const auto c = static_cast<std::size_t>(i % static_cast<Index>(labels.size()));
    for (Index j = 0; j < d; ++j) data.X(i, j) = rng.normal<T>();
    data.X(i, 0) += static_cast<T>(2.0 * static_cast<double>(c));
    data.X(i, 1) += static_cast<T>(c == 1 ? 2.0 : 0.0);
    data.y(i) = labels[c];
  }
  return data;
}

template <class T>
double accuracy(const LabelVector& truth, const LabelVector& predicted) {
  return static_cast<double>((truth.array() == predicted.array()).count()) / static_cast<double>(truth.size());
}

template <class Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const redflag::error& failure) {
    return failure.what();
  }
  return "";
}

}  // namespace

TEST_CASE_TEMPLATE("RandomForest learns blobs with arbitrary labels", T, float, double) {
  const auto train = blobs<T>(300, 4, 1);
  const auto test = blobs<T>(300, 4, 2);
  RandomForest<T> model({.n_estimators = 30, .random_state = 3});
  model.fit(train.X, train.y);
  CHECK(model.is_fitted());
  CHECK(model.classes() == (LabelVector(3) << -3, 7, 40).finished());
  const Matrix<T> proba = model.predict_proba(test.X);
  REQUIRE(proba.rows() == 300);
  REQUIRE(proba.cols() == 3);
  for (Index r = 0; r < proba.rows(); ++r) CHECK(std::abs(static_cast<double>(proba.row(r).sum()) - 1.0) < 1e-5);
  CHECK(accuracy<T>(test.y, model.predict(test.X)) > 0.8);
  // Fully grown trees fit their (distinct) training rows.
  CHECK(accuracy<T>(train.y, model.predict(train.X)) > 0.97);
  const Vector<T> importances = model.impurity_importances();
  CHECK(std::abs(static_cast<double>(importances.sum()) - 1.0) < 1e-5);
  CHECK(importances(0) > importances(2));
  CHECK(importances(1) > importances(3));
}

TEST_CASE_TEMPLATE("RandomForest is bit-identical for any n_jobs", T, float, double) {
  const auto data = blobs<T>(400, 5, 4);
  typename RandomForest<T>::Params params{.n_estimators = 12, .max_features = Index{2}, .random_state = 9};
  RandomForest<T> serial(params);
  params.n_jobs = 3;
  RandomForest<T> threaded(params);
  serial.fit(data.X, data.y);
  threaded.fit(data.X, data.y);
  CHECK(redflag::detail::portable_binary_payload(serial) == redflag::detail::portable_binary_payload(threaded));
  const Matrix<T> a = serial.predict_proba(data.X);
  const Matrix<T> b = threaded.predict_proba(data.X);
  CHECK(a == b);
  // Another seed gives another forest.
  params.random_state = 10;
  RandomForest<T> other(params);
  other.fit(data.X, data.y);
  CHECK(redflag::detail::portable_binary_payload(other) != redflag::detail::portable_binary_payload(serial));
}

TEST_CASE_TEMPLATE("RandomForest predicts blocks, single rows and short tails alike", T, float, double) {
  const auto data = blobs<T>(600, 3, 5);
  RandomForest<T> model({.n_estimators = 8, .max_depth = 6, .random_state = 1});
  model.fit(data.X, data.y);
  const Matrix<T> all = model.predict_proba(data.X);
  for (const Index row : {Index{0}, Index{17}, Index{257}, Index{599}}) {
    const Matrix<T> one = model.predict_proba(data.X.middleRows(row, 1));
    CHECK(one == all.row(row));
  }
  const Matrix<T> tail = model.predict_proba(data.X.bottomRows(19));
  CHECK(tail == all.bottomRows(19));
}

TEST_CASE_TEMPLATE("RandomForest parameters shape the trees", T, float, double) {
  const auto data = blobs<T>(300, 4, 6);
  RandomForest<T> stump({.n_estimators = 5, .max_depth = 1, .random_state = 2});
  stump.fit(data.X, data.y);
  CHECK(stump.node_count() == 15);  // one split per tree
  RandomForest<T> shallow({.n_estimators = 5, .min_samples_leaf = 50, .random_state = 2});
  RandomForest<T> deep({.n_estimators = 5, .random_state = 2});
  shallow.fit(data.X, data.y);
  deep.fit(data.X, data.y);
  CHECK(shallow.node_count() < deep.node_count());
  RandomForest<T> careful({.n_estimators = 5, .min_impurity_decrease = 0.05, .random_state = 2});
  careful.fit(data.X, data.y);
  CHECK(careful.node_count() < deep.node_count());
  RandomForest<T> entropy({.n_estimators = 5,
                           .criterion = redflag::Criterion::entropy,
                           .max_features = redflag::Log2{},
                           .random_state = 2});
  entropy.fit(data.X, data.y);
  CHECK(accuracy<T>(data.y, entropy.predict(data.X)) > 0.9);
  RandomForest<T> whole({.n_estimators = 3, .max_features = 1.0, .bootstrap = false, .random_state = 2});
  whole.fit(data.X, data.y);
  // No bootstrap and every column: the trees differ only in tie-breaking
  // among equally good splits, so they fit the training rows exactly.
  CHECK(accuracy<T>(data.y, whole.predict(data.X)) == 1.0);
  RandomForest<T> sampled({.n_estimators = 3, .max_samples = 0.2, .random_state = 2});
  sampled.fit(data.X, data.y);
  CHECK(sampled.node_count() < deep.node_count() * 3 / 5);
}

TEST_CASE_TEMPLATE("RandomForest weights rows and classes", T, float, double) {
  // Imbalanced binary data: 20 positives among 400.
  redflag::Random rng(11);
  Matrix<T> X(400, 2);
  LabelVector y(400);
  for (Index i = 0; i < 400; ++i) {
    y(i) = i < 20 ? 1 : 0;
    X(i, 0) = rng.normal<T>() + (i < 20 ? T(1) : T(0));
    X(i, 1) = rng.normal<T>();
  }
  const auto positive_mass = [&](const RandomForest<T>& model) {
    return static_cast<double>(model.predict_proba(X).col(1).mean());
  };
  using Weights = std::map<Label, double>;
  RandomForest<T> plain({.n_estimators = 20, .max_depth = 3, .random_state = 1});
  RandomForest<T> balanced(
      {.n_estimators = 20, .max_depth = 3, .class_weight = redflag::ClassWeight::balanced, .random_state = 1});
  RandomForest<T> subsample({.n_estimators = 20,
                             .max_depth = 3,
                             .class_weight = redflag::ClassWeight::balanced_subsample,
                             .random_state = 1});
  RandomForest<T> explicit_map(
      {.n_estimators = 20, .max_depth = 3, .class_weight = Weights{{1, 19.0}}, .random_state = 1});
  plain.fit(X, y);
  balanced.fit(X, y);
  subsample.fit(X, y);
  explicit_map.fit(X, y);
  CHECK(positive_mass(plain) < 0.15);
  CHECK(positive_mass(balanced) > 0.2);
  CHECK(positive_mass(subsample) > 0.2);
  CHECK(positive_mass(explicit_map) > 0.2);
  // Sample weights act like class weights when they are the same numbers.
  Vector<T> weight(400);
  for (Index i = 0; i < 400; ++i) weight(i) = y(i) == 1 ? T(19) : T(1);
  RandomForest<T> weighted({.n_estimators = 20, .max_depth = 3, .random_state = 1});
  weighted.fit(X, y, weight);
  CHECK(weighted.predict_proba(X) == explicit_map.predict_proba(X));
  // Zero-weight rows are left out entirely.
  Vector<T> drop = Vector<T>::Ones(400);
  drop.head(20).setZero();
  drop(0) = T(1);
  RandomForest<T> dropped({.n_estimators = 5, .random_state = 1});
  dropped.fit(X, y, drop);
  CHECK(dropped.predict_proba(X).col(1).maxCoeff() <= T(1));
}

TEST_CASE_TEMPLATE("RandomForest rejects bad input naming the problem", T, float, double) {
  const auto data = blobs<T>(60, 3, 7);
  const auto fit_error = [&](const typename RandomForest<T>::Params& params) {
    return error_of([&] { RandomForest<T>(params).fit(data.X, data.y); });
  };
  CHECK(error_of([&] { RandomForest<T>().fit(data.X, LabelVector::Constant(60, 5)); }).find("single class") !=
        std::string::npos);
  CHECK_THROWS_AS(RandomForest<T>().fit(data.X, LabelVector::Constant(60, 5)), redflag::data_error);
  CHECK_THROWS_AS(RandomForest<T>().fit(data.X, data.y.head(59)), redflag::invalid_argument);
  Vector<T> negative = Vector<T>::Ones(60);
  negative(3) = T(-1);
  CHECK(error_of([&] { RandomForest<T>().fit(data.X, data.y, negative); }).find("sample_weight[3]") !=
        std::string::npos);
  CHECK_THROWS_AS(RandomForest<T>().fit(data.X, data.y, Vector<T>::Zero(60)), redflag::data_error);
  CHECK_THROWS_AS(RandomForest<T>().fit(data.X, data.y, Vector<T>::Ones(59)), redflag::invalid_argument);
  for (const T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity()}) {
    Matrix<T> X = data.X;
    X(5, 2) = bad;
    const std::string message = error_of([&] { RandomForest<T>().fit(X, data.y); });
    CHECK(message.find("row 5, column 2") != std::string::npos);
    CHECK_THROWS_AS(RandomForest<T>().fit(X, data.y), redflag::data_error);
  }
  CHECK(fit_error({.max_depth = 0}).find("max_depth must be none or >= 1, got 0") != std::string::npos);
  CHECK(fit_error({.n_estimators = 0}).find("n_estimators must be >= 1") != std::string::npos);
  CHECK(fit_error({.min_samples_split = 1}).find("min_samples_split must be a count >= 2 or a fraction in (0, 1]") !=
        std::string::npos);
  CHECK(fit_error({.min_samples_split = 0.0}).find("min_samples_split") != std::string::npos);
  CHECK(fit_error({.min_samples_split = 1.5}).find("min_samples_split") != std::string::npos);
  CHECK(fit_error({.min_samples_leaf = 0}).find("min_samples_leaf must be a count >= 1 or a fraction in (0, 1)") !=
        std::string::npos);
  CHECK(fit_error({.min_samples_leaf = 1.0}).find("min_samples_leaf") != std::string::npos);
  CHECK(fit_error({.min_samples_leaf = std::numeric_limits<double>::quiet_NaN()}).find("min_samples_leaf") !=
        std::string::npos);
  CHECK(fit_error({.min_impurity_decrease = -1.0}).find("min_impurity_decrease") != std::string::npos);
  CHECK(fit_error({.max_features = Index{4}}).find("max_features must be in [1, 3]") != std::string::npos);
  CHECK(fit_error({.max_features = 1.5}).find("max_features") != std::string::npos);
  CHECK(fit_error({.max_samples = 0.0}).find("max_samples") != std::string::npos);
  CHECK(fit_error({.max_samples = Index{61}}).find("max_samples must be <= the 60 rows") != std::string::npos);
  CHECK(fit_error({.bootstrap = false, .max_samples = 0.5}).find("bootstrap") != std::string::npos);
  CHECK(fit_error({.bootstrap = false, .oob_score = true}).find("oob_score") != std::string::npos);
  CHECK(fit_error({.class_weight = std::map<Label, double>{{8, 2.0}}}).find("class 8") != std::string::npos);
  CHECK(fit_error({.class_weight = std::map<Label, double>{{7, -2.0}}}).find("class_weight[7]") != std::string::npos);
  CHECK(fit_error({.n_jobs = 0}).find("n_jobs") != std::string::npos);
  CHECK_THROWS_AS(RandomForest<T>({.max_depth = 0}).fit(data.X, data.y), redflag::invalid_argument);

  RandomForest<T> unfitted;
  CHECK_THROWS_AS((void)unfitted.predict_proba(data.X), redflag::not_fitted);
  CHECK_THROWS_AS((void)unfitted.predict(data.X), redflag::not_fitted);
  CHECK_THROWS_AS((void)unfitted.impurity_importances(), redflag::not_fitted);
  RandomForest<T> model({.n_estimators = 3});
  model.fit(data.X, data.y);
  CHECK_THROWS_AS((void)model.predict_proba(data.X.leftCols(2)), redflag::schema_mismatch);
  CHECK_THROWS_AS((void)model.oob_score(), redflag::not_fitted);
  Matrix<T> nan_row = data.X.topRows(2);
  nan_row(1, 0) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_AS((void)model.predict(nan_row), redflag::data_error);
  // A failed fit leaves the fitted model as it was.
  const Matrix<T> before = model.predict_proba(data.X);
  CHECK_THROWS(model.fit(data.X, LabelVector::Constant(60, 1)));
  CHECK(model.predict_proba(data.X) == before);
}

TEST_CASE_TEMPLATE("RandomForest round-trips through the model envelope", T, float, double) {
  const auto data = blobs<T>(200, 3, 8);
  RandomForest<T> model({.n_estimators = 10,
                         .max_depth = 5,
                         .max_features = 0.7,
                         .oob_score = true,
                         .max_samples = Index{150},
                         .class_weight = std::map<Label, double>{{7, 2.0}},
                         .random_state = 5});
  model.fit(data.X, data.y, redflag::Schema::from_names({"a", "b", "c"}));
  for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
    std::stringstream stream;
    redflag::save(model, stream, format);
    const auto loaded = redflag::load<RandomForest<T>>(stream);
    CHECK(loaded.predict_proba(data.X) == model.predict_proba(data.X));
    CHECK(loaded.classes() == model.classes());
    CHECK(loaded.schema() == model.schema());
    CHECK(loaded.impurity_importances() == model.impurity_importances());
    CHECK(loaded.oob_score() == model.oob_score());
    CHECK_THROWS_AS((void)loaded.oob_decision_function(), redflag::not_fitted);
    CHECK(std::get<double>(loaded.params().max_features) == 0.7);
    CHECK(std::get<Index>(*loaded.params().max_samples) == 150);
    CHECK(std::get<std::map<Label, double>>(loaded.params().class_weight).at(7) == 2.0);
  }
  // An unfitted model round-trips too.
  std::stringstream empty;
  redflag::save(RandomForest<T>(), empty);
  CHECK_FALSE(redflag::load<RandomForest<T>>(empty).is_fitted());
}

TEST_CASE("RandomForest file size does not grow with the training rows once trees stop growing") {
  // max_depth 3: at most 15 nodes per tree, whatever n.
  const auto bytes = [](Index n) {
    const auto data = blobs<double>(n, 3, 9);
    RandomForest<double> model({.n_estimators = 10, .max_depth = 3, .oob_score = true, .random_state = 1});
    model.fit(data.X, data.y);
    return redflag::detail::portable_binary_payload(model).size();
  };
  const auto small = bytes(300);
  const auto large = bytes(3000);
  CHECK(large <= small + small / 10);
}

TEST_CASE("RandomForest rejects hostile files") {
  const auto data = blobs<double>(120, 3, 10);
  RandomForest<double> model({.n_estimators = 2, .max_depth = 3, .random_state = 1});
  model.fit(data.X, data.y);
  // Re-encode the payload as JSON, then corrupt one field at a time.
  std::stringstream stream;
  redflag::save(model, stream, redflag::Format::json);
  const std::string json = stream.str();
  const auto corrupt = [&](const std::string& key, const std::string& from, const std::string& to) {
    std::string text = json;
    const auto at = text.find("\"" + key + "\"");
    REQUIRE(at != std::string::npos);
    const auto value = text.find(from, at);
    REQUIRE(value != std::string::npos);
    text.replace(value, from.size(), to);
    std::istringstream in(text);
    return error_of([&] { (void)redflag::load<RandomForest<double>>(in); });
  };
  // The envelope checksum catches edits; the model's own checks run first.
  CHECK(corrupt("node_kind", "1", "7").find("kind 7") != std::string::npos);
  CHECK(corrupt("node_left", "1", "0").find("children outside") != std::string::npos);
  CHECK(corrupt("node_feature", "0", "9").find("splits on column 9") != std::string::npos);
  CHECK(corrupt("node_leaf_row", "0", "99").find("bad leaf-table row") != std::string::npos);
  CHECK(corrupt("classes", "-3", "70").find("strictly increasing") != std::string::npos);
  CHECK(corrupt("n_estimators", "2", "3").find("trees, n_estimators says 3") != std::string::npos);
  CHECK(corrupt("criterion", "0", "4").find("criterion 4") != std::string::npos);
  CHECK(corrupt("max_depth", "3", "0").find("max_depth") != std::string::npos);
  CHECK(corrupt("node_cover", "1", "-1").find("cover") != std::string::npos);
  // Regression: a first tree ending past the nodes, then a decreasing offset
  // (the ends still span the nodes) made validation read past every node array.
  std::string offsets = json;
  const auto open = offsets.find('[', offsets.find("\"tree_offsets\""));
  offsets.replace(open, offsets.find(']', open) - open + 1,
                  "[0, " + std::to_string(model.node_count() + 1000) + ", " + std::to_string(model.node_count()) + "]");
  std::istringstream in(offsets);
  CHECK(error_of([&] { (void)redflag::load<RandomForest<double>>(in); }).find("offsets decrease") != std::string::npos);
}

TEST_CASE_TEMPLATE("RandomForest out-of-bag estimate", T, float, double) {
  const auto data = blobs<T>(300, 4, 12);
  RandomForest<T> model({.n_estimators = 25, .oob_score = true, .random_state = 4});
  model.fit(data.X, data.y);
  const Matrix<T>& oob = model.oob_decision_function();
  REQUIRE(oob.rows() == 300);
  REQUIRE(oob.cols() == 3);
  Index covered = 0;
  for (Index r = 0; r < oob.rows(); ++r) {
    const double sum = static_cast<double>(oob.row(r).sum());
    if (sum > 0) {
      ++covered;
      CHECK(std::abs(sum - 1.0) < 1e-5);
    }
  }
  CHECK(covered == 300);  // (1 - 1/e)^25: every row is out of bag somewhere
  // Out-of-bag accuracy is an honest estimate: near held-out accuracy, well
  // below training accuracy.
  const auto test = blobs<T>(600, 4, 13);
  const double held_out = accuracy<T>(test.y, model.predict(test.X));
  CHECK(std::abs(model.oob_score() - held_out) < 0.08);
  CHECK(model.oob_score() < accuracy<T>(data.y, model.predict(data.X)));
  // The accuracy of argmax over the decision function.
  Index hits = 0;
  for (Index r = 0; r < oob.rows(); ++r) {
    Index best = 0;
    oob.row(r).maxCoeff(&best);
    hits += model.classes()(best) == data.y(r) ? 1 : 0;
  }
  CHECK(model.oob_score() == doctest::Approx(static_cast<double>(hits) / 300.0));
}

TEST_CASE_TEMPLATE("RandomForest explanations add up to the probabilities", T, float, double) {
  const auto data = blobs<T>(200, 4, 14);
  RandomForest<T> model({.n_estimators = 10, .max_depth = 6, .random_state = 3});
  model.fit(data.X, data.y);
  const Matrix<T> proba = model.predict_proba(data.X.topRows(40));
  std::vector<redflag::Explanation<T>> explanations;
  for (Index k = 0; k < 3; ++k) explanations.push_back(model.explain(data.X.topRows(40), k));
  const double tolerance = std::same_as<T, double> ? 1e-9 : 1e-5;
  for (Index k = 0; k < 3; ++k) {
    const auto& explanation = explanations[static_cast<std::size_t>(k)];
    CHECK(explanation.scores == proba.col(k));
    CHECK(explanation.feature_names == model.schema().names());
    for (Index r = 0; r < 40; ++r) {
      const double total =
          static_cast<double>(explanation.expected_value) + static_cast<double>(explanation.contributions.row(r).sum());
      CHECK(std::abs(total - static_cast<double>(proba(r, k))) < tolerance);
    }
  }
  // Class probabilities sum to 1, so each feature's contributions sum to 0
  // over the classes, and so do the expected values to 1.
  double expected_sum = 0;
  for (const auto& explanation : explanations) expected_sum += static_cast<double>(explanation.expected_value);
  CHECK(std::abs(expected_sum - 1.0) < tolerance);
  for (Index j = 0; j < 4; ++j) {
    double sum = 0;
    for (const auto& explanation : explanations) sum += static_cast<double>(explanation.contributions(5, j));
    CHECK(std::abs(sum) < tolerance);
  }
  // The noise columns matter least.
  const Vector<T> importances = model.feature_importances(data.X.topRows(40), 0);
  CHECK(std::abs(static_cast<double>(importances.sum()) - 1.0) < tolerance);
  CHECK(importances(0) > importances(2));
  CHECK(importances(0) > importances(3));
  CHECK_THROWS_WITH_AS((void)model.explain(data.X.topRows(2), 3),
                       doctest::Contains("RandomForest::explain: class_index must be in [0, 3)"),
                       redflag::invalid_argument);
}

TEST_CASE("RandomForest on a real dataset beats chance by far" * doctest::test_suite("data")) {
  const auto path = redflag::test::dataset("mammography.csv");
  if (!path) return;
  const auto table = redflag::read_csv<double>(*path, {.label_column = "label"});
  const auto split = redflag::train_test_split(table.values, table.labels, {.test_size = 0.3, .random_state = 1});
  RandomForest<double> model({.n_estimators = 20,
                              .max_depth = 8,
                              .class_weight = redflag::ClassWeight::balanced,
                              .random_state = 1,
                              .n_jobs = 2});
  model.fit(split.X_train, split.y_train);
  const Vector<double> positive = model.predict_proba(split.X_test).col(1);
  const double auc = redflag::roc_auc_score(split.y_test, positive);
  MESSAGE("mammography ROC AUC (20 trees, depth 8): ", auc);
  CHECK(auc > 0.85);
}

TEST_CASE_TEMPLATE("RandomForest histogram bins: exact on few values, coarse with few bins", T, float, double) {
  // Ten distinct values (<= max_bins): every cut exact CART could make is
  // available, at the midpoint, so 4.4 and 4.6 fall on either side of 4.5.
  Matrix<T> X(100, 1);
  LabelVector y(100);
  for (Index i = 0; i < 100; ++i) {
    X(i, 0) = static_cast<T>(i % 10);
    y(i) = i % 10 >= 5 ? 1 : 0;
  }
  RandomForest<T> exact({.n_estimators = 3, .bootstrap = false, .random_state = 1});
  exact.fit(X, y);
  CHECK(exact.node_count() == 9);  // one split per tree
  Matrix<T> probe(2, 1);
  probe << T(4.4), T(4.6);
  CHECK(exact.predict(probe) == (LabelVector(2) << 0, 1).finished());
  // 100 distinct values in 2 quantile bins: the one cut is at the median.
  for (Index i = 0; i < 100; ++i) X(i, 0) = static_cast<T>(i);
  for (Index i = 0; i < 100; ++i) y(i) = (i % 4 == 0 || i >= 90) ? 1 : 0;  // no clean split anywhere
  RandomForest<T> coarse({.n_estimators = 3, .bootstrap = false, .max_bins = 2, .random_state = 1});
  coarse.fit(X, y);
  CHECK(coarse.node_count() == 9);
  probe << T(49.4), T(49.6);
  const Matrix<T> proba = coarse.predict_proba(probe);
  CHECK(proba(0, 1) == doctest::Approx(13.0 / 50.0));  // rows 0..49
  CHECK(proba(1, 1) == doctest::Approx(20.0 / 50.0));  // rows 50..99
}

TEST_CASE_TEMPLATE("RandomForest max_bins is validated and saved", T, float, double) {
  const auto data = blobs<T>(150, 3, 12);
  for (const Index bad : {Index{1}, Index{257}}) {
    const std::string message = error_of([&] { RandomForest<T>({.max_bins = bad}).fit(data.X, data.y); });
    CHECK(message.find("max_bins must be in [2, 256]") != std::string::npos);
  }
  RandomForest<T> model({.n_estimators = 5, .max_bins = 16, .random_state = 2});
  model.fit(data.X, data.y);
  std::stringstream stream;
  redflag::save(model, stream, redflag::Format::json);
  const std::string json = stream.str();
  std::istringstream in(json);
  const auto loaded = redflag::load<RandomForest<T>>(in);
  CHECK(loaded.params().max_bins == 16);
  CHECK(loaded.predict_proba(data.X) == model.predict_proba(data.X));
  std::string hostile = json;
  const auto at = hostile.find("\"max_bins\"");
  REQUIRE(at != std::string::npos);
  hostile.replace(hostile.find("16", at), 2, "999");
  std::istringstream bad(hostile);
  CHECK(error_of([&] { (void)redflag::load<RandomForest<T>>(bad); }).find("max_bins") != std::string::npos);
  // 256 bins (codes 0..255) and 2 bins both fit and differ.
  RandomForest<T> wide({.n_estimators = 5, .max_bins = 256, .random_state = 2});
  RandomForest<T> narrow({.n_estimators = 5, .max_bins = 2, .random_state = 2});
  wide.fit(data.X, data.y);
  narrow.fit(data.X, data.y);
  CHECK(wide.predict_proba(data.X) != narrow.predict_proba(data.X));
}

TEST_CASE("RandomForest resolves min_samples fractions as scikit-learn: ceil(fraction * n), split at least 2") {
  const auto data = blobs<double>(300, 4, 13);
  const auto proba = [&](const RandomForest<double>::Params& params) {
    return RandomForest<double>(params).fit(data.X, data.y).predict_proba(data.X);
  };
  // ceil(0.05 * 300) = 15; ceil(0.101 * 300) = 31; ceil(0.001 * 300) = 1 -> 2 for a split.
  CHECK(proba({.n_estimators = 5, .min_samples_leaf = 0.05, .random_state = 4}) ==
        proba({.n_estimators = 5, .min_samples_leaf = Index{15}, .random_state = 4}));
  CHECK(proba({.n_estimators = 5, .min_samples_split = 0.101, .random_state = 4}) ==
        proba({.n_estimators = 5, .min_samples_split = Index{31}, .random_state = 4}));
  CHECK(proba({.n_estimators = 5, .min_samples_split = 0.001, .random_state = 4}) ==
        proba({.n_estimators = 5, .min_samples_split = Index{2}, .random_state = 4}));
  CHECK(proba({.n_estimators = 5, .min_samples_leaf = 0.05, .random_state = 4}) !=
        proba({.n_estimators = 5, .random_state = 4}));
  // Fractions survive a save and load (format 2).
  RandomForest<double> model(
      {.n_estimators = 3, .min_samples_split = 0.25, .min_samples_leaf = 0.05, .random_state = 4});
  model.fit(data.X, data.y);
  std::stringstream file;
  redflag::save(model, file);
  const auto loaded = redflag::load<RandomForest<double>>(file);
  CHECK(std::get<double>(loaded.params().min_samples_split) == 0.25);
  CHECK(std::get<double>(loaded.params().min_samples_leaf) == 0.05);
  CHECK(loaded.predict_proba(data.X) == model.predict_proba(data.X));
}

TEST_CASE("RandomForest histogram search honours min_samples_leaf") {
  const auto data = blobs<double>(300, 4, 13);
  RandomForest<double> model({.n_estimators = 5, .min_samples_leaf = 20, .bootstrap = false, .random_state = 4});
  model.fit(data.X, data.y);
  RandomForest<double> unlimited({.n_estimators = 5, .bootstrap = false, .random_state = 4});
  unlimited.fit(data.X, data.y);
  CHECK(model.node_count() < unlimited.node_count());
  // At most 300 / 20 leaves per tree.
  CHECK(model.node_count() <= 5 * (2 * (300 / 20) - 1));
}
