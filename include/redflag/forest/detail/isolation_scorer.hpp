#pragma once

// Path lengths of rows through the trees of an IsolationTrees.
//
// The fast walk (numeric splits, rows without missing values): every row
// takes exactly the tree's depth in steps, next = left + ((x[f] > v) & step),
// since leaves loop to themselves. Several rows then walk a tree level by
// level side by side (or a lone row walks several trees): their dependent
// loads are independent of each other and overlap in the CPU, where one row's
// walk waits on every load in turn.
//
// The general walk handles every split kind and a row whose split value is
// undefined at a node (a missing value, a category the node never saw): it
// descends both branches and averages their path lengths weighted by the
// training rows that took each (isotree's "divide", Cortes 2019).
//
// Large batches on CPUs with AVX-512 walk a complete-tree copy of the forest
// instead (complete_tree.hpp: 64 rows at a time in vector registers, rows of
// few columns as split ranks, 128 at a time), which
// the caller builds for the call (scoring_copy) rather than the model keeping
// it: it would double the model's memory. Both walks send every row to the
// same leaf.
//
// All add path lengths tree by tree in tree order, so a row's sum is the same
// double whichever walk, block or thread computed it.

#include <redflag/core/types.hpp>
#include <redflag/forest/detail/complete_tree.hpp>
#include <redflag/forest/detail/isolation_tree.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace redflag::detail::forest {

// Where a row goes at a node; `both` when its split value is undefined.
enum class Branch : std::uint8_t { left, right, both };

template <Scalar T>
Branch branch(const IsolationTrees<T>& trees, std::size_t at, const T* x) {
  const TreeNode<T>& node = trees.nodes[at];
  switch (node.kind) {
    case NodeKind::numeric: {
      const T value = x[node.feature];
      if (std::isnan(value)) return Branch::both;
      return value <= node.value ? Branch::left : Branch::right;
    }
    case NodeKind::categorical: {
      const T value = x[node.feature];
      if (std::isnan(value)) return Branch::both;
      const std::uint32_t* list = trees.categories.data() + trees.aux[at];
      const std::uint32_t key = static_cast<std::uint32_t>(value) * 2;
      const std::uint32_t* found = std::lower_bound(list + 1, list + 1 + list[0], key);
      if (found == list + 1 + list[0] || (*found >> 1) != (key >> 1)) return Branch::both;  // unseen
      return (*found & 1u) ? Branch::right : Branch::left;
    }
    case NodeKind::hyperplane: {
      const Side side = hyperplane_side(trees.terms.data() + trees.aux[at], trees.terms_per_node,
                                        [x](std::int32_t column) { return x[column]; });
      return side == Side::undefined ? Branch::both : side == Side::left ? Branch::left : Branch::right;
    }
    case NodeKind::leaf: break;
  }
  return Branch::left;
}

// Path length of x in the subtree at `at`, by the general walk.
template <Scalar T>
double path_length(const IsolationTrees<T>& trees, std::size_t at, const T* x) {
  while (trees.nodes[at].kind != NodeKind::leaf) {
    const auto left = static_cast<std::size_t>(trees.nodes[at].left);
    const Branch go = branch(trees, at, x);
    if (go == Branch::both) {
      const double left_rows = trees.count[left];
      const double right_rows = trees.count[left + 1];
      return (left_rows * path_length(trees, left, x) + right_rows * path_length(trees, left + 1, x)) /
             (left_rows + right_rows);
    }
    at = left + (go == Branch::right ? 1 : 0);
  }
  return static_cast<double>(trees.nodes[at].value);
}

template <Scalar T>
using ScoringCopy = CompleteTrees<T, double>;

template <Scalar T>
class FastWalk {
 public:
  explicit FastWalk(const IsolationTrees<T>& trees) : trees_(trees) {}

  // Rows further apart than this cannot be addressed by the walk's 32-bit offsets.
  static constexpr std::size_t max_stride = std::numeric_limits<std::uint32_t>::max() / 16;

  // depth[r] += the path lengths of row r of the `rows` x `columns` block at
  // `X` (rows `stride` <= max_stride values apart), by `complete` when given.
  void add_path_lengths(const T* X, std::size_t stride, std::size_t rows, std::size_t columns, double* depth,
                        const ScoringCopy<T>* complete = nullptr) const {
    if (complete != nullptr && rows >= ScoringCopy<T>::vector_rows) {
      // Chunks of rows small enough to stay in L1 while every tree walks them.
      constexpr std::size_t chunk = RankBlock::capacity;
      const bool by_ranks = complete->walks_ranks(columns);
      RankBlock block;
      for (std::size_t begin = 0; begin < rows; begin += chunk) {
        const std::size_t count = std::min(chunk, rows - begin);
        if (by_ranks) complete->assign(block, X + begin * stride, stride, count, columns);
        for (std::size_t t = 0; t < trees_.tree_count(); ++t) {
          if (by_ranks) {
            complete->add_leaves(t, block, depth + begin);
          } else {
            complete->add_leaves(t, X + begin * stride, stride, count, depth + begin);
          }
        }
      }
      return;
    }
    const std::size_t grouped = rows - rows % wide;
    for (std::size_t t = 0; t < trees_.tree_count(); ++t) {
      for (std::size_t r = 0; r < grouped; r += wide) walk_rows(t, X + r * stride, stride, depth + r);
    }
    // Too few rows left to interleave (a single row, say): interleave trees
    // instead, then add their path lengths in tree order all the same.
    for (std::size_t r = grouped; r < rows; ++r) depth[r] += walk_trees(X + r * stride);
  }

