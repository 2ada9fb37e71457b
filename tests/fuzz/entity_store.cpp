// EntityStore snapshots; a restored store then takes events whose
// transaction features read the restored state.

#include <redflag/stream/entity_store.hpp>
#include <redflag/transactions/transaction_features.hpp>

#include "fuzz_support.hpp"

namespace redflag::fuzz {
namespace {

void observe(EntityStore& store) {
  const auto features = make_transaction_features();
  const Transaction txn{};
  for (const std::string_view entity : {"a", "b", "u1", "u000017"}) {
    for (const std::int64_t time : {std::int64_t{0}, std::int64_t{1'700'000'000'000}, max_event_time_ms}) {
      EntityEvent event;
      event.entity = entity;
      event.time_ms = time;
      event.value = 10.0;
      try {
        store.observe(event, [&](const EntityState& before) {
          (void)features.transform_one<double>(TransactionContext{txn, event, before});
        });
      } catch (const error&) {
      }
    }
  }
  (void)store.evict_idle(max_event_time_ms);
  save_again(store);
}

}  // namespace

void entity_store(std::string_view input) { load_and_use<EntityStore>(input, observe); }

}  // namespace redflag::fuzz
