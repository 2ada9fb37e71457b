#include <redflag/core/random.hpp>
#include <redflag/forest/detail/tree_shap.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "../support/allocation_tracker.hpp"

namespace forest = redflag::detail::forest;
using forest::Direction;
using redflag::Random;

namespace {

using Row = std::vector<double>;
constexpr double missing = std::numeric_limits<double>::quiet_NaN();
constexpr double shap_tolerance = 1e-12;

struct Node {
  std::int32_t feature = -1;  // -1: leaf
  double threshold = 0.0;     // x goes left when x[feature] <= threshold; NaN goes both ways
  std::int32_t left = -1, right = -1;
  double cover = 1.0;
  bool undecided = false;      // `both` whatever x holds, like an unseen category
  std::vector<double> values;  // leaf values, one per output
};

// A tree small enough to write by hand, seen through the TreeShapView interface.
struct HandTree {
  std::vector<Node> nodes;
  std::int32_t root_node = 0;
  std::size_t n_outputs = 1;
  int depth = 0;

  std::int32_t root() const { return root_node; }
  bool is_leaf(std::int32_t node) const { return at(node).feature < 0; }
  std::int32_t left(std::int32_t node) const { return at(node).left; }
  std::int32_t right(std::int32_t node) const { return at(node).right; }
  double cover(std::int32_t node) const { return at(node).cover; }
  std::int32_t feature(std::int32_t node) const { return at(node).feature; }
  double leaf_value(std::int32_t node, std::size_t output) const { return at(node).values.at(output); }
  std::size_t outputs() const { return n_outputs; }
  int max_depth() const { return depth; }
  Direction direction(std::int32_t node, const Row& x) const {
    const Node& n = at(node);
    const double value = x.at(static_cast<std::size_t>(n.feature));
    if (n.undecided || std::isnan(value)) return Direction::both;
    return value <= n.threshold ? Direction::left : Direction::right;
  }
  const Node& at(std::int32_t node) const { return nodes.at(static_cast<std::size_t>(node)); }

