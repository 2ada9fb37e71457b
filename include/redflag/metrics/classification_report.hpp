#pragma once

// Per-class precision / recall / F1 / support of binary 0/1 predictions, as
// a struct and as scikit-learn's classification_report text. Both classes are
// always reported: 0 (normal) and 1 (anomaly).

#include <redflag/metrics/precision_recall.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace redflag {

struct ClassMetrics {
  double precision = 0.0;
  double recall = 0.0;
  double f1_score = 0.0;
  std::int64_t support = 0;  // number of true samples of the class (total for averages)
};

struct ClassificationReportFormat {
  std::array<std::string, 2> target_names{"0", "1"};  // row names of classes 0 and 1
  int digits = 2;                                     // decimals of the ratios, 0..15
};

struct ClassificationReport {
  std::array<ClassMetrics, 2> classes;  // indexed by label: [0] normal, [1] anomaly
  double accuracy = 0.0;                // (tn + tp) / n
  ClassMetrics macro_avg;               // unweighted mean of the two classes
  ClassMetrics weighted_avg;            // mean weighted by support
  ConfusionMatrix counts;

  // scikit-learn's text layout, character for character (for y_true/y_pred
  // holding both classes; scikit-learn then heads the accuracy row
  // "accuracy", otherwise "micro avg" with the same numbers).
  std::string to_string(const ClassificationReportFormat& format = {}) const;
};

namespace detail {

// Python's str.rjust counts code points, not UTF-8 bytes.
inline std::size_t display_length(std::string_view text) {
  std::size_t length = 0;
  for (const char c : text) length += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return length;
}

inline void append_right(std::string& out, std::string_view text, std::size_t width) {
  const std::size_t length = display_length(text);
  if (length < width) out.append(width - length, ' ');
  out.append(text);
}

inline std::string fixed(double value, int digits) {
  // printf and Python's format both round the exact binary value half-to-even.
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

inline ClassMetrics class_metrics(const ConfusionMatrix& counts) {
  return {precision_score(counts), recall_score(counts), f1_score(counts), counts.tp + counts.fn};
}

inline ClassificationReport make_report(const ConfusionMatrix& counts) {
  ClassificationReport report;
  report.counts = counts;
  // Class 0's view swaps the roles: its true positives are the true negatives.
  report.classes[0] = class_metrics({.tn = counts.tp, .fp = counts.fn, .fn = counts.fp, .tp = counts.tn});
  report.classes[1] = class_metrics(counts);
  const std::int64_t n = counts.total();
  report.accuracy = static_cast<double>(counts.tn + counts.tp) / static_cast<double>(n);
  const ClassMetrics& a = report.classes[0];
  const ClassMetrics& b = report.classes[1];
  report.macro_avg = {(a.precision + b.precision) / 2.0, (a.recall + b.recall) / 2.0, (a.f1_score + b.f1_score) / 2.0,
                      n};
  const auto wa = static_cast<double>(a.support);
  const auto wb = static_cast<double>(b.support);
  const auto w = static_cast<double>(n);
  report.weighted_avg = {(a.precision * wa + b.precision * wb) / w, (a.recall * wa + b.recall * wb) / w,
                         (a.f1_score * wa + b.f1_score * wb) / w, n};
  return report;
}

}  // namespace detail

inline std::string ClassificationReport::to_string(const ClassificationReportFormat& format) const {
  detail::require_parameter(format.digits >= 0 && format.digits <= 15, "ClassificationReport::to_string", "digits",
                            "in [0, 15]", format.digits);
  constexpr std::size_t column = 9;
  std::size_t width =
      std::max<std::size_t>(std::string_view("weighted avg").size(), static_cast<std::size_t>(format.digits));
  for (const auto& name : format.target_names) width = std::max(width, detail::display_length(name));

  std::string out;
  out.append(width + 1, ' ');
  for (const std::string_view header : {"precision", "recall", "f1-score", "support"}) {
    out += ' ';
    detail::append_right(out, header, column);
  }
  out += "\n\n";
  const auto row = [&](std::string_view name, const ClassMetrics& m, bool ratios) {
    detail::append_right(out, name, width);
    out += ' ';
    for (const double value : {m.precision, m.recall}) {
      out += ' ';
      detail::append_right(out, ratios ? detail::fixed(value, format.digits) : "", column);
    }
    out += ' ';
    detail::append_right(out, detail::fixed(m.f1_score, format.digits), column);
    out += ' ';
    detail::append_right(out, std::to_string(m.support), column);
    out += '\n';
  };
  row(format.target_names[0], classes[0], true);
  row(format.target_names[1], classes[1], true);
  out += '\n';
  row("accuracy", {0.0, 0.0, accuracy, counts.total()}, false);
  row("macro avg", macro_avg, true);
  row("weighted avg", weighted_avg, true);
  return out;
}

// Report of 0/1 predictions. Zero division gives 0 (see precision_recall.hpp).
template <class DerivedY, class DerivedP>
ClassificationReport classification_report(const Eigen::MatrixBase<DerivedY>& y_true,
                                           const Eigen::MatrixBase<DerivedP>& y_pred) {
  return detail::make_report(detail::confusion_from_predictions(y_true, y_pred, "classification_report"));
}

// Report of the predictions score >= threshold.value.
template <class DerivedY, class DerivedS>
ClassificationReport classification_report(const Eigen::MatrixBase<DerivedY>& y_true,
                                           const Eigen::MatrixBase<DerivedS>& scores, AtThreshold threshold) {
  return detail::make_report(detail::confusion_at_threshold(y_true, scores, threshold, "classification_report"));
}

// scikit-learn's classification_report(y_true, y_pred, labels=[0, 1]) text.
template <class DerivedY, class DerivedP>
std::string classification_report_text(const Eigen::MatrixBase<DerivedY>& y_true,
                                       const Eigen::MatrixBase<DerivedP>& y_pred,
                                       const ClassificationReportFormat& format = {}) {
  return classification_report(y_true, y_pred).to_string(format);
}

}  // namespace redflag
