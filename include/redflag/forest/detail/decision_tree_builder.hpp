#pragma once

// Grows one CART classification tree (Breiman, Friedman, Olshen & Stone,
// 1984) for RandomForest, the way scikit-learn's DecisionTreeClassifier with
// the best splitter does, but searching splits on histogram-binned columns
// (feature_bins.hpp) instead of sorted values.
//
// A node holds the training rows with positive weight that reached it (a
// bootstrap multiplicity is a weight). It becomes a leaf when it is at
// max_depth, has fewer than min_samples_split rows or fewer than
// 2 * min_samples_leaf, is pure, or its best split decreases the weighted
// impurity by less than min_impurity_decrease. Otherwise it draws
// max_features columns in random order and, in one pass over its rows, adds
// each row's weight to a (bin x class) histogram per drawn column (plus a row
// count per bin); a scan over each histogram scores every cut between two
// occupied bins that leaves min_samples_leaf rows on both sides. The best cut
// over the drawn columns wins (the first on ties) and its threshold is the
// bin's upper edge, so x <= threshold goes left. As in scikit-learn, columns
// found constant (one occupied bin) count only until a non-constant one has
// been seen; extra columns are then drawn one at a time.
//
// Cost per node: rows x drawn columns histogram updates plus a scan of the
// occupied bin range, against a sort per drawn column for exact CART. There
// is no histogram subtraction (deriving a child's histograms as parent minus
// sibling): each node draws its own random columns, so a child's columns
// rarely have a parent histogram; building all d columns per node to allow it
// would cost d / max_features times more than it saves.

#include <redflag/core/detail/portable_math.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/forest/detail/feature_bins.hpp>
#include <redflag/forest/detail/tree_node.hpp>
#include <redflag/forest/random_forest_params.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

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
  std::vector<TreeNode<T>> nodes;       // leaves: value 0, left = own index, step 0
  std::vector<double> cover;            // per node: weighted training rows
  std::vector<std::uint32_t> leaf_row;  // per node: its row of `leaf_values` (leaves), else 0
  std::vector<T> leaf_values;           // per leaf: n_classes class probabilities
  std::vector<double> importance;       // per column: weighted impurity decrease, sums to 1 (or all 0)
};

// Impurity of a node with weighted class counts `counts` summing to `total`.
inline double impurity(Criterion criterion, const double* counts, std::size_t n_classes, double total) {
  if (total <= 0.0) return 0.0;
  double value = criterion == Criterion::gini ? 1.0 : 0.0;
  for (std::size_t k = 0; k < n_classes; ++k) {
    const double p = counts[k] / total;
    if (criterion == Criterion::gini) {
      value -= unfused_mul(p, p);
    } else if (p > 0.0) {
      value -= unfused_mul(p, std::log2(p));
    }
  }
  return value;
}

template <Scalar T>
class ClassTreeBuilder {
 public:
  ClassTreeBuilder(const FeatureBins<T>& bins, const std::vector<std::int32_t>& y, const std::vector<double>& weight,
                   const ClassTreeSettings& settings)
      : bins_(bins), y_(y), weight_(weight), settings_(settings), k_(settings.n_classes), cell_(k_ + 1) {}

