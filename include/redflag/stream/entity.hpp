#pragma once

// Entity state for any record: the host says, in a small description type,
// which of its record's fields feed an entity's state, and EntityStore keeps
// that state for a transaction's card, an AML customer or a portfolio account
// alike.
//
//   struct DepositEntity {                       // an EntityDescription<Deposit>
//     std::string_view key(const Deposit& d) const { return d.customer; }   // or an integer id
//     std::int64_t time_ms(const Deposit& d) const { return d.time_ms; }
//     double value(const Deposit& d) const { return d.amount; }
//     // optional: counterparty(d), place(d) (64-bit hashes, 0 = unknown; see hash_key),
//     //           local_hour(d), local_weekday(d) (default: from time_ms in UTC)
//   };
//   store.observe(deposit, DepositEntity{}, [&](const EntityContext<Deposit>& c) {
//     features.write_row(c, row);                // c.record, c.event, c.before
//   });
//
// `value` feeds the running mean and variance, the percentiles and the
// window sums; `counterparty` and `place` the two known-value sets, and
// `place` the distinct counts of the windows; hour and weekday the
// histograms. stream/entity_features.hpp has features over any EntityContext.

#include <redflag/core/checksum.hpp>
#include <redflag/stream/behaviour_profile.hpp>

#include <array>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace redflag {

namespace detail {

// Floor division for negative local times (before 1970 after the offset).
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace detail

// Local hour (0-23) and weekday (0 = Monday ... 6 = Sunday) of a UTC
// timestamp shifted by the entity's offset. 1970-01-01 was a Thursday.
inline int local_hour(std::int64_t timestamp_ms, std::int32_t utc_offset_minutes = 0) {
  const std::int64_t local_minutes = detail::floor_div(timestamp_ms, 60'000) + utc_offset_minutes;
  return static_cast<int>(detail::floor_div(local_minutes, 60) - detail::floor_div(local_minutes, 1440) * 24);
}

inline int local_weekday(std::int64_t timestamp_ms, std::int32_t utc_offset_minutes = 0) {
  const std::int64_t local_days = detail::floor_div(detail::floor_div(timestamp_ms, 60'000) + utc_offset_minutes, 1440);
  return static_cast<int>(((local_days + 3) % 7 + 7) % 7);
}

// A text key's hash for `counterparty` or `place`: never 0, which means unknown.
inline std::uint64_t hash_key(std::string_view text, std::uint64_t seed = 0) {
  if (text.empty()) return 0;
  const std::uint64_t hash = detail::Xxh64::hash(std::span<const char>(text.data(), text.size()), seed);
  return hash == 0 ? 1 : hash;
}

// An entity's key: text (anything that converts to std::string_view) or an integer id.
template <class K>
concept EntityKey = std::convertible_to<K, std::string_view> || std::integral<std::remove_cvref_t<K>>;

// How a host's record feeds its entity's state.
template <class D, class Record>
concept EntityDescription = requires(const D& description, const Record& record) {
  { description.key(record) } -> EntityKey;
  { description.time_ms(record) } -> std::convertible_to<std::int64_t>;
  { description.value(record) } -> std::convertible_to<double>;
};

// A key as text, for as long as this object lives: a view of a text key, the
// decimal digits of an integer one (so 42 and "42" are the same entity).
class EntityKeyText {
 public:
  template <EntityKey K>
  explicit EntityKeyText(const K& key) {
    if constexpr (std::integral<K>) {
      const auto [end, failure] = std::to_chars(digits_.data(), digits_.data() + digits_.size(), key);
      view_ = std::string_view(digits_.data(), static_cast<std::size_t>(end - digits_.data()));
    } else {
      view_ = std::string_view(key);
    }
  }
  EntityKeyText(const EntityKeyText&) = delete;
  EntityKeyText& operator=(const EntityKeyText&) = delete;

  [[nodiscard]] std::string_view view() const { return view_; }

 private:
  std::array<char, 24> digits_{};  // any 64-bit integer with its sign
  std::string_view view_;
};

// A record, its entity's event, and the entity's state before the record.
template <class Record>
struct EntityContext {
  const Record& record;
  const EntityEvent& event;
  const EntityState& before;
};

// The event `description` reads from `record`, for the entity `key` (its
// key as text, EntityKeyText); optional parts default to unknown (0) and to
// the UTC hour and weekday of the event time.
template <class Record, EntityDescription<Record> Description>
EntityEvent make_entity_event(const Description& description, const Record& record, std::string_view key) {
  EntityEvent event;
  event.entity = key;
  event.time_ms = static_cast<std::int64_t>(description.time_ms(record));
  event.value = static_cast<double>(description.value(record));
  if constexpr (requires { description.counterparty(record); }) {
    event.counterparty = static_cast<std::uint64_t>(description.counterparty(record));
  }
  if constexpr (requires { description.place(record); }) {
    event.place = static_cast<std::uint64_t>(description.place(record));
  }
  if constexpr (requires { description.local_hour(record); }) {
    event.local_hour = static_cast<int>(description.local_hour(record));
  } else {
    event.local_hour = local_hour(event.time_ms);
  }
  if constexpr (requires { description.local_weekday(record); }) {
    event.local_weekday = static_cast<int>(description.local_weekday(record));
  } else {
    event.local_weekday = local_weekday(event.time_ms);
  }
  return event;
}

}  // namespace redflag
