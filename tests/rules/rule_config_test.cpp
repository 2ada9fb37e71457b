#include <redflag/rules/rule_config.hpp>
#include <redflag/transactions/transaction_rules.hpp>

#include <doctest/doctest.h>

#include <array>
#include <fstream>
#include <span>
#include <string>
#include <vector>

using redflag::ColumnKind;
using redflag::RuleHits;
using redflag::RulesEngine;
using redflag::Schema;

namespace {

constexpr std::string_view transaction_config = R"({
  "version": 2,
  "rules": [
    {"name": "HIGH_AMOUNT", "severity": "high", "weight": 0.5,
     "when": {"column": "amount", "op": ">", "value": 10000}},
    {"name": "VELOCITY_MULTI_CITY", "severity": "critical", "weight": 0.7,
     "when": {"all": [{"column": "transactions_60s", "op": ">", "value": 3},
                      {"column": "cities_60s", "op": ">=", "value": 2}]}},
    {"name": "UNUSUAL_HOUR", "severity": "low", "weight": 0.15,
     "when": {"column": "local_hour", "between": [2, 5]}},
    {"name": "NIGHT_JUMP", "severity": "medium", "weight": 0.3,
     "when": {"all": [{"rule": "UNUSUAL_HOUR"},
                      {"column": "amount_to_mean", "op": ">", "value": 4}]}}
  ]
})";

Schema account_columns() {
  return Schema{{"cash_weight", ColumnKind::numeric},
                {"model_cash_weight", ColumnKind::numeric},
                {"risk_class", ColumnKind::categorical}};
}

std::string error_of(std::string_view config) {
  try {
    (void)redflag::load_rules(config, account_columns());
  } catch (const redflag::invalid_argument& failure) {
    return failure.what();
  }
  return "no error";
}

// One rule whose condition is `when`.
std::string rules_with(std::string_view when) {
  return std::string(R"({"version": 2, "rules": [{"name": "A", "severity": "low", "weight": 0.1, "when": )") +
         std::string(when) + "}]}";
}

bool mentions(const std::string& message, std::string_view text) {
  const bool found = message.find(text) != std::string::npos;
  if (!found) MESSAGE(message);
  return found;
}

}  // namespace

TEST_CASE("load_rules builds the transaction rules and decides as the built-in ones do") {
  const auto columns = redflag::make_transaction_rule_features();
  const RulesEngine engine = redflag::load_rules(transaction_config, columns);
  REQUIRE(engine.rules().size() == 4);
  CHECK(engine.rule(0).name == "HIGH_AMOUNT");
  CHECK(engine.rule(1).severity == redflag::Severity::critical);
  CHECK(engine.rule(2).weight == 0.15);

  const RulesEngine builtin = redflag::transaction_rules(columns);
  redflag::EntityStore store;
  RuleHits from_json;
  RuleHits from_code;
  const std::int64_t t0 = 1'704'067'200'000;  // 2024-01-01 00:00 UTC
  int night_jumps = 0;
  for (int i = 0; i < 200; ++i) {
    const redflag::Transaction t{"t" + std::to_string(i),
                                 "u",
                                 (i % 7 == 0) ? 12'000.0 : 10.0 + i,
                                 "USD",
                                 t0 + i * 20'000LL * (1 + i % 5),
                                 0,
                                 "m",
                                 5411,
                                 (i % 3 == 0) ? "Lyon" : "Paris",
                                 "FR"};
    std::array<double, redflag::TransactionRuleFeatures::width> row{};
    store.observe(t, redflag::TransactionEntity{},
                  [&](const redflag::TransactionContext& c) { columns.write_row(c, std::span<double>(row)); });
    engine.evaluate(std::span<const double>(row), from_json);
    builtin.evaluate(std::span<const double>(row), from_code);
    std::vector<std::string> a;
    std::vector<std::string> b;
    for (const auto& hit : from_json.hits) {
      if (hit.rule < 3) a.push_back(engine.describe(hit));
      night_jumps += hit.rule == 3;
    }
    for (const auto& hit : from_code.hits) b.push_back(builtin.describe(hit));
    CHECK(a == b);
  }
  CHECK(night_jumps > 0);  // the referenced rule is evaluated inside NIGHT_JUMP
}

TEST_CASE("The rules file shipped with the transactions example is the built-in rule set") {
  const auto columns = redflag::make_transaction_rule_features();
  const RulesEngine shipped =
      redflag::load_rules_file(std::string(REDFLAG_SOURCE_DIR) + "/examples/transactions/rules.json", columns);
  const RulesEngine builtin = redflag::transaction_rules(columns);
  REQUIRE(shipped.rules().size() == builtin.rules().size());
  for (std::size_t i = 0; i < builtin.rules().size(); ++i) {
    CHECK(shipped.rule(i).name == builtin.rule(i).name);
    CHECK(shipped.rule(i).severity == builtin.rule(i).severity);
    CHECK(shipped.rule(i).weight == builtin.rule(i).weight);
  }
}

TEST_CASE("load_rules over any schema: column vs column, membership, not") {
  const RulesEngine engine = redflag::load_rules(R"({"version": 2, "rules": [
      {"name": "CASH_DRIFT", "severity": "medium", "weight": 0.4,
       "when": {"column": "cash_weight", "op": ">", "other": "model_cash_weight"}},
      {"name": "WATCHED", "severity": "high", "weight": 0.6,
       "when": {"all": [{"column": "risk_class", "in": [3, 4]}, {"not": {"column": "cash_weight", "op": "<", "value": 0.1}}]}}]})",
                                                 account_columns());
  RuleHits hits;
  const std::array<double, 3> row{0.2, 0.05, 4};
  engine.evaluate(std::span<const double>(row), hits);
  REQUIRE(hits.size() == 2);
  CHECK(engine.describe(hits.hits[0]) == "CASH_DRIFT: cash_weight 0.2 > model_cash_weight 0.05");
  CHECK(engine.describe(hits.hits[1]) == "WATCHED: risk_class 4 in {3, 4}; not cash_weight 0.2 < 0.1");
}

