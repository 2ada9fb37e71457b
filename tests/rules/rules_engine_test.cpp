#include <redflag/rules/rules_engine.hpp>
#include <redflag/transactions/transaction_rules.hpp>

#include <doctest/doctest.h>

#include "../support/allocation_tracker.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

using redflag::ColumnKind;
using redflag::EntityStore;
using redflag::RuleHits;
using redflag::RulesEngine;
using redflag::Schema;
using redflag::Severity;
using redflag::Transaction;
using redflag::rules::column;

namespace {

// 2024-01-01 12:00 UTC, a Monday.
constexpr std::int64_t noon = 1'704'110'400'000;

Transaction txn(double amount, std::int64_t time, std::string city = "Paris", std::string merchant = "m1") {
  static int counter = 0;
  return Transaction{
      "t" + std::to_string(counter++), "u", amount, "USD", time, 0, std::move(merchant), 5411, std::move(city), "FR"};
}

// Evaluates `engine` on `t`'s rule columns against the store's state, then applies `t`.
std::vector<std::string> fired(EntityStore& store, const RulesEngine& engine, const Transaction& t, RuleHits& hits) {
  static const auto columns = redflag::make_transaction_rule_features();
  std::array<double, redflag::TransactionRuleFeatures::width> row{};
  store.observe(t, redflag::TransactionEntity{},
                [&](const redflag::TransactionContext& c) { columns.write_row(c, std::span<double>(row)); });
  engine.evaluate(std::span<const double>(row), hits);
  std::vector<std::string> names;
  for (const auto& hit : hits.hits) names.push_back(engine.rule(hit.rule).name);
  return names;
}

// An account record's columns: rules are not about transactions only.
Schema account_schema() {
  return Schema{{"cash_weight", ColumnKind::numeric},
                {"model_cash_weight", ColumnKind::numeric},
                {"risk_class", ColumnKind::categorical}};
}

}  // namespace

