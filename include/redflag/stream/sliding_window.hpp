#pragma once

// SlidingWindow: the most recent events of one entity, for event-time window
// aggregates ("transactions in the last minute", "distinct cities in the last minute").
//
// A fixed-capacity ring kept sorted by event time, so updates never allocate
// and an event that arrives out of order is inserted where it belongs. It
// keeps the newest `Capacity` events no older than the horizon passed to
// insert(); counts over a window that held more events than that saturate at
// `Capacity` (documented in docs/entity-state.md).

#include <redflag/core/error.hpp>

#include <cereal/cereal.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

namespace redflag {

// Event times are milliseconds since the Unix epoch in [0, max_event_time_ms]
// (up to 9999-12-31T23:59:59.999Z): differences of two such times, or of one
// and any window length, never overflow.
inline constexpr std::int64_t max_event_time_ms = 253'402'300'799'999;

[[nodiscard]] constexpr bool valid_event_time(std::int64_t time_ms) {
  return time_ms >= 0 && time_ms <= max_event_time_ms;
}

struct WindowEvent {
  std::int64_t time_ms = 0;
  float value = 0.0f;     // the event's value (an amount)
  std::uint32_t key = 0;  // the place's hash, for distinct counts

  friend bool operator==(const WindowEvent&, const WindowEvent&) = default;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(time_ms, value, key);
  }
};

// Aggregates over the events with time in (end - length, end].
struct WindowStats {
  std::size_t count = 0;
  double sum = 0.0;
  double min = 0.0;  // 0 when count == 0
  double max = 0.0;
  std::size_t distinct_keys = 0;
};

template <std::size_t Capacity>
class SlidingWindow {
  static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "Capacity must be a power of two");

 public:
  static constexpr std::size_t capacity = Capacity;

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  // i-th event in time order (0 = oldest).
  [[nodiscard]] const WindowEvent& operator[](std::size_t i) const { return events_[(head_ + i) & mask]; }
  [[nodiscard]] const WindowEvent& newest() const { return (*this)[size_ - 1]; }

  // Inserts in time order (after events with the same time), then drops events
  // older than `horizon_ms` before the newest one. When full, the oldest event
  // makes room; an event older than every kept one is then not kept.
  void insert(const WindowEvent& event, std::int64_t horizon_ms) {
    std::size_t position = size_;
    while (position > 0 && (*this)[position - 1].time_ms > event.time_ms) --position;
    if (size_ == Capacity) {
      if (position == 0) return;
      head_ = (head_ + 1) & mask;
      --size_;
      --position;
    }
    for (std::size_t i = size_; i > position; --i) slot(i) = slot(i - 1);
    slot(position) = event;
    ++size_;
    const std::int64_t oldest_kept = newest().time_ms - horizon_ms;
    while (size_ > 0 && (*this)[0].time_ms <= oldest_kept) {
      head_ = (head_ + 1) & mask;
      --size_;
    }
  }

  // Aggregates over (end_ms - length_ms, end_ms]. Events after end_ms (seen
  // before a late event) are not counted.
  [[nodiscard]] WindowStats stats(std::int64_t end_ms, std::int64_t length_ms) const {
    return stats(end_ms, length_ms, nullptr);
  }

  // As stats(), counting `extra` too (an event not yet inserted, such as
  // the one being scored) if it falls in the window.
  [[nodiscard]] WindowStats stats(std::int64_t end_ms, std::int64_t length_ms, const WindowEvent* extra) const {
    WindowStats out;
    std::array<std::uint32_t, Capacity + 1> keys{};
    auto add = [&](const WindowEvent& event) {
      const double value = event.value;
      out.min = out.count == 0 ? value : std::min(out.min, value);
      out.max = out.count == 0 ? value : std::max(out.max, value);
      out.sum += value;
      ++out.count;
      if (std::find(keys.begin(), keys.begin() + out.distinct_keys, event.key) == keys.begin() + out.distinct_keys) {
        keys[out.distinct_keys++] = event.key;
      }
    };
    if (extra != nullptr && extra->time_ms <= end_ms && extra->time_ms > end_ms - length_ms) add(*extra);
    for (std::size_t i = size_; i > 0; --i) {
      const WindowEvent& event = (*this)[i - 1];
      if (event.time_ms > end_ms) continue;
      if (event.time_ms <= end_ms - length_ms) break;
      add(event);
    }
    return out;
  }

  // stats(end_ms, length_ms).count without the other aggregates.
  [[nodiscard]] std::size_t count(std::int64_t end_ms, std::int64_t length_ms) const {
    std::size_t out = 0;
    for (std::size_t i = size_; i > 0; --i) {
      const std::int64_t time = (*this)[i - 1].time_ms;
      if (time > end_ms) continue;
      if (time <= end_ms - length_ms) break;
      ++out;
    }
    return out;
  }

  // The newest event at or before time_ms, or nullptr.
  [[nodiscard]] const WindowEvent* latest_at_or_before(std::int64_t time_ms) const {
    for (std::size_t i = size_; i > 0; --i) {
      if ((*this)[i - 1].time_ms <= time_ms) return &(*this)[i - 1];
    }
    return nullptr;
  }

  friend bool operator==(const SlidingWindow& a, const SlidingWindow& b) {
    if (a.size_ != b.size_) return false;
    for (std::size_t i = 0; i < a.size_; ++i) {
      if (!(a[i] == b[i])) return false;
    }
    return true;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    std::uint32_t count = static_cast<std::uint32_t>(size_);
    archive(count);
    if constexpr (Archive::is_loading::value) {
      if (count > Capacity) {
        detail::raise<serialization_error>(
            "SlidingWindow::serialize",
            "window holds " + std::to_string(count) + " events, capacity is " + std::to_string(Capacity));
      }
      head_ = 0;
      size_ = 0;
      std::int64_t previous = std::numeric_limits<std::int64_t>::min();
      for (std::uint32_t i = 0; i < count; ++i) {
        WindowEvent event;
        archive(event);
        if (!valid_event_time(event.time_ms)) {
          detail::raise<serialization_error>(
              "SlidingWindow::serialize", "window event time " + std::to_string(event.time_ms) + " ms is out of range");
        }
        if (event.time_ms < previous) {
          detail::raise<serialization_error>("SlidingWindow::serialize", "window events are not in time order");
        }
        previous = event.time_ms;
        events_[size_++] = event;
      }
    } else {
      for (std::size_t i = 0; i < size_; ++i) archive(const_cast<WindowEvent&>((*this)[i]));
    }
  }

 private:
  static constexpr std::size_t mask = Capacity - 1;
  WindowEvent& slot(std::size_t i) { return events_[(head_ + i) & mask]; }

  std::array<WindowEvent, Capacity> events_{};
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace redflag
