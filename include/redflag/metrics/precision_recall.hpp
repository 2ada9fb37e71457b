#pragma once

// Precision-recall curve, average precision, the binary confusion matrix and
// the scores derived from it (precision, recall, F-beta), with
// scikit-learn's definitions. Labels are 0/1 with 1 = anomaly (positive);
// higher scores are more anomalous and a score threshold t predicts 1 for
// score >= t.
//
// Zero division: like scikit-learn's default (zero_division="warn", minus the
// warning), a ratio whose denominator is 0 is 0 and nothing is thrown —
// precision with no predicted positives, recall with no actual positives,
// and F-beta when precision and recall are both 0.

#include <redflag/metrics/ranking.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace redflag {

// scikit-learn's layout: precision and recall have one entry per threshold
// (thresholds increasing, so recall decreases) plus a final (1, 0) point
// with no threshold.
struct PrecisionRecallCurve {
  Vector<double> precision;
  Vector<double> recall;
  Vector<double> thresholds;
};

namespace detail {

inline void require_positives(std::int64_t positives, std::string_view where, std::string_view needs) {
  if (positives == 0) {
    raise<data_error>(where,
                      "y_true contains only class 0; " + std::string(needs) + " needs at least one positive (class 1)");
  }
}

}  // namespace detail

// scikit-learn's precision_recall_curve(y_true, scores): one point per
// distinct score. Unlike scikit-learn, which warns and sets recall to 1, a
// y_true without positives throws data_error (recall is undefined there).
template <class DerivedY, class DerivedS>
PrecisionRecallCurve precision_recall_curve(const Eigen::MatrixBase<DerivedY>& y_true_input,
                                            const Eigen::MatrixBase<DerivedS>& scores_input) {
  constexpr std::string_view where = "precision_recall_curve";
  const detail::LabelledScores input(y_true_input, scores_input, where);
  const auto& y_true = input.labels();
  const auto& scores = input.scores();
  const std::int64_t positives = input.positives();
  detail::require_positives(positives, where, "a precision-recall curve");

  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<double> thresholds;
  detail::for_each_threshold(y_true, scores, [&](double threshold, std::int64_t tp, std::int64_t fp) {
    precision.push_back(static_cast<double>(tp) / static_cast<double>(tp + fp));
    recall.push_back(static_cast<double>(tp) / static_cast<double>(positives));
    thresholds.push_back(threshold);
  });

  // Collected from the highest threshold down; scikit-learn reports them
  // from the lowest up.
  const auto m = static_cast<Index>(thresholds.size());
  PrecisionRecallCurve curve{Vector<double>(m + 1), Vector<double>(m + 1), Vector<double>(m)};
  for (Index i = 0; i < m; ++i) {
    const auto from = static_cast<std::size_t>(m - 1 - i);
    curve.precision(i) = precision[from];
    curve.recall(i) = recall[from];
    curve.thresholds(i) = thresholds[from];
  }
  curve.precision(m) = 1.0;
  curve.recall(m) = 0.0;
  return curve;
}

// scikit-learn's average_precision_score: the step-wise sum
// AP = sum_k (R_k - R_{k-1}) P_k over thresholds from the highest down
// (no trapezoidal interpolation, which would be optimistic). Tied scores form
// one step. Throws data_error when y_true has no positives (scikit-learn
// warns and returns 0).
template <class DerivedY, class DerivedS>
double average_precision_score(const Eigen::MatrixBase<DerivedY>& y_true_input,
                               const Eigen::MatrixBase<DerivedS>& scores_input) {
  constexpr std::string_view where = "average_precision_score";
  const detail::LabelledScores input(y_true_input, scores_input, where);
  const auto& y_true = input.labels();
  const auto& scores = input.scores();
  const std::int64_t positives = input.positives();
  detail::require_positives(positives, where, "average precision");

  const auto p = static_cast<double>(positives);
  double sum = 0.0;
  double previous_recall = 0.0;
  detail::for_each_threshold(y_true, scores, [&](double, std::int64_t tp, std::int64_t fp) {
    const double recall = static_cast<double>(tp) / p;
    sum += (recall - previous_recall) * (static_cast<double>(tp) / static_cast<double>(tp + fp));
    previous_recall = recall;
  });
  return sum;
}

// Counts of the binary confusion matrix (positive = 1 = anomaly).
struct ConfusionMatrix {
  std::int64_t tn = 0;
  std::int64_t fp = 0;
  std::int64_t fn = 0;
  std::int64_t tp = 0;

  // scikit-learn's 2x2 layout: rows are true labels 0/1, columns predicted
  // labels 0/1, i.e. [[tn, fp], [fn, tp]].
  Eigen::Matrix<std::int64_t, 2, 2> matrix() const {
    Eigen::Matrix<std::int64_t, 2, 2> m;
    m << tn, fp, fn, tp;
    return m;
  }
  std::int64_t total() const { return tn + fp + fn + tp; }

  bool operator==(const ConfusionMatrix&) const = default;
};

