#pragma once

// Node storage and the tree builder behind IsolationForest (Liu, Ting & Zhou,
// "Isolation Forest", ICDM 2008), following scikit-learn's IsolationForest /
// ExtraTreeRegressor where the paper leaves a choice open.
//
// A forest is one array of 12- (float) or 16-byte (double) nodes; a tree is a
// contiguous range of it. An internal node holds its split feature, the
// threshold and the index of its left child (the right child is the next
// node); a row goes left when x[feature] <= threshold. A leaf has feature -1
// and holds depth + c(leaf size), the path length the paper assigns to a row
// ending there, so scoring is a walk and one addition per tree.

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace redflag::detail::forest {

template <Scalar T>
struct IsolationNode {
  T value;              // threshold (internal node) or path length (leaf)
  std::int32_t feature;  // split column, or -1 for a leaf
  std::int32_t left;     // index of the left child in the forest's node array; right = left + 1
};

// Average path length of an unsuccessful search in a binary search tree of n
// nodes, c(n) = 2 H(n - 1) - 2 (n - 1) / n with H(i) ~ ln(i) + Euler's
// constant; c(1) = 0 and c(2) = 1. The same formula as scikit-learn's
// _average_path_length.
inline double average_path_length(double n) {
  if (n <= 1.0) return 0.0;
  if (n <= 2.0) return 1.0;
  constexpr double euler_gamma = 0.57721566490153286060651209;
  return 2.0 * (std::log(n - 1.0) + euler_gamma) - 2.0 * (n - 1.0) / n;
}

// ceil(log2(psi)) for psi >= 2: the paper's height limit.
inline int height_limit(Index psi) {
  return static_cast<int>(std::bit_width(static_cast<std::uint64_t>(psi - 1)));
}

// A threshold drawn uniformly from [low, high), low < high, as a T that is
// >= low and < high, so that both children of the split are non-empty.
template <Scalar T>
T draw_threshold(Random& rng, T low, T high) {
  const double u = rng.uniform<double>();
  const auto lo = static_cast<double>(low);
  const auto hi = static_cast<double>(high);
  const double width = hi - lo;
  // The convex form cannot overflow when high - low does (double near its limits).
  const double drawn = std::isfinite(width) ? lo + width * u : lo * (1.0 - u) + hi * u;
  auto threshold = static_cast<T>(drawn);
  if (!(threshold < high)) threshold = std::nextafter(high, low);
  if (threshold < low) threshold = low;
  return threshold;
}

struct TreeSettings {
  Index max_samples = 256;  // psi: rows drawn per tree (already clipped to n)
  Index max_features = 1;   // columns drawn per tree
  bool bootstrap = false;
  int height_limit = 8;
};

// Builds one isolation tree on a subsample of X drawn with `rng`. Child
// indices are relative to the returned vector (the caller rebases them).
// Draw order: rows, then the tree's columns, then splits depth first
// (left subtree before right).
template <Scalar T>
std::vector<IsolationNode<T>> build_isolation_tree(const MatrixRef<T>& X, const TreeSettings& settings,
                                                   Random& rng) {
  const Index n = X.rows();
  const Index d = X.cols();
  const Index psi = settings.max_samples;
  const Index k = settings.max_features;

  std::vector<Index> rows;
  if (settings.bootstrap) {
    rows.resize(static_cast<std::size_t>(psi));
    for (auto& row : rows) row = rng.uniform_int(n);
  } else {
    rows = rng.sample_without_replacement(n, psi);
  }
  std::vector<Index> columns;
  if (k < d) {
    columns = rng.sample_without_replacement(d, k);
    std::sort(columns.begin(), columns.end());
  } else {
    columns.resize(static_cast<std::size_t>(d));
    std::iota(columns.begin(), columns.end(), Index{0});
  }

  // The subsample, column by column, so min/max scans are contiguous. A
  // temporary of psi x k values: the fitted model keeps no training rows.
  const auto psi_size = static_cast<std::size_t>(psi);
  std::vector<T> sample(psi_size * static_cast<std::size_t>(k));
  for (std::size_t c = 0; c < columns.size(); ++c) {
    for (std::size_t i = 0; i < psi_size; ++i) sample[c * psi_size + i] = X(rows[i], columns[c]);
  }

  std::vector<std::uint32_t> order(psi_size);
  std::iota(order.begin(), order.end(), 0u);
  std::vector<std::size_t> candidates(columns.size());

  struct Pending {
    std::size_t node, begin, end;
    int depth;
  };
  std::vector<IsolationNode<T>> nodes;
  nodes.reserve(2 * psi_size - 1);
  nodes.push_back({T(0), -1, -1});
  std::vector<Pending> stack{{0, 0, psi_size, 0}};
  while (!stack.empty()) {
    const Pending at = stack.back();
    stack.pop_back();
    const std::size_t size = at.end - at.begin;
    const auto make_leaf = [&] {
      nodes[at.node] = {static_cast<T>(at.depth + average_path_length(static_cast<double>(size))), -1, -1};
    };
    if (size <= 1 || at.depth >= settings.height_limit) {
      make_leaf();
      continue;
    }
    // Draw columns without replacement until one is not constant on this
    // node (scikit-learn's splitter skips constant features the same way);
    // a node on which every column is constant is a leaf.
    std::iota(candidates.begin(), candidates.end(), std::size_t{0});
    std::size_t remaining = candidates.size();
    bool found = false;
    std::size_t column = 0;
    T low{}, high{};
    while (remaining > 0) {
      const std::size_t pick = rng.uniform_int(remaining);
      column = candidates[pick];
      const T* values = sample.data() + column * psi_size;
      low = high = values[order[at.begin]];
      for (std::size_t i = at.begin + 1; i < at.end; ++i) {
        const T value = values[order[i]];
        low = std::min(low, value);
        high = std::max(high, value);
      }
      if (low < high) {
        found = true;
        break;
      }
      std::swap(candidates[pick], candidates[remaining - 1]);
      --remaining;
    }
    if (!found) {
      make_leaf();
      continue;
    }
    const T threshold = draw_threshold(rng, low, high);
    const T* values = sample.data() + column * psi_size;
    const auto middle = std::partition(
        order.begin() + static_cast<std::ptrdiff_t>(at.begin), order.begin() + static_cast<std::ptrdiff_t>(at.end),
        [&](std::uint32_t i) { return values[i] <= threshold; });
    const auto split = static_cast<std::size_t>(middle - order.begin());
    const std::size_t left = nodes.size();
    nodes[at.node] = {threshold, static_cast<std::int32_t>(columns[column]), static_cast<std::int32_t>(left)};
    nodes.push_back({T(0), -1, -1});
    nodes.push_back({T(0), -1, -1});
    stack.push_back({left + 1, split, at.end, at.depth + 1});
    stack.push_back({left, at.begin, split, at.depth + 1});
  }
  return nodes;
}

// Path length of row x in the tree rooted at `root`: the plain walk, kept as
// the reference the block scorer below is tested against.
template <Scalar T>
inline double path_length(const IsolationNode<T>* nodes, std::int32_t root, const T* x) {
  const IsolationNode<T>* node = nodes + root;
  while (node->feature >= 0) {
    node = nodes + node->left + (x[node->feature] <= node->value ? 0 : 1);
  }
  return static_cast<double>(node->value);
}

// A scoring copy of a forest's nodes, derived at fit and load (never saved).
// A leaf becomes a node that loops to itself (threshold +inf, feature 0, left
// = its own index), so every row can take exactly `depth` steps in a tree
// with the same branch-free step, next = left + (x[feature] > threshold),
// and the loop needs no leaf test. Several rows then walk a tree level by
// level side by side (or a lone row walks several trees): their dependent
// loads are independent of each other and overlap in the CPU, where one
// row's walk waits on every load in turn.
template <Scalar T>
class BlockScorer {
 public:
  BlockScorer() = default;

  // `nodes` and `offsets` as IsolationForest holds them, already validated.
  BlockScorer(const std::vector<IsolationNode<T>>& nodes, const std::vector<std::int32_t>& offsets)
      : nodes_(nodes.size()),
        leaf_(nodes.size(), T(0)),
        depth_(offsets.empty() ? 0 : offsets.size() - 1),
        offsets_(offsets) {
    std::vector<std::int32_t> level(nodes.size(), 0);
    for (std::size_t t = 0; t < depth_.size(); ++t) {
      std::int32_t deepest = 0;
      // Children always follow their parent inside a tree, so one forward
      // pass sees every node's depth before its children's.
      for (auto i = static_cast<std::size_t>(offsets[t]); i < static_cast<std::size_t>(offsets[t + 1]); ++i) {
        const IsolationNode<T>& node = nodes[i];
        if (node.feature < 0) {
          nodes_[i] = {std::numeric_limits<T>::infinity(), 0, static_cast<std::int32_t>(i)};
          leaf_[i] = node.value;
          deepest = std::max(deepest, level[i]);
        } else {
          nodes_[i] = {node.value, node.feature, node.left};
          const auto left = static_cast<std::size_t>(node.left);
          level[left] = level[left + 1] = level[i] + 1;
        }
      }
      depth_[t] = deepest;
    }
  }

  // depth[r] += the path lengths of row r of the `rows` x d row-major block
  // at `X` (rows `stride` values apart), tree by tree in tree order, so each
  // sum is the same double as adding path_length() over the trees.
  void add_path_lengths(const T* X, std::size_t stride, std::size_t rows, double* depth) const {
    const std::size_t grouped = rows - rows % wide;
    for (std::size_t t = 0; t < depth_.size(); ++t) {
      for (std::size_t r = 0; r < grouped; r += wide) walk_rows(t, X + r * stride, stride, depth + r);
    }
    // Too few rows left to interleave (a single row, say): interleave trees
    // instead, then add their path lengths in tree order all the same.
    for (std::size_t r = grouped; r < rows; ++r) walk_trees(X + r * stride, depth[r]);
  }

 private:
  // Rows in flight per tree walk: enough independent load chains to hide L1
  // latency; more only adds register pressure.
  static constexpr std::size_t wide = 16;

  struct Node {
    T threshold;
    std::int32_t feature;
    std::int32_t left;
  };

  // One step for each of W walks that start at roots[w] and read row x[w];
  // all take `steps` steps (leaves loop to themselves).
  template <std::size_t W>
  void walk(std::int32_t steps, std::int32_t (&at)[W], const T* const (&x)[W]) const {
    const Node* nodes = nodes_.data();
    for (std::int32_t step = 0; step < steps; ++step) {
      for (std::size_t w = 0; w < W; ++w) {
        const Node& node = nodes[at[w]];
        at[w] = node.left + static_cast<std::int32_t>(x[w][node.feature] > node.threshold);
      }
    }
  }

  // Rows X[0 .. wide) through tree t.
  void walk_rows(std::size_t t, const T* X, std::size_t stride, double* depth) const {
    std::int32_t at[wide];
    const T* x[wide];
    for (std::size_t w = 0; w < wide; ++w) {
      at[w] = offsets_[t];
      x[w] = X + w * stride;
    }
    walk(depth_[t], at, x);
    for (std::size_t w = 0; w < wide; ++w) depth[w] += static_cast<double>(leaf_[static_cast<std::size_t>(at[w])]);
  }

  // Row x through every tree, `wide` trees at a time; adds in tree order.
  void walk_trees(const T* row, double& depth) const {
    const std::size_t n_trees = depth_.size();
    std::size_t t = 0;
    for (; t + wide <= n_trees; t += wide) {
      std::int32_t at[wide];
      const T* x[wide];
      std::int32_t steps = 0;
      for (std::size_t w = 0; w < wide; ++w) {
        at[w] = offsets_[t + w];
        x[w] = row;
        steps = std::max(steps, depth_[t + w]);
      }
      walk(steps, at, x);
      for (std::size_t w = 0; w < wide; ++w) depth += static_cast<double>(leaf_[static_cast<std::size_t>(at[w])]);
    }
    for (; t < n_trees; ++t) {
      std::int32_t at[1] = {offsets_[t]};
      const T* x[1] = {row};
      walk(depth_[t], at, x);
      depth += static_cast<double>(leaf_[static_cast<std::size_t>(at[0])]);
    }
  }

  std::vector<Node> nodes_;
  std::vector<T> leaf_;                // per node: a leaf's path length (apart, so walked nodes stay small)
  std::vector<std::int32_t> depth_;    // per tree: the deepest leaf's depth (steps every row takes)
  std::vector<std::int32_t> offsets_;  // per tree: root index, plus the end
};

}  // namespace redflag::detail::forest
