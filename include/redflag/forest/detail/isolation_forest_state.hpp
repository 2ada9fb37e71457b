#pragma once

// What a fitted IsolationForest holds besides its parameters, with its file
// format and the checks a loaded file must pass before it may score.
//
// Format 2 stores the node arrays column by column (value, left, feature,
// kind, training count, side-table start) plus the category and hyperplane
// side tables and the number of random streams used so far. Format 1 (the
// first release: axis-parallel numeric splits only) stored feature -1 for a
// leaf and no counts; it loads into the same state, counts recovered from the
// leaves' path lengths.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/detail/isolation_tree.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/vector.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace redflag::detail::forest {

template <Scalar T>
struct ForestState {
  Schema schema;
  Index max_samples = 0;  // rows per tree, resolved (0 before fit)
  T threshold = T(0);
  IsolationTrees<T> trees;
  std::uint64_t trees_built = 0;  // random streams used so far (fit_more continues from here)

  [[nodiscard]] std::size_t memory_usage() const {
    std::size_t bytes = sizeof(*this);
    bytes += trees.nodes.capacity() * sizeof(TreeNode<T>) + trees.count.capacity() * sizeof(std::uint32_t) +
             trees.offsets.capacity() * sizeof(std::int32_t) + trees.aux.capacity() * sizeof(std::uint32_t) +
             trees.categories.capacity() * sizeof(std::uint32_t) + trees.terms.capacity() * sizeof(HyperplaneTerm<T>) +
             trees.depth.capacity() * sizeof(std::int32_t) + trees.expected_path_length.capacity() * sizeof(double);
    for (const Column& column : schema.columns()) bytes += sizeof(Column) + column.name.capacity();
    return bytes;
  }