namespace detail {

template <class DerivedY, class DerivedP>
ConfusionMatrix confusion_from_predictions(const Eigen::MatrixBase<DerivedY>& y_true_input,
                                           const Eigen::MatrixBase<DerivedP>& y_pred_input, std::string_view where) {
  const VectorInput y_view(y_true_input, where, "y_true");
  const VectorInput p_view(y_pred_input, where, "y_pred");
  const auto& y_true = *y_view;
  const auto& y_pred = *p_view;
  require_same_length(y_true.size(), y_pred.size(), where, "y_true", "y_pred");
  require_label_vector(y_true, where, "y_true");
  require_label_vector(y_pred, where, "y_pred");
  ConfusionMatrix counts;
  for (Index i = 0; i < y_true.size(); ++i) {
    const bool predicted = y_pred(i) == 1;
    if (y_true(i) == 1) {
      (predicted ? counts.tp : counts.fn) += 1;
    } else {
      (predicted ? counts.fp : counts.tn) += 1;
    }
  }
  return counts;
}

template <class DerivedY, class DerivedS>
ConfusionMatrix confusion_at_threshold(const Eigen::MatrixBase<DerivedY>& y_true_input,
                                       const Eigen::MatrixBase<DerivedS>& scores_input, AtThreshold threshold,
                                       std::string_view where) {
  const VectorInput y_view(y_true_input, where, "y_true");
  const VectorInput s_view(scores_input, where, "scores");
  const auto& y_true = *y_view;
  const auto& scores = *s_view;
  require_labels_and_scores(y_true, scores, where);
  require_threshold(threshold, where);
  ConfusionMatrix counts;
  for (Index i = 0; i < y_true.size(); ++i) {
    const bool predicted = static_cast<double>(scores(i)) >= threshold.value;
    if (y_true(i) == 1) {
      (predicted ? counts.tp : counts.fn) += 1;
    } else {
      (predicted ? counts.fp : counts.tn) += 1;
    }
  }
  return counts;
}

inline void require_beta(double beta, std::string_view where) {
  require_parameter(std::isfinite(beta) && beta > 0.0, where, "beta", "a finite number > 0", beta);
}

}  // namespace detail

// Confusion matrix of 0/1 predictions.
template <class DerivedY, class DerivedP>
ConfusionMatrix confusion_matrix(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedP>& y_pred) {
  return detail::confusion_from_predictions(y_true, y_pred, "confusion_matrix");
}

// Confusion matrix of the predictions score >= threshold.value.
template <class DerivedY, class DerivedS>
ConfusionMatrix confusion_matrix(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedS>& scores,
                                 AtThreshold threshold) {
  return detail::confusion_at_threshold(y_true, scores, threshold, "confusion_matrix");
}

// tp / (tp + fp); 0 when nothing is predicted positive.
inline double precision_score(const ConfusionMatrix& counts) {
  const std::int64_t predicted = counts.tp + counts.fp;
  return predicted == 0 ? 0.0 : static_cast<double>(counts.tp) / static_cast<double>(predicted);
}

// tp / (tp + fn); 0 when y_true has no positives.
inline double recall_score(const ConfusionMatrix& counts) {
  const std::int64_t actual = counts.tp + counts.fn;
  return actual == 0 ? 0.0 : static_cast<double>(counts.tp) / static_cast<double>(actual);
}

// (1 + beta^2) P R / (beta^2 P + R); beta > 1 weighs recall more. 0 when
// P = R = 0. Throws invalid_argument unless beta is finite and > 0.
inline double fbeta_score(const ConfusionMatrix& counts, double beta) {
  detail::require_beta(beta, "fbeta_score");
  const double precision = precision_score(counts);
  const double recall = recall_score(counts);
  const double beta2 = beta * beta;
  const double denominator = beta2 * precision + recall;
  // scikit-learn's expression, so the results agree to the last bit.
  return (1.0 + beta2) * precision * recall / (denominator == 0.0 ? 1.0 : denominator);
}

inline double f1_score(const ConfusionMatrix& counts) { return fbeta_score(counts, 1.0); }

// The same scores from 0/1 predictions ...
template <class DerivedY, class DerivedP>
double precision_score(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedP>& y_pred) {
  return precision_score(detail::confusion_from_predictions(y_true, y_pred, "precision_score"));
}

template <class DerivedY, class DerivedP>
double recall_score(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedP>& y_pred) {
  return recall_score(detail::confusion_from_predictions(y_true, y_pred, "recall_score"));
}

template <class DerivedY, class DerivedP>
double fbeta_score(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedP>& y_pred, double beta) {
  detail::require_beta(beta, "fbeta_score");
  return fbeta_score(detail::confusion_from_predictions(y_true, y_pred, "fbeta_score"), beta);
}

template <class DerivedY, class DerivedP>
double f1_score(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedP>& y_pred) {
  return f1_score(detail::confusion_from_predictions(y_true, y_pred, "f1_score"));
}

// ... and from scores cut at a threshold (predict 1 when score >= threshold).
template <class DerivedY, class DerivedS>
double precision_score(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedS>& scores,
                       AtThreshold threshold) {
  return precision_score(detail::confusion_at_threshold(y_true, scores, threshold, "precision_score"));
}

template <class DerivedY, class DerivedS>
double recall_score(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedS>& scores,
                    AtThreshold threshold) {
  return recall_score(detail::confusion_at_threshold(y_true, scores, threshold, "recall_score"));
}

template <class DerivedY, class DerivedS>
double fbeta_score(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedS>& scores,
                   AtThreshold threshold, double beta) {
  detail::require_beta(beta, "fbeta_score");
  return fbeta_score(detail::confusion_at_threshold(y_true, scores, threshold, "fbeta_score"), beta);
}

template <class DerivedY, class DerivedS>
double f1_score(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedS>& scores,
                AtThreshold threshold) {
  return f1_score(detail::confusion_at_threshold(y_true, scores, threshold, "f1_score"));
}

}  // namespace redflag
