#pragma once

// The storage of an isolation forest (Liu, Ting & Zhou, "Isolation Forest",
// ICDM 2008; Hariri, Kind & Brunner, "Extended Isolation Forest", IEEE TKDE
// 2021): every tree's nodes (tree_node.hpp) in one array, a tree being a
// contiguous range. A leaf holds depth + c(leaf size), the path length the
// paper assigns to a row ending there, so scoring is a walk and one addition
// per tree.
//
// Beside the nodes: the training rows that reached each node (for missing
// values, unseen categories and explanations), and side tables for the two
// split kinds that need more than one number (categorical, hyperplane).

#include <redflag/core/detail/portable_math.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/forest/detail/tree_node.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace redflag::detail::forest {

// One coordinate of a hyperplane split: its normal-vector weight and the
// intercept point's coordinate.
template <Scalar T>
struct HyperplaneTerm {
  std::int32_t column;
  T weight;
  T point;
};

enum class Side : std::uint8_t { left, right, undefined };

// Which side of the hyperplane (x - p) . n = 0 a row lies on: left when
// (x - p) . n <= 0. A missing coordinate is taken to be the intercept point's
// own, so its term drops out and the known ones decide (Hariri et al. leave
// missing values open; this keeps a row's other values informative). With
// no known term of non-zero weight the side is undefined. `value(column)`
// reads the row.
template <Scalar T, class Value>
Side hyperplane_side(const HyperplaneTerm<T>* terms, std::uint32_t n_terms, const Value& value) {
  double projection = 0.0;
  bool known = false;
  for (std::uint32_t k = 0; k < n_terms; ++k) {
    const T x = value(terms[k].column);
    if (std::isnan(x) || terms[k].weight == T(0)) continue;
    known = true;
    projection +=
        unfused_mul(static_cast<double>(terms[k].weight), static_cast<double>(x) - static_cast<double>(terms[k].point));
  }
  if (!known) return Side::undefined;
  return projection <= 0.0 ? Side::left : Side::right;
}

// Average path length of an unsuccessful search in a binary search tree of n
// nodes, c(n) = 2 H(n - 1) - 2 (n - 1) / n with H(i) ~ ln(i) + Euler's
// constant; c(0) = c(1) = 0 and c(2) = 1. The same formula as scikit-learn's
// _average_path_length.
inline double average_path_length(double n) {
  if (n <= 1.0) return 0.0;
  if (n <= 2.0) return 1.0;
  constexpr double euler_gamma = 0.57721566490153286060651209;
  return 2.0 * (std::log(n - 1.0) + euler_gamma) - 2.0 * (n - 1.0) / n;
}

// ceil(log2(psi)) for psi >= 2: the paper's height limit.
inline int height_limit(Index psi) { return static_cast<int>(std::bit_width(static_cast<std::uint64_t>(psi - 1))); }

// One tree as the builder returns it; child indices relative to `nodes`.
template <Scalar T>
struct BuiltTree {
  std::vector<TreeNode<T>> nodes;
  std::vector<std::uint32_t> count;           // training rows reaching each node
  std::vector<std::uint32_t> categories;      // per categorical node: n, then n entries code * 2 + goes_right
  std::vector<std::uint32_t> category_start;  // per node: start in `categories` (categorical nodes only)
  std::vector<HyperplaneTerm<T>> terms;       // per hyperplane node: terms_per_node terms
  std::vector<std::uint32_t> term_start;      // per node: start in `terms` (hyperplane nodes only)
};

// All trees of a forest. `aux` is empty unless some node is categorical or a
// hyperplane; then aux[i] is node i's start in `categories` or `terms`.
template <Scalar T>
struct IsolationTrees {
  std::vector<TreeNode<T>> nodes;
  std::vector<std::uint32_t> count;
  std::vector<std::int32_t> offsets;  // per tree: root index, plus the end (empty when unfitted)
  std::vector<std::uint32_t> aux;
  std::vector<std::uint32_t> categories;
  std::vector<HyperplaneTerm<T>> terms;
  std::uint32_t terms_per_node = 0;
  // Derived (never saved): per tree, the deepest leaf's depth = the steps
  // every row takes; whether every split is numeric (the fast walk applies).
  std::vector<std::int32_t> depth;
  // Per tree, the path length of a row that tells it nothing (at every split
  // it goes both ways in proportion to the training rows): sum over leaves of
  // value * count / the root's count. Explanations start from it.
  std::vector<double> expected_path_length;
  bool numeric_only = true;

  [[nodiscard]] std::size_t tree_count() const { return offsets.empty() ? 0 : offsets.size() - 1; }

