#include <redflag/lifecycle/retrain_policy.hpp>

#include "lifecycle_test_support.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

using redflag::HistoryBatch;
using redflag::IsolationForest;
using redflag::ModelRegistry;
using redflag::ModelStatus;
using redflag::RandomForest;
using redflag::RetrainDecision;
using redflag::RetrainPolicy;
using redflag::TimeWindow;

namespace {

constexpr std::int64_t day = 86400;
constexpr std::int64_t start = 1767225600;  // 2026-01-01

// One row every 5 minutes, each drawn from its own stream so any window
// returns the same row for the same time; columns shift by `shift` from
// `shift_from` on. Labels: 1 where x0 + x1 > 0.5 (flipped with `flip_labels`).
struct SyntheticHistory {
  double shift = 0.0;
  std::int64_t shift_from = std::numeric_limits<std::int64_t>::max();
  bool flip_labels = false;

  HistoryBatch<double> operator()(TimeWindow window) const {
    constexpr std::int64_t step = 300;
    const std::int64_t first = (window.begin + step - 1) / step * step;
    HistoryBatch<double> batch;
    for (std::int64_t t = first; t < window.end; t += step) batch.timestamps.push_back(t);
    const auto rows = static_cast<redflag::Index>(batch.timestamps.size());
    batch.X.resize(rows, 3);
    batch.y.resize(rows);
    for (redflag::Index i = 0; i < rows; ++i) {
      const std::int64_t t = batch.timestamps[static_cast<std::size_t>(i)];
      redflag::Random rng = redflag::Random::stream(17, static_cast<std::uint64_t>(t));
      for (redflag::Index j = 0; j < 3; ++j) batch.X(i, j) = rng.normal<double>() + (t >= shift_from ? shift : 0.0);
      const bool positive = batch.X(i, 0) + batch.X(i, 1) > 0.5;
      batch.y(i) = positive != flip_labels ? 1 : 0;
    }
    return batch;
  }
};

HistoryBatch<double> unlabelled(HistoryBatch<double> batch) {
  batch.y.resize(0);
  return batch;
}

IsolationForest<double>::Params forest_params() {
  return {.n_estimators = 20, .contamination = 0.05, .random_state = 1};
}

}  // namespace

TEST_CASE("a detector is retrained, skipped without enough new rows, and promoted when it passes") {
  ModelRegistry registry(redflag::test::fresh_directory("retrain_detector"));
  const SyntheticHistory history;
  RetrainPolicy<IsolationForest<double>> policy(
      registry, [&](TimeWindow window) { return unlabelled(history(window)); }, forest_params(),
      {.expected_anomaly_rate = 0.05, .model_params = {{"n_estimators", "20"}}});

  const auto first = policy.run(start);
  CHECK(first.decision == RetrainDecision::promoted);
  CHECK(first.version == 1);
  CHECK(first.metrics.at("anomaly_rate") > 0.025);
  CHECK(first.metrics.at("anomaly_rate") < 0.11);
  REQUIRE(registry.active().has_value());
  const auto manifest = registry.active().value();
  CHECK(manifest.version == 1);
  CHECK(manifest.training_window == TimeWindow{start - 7 * day, start});
  CHECK(manifest.rows_used == 2016 - 403);  // the newest 20% are held out
  CHECK(manifest.params.at("n_estimators") == "20");
  CHECK(manifest.metrics.at("score_psi") < 0.25);

  // One day later: 288 new rows, fewer than the default 1,000.
  const auto skipped = policy.run(start + day);
  CHECK(skipped.decision == RetrainDecision::skipped);
  CHECK(skipped.version == 0);
  CHECK(skipped.reason ==
        "manual retraining skipped: 288 new rows since the active model's training window (minimum 1000), 2016 rows "
        "in the window");
  CHECK(registry.active()->version == 1);

  const auto later = policy.run(start + 4 * day);
  CHECK(later.decision == RetrainDecision::promoted);
  CHECK(registry.active()->version == 2);
  CHECK(registry.manifest(2).parent_version == 1);
  CHECK(registry.manifest(1).status == ModelStatus::retired);
  CHECK(later.metrics.count("active_anomaly_rate") == 1);

  std::vector<std::string> retrain_actions;
  for (const auto& record : registry.decisions()) {
    if (record.action.starts_with("retrain_")) retrain_actions.push_back(record.action);
  }
  CHECK(retrain_actions == std::vector<std::string>{"retrain_promoted", "retrain_skipped", "retrain_promoted"});
}

