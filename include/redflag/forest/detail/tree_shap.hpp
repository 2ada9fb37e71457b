#pragma once

// Exact path-dependent TreeSHAP (Lundberg, Erion & Lee, "Consistent
// Individualized Feature Attribution for Tree Ensembles", 2018) over any
// binary tree seen through a small view, so every tree model in redflag
// explains its outputs with the same code.
//
// The game explained: for a set S of "known" features, v(S) is the tree's
// value when x follows its own direction at nodes splitting on a feature in S
// and is split by cover (the training weight) at every other node. A node
// where x's direction is `both` (missing value, unseen category) splits by
// cover either way. So v(all) = tree_value(x), v({}) = expected_value(), and
// Shapley efficiency gives expected_value + sum(phi) == tree_value.
//
// Each leaf adds value * prod over the m distinct features j on its path of
// (j in S ? o_j : z_j) to v(S), a product game. Its Shapley weights are Beta
// integrals, |S|! (m-1-|S|)! / m! = integral over [0, 1] of s^|S| (1-s)^(m-1-|S|),
// so feature i's value in it is
//   phi_i = value * (o_i - z_i) * integral of prod_{j != i} g_j(s),
//   g_j(s) = z_j (1 - s) + o_j s,
// a polynomial of degree m - 1 < max_depth: Gauss-Legendre quadrature with
// ceil(max_depth / 2) points integrates it exactly. At those points one walk
// carries the path's product of g, sums value * product over the leaves below
// each node, and adds every leaf's terms at the node where a feature's factor
// is set; a feature met again deeper swaps its factor, and the differences
// telescope to the leaf's own. O(nodes * points) per tree rather than
// Algorithm 2's O(leaves * depth^2), the idea of Linear TreeShap (Yu, Xu,
// Bifet & Read, NeurIPS 2022).

#include <redflag/core/error.hpp>

#include <algorithm>
#include <cmath>
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

// Gauss-Legendre quadrature on [0, 1] with n points (the roots of the
// Legendre polynomial P_n, by Newton's method from the usual cosine guesses):
// exact for polynomials of degree < 2n; the weights sum to 1.
inline void gauss_legendre(int n, double* points, double* weights) {
  constexpr double pi = 3.14159265358979323846;
  // P_n(x) and P_n'(x) by the three-term recurrence.
  const auto legendre = [n](double x) {
    double value = 1.0, previous = 0.0;
    for (int k = 1; k <= n; ++k) {
      const double next = ((2.0 * k - 1.0) * x * value - (k - 1.0) * previous) / k;
      previous = value;
      value = next;
    }
    return std::pair{value, n * (x * value - previous) / (x * x - 1.0)};
  };
  for (int i = 0; i < n; ++i) {
    double x = std::cos(pi * (i + 0.75) / (n + 0.5));
    for (int iteration = 0; iteration < 64; ++iteration) {
      const auto [value, slope] = legendre(x);
      const double step = value / slope;
      x -= step;
      if (std::abs(step) <= 1e-15) break;
    }
    const double slope = legendre(x).second;
    points[i] = 0.5 * (1.0 - x);
    weights[i] = 1.0 / ((1.0 - x * x) * slope * slope);
  }
}

// Buffers for add_tree_shap, reused across rows and trees: after
// reserve(depth, outputs, features), trees no deeper, with no more outputs,
// splitting on no more features never allocate. Holds the quadrature rules
// for every point count it may use.
class TreeShapWorkspace {
 public:
  void reserve(int max_depth, std::size_t outputs, std::size_t features) {
    if (max_depth <= depth_ && outputs <= outputs_ && features <= features_) return;
    depth_ = std::max(depth_, max_depth);
    outputs_ = std::max(outputs_, outputs);
    features_ = std::max(features_, features);
    points_ = point_count(depth_);
    const auto n = static_cast<std::size_t>(points_);
    rules_.resize(n * (n + 1));
    for (int count = 1; count <= points_; ++count) gauss_legendre(count, points(count), weights(count));
    levels_.resize(static_cast<std::size_t>(depth_) + 1);
    stride_ = n * (2 + outputs_);
    values_.resize(levels_.size() * stride_);
    ones_.assign(n, 1.0);
    terms_.assign(features_ * outputs_ * n, 0.0);
    touched_.assign(features_, 0);
    deepest_split_.assign(features_, -1);
    touched_features_.reserve(features_);
  }

  // Points that integrate a tree max_depth deep exactly: its products have
  // degree < max_depth.
  static int point_count(int max_depth) { return std::max(1, (max_depth + 1) / 2); }

  double* points(int count) { return rules_.data() + static_cast<std::size_t>(count * (count - 1)); }
  double* weights(int count) { return points(count) + count; }
  const double* ones() const { return ones_.data(); }

