#pragma once

// What a fitted RandomForest holds: its trees in the node layout shared with
// the isolation forests (detail::forest::TreeNode, numeric splits x <= value
// going left, leaves looping to themselves with step 0), beside them each
// node's cover (weighted training rows, for TreeSHAP) and, for a leaf, its
// row in a table of class probabilities (n_classes values per leaf). The
// file format and the checks a loaded file must pass before it may predict.
//
// Nothing here grows with the training rows: the out-of-bag decision
// function, which has a row per training row, is not saved.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/detail/complete_tree.hpp>
#include <redflag/forest/detail/decision_tree_builder.hpp>
#include <redflag/forest/detail/tree_node.hpp>
#include <redflag/forest/detail/tree_shap.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace redflag::detail::forest {

template <Scalar T>
struct ClassTrees {
  std::vector<TreeNode<T>> nodes;
  std::vector<double> cover;
  std::vector<std::uint32_t> leaf_row;
  std::vector<T> leaf_values;         // leaf_row * n_classes + class
  std::vector<std::int32_t> offsets;  // per tree: root index, plus the end (empty when unfitted)
  std::uint32_t n_classes = 0;
  std::vector<std::int32_t> depth;  // derived: per tree, the deepest leaf's depth
  CompleteTrees<T> complete;        // derived: the scoring copy, leaves naming their leaf-table row

  [[nodiscard]] std::size_t tree_count() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  [[nodiscard]] std::size_t leaf_count() const { return n_classes == 0 ? 0 : leaf_values.size() / n_classes; }