  void shrink() {
    trees.nodes.shrink_to_fit();
    trees.count.shrink_to_fit();
    trees.offsets.shrink_to_fit();
    trees.aux.shrink_to_fit();
    trees.categories.shrink_to_fit();
    trees.terms.shrink_to_fit();
  }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    constexpr bool loading = Archive::is_loading::value;
    archive(cereal::make_nvp("schema", schema), cereal::make_nvp("max_samples_used", max_samples),
            cereal::make_nvp("threshold", threshold));
    if (version == 1) {
      if constexpr (loading) load_v1(archive);
      else save_v1(archive);
      return;
    }
    std::vector<T> value;
    std::vector<std::int32_t> left, term_column;
    std::vector<std::uint16_t> feature;
    std::vector<std::uint8_t> kind;
    std::vector<T> term_weight, term_point;
    if constexpr (!loading) {
      for (const auto& node : trees.nodes) {
        value.push_back(node.value);
        left.push_back(node.left);
        feature.push_back(node.feature);
        kind.push_back(static_cast<std::uint8_t>(node.kind));
      }
      for (const auto& term : trees.terms) {
        term_column.push_back(term.column);
        term_weight.push_back(term.weight);
        term_point.push_back(term.point);
      }
    }
    archive(cereal::make_nvp("trees_built", trees_built), cereal::make_nvp("tree_offsets", trees.offsets),
            cereal::make_nvp("node_value", value), cereal::make_nvp("node_left", left),
            cereal::make_nvp("node_feature", feature), cereal::make_nvp("node_kind", kind),
            cereal::make_nvp("node_count", trees.count), cereal::make_nvp("node_side_start", trees.aux),
            cereal::make_nvp("categories", trees.categories), cereal::make_nvp("terms_per_node", trees.terms_per_node),
            cereal::make_nvp("term_column", term_column), cereal::make_nvp("term_weight", term_weight),
            cereal::make_nvp("term_point", term_point));
    if constexpr (loading) {
      if (left.size() != value.size() || feature.size() != value.size() || kind.size() != value.size()) {
        fail("node arrays differ in length");
      }
      if (term_column.size() != term_weight.size() || term_column.size() != term_point.size()) {
        fail("hyperplane term arrays differ in length");
      }
      trees.nodes.resize(value.size());
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (kind[i] > static_cast<std::uint8_t>(NodeKind::hyperplane)) {
          fail("node " + std::to_string(i) + " has unknown kind " + std::to_string(kind[i]));
        }
        const auto node_kind = static_cast<NodeKind>(kind[i]);
        trees.nodes[i] = {value[i], left[i], feature[i], node_kind,
                          static_cast<std::uint8_t>(node_kind == NodeKind::numeric ? 1 : 0)};
      }
      trees.terms.resize(term_column.size());
      for (std::size_t i = 0; i < term_column.size(); ++i)
        trees.terms[i] = {term_column[i], term_weight[i], term_point[i]};
    }
  }

  // Everything scoring relies on; see IsolationTrees::validate for the nodes.
  void check_loaded(Index n_estimators, bool hyperplane) {
    if (trees.offsets.empty()) {
      if (!trees.nodes.empty() || !schema.empty() || max_samples != 0) fail("is not fitted but holds fitted state");
      return;
    }
    if (schema.empty()) fail("is fitted but its schema has no columns");
    if (schema.size() > max_columns) fail("has " + std::to_string(schema.size()) + " columns");
    if (static_cast<Index>(trees.tree_count()) != n_estimators) {
      fail("has " + std::to_string(trees.tree_count()) + " trees, n_estimators says " + std::to_string(n_estimators));
    }
    if (max_samples < 2 || max_samples > (Index{1} << 30)) {
      fail("max_samples_used " + std::to_string(max_samples) + " is out of range");
    }
    if (trees_built < trees.tree_count()) fail("has used fewer random streams than it has trees");
    if (!std::isfinite(threshold)) fail("threshold " + format_number(threshold) + " is not finite");
    trees.validate(schema.size());
    trees.derive();
    const int limit = height_limit(max_samples);
    for (std::size_t t = 0; t < trees.tree_count(); ++t) {
      const auto root = static_cast<std::size_t>(trees.offsets[t]);
      if (trees.count[root] != static_cast<std::uint64_t>(max_samples)) {
        fail("tree " + std::to_string(t) + " was grown on " + std::to_string(trees.count[root]) + " rows, not " +
             std::to_string(max_samples));
      }
      // Bounds the general walk's recursion.
      if (trees.depth[t] > limit) fail("tree " + std::to_string(t) + " is deeper than its height limit");
    }
    for (const auto& node : trees.nodes) {
      if ((node.kind == NodeKind::hyperplane) != hyperplane && node.kind != NodeKind::leaf) {
        fail(hyperplane ? "has a non-hyperplane split in an extended forest" : "has a hyperplane split");
      }
      if (node.kind == NodeKind::categorical && schema.columns()[node.feature].kind != ColumnKind::categorical) {
        fail("splits numeric column '" + schema.columns()[node.feature].name + "' by category");
      }
    }
  }

 private:
  [[noreturn]] static void fail(const std::string& what) {
    throw serialization_error("redflag::load: IsolationForest " + what);
  }

  // Only to re-encode a model loaded from a version 1 file when verifying
  // that file's checksum: leaves as feature -1, left -1.
  template <class Archive>
  void save_v1(Archive& archive) const {
    std::vector<std::int32_t> feature, left;
    std::vector<T> value;
    for (const auto& node : trees.nodes) {
      const bool leaf = node.kind == NodeKind::leaf;
      feature.push_back(leaf ? -1 : node.feature);
      left.push_back(leaf ? -1 : node.left);
      value.push_back(node.value);
    }
    archive(cereal::make_nvp("tree_offsets", trees.offsets), cereal::make_nvp("node_feature", feature),
            cereal::make_nvp("node_left", left), cereal::make_nvp("node_value", value));
  }

  template <class Archive>
  void load_v1(Archive& archive) {
    std::vector<std::int32_t> feature, left;
    std::vector<T> value;
    archive(cereal::make_nvp("tree_offsets", trees.offsets), cereal::make_nvp("node_feature", feature),
            cereal::make_nvp("node_left", left), cereal::make_nvp("node_value", value));
    if (feature.size() != left.size() || feature.size() != value.size()) fail("node arrays differ in length");
    trees.nodes.resize(feature.size());
    for (std::size_t i = 0; i < feature.size(); ++i) {
      if (feature[i] == -1) {
        trees.nodes[i] = {value[i], static_cast<std::int32_t>(i), 0, NodeKind::leaf, 0};
      } else if (feature[i] < 0 || feature[i] >= static_cast<std::int32_t>(max_columns)) {
        fail("node " + std::to_string(i) + " splits on feature " + std::to_string(feature[i]));
      } else {
        trees.nodes[i] = {value[i], left[i], static_cast<std::uint16_t>(feature[i]), NodeKind::numeric, 1};
      }
    }
    trees_built = trees.tree_count();
    // Structure first (children inside their tree), then the counts that
    // depend on it.
    trees.count.assign(trees.nodes.size(), 0);  // all zero "adds up" until recovered
    trees.validate(max_columns);
    if (max_samples < 2 || max_samples > (Index{1} << 30)) fail("max_samples_used is out of range");
    if (!recover_counts(trees, static_cast<std::uint32_t>(max_samples))) {
      fail("has a leaf whose path length is not depth + c(size)");
    }
  }
};

}  // namespace redflag::detail::forest
