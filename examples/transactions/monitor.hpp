#pragma once

// The monitoring pipeline, one transaction at a time:
//
//   transaction -> to_entity_event -> EntityStore::observe (the user's state before it)
//               -> the ten transaction features -> IsolationForest::score_one
//               -> the rule columns -> RulesEngine::evaluate -> RiskDecider::decide -> verdict
//
// Models. Until the stream has covered `warm_up_days` days there is no model
// and verdicts come from the rules alone. From then on, at the first
// transaction of each new (UTC, event-time) day, a RetrainPolicy run is
// started on a background thread over the feature rows of the last
// `window_seconds`: it trains an IsolationForest, validates it on the newest
// rows and promotes or rejects it in a ModelRegistry. Scoring goes on with
// the current model meanwhile. The new model is swapped into the ModelHandle
// exactly `swap_after` transactions after the retraining started (the
// pipeline waits for it there if it has not finished), so the verdicts do
// not depend on how fast the training thread happens to be.
//
// The pipeline is three parts, so that the partitioned workers (worker.hpp)
// and the trainer (trainer.hpp) run the same code as the single process:
//
//   TransactionObserver  per user: the user's state before the transaction
//                        gives its feature row and rule columns (an
//                        Observation), then learns the transaction;
//   ModelSchedule        global, in input order: the retraining schedule, the
//                        training rows, the model in force and the decider
//                        its threshold sets;
//   Scorer               one Observation, the model in force and the decider
//                        to a Verdict.
//
// Monitor chains them for one process.

#include "transaction_json.hpp"

#include <redflag/forest/isolation_forest.hpp>
#include <redflag/lifecycle/model_handle.hpp>
#include <redflag/lifecycle/model_registry.hpp>
#include <redflag/lifecycle/retrain_policy.hpp>
#include <redflag/risk/risk_decision.hpp>
#include <redflag/rules/rules_engine.hpp>
#include <redflag/stream/entity_store.hpp>
#include <redflag/transactions/transaction_features.hpp>
#include <redflag/transactions/transaction_rules.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace transactions_example {

using Forest = redflag::IsolationForest<double>;
using ModelInForce = std::shared_ptr<const redflag::ModelSnapshot<Forest>>;  // nullptr: rules only

constexpr std::size_t feature_count = 10;
using FeatureRow = std::array<double, feature_count>;
using RuleRow = std::array<double, redflag::TransactionRuleFeatures::width>;

struct MonitorParams {
  std::int64_t warm_up_days = 3;  // rules only until the stream has covered this many days
  std::size_t swap_after = 200;   // transactions between starting a retraining and swapping its model in
  Forest::Params forest{.n_estimators = 100, .contamination = 0.02, .random_state = 7};
  redflag::RetrainParams retrain{
      .min_new_rows = 300,
      .window_seconds = 7 * 86400,
      .interval_seconds = 86400,
      .expected_anomaly_rate = 0.02,
      .model_params = {{"model", "IsolationForest"}, {"n_estimators", "100"}, {"contamination", "0.02"}}};
  // The model's anomaly score enters the risk score at full weight; a score
  // at or above the active model's threshold (the top `contamination` of its
  // training rows) is at least MEDIUM, so the model alone raises as many
  // alerts as it was fitted to expect. HIGH and CRITICAL take a high score
  // together with a rule.
  redflag::RiskPolicy risk{.model_weight = 1.0, .medium_from = 0.3, .high_from = 0.7, .critical_from = 0.85};
};

// The decider a model is scored with: the policy's, with MEDIUM from the
// model's threshold.
inline redflag::RiskDecider decider_for(const MonitorParams& params, const ModelInForce& model) {
  redflag::RiskPolicy policy = params.risk;
  if (model) policy.medium_from = std::min(model->model.threshold(), policy.high_from);
  return redflag::RiskDecider(policy);
}

// One retraining as the summary reports it.
struct ModelEvent {
  std::int64_t day_start = 0;       // Unix seconds: the retraining's "now"
  std::size_t started_at = 0;       // transactions processed when it started
  std::size_t swapped_at = 0;       // ... when its outcome was applied
  redflag::RetrainOutcome outcome;  // promoted, rejected or skipped, with the reason
};

