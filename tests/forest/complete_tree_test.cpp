#include <redflag/core/random.hpp>
#include <redflag/forest/detail/complete_tree.hpp>
#include <redflag/forest/detail/tree_node.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/simd/path.hpp>

#include <doctest/doctest.h>

#include "../support/simd_paths.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using redflag::detail::forest::CompleteTrees;
using redflag::detail::forest::NodeKind;
using redflag::detail::forest::TreeNode;
namespace simd = redflag::simd;

namespace {

constexpr std::size_t walk_columns = 4;
// Thresholds come from this small set, so rows often hit a threshold exactly.
constexpr double grid[] = {-1.0, -0.5, 0.0, 0.5, 1.0};

template <class T>
struct Forest {
  std::vector<TreeNode<T>> nodes;
  std::vector<std::int32_t> offsets{0};
  std::vector<std::int32_t> depth;
};

// Appends a random tree in the node layout (children after their parent,
// right = left + 1, leaves looping to themselves); returns its depth.
template <class T>
std::int32_t grow(Forest<T>& forest, redflag::Random& random, std::int32_t max_depth,
                  std::size_t columns = walk_columns) {
  struct Pending {
    std::size_t node;
    std::int32_t level;
  };
  forest.nodes.push_back({});
  std::vector<Pending> pending{{forest.nodes.size() - 1, 0}};
  std::int32_t deepest = 0;
  while (!pending.empty()) {
    const Pending at = pending.back();
    pending.pop_back();
    TreeNode<T>& node = forest.nodes[at.node];
    const bool split = at.level < max_depth && (at.level == 0 || random.uniform<double>() < 0.7);
    if (!split) {
      node = {T(0), static_cast<std::int32_t>(at.node), 0, NodeKind::leaf, 0};
      deepest = std::max(deepest, at.level);
      continue;
    }
    const auto left = static_cast<std::int32_t>(forest.nodes.size());
    node = {static_cast<T>(grid[random.uniform_int<std::size_t>(std::size(grid))]), left,
            static_cast<std::uint16_t>(random.uniform_int<std::size_t>(columns)), NodeKind::numeric, 1};
    forest.nodes.push_back({});
    forest.nodes.push_back({});
    pending.push_back({static_cast<std::size_t>(left), at.level + 1});
    pending.push_back({static_cast<std::size_t>(left) + 1, at.level + 1});
  }
  return deepest;
}

template <class T>
Forest<T> random_forest(std::uint64_t seed, std::size_t trees, std::int32_t max_depth,
                        std::size_t columns = walk_columns) {
  redflag::Random random(seed);
  Forest<T> forest;
  // A lone leaf first: a tree of depth 0.
  forest.nodes.push_back({T(0), 0, 0, NodeKind::leaf, 0});
  forest.offsets.push_back(1);
  forest.depth.push_back(0);
  for (std::size_t t = 1; t < trees; ++t) {
    forest.depth.push_back(grow(forest, random, max_depth, columns));
    forest.offsets.push_back(static_cast<std::int32_t>(forest.nodes.size()));
  }
  return forest;
}

// The leaf the node walk takes row x to in tree t.
template <class T>
std::int32_t node_walk_leaf(const Forest<T>& forest, std::size_t t, const T* x) {
  std::int32_t at[1] = {forest.offsets[t]};
  const std::uint32_t offset[1] = {0};
  redflag::detail::forest::walk(forest.nodes.data(), forest.depth[t], at, x, offset);
  return at[0];
}

template <class T>
std::vector<T> random_rows(std::uint64_t seed, std::size_t rows, std::size_t columns = walk_columns) {
  redflag::Random random(seed);
  const T special[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                       -std::numeric_limits<T>::infinity(), T(0.5), T(-1)};
  std::vector<T> values(rows * columns);
  for (T& value : values) {
    const double draw = random.uniform<double>();
    value = draw < 0.1 ? special[random.uniform_int<std::size_t>(std::size(special))]
                       : static_cast<T>(random.uniform<double>(-1.5, 1.5));
  }
  return values;
}

// A leaf's value for add_leaves: full mantissas, so any change in what is
// added, or in what order, changes the sums' bits.
double leaf_value(std::int32_t leaf) { return 1.0 / 3.0 + static_cast<double>(leaf) * 0.1; }

// Per row (`stride` values apart), 0.5 plus its leaves' values over the
// forest's trees in tree order, by the node walk.
template <class T>
std::vector<double> node_walk_sums(const Forest<T>& forest, const std::vector<T>& values, std::size_t stride,
                                   std::size_t rows) {
  std::vector<double> sums(rows, 0.5);
  for (std::size_t t = 0; t + 1 < forest.offsets.size(); ++t) {
    for (std::size_t r = 0; r < rows; ++r) sums[r] += leaf_value(node_walk_leaf(forest, t, values.data() + r * stride));
  }
  return sums;
}

}  // namespace

