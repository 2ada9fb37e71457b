#pragma once

// RetrainPolicy<Model>: retrain on a recent window of history, validate the
// candidate against the active model, promote it or keep the old one — and
// log every decision, including "not enough new data", in the registry.
//
// One run (run(now, trigger), or run_if_due(now) on a schedule):
//   1. asks the host's HistorySource for the rows of [now - window, now),
//      oldest first;
//   2. skips when fewer than min_new_rows of them are newer than the active
//      model's training window;
//   3. splits the rows by time: the newest validation_fraction is held out,
//      the rest trains the candidate;
//   4. validates the candidate on the held-out rows —
//      detectors: its anomaly rate must lie within expected * (1 +-
//        anomaly_rate_tolerance), widened by three binomial standard errors
//        of the held-out row count, where expected is expected_anomaly_rate
//        or, unset, the active model's rate on the same rows; and its score
//        distribution must be stable: PSI between the candidate's scores on
//        its training rows and on the held-out rows at most max_score_psi
//        (a window caught in the middle of a shift fails this, so the policy
//        waits until the new behaviour fills the window — comparing with the
//        active model instead would refuse every model after a real shift);
//      classifiers (0/1 labels): precision, recall and ROC AUC each at least
//        the active model's minus metric_tolerance;
//   5. registers the candidate with its metrics, then promotes it if it
//      passed, or marks it rejected with the reasons (the active model stays).
//
// Any Detector or Classifier that redflag can save works; the trainer
// defaults to Model(params).fit(X) or .fit(X, y).

#include <redflag/core/concepts.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/lifecycle/drift.hpp>
#include <redflag/lifecycle/model_registry.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace redflag {

// Rows the host returns for a time window, oldest first.
template <Scalar T>
struct HistoryBatch {
  Matrix<T> X;
  std::vector<std::int64_t> timestamps;  // Unix seconds, one per row, non-decreasing
  LabelVector y = {};                    // classifiers: a 0/1 label per row; detectors: empty
};

// Returns the rows whose timestamp lies in the window [begin, end).
template <Scalar T>
using HistorySource = std::function<HistoryBatch<T>(TimeWindow)>;

enum class RetrainTrigger : std::uint8_t { manual, schedule };
enum class RetrainDecision : std::uint8_t { skipped, rejected, promoted };

constexpr std::string_view to_string(RetrainDecision decision) {
  switch (decision) {
    case RetrainDecision::skipped: return "skipped";
    case RetrainDecision::rejected: return "rejected";
    case RetrainDecision::promoted: return "promoted";
  }
  return "unknown";
}

struct RetrainOutcome {
  RetrainDecision decision = RetrainDecision::skipped;
  std::string reason;
  std::uint64_t version = 0;  // the candidate registered; 0 when skipped
  std::map<std::string, double> metrics = {};
};

struct RetrainParams {
  Index min_new_rows = 1000;                // skip with fewer new rows than this, >= 0
  std::int64_t window_seconds = 7 * 86400;  // train on the last 7 days
  std::int64_t interval_seconds = 86400;    // run_if_due: at most once a day
  double validation_fraction = 0.2;         // newest share of the window held out, in (0, 0.5]
  // Detectors. The band is wide on purpose: a contamination-thresholded
  // detector on stable data lands well inside it, a degenerate one does not.
  std::optional<double> expected_anomaly_rate = {};  // unset: the active model's rate
  double anomaly_rate_tolerance = 0.5;               // relative, in (0, 1]
  double max_score_psi = 0.25;                       // "major shift" on the usual PSI scale
  // Classifiers: how much worse than the active model a candidate may be.
  double metric_tolerance = 0.02;
  // Recorded in every candidate's manifest (the host's description of the training parameters).
  std::map<std::string, std::string> model_params = {};
};

