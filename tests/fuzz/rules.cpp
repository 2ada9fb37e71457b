// Rule files (JSON); a loaded engine then evaluates a transaction.

#include <redflag/rules/rule_config.hpp>
#include <redflag/stream/entity_store.hpp>

#include "fuzz_support.hpp"

namespace redflag::fuzz {

void rules(std::string_view input) {
  RulesEngine engine;
  try {
    engine = load_rules(input);
  } catch (const error&) {
    return;
  }
  EntityStore store;
  Transaction txn;
  txn.amount = 5000.0;
  RuleHits hits;
  for (const std::int64_t time : {std::int64_t{1'700'000'000'000}, std::int64_t{1'700'000'030'000}}) {
    EntityEvent event;
    event.entity = "u1";
    event.time_ms = time;
    event.amount = txn.amount;
    store.observe(event, [&](const EntityState& before) { engine.evaluate(TransactionContext{txn, event, before}, hits); });
  }
}

}  // namespace redflag::fuzz