TEST_CASE("a detector that flags too much, or is trained in the middle of a shift, is rejected") {
  ModelRegistry registry(redflag::test::fresh_directory("retrain_detector_rejected"));
  const SyntheticHistory history{.shift = 3.0, .shift_from = start + 2 * day};
  const auto source = [&](TimeWindow window) { return unlabelled(history(window)); };
  RetrainPolicy<IsolationForest<double>> policy(registry, source, forest_params(), {.expected_anomaly_rate = 0.05});
  REQUIRE(policy.run(start).decision == RetrainDecision::promoted);

  // A candidate thresholded at contamination 0.3 flags about 30% of the rows.
  auto loud = forest_params();
  loud.contamination = 0.3;
  RetrainPolicy<IsolationForest<double>> loud_policy(registry, source, loud, {.expected_anomaly_rate = 0.05});
  const auto rejected = loud_policy.run(start + 5 * day);
  CHECK(rejected.decision == RetrainDecision::rejected);
  CHECK(rejected.reason.find("anomaly rate") != std::string::npos);
  CHECK(registry.active()->version == 1);
  CHECK(registry.manifest(rejected.version).status == ModelStatus::rejected);
  CHECK(registry.manifest(rejected.version).status_reason == rejected.reason);

  // From start + 2 days every column is shifted by 3. Five days in, the
  // held-out (newest) rows are all shifted but most training rows are not:
  // the candidate scores them unlike its training rows, and is refused.
  const auto mid_shift = policy.run(start + 5 * day);
  CHECK(mid_shift.decision == RetrainDecision::rejected);
  CHECK(mid_shift.metrics.at("score_psi") > 0.25);
  CHECK(mid_shift.reason.find("score distribution PSI") != std::string::npos);
  CHECK(registry.active()->version == 1);
  CHECK(registry.decisions().back().action == "retrain_rejected");
  // Nine days in, the window holds only the new behaviour: promoted.
  const auto settled = policy.run(start + 9 * day);
  CHECK(settled.decision == RetrainDecision::promoted);
  CHECK(settled.metrics.at("score_psi") < 0.25);
  CHECK(registry.active()->version == settled.version);
}

TEST_CASE("scheduled runs happen at most once per interval, also across restarts") {
  ModelRegistry registry(redflag::test::fresh_directory("retrain_schedule"));
  const SyntheticHistory history;
  const auto source = [&](TimeWindow window) { return unlabelled(history(window)); };
  RetrainPolicy<IsolationForest<double>> policy(registry, source, forest_params(), {.expected_anomaly_rate = 0.05});
  CHECK(policy.due(start));
  REQUIRE(policy.run_if_due(start).has_value());
  CHECK_FALSE(policy.due(start + 3600));
  CHECK_FALSE(policy.run_if_due(start + 3600).has_value());
  RetrainPolicy<IsolationForest<double>> restarted(registry, source, forest_params(), {.expected_anomaly_rate = 0.05});
  CHECK_FALSE(restarted.due(start + 3600));
  CHECK(restarted.due(start + day));
  const auto outcome = restarted.run_if_due(start + day);
  REQUIRE(outcome.has_value());
  CHECK(outcome->decision == RetrainDecision::skipped);
  CHECK(outcome->reason.starts_with("scheduled retraining skipped"));
}

