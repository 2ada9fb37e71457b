#pragma once

// Choosing a score threshold: Youden's J on the ROC curve, the best F-beta on
// the precision-recall curve, or a contamination quantile as scikit-learn's
// IsolationForest does. Higher scores are more anomalous; a threshold t
// flags (predicts 1 for) every score >= t.

#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

namespace redflag {

struct YoudenThreshold {
  double threshold = 0.0;  // one of the scores
  double j = 0.0;          // tpr - fpr at the threshold
  double tpr = 0.0;
  double fpr = 0.0;
};

// The threshold maximising Youden's J = TPR - FPR over the distinct scores
// (the ROC curve without its +inf starting point, so the threshold is always
// a real score). J is compared exactly in integers; among equal maxima the
// highest threshold wins, i.e. the one flagging the fewest samples — the
// same pick as thresholds[argmax(tpr - fpr)] on scikit-learn's curve.
// Throws data_error when y_true holds only one class.
template <class DerivedY, class DerivedS>
YoudenThreshold youden_j_threshold(const Eigen::MatrixBase<DerivedY>& y_true_input,
                                   const Eigen::MatrixBase<DerivedS>& scores_input) {
  constexpr std::string_view where = "youden_j_threshold";
  const detail::LabelledScores input(y_true_input, scores_input, where);
  const auto& y_true = input.labels();
  const auto& scores = input.scores();
  const std::int64_t positives = input.positives();
  const std::int64_t negatives = input.negatives();
  detail::require_both_classes(positives, y_true.size(), where, "Youden's J");

  // J * positives * negatives = tp * negatives - fp * positives, an integer.
  bool first = true;
  std::int64_t best_key = 0;
  double best_threshold = 0.0;
  std::int64_t best_tp = 0;
  std::int64_t best_fp = 0;
  detail::for_each_threshold(y_true, scores, [&](double threshold, std::int64_t tp, std::int64_t fp) {
    const std::int64_t key = tp * negatives - fp * positives;
    if (first || key > best_key) {
      first = false;
      best_key = key;
      best_threshold = threshold;
      best_tp = tp;
      best_fp = fp;
    }
  });
  YoudenThreshold result;
  result.threshold = best_threshold;
  result.tpr = static_cast<double>(best_tp) / static_cast<double>(positives);
  result.fpr = static_cast<double>(best_fp) / static_cast<double>(negatives);
  result.j = result.tpr - result.fpr;
  return result;
}

struct FbetaThreshold {
  double threshold = 0.0;  // one of the scores
  double fbeta = 0.0;
  double precision = 0.0;
  double recall = 0.0;
};

// The threshold maximising F-beta over the distinct scores (the points of
// the precision-recall curve). Among equal maxima the highest threshold wins
// (fewest flagged); F values are compared by cross-multiplication, exactly
// for beta = 1. One sort and one pass. Throws data_error when y_true has no
// positives, invalid_argument unless beta is finite and > 0.
template <class DerivedY, class DerivedS>
FbetaThreshold fbeta_optimal_threshold(const Eigen::MatrixBase<DerivedY>& y_true_input,
                                       const Eigen::MatrixBase<DerivedS>& scores_input, double beta = 1.0) {
  constexpr std::string_view where = "fbeta_optimal_threshold";
  const detail::LabelledScores input(y_true_input, scores_input, where);
  const auto& y_true = input.labels();
  const auto& scores = input.scores();
  detail::require_beta(beta, where);
  const std::int64_t positives = input.positives();
  const std::int64_t negatives = input.negatives();
  detail::require_positives(positives, where, "an F-beta threshold");

  // F = (1 + b^2) tp / (tp + fp + b^2 P), so F_a > F_b exactly when
  // tp_a fp_b - tp_b fp_a + b^2 P (tp_a - tp_b) > 0.
  const double beta2_positives = beta * beta * static_cast<double>(positives);
  bool first = true;
  double best_threshold = 0.0;
  std::int64_t best_tp = 0;
  std::int64_t best_fp = 0;
  detail::for_each_threshold(y_true, scores, [&](double threshold, std::int64_t tp, std::int64_t fp) {
    const auto exact = static_cast<double>(tp * best_fp - best_tp * fp);
    if (first || exact + beta2_positives * static_cast<double>(tp - best_tp) > 0.0) {
      first = false;
      best_threshold = threshold;
      best_tp = tp;
      best_fp = fp;
    }
  });
  const ConfusionMatrix counts{.tn = negatives - best_fp, .fp = best_fp, .fn = positives - best_tp, .tp = best_tp};
  return {best_threshold, fbeta_score(counts, beta), precision_score(counts), recall_score(counts)};
}

// The (1 - contamination) quantile of the scores, computed exactly as
// np.percentile(scores, 100 * (1 - contamination)) with numpy's default
// linear interpolation, in double. This is scikit-learn's IsolationForest
// offset_ in redflag's sign convention (offset_ = np.percentile of the
// negated scores at 100 * contamination, so -offset_ equals this value up to
// rounding).
//
// Flagged with redflag's rule score >= threshold are all scores strictly
// above the quantile plus those equal to it. IsolationForest flags only the
// strictly greater ones; the two differ exactly by the scores equal to the
// threshold, which happens when (n - 1) * (1 - contamination) is a whole
// number (the quantile is then a score), with ties at the quantile, or,
// rarely, when interpolating between two nearly equal scores rounds onto one.
// Throws invalid_argument unless 0 < contamination <= 0.5.
template <class DerivedS>
double contamination_threshold(const Eigen::MatrixBase<DerivedS>& scores_input, double contamination) {
  constexpr std::string_view where = "contamination_threshold";
  const detail::VectorInput s_view(scores_input, where, "scores");
  const auto& scores = *s_view;
  detail::require_score_vector(scores, where, "scores");
  detail::require_parameter(contamination > 0.0 && contamination <= 0.5, where, "contamination", "in (0, 0.5]",
                            contamination);

  const Index n = scores.size();
  std::vector<double> values(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = static_cast<double>(scores(i));

  // numpy's arithmetic step by step so the result agrees to the last bit.
  const double quantile = (100.0 * (1.0 - contamination)) / 100.0;
  const double virtual_index = static_cast<double>(n - 1) * quantile;
  const double previous = std::floor(virtual_index);
  const auto lo = static_cast<std::size_t>(previous);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double a = values[lo];
  if (virtual_index >= static_cast<double>(n - 1)) return a;
  const double b = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1, values.end());
  const double gamma = virtual_index - previous;
  const double difference = b - a;
  // The volatile keeps the compiler from fusing multiply and add into an FMA
  // (e.g. with -march=native), which rounds once instead of twice as numpy does.
  volatile double step = gamma >= 0.5 ? difference * (1.0 - gamma) : difference * gamma;
  return gamma >= 0.5 ? b - step : a + step;
}

}  // namespace redflag
