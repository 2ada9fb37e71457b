#pragma once

// Grows one CART classification tree (Breiman, Friedman, Olshen & Stone,
// 1984) the way scikit-learn's DecisionTreeClassifier with the best splitter
// does, for RandomForest.
//
// A node holds the training rows with positive weight that reached it (a
// bootstrap multiplicity is a weight). It becomes a leaf when it is at
// max_depth, has fewer than min_samples_split rows or fewer than
// 2 * min_samples_leaf, is pure, or its best split decreases the weighted
// impurity by less than min_impurity_decrease. Otherwise it draws columns in
// random order and, for each, sorts the node's rows by value and scores every
// cut between two distinct values that leaves min_samples_leaf rows on both
// sides; the best cut over the drawn columns wins (the first on ties). As in
// scikit-learn, max_features columns are drawn, but constant ones count only
// until a non-constant column has been seen, so a node is never a leaf merely
// because the draw found constants. Thresholds are midpoints: x <= t goes
// left.
//
// Exact splits cost a sort per drawn column per node, O(n log^2 n) per
// column over a balanced tree. A histogram splitter (binned columns, counts
// per bin) would replace the sort by one pass per node.

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/forest/isolation_tree.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

namespace redflag {

// Split quality: gini = 1 - sum p_k^2; entropy = -sum p_k log2 p_k.
enum class Criterion : std::uint8_t { gini, entropy };

// scikit-learn's max_features = "sqrt" / "log2": max(1, floor(f(columns))).
struct Sqrt {
  friend bool operator==(Sqrt, Sqrt) = default;
};
struct Log2 {
  friend bool operator==(Log2, Log2) = default;
};

}  // namespace redflag

namespace redflag::detail::forest {

struct ClassTreeSettings {
  Index max_depth = std::numeric_limits<Index>::max();
  Index min_samples_split = 2;
  Index min_samples_leaf = 1;
  double min_impurity_decrease = 0.0;
  Index max_features = 1;  // resolved count in [1, d]
  Criterion criterion = Criterion::gini;
  std::size_t n_classes = 2;
};

// One tree as the builder returns it; child indices relative to `nodes`.
template <Scalar T>
struct BuiltClassTree {
  std::vector<TreeNode<T>> nodes;      // leaves: value 0, left = own index, step 0
  std::vector<double> cover;           // per node: weighted training rows
  std::vector<std::uint32_t> leaf_row;  // per node: its row of `leaf_values` (leaves), else 0
  std::vector<T> leaf_values;          // per leaf: n_classes class probabilities
  std::vector<double> importance;      // per column: weighted impurity decrease, sums to 1 (or all 0)
};

// Impurity of a node with weighted class counts `counts` summing to `total`.
inline double impurity(Criterion criterion, const double* counts, std::size_t n_classes, double total) {
  if (total <= 0.0) return 0.0;
  double value = criterion == Criterion::gini ? 1.0 : 0.0;
  for (std::size_t k = 0; k < n_classes; ++k) {
    const double p = counts[k] / total;
    if (criterion == Criterion::gini) {
      value -= p * p;
    } else if (p > 0.0) {
      value -= p * std::log2(p);
    }
  }
  return value;
}

template <Scalar T>
class ClassTreeBuilder {
 public:
  ClassTreeBuilder(const MatrixRef<T>& X, const std::vector<std::int32_t>& y, const std::vector<double>& weight,
                   const ClassTreeSettings& settings)
      : X_(X), y_(y), weight_(weight), settings_(settings), k_(settings.n_classes),
        stride_(static_cast<std::size_t>(X.outerStride())) {}

