#pragma once

// KllSketch: a bounded-memory quantile sketch of a stream of numbers.
//
// Karnin, Lang & Liberty, "Optimal Quantile Approximation in Streams", FOCS
// 2016. Items live in a hierarchy of compactors: level h holds items of
// weight 2^h. When the sketch exceeds its capacity, the lowest full level is
// sorted and every other item (odd or even positions, by a coin flip) moves
// up one level with double weight; the rest are discarded. Level capacities
// shrink geometrically (factor 2/3) from the top level, so memory stays
// O(k) items whatever the stream length, and the rank error is about
// 1.7 / k with high probability (k = 200 gives about 1%).
//
// All levels share one buffer (level 0 first), so reading the sketch costs
// one heap access, not one per level: per-entity sketches are read on every
// transaction.
//
// The coin comes from a counter-based stream owned by the sketch (SplitMix64
// from a fixed seed), so the same items in the same order give the same
// sketch bit for bit, on every platform and after a save/load round trip.
// Until the first compaction (n <= k) the sketch is exact.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag {

class KllSketch {
 public:
  static constexpr std::uint32_t default_k = 32;
  static constexpr std::uint32_t min_k = 8;
  // Keeps every item offset within 16 bits (at most about 3k + 2 * levels items).
  static constexpr std::uint32_t max_k = 16384;
  // With k >= 8, 40 levels hold more than 8 * 2^39 items.
  static constexpr std::size_t max_levels = 40;

  KllSketch() : KllSketch(default_k) {}
  explicit KllSketch(std::uint32_t k) : k_(k) {
    if (k < min_k || k > max_k) {
      detail::raise<invalid_argument>(
          "KllSketch::KllSketch",
          "k must be in [" + std::to_string(min_k) + ", " + std::to_string(max_k) + "], got " + std::to_string(k));
    }
    capacity_ = static_cast<std::uint32_t>(total_capacity());
  }

  [[nodiscard]] std::uint32_t k() const { return k_; }
  [[nodiscard]] std::uint64_t count() const { return n_; }
  [[nodiscard]] bool empty() const { return n_ == 0; }
  [[nodiscard]] std::size_t level_count() const { return levels_; }

  // Items currently retained (the memory bound is about 3k + 2 * levels).
  [[nodiscard]] std::size_t retained() const { return items_.size(); }

  // The retained items, level by level (levels unordered inside).
  [[nodiscard]] std::span<const float> items() const { return items_; }

  // Heap bytes held by the item buffer (capacity, not size).
  [[nodiscard]] std::size_t heap_bytes() const { return items_.capacity() * sizeof(float); }

  // NaN is rejected: it has no rank.
  void update(float value) {
    if (std::isnan(value)) detail::raise<invalid_argument>("KllSketch::update", "value is NaN");
    // Level 0 is unordered: append at its end, in front of level 1.
    items_.insert(items_.begin() + starts_[1], value);
    for (std::size_t h = 1; h <= levels_; ++h) ++starts_[h];
    ++n_;
    if (items_.size() > capacity_) compress();
  }

  // Estimated fraction of items <= value, in [0, 1]; 0 when empty.
  [[nodiscard]] double rank(double value) const {
    if (n_ == 0) return 0.0;
    std::uint64_t weight_at_or_below = 0;
    for (std::size_t h = 0; h < levels_; ++h) {
      std::uint64_t at_or_below = 0;
      for (std::size_t i = starts_[h]; i < starts_[h + 1]; ++i) {
        at_or_below += static_cast<double>(items_[i]) <= value ? 1u : 0u;
      }
      weight_at_or_below += at_or_below << h;
    }
    // Compaction turns two items of weight w into one of weight 2w, so the
    // retained weights always add up to the item count.
    return static_cast<double>(weight_at_or_below) / static_cast<double>(n_);
  }

  // Smallest retained item whose estimated rank is >= q (q in [0, 1]).
  [[nodiscard]] double quantile(double q) const {
    if (!(q >= 0.0 && q <= 1.0)) {
      detail::raise<invalid_argument>("KllSketch::quantile", "q must be in [0, 1]");
    }
    if (n_ == 0) detail::raise<invalid_argument>("KllSketch::quantile", "the sketch is empty");
    std::vector<std::pair<float, std::uint64_t>> weighted;
    weighted.reserve(items_.size());
    for (std::size_t h = 0; h < levels_; ++h) {
      for (std::size_t i = starts_[h]; i < starts_[h + 1]; ++i) weighted.emplace_back(items_[i], std::uint64_t{1} << h);
    }
    std::sort(weighted.begin(), weighted.end());
    const double target = q * static_cast<double>(n_);
    std::uint64_t cumulative = 0;
    for (const auto& [item, weight] : weighted) {
      cumulative += weight;
      if (static_cast<double>(cumulative) >= target) return item;
    }
    return weighted.back().first;
  }

