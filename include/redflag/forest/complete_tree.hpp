#pragma once

// A scoring copy of shallow trees in the implicit layout of a complete binary
// tree: the children of slot i are slots 2i + 1 and 2i + 2, so a step is
//
//   at = 2 * at + 1 + (x[feature[at]] > value[at])
//
// with no child index to load: two loads from the tree and one from the row
// a level, where the node layout (tree_node.hpp) needs four. A leaf above
// the tree's depth is padded down to it: the slots beneath it hold +inf, so
// every row (NaN included) goes left until the bottom, whose slot names the
// leaf. The copy costs 2^depth slots a tree, so it is built only for trees
// no deeper than max_depth; deeper forests keep the node walk.
//
// The walk sends a row exactly where the node walk does (numeric splits,
// x <= value going left), so scores do not depend on which walk ran.

#include <redflag/core/types.hpp>
#include <redflag/forest/tree_node.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace redflag::detail::forest {

template <Scalar T>
class CompleteTrees {
 public:
  // 2^12 slots a tree at most: 40-56 KB, about what the node layout holds for
  // a full tree of that depth. Slot indices are 32-bit.
  static constexpr std::int32_t max_depth = 12;

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
    internal_offsets_.assign(n_trees + 1, 0);
    bottom_offsets_.assign(n_trees + 1, 0);
    for (std::size_t t = 0; t < n_trees; ++t) {
      const std::size_t width = std::size_t{1} << depth[t];
      internal_offsets_[t + 1] = internal_offsets_[t] + width - 1;
      bottom_offsets_[t + 1] = bottom_offsets_[t] + width;
    }
    value_.assign(internal_offsets_.back(), std::numeric_limits<T>::infinity());
    feature_.assign(internal_offsets_.back(), 0);
    bottom_.assign(bottom_offsets_.back(), 0);
    depth_ = depth;
    for (std::size_t t = 0; t < n_trees; ++t) {
      const std::size_t internal = internal_offsets_[t + 1] - internal_offsets_[t];
      T* value = value_.data() + internal_offsets_[t];
      std::uint16_t* feature = feature_.data() + internal_offsets_[t];
      std::uint32_t* bottom = bottom_.data() + bottom_offsets_[t];
      // (node, slot) pairs; a padded leaf carries on down its left spine.
      std::vector<std::pair<std::int32_t, std::size_t>> pending{{offsets[t], 0}};
      while (!pending.empty()) {
        const auto [at, slot] = pending.back();
        pending.pop_back();
        const TreeNode<T>& node = nodes[static_cast<std::size_t>(at)];
        if (slot >= internal) {
          bottom[slot - internal] = payload(at);
        } else if (node.kind == NodeKind::leaf) {
          pending.emplace_back(at, 2 * slot + 1);
        } else {
          value[slot] = node.value;
          feature[slot] = node.feature;
          pending.emplace_back(node.left, 2 * slot + 1);
          pending.emplace_back(node.left + 1, 2 * slot + 2);
        }
      }
    }
  }

  [[nodiscard]] bool empty() const { return depth_.empty(); }

  // payload[w] = the payload of the leaf that row w (starting at
  // rows + offset[w]) reaches in tree t. The W rows walk side by side, so
  // their loads overlap; 32-bit offsets from one base rather than W pointers
  // leave the walk's state small enough for registers.
  template <std::size_t W>
  void walk(std::size_t t, const T* rows, const std::uint32_t (&offset)[W], std::uint32_t (&payload)[W]) const {
    const T* value = value_.data() + internal_offsets_[t];
    const std::uint16_t* feature = feature_.data() + internal_offsets_[t];
    std::uint32_t at[W];
    if (depth_[t] == 0) {
      for (std::size_t w = 0; w < W; ++w) at[w] = 0;
    } else {  // the root: one split for every row
      for (std::size_t w = 0; w < W; ++w) at[w] = 1 + static_cast<std::uint32_t>(rows[offset[w] + feature[0]] > value[0]);
    }
    for (std::int32_t level = 1; level < depth_[t]; ++level) {
      for (std::size_t w = 0; w < W; ++w) {
        at[w] = 2 * at[w] + 1 + static_cast<std::uint32_t>(rows[offset[w] + feature[at[w]]] > value[at[w]]);
      }
    }
    const std::uint32_t* bottom = bottom_.data() + bottom_offsets_[t];
    const auto internal = static_cast<std::uint32_t>(internal_offsets_[t + 1] - internal_offsets_[t]);
    for (std::size_t w = 0; w < W; ++w) payload[w] = bottom[at[w] - internal];
  }

  [[nodiscard]] std::size_t memory_usage() const {
    return value_.capacity() * sizeof(T) + feature_.capacity() * sizeof(std::uint16_t) +
           bottom_.capacity() * sizeof(std::uint32_t) +
           (internal_offsets_.capacity() + bottom_offsets_.capacity()) * sizeof(std::size_t) +
           depth_.capacity() * sizeof(std::int32_t);
  }

 private:
  std::vector<T> value_;
  std::vector<std::uint16_t> feature_;
  std::vector<std::uint32_t> bottom_;
  std::vector<std::size_t> internal_offsets_;  // per tree, plus the end
  std::vector<std::size_t> bottom_offsets_;
  std::vector<std::int32_t> depth_;
};

}  // namespace redflag::detail::forest
