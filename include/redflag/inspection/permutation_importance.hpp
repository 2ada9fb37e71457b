#pragma once

// permutation_importance: how much a fitted model's score on (X, y) drops
// when one column is shuffled, after scikit-learn's
// sklearn.inspection.permutation_importance. Unlike impurity importance it
// is measured on data of your choice (use held-out rows), works for any
// model and any metric, and does not favour columns with many distinct
// values.
//
// importances(j, r) = metric(y, s(X)) - metric(y, s(X with column j
// shuffled, repeat r)), where s is the model's score per row:
//   - a callable model: model(X) -> Vector<T>;
//   - a model with anomaly_score(X) (the detectors): that score;
//   - a model with predict_proba(X) (the classifiers): the probability of
//     the last class in classes() order (the larger label, class 1 for 0/1
//     labels); binary models only — pass a callable for more classes.
//
// Determinism: the shuffle of column j in repeat r draws from
// Random::stream(random_state, j * n_repeats + r), so results depend on the
// seed only, not on n_jobs (columns are spread over threads; each thread
// permutes its own copy of X).

#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>

#include <cmath>
#include <concepts>
#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace redflag {

struct PermutationImportanceParams {
  Index n_repeats = 5;             // shuffles per column, >= 1
  std::uint64_t random_state = 0;  // seed of the shuffles
  int n_jobs = 1;                  // columns in parallel; 1 serial, -1 all cores
};

struct PermutationImportanceResult {
  Vector<double> importances_mean;  // per column: mean over repeats of the score drop
  Vector<double> importances_std;   // per column: standard deviation (ddof = 0, as numpy)
  Matrix<double> importances;       // columns x repeats: each repeat's drop
  double baseline_score = 0.0;      // metric on the unshuffled X
};

// Metrics as callables (y_true, scores) -> double, for `metric`; any lambda
// with that shape works too.
namespace scorers {
inline constexpr auto roc_auc = [](const auto& y_true, const auto& scores) { return roc_auc_score(y_true, scores); };
inline constexpr auto average_precision = [](const auto& y_true, const auto& scores) {
  return average_precision_score(y_true, scores);
};
}  // namespace scorers

namespace detail::inspection {

template <class Model, class T>
concept RowScorer = requires(const Model& model, const Matrix<T>& X) {
  { model(X) } -> std::convertible_to<Vector<T>>;
};

template <class Model, class T>
concept HasAnomalyScore = requires(const Model& model, const Matrix<T>& X) {
  { model.anomaly_score(X) } -> std::convertible_to<Vector<T>>;
};

template <class Model, class T>
concept HasPredictProba = requires(const Model& model, const Matrix<T>& X) {
  { model.predict_proba(X) } -> std::convertible_to<Matrix<T>>;
};

template <class T, class Model>
Vector<T> score_rows(const Model& model, const Matrix<T>& X, std::string_view where) {
  if constexpr (RowScorer<Model, T>) {
    Vector<T> scores = model(X);
    if (scores.size() != X.rows()) {
      raise<invalid_argument>(where, "the scorer returned " + std::to_string(scores.size()) + " scores for " +
                                         std::to_string(X.rows()) + " rows");
    }
    return scores;
  } else if constexpr (HasAnomalyScore<Model, T>) {
    return model.anomaly_score(X);
  } else {
    static_assert(HasPredictProba<Model, T>,
                  "permutation_importance needs a callable model(X) -> Vector<T>, anomaly_score or predict_proba");
    const Matrix<T> proba = model.predict_proba(X);
    if (proba.cols() != 2) {
      raise<invalid_argument>(where, "predict_proba has " + std::to_string(proba.cols()) +
                                         " classes; pass a callable model(X) -> scores to choose what to score "
                                         "for more than 2");
    }
    return proba.col(1);
  }
}

}  // namespace detail::inspection

// Returns the mean and std over n_repeats of baseline - permuted score per
// column of X (positive: the model relies on the column). Throws
// invalid_argument for n_repeats < 1, a bad n_jobs or mismatched lengths,
// data_error for empty X or a y with a single class; the model's and the
// metric's own errors pass through.
template <class Model, class Derived, class Metric>
PermutationImportanceResult permutation_importance(const Model& model, const Eigen::MatrixBase<Derived>& X_input,
                                                   const LabelsRef& y, Metric&& metric,
                                                   const PermutationImportanceParams& params = {}) {
  using T = typename Derived::Scalar;
  static_assert(Scalar<T>, "permutation_importance takes a float or double matrix");
  constexpr std::string_view where = "permutation_importance";
  detail::require_parameter(params.n_repeats >= 1, where, "n_repeats", ">= 1", params.n_repeats);
  resolve_n_jobs(params.n_jobs, where);
  detail::require_non_empty(X_input, where, "X");
  detail::require_same_length(X_input.rows(), y.size(), where, "X", "y");
  if ((y.array() == y(0)).all()) {
    detail::raise<data_error>(
        where, "y has a single class (" + std::to_string(y(0)) + "); a score drop needs labels of at least 2 classes");
  }
  const Matrix<T> X = X_input;
  const LabelVector labels = y;
  const double baseline = static_cast<double>(metric(labels, detail::inspection::score_rows<T>(model, X, where)));

  const Index d = X.cols();
  const Index repeats = params.n_repeats;
  PermutationImportanceResult result;
  result.baseline_score = baseline;
  result.importances.resize(d, repeats);
  // Per column a whole task: each copies X once and shuffles only its column.
  parallel_for(static_cast<std::size_t>(d), params.n_jobs,
               [&](std::size_t begin, std::size_t end) {
                 Matrix<T> shuffled = X;
                 std::vector<Index> order(static_cast<std::size_t>(X.rows()));
                 for (std::size_t j = begin; j < end; ++j) {
                   const auto col = static_cast<Index>(j);
                   for (Index r = 0; r < repeats; ++r) {
                     std::iota(order.begin(), order.end(), Index{0});
                     Random rng = Random::stream(params.random_state,
                                                 static_cast<std::uint64_t>(j) * static_cast<std::uint64_t>(repeats) +
                                                     static_cast<std::uint64_t>(r));
                     rng.shuffle(order);
                     for (Index i = 0; i < X.rows(); ++i) shuffled(i, col) = X(order[static_cast<std::size_t>(i)], col);
                     const double permuted =
                         static_cast<double>(metric(labels, detail::inspection::score_rows<T>(model, shuffled, where)));
                     result.importances(col, r) = baseline - permuted;
                   }
                   shuffled.col(col) = X.col(col);
                 }
               },
               {.grain = 1});
  result.importances_mean = result.importances.rowwise().mean();
  result.importances_std.resize(d);
  for (Index j = 0; j < d; ++j) {
    const double mean = result.importances_mean(j);
    result.importances_std(j) = std::sqrt((result.importances.row(j).array() - mean).square().mean());
  }
  return result;
}

}  // namespace redflag