TEST_CASE("load_rules_file reads a file") {
  const std::string path = std::string(REDFLAG_TEST_SCRATCH_DIR) + "/rules.json";
  {
    std::ofstream out(path);
    out << rules_with(R"({"column": "cash_weight", "op": ">", "value": 0.5})");
  }
  CHECK(redflag::load_rules_file(path, account_columns()).rules().size() == 1);
  CHECK_THROWS_AS(redflag::load_rules_file(path + ".missing", account_columns()), redflag::invalid_argument);
}

TEST_CASE("load_rules rejects a malformed file whole, naming the offending field") {
  CHECK(mentions(error_of("{"), "$: invalid JSON"));
  CHECK(mentions(error_of("[]"), "$: expected an object"));
  CHECK(mentions(error_of(R"({"version": 2, "rules": [], "extra": 1})"), "$.extra: unknown key"));
  CHECK(mentions(error_of(R"({"rules": []})"), "$.version: missing"));
  CHECK(mentions(error_of(R"({"version": 3, "rules": []})"), "$.version: expected 2, got 3"));
  CHECK(mentions(error_of(R"({"version": 1, "rules": []})"), "$.version: version 1 files"));
  CHECK(mentions(error_of(rules_with(R"({"telepathy": {}})")), "$.rules[0].when.telepathy: unknown condition kind"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash", "op": ">", "value": 1})")),
                 "$.rules[0].when.column: unknown column 'cash' (known columns: cash_weight, model_cash_weight, "
                 "risk_class)"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash_weight", "op": ">", "value": "big"})")),
                 "$.rules[0].when.value: expected a finite number"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash_weight", "op": "=>", "value": 1})")),
                 "$.rules[0].when.op: unknown value '=>' (expected one of >, >=, <, <=, ==, !=)"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash_weight", "op": ">", "other": "nope"})")),
                 "$.rules[0].when.other: unknown column 'nope'"));
  CHECK(mentions(error_of(rules_with(R"({"all": [{"column": "risk_class", "op": ">", "value": 3}]})")),
                 "$.rules[0].when.all[0].column: column 'risk_class' is categorical"));
  CHECK(mentions(error_of(rules_with(R"({"column": "risk_class", "between": [1, 3]})")),
                 "$.rules[0].when.column: column 'risk_class' is categorical"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash_weight", "in": [1, 2]})")),
                 "$.rules[0].when.column: column 'cash_weight' is numeric; membership (in) needs a categorical"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash_weight", "between": [1]})")),
                 "$.rules[0].when.between: expected [from, to]"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash_weight", "between": [1, 1]})")),
                 "$.rules[0].when.between: empty interval"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash_weight", "op": ">", "value": 1, "in": [1]})")),
                 "$.rules[0].when.op: unknown key"));
  CHECK(mentions(error_of(rules_with(R"({"column": "cash_weight", "op": ">", "value": NaN})")), "invalid JSON"));
  // 10,000 levels: refused at the parser's depth limit, before any recursion could exhaust the stack.
  std::string deep;
  for (int i = 0; i < 10'000; ++i) deep += R"({"not": )";
  deep += R"({"column": "cash_weight", "op": ">", "value": 1})" + std::string(10'000, '}');
  CHECK(mentions(error_of(rules_with(deep)), "nesting deeper than 256 levels"));
  CHECK(mentions(error_of(rules_with(R"({"all": []})")), "$.rules[0].when.all: expected a non-empty array"));
  CHECK(
      mentions(error_of(rules_with(R"({"not": {"rule": "NOPE"}})")), "$.rules[0].when.not.rule: no rule named 'NOPE'"));
  CHECK(mentions(
      error_of(R"({"version": 2, "rules": [{"name": "A", "severity": "low", "weight": 0.1, "when": {"rule": "B"}},
                               {"name": "B", "severity": "low", "weight": 0.1, "when": {"any": [{"rule": "A"}]}}]})"),
      "rule reference cycle through 'A'"));
  CHECK(mentions(
      error_of(R"({"version": 2, "rules": [{"name": "A", "severity": "low", "weight": 0.1, "when": {"rule": "A"}}]})"),
      "$.rules[0].when.rule: rule reference cycle"));
  const std::string leaf = R"({"column": "cash_weight", "op": ">", "value": 1})";
  CHECK(mentions(error_of(R"({"version": 2, "rules": [{"name": "A", "severity": "low", "weight": 0.1, "when": )" +
                          leaf + R"(}, {"name": "A", "severity": "low", "weight": 0.1, "when": )" + leaf + "}]}"),
                 "$.rules[1].name: duplicate rule name 'A'"));
  CHECK(mentions(
      error_of(R"({"version": 2, "rules": [{"name": "A", "severity": "huge", "weight": 0.1, "when": )" + leaf + "}]}"),
      "$.rules[0].severity: unknown value 'huge'"));
  CHECK(mentions(
      error_of(R"({"version": 2, "rules": [{"name": "A", "severity": "low", "weight": 2, "when": )" + leaf + "}]}"),
      "$.rules[0].weight: expected a number in [0, 1]"));
  CHECK(mentions(error_of(R"({"version": 2, "rules": [{"name": "A", "severity": "low", "when": )" + leaf + "}]}"),
                 "$.rules[0].weight: missing"));
  CHECK(mentions(error_of(rules_with(R"({"all": [)" + leaf + R"(], "any": []})")),
                 "$.rules[0].when: a condition is a column test or has exactly one key"));
}
