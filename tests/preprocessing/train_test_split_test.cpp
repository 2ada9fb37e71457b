#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/preprocessing/train_test_split.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

using redflag::Index;
using redflag::Label;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::TrainTestSplitParams;

namespace {

// Row i of X is (i, 10 * i) so every copied row shows where it came from.
template <class T>
Matrix<T> numbered_rows(Index rows) {
  Matrix<T> X(rows, 2);
  for (Index i = 0; i < rows; ++i) {
    X(i, 0) = static_cast<T>(i);
    X(i, 1) = static_cast<T>(10 * i);
  }
  return X;
}

// `counts[k]` rows of label labels[k], interleaved: label of row i cycles.
LabelVector labels_with_counts(const std::vector<Label>& labels, const std::vector<Index>& counts) {
  std::vector<Label> out;
  std::vector<Index> left = counts;
  bool any = true;
  while (any) {
    any = false;
    for (std::size_t k = 0; k < labels.size(); ++k) {
      if (left[k] > 0) {
        out.push_back(labels[k]);
        --left[k];
        any = true;
      }
    }
  }
  LabelVector y(static_cast<Index>(out.size()));
  for (std::size_t i = 0; i < out.size(); ++i) y(static_cast<Index>(i)) = out[i];
  return y;
}

std::map<Label, Index> class_counts(const LabelVector& y) {
  std::map<Label, Index> counts;
  for (Index i = 0; i < y.size(); ++i) ++counts[y(i)];
  return counts;
}

// The split's pieces agree with each other and with the input.
template <class T>
void check_consistent(const redflag::TrainTestSplit<T>& split, const Matrix<T>& X, const LabelVector& y) {
  REQUIRE(split.X_train.rows() == static_cast<Index>(split.train_index.size()));
  REQUIRE(split.X_test.rows() == static_cast<Index>(split.test_index.size()));
  REQUIRE(split.y_train.size() == split.X_train.rows());
  REQUIRE(split.y_test.size() == split.X_test.rows());
  std::vector<Index> all = split.train_index;
  all.insert(all.end(), split.test_index.begin(), split.test_index.end());
  std::sort(all.begin(), all.end());
  std::vector<Index> expected(static_cast<std::size_t>(X.rows()));
  for (Index i = 0; i < X.rows(); ++i) expected[static_cast<std::size_t>(i)] = i;
  CHECK(all == expected);  // a partition of the rows
  for (std::size_t k = 0; k < split.train_index.size(); ++k) {
    const Index row = split.train_index[k];
    CHECK(split.X_train.row(static_cast<Index>(k)) == X.row(row));
    CHECK(split.y_train(static_cast<Index>(k)) == y(row));
  }
  for (std::size_t k = 0; k < split.test_index.size(); ++k) {
    const Index row = split.test_index[k];
    CHECK(split.X_test.row(static_cast<Index>(k)) == X.row(row));
    CHECK(split.y_test(static_cast<Index>(k)) == y(row));
  }
}

}  // namespace

TEST_CASE_TEMPLATE("stratified split keeps class proportions", T, float, double) {
  // 90 / 8 / 2 rows, test_size 0.25 -> 25 test rows. Exact shares 22.5, 2,
  // 0.5; largest remainder gives 23, 2, 0 (the tie between labels 0 and 7 goes
  // to the smaller label); the rare class then takes one row from label 0.
  const LabelVector y = labels_with_counts({0, 3, 7}, {90, 8, 2});
  const Matrix<T> X = numbered_rows<T>(100);
  const auto split = redflag::train_test_split(X, y);
  check_consistent(split, X, y);
  const auto test = class_counts(split.y_test);
  const auto train = class_counts(split.y_train);
  CHECK(test.at(0) == 22);
  CHECK(test.at(3) == 2);
  CHECK(test.at(7) == 1);
  CHECK(train.at(0) == 68);
  CHECK(train.at(3) == 6);
  CHECK(train.at(7) == 1);
}