  void append(BuiltClassTree<T>&& tree) {
    if (offsets.empty()) offsets.push_back(0);
    const auto base = static_cast<std::int32_t>(nodes.size());
    const auto leaf_base = static_cast<std::uint32_t>(leaf_count());
    for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
      TreeNode<T> node = tree.nodes[i];
      node.left += base;
      nodes.push_back(node);
      cover.push_back(tree.cover[i]);
      leaf_row.push_back(node.kind == NodeKind::leaf ? tree.leaf_row[i] + leaf_base : 0);
    }
    leaf_values.insert(leaf_values.end(), tree.leaf_values.begin(), tree.leaf_values.end());
    offsets.push_back(static_cast<std::int32_t>(nodes.size()));
  }

  void derive() {
    depth.assign(tree_count(), 0);
    std::vector<std::int32_t> level(nodes.size(), 0);
    for (std::size_t t = 0; t < tree_count(); ++t) {
      for (auto i = static_cast<std::size_t>(offsets[t]); i < static_cast<std::size_t>(offsets[t + 1]); ++i) {
        if (nodes[i].kind == NodeKind::leaf) {
          depth[t] = std::max(depth[t], level[i]);
          continue;
        }
        const auto left = static_cast<std::size_t>(nodes[i].left);
        level[left] = level[left + 1] = level[i] + 1;
      }
    }
    complete = CompleteTrees<T>(nodes, offsets, depth,
                                [this](std::int32_t leaf) { return leaf_row[static_cast<std::size_t>(leaf)]; });
  }

  // Everything prediction and explanation rely on, so a hostile file cannot
  // make them read out of bounds or loop.
  void validate(Index columns) const {
    const auto fail = [](const std::string& what) { throw serialization_error("redflag::load: RandomForest " + what); };
    if (cover.size() != nodes.size() || leaf_row.size() != nodes.size()) fail("node arrays differ in length");
    if (n_classes < 2) fail("has " + std::to_string(n_classes) + " classes, at least 2 are required");
    if (leaf_values.size() % n_classes != 0) fail("leaf table is not a whole number of rows");
    if (offsets.empty()) return;
    if (offsets.front() != 0 || static_cast<std::size_t>(offsets.back()) != nodes.size()) {
      fail("tree offsets do not span the " + std::to_string(nodes.size()) + " nodes");
    }
    // All offsets before any node: a tree's range is only known to lie inside
    // `nodes` once every later offset is known not to decrease.
    for (std::size_t t = 0; t + 1 < offsets.size(); ++t) {
      if (offsets[t + 1] <= offsets[t]) fail("tree " + std::to_string(t) + " is empty or its offsets decrease");
    }
    std::vector<bool> used(leaf_count(), false);
    for (std::size_t t = 0; t + 1 < offsets.size(); ++t) {
      const std::int32_t begin = offsets[t];
      const std::int32_t end = offsets[t + 1];
      for (std::int32_t i = begin; i < end; ++i) {
        const auto at = static_cast<std::size_t>(i);
        const TreeNode<T>& node = nodes[at];
        const std::string where = "node " + std::to_string(i) + " (tree " + std::to_string(t) + ")";
        if (!std::isfinite(node.value)) fail(where + " has a non-finite value");
        if (!std::isfinite(cover[at]) || !(cover[at] > 0.0)) fail(where + " has a cover that is not positive");
        if (node.kind == NodeKind::leaf) {
          if (node.left != i || node.step != 0 || node.feature != 0) fail(where + " is a malformed leaf");
          if (leaf_row[at] >= leaf_count() || used[leaf_row[at]]) fail(where + " points to a bad leaf-table row");
          used[leaf_row[at]] = true;
          continue;
        }
        if (node.kind != NodeKind::numeric || node.step != 1) fail(where + " is not a numeric split");
        if (leaf_row[at] != 0) fail(where + " is a split but points to a bad leaf-table row");
        if (node.left <= i || node.left >= end - 1) {
          fail(where + " has children outside (" + std::to_string(i) + ", " + std::to_string(end) + ")");
        }
        if (node.feature >= columns) {
          fail(where + " splits on column " + std::to_string(node.feature) + " of " + std::to_string(columns));
        }
      }
    }
    for (std::size_t row = 0; row < leaf_count(); ++row) {
      double sum = 0.0;
      for (std::size_t k = 0; k < n_classes; ++k) {
        const double p = static_cast<double>(leaf_values[row * n_classes + k]);
        if (!(p >= 0.0 && p <= 1.0)) fail("leaf-table row " + std::to_string(row) + " has a value outside [0, 1]");
        sum += p;
      }
      if (std::abs(sum - 1.0) > 1e-4) fail("leaf-table row " + std::to_string(row) + " does not sum to 1");
    }
  }

  // Row of the leaf x reaches in tree t.
  [[nodiscard]] std::uint32_t leaf_of(std::size_t t, const T* x) const {
    auto at = static_cast<std::size_t>(offsets[t]);
    while (nodes[at].kind != NodeKind::leaf) {
      const TreeNode<T>& node = nodes[at];
      at = static_cast<std::size_t>(node.left) + (x[node.feature] > node.value ? 1 : 0);
    }
    return leaf_row[at];
  }

  // sum[r * n_classes + k] += class k's probability in the leaf row r reaches,
  // over every tree in tree order, for the `rows` rows of `columns` values at
  // X (`stride` apart). Each tree's leaves are found for a block of rows
  // first (complete_tree.hpp: rows side by side, vectorised where the CPU
  // allows; or the node walk for trees too deep for it), then added; a row's
  // sum is the same double whatever block or walk computed it.
  void add_probabilities(const T* X, std::size_t stride, std::size_t rows, std::size_t columns, double* sum) const {
    constexpr std::size_t wide = 16;
    // Row offsets within a group of walks are 32-bit (int32 in the vector walk).
    constexpr std::size_t max_stride = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) / wide;
    if (stride > max_stride) {
      throw invalid_argument("redflag::RandomForest::predict_proba: rows more than " + std::to_string(max_stride) +
                             " values apart");
    }
    if (!complete.empty() && complete.walks_ranks(columns) && rows >= CompleteTrees<T>::vector_rows) {
      // Blocks ranked once, walked by every tree.
      RankBlock block;
      std::vector<std::uint32_t> reached(RankBlock::capacity);
      for (std::size_t begin = 0; begin < rows; begin += RankBlock::capacity) {
        const std::size_t count = std::min(RankBlock::capacity, rows - begin);
        complete.assign(block, X + begin * stride, stride, count, columns);
        for (std::size_t t = 0; t < tree_count(); ++t) {
          complete.leaves(t, block, reached.data());
          add_leaf_values(reached.data(), count, sum + begin * n_classes);
        }
      }
      return;
    }
    std::vector<std::uint32_t> reached(rows);
    for (std::size_t t = 0; t < tree_count(); ++t) {
      if (!complete.empty()) {
        complete.leaves(t, X, stride, rows, reached.data());
      } else {
        for (std::size_t r = 0; r < rows; r += wide) {
          const std::size_t width = std::min(wide, rows - r);
          std::int32_t at[wide];
          std::uint32_t offset[wide];
          for (std::size_t w = 0; w < wide; ++w) {
            at[w] = offsets[t];
            offset[w] =
                static_cast<std::uint32_t>(std::min(w, width - 1) * stride);  // a short group repeats its last row
          }
          walk(nodes.data(), depth[t], at, X + r * stride, offset);
          for (std::size_t w = 0; w < width; ++w) reached[r + w] = leaf_row[static_cast<std::size_t>(at[w])];
        }
      }
      add_leaf_values(reached.data(), rows, sum);
    }
  }

 private:
  // sum[r * n_classes + k] += class k's value in leaf-table row reached[r].
  void add_leaf_values(const std::uint32_t* reached, std::size_t rows, double* sum) const {
    if (n_classes == 2) {  // the common case, unrolled
      for (std::size_t r = 0; r < rows; ++r) {
        const T* values = leaf_values.data() + std::size_t{reached[r]} * 2;
        sum[2 * r] += static_cast<double>(values[0]);
        sum[2 * r + 1] += static_cast<double>(values[1]);
      }
    } else {
      for (std::size_t r = 0; r < rows; ++r) {
        const T* values = leaf_values.data() + std::size_t{reached[r]} * n_classes;
        double* out = sum + r * n_classes;
        for (std::size_t k = 0; k < n_classes; ++k) out[k] += static_cast<double>(values[k]);
      }
    }
  }
};

