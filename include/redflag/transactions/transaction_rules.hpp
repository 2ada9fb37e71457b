#pragma once

// The columns transaction rules read, and the reference system's rules over
// them. The rules are ordinary RulesEngine rules over these columns, so a
// rules file (rule_config.hpp) can change them or add others:
//
//   amount              the transaction's amount
//   amount_to_mean      amount / the user's mean amount (1 without history)
//   event_count         the user's past transactions
//   seconds_since_last  seconds since the user's previous transaction
//   transactions_60s    the user's transactions in the last 60 s, this one included
//   cities_60s          distinct cities of those
//   local_hour          the hour in the user's local time
//
//   HIGH_AMOUNT          amount > 10,000                                    high, weight 0.5
//   VELOCITY_MULTI_CITY  transactions_60s > 3 and cities_60s >= 2           critical, weight 0.7
//   UNUSUAL_HOUR         local_hour in [2, 5)                               low, weight 0.15

#include <redflag/rules/rules_engine.hpp>
#include <redflag/stream/entity_features.hpp>
#include <redflag/transactions/transaction_features.hpp>

#include <chrono>
#include <cmath>
#include <string>

namespace redflag {

namespace detail {

inline std::string phrase_amount_to_mean(double v) {
  return "amount " + redflag::format_number(std::round(v * 10.0) / 10.0) + "x this user's average";
}

}  // namespace detail

inline auto make_transaction_rule_features(const TransactionFeatureParams& params = {}) {
  validate(params);
  using std::chrono::seconds;
  return make_feature_set<TransactionContext>(
      EventValue("amount"), RatioToMean("amount_to_mean", {.format = detail::phrase_amount_to_mean}),
      EventCount("event_count"), SecondsSinceLast("seconds_since_last", params.no_history_seconds),
      WindowCount("transactions_60s", seconds(60), {.text = "{value} transactions in 60 s"}),
      WindowDistinctPlaces("cities_60s", seconds(60), {.text = "{value} cities in 60 s"}),
      LocalHour("local_hour", {.text = "local hour {value}"}));
}

using TransactionRuleFeatures = decltype(make_transaction_rule_features());

// The reference system's three rules over make_transaction_rule_features()'s columns.
inline RulesEngine transaction_rules(const TransactionRuleFeatures& columns = make_transaction_rule_features()) {
  using rules::column;
  RulesEngine engine(columns);
  engine.add({"HIGH_AMOUNT", Severity::high, 0.5, column("amount") > 10'000.0});
  engine.add(
      {"VELOCITY_MULTI_CITY", Severity::critical, 0.7, column("transactions_60s") > 3 && column("cities_60s") >= 2});
  engine.add({"UNUSUAL_HOUR", Severity::low, 0.15, column("local_hour").between(2, 5)});
  return engine;
}

}  // namespace redflag
