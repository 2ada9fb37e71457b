#pragma once

// Per-entity behaviour: what one user, card or account usually does.
//
// BehaviourProfile keeps lifetime aggregates of an entity's events in
// bounded memory: Welford's running mean and variance of the value, a KLL
// sketch of values (for percentiles), hour-of-day and day-of-week
// histograms, bounded sets of known counterparties and places with their
// counts, and the first and last event times. EntityState adds a
// SlidingWindow of the most recent events for event-time window aggregates.
// Both are updated from an EntityEvent, the record-independent view of a
// host's record (a transaction, a deposit, an account valuation) with its
// keys already hashed; stream/entity.hpp makes one from any record.

#include <redflag/core/error.hpp>
#include <redflag/stream/quantile_sketch.hpp>
#include <redflag/stream/sliding_window.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace redflag {

// One event of an entity. `value` feeds the running statistics, the
// percentiles and the window sums (a transaction's amount, a deposit, a cash
// weight); `counterparty` and `place` are hashes of the two known-value sets
// (merchant and city for a card, counterparty bank and country for AML;
// 0 = unknown), and `place` is also what windows count distinct values of.
// Hour and weekday are in the entity's local time (weekday 0 = Monday).
struct EntityEvent {
  std::string_view entity;
  std::int64_t time_ms = 0;  // event time, milliseconds since the Unix epoch (UTC)
  double value = 0.0;
  std::uint64_t counterparty = 0;
  std::uint64_t place = 0;
  int local_hour = 0;
  int local_weekday = 0;
};

// What the sliding window keeps of an event: time, value, and the place
// (its hash's low 32 bits) for distinct-place counts.
inline WindowEvent to_window_event(const EntityEvent& event) {
  return {event.time_ms, static_cast<float>(event.value), static_cast<std::uint32_t>(event.place)};
}

// The N most frequent keys seen, with their counts. A new key replaces the
// least frequent entry (the earliest such slot on ties) and starts at 1, so a
// key that keeps coming back is kept and a one-off does not push out a
// regular merchant for long. count() of an unknown key is 0.
template <std::size_t N>
class FrequentSet {
 public:
  static constexpr std::size_t capacity = N;

  [[nodiscard]] std::uint32_t count(std::uint64_t key) const {
    for (std::size_t i = 0; i < size_; ++i) {
      if (keys_[i] == key) return counts_[i];
    }
    return 0;
  }
  [[nodiscard]] bool contains(std::uint64_t key) const { return count(key) > 0; }
  [[nodiscard]] std::size_t size() const { return size_; }

  void add(std::uint64_t key) {
    for (std::size_t i = 0; i < size_; ++i) {
      if (keys_[i] == key) {
        if (counts_[i] != std::numeric_limits<std::uint32_t>::max()) ++counts_[i];
        return;
      }
    }
    std::size_t slot = size_;
    if (size_ == N) {
      slot = static_cast<std::size_t>(std::min_element(counts_.begin(), counts_.end()) - counts_.begin());
    } else {
      ++size_;
    }
    keys_[slot] = key;
    counts_[slot] = 1;
  }

  friend bool operator==(const FrequentSet&, const FrequentSet&) = default;

  template <class Archive>
  void serialize(Archive& archive) {
    std::uint32_t size = static_cast<std::uint32_t>(size_);
    archive(size, keys_, counts_);
    if constexpr (Archive::is_loading::value) {
      if (size > N) detail::raise<serialization_error>("FrequentSet::serialize", "more keys than the capacity");
      size_ = size;
    }
  }

 private:
  std::array<std::uint64_t, N> keys_{};
  std::array<std::uint32_t, N> counts_{};
  std::size_t size_ = 0;
};

class BehaviourProfile {
 public:
  static constexpr std::size_t counterparty_capacity = 8;
  static constexpr std::size_t place_capacity = 4;

  BehaviourProfile() = default;
  explicit BehaviourProfile(std::uint32_t sketch_k) : values_(sketch_k) {}

