#include <redflag/rules/rule_config.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <string>

using redflag::RuleHits;
using redflag::RulesEngine;

namespace {

constexpr std::string_view reference_config = R"({
  "version": 1,
  "rules": [
    {"name": "HIGH_AMOUNT", "severity": "high", "weight": 0.5,
     "when": {"quantity": {"name": "amount", "op": ">", "value": 10000}}},
    {"name": "VELOCITY_MULTI_CITY", "severity": "critical", "weight": 0.7,
     "when": {"all": [
       {"window": {"aggregate": "count", "seconds": 60, "op": ">", "value": 3}},
       {"window": {"aggregate": "distinct_cities", "seconds": 60, "op": ">=", "value": 2}}]}},
    {"name": "UNUSUAL_HOUR", "severity": "low", "weight": 0.15,
     "when": {"hour_between": {"from": 2, "to": 5}}},
    {"name": "NIGHT_JUMP", "severity": "medium", "weight": 0.3,
     "when": {"all": [{"rule": "UNUSUAL_HOUR"},
                      {"percent_change": {"baseline": "mean_amount", "op": ">", "value": 300}}]}}
  ]
})";

std::string error_of(std::string_view config) {
  try {
    (void)redflag::load_rules(config);
  } catch (const redflag::invalid_argument& failure) {
    return failure.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("load_rules builds the rules the configuration describes") {
  const RulesEngine engine = redflag::load_rules(reference_config);
  REQUIRE(engine.rules().size() == 4);
  CHECK(engine.rule(0).name == "HIGH_AMOUNT");
  CHECK(engine.rule(1).severity == redflag::Severity::critical);
  CHECK(engine.rule(2).weight == 0.15);

  // Same decisions as the built-in rules on a stream of transactions.
  const RulesEngine builtin = RulesEngine::builtin();
  redflag::EntityStore store;
  RuleHits from_json;
  RuleHits from_code;
  const std::int64_t t0 = 1'704'067'200'000;  // 2024-01-01 00:00 UTC
  for (int i = 0; i < 200; ++i) {
    const redflag::Transaction t{"t" + std::to_string(i), "u", (i % 7 == 0) ? 12'000.0 : 10.0 + i, "USD",
                                 t0 + i * 20'000LL * (1 + i % 5), 0, "m", 5411, (i % 3 == 0) ? "Lyon" : "Paris", "FR"};
    const auto event = redflag::to_entity_event(t);
    store.observe(event, [&](const redflag::EntityState& before) {
      const redflag::TransactionContext context{t, event, before};
      engine.evaluate(context, from_json);
      builtin.evaluate(context, from_code);
    });
    std::vector<std::string> a;
    std::vector<std::string> b;
    for (const auto& hit : from_json.hits) {
      if (hit.rule < 3) a.push_back(engine.describe(hit));
    }
    for (const auto& hit : from_code.hits) b.push_back(builtin.describe(hit));
    CHECK(a == b);
  }
}

TEST_CASE("load_rules_file reads a file") {
  const std::string path = std::string(REDFLAG_TEST_SCRATCH_DIR) + "/rules.json";
  {
    std::ofstream out(path);
    out << reference_config;
  }
  CHECK(redflag::load_rules_file(path).rules().size() == 4);
  CHECK_THROWS_AS(redflag::load_rules_file(path + ".missing"), redflag::invalid_argument);
}

TEST_CASE("load_rules rejects a malformed configuration whole, naming the offending field") {
  auto rules_with = [](std::string_view when) {
    return std::string(R"({"rules": [{"name": "A", "severity": "low", "weight": 0.1, "when": )") + std::string(when) +
           "}]}";
  };
  CHECK(error_of("{") .find("$: invalid JSON") != std::string::npos);
  CHECK(error_of("[]").find("$: expected an object") != std::string::npos);
  CHECK(error_of(R"({"rules": [], "extra": 1})").find("$.extra: unknown key") != std::string::npos);
  CHECK(error_of(R"({"version": 2, "rules": []})").find("$.version: expected 1") != std::string::npos);
  CHECK(error_of(rules_with(R"({"telepathy": {}})")).find("$.rules[0].when: unknown condition kind 'telepathy'") !=
        std::string::npos);
  CHECK(error_of(rules_with(R"({"quantity": {"name": "amount", "op": ">", "value": "big"}})"))
            .find("$.rules[0].when.quantity.value: expected a finite number") != std::string::npos);
  CHECK(error_of(rules_with(R"({"quantity": {"name": "amount", "op": "=>", "value": 1}})"))
            .find("$.rules[0].when.quantity.op: unknown value '=>'") != std::string::npos);
  CHECK(error_of(rules_with(R"({"all": [{"window": {"aggregate": "count", "seconds": -5, "op": ">", "value": 3}}]})"))
            .find("$.rules[0].when.all[0].window.seconds: expected a positive number") != std::string::npos);
  CHECK(error_of(rules_with(R"({"hour_between": {"from": 2, "to": 25}})")).find("$.rules[0].when.hour_between.to") !=
        std::string::npos);
  CHECK(error_of(rules_with(R"({"quantity": {"name": "amount", "op": ">", "value": NaN}})")).find("invalid JSON") !=
        std::string::npos);
  // 10,000 levels: refused at the parser's depth limit, before any recursion could exhaust the stack.
  std::string deep;
  for (int i = 0; i < 10'000; ++i) deep += R"({"not": )";
  deep += R"({"quantity": {"name": "amount", "op": ">", "value": 1}})" + std::string(10'000, '}');
  CHECK(error_of(rules_with(deep)).find("$: invalid JSON line 1, column 2092 (byte 2091): nesting deeper than 256 levels") !=
        std::string::npos);
  CHECK(error_of(rules_with(R"({"all": []})")).find("$.rules[0].when.all: expected a non-empty array") !=
        std::string::npos);
  CHECK(error_of(rules_with(R"({"not": {"rule": "NOPE"}})")).find("$.rules[0].when.not.rule: no rule named 'NOPE'") !=
        std::string::npos);
  CHECK(error_of(R"({"rules": [{"name": "A", "severity": "low", "weight": 0.1, "when": {"rule": "B"}},
                               {"name": "B", "severity": "low", "weight": 0.1, "when": {"any": [{"rule": "A"}]}}]})")
            .find("rule reference cycle through 'A'") != std::string::npos);
  CHECK(error_of(R"({"rules": [{"name": "A", "severity": "low", "weight": 0.1, "when": {"rule": "A"}}]})")
            .find("$.rules[0].when.rule: rule reference cycle") != std::string::npos);
  CHECK(error_of(R"({"rules": [{"name": "A", "severity": "low", "weight": 0.1, "when": {"hour_between": {"from": 1, "to": 2}}},
                               {"name": "A", "severity": "low", "weight": 0.1, "when": {"hour_between": {"from": 1, "to": 2}}}]})")
            .find("$.rules[1].name: duplicate rule name 'A'") != std::string::npos);
  CHECK(error_of(R"({"rules": [{"name": "A", "severity": "huge", "weight": 0.1, "when": {"hour_between": {"from": 1, "to": 2}}}]})")
            .find("$.rules[0].severity: unknown value 'huge'") != std::string::npos);
  CHECK(error_of(R"({"rules": [{"name": "A", "severity": "low", "weight": 2, "when": {"hour_between": {"from": 1, "to": 2}}}]})")
            .find("$.rules[0].weight: expected a number in [0, 1]") != std::string::npos);
  CHECK(error_of(R"({"rules": [{"name": "A", "severity": "low", "when": {"hour_between": {"from": 1, "to": 2}}}]})")
            .find("$.rules[0].weight: missing") != std::string::npos);
  CHECK(error_of(rules_with(R"({"all": [{"hour_between": {"from": 1, "to": 2}}], "any": []})"))
            .find("$.rules[0].when: a condition has exactly one key") != std::string::npos);
}