  BuiltClassTree<T> build(Random& rng) {
    const auto d = static_cast<std::size_t>(X_.cols());
    samples_.clear();
    for (std::size_t i = 0; i < weight_.size(); ++i) {
      if (weight_[i] > 0.0) samples_.push_back(static_cast<Index>(i));
    }
    columns_.resize(d);
    tree_ = {};
    tree_.importance.assign(d, 0.0);
    tree_.nodes.push_back({});
    tree_.cover.push_back(0.0);
    tree_.leaf_row.push_back(0);
    std::vector<double> counts(k_);
    total_weight_ = 0.0;
    for (const Index row : samples_) total_weight_ += weight_[static_cast<std::size_t>(row)];

    struct Pending {
      std::size_t node, begin, end;
      Index depth;
    };
    std::vector<Pending> stack{{0, 0, samples_.size(), 0}};
    while (!stack.empty()) {
      const Pending at = stack.back();
      stack.pop_back();
      std::fill(counts.begin(), counts.end(), 0.0);
      double total = 0.0;
      for (std::size_t s = at.begin; s < at.end; ++s) {
        const auto row = static_cast<std::size_t>(samples_[s]);
        counts[static_cast<std::size_t>(y_[row])] += weight_[row];
        total += weight_[row];
      }
      tree_.cover[at.node] = total;
      const double node_impurity = impurity(settings_.criterion, counts.data(), k_, total);
      const auto rows = static_cast<Index>(at.end - at.begin);
      Split split;
      const bool may_split = at.depth < settings_.max_depth && rows >= settings_.min_samples_split &&
                             rows >= 2 * settings_.min_samples_leaf &&
                             node_impurity > std::numeric_limits<double>::epsilon();
      if (may_split) split = best_split(at.begin, at.end, counts, total, rng);
      if (split.found) {
        // scikit-learn's weighted impurity decrease, relative to the root's weight.
        split.improvement = total / total_weight_ *
                            (node_impurity - split.left_weight / total * split.left_impurity -
                             split.right_weight / total * split.right_impurity);
      }
      if (!split.found || split.improvement + std::numeric_limits<double>::epsilon() < settings_.min_impurity_decrease) {
        make_leaf(at.node, counts, total);
        continue;
      }
      tree_.importance[split.feature] += total * node_impurity - split.left_weight * split.left_impurity -
                                         split.right_weight * split.right_impurity;
      // Stable partition: the children see their rows in the parent's order,
      // so the tree does not depend on how the sort broke ties.
      const std::size_t middle = partition(at.begin, at.end, split.feature, split.threshold);
      const auto left = static_cast<std::int32_t>(tree_.nodes.size());
      tree_.nodes[at.node] = {split.threshold, left, static_cast<std::uint16_t>(split.feature), NodeKind::numeric, 1};
      for (int child = 0; child < 2; ++child) {
        tree_.nodes.push_back({});
        tree_.cover.push_back(0.0);
        tree_.leaf_row.push_back(0);
      }
      stack.push_back({static_cast<std::size_t>(left) + 1, middle, at.end, at.depth + 1});
      stack.push_back({static_cast<std::size_t>(left), at.begin, middle, at.depth + 1});
    }
    const double sum = std::accumulate(tree_.importance.begin(), tree_.importance.end(), 0.0);
    if (sum > 0.0) {
      for (double& value : tree_.importance) value /= sum;
    }
    return std::move(tree_);
  }

 private:
  struct Split {
    bool found = false;
    std::size_t feature = 0;
    T threshold = T(0);
    double proxy = -std::numeric_limits<double>::infinity();
    double left_weight = 0.0, right_weight = 0.0;
    double left_impurity = 0.0, right_impurity = 0.0;
    double improvement = 0.0;
  };

  void make_leaf(std::size_t node, const std::vector<double>& counts, double total) {
    const auto row = static_cast<std::uint32_t>(tree_.leaf_values.size() / k_);
    tree_.nodes[node] = {T(0), static_cast<std::int32_t>(node), 0, NodeKind::leaf, 0};
    tree_.leaf_row[node] = row;
    for (std::size_t k = 0; k < k_; ++k) tree_.leaf_values.push_back(static_cast<T>(counts[k] / total));
  }

  // What the split search maximises: the negated weighted child impurity,
  // up to terms that are the same for every split of the node.
  double proxy(const double* left, double left_weight, const double* right, double right_weight) const {
    if (settings_.criterion == Criterion::gini) {
      double left_sum = 0.0, right_sum = 0.0;
      for (std::size_t k = 0; k < k_; ++k) {
        left_sum += left[k] * left[k];
        right_sum += right[k] * right[k];
      }
      return left_sum / left_weight + right_sum / right_weight;
    }
    return -(left_weight * impurity(Criterion::entropy, left, k_, left_weight) +
             right_weight * impurity(Criterion::entropy, right, k_, right_weight));
  }

