#pragma once

// Helpers shared by the tests of the isolation forests (classic, extended,
// categorical, missing values, explanations, incremental growth, golden
// files, streaming): random data, the golden data set, model round trips
// through bytes, edits of JSON model files, and the trees of a fitted model
// read back from its JSON file.

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <doctest/doctest.h>
#include <cereal/archives/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace redflag::test {

template <class T>
inline constexpr T nan_value = std::numeric_limits<T>::quiet_NaN();

// n x d standard normal cells, drawn row by row.
template <class T>
Matrix<T> gaussian(Index n, Index d, std::uint64_t seed) {
  Random rng(seed);
  Matrix<T> X(n, d);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) X(i, j) = rng.normal<T>();
  }
  return X;
}

// gaussian(n, d, seed) and one more row far away, every value 8.
template <class T>
Matrix<T> gaussian_with_outlier(Index n, Index d, std::uint64_t seed) {
  Matrix<T> X(n + 1, d);
  X.topRows(n) = gaussian<T>(n, d, seed);
  X.row(n).setConstant(T(8));
  return X;
}

// n x d standard normal cells, each NaN with probability `missing`. Every
// cell draws a uniform after its normal, so even with missing = 0 the values
// are not gaussian(n, d, seed)'s.
template <class T>
Matrix<T> gaussian_with_nan(Index n, Index d, std::uint64_t seed, double missing) {
  Random rng(seed);
  Matrix<T> X(n, d);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) {
      const T value = rng.normal<T>();
      X(i, j) = rng.uniform<double>() < missing ? nan_value<T> : value;
    }
  }
  return X;
}

// Where the golden model files live (see isolation_forest_golden_test.cpp). A
// function, not a global, so that including this header allocates nothing
// before main (streaming_isolation_forest_test counts allocations).
inline std::filesystem::path golden_dir() {
  return std::filesystem::path(REDFLAG_SOURCE_DIR) / "tests" / "forest" / "golden";
}

// The data the golden models were fitted on: 48 rows x 3 columns from integer
// arithmetic only (no random generator, so the data cannot drift with the
// library), plus one far-away row. Every value is exact in float and double.
template <class T>
Matrix<T> golden_data() {
  Matrix<T> X(49, 3);
  for (Index i = 0; i < 48; ++i) {
    for (Index j = 0; j < 3; ++j) X(i, j) = static_cast<T>((i * (7 + 2 * j) + 5 * j) % 19) / T(4);
  }
  X.row(48) << T(12), T(-6), T(9.5);
  return X;
}

// The bytes redflag::save writes for `model`.
template <class Model>
std::string saved(const Model& model, Format format = Format::portable_binary) {
  std::ostringstream out(std::ios::binary);
  redflag::save(model, out, format);
  return out.str();
}

// The model redflag::load reads from `bytes`.
template <class Model>
Model loaded(const std::string& bytes) {
  std::istringstream in(bytes, std::ios::binary);
  return redflag::load<Model>(in);
}

// `text` with the first `from` replaced by `to`; `from` must occur.
inline std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Replaces the first number after "key": in a JSON model file.
inline std::string first_number_replaced(std::string text, const std::string& key, const std::string& value) {
  const auto at = text.find("\"" + key + "\":");
  REQUIRE(at != std::string::npos);
  const auto first = text.find_first_of("-0123456789", at + key.size() + 3);
  const auto end = text.find_first_not_of("-0123456789.e+", first);
  return text.replace(first, end - first, value);
}

// Replaces the whole array after "key": in a JSON model file by [values].
inline std::string array_replaced(std::string text, const std::string& key, const std::string& values) {
  const auto at = text.find("\"" + key + "\":");
  REQUIRE(at != std::string::npos);
  const auto open = text.find('[', at);
  const auto close = text.find(']', open);
  REQUIRE(close != std::string::npos);
  return text.replace(open, close - open + 1, "[" + values + "]");
}

// The fitted trees, read back from the model's JSON file.
template <class Model>
detail::forest::IsolationTrees<typename Model::scalar_type> trees_of(const Model& model) {
  std::istringstream text(saved(model, Format::json));
  cereal::JSONInputArchive archive(text);
  archive.setNextName("model");
  archive.startNode();
  typename Model::Params params;
  detail::forest::serialize_params(archive, params, Model::format_version);
  detail::forest::ForestState<typename Model::scalar_type> state;
  state.serialize(archive, Model::format_version);
  archive.finishNode();
  state.trees.derive();
  return state.trees;
}

// Node `at`'s category list: (code, goes right) pairs.
template <class T>
std::vector<std::pair<std::uint32_t, bool>> categories_of(const detail::forest::IsolationTrees<T>& trees,
                                                          std::size_t at) {
  const std::uint32_t* list = trees.categories.data() + trees.aux[at];
  std::vector<std::pair<std::uint32_t, bool>> entries;
  for (std::uint32_t k = 1; k <= list[0]; ++k) entries.emplace_back(list[k] >> 1, (list[k] & 1u) != 0);
  return entries;
}

// Sends a training row down an axis-parallel tree (numeric and categorical
// splits) from node `at` as fit did (a missing value follows the child with
// more rows, left on a tie), counting visits.
template <class T>
void fit_route(const detail::forest::IsolationTrees<T>& trees, std::size_t at, const T* x,
               std::vector<std::uint32_t>& visits) {
  using detail::forest::NodeKind;
  while (true) {
    ++visits[at];
    const auto& node = trees.nodes[at];
    if (node.kind == NodeKind::leaf) return;
    const auto left = static_cast<std::size_t>(node.left);
    const T value = x[node.feature];
    bool go_left = trees.count[left] >= trees.count[left + 1];
    if (!std::isnan(value) && node.kind == NodeKind::numeric) go_left = value <= node.value;
    if (!std::isnan(value) && node.kind == NodeKind::categorical) {
      const auto entries = categories_of(trees, at);
      const auto code = static_cast<std::uint32_t>(value);
      const auto found = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == code; });
      if (found == entries.end()) return;  // impossible for a training row: visits then fall short
      go_left = !found->second;
    }
    at = go_left ? left : left + 1;
  }
}

// Node visits when every row of X goes down every tree from its root, each by
// route(trees, root, row, visits), which counts the nodes it passes. With
// every training row in every tree (max_samples = n, no bootstrap) and the
// route fit took, the visits reproduce every node's training count.
template <class T, class Route>
std::vector<std::uint32_t> retraced_visits(const detail::forest::IsolationTrees<T>& trees, const Matrix<T>& X,
                                           Route route) {
  std::vector<std::uint32_t> visits(trees.nodes.size(), 0);
  for (std::size_t t = 0; t < trees.tree_count(); ++t) {
    for (Index i = 0; i < X.rows(); ++i) {
      route(trees, static_cast<std::size_t>(trees.offsets[t]), X.row(i).data(), visits);
    }
  }
  return visits;
}

// The score of a row whose path lengths over the model's trees sum to `depth`.
template <class T>
T score_of(double depth, Index n_trees, Index psi) {
  return static_cast<T>(std::exp2(
      -depth / (static_cast<double>(n_trees) * detail::forest::average_path_length(static_cast<double>(psi)))));
}

// Hexadecimal floating point: exact, and parsed back by strtod (golden files).
template <class T>
std::string hex(T value) {
  char text[64];
  std::snprintf(text, sizeof text, "%a", static_cast<double>(value));
  return text;
}

}  // namespace redflag::test
