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
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace transactions_example {

using Forest = redflag::IsolationForest<double>;

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

// One retraining as the summary reports it.
struct ModelEvent {
  std::int64_t day_start = 0;       // Unix seconds: the retraining's "now"
  std::size_t started_at = 0;       // transactions processed when it started
  std::size_t swapped_at = 0;       // ... when its outcome was applied
  redflag::RetrainOutcome outcome;  // promoted, rejected or skipped, with the reason
};

class Monitor {
 public:
  // `engine`'s rules read make_transaction_rule_features()'s columns.
  Monitor(const std::filesystem::path& registry_directory, redflag::RulesEngine engine, MonitorParams params = {})
      : engine_(checked(std::move(engine))),
        decider_(params.risk),
        registry_(registry_directory),
        policy_(
            registry_, [this](redflag::TimeWindow window) { return training_rows(window); },
            [forest = params.forest, schema = features_.schema()](const redflag::HistoryBatch<double>& batch) {
              Forest model(forest);
              model.fit(batch.X, schema);  // named columns, for the explanations
              return model;
            },
            params.retrain),
        params_(std::move(params)) {}

  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;
  ~Monitor() {
    if (pending_.valid()) pending_.wait();  // never leave the training thread running
  }

  // Scores one transaction and learns it. A transaction redflag rejects
  // (unknown currency, amount <= 0, ...) throws redflag::data_error and
  // changes nothing.
  Verdict process(const redflag::Transaction& txn) {
    const redflag::EntityEvent event = redflag::to_entity_event(txn);
    std::array<double, 10> row{};
    std::array<double, redflag::TransactionRuleFeatures::width> rule_row{};
    store_.observe(event, [&](const redflag::EntityState& before) {
      const redflag::TransactionContext context{txn, event, before};
      features_.write_row(context, std::span<double>(row));
      rule_columns_.write_row(context, std::span<double>(rule_row));
    });
    engine_.evaluate(std::span<const double>(rule_row), hits_);
    // Accepted: now the stream's clock may move on (swap, start a retraining).
    const std::int64_t day = floor_div(txn.timestamp_ms, 86'400'000);
    if (!first_day_) first_day_ = day;
    if (pending_.valid() && processed_ == swap_at_) apply_pending();
    if (day > last_day_ && day - *first_day_ >= params_.warm_up_days) {
      if (pending_.valid()) apply_pending();  // a retraining still open at the next day boundary
      start_retraining(day * 86'400);
    }
    last_day_ = std::max(last_day_, day);

    const auto model = handle_.snapshot();  // the model this transaction is scored with
    std::optional<double> score;
    if (model) score = model->model.score_one(std::span<const double>(row));
    const redflag::RiskDecision decision = decider_.decide(score, hits_, engine_);

    Verdict verdict;
    verdict.transaction_id = txn.id;
    verdict.risk_score = decision.risk_score;
    verdict.level = decision.level;
    verdict.recommendation = decision.recommendation;
    for (const std::string_view code : decision.reasons()) verdict.reason_codes.emplace_back(code);
    verdict.model_score = score;
    verdict.model_version = model ? model->version : 0;
    if (model && decision.recommendation != redflag::Recommendation::approve) {
      // Feature contributions (TreeSHAP) only where someone will read them.
      const Eigen::Map<const redflag::Matrix<double>> X(row.data(), 1, static_cast<redflag::Index>(row.size()));
      const auto explanation = model->model.explain(X);
      std::vector<redflag::FeatureContribution> contributions;
      for (redflag::Index j = 0; j < explanation.contributions.cols(); ++j) {
        contributions.push_back({explanation.feature_names[static_cast<std::size_t>(j)],
                                 row[static_cast<std::size_t>(j)], explanation.contributions(0, j)});
      }
      verdict.explanation = decider_.explain(decision, hits_, engine_, contributions, features_.phrasebook());
    } else {
      verdict.explanation = decider_.explain(decision, hits_, engine_);
    }

    // Blocked transactions stay out of the training rows: what the window
    // holds is "normal" to the next model.
    if (decision.recommendation != redflag::Recommendation::block) {
      history_.push_back({floor_div(txn.timestamp_ms, 1000), row});
    }
    ++processed_;
    return verdict;
  }

  // Waits for a retraining still running and applies its outcome.
  void finish() {
    if (pending_.valid()) apply_pending();
  }

  [[nodiscard]] const std::vector<ModelEvent>& model_events() const { return events_; }
  [[nodiscard]] std::uint64_t model_version() const { return handle_.version(); }
  [[nodiscard]] std::size_t processed() const { return processed_; }
  // Time the scoring thread spent waiting for retrainings at their swap points.
  [[nodiscard]] double waited_seconds() const { return waited_seconds_; }
  [[nodiscard]] const redflag::EntityStore& store() const { return store_; }
  [[nodiscard]] const MonitorParams& params() const { return params_; }
  [[nodiscard]] const redflag::RulesEngine& rules() const { return engine_; }

 private:
  struct Row {
    std::int64_t time = 0;  // Unix seconds
    std::array<double, 10> values{};
  };

  redflag::RulesEngine checked(redflag::RulesEngine engine) const {
    rule_columns_.schema().require_same(engine.schema(), "Monitor: the rules' columns");
    return engine;
  }

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

  void apply_pending() {
    const auto start = std::chrono::steady_clock::now();
    const std::optional<redflag::RetrainOutcome> outcome = pending_.get();
    waited_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ModelEvent& event = events_.back();
    event.swapped_at = processed_;
    if (!outcome) {
      event.outcome.reason = "not due";
      return;
    }
    event.outcome = *outcome;
    if (outcome->decision == redflag::RetrainDecision::promoted) {
      auto active = registry_.load_active<Forest>();
      redflag::RiskPolicy policy = params_.risk;
      policy.medium_from = std::min(active.model.threshold(), policy.high_from);
      decider_ = redflag::RiskDecider(policy);
      handle_.publish(std::move(active.model), active.version);
    }
  }

  // The policy's HistorySource: rows of [begin, end), oldest first.
  redflag::HistoryBatch<double> training_rows(redflag::TimeWindow window) const {
    std::vector<const Row*> rows;
    for (const Row& r : frozen_) {
      if (r.time >= window.begin && r.time < window.end) rows.push_back(&r);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) { return a->time < b->time; });
    redflag::HistoryBatch<double> batch;
    batch.X.resize(static_cast<redflag::Index>(rows.size()), 10);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto r = static_cast<redflag::Index>(i);
      for (std::size_t j = 0; j < 10; ++j) batch.X(r, static_cast<redflag::Index>(j)) = rows[i]->values[j];
      batch.timestamps.push_back(rows[i]->time);
    }
    return batch;
  }

  redflag::EntityStore store_;
  redflag::TransactionFeatures features_ = redflag::make_transaction_features();
  redflag::TransactionRuleFeatures rule_columns_ = redflag::make_transaction_rule_features();
  redflag::RulesEngine engine_;
  redflag::RiskDecider decider_;
  redflag::RuleHits hits_;
  redflag::ModelHandle<Forest> handle_;
  redflag::ModelRegistry registry_;
  redflag::RetrainPolicy<Forest> policy_;
  MonitorParams params_;

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

}  // namespace transactions_example