// What a transaction's user state gives it: all the rest of the pipeline
// needs besides the transaction's id.
struct Observation {
  std::int64_t timestamp_ms = 0;  // event time
  FeatureRow row{};               // the ten features, the model's input
  RuleRow rule_row{};             // the rules' columns

  friend bool operator==(const Observation&, const Observation&) = default;
};

// The per-user part: writes a transaction's Observation from its user's
// state before it, and applies the transaction to that state.
class TransactionObserver {
 public:
  // Throws redflag::data_error for a transaction redflag refuses (unknown
  // currency, amount <= 0, ...); the store is then unchanged.
  Observation observe(redflag::EntityStore& store, const redflag::Transaction& txn) {
    const redflag::EntityEvent event = redflag::to_entity_event(txn);
    Observation out;
    out.timestamp_ms = txn.timestamp_ms;
    store.observe(event, [&](const redflag::EntityState& before) {
      const redflag::TransactionContext context{txn, event, before};
      features_.write_row(context, std::span<double>(out.row));
      rule_columns_.write_row(context, std::span<double>(out.rule_row));
    });
    return out;
  }

  [[nodiscard]] const redflag::TransactionFeatures& features() const { return features_; }
  [[nodiscard]] const redflag::TransactionRuleFeatures& rule_columns() const { return rule_columns_; }

 private:
  redflag::TransactionFeatures features_ = redflag::make_transaction_features();
  redflag::TransactionRuleFeatures rule_columns_ = redflag::make_transaction_rule_features();
};

// Scores Observations: rules, model, decision, verdict.
class Scorer {
 public:
  // `engine`'s rules read make_transaction_rule_features()'s columns.
  explicit Scorer(redflag::RulesEngine engine) : engine_(checked(std::move(engine))) {}

  // The decision for `observation` with `model` (nullptr: rules only) and
  // `decider`; the rule hits stay in hits() for verdict().
  redflag::RiskDecision decide(const Observation& observation, const ModelInForce& model,
                               const redflag::RiskDecider& decider) {
    engine_.evaluate(std::span<const double>(observation.rule_row), hits_);
    score_.reset();
    if (model) score_ = model->model.score_one(std::span<const double>(observation.row));
    return decider.decide(score_, hits_, engine_);
  }

  // The verdict of the last decide(): its reasons, and the features'
  // contributions (TreeSHAP) where someone will read them.
  Verdict verdict(const std::string& transaction_id, const Observation& observation, const ModelInForce& model,
                  const redflag::RiskDecider& decider, const redflag::RiskDecision& decision) const {
    Verdict verdict;
    verdict.transaction_id = transaction_id;
    verdict.risk_score = decision.risk_score;
    verdict.level = decision.level;
    verdict.recommendation = decision.recommendation;
    for (const std::string_view code : decision.reasons()) verdict.reason_codes.emplace_back(code);
    verdict.model_score = score_;
    verdict.model_version = model ? model->version : 0;
    if (model && decision.recommendation != redflag::Recommendation::approve) {
      const FeatureRow& row = observation.row;
      const Eigen::Map<const redflag::Matrix<double>> X(row.data(), 1, static_cast<redflag::Index>(row.size()));
      const auto explanation = model->model.explain(X);
      std::vector<redflag::FeatureContribution> contributions;
      for (redflag::Index j = 0; j < explanation.contributions.cols(); ++j) {
        contributions.push_back({explanation.feature_names[static_cast<std::size_t>(j)],
                                 row[static_cast<std::size_t>(j)], explanation.contributions(0, j)});
      }
      verdict.explanation = decider.explain(decision, hits_, engine_, contributions, phrasebook_.phrasebook());
    } else {
      verdict.explanation = decider.explain(decision, hits_, engine_);
    }
    return verdict;
  }

  [[nodiscard]] const redflag::RulesEngine& rules() const { return engine_; }

 private:
  static redflag::RulesEngine checked(redflag::RulesEngine engine) {
    redflag::make_transaction_rule_features().schema().require_same(engine.schema(), "Monitor: the rules' columns");
    return engine;
  }

  redflag::RulesEngine engine_;
  redflag::RuleHits hits_;
  std::optional<double> score_;
  redflag::TransactionFeatures phrasebook_ = redflag::make_transaction_features();
};

