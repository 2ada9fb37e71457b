#include <redflag/stream/entity_features.hpp>
#include <redflag/stream/entity_store.hpp>

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

using redflag::EntityContext;
using redflag::EntityStore;

namespace {

// A portfolio account's daily valuation: an integer id, a cash weight that
// may be zero or negative, no counterparty, the custodian's country.
struct Valuation {
  std::int64_t account = 0;
  std::int64_t day = 0;  // days since the Unix epoch
  double cash_weight = 0.0;
  std::string country;
};

struct AccountEntity {
  std::int64_t key(const Valuation& v) const { return v.account; }
  std::int64_t time_ms(const Valuation& v) const { return v.day * 86'400'000; }
  double value(const Valuation& v) const { return v.cash_weight; }
  std::uint64_t place(const Valuation& v) const { return redflag::hash_key(v.country); }
};

// A deposit keyed by a customer name, with every optional part.
struct Deposit {
  std::string customer;
  std::int64_t time_ms = 0;
  double amount = 0.0;
  std::string bank;
  int hour = 0;
};

struct DepositEntity {
  std::string_view key(const Deposit& d) const { return d.customer; }
  std::int64_t time_ms(const Deposit& d) const { return d.time_ms; }
  double value(const Deposit& d) const { return d.amount; }
  std::uint64_t counterparty(const Deposit& d) const { return redflag::hash_key(d.bank); }
  int local_hour(const Deposit& d) const { return d.hour; }
};

struct NoValue {
  std::int64_t key(const Valuation& v) const { return v.account; }
  std::int64_t time_ms(const Valuation& v) const { return v.day; }
};

struct TextValue {
  std::int64_t key(const Valuation& v) const { return v.account; }
  std::int64_t time_ms(const Valuation& v) const { return v.day; }
  std::string value(const Valuation& v) const { return v.country; }
};

struct ObjectKey {
  std::vector<int> key(const Valuation&) const { return {}; }
  std::int64_t time_ms(const Valuation& v) const { return v.day; }
  double value(const Valuation& v) const { return v.cash_weight; }
};

constexpr std::int64_t day0 = 19'723;  // 2024-01-01

}  // namespace

static_assert(redflag::EntityDescription<AccountEntity, Valuation>);
static_assert(redflag::EntityDescription<DepositEntity, Deposit>);
static_assert(!redflag::EntityDescription<NoValue, Valuation>);
static_assert(!redflag::EntityDescription<TextValue, Valuation>);
static_assert(!redflag::EntityDescription<ObjectKey, Valuation>);
static_assert(!redflag::EntityDescription<AccountEntity, Deposit>);

TEST_CASE("An account record keyed by an integer keeps its own state, zero and negative values included") {
  EntityStore store({.window_horizon_ms = 7 * 86'400'000LL});
  const auto columns = redflag::make_feature_set<EntityContext<Valuation>>(
      redflag::EventValue("cash_weight"), redflag::RatioToMean("cash_to_mean"),
      redflag::WindowSum("cash_7d", std::chrono::days(7)), redflag::EventCount("valuations"));
  std::vector<std::array<double, 4>> rows;
  const std::vector<Valuation> valuations = {
      {42, day0, 0.05, "LU"}, {42, day0 + 1, 0.0, "LU"}, {7, day0 + 1, -0.02, "IE"}, {42, day0 + 2, 0.25, "LU"}};
  for (const Valuation& v : valuations) {
    std::array<double, 4> row{};
    const auto result = store.observe(v, AccountEntity{}, [&](const EntityContext<Valuation>& c) {
      CHECK(&c.record == &v);
      CHECK(c.event.local_hour == 0);  // no local_hour(): the UTC hour of the event time
      CHECK(c.event.local_weekday == (v.day == day0 ? 0 : (v.day - day0) % 7));  // 2024-01-01 was a Monday
      columns.write_row(c, std::span<double>(row));
    });
    CHECK(result.status == redflag::ObserveStatus::applied);
    rows.push_back(row);
  }
  CHECK(store.size() == 2);
  CHECK(store.contains("42"));  // an integer key is its decimal digits
  CHECK(store.find("42")->profile.count() == 3);
  CHECK(rows[3][0] == 0.25);
  CHECK(rows[3][1] == doctest::Approx(0.25 / 0.025));  // mean of 0.05 and 0
  CHECK(rows[3][2] == doctest::Approx(0.30));          // 0.05 + 0 + 0.25 within 7 days, this one included
  CHECK(rows[3][3] == 2.0);
  CHECK(rows[2][1] == 1.0);  // no history: ratio 1
}

TEST_CASE("Optional parts of a description feed the known-value sets and the hour histogram") {
  EntityStore store;
  const std::vector<Deposit> deposits = {{"ann", 1'704'067'200'000, 100.0, "ZZ Bank", 23},
                                         {"ann", 1'704'070'800'000, 150.0, "ZZ Bank", 3}};
  for (const Deposit& d : deposits) store.observe(d, DepositEntity{}, [](const EntityContext<Deposit>&) {});
  const auto state = store.find("ann");
  REQUIRE(state);
  CHECK(state->profile.counterparties().count(redflag::hash_key("ZZ Bank")) == 2);
  CHECK(state->profile.hour_histogram()[23] == 1);
  CHECK(state->profile.hour_histogram()[3] == 1);
  CHECK(redflag::hash_key("") == 0);  // empty text: unknown
}

TEST_CASE("A record the store rejects changes nothing and names the entity") {
  EntityStore store;
  const Valuation bad{42, day0, std::numeric_limits<double>::quiet_NaN(), "LU"};
  bool visited = false;
  CHECK_THROWS_WITH_AS(store.observe(bad, AccountEntity{}, [&](const EntityContext<Valuation>&) { visited = true; }),
                       doctest::Contains("entity '42': value must be finite"), redflag::data_error);
  CHECK_FALSE(visited);
  CHECK(store.size() == 0);
}
