#include <redflag/rules/rules_engine.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using redflag::EntityState;
using redflag::EntityStore;
using redflag::RuleHits;
using redflag::RulesEngine;
using redflag::Severity;
using redflag::Transaction;
using std::chrono::seconds;

namespace {

// 2024-01-01 12:00 UTC, a Monday.
constexpr std::int64_t noon = 1'704'110'400'000;

Transaction txn(double amount, std::int64_t time, std::string city = "Paris", std::string merchant = "m1") {
  static int counter = 0;
  return Transaction{"t" + std::to_string(counter++), "u", amount, "USD", time, 0, std::move(merchant), 5411,
                     std::move(city), "FR"};
}

// Evaluates `engine` on `t` against the store's state, then applies `t`.
std::vector<std::string> fired(EntityStore& store, const RulesEngine& engine, const Transaction& t,
                               RuleHits& hits) {
  const auto event = redflag::to_entity_event(t);
  store.observe(event, [&](const EntityState& before) {
    engine.evaluate(redflag::TransactionContext{t, event, before}, hits);
  });
  std::vector<std::string> names;
  for (const auto& hit : hits.hits) names.push_back(engine.rule(hit.rule).name);
  return names;
}

}  // namespace

TEST_CASE("Built-in HIGH_AMOUNT fires above 10,000 and says why") {
  EntityStore store;
  const RulesEngine engine = RulesEngine::builtin();
  RuleHits hits;
  CHECK(fired(store, engine, txn(10'000.0, noon), hits).empty());
  CHECK(fired(store, engine, txn(12'500.0, noon + 3'600'000), hits) == std::vector<std::string>{"HIGH_AMOUNT"});
  CHECK(engine.describe(hits.hits[0]) == "HIGH_AMOUNT: amount 12500 > 10000");
  CHECK(engine.rule(hits.hits[0].rule).severity == Severity::high);
}

TEST_CASE("Built-in VELOCITY_MULTI_CITY needs more than 3 transactions in 60 s from 2 or more cities") {
  EntityStore store;
  const RulesEngine engine = RulesEngine::builtin();
  RuleHits hits;
  // Four in one city within a minute: count 4 > 3 but one city.
  for (int i = 0; i < 4; ++i) CHECK(fired(store, engine, txn(20.0, noon + i * 10'000), hits).empty());
  // A fifth from Lyon: 5 transactions, 2 cities in (t - 60 s, t].
  CHECK(fired(store, engine, txn(20.0, noon + 45'000, "Lyon"), hits) == std::vector<std::string>{"VELOCITY_MULTI_CITY"});
  CHECK(engine.describe(hits.hits[0]) ==
        "VELOCITY_MULTI_CITY: 5 transactions in 60 s (> 3); 2 cities in 60 s (>= 2)");
  // Two minutes later the window holds one transaction again.
  CHECK(fired(store, engine, txn(20.0, noon + 165'000, "Nice"), hits).empty());
}

TEST_CASE("Built-in UNUSUAL_HOUR covers 02:00 to 05:00 local time") {
  EntityStore store;
  const RulesEngine engine = RulesEngine::builtin();
  RuleHits hits;
  const std::int64_t midnight = noon - 12 * 3'600'000LL;
  CHECK(fired(store, engine, txn(5.0, midnight + 3'600'000LL + 3'599'000), hits).empty());  // 01:59:59
  CHECK(fired(store, engine, txn(5.0, midnight + 2 * 3'600'000LL), hits) == std::vector<std::string>{"UNUSUAL_HOUR"});
  CHECK(fired(store, engine, txn(5.0, midnight + 5 * 3'600'000LL), hits).empty());  // 05:00
  // Local time, not UTC: 03:00 UTC is 05:00 at UTC+2.
  Transaction east = txn(5.0, midnight + 24 * 3'600'000LL + 3 * 3'600'000LL);
  east.utc_offset_minutes = 120;
  CHECK(fired(store, engine, east, hits).empty());
}

TEST_CASE("Predicates compose with AND, OR, NOT, percent change and windowed sums") {
  namespace rules = redflag::rules;
  EntityStore store;
  RulesEngine engine;
  engine.add({"JUMP", Severity::medium, 0.3,
              rules::percent_change(rules::Baseline::mean_amount) > 300.0 && !rules::local_hour_between(2, 5)});
  engine.add({"SPEND", Severity::low, 0.1, rules::window_sum(seconds(600)) >= 100.0 || rules::amount_to_mean() > 50.0});
  RuleHits hits;
  CHECK(fired(store, engine, txn(20.0, noon), hits).empty());  // no history: no percent change
  CHECK(fired(store, engine, txn(20.0, noon + 60'000), hits).empty());
  // 100 vs mean 20: +400% > 300%, at noon; window sum 140 >= 100.
  CHECK(fired(store, engine, txn(100.0, noon + 120'000), hits) == std::vector<std::string>{"JUMP", "SPEND"});
  CHECK(engine.describe(hits.hits[0]) == "JUMP: amount 400% vs mean_amount > 300%; not local hour 12 in [2, 5)");
  CHECK(engine.describe(hits.hits[1]) == "SPEND: sum of amounts in 600 s 140 (>= 100)");
}

TEST_CASE("RulesEngine rejects bad rules and leaves the engine unchanged") {
  namespace rules = redflag::rules;
  RulesEngine engine = RulesEngine::builtin();
  CHECK_THROWS_AS(engine.add({"HIGH_AMOUNT", Severity::low, 0.1, rules::amount() > 1.0}), redflag::invalid_argument);
  CHECK_THROWS_AS(engine.add({"", Severity::low, 0.1, rules::amount() > 1.0}), redflag::invalid_argument);
  CHECK_THROWS_AS(engine.add({"W", Severity::low, 1.5, rules::amount() > 1.0}), redflag::invalid_argument);
  CHECK(engine.rules().size() == 3);
  CHECK_THROWS_AS((void)(rules::amount() > std::numeric_limits<double>::quiet_NaN()), redflag::invalid_argument);
  CHECK_THROWS_AS(rules::window_count(seconds(0)), redflag::invalid_argument);
  CHECK_THROWS_AS(rules::local_hour_between(3, 3), redflag::invalid_argument);
  CHECK_THROWS_AS(rules::all_of({}), redflag::invalid_argument);
}