TEST_CASE("stratified split: arbitrary labels, counts and fractions") {
  const LabelVector y = labels_with_counts({-5, 1000, 42}, {30, 60, 10});
  const Matrix<double> X = numbered_rows<double>(100);

  const auto by_count = redflag::train_test_split(X, y, {.test_size = 10});
  check_consistent(by_count, X, y);
  CHECK(by_count.test_index.size() == 10);
  CHECK(class_counts(by_count.y_test) == std::map<Label, Index>{{-5, 3}, {42, 1}, {1000, 6}});

  const auto by_fraction = redflag::train_test_split(X, y, {.test_size = 0.2});
  CHECK(class_counts(by_fraction.y_test) == std::map<Label, Index>{{-5, 6}, {42, 2}, {1000, 12}});

  // ceil(0.25 * 10) = 3 test rows, as scikit-learn.
  const LabelVector small = labels_with_counts({0, 1}, {5, 5});
  const auto rounded = redflag::train_test_split(numbered_rows<double>(10), small, {.test_size = 0.25});
  CHECK(rounded.test_index.size() == 3);
  CHECK(rounded.train_index.size() == 7);
}

TEST_CASE("stratified_test_counts: sums, bounds and proportionality") {
  using redflag::detail::preprocessing::stratified_test_counts;
  CHECK(stratified_test_counts({90, 8, 2}, 25) == std::vector<Index>{22, 2, 1});
  CHECK(stratified_test_counts({2, 2}, 2) == std::vector<Index>{1, 1});
  CHECK(stratified_test_counts({50, 50}, 99 - 1) == std::vector<Index>{49, 49});
  CHECK(stratified_test_counts({3, 3, 3}, 4) == std::vector<Index>{2, 1, 1});  // tie: smaller label first

  // Random class sizes: counts add up, every class is on both sides, and a
  // class whose exact share is in [1, m - 1] is within one row of it.
  redflag::Random random(7);
  for (int trial = 0; trial < 500; ++trial) {
    const int classes = 1 + random.uniform_int(6);
    std::vector<Index> counts;
    Index rows = 0;
    for (int c = 0; c < classes; ++c) {
      counts.push_back(2 + random.uniform_int<Index>(random.bernoulli(0.3) ? 3 : 200));
      rows += counts.back();
    }
    const Index n_test = classes + random.uniform_int<Index>(rows - 2 * classes + 1);
    const std::vector<Index> tests = stratified_test_counts(counts, n_test);
    Index total = 0;
    for (int c = 0; c < classes; ++c) {
      const auto k = static_cast<std::size_t>(c);
      CAPTURE(trial);
      CHECK(tests[k] >= 1);
      CHECK(tests[k] <= counts[k] - 1);
      total += tests[k];
      const double share = static_cast<double>(n_test) * static_cast<double>(counts[k]) / static_cast<double>(rows);
      bool all_shares_inside = true;
      for (int other = 0; other < classes; ++other) {
        const auto o = static_cast<std::size_t>(other);
        const double s = static_cast<double>(n_test) * static_cast<double>(counts[o]) / static_cast<double>(rows);
        all_shares_inside = all_shares_inside && s >= 1.0 && s <= static_cast<double>(counts[o] - 1);
      }
      if (all_shares_inside) CHECK(std::abs(static_cast<double>(tests[k]) - share) < 1.0);
    }
    CHECK(total == n_test);
  }
}

TEST_CASE_TEMPLATE("splits are deterministic in the seed", T, float, double) {
  const LabelVector y = labels_with_counts({0, 1}, {80, 20});
  const Matrix<T> X = numbered_rows<T>(100);
  for (const bool stratify : {true, false}) {
    CAPTURE(stratify);
    const auto a = redflag::train_test_split(X, y, {.random_state = 42, .stratify = stratify});
    const auto b = redflag::train_test_split(X, y, {.random_state = 42, .stratify = stratify});
    const auto c = redflag::train_test_split(X, y, {.random_state = 43, .stratify = stratify});
    check_consistent(a, X, y);
    check_consistent(c, X, y);
    CHECK(a.train_index == b.train_index);
    CHECK(a.test_index == b.test_index);
    CHECK(a.X_test == b.X_test);
    CHECK(a.test_index != c.test_index);
    CHECK(a.test_index.size() == 25);
    // Shuffled: the test rows are not simply in row order.
    CHECK_FALSE(std::is_sorted(a.test_index.begin(), a.test_index.end()));
  }
}

