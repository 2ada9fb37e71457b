#include <redflag/transactions/transaction_simulator.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

using redflag::FraudPattern;
using redflag::SimulatorParams;
using redflag::TransactionSimulator;

TEST_CASE("TransactionSimulator is deterministic, sorted and labels every fraud pattern") {
  SimulatorParams params{.users = 200, .transactions = 5'000, .fraud_rate = 0.05, .seed = 3};
  const auto stream = TransactionSimulator(params).generate();
  const auto again = TransactionSimulator(params).generate();
  REQUIRE(stream.transactions.size() == 5'000);
  REQUIRE(stream.patterns.size() == 5'000);
  for (std::size_t i = 0; i < stream.transactions.size(); ++i) {
    CHECK(stream.transactions[i].timestamp_ms == again.transactions[i].timestamp_ms);
    CHECK(stream.transactions[i].amount == again.transactions[i].amount);
    CHECK(stream.transactions[i].entity == again.transactions[i].entity);
  }
  CHECK(std::is_sorted(stream.transactions.begin(), stream.transactions.end(),
                       [](const auto& a, const auto& b) { return a.timestamp_ms < b.timestamp_ms; }));
  std::map<FraudPattern, int> counts;
  for (const auto pattern : stream.patterns) ++counts[pattern];
  CHECK(counts[FraudPattern::none] == 4'750);
  CHECK(counts[FraudPattern::card_testing] > 0);
  CHECK(counts[FraudPattern::account_takeover] > 0);
  CHECK(counts[FraudPattern::large_amount] > 0);
  CHECK(counts[FraudPattern::velocity_multi_city] > 0);
  CHECK(stream.labels().sum() == 250);
  for (const auto& txn : stream.transactions) {
    CHECK(txn.amount > 0.0);
    CHECK_NOTHROW((void)redflag::to_entity_event(txn));
  }
  params.seed = 4;
  CHECK(TransactionSimulator(params).generate().transactions[0].timestamp_ms != stream.transactions[0].timestamp_ms);
}

TEST_CASE("TransactionSimulator patterns have their documented shape") {
  const auto stream =
      TransactionSimulator({.users = 100, .transactions = 4'000, .fraud_rate = 0.1, .seed = 1}).generate();
  for (std::size_t i = 0; i < stream.transactions.size(); ++i) {
    const auto& txn = stream.transactions[i];
    switch (stream.patterns[i]) {
      case FraudPattern::card_testing: CHECK(txn.amount <= 3.02); break;
      case FraudPattern::account_takeover: {
        const int hour = redflag::local_hour(txn.timestamp_ms, txn.utc_offset_minutes);
        CHECK(hour >= 2);
        CHECK(hour <= 5);
        break;
      }
      case FraudPattern::large_amount: CHECK(txn.amount >= 2'000.0); break;
      default: break;
    }
  }
}

TEST_CASE("TransactionSimulator rejects bad parameters") {
  CHECK_THROWS_AS(TransactionSimulator({.users = 0}), redflag::invalid_argument);
  CHECK_THROWS_AS(TransactionSimulator({.fraud_rate = 0.7}), redflag::invalid_argument);
  CHECK_THROWS_AS(TransactionSimulator({.cities = 2}), redflag::invalid_argument);
}
