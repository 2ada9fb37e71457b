#pragma once

// Exact path-dependent TreeSHAP (Lundberg, Erion & Lee, "Consistent
// Individualized Feature Attribution for Tree Ensembles", 2018, Algorithm 2)
// over any binary tree seen through a small view, so every tree model in
// redflag explains its outputs with the same code.
//
// The game explained: for a set S of "known" features, v(S) is the tree's
// value when x follows its own direction at nodes splitting on a feature in S
// and is split by cover (the training weight) at every other node. A node
// where x's direction is `both` (missing value, unseen category) splits by
// cover either way. So v(all) = tree_value(x), v({}) = expected_value(), and
// Shapley efficiency gives expected_value + sum(phi) == tree_value.
//
// Each leaf adds value * prod over the features f on its path of
// (f in S ? o_f : z_f) to v(S): a product game with closed-form Shapley
// values. The algorithm keeps the subset-size sums those need up to date
// while walking down, O(leaves * depth^2) instead of O(2^features).

#include <redflag/core/error.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace redflag::detail::forest {

enum class Direction : std::uint8_t { left, right, both };

// Tree structure. cover() is >= 0, and the children of an internal node do not
// both have zero cover. Leaves are at depth <= max_depth() (root at depth 0).
template <class V>
concept TreeView = requires(const V& view, std::int32_t node, std::size_t output) {
  { view.root() } -> std::convertible_to<std::int32_t>;
  { view.is_leaf(node) } -> std::convertible_to<bool>;
  { view.left(node) } -> std::convertible_to<std::int32_t>;
  { view.right(node) } -> std::convertible_to<std::int32_t>;
  { view.cover(node) } -> std::convertible_to<double>;
  { view.feature(node) } -> std::convertible_to<std::int32_t>;
  { view.leaf_value(node, output) } -> std::convertible_to<double>;
  { view.outputs() } -> std::convertible_to<std::size_t>;
  { view.max_depth() } -> std::convertible_to<int>;
};

// A tree that can also route a row: direction(node, x) for internal nodes.
template <class V, class Row>
concept TreeShapView = TreeView<V> && requires(const V& view, std::int32_t node, const Row& x) {
  { view.direction(node, x) } -> std::same_as<Direction>;
};

// Shares of an internal node's training weight going left and right.
// Normalising by the children's sum (not the node's own cover) keeps every
// share in [0, 1] even when stored covers disagree in the last bit.
template <TreeView V>
std::pair<double, double> child_shares(const V& view, std::int32_t node) {
  const auto left = static_cast<double>(view.cover(view.left(node)));
  const auto right = static_cast<double>(view.cover(view.right(node)));
  const double total = left + right;
  return {left / total, right / total};
}

// The tree's value below `node` when each internal node sends the row where
// route(node) says, splitting it by cover at `both`.
template <TreeView V, class Route>
double routed_value(const V& view, std::int32_t node, std::size_t output, const Route& route) {
  while (!view.is_leaf(node)) {
    const Direction direction = route(node);
    if (direction == Direction::both) {
      const auto [left, right] = child_shares(view, node);
      // Skipping zero shares keeps 0 * value at 0 whatever an unreachable leaf holds.
      double value = 0.0;
      if (left != 0.0) value += left * routed_value(view, view.left(node), output, route);
      if (right != 0.0) value += right * routed_value(view, view.right(node), output, route);
      return value;
    }
    node = direction == Direction::left ? view.left(node) : view.right(node);
  }
  return static_cast<double>(view.leaf_value(node, output));
}

// The tree's value when no feature is known: the cover-weighted mean of its
// leaf values.
template <TreeView V>
double expected_value(const V& view, std::size_t output) {
  return routed_value(view, static_cast<std::int32_t>(view.root()), output,
                      [](std::int32_t) { return Direction::both; });
}

// The tree's value for x, descending both branches weighted by cover where
// x's direction is `both`. The reference that expected_value + sum(phi) meets.
template <class V, class Row>
  requires TreeShapView<V, Row>
double tree_value(const V& view, const Row& x, std::size_t output) {
  return routed_value(view, static_cast<std::int32_t>(view.root()), output,
                      [&](std::int32_t node) { return view.direction(node, x); });
}