template <class Model>
  requires SerializableModel<Model> &&(Detector<Model> || Classifier<Model>)class RetrainPolicy {
   public:
    using scalar_type = typename Model::scalar_type;
    using Trainer = std::function<Model(const HistoryBatch<scalar_type>&)>;

    RetrainPolicy(ModelRegistry& registry, HistorySource<scalar_type> history, Trainer trainer,
                  const RetrainParams& params = {})
        : registry_(registry), history_(std::move(history)), trainer_(std::move(trainer)), params_(params) {
      const std::string where = "RetrainPolicy::RetrainPolicy";
      if (!history_) detail::raise<invalid_argument>(where, "history is empty (pass a function returning rows)");
      if (!trainer_) detail::raise<invalid_argument>(where, "trainer is empty");
      detail::require_parameter(params.min_new_rows >= 0, where, "min_new_rows", ">= 0", params.min_new_rows);
      detail::require_parameter(params.window_seconds > 0, where, "window_seconds", "> 0", params.window_seconds);
      detail::require_parameter(params.interval_seconds > 0, where, "interval_seconds", "> 0", params.interval_seconds);
      detail::require_parameter(params.validation_fraction > 0 && params.validation_fraction <= 0.5, where,
                                "validation_fraction", "in (0, 0.5]", params.validation_fraction);
      if (params.expected_anomaly_rate) {
        detail::require_parameter(*params.expected_anomaly_rate > 0 && *params.expected_anomaly_rate < 1, where,
                                  "expected_anomaly_rate", "in (0, 1)", *params.expected_anomaly_rate);
      }
      detail::require_parameter(params.anomaly_rate_tolerance > 0 && params.anomaly_rate_tolerance <= 1, where,
                                "anomaly_rate_tolerance", "in (0, 1]", params.anomaly_rate_tolerance);
      detail::require_parameter(params.max_score_psi > 0, where, "max_score_psi", "> 0", params.max_score_psi);
      detail::require_parameter(params.metric_tolerance >= 0 && params.metric_tolerance < 1, where, "metric_tolerance",
                                "in [0, 1)", params.metric_tolerance);
    }

    // Trains Model(model_params) on each window.
    RetrainPolicy(ModelRegistry& registry, HistorySource<scalar_type> history, typename Model::Params model_params,
                  const RetrainParams& params = {}) requires requires(const typename Model::Params& p) {
      Model(p);
    } : RetrainPolicy(registry, std::move(history), default_trainer(std::move(model_params)), params) {
    }

    // True when no retraining was attempted in the last interval_seconds
    // (from the registry's log, so it holds across restarts).
    [[nodiscard]] bool due(std::int64_t now) const {
      const auto last = last_attempt();
      return !last || now - *last >= params_.interval_seconds;
    }

    // Runs when due; nullopt otherwise.
    std::optional<RetrainOutcome> run_if_due(std::int64_t now) {
      if (!due(now)) return std::nullopt;
      return run(now, RetrainTrigger::schedule);
    }

    // One retraining attempt at time `now` (Unix seconds); see the header comment.
    RetrainOutcome run(std::int64_t now, RetrainTrigger trigger = RetrainTrigger::manual) {
      const std::string where = "RetrainPolicy::run";
      const std::string cause = trigger == RetrainTrigger::manual ? "manual" : "scheduled";
      const TimeWindow window{now - params_.window_seconds, now};
      const auto batch = history_(window);
      check_batch(batch, window, where);

      const auto active = registry_.active();
      const std::int64_t trained_until =
          active ? active->training_window.end : std::numeric_limits<std::int64_t>::min();
      const auto first_new = std::lower_bound(batch.timestamps.begin(), batch.timestamps.end(), trained_until);
      const auto new_rows = static_cast<Index>(batch.timestamps.end() - first_new);
      const auto rows = static_cast<Index>(batch.timestamps.size());
      const double held_out_share = params_.validation_fraction * static_cast<double>(rows);
      const auto held_out = std::max<Index>(1, static_cast<Index>(std::llround(held_out_share)));
      if (new_rows < params_.min_new_rows || rows - held_out < 2) {
        RetrainOutcome outcome;
        outcome.reason = cause + " retraining skipped: " + std::to_string(new_rows) +
                         " new rows since the active model's training window (minimum " +
                         std::to_string(params_.min_new_rows) + "), " + std::to_string(rows) + " rows in the window";
        outcome.metrics = {{"new_rows", static_cast<double>(new_rows)}, {"window_rows", static_cast<double>(rows)}};
        if (new_rows >= params_.min_new_rows) outcome.reason += " (too few to hold out validation rows)";
        registry_.record_decision("retrain_skipped", 0, outcome.reason, outcome.metrics, now);
        return outcome;
      }

      const Index trained = rows - held_out;
      HistoryBatch<scalar_type> train{batch.X.topRows(trained),
                                      {batch.timestamps.begin(), batch.timestamps.begin() + trained},
                                      batch.y.size() == 0 ? LabelVector() : LabelVector(batch.y.head(trained))};
      const Matrix<scalar_type> validation = batch.X.bottomRows(held_out);
      const Model candidate = trainer_(train);
      std::optional<Model> current;
      if (active) current = registry_.load<Model>(active->version);

      std::vector<std::string> failures;
      std::map<std::string, double> metrics{{"new_rows", static_cast<double>(new_rows)},
                                            {"validation_rows", static_cast<double>(held_out)}};
      if constexpr (Classifier<Model>) {
        validate_classifier(candidate, current, validation, batch.y.tail(held_out), metrics, failures);
      } else {
        validate_detector(candidate, current, train.X, validation, metrics, failures);
      }

      const bool passed = failures.empty();
      std::string reason = cause + " retraining on " + std::to_string(trained) + " rows: ";
      if (passed) {
        reason += "passed validation";
      } else {
        reason += "failed validation: ";
        for (std::size_t i = 0; i < failures.size(); ++i) reason += (i ? "; " : "") + failures[i];
      }
      ModelRecord record{params_.model_params, window, trained, metrics, now, reason};
      const std::uint64_t version = registry_.register_model(candidate, record);
      if (passed) {
        registry_.promote(version, reason);
      } else {
        registry_.reject(version, reason);
      }
      registry_.record_decision(passed ? "retrain_promoted" : "retrain_rejected", version, reason, metrics, now);
      return {passed ? RetrainDecision::promoted : RetrainDecision::rejected, reason, version, metrics};
    }

    [[nodiscard]] const RetrainParams& params() const { return params_; }

   private:
    static Trainer default_trainer(typename Model::Params model_params) {
      return [model_params = std::move(model_params)](const HistoryBatch<scalar_type>& batch) {
        Model model(model_params);
        if constexpr (Classifier<Model>) {
          model.fit(batch.X, batch.y);
        } else {
          model.fit(batch.X);
        }
        return model;
      };
    }

    [[nodiscard]] std::optional<std::int64_t> last_attempt() const {
      std::optional<std::int64_t> last;
      for (const auto& record : registry_.decisions()) {
        if (record.action.starts_with("retrain_")) last = std::max(last.value_or(record.time), record.time);
      }
      return last;
    }

    static void check_batch(const HistoryBatch<scalar_type>& batch, const TimeWindow& window, std::string_view where) {
      const auto rows = static_cast<Index>(batch.timestamps.size());
      detail::require_same_length(batch.X.rows(), rows, where, "history X", "history timestamps");
      if (Classifier<Model> || batch.y.size() != 0) {
        detail::require_same_length(batch.y.size(), rows, where, "history y", "history timestamps");
        detail::require_binary_labels(batch.y, where, "history y");
      }
      for (Index i = 0; i < rows; ++i) {
        const std::int64_t time = batch.timestamps[static_cast<std::size_t>(i)];
        const bool ordered = i == 0 || time >= batch.timestamps[static_cast<std::size_t>(i - 1)];
        if (time < window.begin || time >= window.end || !ordered) {
          detail::raise<data_error>(where, "history row " + std::to_string(i) + " has timestamp " +
                                               std::to_string(time) +
                                               "; rows must be oldest first and inside the requested window [" +
                                               std::to_string(window.begin) + ", " + std::to_string(window.end) + ")");
        }
      }
    }

    static double flagged_share(const LabelVector& flags) {
      return static_cast<double>(flags.sum()) / static_cast<double>(flags.size());
    }

    void validate_detector(const Model& candidate, const std::optional<Model>& current,
                           const Matrix<scalar_type>& train, const Matrix<scalar_type>& validation,
                           std::map<std::string, double>& metrics, std::vector<std::string>& failures) const {
      const double rate = flagged_share(candidate.predict(validation));
      metrics["anomaly_rate"] = rate;
      std::optional<double> expected = params_.expected_anomaly_rate;
      if (current) {
        metrics["active_anomaly_rate"] = flagged_share(current->predict(validation));
        if (!expected) expected = metrics["active_anomaly_rate"];
      }
      if (expected) {
        metrics["expected_anomaly_rate"] = *expected;
        // Widened by three binomial standard errors, so a small validation
        // set does not reject a sound model by chance.
        const double noise = 3.0 * std::sqrt(*expected * (1 - *expected) / static_cast<double>(validation.rows()));
        const double low = std::max(0.0, *expected * (1 - params_.anomaly_rate_tolerance) - noise);
        const double high = *expected * (1 + params_.anomaly_rate_tolerance) + noise;
        if (rate < low || rate > high) {
          failures.push_back("anomaly rate " + detail::format_number(rate) + " outside [" + detail::format_number(low) +
                             ", " + detail::format_number(high) + "]");
        }
      }
      const Vector<scalar_type> scores = candidate.anomaly_score(validation);
      const Vector<scalar_type> reference = candidate.anomaly_score(train);
      // Only PSI is needed here, so the fine bins are the PSI bins.
      DriftMonitor monitor(DriftReference::fit_scores(reference, {.psi_bins = 10, .ks_bins = 10}),
                           {.block_rows = scores.size(), .window_blocks = 1});
      monitor.observe_scores(scores);
      const double psi = monitor.report().features[0].psi;
      metrics["score_psi"] = psi;
      if (psi > params_.max_score_psi) {
        failures.push_back("score distribution PSI " + detail::format_number(psi) + " above " +
                           detail::format_number(params_.max_score_psi) + " between training and held-out rows");
      }
    }

    // Precision, recall and AUC of a model on labelled rows (positive class 1).
    static std::map<std::string, double> classifier_metrics(const Model& model, const Matrix<scalar_type>& X,
                                                            const LabelVector& y) {
      const ConfusionMatrix counts = confusion_matrix(y, model.predict(X));
      const LabelVector& classes = model.classes();
      Index positive = -1;
      for (Index c = 0; c < classes.size(); ++c) {
        if (classes(c) == 1) positive = c;
      }
      // A model that never saw class 1 ranks nothing: AUC of a constant score.
      Vector<double> scores = Vector<double>::Zero(X.rows());
      if (positive >= 0) scores = model.predict_proba(X).col(positive).template cast<double>();
      return {
          {"precision", precision_score(counts)}, {"recall", recall_score(counts)}, {"auc", roc_auc_score(y, scores)}};
    }

    void validate_classifier(const Model& candidate, const std::optional<Model>& current,
                             const Matrix<scalar_type>& validation, const LabelVector& y,
                             std::map<std::string, double>& metrics, std::vector<std::string>& failures) const {
      const Index positives = y.sum();
      if (positives == 0 || positives == y.size()) {
        failures.push_back("the " + std::to_string(y.size()) + " held-out rows hold only class " +
                           std::to_string(positives == 0 ? 0 : 1) + "; precision, recall and AUC need both");
        return;
      }
      const auto mine = classifier_metrics(candidate, validation, y);
      for (const auto& [name, value] : mine) metrics[name] = value;
      if (!current) return;
      const auto theirs = classifier_metrics(*current, validation, y);
      for (const auto& [name, value] : theirs) {
        metrics["active_" + name] = value;
        if (mine.at(name) < value - params_.metric_tolerance) {
          failures.push_back(name + " " + detail::format_number(mine.at(name)) + " below the active model's " +
                             detail::format_number(value) + " by more than " +
                             detail::format_number(params_.metric_tolerance));
        }
      }
    }

    ModelRegistry& registry_;
    HistorySource<scalar_type> history_;
    Trainer trainer_;
    RetrainParams params_;
  };

}  // namespace redflag
