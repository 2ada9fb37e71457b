#include <redflag/transactions/transaction.hpp>

#include <doctest/doctest.h>

using redflag::Transaction;

TEST_CASE("local_hour and local_weekday apply the UTC offset") {
  // 2024-01-01 00:30 UTC was a Monday.
  const std::int64_t t = 1'704'069'000'000;
  CHECK(redflag::local_hour(t, 0) == 0);
  CHECK(redflag::local_weekday(t, 0) == 0);
  CHECK(redflag::local_hour(t, 120) == 2);
  // 60 minutes west: 23:30 on Sunday.
  CHECK(redflag::local_hour(t, -60) == 23);
  CHECK(redflag::local_weekday(t, -60) == 6);
  CHECK(redflag::local_weekday(0, 0) == 3);  // 1970-01-01, a Thursday
  CHECK(redflag::local_hour(0, -30) == 23);
}

TEST_CASE("to_entity_event hashes keys and rejects unknown currencies and offsets") {
  Transaction txn{"t1", "u1", 12.5, "EUR", 1'704'069'000'000, 60, "m1", 5411, "Paris", "FR"};
  const auto event = redflag::to_entity_event(txn);
  CHECK(event.entity == "u1");
  CHECK(event.value == 12.5);
  CHECK(event.local_hour == 1);
  CHECK(event.counterparty != 0);
  Transaction other_country = txn;
  other_country.country = "US";
  CHECK(redflag::to_entity_event(other_country).place != event.place);

  Transaction bad = txn;
  bad.currency = "XYZ";
  CHECK_THROWS_WITH_AS(redflag::to_entity_event(bad), doctest::Contains("unknown currency 'XYZ'"), redflag::data_error);
  bad = txn;
  bad.currency = "eur";
  CHECK_THROWS_AS(redflag::to_entity_event(bad), redflag::data_error);
  bad = txn;
  bad.utc_offset_minutes = 15 * 60;
  CHECK_THROWS_AS(redflag::to_entity_event(bad), redflag::data_error);
  bad = txn;
  bad.id.clear();
  CHECK_THROWS_AS(redflag::to_entity_event(bad), redflag::data_error);
  // A caller-supplied currency list.
  const std::array<std::string_view, 1> only_xyz = {"XYZ"};
  bad = txn;
  bad.currency = "XYZ";
  CHECK(redflag::to_entity_event(bad, only_xyz).value == 12.5);
}
