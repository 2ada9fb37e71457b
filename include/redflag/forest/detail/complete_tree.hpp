#pragma once

// A scoring copy of shallow trees in the implicit layout of a complete binary
// tree, numbered from 1: the children of slot i are slots 2i and 2i + 1, so a
// step is
//
//   at = 2 * at + (x[feature[at]] > value[at])
//
// with no child index to load: two loads from the tree and one from the row
// a level, where the node layout (tree_node.hpp) needs four. A leaf above
// the tree's depth is padded down to it: the slots beneath it hold +inf, so
// every row (NaN included) goes left until the bottom, whose slot names the
// leaf. The copy costs 2^depth slots a tree, so it is built only for trees
// no deeper than max_depth; deeper forests keep the node walk.
//
// On x86-64 CPUs with AVX2 or AVX-512 (simd/path.hpp chooses at run time),
// `leaves` and `add_leaves` walk 64 rows at a time in vector registers
// (simd/detail/complete_tree_*.hpp). Given a ColumnBlock (the rows copied
// column by column), AVX-512 CPUs walk rows of up to 32 columns without
// gathering their values (complete_tree_columns_avx512.hpp). Every walk sends
// a row exactly where the node walk does (numeric splits, x <= value going
// left, NaN left), and adds leaf values in tree order, so results never
// depend on which walk ran.

#include <redflag/core/types.hpp>
#include <redflag/forest/detail/tree_node.hpp>
#include <redflag/simd/detail/complete_tree_avx2.hpp>
#include <redflag/simd/detail/complete_tree_avx512.hpp>
#include <redflag/simd/detail/complete_tree_columns_avx512.hpp>
#include <redflag/simd/path.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

namespace redflag::detail::forest {

// Up to `capacity` rows copied column by column, for the walk that loads a
// column's values for 16 rows at once: every tree of a forest walks the same
// block, so the copy is made once per block. Rows are padded up to a multiple
// of 64 by repeating the last; columns up to 8, 16 or 32 with zeros, which
// no split reads (the walk picks a lane's column by a fixed tree of blends).
template <Scalar T>
class ColumnBlock {
 public:
  static constexpr std::size_t capacity = 512;

  // rows <= capacity rows at X, `stride` values apart, of `columns` values.
  void assign(const T* X, std::size_t stride, std::size_t rows, std::size_t columns) {
    rows_ = rows;
    columns_ = columns;
    pitch_ =
        (rows + simd::detail::column_walk_rows - 1) / simd::detail::column_walk_rows * simd::detail::column_walk_rows;
    padded_columns_ = simd::detail::column_walk_padded_columns(columns);
    // Columns start on 64-byte boundaries (pitch is a multiple of 64 values),
    // so every 16-row load is one aligned cache line or two.
    values_.assign(pitch_ * padded_columns_ + alignment / sizeof(T), T(0));
    const auto address = reinterpret_cast<std::uintptr_t>(values_.data());
    first_ = (alignment - address % alignment) % alignment / sizeof(T);
    T* out = values_.data() + first_;
    for (std::size_t r = 0; r < pitch_; ++r) {
      const T* row = X + std::min(r, rows - 1) * stride;
      for (std::size_t f = 0; f < columns; ++f) out[f * pitch_ + r] = row[f];
    }
  }

  [[nodiscard]] const T* data() const { return values_.data() + first_; }
  [[nodiscard]] std::size_t rows() const { return rows_; }
  [[nodiscard]] std::size_t columns() const { return columns_; }
  [[nodiscard]] std::size_t padded_columns() const { return padded_columns_; }
  // Values between one column and the next: rows() rounded up to 64.
  [[nodiscard]] std::size_t pitch() const { return pitch_; }

 private:
  static constexpr std::size_t alignment = 64;

  std::vector<T> values_;
  std::size_t first_ = 0;  // values_[first_] is 64-byte aligned
  std::size_t rows_ = 0;
  std::size_t columns_ = 0;
  std::size_t padded_columns_ = 0;
  std::size_t pitch_ = 0;
};

// Leaf: what a leaf's bottom slot holds; std::uint32_t (an index: leaves()
// writes each row's) or double (a value: add_leaves() adds each row's onto a
// running sum, in vector registers when the walk is).
template <Scalar T, class Leaf = std::uint32_t>
class CompleteTrees {
  static_assert(std::is_same_v<Leaf, std::uint32_t> || std::is_same_v<Leaf, double>);

 public:
  // 2^12 slots a tree at most: 40-56 KB, about what the node layout holds for
  // a full tree of that depth.
  static constexpr std::int32_t max_depth = 12;
  // Rows a vector walk takes at once (64 doubles or floats in flight).
  static constexpr std::size_t vector_rows = simd::detail::complete_tree_rows;

  CompleteTrees() = default;

