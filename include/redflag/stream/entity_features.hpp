#pragma once

// Features over an entity's state: windowed and per-entity quantities as
// ordinary Feature columns, so rules, models and explanations read "events
// in the last minute" or "ratio to the entity's mean" like any other column.
//
//   auto columns = make_feature_set<EntityContext<Deposit>>(
//       EventValue("amount"), WindowCount("deposits_24h", std::chrono::hours(24)),
//       RatioToMean("amount_to_mean"), SecondsSinceLast("seconds_since_last"));
//
// Each works for any context with `event` (the EntityEvent) and `before` (the
// EntityState before the event): EntityContext<Record> for any record, or
// the TransactionContext. Windows are (t - span, t] and include the current
// event; the store must keep events that long (EntityStoreParams::
// window_horizon_ms >= span, and at most EntityState::window_capacity
// events: a busier entity's oldest events fall out of the window first).

#include <redflag/core/error.hpp>
#include <redflag/core/feature.hpp>
#include <redflag/stream/behaviour_profile.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

namespace redflag {

template <class C>
concept EntityContextLike = requires(const C& context) {
  { context.event } -> std::convertible_to<const EntityEvent&>;
  { context.before } -> std::convertible_to<const EntityState&>;
};

namespace detail {

// A one-column feature with a configurable name and phrase.
class EntityColumn {
 public:
  static constexpr std::size_t width = 1;

  EntityColumn(std::string name, ColumnPhrase phrase, std::string_view where)
      : name_(std::move(name)), phrase_(std::move(phrase)) {
    if (name_.empty()) raise<invalid_argument>(where, "empty column name");
  }
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const { return {{{name_, ColumnKind::numeric, phrase_}}}; }

 private:
  std::string name_;
  ColumnPhrase phrase_;
};

inline std::int64_t window_span(std::chrono::milliseconds span, std::string_view where) {
  if (span.count() <= 0) raise<invalid_argument>(where, "window span must be positive");
  return span.count();
}

}  // namespace detail

// Seconds since the entity's previous event at or before `event` (the
// window knows the exact one even for an event that arrived out of order);
// `no_history_seconds` for the entity's first event.
inline double seconds_since_last(const EntityEvent& event, const EntityState& before, double no_history_seconds) {
  const BehaviourProfile& p = before.profile;
  if (p.empty()) return no_history_seconds;
  std::int64_t previous = p.last_time_ms();
  if (const WindowEvent* latest = before.recent.latest_at_or_before(event.time_ms)) {
    previous = latest->time_ms;
  } else if (previous > event.time_ms) {
    previous = event.time_ms;  // only later events are known: treat as simultaneous
  }
  return static_cast<double>(event.time_ms - previous) / 1000.0;
}

// The event's value (a transaction's amount, a deposit).
struct EventValue : detail::EntityColumn {
  explicit EventValue(std::string name, ColumnPhrase phrase = {})
      : EntityColumn(std::move(name), std::move(phrase), "EventValue") {}
  template <EntityContextLike C>
  void extract(const C& c, std::span<double, 1> out) const {
    out[0] = c.event.value;
  }
};

// The event's local hour, 0-23.
struct LocalHour : detail::EntityColumn {
  explicit LocalHour(std::string name, ColumnPhrase phrase = {})
      : EntityColumn(std::move(name), std::move(phrase), "LocalHour") {}
  template <EntityContextLike C>
  void extract(const C& c, std::span<double, 1> out) const {
    out[0] = static_cast<double>(c.event.local_hour);
  }
};

// The entity's past events.
struct EventCount : detail::EntityColumn {
  explicit EventCount(std::string name, ColumnPhrase phrase = {})
      : EntityColumn(std::move(name), std::move(phrase), "EventCount") {}
  template <EntityContextLike C>
  void extract(const C& c, std::span<double, 1> out) const {
    out[0] = static_cast<double>(c.before.profile.count());
  }
};

// value / the entity's mean value; 1 without history or with a zero mean
// (nothing to compare with).
struct RatioToMean : detail::EntityColumn {
  explicit RatioToMean(std::string name, ColumnPhrase phrase = {})
      : EntityColumn(std::move(name), std::move(phrase), "RatioToMean") {}
  template <EntityContextLike C>
  void extract(const C& c, std::span<double, 1> out) const {
    const BehaviourProfile& p = c.before.profile;
    out[0] = p.empty() || p.mean_value() == 0.0 ? 1.0 : c.event.value / p.mean_value();
  }
};

// seconds_since_last() as a column.
struct SecondsSinceLast : detail::EntityColumn {
  double no_history_seconds;

  explicit SecondsSinceLast(std::string name, double no_history = 0.0, ColumnPhrase phrase = {})
      : EntityColumn(std::move(name), std::move(phrase), "SecondsSinceLast"), no_history_seconds(no_history) {
    if (!(no_history_seconds >= 0.0 && std::isfinite(no_history_seconds))) {
      detail::raise<invalid_argument>("SecondsSinceLast", "no_history_seconds must be finite and >= 0");
    }
  }
  template <EntityContextLike C>
  void extract(const C& c, std::span<double, 1> out) const {
    out[0] = seconds_since_last(c.event, c.before, no_history_seconds);
  }
};

// Events of the entity in (t - span, t], the current one included.
struct WindowCount : detail::EntityColumn {
  std::int64_t span_ms;

  WindowCount(std::string name, std::chrono::milliseconds span, ColumnPhrase phrase = {})
      : EntityColumn(std::move(name), std::move(phrase), "WindowCount"),
        span_ms(detail::window_span(span, "WindowCount")) {}
  template <EntityContextLike C>
  void extract(const C& c, std::span<double, 1> out) const {
    out[0] = static_cast<double>(c.before.recent.count(c.event.time_ms, span_ms) + 1);
  }
};

// Sum of the entity's event values in (t - span, t], the current one included.
struct WindowSum : detail::EntityColumn {
  std::int64_t span_ms;

  WindowSum(std::string name, std::chrono::milliseconds span, ColumnPhrase phrase = {})
      : EntityColumn(std::move(name), std::move(phrase), "WindowSum"),
        span_ms(detail::window_span(span, "WindowSum")) {}
  template <EntityContextLike C>
  void extract(const C& c, std::span<double, 1> out) const {
    const WindowEvent current = to_window_event(c.event);
    out[0] = c.before.recent.stats(c.event.time_ms, span_ms, &current).sum;
  }
};

// Distinct places (EntityEvent::place) of the entity's events in (t - span, t],
// the current one included: cities for a card, countries for a customer.
struct WindowDistinctPlaces : detail::EntityColumn {
  std::int64_t span_ms;

  WindowDistinctPlaces(std::string name, std::chrono::milliseconds span, ColumnPhrase phrase = {})
      : EntityColumn(std::move(name), std::move(phrase), "WindowDistinctPlaces"),
        span_ms(detail::window_span(span, "WindowDistinctPlaces")) {}
  template <EntityContextLike C>
  void extract(const C& c, std::span<double, 1> out) const {
    const WindowEvent current = to_window_event(c.event);
    out[0] = static_cast<double>(c.before.recent.stats(c.event.time_ms, span_ms, &current).distinct_keys);
  }
};

}  // namespace redflag