  // Bottom-up construction: a split's cover is its children's.
  std::int32_t leaf(double cover, std::vector<double> values) {
    nodes.push_back({-1, 0.0, -1, -1, cover, false, std::move(values)});
    return root_node = static_cast<std::int32_t>(nodes.size() - 1);
  }
  std::int32_t split(std::int32_t feature, double threshold, std::int32_t l, std::int32_t r) {
    nodes.push_back({feature, threshold, l, r, at(l).cover + at(r).cover, false, {}});
    return root_node = static_cast<std::int32_t>(nodes.size() - 1);
  }
  void finish() { depth = depth_below(root_node); }
  int depth_below(std::int32_t node) const {
    return is_leaf(node) ? 0 : 1 + std::max(depth_below(left(node)), depth_below(right(node)));
  }
};

static_assert(forest::TreeShapView<HandTree, Row>);
static_assert(!forest::TreeShapView<HandTree, int>);
static_assert(!forest::TreeView<Row>);

// v(S): the tree's value when only the features in `known` (a bit set) are
// known, written from the definition independently of the header.
double conditional_value(const HandTree& tree, std::int32_t node, const Row& x, unsigned known, std::size_t output) {
  const Node& n = tree.at(node);
  if (n.feature < 0) return n.values[output];
  const double value = x[static_cast<std::size_t>(n.feature)];
  if ((known >> n.feature & 1u) != 0 && !n.undecided && !std::isnan(value)) {
    return conditional_value(tree, value <= n.threshold ? n.left : n.right, x, known, output);
  }
  const double cl = tree.at(n.left).cover, cr = tree.at(n.right).cover;
  return (cl * conditional_value(tree, n.left, x, known, output) +
          cr * conditional_value(tree, n.right, x, known, output)) /
         (cl + cr);
}

double factorial(int n) { return n <= 1 ? 1.0 : n * factorial(n - 1); }

// Shapley values by enumerating every subset of the m features.
std::vector<double> brute_force_shap(const HandTree& tree, const Row& x, int m) {
  const std::size_t outputs = tree.outputs();
  std::vector<double> phi(static_cast<std::size_t>(m) * outputs, 0.0);
  const unsigned subsets = 1u << m;
  for (std::size_t o = 0; o < outputs; ++o) {
    std::vector<double> v(subsets);
    for (unsigned s = 0; s < subsets; ++s) v[s] = conditional_value(tree, tree.root(), x, s, o);
    for (int j = 0; j < m; ++j) {
      for (unsigned s = 0; s < subsets; ++s) {
        if ((s >> j & 1u) != 0) continue;
        const int size = std::popcount(s);
        const double weight = factorial(size) * factorial(m - size - 1) / factorial(m);
        phi[static_cast<std::size_t>(j) * outputs + o] += weight * (v[s | 1u << j] - v[s]);
      }
    }
  }
  return phi;
}

std::vector<double> tree_shap(const HandTree& tree, const Row& x, int m, forest::TreeShapWorkspace& workspace) {
  std::vector<double> phi(static_cast<std::size_t>(m) * tree.outputs(), 0.0);
  forest::add_tree_shap(tree, x, std::span<double>(phi), workspace);
  return phi;
}

// Compares TreeSHAP with brute force and checks efficiency for one row.
void check_row(const HandTree& tree, const Row& x, forest::TreeShapWorkspace& workspace) {
  const int m = static_cast<int>(x.size());
  const std::vector<double> fast = tree_shap(tree, x, m, workspace);
  const std::vector<double> exact = brute_force_shap(tree, x, m);
  const std::size_t outputs = tree.outputs();
  for (std::size_t i = 0; i < fast.size(); ++i) {
    INFO("feature " << i / outputs << ", output " << i % outputs);
    CHECK(std::abs(fast[i] - exact[i]) <= shap_tolerance);
  }
  for (std::size_t o = 0; o < outputs; ++o) {
    INFO("output " << o);
    const double expected = forest::expected_value(tree, o);
    const double value = forest::tree_value(tree, x, o);
    CHECK(std::abs(expected - conditional_value(tree, tree.root(), x, 0u, o)) <= shap_tolerance);
    CHECK(std::abs(value - conditional_value(tree, tree.root(), x, (1u << m) - 1, o)) <= shap_tolerance);
    double total = expected;
    for (int j = 0; j < m; ++j) total += fast[static_cast<std::size_t>(j) * outputs + o];
    CHECK(std::abs(total - value) <= shap_tolerance);
  }
}

// A random tree: random features and thresholds, covers split at random
// (sometimes all to one side, leaving a zero-cover leaf), a few nodes that
// never decide.
std::int32_t grow(HandTree& tree, Random& rng, int depth, int max_depth, double cover, int features) {
  const auto index = static_cast<std::int32_t>(tree.nodes.size());
  tree.nodes.emplace_back();
  if (cover == 0.0 || depth == max_depth || (depth > 0 && rng.bernoulli(0.2))) {
    Node& leaf = tree.nodes.back();
    leaf.cover = cover;
    for (std::size_t o = 0; o < tree.n_outputs; ++o) leaf.values.push_back(rng.uniform(-5.0, 5.0));
    return index;
  }
  const auto feature = rng.uniform_int(features);
  const double threshold = rng.uniform(-1.0, 1.0);
  const bool undecided = rng.bernoulli(0.05);
  const double share = rng.bernoulli(0.08) ? (rng.bernoulli(0.5) ? 0.0 : 1.0) : rng.uniform(0.05, 0.95);
  const std::int32_t l = grow(tree, rng, depth + 1, max_depth, cover * share, features);
  const std::int32_t r = grow(tree, rng, depth + 1, max_depth, cover - cover * share, features);
  tree.nodes[static_cast<std::size_t>(index)] = {feature, threshold, l, r, cover, undecided, {}};
  return index;
}

// Whether some root-to-leaf path splits on one feature more than once.
bool repeats_a_feature(const HandTree& tree, std::int32_t node, unsigned seen) {
  if (tree.is_leaf(node)) return false;
  const unsigned bit = 1u << tree.feature(node);
  if ((seen & bit) != 0) return true;
  return repeats_a_feature(tree, tree.left(node), seen | bit) || repeats_a_feature(tree, tree.right(node), seen | bit);
}

Row random_row(Random& rng, int features, double nan_probability) {
  Row x(static_cast<std::size_t>(features));
  for (auto& value : x) value = rng.bernoulli(nan_probability) ? missing : rng.uniform(-1.2, 1.2);
  return x;
}

}  // namespace

TEST_CASE("depth-1 tree: the split feature gets value(x) - expected, the others 0") {
  HandTree tree;
  const auto l = tree.leaf(3.0, {10.0});
  const auto r = tree.leaf(1.0, {2.0});
  tree.split(1, 0.5, l, r);
  tree.finish();
  forest::TreeShapWorkspace workspace;
  CHECK(forest::expected_value(tree, 0) == doctest::Approx(8.0));  // (3 * 10 + 1 * 2) / 4

  const auto check_phi = [&](const Row& x, const std::vector<double>& want) {
    const std::vector<double> phi = tree_shap(tree, x, 3, workspace);
    for (std::size_t j = 0; j < want.size(); ++j) CHECK(phi[j] == doctest::Approx(want[j]));
  };
  check_phi({7.0, 0.0, 7.0}, {0.0, 2.0, 0.0});
  check_phi({7.0, 1.0, 7.0}, {0.0, -6.0, 0.0});
  // A missing value carries no information: nothing to attribute.
  check_phi({7.0, missing, 7.0}, {0.0, 0.0, 0.0});
  CHECK(forest::tree_value(tree, Row{7.0, missing, 7.0}, 0) == doctest::Approx(8.0));
}