  void append(BuiltTree<T>&& tree) {
    if (offsets.empty()) offsets.push_back(0);
    const auto base = static_cast<std::int32_t>(nodes.size());
    // Once any tree has side data every node gets an aux entry (earlier
    // trees' 0s included), even when this is the forest's first tree.
    const bool side_data = !aux.empty() || !tree.categories.empty() || !tree.terms.empty();
    if (side_data) aux.resize(nodes.size(), 0);
    for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
      TreeNode<T> node = tree.nodes[i];
      node.left += base;
      nodes.push_back(node);
      count.push_back(tree.count[i]);
      if (side_data) {
        std::uint32_t start = 0;
        if (node.kind == NodeKind::categorical)
          start = tree.category_start[i] + static_cast<std::uint32_t>(categories.size());
        if (node.kind == NodeKind::hyperplane) start = tree.term_start[i] + static_cast<std::uint32_t>(terms.size());
        aux.push_back(start);
      }
    }
    categories.insert(categories.end(), tree.categories.begin(), tree.categories.end());
    terms.insert(terms.end(), tree.terms.begin(), tree.terms.end());
    offsets.push_back(static_cast<std::int32_t>(nodes.size()));
  }

  // Drops the first `drop` trees (the oldest). Trees and their side-table
  // entries are stored in tree order, so this erases a prefix of every array
  // and shifts the indices that point past it.
  void drop_oldest(std::size_t drop) {
    if (drop == 0) return;
    const auto first = static_cast<std::size_t>(offsets[drop]);
    std::uint32_t category_prefix = 0, term_prefix = 0;
    for (std::size_t i = 0; i < first; ++i) {
      if (nodes[i].kind == NodeKind::categorical) category_prefix += 1 + categories[aux[i]];
      if (nodes[i].kind == NodeKind::hyperplane) term_prefix += terms_per_node;
    }
    const auto erase_front = [](auto& values, std::size_t length) {
      values.erase(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(std::min(length, values.size())));
    };
    erase_front(nodes, first);
    erase_front(count, first);
    erase_front(aux, first);
    erase_front(categories, category_prefix);
    erase_front(terms, term_prefix);
    erase_front(offsets, drop);
    const auto shift = static_cast<std::int32_t>(first);
    for (auto& offset : offsets) offset -= shift;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      nodes[i].left -= shift;
      if (nodes[i].kind == NodeKind::categorical) aux[i] -= category_prefix;
      if (nodes[i].kind == NodeKind::hyperplane) aux[i] -= term_prefix;
    }
    derive();
  }

  void derive() {
    depth.assign(tree_count(), 0);
    expected_path_length.assign(tree_count(), 0.0);
    numeric_only = true;
    std::vector<std::int32_t> level(nodes.size(), 0);
    for (std::size_t t = 0; t < tree_count(); ++t) {
      // Children follow their parent inside a tree, so one forward pass sees
      // every node's depth before its children's.
      for (auto i = static_cast<std::size_t>(offsets[t]); i < static_cast<std::size_t>(offsets[t + 1]); ++i) {
        const TreeNode<T>& node = nodes[i];
        if (node.kind == NodeKind::leaf) {
          depth[t] = std::max(depth[t], level[i]);
          expected_path_length[t] += static_cast<double>(node.value) * count[i];
          continue;
        }
        if (node.kind != NodeKind::numeric) numeric_only = false;
        const auto left = static_cast<std::size_t>(node.left);
        level[left] = level[left + 1] = level[i] + 1;
      }
      expected_path_length[t] /= count[static_cast<std::size_t>(offsets[t])];
    }
  }

  // Everything scoring relies on, so a hostile file cannot make it read out
  // of bounds or loop: offsets increase from 0 to the node count, every
  // internal node's children lie after it within its tree, columns are below
  // `columns`, side-table entries are in range, values are finite, counts add
  // up. Throws serialization_error naming the first fault.
  void validate(Index columns) const {
    const auto fail = [](const std::string& what) {
      throw serialization_error("redflag::load: IsolationForest " + what);
    };
    if (count.size() != nodes.size()) fail("node counts do not match the nodes");
    if (!aux.empty() && aux.size() != nodes.size()) fail("node side-table starts do not match the nodes");
    if (offsets.empty()) return;
    if (offsets.front() != 0 || static_cast<std::size_t>(offsets.back()) != nodes.size()) {
      fail("tree offsets do not span the " + std::to_string(nodes.size()) + " nodes");
    }
    // All offsets before any node: a tree's range is only known to lie inside
    // `nodes` once every later offset is known not to decrease.
    for (std::size_t t = 0; t + 1 < offsets.size(); ++t) {
      if (offsets[t + 1] <= offsets[t]) fail("tree " + std::to_string(t) + " is empty or its offsets decrease");
    }
    for (std::size_t t = 0; t + 1 < offsets.size(); ++t) {
      const std::int32_t begin = offsets[t];
      const std::int32_t end = offsets[t + 1];
      for (std::int32_t i = begin; i < end; ++i) {
        const auto at = static_cast<std::size_t>(i);
        const TreeNode<T>& node = nodes[at];
        const std::string where = "node " + std::to_string(i) + " (tree " + std::to_string(t) + ")";
        if (!std::isfinite(node.value)) fail(where + " has a non-finite value");
        if (node.kind == NodeKind::leaf) {
          if (node.left != i || node.step != 0 || node.feature != 0) fail(where + " is a malformed leaf");
          if (node.value < 0) fail(where + " is a leaf with negative path length");
          continue;
        }
        if (node.kind > NodeKind::hyperplane) fail(where + " has unknown kind " + std::to_string(int(node.kind)));
        if (node.left <= i || node.left >= end - 1) {
          fail(where + " has children outside (" + std::to_string(i) + ", " + std::to_string(end) + ")");
        }
        const auto left = static_cast<std::size_t>(node.left);
        if (std::uint64_t{count[left]} + count[left + 1] != count[at]) fail(where + " has counts that do not add up");
        if (node.step != (node.kind == NodeKind::numeric ? 1 : 0)) fail(where + " has a wrong step");
        if (node.feature >= columns) {
          fail(where + " splits on column " + std::to_string(node.feature) + " of " + std::to_string(columns));
        }
        if (node.kind == NodeKind::categorical)
          validate_categories(where, aux.empty() ? 0 : aux[at], fail, !aux.empty());
        if (node.kind == NodeKind::hyperplane)
          validate_terms(where, aux.empty() ? 0 : aux[at], columns, fail, !aux.empty());
      }
    }
  }

 private:
  template <class Fail>
  void validate_categories(const std::string& where, std::uint32_t start, const Fail& fail, bool has_aux) const {
    if (!has_aux || start >= categories.size()) fail(where + " points outside the category table");
    const std::uint32_t n = categories[start];
    if (n < 2 || n > categories.size() - start - 1) fail(where + " has a malformed category list");
    for (std::uint32_t k = 1; k < n; ++k) {
      if ((categories[start + k] >> 1) >= (categories[start + k + 1] >> 1)) fail(where + " has unsorted categories");
    }
  }

  template <class Fail>
  void validate_terms(const std::string& where, std::uint32_t start, Index columns, const Fail& fail,
                      bool has_aux) const {
    if (!has_aux || terms_per_node == 0 || std::uint64_t{start} + terms_per_node > terms.size()) {
      fail(where + " points outside the hyperplane table");
    }
    for (std::uint32_t k = 0; k < terms_per_node; ++k) {
      const HyperplaneTerm<T>& term = terms[start + k];
      if (term.column < 0 || term.column >= columns || !std::isfinite(term.weight) || !std::isfinite(term.point)) {
        fail(where + " has a malformed hyperplane term");
      }
    }
  }
};