TEST_CASE_TEMPLATE("the complete layout sends every row to the leaf the node walk reaches", T, float, double) {
  const Forest<T> forest = random_forest<T>(7, 40, 7);
  // Payload: the leaf's node index, so any disagreement shows.
  const CompleteTrees<T> complete(forest.nodes, forest.offsets, forest.depth,
                                  [](std::int32_t leaf) { return static_cast<std::uint32_t>(leaf); });
  REQUIRE_FALSE(complete.empty());
  constexpr std::size_t wide = 8;
  const std::vector<T> values = random_rows<T>(11, 64);
  std::size_t compared = 0;
  for (std::size_t t = 0; t + 1 < forest.offsets.size(); ++t) {
    for (std::size_t r = 0; r + wide <= 64; r += wide) {
      std::int32_t at[wide];
      std::uint32_t offset[wide];
      for (std::size_t w = 0; w < wide; ++w) {
        at[w] = forest.offsets[t];
        offset[w] = static_cast<std::uint32_t>(w * walk_columns);
      }
      redflag::detail::forest::walk(forest.nodes.data(), forest.depth[t], at, values.data() + r * walk_columns, offset);
      std::uint32_t reached[wide];
      complete.walk(t, values.data() + r * walk_columns, offset, reached);
      for (std::size_t w = 0; w < wide; ++w) {
        CHECK(reached[w] == static_cast<std::uint32_t>(at[w]));
        CHECK(forest.nodes[static_cast<std::size_t>(at[w])].kind == NodeKind::leaf);
        ++compared;
      }
    }
  }
  CHECK(compared == 40 * 64);
}

TEST_CASE("trees deeper than max_depth leave the complete layout empty") {
  using T = double;
  const Forest<T> shallow = random_forest<T>(3, 5, CompleteTrees<T>::max_depth);
  const auto payload = [](std::int32_t leaf) { return static_cast<std::uint32_t>(leaf); };
  // The forest reaches max_depth only if some tree does; force one that does.
  Forest<T> deep = shallow;
  redflag::Random random(5);
  std::int32_t depth = 0;
  while (depth <= CompleteTrees<T>::max_depth) {
    depth = grow(deep, random, CompleteTrees<T>::max_depth + 1);
    deep.depth.push_back(depth);
    deep.offsets.push_back(static_cast<std::int32_t>(deep.nodes.size()));
    if (depth <= CompleteTrees<T>::max_depth) {  // keep only a tree that is too deep
      deep = shallow;
    }
  }
  CHECK_FALSE(CompleteTrees<T>(shallow.nodes, shallow.offsets, shallow.depth, payload).empty());
  CHECK(CompleteTrees<T>(deep.nodes, deep.offsets, deep.depth, payload).empty());
}

TEST_CASE_TEMPLATE("leaves() finds every row's leaf, vector walk and tail alike", T, float, double) {
  // Depths up to 9: the vector walk takes levels 0-5 (double) or 0-6
  // (float) from registers and gathers below; 64-row rounds plus a tail of
  // 13 rows for the scalar walk.
  const Forest<T> forest = random_forest<T>(17, 30, 9);
  const CompleteTrees<T> complete(forest.nodes, forest.offsets, forest.depth,
                                  [](std::int32_t leaf) { return static_cast<std::uint32_t>(leaf); });
  REQUIRE_FALSE(complete.empty());
  constexpr std::size_t rows = 3 * CompleteTrees<T>::vector_rows + 13;
  // A stride wider than the row, as for a block of a wider matrix.
  constexpr std::size_t stride = walk_columns + 3;
  const std::vector<T> dense = random_rows<T>(23, rows);
  std::vector<T> values(rows * stride, T(99));
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < walk_columns; ++c) values[r * stride + c] = dense[r * walk_columns + c];
  }
  std::vector<std::uint32_t> reached(rows);
  redflag::test::on_every_path([&](simd::Path path) {
    MESSAGE(simd::name(path) << " path: " << simd::name(CompleteTrees<T>::walk_path()) << " walk");
    for (std::size_t t = 0; t + 1 < forest.offsets.size(); ++t) {
      complete.leaves(t, values.data(), stride, rows, reached.data());
      for (std::size_t r = 0; r < rows; ++r) {
        CHECK(reached[r] == static_cast<std::uint32_t>(node_walk_leaf(forest, t, values.data() + r * stride)));
      }
    }
  });
}