TEST_CASE("splits are the same on every platform") {
  // Pinned output of redflag::Random-driven Fisher-Yates shuffles, so a change
  // of generator, shuffle or allocation shows up as a failure here (the
  // standard library's distributions would differ between libstdc++ and libc++).
  const LabelVector y = labels_with_counts({0, 1}, {8, 4});
  const Matrix<double> X = numbered_rows<double>(12);
  const auto stratified = redflag::train_test_split(X, y, {.test_size = 0.25, .random_state = 2024});
  const auto plain = redflag::train_test_split(X, y, {.test_size = 0.25, .random_state = 2024, .stratify = false});
  CHECK(stratified.test_index == std::vector<Index>{2, 4, 5});
  CHECK(plain.test_index == std::vector<Index>{11, 8, 0});
}

TEST_CASE("unshuffled split: first rows train, last rows test") {
  const LabelVector y = labels_with_counts({0, 1}, {6, 4});
  const Matrix<float> X = numbered_rows<float>(10);
  const auto split = redflag::train_test_split(X, y, {.test_size = 3, .stratify = false, .shuffle = false});
  CHECK(split.train_index == std::vector<Index>{0, 1, 2, 3, 4, 5, 6});
  CHECK(split.test_index == std::vector<Index>{7, 8, 9});
  check_consistent(split, X, y);
}

TEST_CASE("values are copied untouched, NaN included") {
  Matrix<double> X = numbered_rows<double>(6);
  X(2, 1) = std::numeric_limits<double>::quiet_NaN();
  const LabelVector y = labels_with_counts({0, 1}, {3, 3});
  const auto split = redflag::train_test_split(X, y, {.test_size = 2});
  const auto& rows = split.train_index;
  const auto where = std::find(rows.begin(), rows.end(), Index{2});
  const Matrix<double>& holder = where != rows.end() ? split.X_train : split.X_test;
  const auto& index = where != rows.end() ? split.train_index : split.test_index;
  const auto k = std::find(index.begin(), index.end(), Index{2}) - index.begin();
  CHECK(std::isnan(holder(static_cast<Index>(k), 1)));
}

TEST_CASE("train_test_split rejects bad input") {
  const Matrix<double> X = numbered_rows<double>(10);
  const LabelVector y = labels_with_counts({0, 1}, {6, 4});

  CHECK_THROWS_WITH_AS(redflag::train_test_split(Matrix<double>(0, 2), LabelVector(0)),
                       doctest::Contains("redflag::train_test_split: X is empty (0 rows, 2 columns)"),
                       redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::train_test_split(X, LabelVector(y.head(9))),
                       doctest::Contains("X has 10 rows but y has 9"), redflag::invalid_argument);

  LabelVector lonely = y;
  lonely(9) = 5;
  CHECK_THROWS_WITH_AS(redflag::train_test_split(X, lonely),
                       doctest::Contains("class 5 has only 1 row; stratification needs at least 2 per class"),
                       redflag::data_error);
  // Without stratification a singleton class is fine.
  CHECK(redflag::train_test_split(X, lonely, {.stratify = false}).test_index.size() == 3);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const double bad : {0.0, -0.1, 1.5, 10.0, 11.0, nan, std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(redflag::train_test_split(X, y, {.test_size = bad}), doctest::Contains("test_size"),
                         redflag::invalid_argument);
  }
  CHECK_THROWS_WITH_AS(redflag::train_test_split(X, y, {.test_size = 1.5}),
                       doctest::Contains("test_size must be a fraction in (0, 1) or a whole row count >= 1, got 1.5"),
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::train_test_split(X, y, {.test_size = 0.99}),
                       doctest::Contains("puts all 10 rows in the test set"), redflag::invalid_argument);

  // One test row cannot hold both classes.
  CHECK_THROWS_WITH_AS(redflag::train_test_split(X, y, {.test_size = 1}),
                       doctest::Contains("gives 1 test and 9 training rows, but y has 2 classes"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::train_test_split(X, y, {.test_size = 9}), redflag::invalid_argument);

  CHECK_THROWS_WITH_AS(redflag::train_test_split(X, y, {.shuffle = false}),
                       doctest::Contains("stratify = true needs shuffle = true"), redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::train_test_split(numbered_rows<double>(1), LabelVector::Zero(1), {.stratify = false}),
                  redflag::invalid_argument);
}