// Format v1 stored no counts. A leaf's value is depth + c(size) and c is
// strictly increasing on whole sizes, so each leaf's size is recovered exactly
// (the gaps between c(n) and c(n + 1) are far above float rounding for
// n <= 2^24), and an internal node's count is the sum of its children's.
template <Scalar T>
bool recover_counts(IsolationTrees<T>& trees, std::uint32_t max_samples) {
  trees.count.assign(trees.nodes.size(), 0);
  std::vector<std::int32_t> level(trees.nodes.size(), 0);
  for (std::size_t t = 0; t < trees.tree_count(); ++t) {
    const auto begin = static_cast<std::size_t>(trees.offsets[t]);
    const auto end = static_cast<std::size_t>(trees.offsets[t + 1]);
    for (std::size_t i = begin; i < end; ++i) {
      const auto& node = trees.nodes[i];
      if (node.kind != NodeKind::leaf) {
        const auto left = static_cast<std::size_t>(node.left);
        level[left] = level[left + 1] = level[i] + 1;
        continue;
      }
      // The nearest whole size: the smallest n with c(n) >= target, or n - 1.
      const double target = static_cast<double>(node.value) - level[i];
      std::uint32_t low = 1, high = max_samples;
      while (low < high) {
        const std::uint32_t mid = low + (high - low) / 2;
        if (average_path_length(mid) < target) low = mid + 1;
        else high = mid;
      }
      if (low > 1 && target - average_path_length(low - 1) < average_path_length(low) - target) --low;
      if (std::abs(average_path_length(low) - target) > 1e-3) return false;
      trees.count[i] = low;
    }
    for (std::size_t i = end; i-- > begin;) {
      const auto& node = trees.nodes[i];
      if (node.kind != NodeKind::leaf) {
        trees.count[i] =
            trees.count[static_cast<std::size_t>(node.left)] + trees.count[static_cast<std::size_t>(node.left) + 1];
      }
    }
  }
  return true;
}

}  // namespace redflag::detail::forest