  // Level t: the split at depth t on the current path, the fractions (z, o)
  // of its feature's factor for the child being visited.
  struct Level {
    double zero;
    double one;
  };
  Level& level(int depth) { return levels_[static_cast<std::size_t>(depth)]; }
  // Per feature, the level of its deepest split on the current path (-1: none).
  int& deepest_split(std::int32_t feature) { return deepest_split_[static_cast<std::size_t>(feature)]; }
  void forget_path() { std::fill(deepest_split_.begin(), deepest_split_.end(), -1); }
  // At each point: 1 / g of level t's factor; the path's product of g at a
  // node of depth t; value * product summed over its leaves, per output.
  double* inverse(int depth) { return values_.data() + static_cast<std::size_t>(depth) * stride_; }
  double* product(int depth) { return inverse(depth) + points_; }
  double* sums(int depth) { return product(depth) + points_; }

  // A feature's Shapley terms at each point, per output, until fold_terms
  // integrates them into phi: the walk adds vectors and sums once a tree.
  double* terms(std::size_t feature, std::size_t outputs, int n) {
    if (touched_[feature] == 0) {
      touched_[feature] = 1;
      touched_features_.push_back(feature);
    }
    return terms_.data() + feature * outputs * static_cast<std::size_t>(n);
  }
  void fold_terms(std::span<double> phi, std::size_t outputs, int n) {
    const double* weight = weights(n);
    for (const std::size_t feature : touched_features_) {
      double* terms = terms_.data() + feature * outputs * static_cast<std::size_t>(n);
      for (std::size_t o = 0; o < outputs; ++o) {
        double total = 0.0;
        for (int k = 0; k < n; ++k)
          total += weight[k] * terms[o * static_cast<std::size_t>(n) + static_cast<std::size_t>(k)];
        phi[feature * outputs + o] += total;
      }
      std::fill_n(terms, outputs * static_cast<std::size_t>(n), 0.0);
      touched_[feature] = 0;
    }
    touched_features_.clear();
  }

 private:
  int depth_ = -1;
  std::size_t outputs_ = 0;
  std::size_t features_ = 0;
  int points_ = 0;
  std::size_t stride_ = 0;
  std::vector<double> rules_;  // per count 1..points_: its points then its weights
  std::vector<Level> levels_;
  std::vector<double> values_;
  std::vector<double> ones_;
  std::vector<double> terms_;
  std::vector<std::uint8_t> touched_;
  std::vector<int> deepest_split_;
  std::vector<std::size_t> touched_features_;
};

// Points is the quadrature's point count when known at compile time (the
// loops over points then unroll), 0 when it is only known at run time.
template <class V, class Row, int Points>
struct ShapWalk {
  const V& view;
  const Row& x;
  std::size_t outputs;
  std::size_t features;  // columns phi has room for
  int max_depth;
  int point_count;
  const double* points;
  TreeShapWorkspace& workspace;

  int n() const {
    if constexpr (Points > 0) return Points;
    return point_count;
  }

  // The factor g = z (1 - s) + o s at each point and its inverse, and the
  // path's product with it in place of the feature's previous factor.
  void set_factor(double zero, double one, const double* __restrict product, const double* __restrict inverse_before,
                  double* __restrict inverse, double* __restrict child_product) const {
    const int n = this->n();
    for (int k = 0; k < n; ++k) {
      const double g = zero * (1.0 - points[k]) + one * points[k];
      inverse[k] = 1.0 / g;
      child_product[k] = product[k] * g * inverse_before[k];
    }
  }

  // The leaves below take (o - z) / g of this factor in place of the one it
  // replaces; over a path's splits on a feature these telescope.
  void add_terms(double* __restrict terms, const double* __restrict below, double weight,
                 const double* __restrict inverse, double weight_before,
                 const double* __restrict inverse_before) const {
    const int n = this->n();
    for (std::size_t o = 0; o < outputs; ++o) {
      for (int k = 0; k < n; ++k) {
        terms[k] += below[k] * (weight * inverse[k] - weight_before * inverse_before[k]);
      }
      terms += n;
      below += n;
    }
  }

  void set_leaf_sums(std::int32_t leaf, const double* __restrict product, double* __restrict sums) const {
    const int n = this->n();
    for (std::size_t o = 0; o < outputs; ++o) {
      const auto value = static_cast<double>(view.leaf_value(leaf, o));
      for (int k = 0; k < n; ++k)
        sums[o * static_cast<std::size_t>(n) + static_cast<std::size_t>(k)] = value * product[k];
    }
  }