  Split best_split(std::size_t begin, std::size_t end, const std::vector<double>& counts, double total,
                   Random& rng) {
    const auto d = columns_.size();
    std::iota(columns_.begin(), columns_.end(), std::size_t{0});
    Split best;
    std::vector<double>& left = left_counts_;
    std::vector<double>& right = right_counts_;
    left.resize(k_);
    right.resize(k_);
    const auto max_features = static_cast<std::size_t>(settings_.max_features);
    const auto min_leaf = static_cast<std::size_t>(settings_.min_samples_leaf);
    std::size_t visited = 0, constant = 0;
    for (std::size_t i = 0; i < d && (visited < max_features || visited <= constant); ++i) {
      // Partial Fisher-Yates: column i of a random order.
      std::swap(columns_[i], columns_[i + rng.uniform_int(d - i)]);
      const std::size_t feature = columns_[i];
      ++visited;
      sorted_.clear();
      for (std::size_t s = begin; s < end; ++s) {
        sorted_.emplace_back(value(samples_[s], feature), samples_[s]);
      }
      const auto [low, high] = std::minmax_element(sorted_.begin(), sorted_.end(),
                                                   [](const auto& a, const auto& b) { return a.first < b.first; });
      if (!(low->first < high->first)) {
        ++constant;
        continue;
      }
      std::sort(sorted_.begin(), sorted_.end());
      std::fill(left.begin(), left.end(), 0.0);
      std::copy(counts.begin(), counts.end(), right.begin());
      double left_weight = 0.0;
      const std::size_t m = sorted_.size();
      for (std::size_t p = 0; p + 1 < m; ++p) {
        const auto row = static_cast<std::size_t>(sorted_[p].second);
        const double w = weight_[row];
        const auto label = static_cast<std::size_t>(y_[row]);
        left[label] += w;
        right[label] -= w;
        left_weight += w;
        if (!(sorted_[p].first < sorted_[p + 1].first)) continue;
        if (p + 1 < min_leaf || m - p - 1 < min_leaf) continue;
        const double right_weight = total - left_weight;
        if (!(right_weight > 0.0) || !(left_weight > 0.0)) continue;
        const double score = proxy(left.data(), left_weight, right.data(), right_weight);
        if (score > best.proxy) {
          best.found = true;
          best.proxy = score;
          best.feature = feature;
          best.threshold = midpoint(sorted_[p].first, sorted_[p + 1].first);
        }
      }
    }
    if (!best.found) return best;
    // Child weights and impurities recomputed from the rows, in row order.
    std::fill(left.begin(), left.end(), 0.0);
    std::fill(right.begin(), right.end(), 0.0);
    best.left_weight = best.right_weight = 0.0;
    for (std::size_t s = begin; s < end; ++s) {
      const auto row = static_cast<std::size_t>(samples_[s]);
      const bool goes_left = value(samples_[s], best.feature) <= best.threshold;
      (goes_left ? left : right)[static_cast<std::size_t>(y_[row])] += weight_[row];
      (goes_left ? best.left_weight : best.right_weight) += weight_[row];
    }
    best.left_impurity = impurity(settings_.criterion, left.data(), k_, best.left_weight);
    best.right_impurity = impurity(settings_.criterion, right.data(), k_, best.right_weight);
    return best;
  }

  // Raw access: Eigen's checked operator() dominates debug-build fits.
  T value(Index row, std::size_t feature) const {
    return X_.data()[static_cast<std::size_t>(row) * stride_ + feature];
  }

  // A threshold t with low <= t < high: the midpoint, or low when the
  // midpoint rounds up to high (adjacent floats).
  static T midpoint(T low, T high) {
    const auto middle = static_cast<T>((static_cast<double>(low) + static_cast<double>(high)) / 2.0);
    return (middle >= low && middle < high) ? middle : low;
  }

  std::size_t partition(std::size_t begin, std::size_t end, std::size_t feature, T threshold) {
    scratch_.clear();
    std::size_t out = begin;
    for (std::size_t s = begin; s < end; ++s) {
      if (value(samples_[s], feature) <= threshold) samples_[out++] = samples_[s];
      else scratch_.push_back(samples_[s]);
    }
    std::copy(scratch_.begin(), scratch_.end(), samples_.begin() + static_cast<std::ptrdiff_t>(out));
    return out;
  }

  const MatrixRef<T>& X_;
  const std::vector<std::int32_t>& y_;
  const std::vector<double>& weight_;
  const ClassTreeSettings& settings_;
  std::size_t k_;
  std::size_t stride_;
  double total_weight_ = 0.0;
  BuiltClassTree<T> tree_;
  std::vector<Index> samples_, scratch_;
  std::vector<std::size_t> columns_;
  std::vector<std::pair<T, Index>> sorted_;
  std::vector<double> left_counts_, right_counts_;
};

// Grows a tree on the rows with positive `weight` (class codes `y` in
// [0, n_classes)), drawing from `rng`.
template <Scalar T>
BuiltClassTree<T> build_class_tree(const MatrixRef<T>& X, const std::vector<std::int32_t>& y,
                                   const std::vector<double>& weight, const ClassTreeSettings& settings, Random& rng) {
  ClassTreeBuilder<T> builder(X, y, weight, settings);
  return builder.build(rng);
}

}  // namespace redflag::detail::forest