TEST_CASE_TEMPLATE("add_leaves() adds every row's leaf value, tree after tree", T, float, double) {
  const Forest<T> forest = random_forest<T>(29, 30, 9);
  const CompleteTrees<T, double> complete(forest.nodes, forest.offsets, forest.depth, leaf_value);
  REQUIRE_FALSE(complete.empty());
  constexpr std::size_t rows = 2 * CompleteTrees<T, double>::vector_rows + 7;
  const std::vector<T> values = random_rows<T>(31, rows);
  const std::vector<double> reference = node_walk_sums(forest, values, walk_columns, rows);
  redflag::test::on_every_path([&](simd::Path path) {
    MESSAGE(simd::name(path) << " path: " << simd::name(CompleteTrees<T, double>::walk_path()) << " walk");
    std::vector<double> sum(rows, 0.5);
    for (std::size_t t = 0; t + 1 < forest.offsets.size(); ++t) {
      complete.add_leaves(t, values.data(), walk_columns, rows, sum.data());
    }
    CHECK(sum == reference);
  });
}

TEST_CASE_TEMPLATE("a rank block takes every row to its leaf, for 1 to 33 columns and depths to 12", T, float, double) {
  // The rank walk picks ranks by slot at the upper levels and by column
  // below, split indices and columns from permutes down to level 8 and
  // gathers deeper: depths up to 12 reach every case. 2 x 128 rows and a
  // padded tail; 33 columns take the scalar steps on ranks.
  using redflag::detail::forest::RankBlock;
  constexpr std::size_t rows = 2 * 128 + 13;
  for (const std::size_t columns : {1, 2, 3, 5, 8, 10, 17, 31, 32, 33}) {
    CAPTURE(columns);
    const Forest<T> forest = random_forest<T>(37 + columns, 12, 12, columns);
    const CompleteTrees<T> by_leaf(forest.nodes, forest.offsets, forest.depth,
                                   [](std::int32_t leaf) { return static_cast<std::uint32_t>(leaf); });
    const CompleteTrees<T, double> by_value(forest.nodes, forest.offsets, forest.depth, leaf_value);
    REQUIRE_FALSE(by_leaf.empty());
    // A stride wider than the row, as for a block of a wider matrix.
    const std::size_t stride = columns + 2;
    const std::vector<T> dense = random_rows<T>(41 + columns, rows, columns);
    std::vector<T> values(rows * stride, T(99));
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < columns; ++c) values[r * stride + c] = dense[r * columns + c];
    }
    const std::vector<double> reference = node_walk_sums(forest, values, stride, rows);
    redflag::test::on_every_path([&](simd::Path path) {
      CHECK(by_leaf.walks_ranks(columns) == (path == simd::Path::avx512 && columns <= 32));
      RankBlock block;
      by_leaf.assign(block, values.data(), stride, rows, columns);
      std::vector<std::uint32_t> reached(rows);
      std::vector<double> sum(rows, 0.5);
      for (std::size_t t = 0; t + 1 < forest.offsets.size(); ++t) {
        by_leaf.leaves(t, block, reached.data());
        for (std::size_t r = 0; r < rows; ++r) {
          CHECK(reached[r] == static_cast<std::uint32_t>(node_walk_leaf(forest, t, values.data() + r * stride)));
        }
        by_value.add_leaves(t, block, sum.data());
      }
      CHECK(sum == reference);
    });
  }
}