TEST_CASE("two-feature tree worked by hand") {
  // f0 <= 0 ? (f1 <= 0 ? 4 : 0) : 2, covers 1, 1 and 2. For x = (-1, -1):
  // v({}) = 2, v({0}) = 2, v({1}) = (4 + 2) / 2 = 3, v({0, 1}) = 4, so
  // phi0 = (0 + 1) / 2 and phi1 = (1 + 2) / 2.
  HandTree tree;
  const auto a = tree.leaf(1.0, {4.0});
  const auto b = tree.leaf(1.0, {0.0});
  const auto inner = tree.split(1, 0.0, a, b);
  const auto c = tree.leaf(2.0, {2.0});
  tree.split(0, 0.0, inner, c);
  tree.finish();
  forest::TreeShapWorkspace workspace;
  const std::vector<double> phi = tree_shap(tree, {-1.0, -1.0}, 2, workspace);
  CHECK(phi[0] == doctest::Approx(0.5));
  CHECK(phi[1] == doctest::Approx(1.5));
  CHECK(forest::expected_value(tree, 0) == doctest::Approx(2.0));
}

TEST_CASE("a tree that is a single leaf attributes nothing") {
  HandTree tree;
  tree.leaf(5.0, {3.5, -1.0});
  tree.n_outputs = 2;
  tree.finish();
  forest::TreeShapWorkspace workspace;
  CHECK(tree_shap(tree, {0.3, missing}, 2, workspace) == std::vector<double>(4, 0.0));
  CHECK(forest::expected_value(tree, 0) == 3.5);
  CHECK(forest::expected_value(tree, 1) == -1.0);
  CHECK(forest::tree_value(tree, Row{0.3, missing}, 1) == -1.0);
}

TEST_CASE("a feature repeated along a path matches brute force") {
  // f0 splits three times on the leftmost path (once undecided), f1 between.
  HandTree tree;
  const auto a = tree.leaf(2.0, {1.0, -3.0});
  const auto b = tree.leaf(5.0, {4.0, 0.5});
  const auto deep = tree.split(0, -0.5, a, b);
  const auto c = tree.leaf(3.0, {-2.0, 2.0});
  const auto mid = tree.split(0, 0.3, deep, c);
  const auto d = tree.leaf(4.0, {6.0, 1.0});
  const auto f1 = tree.split(1, 0.0, mid, d);
  const auto e = tree.leaf(1.0, {0.0, 7.0});
  const auto f = tree.leaf(6.0, {-1.0, -1.0});
  const auto g = tree.split(2, 0.2, e, f);
  tree.split(0, 0.0, f1, g);
  tree.nodes[static_cast<std::size_t>(mid)].undecided = true;
  tree.n_outputs = 2;
  tree.finish();
  REQUIRE(tree.max_depth() == 4);

  forest::TreeShapWorkspace workspace;
  const std::vector<Row> rows = {
      {-0.7, -1.0, 0.0}, {-0.2, -1.0, 0.0},    {0.1, -1.0, 0.0},         {-0.7, 1.0, 1.0},
      {0.5, 0.5, 0.1},   {missing, -1.0, 0.5}, {-0.7, missing, missing}, {missing, missing, missing},
      {-0.4, 0.0, 0.2}};
  for (const Row& x : rows) {
    INFO("x = (" << x[0] << ", " << x[1] << ", " << x[2] << ")");
    check_row(tree, x, workspace);
  }
}

TEST_CASE("random trees match brute force and are additive") {
  Random rng(20240611);
  forest::TreeShapWorkspace workspace;  // shared: grows with the deepest tree seen
  int zero_cover_leaves = 0, repeated_paths = 0;
  for (int t = 0; t < 300; ++t) {
    HandTree tree;
    tree.n_outputs = 1 + static_cast<std::size_t>(t % 3);
    const int features = rng.uniform_int(4, 7);
    const int max_depth = rng.uniform_int(1, 7);
    tree.root_node = grow(tree, rng, 0, max_depth, rng.uniform(1.0, 100.0), features);
    tree.finish();
    for (const Node& n : tree.nodes) zero_cover_leaves += n.cover == 0.0 ? 1 : 0;
    repeated_paths += repeats_a_feature(tree, tree.root(), 0u) ? 1 : 0;
    for (int r = 0; r < 12; ++r) {
      const Row x = random_row(rng, features, r < 6 ? 0.0 : 0.25);
      INFO("tree " << t << ", row " << r);
      check_row(tree, x, workspace);
    }
  }
  // The generator does reach the cases it is meant to cover.
  CHECK(zero_cover_leaves > 0);
  CHECK(repeated_paths > 0);
}