TEST_CASE("HIGH_AMOUNT fires above 10,000 and says why") {
  EntityStore store;
  const RulesEngine engine = redflag::transaction_rules();
  RuleHits hits;
  CHECK(fired(store, engine, txn(10'000.0, noon), hits).empty());
  CHECK(fired(store, engine, txn(12'500.0, noon + 3'600'000), hits) == std::vector<std::string>{"HIGH_AMOUNT"});
  CHECK(engine.describe(hits.hits[0]) == "HIGH_AMOUNT: amount 12500 > 10000");
  CHECK(engine.rule(hits.hits[0].rule).severity == Severity::high);
}

TEST_CASE("VELOCITY_MULTI_CITY needs more than 3 transactions in 60 s from 2 or more cities") {
  EntityStore store;
  const RulesEngine engine = redflag::transaction_rules();
  RuleHits hits;
  // Four in one city within a minute: count 4 > 3 but one city.
  for (int i = 0; i < 4; ++i) CHECK(fired(store, engine, txn(20.0, noon + i * 10'000), hits).empty());
  // A fifth from Lyon: 5 transactions, 2 cities in (t - 60 s, t].
  CHECK(fired(store, engine, txn(20.0, noon + 45'000, "Lyon"), hits) ==
        std::vector<std::string>{"VELOCITY_MULTI_CITY"});
  CHECK(engine.describe(hits.hits[0]) == "VELOCITY_MULTI_CITY: 5 transactions in 60 s (> 3); 2 cities in 60 s (>= 2)");
  // Two minutes later the window holds one transaction again.
  CHECK(fired(store, engine, txn(20.0, noon + 165'000, "Nice"), hits).empty());
}

TEST_CASE("UNUSUAL_HOUR covers 02:00 to 05:00 local time") {
  EntityStore store;
  const RulesEngine engine = redflag::transaction_rules();
  RuleHits hits;
  const std::int64_t midnight = noon - 12 * 3'600'000LL;
  CHECK(fired(store, engine, txn(5.0, midnight + 3'600'000LL + 3'599'000), hits).empty());  // 01:59:59
  CHECK(fired(store, engine, txn(5.0, midnight + 2 * 3'600'000LL), hits) == std::vector<std::string>{"UNUSUAL_HOUR"});
  CHECK(engine.describe(hits.hits[0]) == "UNUSUAL_HOUR: local hour 2 in [2, 5)");
  CHECK(fired(store, engine, txn(5.0, midnight + 5 * 3'600'000LL), hits).empty());  // 05:00
  // Local time, not UTC: 03:00 UTC is 05:00 at UTC+2.
  Transaction east = txn(5.0, midnight + 24 * 3'600'000LL + 3 * 3'600'000LL);
  east.utc_offset_minutes = 120;
  CHECK(fired(store, engine, east, hits).empty());
}

TEST_CASE("Rules over an account's columns: column vs column, constants, membership, all/any/not") {
  RulesEngine engine(account_schema());
  engine.add({"CASH_DRIFT", Severity::medium, 0.4, column("cash_weight") > column("model_cash_weight")});
  engine.add({"RISKY_AND_HEAVY", Severity::high, 0.5,
              column("risk_class").in({3, 4}) && (column("cash_weight") >= 0.5 || !(column("cash_weight") < 0.9))});
  engine.add({"NOT_CLASS_1", Severity::low, 0.1, column("risk_class") != 1});
  RuleHits hits;
  const std::array<double, 3> calm{0.04, 0.05, 1};
  engine.evaluate(std::span<const double>(calm), hits);
  CHECK(hits.empty());
  const std::array<float, 3> drifting{0.6f, 0.05f, 3};  // float rows are read as they are
  engine.evaluate(std::span<const float>(drifting), hits);
  REQUIRE(hits.size() == 3);
  CHECK(engine.describe(hits.hits[0]) == "CASH_DRIFT: cash_weight 0.6 > model_cash_weight 0.05");
  CHECK(engine.describe(hits.hits[1]) == "RISKY_AND_HEAVY: risk_class 3 in {3, 4}; cash_weight 0.6 >= 0.5");
  CHECK(engine.describe(hits.hits[2]) == "NOT_CLASS_1: risk_class 3 != 1");
}

TEST_CASE("A column's phrase is used for its evidence, a log column's threshold in its own units") {
  redflag::Phrasebook words;
  words.add("cash_drift", {.text = "cash {value} points above the model's weight", .digits = 1});
  words.add("log_amount", {.text = "amount {value}", .digits = 0, .inverse = redflag::undo_log1p});
  RulesEngine engine(Schema::from_names({"cash_drift", "log_amount"}), words);
  engine.add({"DRIFT", Severity::medium, 0.4, column("cash_drift") > 5.0});
  engine.add({"BIG", Severity::medium, 0.4, column("log_amount") > std::log1p(1000.0)});
  RuleHits hits;
  const std::array<double, 2> row{12.4, std::log1p(5000.0)};
  engine.evaluate(std::span<const double>(row), hits);
  REQUIRE(hits.size() == 2);
  CHECK(engine.describe(hits.hits[0]) == "DRIFT: cash 12.4 points above the model's weight (> 5.0)");
  CHECK(engine.describe(hits.hits[1]) == "BIG: amount 5000 (> 1000)");
}

TEST_CASE("between wraps past the end of a cycle; NaN satisfies no comparison") {
  RulesEngine engine(Schema::from_names({"hour"}));
  engine.add({"NIGHT", Severity::low, 0.1, column("hour").between(22, 6)});
  RuleHits hits;
  for (const double hour : {22.0, 23.5, 0.0, 5.9}) {
    const std::array<double, 1> row{hour};
    engine.evaluate(std::span<const double>(row), hits);
    CHECK_MESSAGE(hits.size() == 1, hour);
  }
  for (const double hour : {6.0, 12.0, 21.9, std::numeric_limits<double>::quiet_NaN()}) {
    const std::array<double, 1> row{hour};
    engine.evaluate(std::span<const double>(row), hits);
    CHECK_MESSAGE(hits.empty(), hour);
  }
}

TEST_CASE("RulesEngine rejects bad rules, naming the rule, and is unchanged") {
  RulesEngine engine(account_schema());
  engine.add({"CASH_DRIFT", Severity::medium, 0.4, column("cash_weight") > column("model_cash_weight")});
  auto rejects = [&](redflag::Rule rule, const std::string& text) {
    try {
      engine.add(std::move(rule));
      FAIL("accepted");
    } catch (const redflag::invalid_argument& failure) {
      CHECK_MESSAGE(std::string(failure.what()).find(text) != std::string::npos, failure.what());
    }
  };
  rejects({"CASH_DRIFT", Severity::low, 0.1, column("cash_weight") > 1.0}, "already exists");
  rejects({"", Severity::low, 0.1, column("cash_weight") > 1.0}, "empty name");
  rejects({"W", Severity::low, 1.5, column("cash_weight") > 1.0}, "weight must be in [0, 1]");
  rejects({"U", Severity::low, 0.1, column("cash") > 1.0},
          "rule 'U': unknown column 'cash' (known columns: cash_weight, model_cash_weight, risk_class)");
  rejects({"K", Severity::low, 0.1, column("risk_class") > 2.0}, "rule 'K': column 'risk_class' is categorical");
  rejects({"B", Severity::low, 0.1, column("risk_class").between(1, 2)}, "is categorical");
  rejects({"M", Severity::low, 0.1, column("cash_weight").in({1})}, "membership (in) needs a categorical column");
  rejects({"C", Severity::low, 0.1, column("cash_weight") > column("risk_class")}, "is categorical");
  // A later leaf's failure leaves no half-compiled rule behind.
  rejects({"LATE", Severity::low, 0.1, column("cash_weight") > 1.0 && column("nope") > 1.0}, "unknown column 'nope'");
  CHECK(engine.rules().size() == 1);
  CHECK(engine.find("LATE") == 1);
  CHECK_THROWS_AS((void)(column("x") > std::numeric_limits<double>::quiet_NaN()), redflag::invalid_argument);
  CHECK_THROWS_AS((void)column("x").between(3, 3), redflag::invalid_argument);
  CHECK_THROWS_AS((void)column("x").in(std::vector<double>{}), redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::rules::all_of({}), redflag::invalid_argument);
  CHECK_THROWS_AS(RulesEngine(Schema{}), redflag::invalid_argument);
}

TEST_CASE("evaluate checks the row's width and allocates nothing once warm") {
  const RulesEngine engine = redflag::transaction_rules();
  RuleHits hits;
  const std::array<double, 3> short_row{1, 2, 3};
  CHECK_THROWS_AS(engine.evaluate(std::span<const double>(short_row), hits), redflag::schema_mismatch);
  std::array<double, redflag::TransactionRuleFeatures::width> row{20'000, 1, 5, 10, 5, 2, 3};
  engine.evaluate(std::span<const double>(row), hits);  // grows `hits` once
  REQUIRE(hits.size() == 3);
  const std::size_t before = redflag::test::allocation_count.load();
  for (int i = 0; i < 100; ++i) engine.evaluate(std::span<const double>(row), hits);
  CHECK(redflag::test::allocation_count.load() - before == 0);
  CHECK(hits.size() == 3);
}