  [[nodiscard]] std::uint64_t count() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }
  [[nodiscard]] double mean_value() const { return mean_; }
  // Sample variance (n - 1); 0 below two events.
  [[nodiscard]] double variance_value() const { return count_ < 2 ? 0.0 : m2_ / static_cast<double>(count_ - 1); }
  [[nodiscard]] double stddev_value() const { return std::sqrt(variance_value()); }
  // Estimated fraction of past values <= value (KLL; exact up to k events).
  [[nodiscard]] double value_rank(double value) const { return values_.rank(value); }
  [[nodiscard]] const KllSketch& value_sketch() const { return values_; }
  [[nodiscard]] const std::array<std::uint32_t, 24>& hour_histogram() const { return hours_; }
  [[nodiscard]] const std::array<std::uint32_t, 7>& weekday_histogram() const { return weekdays_; }
  [[nodiscard]] const FrequentSet<counterparty_capacity>& counterparties() const { return counterparties_; }
  [[nodiscard]] const FrequentSet<place_capacity>& places() const { return places_; }
  [[nodiscard]] std::int64_t first_time_ms() const { return first_ms_; }
  [[nodiscard]] std::int64_t last_time_ms() const { return last_ms_; }

  // Every aggregate here is order-independent except last_time_ms (the
  // latest event time, not the latest arrival), so an event that arrives out
  // of order leaves the same profile as in-order arrival.
  void update(const EntityEvent& event) {
    ++count_;
    const double delta = event.value - mean_;
    mean_ += delta / static_cast<double>(count_);
    m2_ += delta * (event.value - mean_);
    values_.update(static_cast<float>(event.value));
    ++hours_[static_cast<std::size_t>(event.local_hour)];
    ++weekdays_[static_cast<std::size_t>(event.local_weekday)];
    if (event.counterparty != 0) counterparties_.add(event.counterparty);
    if (event.place != 0) places_.add(event.place);
    if (count_ == 1) {
      first_ms_ = last_ms_ = event.time_ms;
    } else {
      first_ms_ = std::min(first_ms_, event.time_ms);
      last_ms_ = std::max(last_ms_, event.time_ms);
    }
  }

  friend bool operator==(const BehaviourProfile&, const BehaviourProfile&) = default;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(count_, mean_, m2_, values_, hours_, weekdays_, counterparties_, places_, first_ms_, last_ms_);
    if constexpr (Archive::is_loading::value) {
      constexpr std::string_view where = "BehaviourProfile::serialize";
      std::uint64_t hour_total = 0;
      for (const auto c : hours_) hour_total += c;
      if (values_.count() != count_ || hour_total != count_) {
        detail::raise<serialization_error>(where, "event counts disagree");
      }
      if (!valid_event_time(first_ms_) || !valid_event_time(last_ms_)) {
        detail::raise<serialization_error>(where, "first or last event time is out of range");
      }
      if (!std::isfinite(mean_) || !(m2_ >= 0.0) || first_ms_ > last_ms_) {
        detail::raise<serialization_error>(where, "invalid running statistics");
      }
    }
  }

 private:
  std::uint64_t count_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;
  KllSketch values_;
  std::array<std::uint32_t, 24> hours_{};
  std::array<std::uint32_t, 7> weekdays_{};
  FrequentSet<counterparty_capacity> counterparties_;
  FrequentSet<place_capacity> places_;
  std::int64_t first_ms_ = 0;
  std::int64_t last_ms_ = 0;
};

// Everything the store keeps per entity.
struct EntityState {
  static constexpr std::size_t window_capacity = 16;

  BehaviourProfile profile;
  SlidingWindow<window_capacity> recent;

  // Window aggregates over (time_ms - length_ms, time_ms].
  [[nodiscard]] WindowStats window(std::int64_t time_ms, std::int64_t length_ms) const {
    return recent.stats(time_ms, length_ms);
  }

  friend bool operator==(const EntityState&, const EntityState&) = default;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(profile, recent);
  }
};

}  // namespace redflag