TEST_CASE("trees deeper than 16 (a run-time point count) match brute force") {
  Random rng(77);
  forest::TreeShapWorkspace workspace;
  int deep_trees = 0;
  for (int t = 0; t < 40 && deep_trees < 4; ++t) {
    HandTree tree;
    tree.root_node = grow(tree, rng, 0, 24, 1000.0, 6);
    tree.finish();
    if (tree.max_depth() <= 16) continue;  // 8 points or fewer: the unrolled walks
    ++deep_trees;
    for (int r = 0; r < 4; ++r) {
      INFO("tree " << t << " of depth " << tree.max_depth() << ", row " << r);
      check_row(tree, random_row(rng, 6, r < 2 ? 0.0 : 0.2), workspace);
    }
  }
  CHECK(deep_trees == 4);
}

TEST_CASE("Gauss-Legendre rules integrate polynomials of degree < 2n exactly") {
  for (int n = 1; n <= 40; ++n) {
    std::vector<double> points(static_cast<std::size_t>(n)), weights(static_cast<std::size_t>(n));
    forest::gauss_legendre(n, points.data(), weights.data());
    INFO("n = " << n);
    CHECK(points.front() > 0.0);
    CHECK(points.back() < 1.0);
    CHECK(std::is_sorted(points.begin(), points.end()));
    for (int degree = 0; degree < 2 * n; ++degree) {
      double integral = 0.0;
      for (std::size_t k = 0; k < points.size(); ++k) integral += weights[k] * std::pow(points[k], degree);
      INFO("degree " << degree);
      CHECK(integral == doctest::Approx(1.0 / (degree + 1)).epsilon(1e-13));
    }
  }
}

TEST_CASE("add_tree_shap adds to phi") {
  HandTree tree;
  const auto l = tree.leaf(1.0, {1.0});
  const auto r = tree.leaf(1.0, {3.0});
  tree.split(0, 0.0, l, r);
  tree.finish();
  forest::TreeShapWorkspace workspace;
  std::vector<double> phi = {10.0, 20.0};
  forest::add_tree_shap(tree, Row{1.0, 1.0}, std::span<double>(phi), workspace);
  forest::add_tree_shap(tree, Row{1.0, 1.0}, std::span<double>(phi), workspace);
  CHECK(phi == std::vector<double>{12.0, 20.0});
}

TEST_CASE("no allocation once the workspace is sized") {
  Random rng(7);
  std::vector<HandTree> trees(20);
  int deepest = 0;
  for (HandTree& tree : trees) {
    tree.n_outputs = 2;
    tree.root_node = grow(tree, rng, 0, 6, 50.0, 5);
    tree.finish();
    deepest = std::max(deepest, tree.max_depth());
  }
  std::vector<Row> rows;
  for (int r = 0; r < 20; ++r) rows.push_back(random_row(rng, 5, 0.2));
  std::vector<double> phi(10, 0.0);
  forest::TreeShapWorkspace workspace;
  workspace.reserve(deepest, 2, 5);

  const std::size_t before = redflag::test::allocation_count.load();
  for (const Row& x : rows) {
    for (const HandTree& tree : trees) forest::add_tree_shap(tree, x, std::span<double>(phi), workspace);
  }
  const std::size_t after = redflag::test::allocation_count.load();
  CHECK(after == before);
  CHECK(std::any_of(phi.begin(), phi.end(), [](double v) { return v != 0.0; }));
}

TEST_CASE("contract violations are reported, not overrun") {
  HandTree tree;
  const auto a = tree.leaf(1.0, {1.0});
  const auto b = tree.leaf(1.0, {2.0});
  const auto inner = tree.split(2, 0.0, a, b);
  const auto c = tree.leaf(1.0, {3.0});
  tree.split(0, 0.0, inner, c);
  tree.finish();
  forest::TreeShapWorkspace workspace;

  std::vector<double> narrow(2, 0.0);  // room for features 0 and 1; the tree uses 2
  CHECK_THROWS_WITH_AS(forest::add_tree_shap(tree, Row{0.0, 0.0, 0.0}, std::span<double>(narrow), workspace),
                       doctest::Contains("feature 2"), redflag::invalid_argument);

  tree.depth = 1;  // understates the depth
  std::vector<double> phi(3, 0.0);
  CHECK_THROWS_WITH_AS(forest::add_tree_shap(tree, Row{0.0, 0.0, 0.0}, std::span<double>(phi), workspace),
                       doctest::Contains("deeper than its max_depth() = 1"), redflag::invalid_argument);
}