TEST_CASE("a classifier is promoted on held-out precision, recall and AUC, and refused when worse") {
  ModelRegistry registry(redflag::test::fresh_directory("retrain_classifier"));
  const SyntheticHistory history;
  const RandomForest<double>::Params params{.n_estimators = 8, .max_depth = 6, .random_state = 2};
  RetrainPolicy<RandomForest<double>> policy(registry, history, params);
  const auto first = policy.run(start);
  CHECK(first.decision == RetrainDecision::promoted);
  CHECK(first.metrics.at("auc") > 0.9);
  CHECK(first.metrics.at("precision") > 0.8);

  // A trainer fed flipped labels ranks the held-out rows backwards.
  const SyntheticHistory flipped{.flip_labels = true};
  RetrainPolicy<RandomForest<double>> bad(
      registry, history,
      [&](const HistoryBatch<double>& batch) {
        RandomForest<double> model(params);
        model.fit(batch.X, flipped(TimeWindow{batch.timestamps.front(), batch.timestamps.back() + 1}).y);
        return model;
      },
      {});
  const auto rejected = bad.run(start + 4 * day);
  CHECK(rejected.decision == RetrainDecision::rejected);
  CHECK(rejected.metrics.at("auc") < 0.2);
  CHECK(rejected.metrics.at("active_auc") > 0.9);
  CHECK(rejected.reason.find("auc") != std::string::npos);
  CHECK(registry.active()->version == 1);
}

TEST_CASE("bad history and parameters are refused; the active model stays") {
  ModelRegistry registry(redflag::test::fresh_directory("retrain_bad_input"));
  const SyntheticHistory history;
  RetrainPolicy<IsolationForest<double>> good(registry, [&](TimeWindow window) { return unlabelled(history(window)); },
                                              forest_params(), {.expected_anomaly_rate = 0.05});
  REQUIRE(good.run(start).decision == RetrainDecision::promoted);

  RetrainPolicy<IsolationForest<double>> unordered(
      registry,
      [&](TimeWindow window) {
        auto batch = unlabelled(history(window));
        std::swap(batch.timestamps[5], batch.timestamps[6]);
        return batch;
      },
      forest_params());
  CHECK_THROWS_WITH_AS(unordered.run(start + 4 * day),
                       doctest::Contains("redflag::RetrainPolicy::run: history row 6 has timestamp"),
                       redflag::data_error);
  RetrainPolicy<IsolationForest<double>> short_times(
      registry,
      [&](TimeWindow window) {
        auto batch = unlabelled(history(window));
        batch.timestamps.pop_back();
        return batch;
      },
      forest_params());
  CHECK_THROWS_AS(short_times.run(start + 4 * day), redflag::invalid_argument);
  RetrainPolicy<RandomForest<double>> no_labels(
      registry, [&](TimeWindow window) { return unlabelled(history(window)); }, RandomForest<double>::Params{});
  CHECK_THROWS_AS(no_labels.run(start + 4 * day), redflag::invalid_argument);

  const auto source = [&](TimeWindow window) { return unlabelled(history(window)); };
  CHECK_THROWS_AS(RetrainPolicy<IsolationForest<double>>(registry, source, forest_params(), {.window_seconds = 0}),
                  redflag::invalid_argument);
  CHECK_THROWS_AS(
      RetrainPolicy<IsolationForest<double>>(registry, source, forest_params(), {.validation_fraction = 0.9}),
      redflag::invalid_argument);
  CHECK_THROWS_AS(
      RetrainPolicy<IsolationForest<double>>(registry, source, forest_params(), {.expected_anomaly_rate = 1.5}),
      redflag::invalid_argument);
  CHECK_THROWS_AS(RetrainPolicy<IsolationForest<double>>(registry, nullptr, forest_params()),
                  redflag::invalid_argument);
  CHECK(registry.active()->version == 1);
  CHECK(registry.history().size() == 1);
}
