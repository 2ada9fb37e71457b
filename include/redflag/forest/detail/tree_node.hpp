#pragma once

// The node layout every redflag tree uses (isolation and classification
// trees alike): one array of nodes per forest, a tree being a contiguous
// range of it, 12 (float) or 16 (double) bytes a node. An internal node holds
// the index of its left child (the right child is the next node) and its
// split; a leaf's `left` is its own index and its `step` is 0, so the
// branch-free step next = left + ((x[feature] > value) & step) stays put once
// it reaches a leaf, and every row can take the same number of steps: the
// tree's depth (walk below).

#include <redflag/core/types.hpp>

#include <cstdint>
#include <limits>

namespace redflag::detail::forest {

enum class NodeKind : std::uint8_t {
  leaf,
  numeric,      // x[feature] <= value goes left
  categorical,  // x[feature]'s code goes where the node's category list says
  hyperplane,   // (x - p) . n <= 0 over the node's terms goes left (hyperplane_side)
};

template <Scalar T>
struct TreeNode {
  T value;                // numeric threshold | leaf path length | 0 (categorical, hyperplane)
  std::int32_t left;      // index of the left child (right = left + 1); a leaf: its own index
  std::uint16_t feature;  // split column (numeric, categorical), else 0
  NodeKind kind;
  std::uint8_t step;  // 1 for numeric splits, else 0 (see walk below)
};

// Columns are addressed by 16-bit indices in the nodes.
inline constexpr Index max_columns = std::numeric_limits<std::uint16_t>::max();

// W walks side by side, walk w starting at node at[w] and reading the row at
// rows + offset[w], each taking `steps` steps; at[w] ends on the leaf the row
// reaches when every split on the way is numeric. The walks' dependent loads
// are independent of each other, so the CPU overlaps them where one walk
// would wait on each load in turn; 32-bit offsets from one base rather than
// W pointers leave the state small enough for registers.
template <Scalar T, std::size_t W>
void walk(const TreeNode<T>* nodes, std::int32_t steps, std::int32_t (&at)[W], const T* rows,
          const std::uint32_t (&offset)[W]) {
  for (std::int32_t step = 0; step < steps; ++step) {
    for (std::size_t w = 0; w < W; ++w) {
      const TreeNode<T>& node = nodes[at[w]];
      at[w] = node.left + static_cast<std::int32_t>((rows[offset[w] + node.feature] > node.value) & node.step);
    }
  }
}

}  // namespace redflag::detail::forest
