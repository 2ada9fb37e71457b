#pragma once

// train_test_split: a seeded, optionally stratified split of rows into a
// training and a test set, after scikit-learn's train_test_split and
// StratifiedShuffleSplit. Fraud and AML labels are rare (often < 1%), so by
// default the split is stratified: each class keeps its share on both sides.
//
// Determinism: the permutations come from redflag::Random (xoshiro256**) and
// a Fisher-Yates shuffle written in redflag, never from std:: distributions,
// so a random_state gives the same split on every platform and standard
// library. The split differs from scikit-learn's for the same seed.
//
// Test rows per class (stratified): class c with m_c of the n rows gets
// n_test * m_c / n test rows, rounded by largest remainder (Hamilton's
// method; equal remainders go to the smaller label), so the counts add up to
// n_test exactly. Then, while some class has 0 test rows, or all of its rows
// in the test set, one row moves between it and the class furthest above (or
// below) its exact share, so that every class appears on both sides.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace redflag {

struct TrainTestSplitParams {
  double test_size = 0.25;         // fraction of rows in (0, 1), or a row count >= 1
  std::uint64_t random_state = 0;  // seed of the shuffles
  bool stratify = true;            // keep class proportions of y on both sides
  bool shuffle = true;             // false: first rows train, last rows test (needs stratify = false)
};

template <Scalar T>
struct TrainTestSplit {
  Matrix<T> X_train;
  Matrix<T> X_test;
  LabelVector y_train;
  LabelVector y_test;
  std::vector<Index> train_index;  // row of X for each row of X_train
  std::vector<Index> test_index;   // row of X for each row of X_test
};

namespace detail::preprocessing {

// Rows in the test set for `rows` rows: ceil(test_size * rows) for a
// fraction, as scikit-learn; the count itself otherwise.
inline Index test_row_count(double test_size, Index rows, std::string_view where) {
  require_parameter(std::isfinite(test_size) && test_size > 0.0, where, "test_size",
                    "a fraction in (0, 1) or a row count >= 1", test_size);
  Index count = 0;
  if (test_size < 1.0) {
    count = static_cast<Index>(std::ceil(test_size * static_cast<double>(rows)));
  } else {
    require_parameter(test_size == std::floor(test_size), where, "test_size",
                      "a fraction in (0, 1) or a whole row count >= 1", test_size);
    require_parameter(test_size < static_cast<double>(rows), where, "test_size",
                      "less than the " + std::to_string(rows) + " rows of X", test_size);
    count = static_cast<Index>(test_size);
  }
  if (count >= rows) {
    raise<invalid_argument>(where, "test_size = " + format_number(test_size) + " puts all " + std::to_string(rows) +
                                       " rows in the test set; none are left for training");
  }
  return count;
}

// Test rows per class (see the header comment). `counts` are the class sizes,
// each >= 2, in label order; needs classes <= n_test <= rows - classes.
inline std::vector<Index> stratified_test_counts(const std::vector<Index>& counts, Index n_test) {
  const std::size_t classes = counts.size();
  std::uint64_t rows = 0;
  for (const Index count : counts) rows += static_cast<std::uint64_t>(count);
  // Exact shares n_test * m_c / rows as integer quotient + remainder.
  std::vector<Index> tests(classes);
  std::vector<std::uint64_t> remainder(classes);
  Index assigned = 0;
  for (std::size_t c = 0; c < classes; ++c) {
    const std::uint64_t numerator = static_cast<std::uint64_t>(n_test) * static_cast<std::uint64_t>(counts[c]);
    tests[c] = static_cast<Index>(numerator / rows);
    remainder[c] = numerator % rows;
    assigned += tests[c];
  }
  std::vector<std::size_t> order(classes);
  for (std::size_t c = 0; c < classes; ++c) order[c] = c;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainder[a] > remainder[b]; });
  for (std::size_t i = 0; assigned < n_test; ++i, ++assigned) ++tests[order[i]];

  // Test rows above the exact share, times rows (double: only the order matters).
  const auto surplus = [&](std::size_t c) {
    return static_cast<double>(tests[c]) * static_cast<double>(rows) -
           static_cast<double>(n_test) * static_cast<double>(counts[c]);
  };
  const auto most = [&](auto eligible, double sign) {
    std::size_t best = classes;
    for (std::size_t c = 0; c < classes; ++c) {
      if (eligible(c) && (best == classes || sign * surplus(c) > sign * surplus(best))) best = c;
    }
    return best;
  };
  for (std::size_t c = 0; c < classes; ++c) {
    while (tests[c] < 1) {  // a donor with >= 2 test rows exists since n_test >= classes
      const std::size_t donor = most([&](std::size_t k) { return tests[k] >= 2; }, 1.0);
      --tests[donor];
      ++tests[c];
    }
  }
  for (std::size_t c = 0; c < classes; ++c) {
    while (tests[c] > counts[c] - 1) {  // a taker exists since rows - n_test >= classes
      const std::size_t taker = most([&](std::size_t k) { return tests[k] <= counts[k] - 2; }, -1.0);
      ++tests[taker];
      --tests[c];
    }
  }
  return tests;
}

}  // namespace detail::preprocessing

