#pragma once

// PerformanceMonitor: precision, recall and accuracy of each model version
// on labelled feedback — analysts confirming an alert as fraud or marking it
// a false alarm, chargebacks revealing missed fraud — over a sliding window
// of the most recent outcomes, with alerts when a metric falls below its
// threshold.
//
// Each outcome is (version that scored the case, flagged?, fraud?):
//   flagged and fraud        confirmed fraud   (true positive)
//   flagged, not fraud       false alarm       (false positive)
//   not flagged, fraud       missed fraud      (false negative)
//   not flagged, not fraud   confirmed normal  (true negative)
// Accuracy and recall need the last two kinds too: feed a sample of
// unflagged cases whose outcome became known, or they describe only alerts.
//
// Per version the window is a ring of `window` outcomes (one byte each) with
// running counts, so memory is fixed and record() is O(1). Not thread-safe:
// feed it from one thread or guard it.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace redflag {

struct PerformanceStats {
  std::uint64_t version = 0;
  Index feedback = 0;  // outcomes in the window
  Index true_positives = 0;
  Index false_positives = 0;
  Index true_negatives = 0;
  Index false_negatives = 0;
  std::optional<double> precision = {};  // none while nothing in the window was flagged
  std::optional<double> recall = {};     // none while the window holds no fraud
  double accuracy = 0.0;
};

struct PerformanceAlert {
  std::uint64_t version = 0;
  std::string metric;  // "accuracy", "precision" or "recall"
  double value = 0.0;
  double threshold = 0.0;
  Index feedback = 0;
  [[nodiscard]] std::string message() const {
    return "model version " + std::to_string(version) + ": " + metric + " " + detail::format_number(value) +
           " is below " + detail::format_number(threshold) + " over the last " + std::to_string(feedback) +
           " labelled outcomes";
  }
};

class PerformanceMonitor {
 public:
  struct Params {
    Index window = 1000;       // most recent outcomes kept per version, >= 1
    Index min_feedback = 100;  // no alert on fewer outcomes than this (noise), >= 1
    // Defaults from the reference AML system's monitoring thresholds.
    double min_accuracy = 0.8;
    double min_precision = 0.7;
    std::optional<double> min_recall = {};  // no recall alert unless set
  };

  PerformanceMonitor() : PerformanceMonitor(Params{}) {}
  explicit PerformanceMonitor(const Params& params) : params_(params) {
    const std::string where = "PerformanceMonitor::PerformanceMonitor";
    detail::require_parameter(params.window >= 1, where, "window", ">= 1", params.window);
    detail::require_parameter(params.min_feedback >= 1 && params.min_feedback <= params.window, where, "min_feedback",
                              "in [1, window]", params.min_feedback);
    const auto fraction = [&](double value, const char* name) {
      detail::require_parameter(value >= 0.0 && value <= 1.0, where, name, "in [0, 1]", value);
    };
    fraction(params.min_accuracy, "min_accuracy");
    fraction(params.min_precision, "min_precision");
    if (params.min_recall) fraction(*params.min_recall, "min_recall");
  }

  // One labelled outcome of a case scored by model `version`.
  void record(std::uint64_t version, bool flagged, bool fraud) {
    Window& window = windows_.try_emplace(version, params_.window).first->second;
    window.push(static_cast<std::uint8_t>((flagged ? 2 : 0) + (fraud ? 1 : 0)));
  }

  // A batch: predicted and actual are 0/1 labels of the same length. A
  // rejected batch records nothing.
  void record(std::uint64_t version, const LabelVector& predicted, const LabelVector& actual) {
    const std::string where = "PerformanceMonitor::record";
    detail::require_same_length(predicted.size(), actual.size(), where, "predicted", "actual");
    detail::require_binary_labels(predicted, where, "predicted");
    detail::require_binary_labels(actual, where, "actual");
    for (Index i = 0; i < predicted.size(); ++i) record(version, predicted(i) == 1, actual(i) == 1);
  }

  // Versions with feedback, ascending.
  [[nodiscard]] std::vector<std::uint64_t> versions() const {
    std::vector<std::uint64_t> found;
    for (const auto& [version, window] : windows_) found.push_back(version);
    return found;
  }

  // invalid_argument for a version without feedback.
  [[nodiscard]] PerformanceStats stats(std::uint64_t version) const {
    const auto found = windows_.find(version);
    if (found == windows_.end()) {
      detail::raise<invalid_argument>("PerformanceMonitor::stats",
                                      "no feedback recorded for model version " + std::to_string(version));
    }
    const auto& counts = found->second.counts;
    PerformanceStats stats;
    stats.version = version;
    stats.true_negatives = counts[0];
    stats.false_negatives = counts[1];
    stats.false_positives = counts[2];
    stats.true_positives = counts[3];
    stats.feedback = counts[0] + counts[1] + counts[2] + counts[3];
    const auto ratio = [](Index numerator, Index denominator) {
      return static_cast<double>(numerator) / static_cast<double>(denominator);
    };
    if (stats.true_positives + stats.false_positives > 0) {
      stats.precision = ratio(stats.true_positives, stats.true_positives + stats.false_positives);
    }
    if (stats.true_positives + stats.false_negatives > 0) {
      stats.recall = ratio(stats.true_positives, stats.true_positives + stats.false_negatives);
    }
    stats.accuracy = ratio(stats.true_positives + stats.true_negatives, stats.feedback);
    return stats;
  }

  // Metrics below their thresholds for one version (none before min_feedback outcomes).
  [[nodiscard]] std::vector<PerformanceAlert> alerts(std::uint64_t version) const {
    const PerformanceStats current = stats(version);
    std::vector<PerformanceAlert> raised;
    if (current.feedback < params_.min_feedback) return raised;
    const auto check = [&](const char* metric, std::optional<double> value, std::optional<double> threshold) {
      if (value && threshold && *value < *threshold) {
        raised.push_back({version, metric, *value, *threshold, current.feedback});
      }
    };
    check("accuracy", current.accuracy, params_.min_accuracy);
    check("precision", current.precision, params_.min_precision);
    check("recall", current.recall, params_.min_recall);
    return raised;
  }

  // Alerts of every version with feedback.
  [[nodiscard]] std::vector<PerformanceAlert> alerts() const {
    std::vector<PerformanceAlert> raised;
    for (const auto& [version, window] : windows_) {
      for (auto& alert : alerts(version)) raised.push_back(std::move(alert));
    }
    return raised;
  }

  // Forgets a version's feedback (e.g. once it is retired).
  void forget(std::uint64_t version) { windows_.erase(version); }

  [[nodiscard]] const Params& params() const { return params_; }

 private:
  // Ring of outcome codes (flagged * 2 + fraud) with a count per code.
  struct Window {
    explicit Window(Index capacity) : outcomes(static_cast<std::size_t>(capacity)) {}
    void push(std::uint8_t outcome) {
      if (size == outcomes.size()) {
        --counts[outcomes[next]];
      } else {
        ++size;
      }
      outcomes[next] = outcome;
      ++counts[outcome];
      next = (next + 1) % outcomes.size();
    }
    std::vector<std::uint8_t> outcomes;
    std::size_t next = 0;
    std::size_t size = 0;
    std::array<Index, 4> counts{};
  };

  Params params_;
  std::map<std::uint64_t, Window> windows_;
};

}  // namespace redflag