  // Sets `sums` (outputs x n) to value * product summed over the leaves below
  // `node` at each point, and adds the Shapley terms of the splits below.
  void visit(std::int32_t node, int depth, const double* __restrict product, double* __restrict sums) {
    const int n = this->n();
    const auto width = outputs * static_cast<std::size_t>(n);
    if (view.is_leaf(node)) {
      set_leaf_sums(node, product, sums);
      return;
    }
    // The workspace holds max_depth + 1 levels; deeper children would overrun it.
    if (depth >= max_depth) {
      raise<invalid_argument>("add_tree_shap",
                              "the tree is deeper than its max_depth() = " + std::to_string(max_depth));
    }
    const auto split = static_cast<std::int32_t>(view.feature(node));
    if (split < 0 || static_cast<std::size_t>(split) >= features) {
      raise<invalid_argument>("add_tree_shap", "node splits on feature " + std::to_string(split) +
                                                   " but phi has room for " + std::to_string(features) + " features");
    }
    // The feature is one player: its factor so far is the one set at its
    // deepest split above (z = o = 1, g = 1 if none), and this split's
    // fractions multiply into it.
    int& deepest = workspace.deepest_split(split);
    const int before = deepest;
    const double zero_before = before < 0 ? 1.0 : workspace.level(before).zero;
    const double one_before = before < 0 ? 1.0 : workspace.level(before).one;
    const double* inverse_before = before < 0 ? workspace.ones() : workspace.inverse(before);

    const auto [left_share, right_share] = child_shares(view, node);
    const Direction direction = view.direction(node, x);
    TreeShapWorkspace::Level& here = workspace.level(depth);
    deepest = depth;
    double* inverse = workspace.inverse(depth);
    double* child_product = workspace.product(depth + 1);
    double* child_sums = workspace.sums(depth + 1);
    bool empty = true;
    // x's way takes o along; `both` splits it by cover like z.
    const bool both = direction == Direction::both;
    const double to_right = direction == Direction::right ? 1.0 : 0.0;
    const double left_one = one_before * (both ? left_share : 1.0 - to_right);
    const double right_one = one_before * (both ? right_share : to_right);
    for (const bool right : {false, true}) {
      const double zero = zero_before * (right ? right_share : left_share);
      const double one = right ? right_one : left_one;
      // No training weight and not x's way: every leaf below has factor 0.
      if (zero == 0.0 && one == 0.0) continue;
      here.zero = zero;
      here.one = one;
      set_factor(zero, one, product, inverse_before, inverse, child_product);
      // The first child's sums go straight into `sums`.
      double* below = empty ? sums : child_sums;
      const std::int32_t child = right ? view.right(node) : view.left(node);
      if (view.is_leaf(child)) {
        set_leaf_sums(child, child_product, below);  // half the nodes: no call
      } else {
        visit(child, depth + 1, child_product, below);
      }
      add_terms(workspace.terms(static_cast<std::size_t>(split), outputs, n), below, one - zero, inverse,
                one_before - zero_before, inverse_before);
      if (!empty) {
        for (std::size_t i = 0; i < width; ++i) sums[i] += child_sums[i];
      }
      empty = false;
    }
    deepest = before;
    if (empty) std::fill_n(sums, width, 0.0);
  }
};

// ADDS the tree's SHAP values for row x to phi, laid out [feature * outputs +
// output] (size n_features * outputs). Sizes the workspace if it is smaller
// than the tree and phi need; otherwise allocates nothing. Throws
// invalid_argument for a split feature phi has no room for or a tree deeper
// than max_depth() (phi may then hold part of the tree's values).
template <class V, class Row>
  requires TreeShapView<V, Row>
void add_tree_shap(const V& view, const Row& x, std::span<double> phi, TreeShapWorkspace& workspace) {
  const auto outputs = static_cast<std::size_t>(view.outputs());
  const auto max_depth = static_cast<int>(view.max_depth());
  if (outputs == 0 || max_depth < 0) {
    raise<invalid_argument>("add_tree_shap", "the tree needs outputs() >= 1 and max_depth() >= 0");
  }
  const auto root = static_cast<std::int32_t>(view.root());
  if (view.is_leaf(root)) return;  // no split, nothing to attribute
  const std::size_t features = phi.size() / outputs;
  workspace.reserve(max_depth, outputs, features);
  const int n = TreeShapWorkspace::point_count(max_depth);
  const auto walk = [&]<int Points>() {
    ShapWalk<V, Row, Points> tree{view, x, outputs, features, max_depth, n, workspace.points(n), workspace};
    try {
      tree.visit(root, 0, workspace.ones(), workspace.sums(0));
    } catch (...) {
      workspace.fold_terms(phi, outputs, n);  // leaves the workspace clean
      workspace.forget_path();
      throw;
    }
    workspace.fold_terms(phi, outputs, n);
  };
  // Forests are mostly shallow: unrolled walks up to depth 16.
  switch (n) {
    case 1: return walk.template operator()<1>();
    case 2: return walk.template operator()<2>();
    case 3: return walk.template operator()<3>();
    case 4: return walk.template operator()<4>();
    case 5: return walk.template operator()<5>();
    case 6: return walk.template operator()<6>();
    case 7: return walk.template operator()<7>();
    case 8: return walk.template operator()<8>();
    default: return walk.template operator()<0>();
  }
}

}  // namespace redflag::detail::forest