// One feature on the path from the root to the current node. Element 0 is a
// placeholder (feature -1, fractions 1) that makes the sums below uniform.
struct ShapPathElement {
  std::int32_t feature;
  // Share of the training weight that reaches this point of the path through
  // this feature's splits: the product of cover shares over its occurrences.
  // The feature's factor in the product game when it is unknown.
  double zero_fraction;
  // The factor when the feature is known: 1 if x itself goes this way at every
  // occurrence, 0 if not, times the cover share at `both` occurrences.
  double one_fraction;
  // Not a property of this element: pweight of element i is indexed by subset
  // size. With features 1..d on the path, pweight[i] = sum over subsets S of
  // them with |S| = i of i! (d - i)! / (d + 1)! * prod_{S} o * prod_{not S} z.
  double pweight;
};

// Path buffers for add_tree_shap, reused across rows and trees: after
// reserve(depth), trees no deeper than that never allocate.
class TreeShapWorkspace {
 public:
  void reserve(int max_depth) {
    if (max_depth <= depth_) return;
    // The path at depth t holds at most t + 1 elements and stays intact while
    // deeper levels work on copies: one segment of t + 1 slots per level.
    const auto levels = static_cast<std::size_t>(max_depth) + 1;
    path_.resize(levels * (levels + 1) / 2);
    depth_ = max_depth;
  }
  ShapPathElement* segment(int depth) noexcept {
    const auto t = static_cast<std::size_t>(depth);
    return path_.data() + t * (t + 1) / 2;
  }

 private:
  std::vector<ShapPathElement> path_;
  int depth_ = -1;
};

// Appends a feature with fractions (zero, one) to a path of n elements and
// updates pweight: each subset of the new path either leaves the feature out
// (factor zero) or takes it in (factor one), with the Shapley weight rescaled.
inline void extend_path(ShapPathElement* path, int n, double zero, double one, std::int32_t feature) {
  path[n] = {feature, zero, one, n == 0 ? 1.0 : 0.0};
  const auto d = static_cast<double>(n);
  for (int i = n - 1; i >= 0; --i) {
    const auto at = static_cast<double>(i);
    path[i + 1].pweight += one * path[i].pweight * (at + 1.0) / (d + 1.0);
    path[i].pweight = zero * path[i].pweight * (d - at) / (d + 1.0);
  }
}

// Inverts extend_path for element k of a path of n elements. Divides by o when
// o != 0 (solving from the largest subset size down), else by z. Where o != 0
// it is >= z (x's side has o = 1, a `both` node has o = z), so this is the
// stable direction. z = 0 needs o != 0: visit() drops elements with z = o = 0.
inline void unwind_path(ShapPathElement* path, int n, int k) {
  const double one = path[k].one_fraction, zero = path[k].zero_fraction;
  const auto d = static_cast<double>(n - 1);
  double next = path[n - 1].pweight;
  for (int i = n - 2; i >= 0; --i) {
    const auto at = static_cast<double>(i);
    if (one != 0.0) {
      const double kept = path[i].pweight;
      path[i].pweight = next * (d + 1.0) / ((at + 1.0) * one);
      next = kept - path[i].pweight * zero * (d - at) / (d + 1.0);
    } else {
      path[i].pweight = path[i].pweight * (d + 1.0) / (zero * (d - at));
    }
  }
  for (int i = k; i < n - 1; ++i) {
    path[i].feature = path[i + 1].feature;
    path[i].zero_fraction = path[i + 1].zero_fraction;
    path[i].one_fraction = path[i + 1].one_fraction;
  }
}

// sum(pweight) of the path without element k, without modifying the path: the
// total Shapley weight of the subsets of the other features.
inline double unwound_sum(const ShapPathElement* path, int n, int k) {
  const double one = path[k].one_fraction, zero = path[k].zero_fraction;
  const auto d = static_cast<double>(n - 1);
  double total = 0.0, next = path[n - 1].pweight;
  for (int i = n - 2; i >= 0; --i) {
    const auto at = static_cast<double>(i);
    if (one != 0.0) {
      const double weight = next * (d + 1.0) / ((at + 1.0) * one);
      total += weight;
      next = path[i].pweight - weight * zero * (d - at) / (d + 1.0);
    } else {
      total += path[i].pweight * (d + 1.0) / (zero * (d - at));
    }
  }
  return total;
}

