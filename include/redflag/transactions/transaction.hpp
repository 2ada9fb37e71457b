#pragma once

// Transaction: one card or account transaction, the record that redflag's
// transaction features, rules and risk decisions work on, and its
// conversion to the EntityEvent that an EntityStore keeps state from.

#include <redflag/core/checksum.hpp>
#include <redflag/core/error.hpp>
#include <redflag/stream/behaviour_profile.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace redflag {

struct Transaction {
  std::string id;
  std::string entity;  // user, card or account the state is kept for
  double amount = 0.0;
  std::string currency;        // ISO 4217 code, e.g. "EUR"
  std::int64_t timestamp_ms = 0;  // milliseconds since the Unix epoch, UTC
  // Offset of the entity's local time from UTC, for hour-of-day rules and
  // features ("02:00-05:00 local time").
  std::int32_t utc_offset_minutes = 0;
  std::string merchant;
  std::uint16_t merchant_category = 0;  // ISO 18245 merchant category code
  std::string city;
  std::string country;  // ISO 3166-1 alpha-2
};

// The ISO 4217 codes accepted by default: the currencies of the world's
// largest card markets. Pass your own list to to_entity_event() to accept more.
inline constexpr std::array<std::string_view, 32> default_currencies = {
    "AED", "ARS", "AUD", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR",
    "ILS", "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SAR", "SEK", "SGD", "THB", "TRY", "USD"};

inline constexpr std::int32_t max_utc_offset_minutes = 14 * 60;  // UTC+14 (Kiribati) / UTC-12

namespace detail {

inline std::uint64_t hash_text(std::string_view text, std::uint64_t seed = 0) {
  return Xxh64::hash(std::span<const char>(text.data(), text.size()), seed);
}

// 0 means "unknown" to the profile, so a real hash of 0 is moved to 1.
inline std::uint64_t nonzero(std::uint64_t hash) { return hash == 0 ? 1 : hash; }

// Floor division for negative local times (before 1970 after the offset).
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace detail

// Local hour (0-23) and weekday (0 = Monday ... 6 = Sunday) of a UTC
// timestamp shifted by the entity's offset. 1970-01-01 was a Thursday.
inline int local_hour(std::int64_t timestamp_ms, std::int32_t utc_offset_minutes) {
  const std::int64_t local_minutes = detail::floor_div(timestamp_ms, 60'000) + utc_offset_minutes;
  return static_cast<int>(detail::floor_div(local_minutes, 60) - detail::floor_div(local_minutes, 1440) * 24);
}

inline int local_weekday(std::int64_t timestamp_ms, std::int32_t utc_offset_minutes) {
  const std::int64_t local_days = detail::floor_div(detail::floor_div(timestamp_ms, 60'000) + utc_offset_minutes, 1440);
  return static_cast<int>(((local_days + 3) % 7 + 7) % 7);
}

// Checks what the EntityStore cannot know about (currency, UTC offset, ids)
// and builds the event: merchant and city hashed (the city together with the
// country, so Paris FR and Paris US differ), local hour and weekday. Amount,
// time and entity id are checked by EntityStore::observe. Throws data_error
// naming the transaction and the field.
inline EntityEvent to_entity_event(const Transaction& txn,
                                   std::span<const std::string_view> currencies = default_currencies) {
  constexpr std::string_view where = "to_entity_event";
  auto fail = [&](const std::string& what) {
    detail::raise<data_error>(where, "transaction '" + txn.id + "': " + what);
  };
  if (txn.id.empty()) detail::raise<data_error>(where, "transaction with an empty id");
  const std::string_view currency = txn.currency;
  if (std::none_of(currencies.begin(), currencies.end(), [&](std::string_view c) {
        // Codes are three letters: compare them inline rather than through memcmp.
        return c.size() == currency.size() && (c.size() != 3 || (c[0] == currency[0] && c[1] == currency[1] &&
                                                                 c[2] == currency[2])) &&
               (c.size() == 3 || c == currency);
      })) {
    fail("unknown currency '" + txn.currency + "'");
  }
  if (txn.utc_offset_minutes < -12 * 60 || txn.utc_offset_minutes > max_utc_offset_minutes) {
    fail("utc_offset_minutes must be in [-720, 840], got " + std::to_string(txn.utc_offset_minutes));
  }
  EntityEvent event;
  event.entity = txn.entity;
  event.time_ms = txn.timestamp_ms;
  event.amount = txn.amount;
  event.merchant = txn.merchant.empty() ? 0 : detail::nonzero(detail::hash_text(txn.merchant));
  event.city = txn.city.empty() ? 0 : detail::nonzero(detail::hash_text(txn.city, detail::hash_text(txn.country)));
  event.local_hour = local_hour(txn.timestamp_ms, txn.utc_offset_minutes);
  event.local_weekday = local_weekday(txn.timestamp_ms, txn.utc_offset_minutes);
  return event;
}

}  // namespace redflag
