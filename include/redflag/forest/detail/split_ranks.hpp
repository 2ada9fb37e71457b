#pragma once

// Split ranks: a forest's split values per column, sorted, so that a value
// can stand for its rank (how many of its column's split values lie below
// it) and a split for its index among them. A row goes right at a split
// exactly when value > split, that is when index < rank; NaN has rank 0 and
// goes left everywhere, as in every walk. Ranks are 16-bit, which is what
// lets the rank walk (simd/detail/complete_tree_ranks_avx512.hpp) hold 32
// rows in a vector whatever the model's scalar type; hence at most
// max_splits split values a column.
//
// Ranking a value searches a static tree of `fanout` keys a node (one
// vector compare a level): the bottom level is the
// sorted split values, each level above holds the first key of every node
// of the level below but the first, each padded with +inf (below no value).

#include <redflag/core/types.hpp>
#include <redflag/simd/detail/complete_tree_ranks_avx512.hpp>
#include <redflag/simd/path.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace redflag::detail::forest {

template <Scalar T>
class SplitRanks {
 public:
  // Keys a node of the search tree: one AVX-512 compare of floats, two of
  // doubles. Wider nodes cost more compares than the levels they save.
  static constexpr std::size_t fanout = 16;
  // Ranks run from 0 to the split count; simd::detail::never_right is above.
  static constexpr std::size_t max_splits = 0xfffe;

  SplitRanks() = default;

  // From each column's split values (any order, repeats allowed, NaN and
  // +inf left out: no value is above them). Empty when a column has more
  // than max_splits distinct values.
  explicit SplitRanks(std::vector<std::vector<T>> splits) {
    first_level_.push_back(0);
    for (std::vector<T>& column : splits) {
      std::erase_if(column, [](T value) { return std::isnan(value) || value == std::numeric_limits<T>::infinity(); });
      if (!std::is_sorted(column.begin(), column.end())) std::sort(column.begin(), column.end());
      column.erase(std::unique(column.begin(), column.end()), column.end());
      if (column.size() > max_splits) {
        *this = SplitRanks();
        return;
      }
      // Levels bottom-up, then stored top-down.
      std::vector<std::vector<T>> levels{column};
      while (true) {
        std::vector<T>& level = levels.back();
        level.resize((std::max<std::size_t>(level.size(), 1) + fanout - 1) / fanout * fanout,
                     std::numeric_limits<T>::infinity());
        if (level.size() == fanout) break;
        std::vector<T> above;
        for (std::size_t node = 1; node < level.size() / fanout; ++node) above.push_back(level[node * fanout]);
        levels.push_back(std::move(above));
      }
      for (auto level = levels.rbegin(); level != levels.rend(); ++level) {
        level_offset_.push_back(keys_.size());
        keys_.insert(keys_.end(), level->begin(), level->end());
      }
      first_level_.push_back(level_offset_.size());
      splits_.push_back(column.size());
    }
  }

  [[nodiscard]] bool empty() const { return splits_.empty(); }
  [[nodiscard]] std::size_t columns() const { return splits_.size(); }

  // How many of the column's split values lie below x (0 for NaN).
  [[nodiscard]] std::uint16_t rank(std::size_t column, T x) const {
    std::size_t node = 0;
    for (std::size_t l = first_level_[column]; l < first_level_[column + 1]; ++l) {
      const T* key = keys_.data() + level_offset_[l] + node * fanout;
      node = node * fanout + static_cast<std::size_t>(std::count_if(key, key + fanout, [x](T k) { return k < x; }));
    }
    return static_cast<std::uint16_t>(node);
  }

  // ranks[r] = rank(column, x[r * stride]) for `rows` values.
  void rank_column(std::size_t column, const T* x, std::size_t stride, std::size_t rows, std::uint16_t* ranks) const {
#if REDFLAG_SIMD_X86
    if (simd::kernel_path(simd::Path::avx512) == simd::Path::avx512) {
      const std::size_t first = first_level_[column];
      simd::detail::split_ranks_avx512<T>(keys_.data(), level_offset_.data() + first,
                                          static_cast<int>(first_level_[column + 1] - first), x, stride, rows, ranks);
      return;
    }
#endif
    for (std::size_t r = 0; r < rows; ++r) ranks[r] = rank(column, x[r * stride]);
  }

  [[nodiscard]] std::size_t memory_usage() const {
    return keys_.capacity() * sizeof(T) +
           (level_offset_.capacity() + first_level_.capacity() + splits_.capacity()) * sizeof(std::size_t);
  }

 private:
  std::vector<T> keys_;                    // every level of every column
  std::vector<std::size_t> level_offset_;  // per level, where its keys start; a column's top level first
  std::vector<std::size_t> first_level_;   // per column, its first level in level_offset_; plus the end
  std::vector<std::size_t> splits_;        // per column, its distinct split values
};

// Up to `capacity` rows as ranks, column by column, for the rank walk: every
// tree of a forest walks the same block, so ranking is done once per block.
// Rows are padded up to a multiple of 128 by repeating the last, columns up
// to 8, 16 or 32 with rank 0 (the walk picks a lane's column by a fixed tree
// of blends, and no split reads the padding).
class RankBlock {
 public:
  static constexpr std::size_t capacity = 512;

  // rows (1 to capacity) rows at X, `stride` values apart, of `columns` values.
  template <Scalar T>
  void assign(const SplitRanks<T>& ranks, const T* X, std::size_t stride, std::size_t rows, std::size_t columns) {
    constexpr std::size_t group = simd::detail::rank_walk_rows;
    rows_ = rows;
    columns_ = columns;
    pitch_ = (rows + group - 1) / group * group;
    padded_columns_ = simd::detail::rank_walk_padded_columns(columns);
    // Columns start on 64-byte boundaries (pitch is a multiple of 32 ranks),
    // so every 32-row load is one aligned cache line.
    ranks_.assign(pitch_ * padded_columns_ + alignment / sizeof(std::uint16_t), 0);
    const auto address = reinterpret_cast<std::uintptr_t>(ranks_.data());
    first_ = (alignment - address % alignment) % alignment / sizeof(std::uint16_t);
    std::uint16_t* out = ranks_.data() + first_;
    for (std::size_t f = 0; f < columns && f < ranks.columns(); ++f) {
      std::uint16_t* column = out + f * pitch_;
      ranks.rank_column(f, X + f, stride, rows, column);
      std::fill(column + rows, column + pitch_, column[rows - 1]);
    }
  }

  [[nodiscard]] const std::uint16_t* data() const { return ranks_.data() + first_; }
  [[nodiscard]] std::size_t rows() const { return rows_; }
  [[nodiscard]] std::size_t columns() const { return columns_; }
  [[nodiscard]] std::size_t padded_columns() const { return padded_columns_; }
  // Ranks between one column and the next: rows() rounded up to 128.
  [[nodiscard]] std::size_t pitch() const { return pitch_; }

 private:
  static constexpr std::size_t alignment = 64;

  std::vector<std::uint16_t> ranks_;
  std::size_t first_ = 0;  // ranks_[first_] is 64-byte aligned
  std::size_t rows_ = 0;
  std::size_t columns_ = 0;
  std::size_t padded_columns_ = 0;
  std::size_t pitch_ = 0;
};

}  // namespace redflag::detail::forest