  friend bool operator==(const KllSketch&, const KllSketch&) = default;

  template <class Archive>
  void serialize(Archive& archive) {
    std::vector<std::uint32_t> sizes;
    if constexpr (!Archive::is_loading::value) {
      for (std::size_t h = 0; h < levels_; ++h)
        sizes.push_back(static_cast<std::uint32_t>(starts_[h + 1] - starts_[h]));
    }
    archive(k_, n_, coin_, sizes, items_);
    if constexpr (Archive::is_loading::value) {
      constexpr std::string_view where = "KllSketch::serialize";
      if (k_ < min_k || k_ > max_k) detail::raise<serialization_error>(where, "k is out of range");
      if (sizes.empty() || sizes.size() > max_levels) detail::raise<serialization_error>(where, "bad level count");
      levels_ = static_cast<std::uint8_t>(sizes.size());
      starts_ = {};
      capacity_ = static_cast<std::uint32_t>(total_capacity());
      std::uint64_t total = 0;
      std::uint64_t weight = 0;
      for (std::size_t h = 0; h < levels_; ++h) {
        total += sizes[h];
        if (total > capacity_ + levels_)
          detail::raise<serialization_error>(where, "more items than the sketch's capacity");
        starts_[h + 1] = static_cast<std::uint16_t>(total);
        weight += static_cast<std::uint64_t>(sizes[h]) << h;
      }
      if (total != items_.size()) detail::raise<serialization_error>(where, "level sizes do not match the items");
      for (const float item : items_) {
        if (std::isnan(item)) detail::raise<serialization_error>(where, "NaN item");
      }
      if (weight != n_) detail::raise<serialization_error>(where, "item weights do not match the item count");
    }
  }

 private:
  [[nodiscard]] std::size_t level_capacity(std::size_t level) const {
    const std::size_t depth = levels_ - 1 - level;
    const double capacity = std::ceil(static_cast<double>(k_) * std::pow(2.0 / 3.0, static_cast<double>(depth)));
    return std::max<std::size_t>(2, static_cast<std::size_t>(capacity));
  }

  [[nodiscard]] std::size_t total_capacity() const {
    std::size_t total = 0;
    for (std::size_t h = 0; h < levels_; ++h) total += level_capacity(h);
    return total;
  }

  // Compacts the lowest level at or over its capacity (one per update keeps
  // the work per update bounded; amortised O(1) items moved).
  void compress() {
    for (std::size_t h = 0; h < levels_; ++h) {
      if (static_cast<std::size_t>(starts_[h + 1] - starts_[h]) < level_capacity(h)) continue;
      if (h + 1 == levels_) {
        if (levels_ == max_levels) detail::raise<invalid_argument>("KllSketch::update", "the sketch is full");
        starts_[levels_ + 1] = starts_[levels_];
        ++levels_;
        capacity_ = static_cast<std::uint32_t>(total_capacity());
      }
      const std::size_t begin = starts_[h];
      const std::size_t end = starts_[h + 1];
      std::sort(items_.begin() + static_cast<std::ptrdiff_t>(begin), items_.begin() + static_cast<std::ptrdiff_t>(end));
      // An odd item out stays behind (the largest), so the compacted items
      // pair up. Level h becomes [kept], and the promoted items are written
      // right after it, at the front of level h + 1 (levels are unordered).
      const std::size_t odd = (end - begin) % 2;
      const std::size_t paired = end - begin - odd;
      const std::size_t offset = detail::splitmix64_next(coin_) >> 63;
      const float kept = items_[end - 1];
      std::size_t write = begin + odd;  // never passes the next read position
      for (std::size_t i = offset; i < paired; i += 2) items_[write++] = items_[begin + i];
      if (odd == 1) items_[begin] = kept;
      const std::size_t removed = end - write;
      items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(write),
                   items_.begin() + static_cast<std::ptrdiff_t>(end));
      starts_[h + 1] = static_cast<std::uint16_t>(begin + odd);
      for (std::size_t j = h + 2; j <= levels_; ++j) starts_[j] = static_cast<std::uint16_t>(starts_[j] - removed);
      return;
    }
  }

  // Ordered to pack: the sketch is stored once per entity.
  std::uint32_t k_ = default_k;
  std::uint32_t capacity_ = 0;  // total_capacity(), kept so update() is O(1) between compactions
  std::uint64_t n_ = 0;
  std::uint64_t coin_ = 0x4b4c4c2016ULL;  // fixed seed: "KLL 2016"
  std::vector<float> items_;
  // Level h is items_[starts_[h], starts_[h + 1]); starts_[levels_] == items_.size().
  std::array<std::uint16_t, max_levels + 1> starts_{};
  std::uint8_t levels_ = 1;
};

}  // namespace redflag
