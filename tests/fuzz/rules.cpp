// Rule files (JSON) loaded against the transaction rule columns; a loaded
// engine then evaluates rows of those columns, real ones and extreme ones.

#include <redflag/rules/rule_config.hpp>
#include <redflag/transactions/transaction_rules.hpp>

#include "fuzz_support.hpp"

#include <array>
#include <limits>
#include <span>

namespace redflag::fuzz {

void rules(std::string_view input) {
  static const auto columns = make_transaction_rule_features();
  std::optional<RulesEngine> engine;
  try {
    engine.emplace(load_rules(input, columns));
  } catch (const error&) {
    return;
  }
  EntityStore store;
  Transaction txn{"t", "u1", 5000.0, "USD", 0, 0, "m", 1, "Paris", "FR"};
  RuleHits hits;
  std::array<double, TransactionRuleFeatures::width> row{};
  for (const std::int64_t time : {std::int64_t{1'700'000'000'000}, std::int64_t{1'700'000'030'000}}) {
    txn.timestamp_ms = time;
    store.observe(txn, TransactionEntity{},
                  [&](const TransactionContext& c) { columns.write_row(c, std::span<double>(row)); });
    engine->evaluate(std::span<const double>(row), hits);
  }
  row.fill(std::numeric_limits<double>::quiet_NaN());
  engine->evaluate(std::span<const double>(row), hits);
  for (const auto& hit : hits.hits) (void)engine->describe(hit);
}

}  // namespace redflag::fuzz
