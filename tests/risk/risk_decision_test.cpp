#include <redflag/forest/isolation_forest.hpp>
#include <redflag/risk/risk_decision.hpp>
#include <redflag/transactions/transaction_rules.hpp>
#include <redflag/transactions/transaction_simulator.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>

using redflag::Recommendation;
using redflag::RiskDecider;
using redflag::RiskLevel;
using redflag::RiskPolicy;
using redflag::RuleHits;
using redflag::RulesEngine;

namespace {

// Evaluates the built-in rules on `txn` after `history` (same entity).
RuleHits hits_for(const RulesEngine& engine, const std::vector<redflag::Transaction>& history,
                  const redflag::Transaction& txn) {
  static const auto columns = redflag::make_transaction_rule_features();
  redflag::EntityStore store;
  for (const auto& past : history) store.observe(redflag::to_entity_event(past));
  RuleHits hits;
  std::array<double, redflag::TransactionRuleFeatures::width> row{};
  store.observe(txn, redflag::TransactionEntity{},
                [&](const redflag::TransactionContext& c) { columns.write_row(c, std::span<double>(row)); });
  engine.evaluate(std::span<const double>(row), hits);
  return hits;
}

redflag::Transaction txn(std::string id, double amount, std::int64_t time, std::string city) {
  return {std::move(id), "u", amount, "USD", time, 0, "m", 5411, std::move(city), "FR"};
}

constexpr std::int64_t noon = 1'704'110'400'000;  // 2024-01-01 12:00 UTC

}  // namespace