// Splits the rows of X and y into training and test sets. Throws
// invalid_argument for bad parameters or mismatched lengths, and data_error
// for empty input or (when stratifying) a class with a single row. Values of
// X are copied untouched (NaN included): splitting does not look at them.
template <class Derived>
TrainTestSplit<typename Derived::Scalar> train_test_split(const Eigen::MatrixBase<Derived>& X, const LabelsRef& y,
                                                          const TrainTestSplitParams& params = {}) {
  using T = typename Derived::Scalar;
  static_assert(Scalar<T>, "train_test_split takes a float or double matrix");
  constexpr std::string_view where = "train_test_split";
  detail::require_non_empty(X, where, "X");
  detail::require_same_length(X.rows(), y.size(), where, "X", "y");
  const Index rows = X.rows();
  const Index n_test = detail::preprocessing::test_row_count(params.test_size, rows, where);
  const Index n_train = rows - n_test;

  std::vector<Index> train_index;
  std::vector<Index> test_index;
  train_index.reserve(static_cast<std::size_t>(n_train));
  test_index.reserve(static_cast<std::size_t>(n_test));
  Random random(params.random_state);

  if (params.stratify) {
    if (!params.shuffle) {
      detail::raise<invalid_argument>(where,
                                      "stratify = true needs shuffle = true (as in scikit-learn); "
                                      "set stratify = false for an ordered split");
    }
    std::map<Label, std::vector<Index>> members;  // ordered by label: deterministic
    for (Index i = 0; i < rows; ++i) members[y(i)].push_back(i);
    const auto classes = static_cast<Index>(members.size());
    std::vector<Index> counts;
    for (const auto& [label, indices] : members) {
      if (indices.size() < 2) {
        detail::raise<data_error>(where, "class " + std::to_string(label) +
                                             " has only 1 row; stratification needs at least 2 per class "
                                             "(set stratify = false or drop the class)");
      }
      counts.push_back(static_cast<Index>(indices.size()));
    }
    if (n_test < classes || n_train < classes) {
      detail::raise<invalid_argument>(where, "test_size = " + detail::format_number(params.test_size) + " gives " +
                                                 std::to_string(n_test) + " test and " + std::to_string(n_train) +
                                                 " training rows, but y has " + std::to_string(classes) +
                                                 " classes and each side needs a row of every class");
    }
    const std::vector<Index> tests = detail::preprocessing::stratified_test_counts(counts, n_test);
    std::size_t c = 0;
    for (auto& [label, indices] : members) {
      random.shuffle(indices);
      const auto cut = static_cast<std::ptrdiff_t>(tests[c++]);
      test_index.insert(test_index.end(), indices.begin(), indices.begin() + cut);
      train_index.insert(train_index.end(), indices.begin() + cut, indices.end());
    }
    // Interleave the classes so neither side is ordered by label.
    random.shuffle(test_index);
    random.shuffle(train_index);
  } else {
    std::vector<Index> order(static_cast<std::size_t>(rows));
    for (Index i = 0; i < rows; ++i) order[static_cast<std::size_t>(i)] = i;
    if (params.shuffle) random.shuffle(order);
    // Unshuffled, the test set is the last rows (scikit-learn's convention).
    const auto cut = static_cast<std::ptrdiff_t>(n_train);
    train_index.assign(order.begin(), order.begin() + cut);
    test_index.assign(order.begin() + cut, order.end());
  }

  TrainTestSplit<T> split;
  split.X_train = X(train_index, Eigen::all);
  split.X_test = X(test_index, Eigen::all);
  split.y_train = y(train_index);
  split.y_test = y(test_index);
  split.train_index = std::move(train_index);
  split.test_index = std::move(test_index);
  return split;
}

}  // namespace redflag
