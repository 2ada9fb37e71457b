#pragma once

// Why a row is anomalous: per-feature contributions to IsolationForest's
// anomaly score, returned as redflag::Explanation (core/explanation.hpp).
//
// Method. Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018) on each
// tree's path-length model — leaf value depth + c(size), node cover the
// training rows that reached it — averaged over the trees, gives phi_j with
// h_base + sum_j phi_j = E[h(x)], where h_base is the cover-weighted mean
// path length. The score s = 2^(-E[h]/c(psi)) is a monotone function of
// E[h], so each feature keeps its share of the path-length change:
//   contribution_j = phi_j * (s(x) - s_base) / (E[h(x)] - h_base),
//   s_base = 2^(-h_base / c(psi)),
// and expected_value + sum_j contribution_j = s(x) exactly (up to rounding). A
// positive contribution raised the score (shortened the path). When
// E[h(x)] = h_base the ratio is the derivative of s at h_base.
//
// A missing value or a category a node never saw takes both branches by
// cover, as in scoring, and gives its feature no credit at that node.

#include <redflag/core/detail/portable_math.hpp>
#include <redflag/core/explanation.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/detail/isolation_scorer.hpp>
#include <redflag/forest/detail/isolation_tree.hpp>
#include <redflag/forest/detail/tree_shap.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace redflag {

namespace detail::forest {

// One isolation tree as TreeSHAP's tree view.
template <Scalar T>
class IsolationTreeView {
 public:
  IsolationTreeView(const IsolationTrees<T>& trees, std::size_t tree) : trees_(trees), tree_(tree) {}

  std::int32_t root() const { return trees_.offsets[tree_]; }
  bool is_leaf(std::int32_t node) const { return at(node).kind == NodeKind::leaf; }
  std::int32_t left(std::int32_t node) const { return at(node).left; }
  std::int32_t right(std::int32_t node) const { return at(node).left + 1; }
  double cover(std::int32_t node) const { return trees_.count[static_cast<std::size_t>(node)]; }
  std::int32_t feature(std::int32_t node) const { return at(node).feature; }
  double leaf_value(std::int32_t node, std::size_t) const { return static_cast<double>(at(node).value); }
  std::size_t outputs() const { return 1; }
  int max_depth() const { return trees_.depth[tree_]; }
  Direction direction(std::int32_t node, const T* x) const {
    switch (branch(trees_, static_cast<std::size_t>(node), x)) {
      case Branch::left: return Direction::left;
      case Branch::right: return Direction::right;
      case Branch::both: break;
    }
    return Direction::both;
  }

 private:
  const TreeNode<T>& at(std::int32_t node) const { return trees_.nodes[static_cast<std::size_t>(node)]; }

  const IsolationTrees<T>& trees_;
  std::size_t tree_;
};

template <Scalar T>
Explanation<T> explain(const IsolationTrees<T>& trees, const Schema& schema, Index max_samples, const MatrixRef<T>& X,
                       int n_jobs) {
  const std::size_t n_trees = trees.tree_count();
  const auto d = static_cast<std::size_t>(X.cols());
  const double c = average_path_length(static_cast<double>(max_samples));
  const double per_tree = 1.0 / static_cast<double>(n_trees);
  double base_depth = 0.0;  // mean over trees of the cover-weighted mean path length
  for (const double length : trees.expected_path_length) base_depth += length;
  base_depth *= per_tree;
  const double base_score = portable_exp2(-base_depth / c);

  Explanation<T> result;
  for (const Column& column : schema.columns()) result.feature_names.push_back(column.name);
  result.expected_value = static_cast<T>(base_score);
  result.contributions.resize(X.rows(), X.cols());
  result.scores.resize(X.rows());
  int deepest = 0;
  for (const auto depth : trees.depth) deepest = std::max(deepest, depth);

  const auto stride = static_cast<std::size_t>(X.outerStride());
  constexpr std::size_t block_rows = 16;
  parallel_for(static_cast<std::size_t>(X.rows()), n_jobs,
               [&](std::size_t begin, std::size_t end) {
                 TreeShapWorkspace workspace;
                 workspace.reserve(deepest, 1, d);
                 std::vector<double> phi(d);
                 for (std::size_t r = begin; r < end; ++r) {
                   const T* x = X.data() + r * stride;
                   std::fill(phi.begin(), phi.end(), 0.0);
                   for (std::size_t t = 0; t < n_trees; ++t)
                     add_tree_shap(IsolationTreeView<T>(trees, t), x, std::span<double>(phi), workspace);
                   double depth = 0.0;  // the same sum, in the same order, as anomaly_score's
                   add_path_lengths(trees, x, stride, 1, d, &depth);
                   const double score = portable_exp2(depth * (-1.0 / (static_cast<double>(n_trees) * c)));
                   double phi_sum = 0.0;
                   for (double& value : phi) phi_sum += (value *= per_tree);
                   // s - s_base over E[h] - h_base, measured as the sum of phi so the
                   // contributions add up to the score's change exactly.
                   const double ratio = std::abs(phi_sum) > 1e-12 * std::max(1.0, base_depth)
                                            ? (score - base_score) / phi_sum
                                            : -std::log(2.0) / c * base_score;
                   const auto row = static_cast<Index>(r);
                   for (std::size_t j = 0; j < d; ++j)
                     result.contributions(row, static_cast<Index>(j)) = static_cast<T>(phi[j] * ratio);
                   result.scores(row) = static_cast<T>(score);
                 }
               },
               {.grain = block_rows});
  return result;
}

}  // namespace detail::forest
}  // namespace redflag