  // The sum of x's path lengths over all trees.
  [[nodiscard]] double walk_trees(const T* x) const {
    const std::size_t n_trees = trees_.tree_count();
    double depth = 0.0;
    std::size_t t = 0;
    for (; t + wide <= n_trees; t += wide) walk_tree_group<wide>(t, x, depth);
    // The rest in groups of 8, 4, 2 and 1, still side by side.
    if (t + 8 <= n_trees) walk_tree_group<8>(t, x, depth), t += 8;
    if (t + 4 <= n_trees) walk_tree_group<4>(t, x, depth), t += 4;
    if (t + 2 <= n_trees) walk_tree_group<2>(t, x, depth), t += 2;
    if (t < n_trees) walk_tree_group<1>(t, x, depth);
    return depth;
  }

 private:
  // Rows in flight per tree walk: enough independent load chains to hide L1
  // latency; more only adds register pressure.
  static constexpr std::size_t wide = 16;
  static_assert(max_stride * wide <= std::numeric_limits<std::uint32_t>::max());

  // Trees [t, t + W) for one row, walked side by side; adds their path
  // lengths onto `depth` one by one in tree order (the rounding of a plain
  // tree-by-tree sum).
  template <std::size_t W>
  void walk_tree_group(std::size_t t, const T* x, double& depth) const {
    std::int32_t at[W];
    std::uint32_t offset[W];
    std::int32_t steps = 0;
    for (std::size_t w = 0; w < W; ++w) {
      at[w] = trees_.offsets[t + w];
      offset[w] = 0;
      steps = std::max(steps, trees_.depth[t + w]);
    }
    walk(trees_.nodes.data(), steps, at, x, offset);
    for (std::size_t w = 0; w < W; ++w) depth += leaf(at[w]);
  }

  double leaf(std::int32_t at) const { return static_cast<double>(trees_.nodes[static_cast<std::size_t>(at)].value); }

  void walk_rows(std::size_t t, const T* X, std::size_t stride, double* depth) const {
    std::int32_t at[wide];
    std::uint32_t offset[wide];
    for (std::size_t w = 0; w < wide; ++w) {
      at[w] = trees_.offsets[t];
      offset[w] = static_cast<std::uint32_t>(w * stride);
    }
    walk(trees_.nodes.data(), trees_.depth[t], at, X, offset);
    for (std::size_t w = 0; w < wide; ++w) depth[w] += leaf(at[w]);
  }

  const IsolationTrees<T>& trees_;
};

// The forest's complete-tree copy, its leaves holding their path lengths;
// nothing when some split is not numeric or a tree is too deep for the layout.
template <Scalar T>
std::optional<ScoringCopy<T>> scoring_copy(const IsolationTrees<T>& trees) {
  if (!trees.numeric_only) return {};
  ScoringCopy<T> copy(trees.nodes, trees.offsets, trees.depth, [&trees](std::int32_t leaf) {
    return static_cast<double>(trees.nodes[static_cast<std::size_t>(leaf)].value);
  });
  if (copy.empty()) return {};
  return copy;
}

// Whether scoring `rows` rows `stride` values apart gains from the copy.
template <Scalar T>
bool scoring_copy_pays(std::size_t rows, std::size_t stride) {
  // The copy's construction (a pass over every tree's slots) costs about
  // what the faster walk saves on 1,000 rows of a 100-tree forest; at 2,048
  // rows the call is 1.3-1.9x faster.
  constexpr std::size_t min_rows = 2048;
  constexpr std::size_t max_stride = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) / 16;
  return rows >= min_rows && stride <= max_stride && ScoringCopy<T>::vectorised();
}

// depth[r] += the path lengths of row r over all trees, choosing per row
// between the fast walk (by `complete` when given) and the general one.
template <Scalar T>
void add_path_lengths(const IsolationTrees<T>& trees, const T* X, std::size_t stride, std::size_t rows,
                      std::size_t columns, double* depth, const ScoringCopy<T>* complete = nullptr) {
  const auto no_missing = [&](std::size_t r) {
    const T* x = X + r * stride;
    return std::all_of(x, x + columns, [](T value) { return !std::isnan(value); });
  };
  if (!trees.numeric_only || stride > FastWalk<T>::max_stride) {
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t t = 0; t < trees.tree_count(); ++t) {
        depth[r] += path_length(trees, static_cast<std::size_t>(trees.offsets[t]), X + r * stride);
      }
    }
    return;
  }
  // Runs of complete rows take the fast walk; a row with a missing value the
  // general one.
  const FastWalk<T> fast(trees);
  std::size_t r = 0;
  while (r < rows) {
    std::size_t end = r;
    while (end < rows && no_missing(end)) ++end;
    if (end > r) fast.add_path_lengths(X + r * stride, stride, end - r, columns, depth + r, complete);
    if (end < rows) {
      for (std::size_t t = 0; t < trees.tree_count(); ++t) {
        depth[end] += path_length(trees, static_cast<std::size_t>(trees.offsets[t]), X + end * stride);
      }
      ++end;
    }
    r = end;
  }
}

}  // namespace redflag::detail::forest