  // From numeric trees in the node layout (tree t = nodes [offsets[t],
  // offsets[t + 1]), root first, depth[t] its deepest leaf); payload(node)
  // is what a leaf's bottom slot holds (a leaf-table row, say). Empty when a
  // tree is deeper than max_depth.
  template <class Payload>
  CompleteTrees(const std::vector<TreeNode<T>>& nodes, const std::vector<std::int32_t>& offsets,
                const std::vector<std::int32_t>& depth, Payload payload) {
    for (const std::int32_t d : depth) {
      if (d > max_depth) return;
    }
    const std::size_t n_trees = depth.size();
    slot_offsets_.assign(n_trees + 1, 0);
    for (std::size_t t = 0; t < n_trees; ++t) slot_offsets_[t + 1] = slot_offsets_[t] + (std::size_t{1} << depth[t]);
    // Slot 0 of each tree is unused; the vector walk reads slots 0-127 (and
    // a feature gather two bytes past a slot) whatever the tree's size, hence
    // the padding at the end.
    value_.assign(slot_offsets_.back() + table_slots, std::numeric_limits<T>::infinity());
    feature_.assign(slot_offsets_.back() + table_slots, 0);
    bottom_.assign(slot_offsets_.back(), Leaf{});
    depth_ = depth;
    for (std::size_t t = 0; t < n_trees; ++t) {
      const std::size_t width = std::size_t{1} << depth[t];
      T* value = value_.data() + slot_offsets_[t];
      std::uint16_t* feature = feature_.data() + slot_offsets_[t];
      Leaf* bottom = bottom_.data() + slot_offsets_[t];
      // (node, slot) pairs; a padded leaf carries on down its left spine.
      std::vector<std::pair<std::int32_t, std::size_t>> pending{{offsets[t], 1}};
      while (!pending.empty()) {
        const auto [at, slot] = pending.back();
        pending.pop_back();
        const TreeNode<T>& node = nodes[static_cast<std::size_t>(at)];
        if (slot >= width) {
          bottom[slot - width] = payload(at);
        } else if (node.kind == NodeKind::leaf) {
          pending.emplace_back(at, 2 * slot);
        } else {
          value[slot] = node.value;
          feature[slot] = node.feature;
          pending.emplace_back(node.left, 2 * slot);
          pending.emplace_back(node.left + 1, 2 * slot + 1);
        }
      }
    }
  }

  [[nodiscard]] bool empty() const { return depth_.empty(); }

  // The path `leaves` takes now: AVX-512, AVX2 for float rows, else scalar.
  [[nodiscard]] static simd::Path walk_path() {
    const simd::Path path = simd::kernel_path(simd::Path::avx512);
    if (std::is_same_v<T, double> && path == simd::Path::avx2) return simd::Path::scalar;
    return path;
  }

  // Whether `leaves` walks rows in vector registers on the active path.
  [[nodiscard]] static bool vectorised() { return walk_path() != simd::Path::scalar; }

  // Whether rows of `columns` values take the column walk (given a
  // ColumnBlock) on the active path.
  [[nodiscard]] static bool walks_columns(std::size_t columns) {
    return REDFLAG_SIMD_X86 && walk_path() == simd::Path::avx512 && columns >= 1 &&
           columns <= simd::detail::column_walk_max_columns;
  }

  // payload[w] = the payload of the leaf that row w (starting at
  // rows + offset[w]) reaches in tree t. The W rows walk side by side, so
  // their loads overlap; 32-bit offsets from one base rather than W pointers
  // leave the walk's state small enough for registers.
  template <std::size_t W>
  void walk(std::size_t t, const T* rows, const std::uint32_t (&offset)[W], Leaf (&payload)[W]) const {
    const T* value = value_.data() + slot_offsets_[t];
    const std::uint16_t* feature = feature_.data() + slot_offsets_[t];
    std::uint32_t at[W];
    for (std::size_t w = 0; w < W; ++w) at[w] = 1;
    for (std::int32_t level = 0; level < depth_[t]; ++level) {
      for (std::size_t w = 0; w < W; ++w) {
        at[w] = 2 * at[w] + static_cast<std::uint32_t>(rows[offset[w] + feature[at[w]]] > value[at[w]]);
      }
    }
    const Leaf* bottom = bottom_.data() + slot_offsets_[t];
    const auto width = std::uint32_t{1} << depth_[t];
    for (std::size_t w = 0; w < W; ++w) payload[w] = bottom[at[w] - width];
  }

  // payload[r] = the leaf of each of the `count` rows at X (`stride` values
  // apart) in tree t. stride * 16 must fit an int32 (the vector walk's lane
  // offsets).
  void leaves(std::size_t t, const T* X, std::size_t stride, std::size_t count,
              std::uint32_t* payload) const requires std::is_same_v<Leaf, std::uint32_t> {
    visit_leaves<false>(t, X, stride, count, payload);
  }