// The global part, fed every accepted transaction in input order: when to
// retrain, on which rows, and which model (and decider) is in force.
//
//   schedule.advance(observation.timestamp_ms);         // may swap a model in, start a retraining
//   ... decide with schedule.model() and schedule.decider() ...
//   schedule.record(observation, blocked);              // the row joins the training window
class ModelSchedule {
 public:
  ModelSchedule(const std::filesystem::path& registry_directory, MonitorParams params)
      : registry_(registry_directory),
        policy_(
            registry_, [this](redflag::TimeWindow window) { return training_rows(window); },
            [forest = params.forest,
             schema = redflag::make_transaction_features().schema()](const redflag::HistoryBatch<double>& batch) {
              Forest model(forest);
              model.fit(batch.X, schema);  // named columns, for the explanations
              return model;
            },
            params.retrain),
        params_(std::move(params)),
        decider_(params_.risk) {}

  ModelSchedule(const ModelSchedule&) = delete;
  ModelSchedule& operator=(const ModelSchedule&) = delete;
  ~ModelSchedule() {
    if (pending_.valid()) pending_.wait();  // never leave the training thread running
  }

  // The clock moves to the accepted transaction at `timestamp_ms`, before
  // it is scored: a retraining due at this point is swapped in (waiting for
  // it if need be), a retraining due to start starts. Returns the version
  // promoted here, if one was.
  std::optional<std::uint64_t> advance(std::int64_t timestamp_ms) {
    std::optional<std::uint64_t> promoted;
    const std::int64_t day = floor_div(timestamp_ms, 86'400'000);
    if (!first_day_) first_day_ = day;
    if (pending_.valid() && processed_ == swap_at_) promoted = apply_pending();
    if (day > last_day_ && day - *first_day_ >= params_.warm_up_days) {
      if (pending_.valid()) promoted = apply_pending();  // a retraining still open at the next day boundary
      start_retraining(day * 86'400);
    }
    last_day_ = std::max(last_day_, day);
    return promoted;
  }

  // Whether advance(timestamp_ms) would swap a retraining's outcome in (and
  // so may wait for it to finish).
  [[nodiscard]] bool swap_due(std::int64_t timestamp_ms) const {
    if (!pending_.valid()) return false;
    const std::int64_t day = floor_div(timestamp_ms, 86'400'000);
    return processed_ == swap_at_ || (day > last_day_ && first_day_ && day - *first_day_ >= params_.warm_up_days);
  }

  // The model the transaction just advanced to is scored with (nullptr:
  // rules only), and its decider.
  [[nodiscard]] ModelInForce model() const { return handle_.snapshot(); }
  [[nodiscard]] const redflag::RiskDecider& decider() const { return decider_; }

  // After the decision: the transaction's row joins the training rows
  // unless it was blocked (what the window holds is "normal" to the next
  // model).
  void record(const Observation& observation, bool blocked) {
    if (!blocked) history_.push_back({floor_div(observation.timestamp_ms, 1000), observation.row});
    ++processed_;
  }

  // Waits for a retraining still running and applies its outcome.
  void finish() {
    if (pending_.valid()) apply_pending();
  }

  [[nodiscard]] const std::vector<ModelEvent>& model_events() const { return events_; }
  [[nodiscard]] std::uint64_t model_version() const { return handle_.version(); }
  [[nodiscard]] std::size_t processed() const { return processed_; }
  [[nodiscard]] double waited_seconds() const { return waited_seconds_; }
  [[nodiscard]] const MonitorParams& params() const { return params_; }

 private:
  struct Row {
    std::int64_t time = 0;  // Unix seconds
    FeatureRow values{};
  };

  static std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

  void start_retraining(std::int64_t now) {
    // The training thread reads only `frozen_`, which the scoring thread
    // does not touch until it has joined.
    const std::int64_t oldest = now - params_.retrain.window_seconds;
    std::erase_if(history_, [&](const Row& r) { return r.time < oldest; });
    frozen_ = history_;
    ModelEvent event;
    event.day_start = now;
    event.started_at = processed_;
    events_.push_back(event);
    swap_at_ = processed_ + params_.swap_after;
    pending_ = std::async(std::launch::async, [this, now] { return policy_.run_if_due(now); });
  }

  std::optional<std::uint64_t> apply_pending() {
    const auto start = std::chrono::steady_clock::now();
    const std::optional<redflag::RetrainOutcome> outcome = pending_.get();
    waited_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ModelEvent& event = events_.back();
    event.swapped_at = processed_;
    if (!outcome) {
      event.outcome.reason = "not due";
      return std::nullopt;
    }
    event.outcome = *outcome;
    if (outcome->decision != redflag::RetrainDecision::promoted) return std::nullopt;
    auto active = registry_.load_active<Forest>();
    handle_.publish(std::move(active.model), active.version);
    decider_ = decider_for(params_, handle_.snapshot());
    return active.version;
  }

  // The policy's HistorySource: rows of [begin, end), oldest first.
  redflag::HistoryBatch<double> training_rows(redflag::TimeWindow window) const {
    std::vector<const Row*> rows;
    for (const Row& r : frozen_) {
      if (r.time >= window.begin && r.time < window.end) rows.push_back(&r);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) { return a->time < b->time; });
    redflag::HistoryBatch<double> batch;
    batch.X.resize(static_cast<redflag::Index>(rows.size()), feature_count);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto r = static_cast<redflag::Index>(i);
      for (std::size_t j = 0; j < feature_count; ++j) batch.X(r, static_cast<redflag::Index>(j)) = rows[i]->values[j];
      batch.timestamps.push_back(rows[i]->time);
    }
    return batch;
  }

  redflag::ModelHandle<Forest> handle_;
  redflag::ModelRegistry registry_;
  redflag::RetrainPolicy<Forest> policy_;
  MonitorParams params_;
  redflag::RiskDecider decider_;

  std::vector<Row> history_;  // feature rows of the retraining window
  std::vector<Row> frozen_;   // what the running retraining reads
  std::future<std::optional<redflag::RetrainOutcome>> pending_;
  std::vector<ModelEvent> events_;
  std::size_t processed_ = 0;
  std::size_t swap_at_ = 0;
  double waited_seconds_ = 0.0;
  std::optional<std::int64_t> first_day_;
  std::int64_t last_day_ = std::numeric_limits<std::int64_t>::min();
};

