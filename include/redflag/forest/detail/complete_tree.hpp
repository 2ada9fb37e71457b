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
// (simd/detail/complete_tree_*.hpp). Given a RankBlock (rows of up to 32
// columns as split ranks, split_ranks.hpp), AVX-512 CPUs walk 32 rows a
// vector without gathering their values (complete_tree_ranks_avx512.hpp).
// Every walk sends a row exactly where the node walk does (numeric splits,
// x <= value going left, NaN left), and adds leaf values in tree order, so
// results never depend on which walk ran.

#include <redflag/core/types.hpp>
#include <redflag/forest/detail/split_ranks.hpp>
#include <redflag/forest/detail/tree_node.hpp>
#include <redflag/simd/detail/complete_tree_avx2.hpp>
#include <redflag/simd/detail/complete_tree_avx512.hpp>
#include <redflag/simd/path.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

namespace redflag::detail::forest {

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
    // Per column, its splits' (value, slot) pairs, for the rank walk.
    std::vector<std::vector<std::pair<T, std::uint32_t>>> splits;
    std::vector<std::pair<std::int32_t, std::size_t>>
        pending;  // (node, slot); a padded leaf carries on down its left spine
    for (std::size_t t = 0; t < n_trees; ++t) {
      const std::size_t width = std::size_t{1} << depth[t];
      T* value = value_.data() + slot_offsets_[t];
      std::uint16_t* feature = feature_.data() + slot_offsets_[t];
      Leaf* bottom = bottom_.data() + slot_offsets_[t];
      pending.assign(1, {offsets[t], 1});
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
          if (splits.size() <= node.feature) splits.resize(std::size_t{node.feature} + 1);
          if (!std::isnan(node.value) && node.value != std::numeric_limits<T>::infinity()) {
            splits[node.feature].emplace_back(node.value, static_cast<std::uint32_t>(slot_offsets_[t] + slot));
          }
          pending.emplace_back(node.left, 2 * slot);
          pending.emplace_back(node.left + 1, 2 * slot + 1);
        }
      }
    }
    // Each slot's split as its index among its column's distinct split
    // values, found by sorting; no row goes right below a leaf (+inf) or at
    // a split no value exceeds (never_right).
    split_.assign(value_.size(), simd::detail::never_right);
    std::vector<std::vector<T>> distinct(splits.size());
    for (std::size_t column = 0; column < splits.size(); ++column) {
      std::vector<std::pair<T, std::uint32_t>>& pairs = splits[column];
      std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [v, slot] : pairs) {
        if (distinct[column].empty() || distinct[column].back() != v) distinct[column].push_back(v);
        split_[slot] = static_cast<std::uint16_t>(std::min<std::size_t>(distinct[column].size() - 1, 0xffff));
      }
    }
    ranks_ = SplitRanks<T>(std::move(distinct));
    if (ranks_.empty()) split_.clear();
    if constexpr (std::is_same_v<Leaf, double>) index_leaf_values();
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

  // Whether rows of `columns` values take the rank walk (given a RankBlock)
  // on the active path.
  [[nodiscard]] bool walks_ranks(std::size_t columns) const {
    return REDFLAG_SIMD_X86 && walk_path() == simd::Path::avx512 && !split_.empty() && columns >= ranks_.columns() &&
           columns <= simd::detail::rank_walk_max_columns;
  }

  // The rows (1 to RankBlock::capacity) at X, `stride` apart, of `columns`
  // values, as a block for the rank walk.
  void assign(RankBlock& block, const T* X, std::size_t stride, std::size_t rows, std::size_t columns) const {
    block.assign(ranks_, X, stride, rows, columns);
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

  // The same for the rows of a block, by the rank walk when
  // walks_ranks(block.columns()), else one row at a time.
  void leaves(std::size_t t, const RankBlock& block,
              std::uint32_t* payload) const requires std::is_same_v<Leaf, std::uint32_t> {
    visit_block<false>(t, block, payload);
  }
  void add_leaves(std::size_t t, const RankBlock& block, double* sum) const requires std::is_same_v<Leaf, double> {
    visit_block<true>(t, block, sum);
  }

  [[nodiscard]] std::size_t memory_usage() const {
    return value_.capacity() * sizeof(T) + (feature_.capacity() + split_.capacity()) * sizeof(std::uint16_t) +
           ranks_.memory_usage() + bottom_.capacity() * sizeof(Leaf) + leaf_index_.capacity() * sizeof(std::uint16_t) +
           leaf_value_.capacity() * sizeof(double) +
           (leaf_index_offset_.capacity() + leaf_value_offset_.capacity()) * sizeof(std::size_t) +
           slot_offsets_.capacity() * sizeof(std::size_t) + depth_.capacity() * sizeof(std::int32_t);
  }

 private:
  static constexpr std::size_t table_slots = simd::detail::complete_tree_table_slots;

  // Trees of depth <= 8 whose bottom slots hold at most 32 distinct values
  // (isolation trees: a leaf's path length is its depth plus a term of its
  // size) get those values and each slot's index among them, for the rank
  // walk's lookup by permutes; the rest keep leaf_index_offset_ = none.
  void index_leaf_values() {
    constexpr std::size_t values = 32;
    leaf_index_offset_.assign(depth_.size(), none);
    leaf_value_offset_.assign(depth_.size(), none);
    for (std::size_t t = 0; t < depth_.size(); ++t) {
      if (depth_[t] > 8) continue;
      const std::size_t width = std::size_t{1} << depth_[t];
      std::vector<double> distinct;
      std::vector<std::uint16_t> index(std::max<std::size_t>(width, 64), 0);
      // Most bottom slots are below a shallower leaf and hold the default
      // 0.0: they go to index 0 without a search.
      distinct.push_back(0.0);
      for (std::size_t slot = 0; slot < width && distinct.size() <= values; ++slot) {
        const auto bits = std::bit_cast<std::uint64_t>(bottom_[slot_offsets_[t] + slot]);
        if (bits == 0) continue;
        const auto same = std::find_if(distinct.begin(), distinct.end(),
                                       [bits](double seen) { return std::bit_cast<std::uint64_t>(seen) == bits; });
        index[slot] = static_cast<std::uint16_t>(same - distinct.begin());
        if (same == distinct.end()) distinct.push_back(std::bit_cast<double>(bits));
      }
      if (distinct.size() > values) continue;
      distinct.resize(values, 0.0);
      leaf_index_offset_[t] = leaf_index_.size();
      leaf_value_offset_[t] = leaf_value_.size();
      leaf_index_.insert(leaf_index_.end(), index.begin(), index.end());
      leaf_value_.insert(leaf_value_.end(), distinct.begin(), distinct.end());
    }
  }

  template <bool Add>
  void visit_block(std::size_t t, const RankBlock& block, std::conditional_t<Add, double, std::uint32_t>* out) const {
    const std::size_t rows = block.rows();
#if REDFLAG_SIMD_X86
    if (walks_ranks(block.columns())) {
      constexpr std::size_t group = simd::detail::rank_walk_rows;
      simd::detail::RankTreeView<Leaf> tree{split_.data() + slot_offsets_[t], feature_.data() + slot_offsets_[t],
                                            bottom_.data() + slot_offsets_[t], depth_[t]};
      if (!leaf_index_offset_.empty() && leaf_index_offset_[t] != none) {
        tree.leaf_index = leaf_index_.data() + leaf_index_offset_[t];
        tree.leaf_value = leaf_value_.data() + leaf_value_offset_[t];
      }
      const std::size_t whole = rows - rows % group;
      simd::detail::complete_tree_leaves_ranks_avx512(tree, block.data(), block.pitch(), block.padded_columns(), whole,
                                                      out);
      if (whole < rows) {  // the padded last group, through a buffer
        std::conditional_t<Add, double, std::uint32_t> last[group] = {};
        std::copy(out + whole, out + rows, last);
        simd::detail::complete_tree_leaves_ranks_avx512(tree, block.data() + whole, block.pitch(),
                                                        block.padded_columns(), group, last);
        std::copy(last, last + (rows - whole), out + whole);
      }
      return;
    }
#endif
    // Any other path: the same steps on ranks, one row at a time.
    const std::uint16_t* split = split_.data() + slot_offsets_[t];
    const std::uint16_t* feature = feature_.data() + slot_offsets_[t];
    const auto width = std::size_t{1} << depth_[t];
    for (std::size_t r = 0; r < rows; ++r) {
      std::size_t at = 1;
      for (std::int32_t level = 0; level < depth_[t]; ++level) {
        at = 2 * at + (split[at] < block.data()[feature[at] * block.pitch() + r] ? 1 : 0);
      }
      const Leaf reached = bottom_[slot_offsets_[t] + at - width];
      if constexpr (Add) {
        out[r] += reached;
      } else {
        out[r] = reached;
      }
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
  static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

  std::vector<std::uint16_t> split_;  // per slot, its split's index among its column's split values (rank walk)
  // Per tree, where its leaf indices (64 or more) and its 32 leaf values
  // start; none where the tree is not indexed (index_leaf_values).
  std::vector<std::size_t> leaf_index_offset_;
  std::vector<std::size_t> leaf_value_offset_;
  std::vector<std::uint16_t> leaf_index_;
  std::vector<double> leaf_value_;
  SplitRanks<T> ranks_;
  std::vector<std::size_t> slot_offsets_;  // per tree (2^depth slots, slot 0 unused), plus the end
  std::vector<std::int32_t> depth_;
};

}  // namespace redflag::detail::forest