TEST_CASE("RiskDecider combines the model score and rule weights as a noisy-OR") {
  const RulesEngine engine = redflag::transaction_rules();
  const RiskDecider decider;
  const RuleHits none;
  auto d = decider.decide(0.5, none, engine);
  CHECK(d.risk_score == doctest::Approx(0.3));  // 0.6 * 0.5
  CHECK(d.level == RiskLevel::medium);
  CHECK(d.recommendation == Recommendation::review);
  CHECK(d.reasons().empty());

  d = decider.decide(0.2, none, engine);
  CHECK(d.risk_score == doctest::Approx(0.12));
  CHECK(d.level == RiskLevel::low);
  CHECK(d.recommendation == Recommendation::approve);

  // HIGH_AMOUNT (0.5) and a model score of 0.9: 1 - (1 - 0.54)(1 - 0.5) = 0.77.
  const RuleHits high = hits_for(engine, {}, txn("t", 20'000.0, noon, "Paris"));
  REQUIRE(high.size() == 1);
  d = decider.decide(0.9, high, engine);
  CHECK(d.risk_score == doctest::Approx(0.77));
  CHECK(d.level == RiskLevel::high);
  CHECK(d.recommendation == Recommendation::review);
  REQUIRE(d.reasons().size() == 1);
  CHECK(d.reasons()[0] == "HIGH_AMOUNT");
  // Rules only: 0.5, but HIGH_AMOUNT's severity (high) is the floor.
  d = decider.decide(std::nullopt, high, engine);
  CHECK(d.risk_score == doctest::Approx(0.5));
  CHECK(d.level == RiskLevel::high);
  RiskPolicy no_floor;
  no_floor.severity_sets_floor = false;
  CHECK(RiskDecider(no_floor).decide(std::nullopt, high, engine).level == RiskLevel::medium);
}

TEST_CASE("A critical rule blocks, and the explanation names the rule, the values and the model's features") {
  const RulesEngine engine = redflag::transaction_rules();
  const RiskDecider decider;
  std::vector<redflag::Transaction> history;
  for (int i = 0; i < 3; ++i) history.push_back(txn("h" + std::to_string(i), 30.0, noon + i * 10'000, "Paris"));
  const RuleHits hits = hits_for(engine, history, txn("t", 40.0, noon + 40'000, "Lyon"));
  REQUIRE(hits.size() == 1);
  const auto d = decider.decide(0.7, hits, engine);
  // 1 - (1 - 0.6 * 0.7)(1 - 0.7) = 0.826: HIGH by score, CRITICAL by the rule's severity.
  CHECK(d.risk_score == doctest::Approx(0.826));
  CHECK(d.level == RiskLevel::critical);
  CHECK(d.recommendation == Recommendation::block);
  const std::array<redflag::FeatureContribution, 3> contributions = {
      {{"merchant_familiarity", 0.0, 0.05}, {"amount_zscore", 37.0, 0.12}, {"hour_deviation", 0.0, -0.01}}};
  CHECK(decider.explain(d, hits, engine, contributions, redflag::make_transaction_features().phrasebook()) ==
        "CRITICAL risk 0.83, BLOCK: 4 transactions in 60 s (> 3); 2 cities in 60 s (>= 2) [VELOCITY_MULTI_CITY]; "
        "model 0.70: amount 37.0 standard deviations from this user's average, new merchant for this user");
}

TEST_CASE("RiskDecider is deterministic and rejects bad policies and NaN scores") {
  const RulesEngine engine = redflag::transaction_rules();
  const RuleHits none;
  const RiskDecider decider;
  CHECK(decider.decide(0.33, none, engine).risk_score == decider.decide(0.33, none, engine).risk_score);
  CHECK(decider.decide(7.0, none, engine).model_score == 1.0);
  CHECK_THROWS_AS((void)decider.decide(std::numeric_limits<double>::quiet_NaN(), none, engine),
                  redflag::invalid_argument);
  CHECK_THROWS_AS(RiskDecider(RiskPolicy{.model_weight = 1.5}), redflag::invalid_argument);
  CHECK_THROWS_AS(RiskDecider(RiskPolicy{.medium_from = 0.7, .high_from = 0.6}), redflag::invalid_argument);
  CHECK_THROWS_AS(RiskDecider(RiskPolicy{.review_from = RiskLevel::critical, .block_from = RiskLevel::high}),
                  redflag::invalid_argument);
}

TEST_CASE("RiskDecider explains a model score with IsolationForest's feature contributions") {
  const auto stream =
      redflag::TransactionSimulator({.users = 100, .transactions = 4'000, .fraud_rate = 0.02, .seed = 5}).generate();
  redflag::EntityStore store;
  auto features = redflag::make_transaction_features();
  redflag::Matrix<double> X(static_cast<redflag::Index>(stream.transactions.size()), 10);
  redflag::featurize(std::span<const redflag::Transaction>(stream.transactions), store, features, X);
  redflag::IsolationForest<double> forest({.n_estimators = 50, .random_state = 3});
  forest.fit(X, features.schema());
  const auto scores = forest.anomaly_score(X);
  redflag::Index top = 0;
  scores.maxCoeff(&top);
  const auto explanation = forest.explain(X.row(top));
  std::vector<redflag::FeatureContribution> contributions;
  for (redflag::Index j = 0; j < X.cols(); ++j) {
    contributions.push_back(
        {explanation.feature_names[static_cast<std::size_t>(j)], X(top, j), explanation.contributions(0, j)});
  }
  const RulesEngine engine = redflag::transaction_rules();
  const RuleHits none;
  const RiskDecider decider;
  const auto decision = decider.decide(scores[top], none, engine);
  const std::string text = decider.explain(decision, none, engine, contributions, features.phrasebook());
  MESSAGE(text);
  CHECK(text.find("model ") != std::string::npos);
  // The most anomaly-raising feature is named, in words.
  const auto best = explanation.top(0, 1).front();
  CHECK(text.find(RiskDecider::phrase(contributions[static_cast<std::size_t>(best.column)], features.phrasebook())) !=
        std::string::npos);
}

TEST_CASE("Every transaction feature reads in words, as the reference system worded them") {
  const auto words = redflag::make_transaction_features().phrasebook();
  auto phrase = [&](std::string_view name, double value) { return RiskDecider::phrase({name, value, 1.0}, words); };
  CHECK(phrase("log_amount", std::log1p(1234.5)) == "amount 1234.50");
  CHECK(phrase("amount_zscore", 3.21) == "amount 3.2 standard deviations from this user's average");
  CHECK(phrase("amount_percentile", 0.97) == "amount above 97% of this user's past amounts");
  CHECK(phrase("amount_percentile", 0.1) == "amount below 90% of this user's past amounts");
  CHECK(phrase("velocity_ratio", 4.04) == "4.0x this user's usual transaction rate");
  CHECK(phrase("hour_deviation", 0.9) == "unusual hour for this user");
  CHECK(phrase("day_deviation", 0.9) == "unusual weekday for this user");
  CHECK(phrase("time_since_last", std::log1p(42.0)) == "42 s since the previous transaction");
  CHECK(phrase("merchant_familiarity", 0.0) == "new merchant for this user");
  CHECK(phrase("merchant_familiarity", 0.25) == "merchant of 25% of this user's transactions");
  CHECK(phrase("is_new_user", 1.0) == "new user");
  CHECK(phrase("global_amount_flag", 1.0) == "amount above the global threshold");
  // A column without a phrase, and a pipeline's own column with one.
  CHECK(phrase("volume_zscore", 2.5) == "volume_zscore = 2.500");
  redflag::Phrasebook portfolio;
  portfolio.add("cash_drift", {.text = "cash {value} points above the model's weight", .digits = 1});
  CHECK(RiskDecider::phrase({"cash_drift", 12.44, 1.0}, portfolio) == "cash 12.4 points above the model's weight");
}

TEST_CASE("A phrase with an unknown placeholder or an unbalanced brace is refused, naming the column") {
  redflag::Phrasebook words;
  CHECK_THROWS_WITH_AS(words.add("cash", {.text = "cash {amount}"}),
                       doctest::Contains("column 'cash': phrase \"cash {amount}\" has an unknown placeholder {amount}"),
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(words.add("cash", {.text = "cash {value"}), doctest::Contains("column 'cash'"),
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(words.add("cash", {.text = "cash value}"}), doctest::Contains("an unbalanced '}'"),
                       redflag::invalid_argument);
  CHECK(words.empty());
}