// The whole pipeline in one process.
class Monitor {
 public:
  // `engine`'s rules read make_transaction_rule_features()'s columns.
  Monitor(const std::filesystem::path& registry_directory, redflag::RulesEngine engine, MonitorParams params = {})
      : scorer_(std::move(engine)), schedule_(registry_directory, std::move(params)) {}

  // Scores one transaction and learns it. A transaction redflag rejects
  // (unknown currency, amount <= 0, ...) throws redflag::data_error and
  // changes nothing.
  Verdict process(const redflag::Transaction& txn) {
    const Observation observation = observer_.observe(store_, txn);
    // Accepted: now the stream's clock may move on (swap, start a retraining).
    schedule_.advance(observation.timestamp_ms);
    const ModelInForce model = schedule_.model();  // the model this transaction is scored with
    const redflag::RiskDecision decision = scorer_.decide(observation, model, schedule_.decider());
    Verdict verdict = scorer_.verdict(txn.id, observation, model, schedule_.decider(), decision);
    schedule_.record(observation, decision.recommendation == redflag::Recommendation::block);
    return verdict;
  }

  // Waits for a retraining still running and applies its outcome.
  void finish() { schedule_.finish(); }

  [[nodiscard]] const std::vector<ModelEvent>& model_events() const { return schedule_.model_events(); }
  [[nodiscard]] std::uint64_t model_version() const { return schedule_.model_version(); }
  [[nodiscard]] std::size_t processed() const { return schedule_.processed(); }
  // Time the scoring thread spent waiting for retrainings at their swap points.
  [[nodiscard]] double waited_seconds() const { return schedule_.waited_seconds(); }
  [[nodiscard]] const redflag::EntityStore& store() const { return store_; }
  [[nodiscard]] const MonitorParams& params() const { return schedule_.params(); }
  [[nodiscard]] const redflag::RulesEngine& rules() const { return scorer_.rules(); }

 private:
  redflag::EntityStore store_;
  TransactionObserver observer_;
  Scorer scorer_;
  ModelSchedule schedule_;
};

}  // namespace transactions_example
