#pragma once

// Transaction: one card or account transaction, the record that redflag's
// transaction features, rules and risk decisions work on, and
// TransactionEntity, its EntityDescription: which fields feed the card's or
// user's state in an EntityStore.

#include <redflag/core/error.hpp>
#include <redflag/stream/entity.hpp>

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
  std::string currency;           // ISO 4217 code, e.g. "EUR"
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

// The entity is the transaction's user or card; the amount feeds the
// profile and the windows; the merchant and the city (hashed with the
// country, so Paris FR and Paris US differ) are the known-value sets, the
// city what velocity rules count distinct values of; hour and weekday are
// local to the entity's UTC offset.
struct TransactionEntity {
  [[nodiscard]] std::string_view key(const Transaction& t) const { return t.entity; }
  [[nodiscard]] std::int64_t time_ms(const Transaction& t) const { return t.timestamp_ms; }
  [[nodiscard]] double value(const Transaction& t) const { return t.amount; }
  [[nodiscard]] std::uint64_t counterparty(const Transaction& t) const { return hash_key(t.merchant); }
  [[nodiscard]] std::uint64_t place(const Transaction& t) const {
    return t.city.empty() ? 0 : hash_key(t.city, hash_key(t.country));
  }
  [[nodiscard]] int local_hour(const Transaction& t) const {
    return redflag::local_hour(t.timestamp_ms, t.utc_offset_minutes);
  }
  [[nodiscard]] int local_weekday(const Transaction& t) const {
    return redflag::local_weekday(t.timestamp_ms, t.utc_offset_minutes);
  }
};

// Checks what the EntityStore cannot know about (currency, UTC offset, ids,
// a positive amount) and builds the event TransactionEntity describes. Time
// and entity id are checked by EntityStore::observe. Throws data_error
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
        return c.size() == currency.size() &&
               (c.size() != 3 || (c[0] == currency[0] && c[1] == currency[1] && c[2] == currency[2])) &&
               (c.size() == 3 || c == currency);
      })) {
    fail("unknown currency '" + txn.currency + "'");
  }
  if (txn.utc_offset_minutes < -12 * 60 || txn.utc_offset_minutes > max_utc_offset_minutes) {
    fail("utc_offset_minutes must be in [-720, 840], got " + std::to_string(txn.utc_offset_minutes));
  }
  if (!(txn.amount > 0.0)) fail("amount must be finite and positive, got " + std::to_string(txn.amount));
  return make_entity_event(TransactionEntity{}, txn, txn.entity);
}

}  // namespace redflag