template <class V, class Row>
struct ShapWalk {
  const V& view;
  const Row& x;
  std::span<double> phi;
  std::size_t outputs;
  std::size_t features;  // columns phi has room for
  int max_depth;
  TreeShapWorkspace& workspace;

  // Visits `node` at `depth`, reached from a parent path of `parent_size`
  // elements by a split on `feature` with fractions (zero, one).
  void visit(std::int32_t node, int depth, const ShapPathElement* parent, int parent_size, double zero, double one,
             std::int32_t feature) {
    // No training weight and not x's way: every leaf below has factor 0.
    if (zero == 0.0 && one == 0.0) return;
    // The workspace holds max_depth + 1 levels; a deeper tree would overrun it.
    if (depth > max_depth) {
      raise<invalid_argument>("add_tree_shap",
                              "the tree is deeper than its max_depth() = " + std::to_string(max_depth));
    }
    ShapPathElement* path = workspace.segment(depth);
    std::copy_n(parent, parent_size, path);
    extend_path(path, parent_size, zero, one, feature);
    int size = parent_size + 1;

    // In this leaf's product game, feature k's Shapley value is the leaf value
    // times (o_k - z_k) times the total weight of the other features' subsets.
    if (view.is_leaf(node)) {
      for (int k = 1; k < size; ++k) {
        const ShapPathElement& element = path[k];
        if (element.one_fraction == element.zero_fraction) continue;  // contributes 0
        const double scale = unwound_sum(path, size, k) * (element.one_fraction - element.zero_fraction);
        double* out = phi.data() + static_cast<std::size_t>(element.feature) * outputs;
        for (std::size_t o = 0; o < outputs; ++o) {
          out[o] += scale * static_cast<double>(view.leaf_value(node, o));
        }
      }
      return;
    }

    const auto split = static_cast<std::int32_t>(view.feature(node));
    if (split < 0 || static_cast<std::size_t>(split) >= features) {
      raise<invalid_argument>("add_tree_shap", "node splits on feature " + std::to_string(split) +
                                                   " but phi has room for " + std::to_string(features) + " features");
    }
    // A feature already on the path is one player: take it off and re-add it
    // below with the fractions of all its occurrences multiplied together.
    double incoming_zero = 1.0, incoming_one = 1.0;
    for (int k = 1; k < size; ++k) {
      if (path[k].feature != split) continue;
      incoming_zero = path[k].zero_fraction;
      incoming_one = path[k].one_fraction;
      unwind_path(path, size, k);
      --size;
      break;
    }
    const auto [left_share, right_share] = child_shares(view, node);
    const Direction direction = view.direction(node, x);
    const bool both = direction == Direction::both;
    const double left_one = both ? left_share : (direction == Direction::left ? 1.0 : 0.0);
    const double right_one = both ? right_share : (direction == Direction::right ? 1.0 : 0.0);
    visit(view.left(node), depth + 1, path, size, incoming_zero * left_share, incoming_one * left_one, split);
    visit(view.right(node), depth + 1, path, size, incoming_zero * right_share, incoming_one * right_one, split);
  }
};

// ADDS the tree's SHAP values for row x to phi, laid out [feature * outputs +
// output] (size n_features * outputs). Sizes the workspace from max_depth()
// if it is smaller; otherwise allocates nothing. Throws invalid_argument for a
// split feature phi has no room for or a tree deeper than max_depth() (phi may
// then hold part of the tree's values).
template <class V, class Row>
  requires TreeShapView<V, Row>
void add_tree_shap(const V& view, const Row& x, std::span<double> phi, TreeShapWorkspace& workspace) {
  const auto outputs = static_cast<std::size_t>(view.outputs());
  const auto max_depth = static_cast<int>(view.max_depth());
  if (outputs == 0 || max_depth < 0) {
    raise<invalid_argument>("add_tree_shap", "the tree needs outputs() >= 1 and max_depth() >= 0");
  }
  workspace.reserve(max_depth);
  ShapWalk<V, Row> walk{view, x, phi, outputs, phi.size() / outputs, max_depth, workspace};
  // The root enters as the placeholder element (feature -1, fractions 1).
  walk.visit(static_cast<std::int32_t>(view.root()), 0, nullptr, 0, 1.0, 1.0, -1);
}

}  // namespace redflag::detail::forest