  BuiltClassTree<T> build(Random& rng) {
    const std::size_t d = bins_.cols;
    samples_.clear();
    for (std::size_t i = 0; i < weight_.size(); ++i) {
      if (weight_[i] > 0.0) samples_.push_back(static_cast<std::uint32_t>(i));
    }
    columns_.resize(d);
    drawn_.reserve(d);
    tree_ = {};
    tree_.importance.assign(d, 0.0);
    tree_.nodes.push_back({});
    tree_.cover.push_back(0.0);
    tree_.leaf_row.push_back(0);
    track_rows_ = settings_.min_samples_leaf > 1;
    // Class weights of each pending node, k_ per entry; a node's come from
    // its parent's partition, in row order.
    std::vector<double> counts(k_, 0.0);
    pending_counts_.clear();
    total_weight_ = 0.0;
    for (const std::uint32_t row : samples_) {
      counts[static_cast<std::size_t>(y_[row])] += weight_[row];
      total_weight_ += weight_[row];
    }
    pending_counts_.insert(pending_counts_.end(), counts.begin(), counts.end());

    struct Pending {
      std::size_t node, begin, end;
      Index depth;
    };
    std::vector<Pending> stack{{0, 0, samples_.size(), 0}};
    while (!stack.empty()) {
      const Pending at = stack.back();
      stack.pop_back();
      std::copy(pending_counts_.end() - static_cast<std::ptrdiff_t>(k_), pending_counts_.end(), counts.begin());
      pending_counts_.resize(pending_counts_.size() - k_);
      double total = 0.0;
      for (const double count : counts) total += count;
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
      if (!split.found ||
          split.improvement + std::numeric_limits<double>::epsilon() < settings_.min_impurity_decrease) {
        make_leaf(at.node, counts, total);
        continue;
      }
      tree_.importance[split.feature] +=
          total * node_impurity - split.left_weight * split.left_impurity - split.right_weight * split.right_impurity;
      // Stable partition: the children see their rows in the parent's order.
      const std::size_t middle = partition(at.begin, at.end, split.feature, split.bin);
      // Stack order: the left child is popped first, so its counts go on top.
      pending_counts_.insert(pending_counts_.end(), right_counts_.begin(), right_counts_.end());
      pending_counts_.insert(pending_counts_.end(), left_counts_.begin(), left_counts_.end());
      const auto left = static_cast<std::int32_t>(tree_.nodes.size());
      const T threshold = bins_.edges[split.feature][split.bin];
      tree_.nodes[at.node] = {threshold, left, static_cast<std::uint16_t>(split.feature), NodeKind::numeric, 1};
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
    std::size_t bin = 0;  // rows in bins <= bin go left
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
        left_sum += unfused_mul(left[k], left[k]);
        right_sum += unfused_mul(right[k], right[k]);
      }
      return left_sum / left_weight + right_sum / right_weight;
    }
    return -(unfused_mul(left_weight, impurity(Criterion::entropy, left, k_, left_weight)) +
             unfused_mul(right_weight, impurity(Criterion::entropy, right, k_, right_weight)));
  }

  // Histograms of the node's rows for the columns drawn_[first..], in one
  // pass over the rows; records each column's occupied bin range.
  void fill_histograms(std::size_t begin, std::size_t end, std::size_t first) {
    const std::size_t m = drawn_.size();
    const std::size_t span = bins_.max_bin_count * cell_;
    if (histogram_.size() < m * span) histogram_.resize(m * span, 0.0);
    low_.resize(m);
    high_.resize(m);
    base_.resize(m);
    for (std::size_t i = first; i < m; ++i) base_[i] = histogram_.data() + i * span;
    const std::size_t cell = cell_;
    const std::size_t rows_slot = k_;
    if (end - begin >= bins_.max_bin_count) {
      // Large node: no per-row range tracking; the occupied range is read off the histogram.
      for (std::size_t s = begin; s < end; ++s) {
        const std::uint32_t row = samples_[s];
        const std::uint8_t* code = bins_.row(row);
        const double w = weight_[row];
        const auto label = static_cast<std::size_t>(y_[row]);
        for (std::size_t i = first; i < m; ++i) {
          double* at = base_[i] + std::size_t{code[drawn_[i]]} * cell;
          at[label] += w;
          at[rows_slot] += 1.0;
        }
      }
      for (std::size_t i = first; i < m; ++i) {
        const double* histogram = base_[i];
        std::size_t low = 0, high = bins_.bin_count(drawn_[i]) - 1;
        while (low < high && histogram[low * cell + rows_slot] == 0.0) ++low;
        while (high > low && histogram[high * cell + rows_slot] == 0.0) --high;
        low_[i] = static_cast<std::uint8_t>(low);
        high_[i] = static_cast<std::uint8_t>(high);
      }
      return;
    }
    for (std::size_t i = first; i < m; ++i) {
      low_[i] = 255;
      high_[i] = 0;
    }
    for (std::size_t s = begin; s < end; ++s) {
      const std::uint32_t row = samples_[s];
      const std::uint8_t* code = bins_.row(row);
      const double w = weight_[row];
      const auto label = static_cast<std::size_t>(y_[row]);
      for (std::size_t i = first; i < m; ++i) {
        const std::uint8_t bin = code[drawn_[i]];
        double* at = base_[i] + std::size_t{bin} * cell;
        at[label] += w;
        at[rows_slot] += 1.0;
        low_[i] = std::min(low_[i], bin);
        high_[i] = std::max(high_[i], bin);
      }
    }
  }

  // Scores the cuts of drawn column i against `best`, then clears its histogram.
  void scan(std::size_t i, const std::vector<double>& counts, double total, std::size_t rows, Split& best) {
    const std::size_t span = bins_.max_bin_count * cell_;
    double* histogram = histogram_.data() + i * span;
    std::vector<double>& left = left_counts_;
    std::vector<double>& right = right_counts_;
    std::fill(left.begin(), left.end(), 0.0);
    std::copy(counts.begin(), counts.end(), right.begin());
    const auto min_leaf = static_cast<double>(settings_.min_samples_leaf);
    double left_weight = 0.0, left_rows = 0.0;
    for (std::size_t b = low_[i]; b < high_[i]; ++b) {
      const double* cell = histogram + b * cell_;
      double bin_weight = 0.0;
      for (std::size_t k = 0; k < k_; ++k) {
        left[k] += cell[k];
        right[k] -= cell[k];
        bin_weight += cell[k];
      }
      // Rows weigh > 0, so an empty bin repeats the last occupied bin's split.
      if (bin_weight == 0.0) continue;
      left_weight += bin_weight;
      if (track_rows_) {
        left_rows += cell[k_];
        if (left_rows < min_leaf || static_cast<double>(rows) - left_rows < min_leaf) continue;
      }
      const double right_weight = total - left_weight;
      if (!(right_weight > 0.0) || !(left_weight > 0.0)) continue;
      const double score = proxy(left.data(), left_weight, right.data(), right_weight);
      if (score > best.proxy) {
        best.found = true;
        best.proxy = score;
        best.feature = drawn_[i];
        best.bin = b;
        std::copy(left.begin(), left.end(), best_left_.begin());
      }
    }
    std::fill(histogram + std::size_t{low_[i]} * cell_, histogram + (std::size_t{high_[i]} + 1) * cell_, 0.0);
  }

  void clear_constant(std::size_t i) {
    std::fill_n(histogram_.data() + i * bins_.max_bin_count * cell_ + std::size_t{low_[i]} * cell_, cell_, 0.0);
  }

  Split best_split(std::size_t begin, std::size_t end, const std::vector<double>& counts, double total, Random& rng) {
    const std::size_t d = columns_.size();
    std::iota(columns_.begin(), columns_.end(), std::size_t{0});
    left_counts_.resize(k_);
    right_counts_.resize(k_);
    best_left_.resize(k_);
    Split best;
    const auto max_features = static_cast<std::size_t>(settings_.max_features);
    const std::size_t rows = end - begin;
    // The first max_features draws share one pass over the rows; a column
    // drawn because earlier ones were constant gets a pass of its own. The
    // RNG sees the same draws as a column-at-a-time search.
    drawn_.clear();
    std::size_t next = 0;
    for (; next < std::min(max_features, d); ++next) {
      std::swap(columns_[next], columns_[next + rng.uniform_int(d - next)]);
      drawn_.push_back(columns_[next]);
    }
    fill_histograms(begin, end, 0);
    std::size_t constant = 0;
    for (std::size_t i = 0; i < drawn_.size(); ++i) {
      if (low_[i] == high_[i]) {
        ++constant;
        clear_constant(i);
        continue;
      }
      scan(i, counts, total, rows, best);
    }
    for (; next < d && next <= constant; ++next) {
      std::swap(columns_[next], columns_[next + rng.uniform_int(d - next)]);
      drawn_.push_back(columns_[next]);
      const std::size_t i = drawn_.size() - 1;
      fill_histograms(begin, end, i);
      if (low_[i] == high_[i]) {
        ++constant;
        clear_constant(i);
        continue;
      }
      scan(i, counts, total, rows, best);
    }
    if (!best.found) return best;
    // Child impurities from the winning histogram's prefix sums; the
    // children's own counts are summed in row order by partition().
    std::vector<double>& right = right_counts_;
    best.left_weight = 0.0;
    for (std::size_t k = 0; k < k_; ++k) {
      right[k] = std::max(0.0, counts[k] - best_left_[k]);
      best.left_weight += best_left_[k];
    }
    best.right_weight = std::max(0.0, total - best.left_weight);
    best.left_impurity = impurity(settings_.criterion, best_left_.data(), k_, best.left_weight);
    best.right_impurity = impurity(settings_.criterion, right.data(), k_, best.right_weight);
    return best;
  }

  // Also leaves the children's class weights in left_counts_ / right_counts_.
  std::size_t partition(std::size_t begin, std::size_t end, std::size_t feature, std::size_t bin) {
    scratch_.clear();
    std::fill(left_counts_.begin(), left_counts_.end(), 0.0);
    std::fill(right_counts_.begin(), right_counts_.end(), 0.0);
    std::size_t out = begin;
    for (std::size_t s = begin; s < end; ++s) {
      const std::uint32_t row = samples_[s];
      const auto label = static_cast<std::size_t>(y_[row]);
      if (bins_.row(row)[feature] <= bin) {
        samples_[out++] = row;
        left_counts_[label] += weight_[row];
      } else {
        scratch_.push_back(row);
        right_counts_[label] += weight_[row];
      }
    }
    std::copy(scratch_.begin(), scratch_.end(), samples_.begin() + static_cast<std::ptrdiff_t>(out));
    return out;
  }

  const FeatureBins<T>& bins_;
  const std::vector<std::int32_t>& y_;
  const std::vector<double>& weight_;
  const ClassTreeSettings& settings_;
  std::size_t k_;
  std::size_t cell_;  // doubles per histogram bin: a weight per class, then the row count
  double total_weight_ = 0.0;
  bool track_rows_ = false;  // min_samples_leaf > 1: check row counts, not just weights
  BuiltClassTree<T> tree_;
  std::vector<std::uint32_t> samples_, scratch_;
  std::vector<std::size_t> columns_, drawn_;
  std::vector<double> histogram_;  // per drawn column: max_bin_count cells, zero between uses
  std::vector<std::uint8_t> low_, high_;
  std::vector<double*> base_;  // per drawn column: its histogram
  std::vector<double> left_counts_, right_counts_, best_left_, pending_counts_;
};

// Grows a tree on the rows with positive `weight` (class codes `y` in
// [0, n_classes)) of the binned matrix, drawing from `rng`.
template <Scalar T>
BuiltClassTree<T> build_class_tree(const FeatureBins<T>& bins, const std::vector<std::int32_t>& y,
                                   const std::vector<double>& weight, const ClassTreeSettings& settings, Random& rng) {
  ClassTreeBuilder<T> builder(bins, y, weight, settings);
  return builder.build(rng);
}

}  // namespace redflag::detail::forest