TEST_CASE_TEMPLATE("split ranks count the split values below a value, NaN and infinities included", T, float, double) {
  using redflag::detail::forest::SplitRanks;
  // Column 0: enough values for four levels of the search tree (fanout
  // 16); column 1: none; column 2: repeats, -inf, and +inf and NaN that
  // no value exceeds.
  constexpr T inf = std::numeric_limits<T>::infinity();
  std::vector<T> many;
  for (int i = 0; i < 5000; ++i) many.push_back(static_cast<T>((i * 7919) % 5000) / T(8));
  const SplitRanks<T> ranks({many, {}, {T(1), T(1), -inf, inf, std::numeric_limits<T>::quiet_NaN(), T(-2)}});
  REQUIRE_FALSE(ranks.empty());
  const T probes[] = {
      -inf, T(-2), T(-1), T(0), T(0.0625), T(1), T(1.5), T(624.875), T(700), inf, std::numeric_limits<T>::quiet_NaN()};
  std::vector<T> sorted = many;
  std::sort(sorted.begin(), sorted.end());
  const std::vector<T> third{-inf, T(-2), T(1)};
  redflag::test::on_every_path([&](simd::Path) {
    for (const T x : probes) {
      CAPTURE(x);
      const auto below = [x](const std::vector<T>& values) {
        return static_cast<std::uint16_t>(std::count_if(values.begin(), values.end(), [x](T v) { return v < x; }));
      };
      std::uint16_t by_column[3];
      for (std::size_t column = 0; column < 3; ++column) ranks.rank_column(column, &x, 1, 1, by_column + column);
      CHECK(ranks.rank(0, x) == below(sorted));
      CHECK(by_column[0] == below(sorted));
      CHECK(ranks.rank(1, x) == 0);
      CHECK(by_column[1] == 0);
      CHECK(ranks.rank(2, x) == below(third));
      CHECK(by_column[2] == below(third));
    }
  });
  // One column past max_splits distinct values: no ranks.
  std::vector<T> too_many(SplitRanks<T>::max_splits + 1);
  for (std::size_t i = 0; i < too_many.size(); ++i) too_many[i] = static_cast<T>(i);
  CHECK(SplitRanks<T>({too_many}).empty());
}

TEST_CASE_TEMPLATE("IsolationForest and RandomForest score bit-identically on every instruction-set path", T, float,
                   double) {
  // Enough rows for the vector walks and the scoring copy (2,048 rows and up).
  constexpr Eigen::Index rows = 3000;
  redflag::Random random(41);
  redflag::Matrix<T> X(rows, 5);
  redflag::LabelVector y(rows);
  for (Eigen::Index r = 0; r < rows; ++r) {
    for (Eigen::Index c = 0; c < X.cols(); ++c) X(r, c) = static_cast<T>(random.normal());
    y(r) = X(r, 0) + X(r, 1) > T(0.5) ? 1 : 0;
  }
  const simd::ScopedPath fitted_on_scalar(simd::Path::scalar);
  redflag::IsolationForest<T> isolation({.n_estimators = 30, .random_state = 3});
  isolation.fit(X);
  redflag::RandomForest<T> classifier({.n_estimators = 20, .max_depth = 9, .random_state = 3});
  classifier.fit(X, y);
  const redflag::Vector<T> reference_scores = isolation.anomaly_score(X);
  const redflag::Matrix<T> reference_proba = classifier.predict_proba(X);
  const int compared = redflag::test::on_every_path([&](simd::Path) {
    const redflag::Vector<T> scores = isolation.anomaly_score(X);
    const redflag::Matrix<T> proba = classifier.predict_proba(X);
    CHECK(std::memcmp(scores.data(), reference_scores.data(), sizeof(T) * static_cast<std::size_t>(rows)) == 0);
    CHECK(std::memcmp(proba.data(), reference_proba.data(), sizeof(T) * static_cast<std::size_t>(proba.size())) == 0);
    // Fitting does not depend on the path either.
    redflag::IsolationForest<T> refitted({.n_estimators = 30, .random_state = 3});
    refitted.fit(X);
    const redflag::Vector<T> refitted_scores = refitted.anomaly_score(X);
    CHECK(std::memcmp(refitted_scores.data(), reference_scores.data(), sizeof(T) * static_cast<std::size_t>(rows)) ==
          0);
  });
  CHECK(compared >= 2 - (simd::best_supported() == simd::Path::scalar ? 1 : 0));
}