// One classification tree as TreeSHAP's tree view; outputs are the classes.
template <Scalar T>
class ClassTreeView {
 public:
  ClassTreeView(const ClassTrees<T>& trees, std::size_t tree) : trees_(trees), tree_(tree) {}

  std::int32_t root() const { return trees_.offsets[tree_]; }
  bool is_leaf(std::int32_t node) const { return at(node).kind == NodeKind::leaf; }
  std::int32_t left(std::int32_t node) const { return at(node).left; }
  std::int32_t right(std::int32_t node) const { return at(node).left + 1; }
  double cover(std::int32_t node) const { return trees_.cover[static_cast<std::size_t>(node)]; }
  std::int32_t feature(std::int32_t node) const { return at(node).feature; }
  double leaf_value(std::int32_t node, std::size_t output) const {
    const std::size_t row = trees_.leaf_row[static_cast<std::size_t>(node)];
    return static_cast<double>(trees_.leaf_values[row * trees_.n_classes + output]);
  }
  std::size_t outputs() const { return trees_.n_classes; }
  int max_depth() const { return trees_.depth[tree_]; }
  Direction direction(std::int32_t node, const T* x) const {
    const TreeNode<T>& split = at(node);
    return x[split.feature] <= split.value ? Direction::left : Direction::right;
  }

 private:
  const TreeNode<T>& at(std::int32_t node) const { return trees_.nodes[static_cast<std::size_t>(node)]; }

  const ClassTrees<T>& trees_;
  std::size_t tree_;
};

