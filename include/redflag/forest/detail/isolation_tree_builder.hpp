#pragma once

// Grows one isolation tree on a random subsample, following scikit-learn's
// IsolationForest / ExtraTreeRegressor where the paper leaves a choice open.
//
// Axis-parallel trees (Liu, Ting & Zhou 2008): a node draws one of the tree's
// columns that is not constant on its rows, then a threshold uniformly
// between that column's min and max there (numeric) or a random non-trivial
// subset of the category codes present there (categorical, the left side).
//
// Hyperplane trees (Hariri, Kind & Brunner 2021): a node draws a normal
// vector with extension_level + 1 non-zero N(0, 1) coordinates on random
// columns of the tree and an intercept point uniformly inside the bounding
// box of its rows; a row goes left when (x - p) . n <= 0. As in the paper's
// reference implementation a split may leave one side empty; that side
// becomes a leaf of size 0.
//
// Missing values (NaN, when the model routes them): min/max, the categories
// present and the intercept box ignore them, and a hyperplane only takes
// columns known on some row of its node. A hyperplane skips a row's missing
// coordinates (hyperplane_side). A row whose split value is still undefined
// follows the branch that received more of the other rows (left on a tie),
// so each node's count says how many training rows went each way.

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/forest/detail/isolation_tree.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace redflag::detail::forest {

struct TreeSettings {
  Index max_samples = 256;  // psi: rows drawn per tree (already clipped to n)
  Index max_features = 1;   // columns drawn per tree
  bool bootstrap = false;
  int height_limit = 8;
  std::vector<bool> categorical;  // per column
  Index hyperplane_terms = 0;     // 0: axis-parallel; else extension_level + 1
};

// A threshold drawn uniformly from [low, high), low < high, as a T that is
// >= low and < high, so that both children of the split are non-empty.
template <Scalar T>
T draw_threshold(Random& rng, T low, T high) {
  const double u = rng.uniform<double>();
  const auto lo = static_cast<double>(low);
  const auto hi = static_cast<double>(high);
  const double width = hi - lo;
  // The convex form cannot overflow when high - low does (double near its limits).
  const double drawn =
      std::isfinite(width) ? lo + unfused_mul(width, u) : unfused_mul(lo, 1.0 - u) + unfused_mul(hi, u);
  auto threshold = static_cast<T>(drawn);
  if (!(threshold < high)) threshold = std::nextafter(high, low);
  if (threshold < low) threshold = low;
  return threshold;
}

template <Scalar T>
class TreeBuilder {
 public:
  // Draw order: rows, then the tree's columns, then splits depth first (left
  // subtree before right).
  TreeBuilder(const MatrixRef<T>& X, const TreeSettings& settings, Random& rng)
      : settings_(settings), rng_(rng), psi_(static_cast<std::size_t>(settings.max_samples)) {
    const Index n = X.rows();
    const Index d = X.cols();
    std::vector<Index> rows;
    if (settings.bootstrap) {
      rows.resize(psi_);
      for (auto& row : rows) row = rng.uniform_int(n);
    } else {
      rows = rng.sample_without_replacement(n, settings.max_samples);
    }
    if (settings.max_features < d) {
      columns_ = rng.sample_without_replacement(d, settings.max_features);
      std::sort(columns_.begin(), columns_.end());
    } else {
      columns_.resize(static_cast<std::size_t>(d));
      std::iota(columns_.begin(), columns_.end(), Index{0});
    }
    // The subsample column by column, so scans are contiguous. A temporary
    // of psi x k values: the fitted model keeps no training rows. The rows
    // lie scattered over X, which is often far larger than the caches: each
    // is read once, whole, with the rows a few places ahead already requested.
    const std::size_t k = columns_.size();
    sample_.resize(psi_ * k);
    constexpr std::size_t ahead = 8;
    const auto row_data = [&X, &rows](std::size_t i) { return X.data() + rows[i] * X.outerStride(); };
    for (std::size_t i = 0; i < psi_; ++i) {
#if defined(__GNUC__) || defined(__clang__)
      if (i + ahead < psi_) {
        const T* next = row_data(i + ahead);
        __builtin_prefetch(next);
        __builtin_prefetch(next + d - 1);
      }
#endif
      const T* row = row_data(i);
      for (std::size_t c = 0; c < k; ++c) sample_[c * psi_ + i] = row[columns_[c]];
    }
    has_missing_.assign(k, false);
    for (std::size_t c = 0; c < k; ++c) {
      const T* column = sample_.data() + c * psi_;
      has_missing_[c] = std::any_of(column, column + psi_, [](T value) { return std::isnan(value); });
    }
    order_.resize(psi_);
    std::iota(order_.begin(), order_.end(), 0u);
  }

  BuiltTree<T> build() {
    tree_.nodes.reserve(2 * psi_);
    add_node();
    stack_.push_back({0, 0, psi_, 0});
    while (!stack_.empty()) {
      const Pending at = stack_.back();
      stack_.pop_back();
      tree_.count[at.node] = static_cast<std::uint32_t>(at.end - at.begin);
      if (at.end - at.begin <= 1 || at.depth >= settings_.height_limit || !split(at)) make_leaf(at);
    }
    return std::move(tree_);
  }

 private:
  struct Pending {
    std::size_t node, begin, end;
    int depth;
  };

  void add_node() {
    tree_.nodes.push_back({T(0), 0, 0, NodeKind::leaf, 0});
    tree_.count.push_back(0);
    tree_.category_start.push_back(0);
    tree_.term_start.push_back(0);
  }

  void make_leaf(const Pending& at) {
    const double size = static_cast<double>(at.end - at.begin);
    tree_.nodes[at.node] = {static_cast<T>(at.depth + average_path_length(size)), static_cast<std::int32_t>(at.node), 0,
                            NodeKind::leaf, 0};
  }

  // Splits the node or returns false when it cannot be split.
  bool split(const Pending& at) { return settings_.hyperplane_terms > 0 ? split_hyperplane(at) : split_axis(at); }

  const T* column_values(std::size_t c) const { return sample_.data() + c * psi_; }

  bool split_axis(const Pending& at) {
    // Draw columns without replacement until one can split this node
    // (scikit-learn's splitter skips constant features the same way).
    candidates_.resize(columns_.size());
    std::iota(candidates_.begin(), candidates_.end(), std::size_t{0});
    std::size_t remaining = candidates_.size();
    while (remaining > 0) {
      const std::size_t pick = rng_.uniform_int(remaining);
      const std::size_t c = candidates_[pick];
      const bool done = settings_.categorical[static_cast<std::size_t>(columns_[c])] ? split_categorical(at, c)
                                                                                     : split_numeric(at, c);
      if (done) return true;
      std::swap(candidates_[pick], candidates_[remaining - 1]);
      --remaining;
    }
    return false;
  }

  bool split_numeric(const Pending& at, std::size_t c) {
    const T* values = column_values(c);
    T low = std::numeric_limits<T>::infinity();
    T high = -low;
    for (std::size_t i = at.begin; i < at.end; ++i) {
      const T value = values[order_[i]];
      low = std::min(low, value);  // NaN compares false and is skipped
      high = std::max(high, value);
    }
    if (!(low < high)) return false;
    const T threshold = draw_threshold(rng_, low, high);
    const std::size_t middle = partition(at, c, [&](std::uint32_t row) { return values[row] <= threshold; });
    finish_split(at, middle, {threshold, 0, static_cast<std::uint16_t>(columns_[c]), NodeKind::numeric, 1});
    return true;
  }

  bool split_categorical(const Pending& at, std::size_t c) {
    const T* values = column_values(c);
    codes_.clear();
    for (std::size_t i = at.begin; i < at.end; ++i) {
      const T value = values[order_[i]];
      if (!std::isnan(value)) codes_.push_back(static_cast<std::uint32_t>(value));
    }
    std::sort(codes_.begin(), codes_.end());
    codes_.erase(std::unique(codes_.begin(), codes_.end()), codes_.end());
    if (codes_.size() < 2) return false;
    // Each code goes right with probability 1/2; if all landed on one side,
    // one drawn code moves across so that both children are non-empty.
    sides_.resize(codes_.size());
    std::size_t right = 0;
    for (auto& side : sides_) right += (side = static_cast<std::uint8_t>(rng_.uniform_int(2)));
    if (right == 0 || right == codes_.size()) {
      auto& moved = sides_[rng_.uniform_int(codes_.size())];
      moved = static_cast<std::uint8_t>(1 - moved);
    }
    const auto start = static_cast<std::uint32_t>(tree_.categories.size());
    tree_.categories.push_back(static_cast<std::uint32_t>(codes_.size()));
    for (std::size_t k = 0; k < codes_.size(); ++k) tree_.categories.push_back(codes_[k] * 2 + sides_[k]);
    const std::uint32_t* list = tree_.categories.data() + start + 1;
    const std::size_t middle = partition(at, c, [&](std::uint32_t row) {
      const auto code = static_cast<std::uint32_t>(values[row]);
      const auto* found = std::lower_bound(list, list + codes_.size(), code * 2,
                                           [](std::uint32_t entry, std::uint32_t key) { return entry < key; });
      return (*found & 1u) == 0;
    });
    tree_.category_start[at.node] = start;
    finish_split(at, middle, {T(0), 0, static_cast<std::uint16_t>(columns_[c]), NodeKind::categorical, 0});
    return true;
  }

  bool split_hyperplane(const Pending& at) {
    // Only columns known on some row of the node can carry a term: one
    // missing on all of them would make every projection NaN and send every
    // row one way, node after node, down to the height limit.
    usable_.clear();
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const T* values = column_values(c);
      if (!has_missing_[c] || std::any_of(order_.begin() + static_cast<std::ptrdiff_t>(at.begin),
                                          order_.begin() + static_cast<std::ptrdiff_t>(at.end),
                                          [&](std::uint32_t row) { return !std::isnan(values[row]); })) {
        usable_.push_back(c);
      }
    }
    if (usable_.empty()) return false;
    const auto n_terms = static_cast<std::size_t>(settings_.hyperplane_terms);
    const std::vector<Index> picked = rng_.sample_without_replacement(
        static_cast<Index>(usable_.size()), static_cast<Index>(std::min(n_terms, usable_.size())));
    const auto start = static_cast<std::uint32_t>(tree_.terms.size());
    for (const Index pick : picked) {
      const std::size_t c = usable_[static_cast<std::size_t>(pick)];
      const T* values = column_values(c);
      T low = std::numeric_limits<T>::infinity();
      T high = -low;
      for (std::size_t i = at.begin; i < at.end; ++i) {
        low = std::min(low, values[order_[i]]);
        high = std::max(high, values[order_[i]]);
      }
      const auto weight = rng_.normal<T>();
      const T point = low < high ? draw_threshold(rng_, low, high) : low;
      tree_.terms.push_back({static_cast<std::int32_t>(c), weight, point});
    }
    // Fewer usable columns than terms per node: weight-0 terms, which
    // hyperplane_side ignores.
    while (tree_.terms.size() - start < n_terms) tree_.terms.push_back({tree_.terms[start].column, T(0), T(0)});
    const HyperplaneTerm<T>* terms = tree_.terms.data() + start;
    const std::size_t middle = partition_by(at, [&](std::uint32_t row) {
      const Side side = hyperplane_side(terms, static_cast<std::uint32_t>(n_terms), [&](std::int32_t column) {
        return column_values(static_cast<std::size_t>(column))[row];
      });
      return side == Side::undefined ? missing : side == Side::left ? go_left : go_right;
    });
    // Stored terms address the model's columns, not the tree's.
    for (std::size_t k = 0; k < n_terms; ++k) {
      tree_.terms[start + k].column =
          static_cast<std::int32_t>(columns_[static_cast<std::size_t>(tree_.terms[start + k].column)]);
    }
    tree_.term_start[at.node] = start;
    finish_split(at, middle, {T(0), 0, 0, NodeKind::hyperplane, 0});
    return true;
  }

  enum Route : std::uint8_t { go_left, go_right, missing };

  // Partitions order_[begin, end) by a left/right test on column c; rows
  // missing column c follow the larger side. Returns the first right row.
  template <class GoesLeft>
  std::size_t partition(const Pending& at, std::size_t c, const GoesLeft& goes_left) {
    const T* values = column_values(c);
    if (!has_missing_[c]) {
      // Without branches on the outcome, a coin flip a branch predictor
      // misses half the time: each row is written to both sides and only
      // its side's end advances. The left side compacts in place (it never
      // overtakes the reading position), the right one goes through a
      // scratch buffer. The order within a side does not matter: later
      // splits depend only on which rows a node holds.
      std::uint32_t* rows = order_.data();
      right_rows_.resize(at.end - at.begin);
      std::size_t left = at.begin;
      std::size_t right = 0;
      for (std::size_t i = at.begin; i < at.end; ++i) {
        const std::uint32_t row = rows[i];
        const bool goes = goes_left(row);
        rows[left] = row;
        right_rows_[right] = row;
        left += goes ? 1 : 0;
        right += goes ? 0 : 1;
      }
      std::copy_n(right_rows_.data(), right, rows + left);
      return left;
    }
    return partition_by(at, [&](std::uint32_t row) {
      return std::isnan(values[row]) ? missing : goes_left(row) ? go_left : go_right;
    });
  }

  template <class Classify>
  std::size_t partition_by(const Pending& at, const Classify& classify) {
    const auto first = order_.begin() + static_cast<std::ptrdiff_t>(at.begin);
    const auto last = order_.begin() + static_cast<std::ptrdiff_t>(at.end);
    // [known | missing], then [left | right | missing].
    const auto known_end = std::partition(first, last, [&](std::uint32_t row) { return classify(row) != missing; });
    const auto right_begin =
        std::partition(first, known_end, [&](std::uint32_t row) { return classify(row) == go_left; });
    if (right_begin - first >= known_end - right_begin) {
      std::rotate(right_begin, known_end, last);  // missing rows join the left side
      return static_cast<std::size_t>(right_begin - order_.begin() + (last - known_end));
    }
    return static_cast<std::size_t>(right_begin - order_.begin());
  }

  void finish_split(const Pending& at, std::size_t middle, TreeNode<T> node) {
    const std::size_t left = tree_.nodes.size();
    node.left = static_cast<std::int32_t>(left);
    tree_.nodes[at.node] = node;
    add_node();
    add_node();
    stack_.push_back({left + 1, middle, at.end, at.depth + 1});
    stack_.push_back({left, at.begin, middle, at.depth + 1});
  }

  const TreeSettings& settings_;
  Random& rng_;
  std::size_t psi_;
  std::vector<Index> columns_;
  std::vector<T> sample_;
  std::vector<bool> has_missing_;
  std::vector<std::uint32_t> order_;
  std::vector<std::uint32_t> right_rows_;  // scratch of partition()
  std::vector<std::size_t> candidates_;
  std::vector<std::size_t> usable_;
  std::vector<std::uint32_t> codes_;
  std::vector<std::uint8_t> sides_;
  std::vector<Pending> stack_;
  BuiltTree<T> tree_;
};

template <Scalar T>
BuiltTree<T> build_isolation_tree(const MatrixRef<T>& X, const TreeSettings& settings, Random& rng) {
  return TreeBuilder<T>(X, settings, rng).build();
}

}  // namespace redflag::detail::forest
