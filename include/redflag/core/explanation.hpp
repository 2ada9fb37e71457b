#pragma once

// Explanation<T>: why a model gave each row its output. One type for every
// component that explains its scores, so hosts print, rank and aggregate
// reasons the same way whatever the model:
//
//   scores(r) = expected_value + sum_j contributions(r, j)   (up to rounding)
//
// What `scores` holds is the output the component explains:
//   IsolationForest, StreamingIsolationForest  the anomaly score (TreeSHAP on
//                                              the path lengths, rescaled onto
//                                              the score; expected_value is the
//                                              score of a row that tells the
//                                              trees nothing)
//   RandomForest::explain(X, class_index)      the probability of that class
//                                              (TreeSHAP; expected_value is the
//                                              cover-weighted mean leaf
//                                              probability); one Explanation
//                                              per class asked for
//   TransformerAutoencoder                     the anomaly score (mean squared
//                                              reconstruction error); column j's
//                                              contribution is its squared error
//                                              over the column count, its share
//                                              of the score; expected_value 0
// A positive contribution raised the output; a column with no say has 0.
//
// feature_importances means one thing in every component: the mean absolute
// contribution of each column over the rows given, normalised to sum to 1
// (all zero when no column moved any output) — importances() below, and
// feature_importances(X) = explain(X).importances() on each component
// (RandomForest: feature_importances(X, class_index)). Over all rows it is
// dominated by normal ones; pass the flagged rows to see what drives alerts.
// RandomForest's training-time mean decrease in impurity, a different
// quantity, is impurity_importances().

#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace redflag {

template <Scalar T>
struct Explanation {
  // One column's contribution to one row's output, as top() ranks them.
  struct Contribution {
    Index column = 0;
    std::string name;
    T value = T(0);
    friend bool operator==(const Contribution&, const Contribution&) = default;
  };

  std::vector<std::string> feature_names;  // one per column, the model's schema
  T expected_value = T(0);                 // the output of a row that tells the model nothing
  Matrix<T> contributions;                 // rows x columns
  Vector<T> scores;                        // the explained output of each row

  [[nodiscard]] Index rows() const { return contributions.rows(); }
  [[nodiscard]] Index cols() const { return contributions.cols(); }

  // Row `row`'s k largest contributions (most output-raising first, ties by
  // column), with the columns' names; all of them when k exceeds the column
  // count, none when k <= 0.
  [[nodiscard]] std::vector<Contribution> top(Index row, Index k) const {
    detail::require_parameter(row >= 0 && row < contributions.rows(), "Explanation::top", "row",
                              "in [0, " + std::to_string(contributions.rows()) + ")", row);
    std::vector<Index> ranked(static_cast<std::size_t>(contributions.cols()));
    for (Index j = 0; j < contributions.cols(); ++j) ranked[static_cast<std::size_t>(j)] = j;
    const auto count = static_cast<std::size_t>(std::clamp<Index>(k, 0, contributions.cols()));
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(count), ranked.end(),
                      [&](Index a, Index b) {
                        const T left = contributions(row, a), right = contributions(row, b);
                        return left > right || (left == right && a < b);
                      });
    std::vector<Contribution> result;
    result.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const Index column = ranked[i];
      const auto at = static_cast<std::size_t>(column);
      result.push_back(
          {column, at < feature_names.size() ? feature_names[at] : std::string(), contributions(row, column)});
    }
    return result;
  }

  // Mean absolute contribution per column, normalised to sum to 1 (see the
  // header comment: the meaning of feature_importances everywhere).
  [[nodiscard]] Vector<T> importances() const {
    if (contributions.rows() == 0) return Vector<T>::Zero(contributions.cols());
    Vector<T> mean = contributions.cwiseAbs().colwise().mean().transpose();
    const T total = mean.sum();
    if (total > T(0)) mean /= total;
    return mean;
  }
};

}  // namespace redflag