template <Scalar T>
struct ClassForestState {
  Schema schema;
  std::vector<Label> classes;  // ascending; column order of predict_proba
  ClassTrees<T> trees;
  std::vector<double> importances;  // per column (empty before fit)
  bool has_oob = false;
  double oob_score = 0.0;

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t /*version*/) {
    constexpr bool loading = Archive::is_loading::value;
    std::vector<T> value;
    std::vector<std::int32_t> left;
    std::vector<std::uint16_t> feature;
    std::vector<std::uint8_t> kind;
    if constexpr (!loading) {
      for (const auto& node : trees.nodes) {
        value.push_back(node.value);
        left.push_back(node.left);
        feature.push_back(node.feature);
        kind.push_back(static_cast<std::uint8_t>(node.kind));
      }
    }
    archive(cereal::make_nvp("schema", schema), cereal::make_nvp("classes", classes),
            cereal::make_nvp("tree_offsets", trees.offsets), cereal::make_nvp("node_value", value),
            cereal::make_nvp("node_left", left), cereal::make_nvp("node_feature", feature),
            cereal::make_nvp("node_kind", kind), cereal::make_nvp("node_cover", trees.cover),
            cereal::make_nvp("node_leaf_row", trees.leaf_row), cereal::make_nvp("leaf_values", trees.leaf_values),
            cereal::make_nvp("feature_importances", importances), cereal::make_nvp("has_oob_score", has_oob),
            cereal::make_nvp("oob_score", oob_score));
    if constexpr (loading) {
      if (left.size() != value.size() || feature.size() != value.size() || kind.size() != value.size()) {
        fail("node arrays differ in length");
      }
      trees.nodes.resize(value.size());
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (kind[i] != static_cast<std::uint8_t>(NodeKind::leaf) &&
            kind[i] != static_cast<std::uint8_t>(NodeKind::numeric)) {
          fail("node " + std::to_string(i) + " has kind " + std::to_string(kind[i]) + " (leaf or numeric expected)");
        }
        const auto node_kind = static_cast<NodeKind>(kind[i]);
        trees.nodes[i] = {value[i], left[i], feature[i], node_kind,
                          static_cast<std::uint8_t>(node_kind == NodeKind::numeric ? 1 : 0)};
      }
      trees.n_classes = static_cast<std::uint32_t>(std::min<std::size_t>(classes.size(), 1u << 20));
    }
  }

  void check_loaded(Index n_estimators) {
    if (trees.offsets.empty()) {
      if (!trees.nodes.empty() || !schema.empty() || !classes.empty() || !trees.leaf_values.empty() ||
          !importances.empty() || has_oob) {
        fail("is not fitted but holds fitted state");
      }
      trees.n_classes = 0;
      return;
    }
    if (schema.empty()) fail("is fitted but its schema has no columns");
    if (schema.size() > max_columns) fail("has " + std::to_string(schema.size()) + " columns");
    if (classes.size() < 2 || classes.size() > (std::size_t{1} << 20)) {
      fail("has " + std::to_string(classes.size()) + " classes");
    }
    for (std::size_t k = 1; k < classes.size(); ++k) {
      if (!(classes[k - 1] < classes[k])) fail("has classes that are not strictly increasing");
    }
    if (static_cast<Index>(trees.tree_count()) != n_estimators) {
      fail("has " + std::to_string(trees.tree_count()) + " trees, n_estimators says " + std::to_string(n_estimators));
    }
    trees.validate(schema.size());
    if (importances.size() != static_cast<std::size_t>(schema.size()))
      fail("has feature importances of the wrong length");
    for (const double value : importances) {
      if (!(value >= 0.0 && value <= 1.0)) fail("has a feature importance outside [0, 1]");
    }
    if (has_oob && !(oob_score >= 0.0 && oob_score <= 1.0)) fail("has an out-of-bag score outside [0, 1]");
    trees.derive();
  }

  [[nodiscard]] std::size_t memory_usage() const {
    std::size_t bytes = sizeof(*this) + trees.nodes.capacity() * sizeof(TreeNode<T>) +
                        trees.cover.capacity() * sizeof(double) + trees.leaf_row.capacity() * sizeof(std::uint32_t) +
                        trees.leaf_values.capacity() * sizeof(T) + trees.offsets.capacity() * sizeof(std::int32_t) +
                        trees.depth.capacity() * sizeof(std::int32_t) + classes.capacity() * sizeof(Label) +
                        importances.capacity() * sizeof(double) + trees.complete.memory_usage();
    for (const Column& column : schema.columns()) bytes += sizeof(Column) + column.name.capacity();
    return bytes;
  }

  [[noreturn]] static void fail(const std::string& what) {
    throw serialization_error("redflag::load: RandomForest " + what);
  }
};

}  // namespace redflag::detail::forest