  // sum[r] += the leaf value of each of the `count` rows at X in tree t.
  void add_leaves(std::size_t t, const T* X, std::size_t stride, std::size_t count,
                  double* sum) const requires std::is_same_v<Leaf, double> {
    visit_leaves<true>(t, X, stride, count, sum);
  }

  // The same for the rows of a block, by the column walk when
  // walks_columns(block.columns()), else as above.
  void leaves(std::size_t t, const ColumnBlock<T>& block,
              std::uint32_t* payload) const requires std::is_same_v<Leaf, std::uint32_t> {
    visit_block<false>(t, block, payload);
  }
  void add_leaves(std::size_t t, const ColumnBlock<T>& block, double* sum) const requires std::is_same_v<Leaf, double> {
    visit_block<true>(t, block, sum);
  }

  [[nodiscard]] std::size_t memory_usage() const {
    return value_.capacity() * sizeof(T) + feature_.capacity() * sizeof(std::uint16_t) +
           bottom_.capacity() * sizeof(Leaf) + slot_offsets_.capacity() * sizeof(std::size_t) +
           depth_.capacity() * sizeof(std::int32_t);
  }

 private:
  static constexpr std::size_t table_slots = simd::detail::complete_tree_table_slots;

  template <bool Add>
  void visit_block(std::size_t t, const ColumnBlock<T>& block,
                   std::conditional_t<Add, double, std::uint32_t>* out) const {
#if REDFLAG_SIMD_X86
    if (walks_columns(block.columns())) {
      constexpr std::size_t group = simd::detail::column_walk_rows;
      const simd::detail::CompleteTreeView<T, Leaf> tree{value_.data() + slot_offsets_[t],
                                                         feature_.data() + slot_offsets_[t],
                                                         bottom_.data() + slot_offsets_[t], depth_[t]};
      const std::size_t rows = block.rows();
      const std::size_t whole = rows - rows % group;
      simd::detail::complete_tree_leaves_columns_avx512(tree, block.data(), block.pitch(), block.padded_columns(),
                                                        whole, out);
      if (whole < rows) {  // the padded last group, through a buffer
        std::conditional_t<Add, double, std::uint32_t> last[group] = {};
        std::copy(out + whole, out + rows, last);
        simd::detail::complete_tree_leaves_columns_avx512(tree, block.data() + whole, block.pitch(),
                                                          block.padded_columns(), group, last);
        std::copy(last, last + (rows - whole), out + whole);
      }
      return;
    }
#endif
    // The block holds no row-major copy; walk its rows from their columns'
    // values one row at a time through a small row buffer.
    std::vector<T> row(block.columns());
    for (std::size_t r = 0; r < block.rows(); ++r) {
      for (std::size_t f = 0; f < block.columns(); ++f) row[f] = block.data()[f * block.pitch() + r];
      visit_leaves<Add>(t, row.data(), block.columns(), 1, out + r);
    }
  }

  // out[r] = (or += when Add) each row's leaf in tree t.
  template <bool Add>
  void visit_leaves(std::size_t t, const T* X, std::size_t stride, std::size_t count,
                    std::conditional_t<Add, double, std::uint32_t>* out) const {
    std::size_t r = 0;
#if REDFLAG_SIMD_X86
    if (count >= vector_rows) {
      const simd::detail::CompleteTreeView<T, Leaf> tree{value_.data() + slot_offsets_[t],
                                                         feature_.data() + slot_offsets_[t],
                                                         bottom_.data() + slot_offsets_[t], depth_[t]};
      switch (walk_path()) {
        case simd::Path::avx512:
          r = count - count % vector_rows;
          simd::detail::complete_tree_leaves_avx512(tree, X, stride, r, out);
          break;
        case simd::Path::avx2:
          if constexpr (std::is_same_v<T, float>) {
            r = count - count % vector_rows;
            simd::detail::complete_tree_leaves_avx2(tree, X, stride, r, out);
          }
          break;
        case simd::Path::scalar: break;
      }
    }
#endif
    constexpr std::size_t wide = 16;
    for (; r < count; r += wide) {
      const std::size_t width = std::min(wide, count - r);
      std::uint32_t offset[wide];
      Leaf reached[wide];
      for (std::size_t w = 0; w < wide; ++w) {
        offset[w] = static_cast<std::uint32_t>(std::min(w, width - 1) * stride);  // a short group repeats its last row
      }
      walk(t, X + r * stride, offset, reached);
      for (std::size_t w = 0; w < width; ++w) {
        if constexpr (Add) {
          out[r + w] += reached[w];
        } else {
          out[r + w] = reached[w];
        }
      }
    }
  }

  std::vector<T> value_;
  std::vector<std::uint16_t> feature_;
  std::vector<Leaf> bottom_;
  std::vector<std::size_t> slot_offsets_;  // per tree (2^depth slots, slot 0 unused), plus the end
  std::vector<std::int32_t> depth_;
};

}  // namespace redflag::detail::forest
