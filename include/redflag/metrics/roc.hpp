#pragma once

// Receiver operating characteristic: roc_curve and roc_auc_score with
// scikit-learn's semantics. Labels are 0/1 with 1 = anomaly (positive);
// higher scores are more anomalous.

#include <redflag/metrics/ranking.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace redflag {

// Points of the ROC curve, ordered by decreasing threshold. Point i is the
// rate of positives (tpr) and negatives (fpr) with score >= thresholds[i].
// thresholds[0] is +inf (nothing flagged), so the curve starts at (0, 0).
struct RocCurve {
  Vector<double> fpr;
  Vector<double> tpr;
  Vector<double> thresholds;
};

struct RocCurveParams {
  // Drop points collinear with their neighbours, as scikit-learn does by
  // default: the curve's shape and area are unchanged, it just has fewer points.
  bool drop_intermediate = true;
};

namespace detail {

inline void require_both_classes(std::int64_t positives, std::int64_t total, std::string_view where,
                                 std::string_view needs) {
  if (positives == 0 || positives == total) {
    raise<data_error>(where, std::string("y_true contains only class ") + (positives == 0 ? "0" : "1") + "; " +
                                 std::string(needs) + " needs both classes");
  }
}

}  // namespace detail

// scikit-learn's roc_curve(y_true, scores, drop_intermediate=...). One point
// per distinct score (tied scores form one step), plus the leading
// (0, 0, +inf) point. Throws data_error when y_true holds only one class.
template <class DerivedY, class DerivedS>
RocCurve roc_curve(const Eigen::MatrixBase<DerivedY>& y_true_input, const Eigen::MatrixBase<DerivedS>& scores_input,
                   const RocCurveParams& params = {}) {
  constexpr std::string_view where = "roc_curve";
  const detail::LabelledScores input(y_true_input, scores_input, where);
  const auto& y_true = input.labels();
  const auto& scores = input.scores();
  const std::int64_t positives = input.positives();
  const std::int64_t negatives = input.negatives();
  detail::require_both_classes(positives, y_true.size(), where, "a ROC curve");

  struct Point {
    double threshold;
    std::int64_t tp;
    std::int64_t fp;
  };
  std::vector<Point> points;
  detail::for_each_threshold(y_true, scores, [&](double threshold, std::int64_t tp, std::int64_t fp) {
    points.push_back({threshold, tp, fp});
  });

  // scikit-learn keeps a point when the second difference of fps or tps is
  // non-zero there, i.e. where the curve bends, plus both end points.
  std::vector<Point> kept;
  if (params.drop_intermediate && points.size() > 2) {
    kept.reserve(points.size());
    kept.push_back(points.front());
    for (std::size_t i = 1; i + 1 < points.size(); ++i) {
      const Point& a = points[i - 1];
      const Point& b = points[i];
      const Point& c = points[i + 1];
      if (c.fp - 2 * b.fp + a.fp != 0 || c.tp - 2 * b.tp + a.tp != 0) kept.push_back(b);
    }
    kept.push_back(points.back());
  } else {
    kept = std::move(points);
  }

  const auto size = static_cast<Index>(kept.size()) + 1;
  RocCurve curve{Vector<double>(size), Vector<double>(size), Vector<double>(size)};
  curve.fpr(0) = 0.0;
  curve.tpr(0) = 0.0;
  curve.thresholds(0) = std::numeric_limits<double>::infinity();
  const auto p = static_cast<double>(positives);
  const auto n = static_cast<double>(negatives);
  for (Index i = 1; i < size; ++i) {
    const Point& point = kept[static_cast<std::size_t>(i - 1)];
    curve.fpr(i) = static_cast<double>(point.fp) / n;
    curve.tpr(i) = static_cast<double>(point.tp) / p;
    curve.thresholds(i) = point.threshold;
  }
  return curve;
}

// Area under the ROC curve by the trapezoidal rule, as scikit-learn's
// roc_auc_score for binary y_true: a group of tied scores is one straight
// step, so ties count half. Equals the probability that a random positive
// scores above a random negative (ties 1/2). Accumulated in exact integer
// arithmetic; O(n) after an O(n) radix sort, no curve is materialised.
// Throws data_error when y_true holds only one class.
template <class DerivedY, class DerivedS>
double roc_auc_score(const Eigen::MatrixBase<DerivedY>& y_true_input, const Eigen::MatrixBase<DerivedS>& scores_input) {
  constexpr std::string_view where = "roc_auc_score";
  const detail::LabelledScores input(y_true_input, scores_input, where);
  const auto& y_true = input.labels();
  const auto& scores = input.scores();
  const std::int64_t positives = input.positives();
  const std::int64_t negatives = input.negatives();
  detail::require_both_classes(positives, y_true.size(), where, "ROC AUC");

  // Twice the area in units of (1 / positives) x (1 / negatives): each step
  // adds width dfp times the summed heights tp_prev + tp. At most
  // 2 * positives * negatives <= n^2 / 2, well inside 64 bits.
  std::uint64_t twice_area = 0;
  std::int64_t previous_tp = 0;
  std::int64_t previous_fp = 0;
  detail::for_each_threshold(y_true, scores, [&](double, std::int64_t tp, std::int64_t fp) {
    twice_area += static_cast<std::uint64_t>(fp - previous_fp) * static_cast<std::uint64_t>(tp + previous_tp);
    previous_tp = tp;
    previous_fp = fp;
  });
  return static_cast<double>(twice_area) / (2.0 * static_cast<double>(positives) * static_cast<double>(negatives));
}

}  // namespace redflag
