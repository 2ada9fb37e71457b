#include <redflag/core/random.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <span>
#include <vector>

using redflag::Index;
using redflag::Random;

namespace {

// Pearson correlation of two equally long samples.
double correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

std::vector<double> uniforms(Random rng, std::size_t n) {
  std::vector<double> values(n);
  for (auto& value : values) value = rng.uniform();
  return values;
}

double chi_square(const std::vector<double>& observed, double expected_each) {
  double statistic = 0;
  for (double count : observed) statistic += (count - expected_each) * (count - expected_each) / expected_each;
  return statistic;
}

}  // namespace

static_assert(std::uniform_random_bit_generator<Random>);
static_assert(sizeof(Random) <= 64, "Random is meant to be a small value type");

// Any change to these numbers changes every seeded result redflag produces:
// it must be deliberate and announced. The next_u64 values were checked against
// an independent implementation of SplitMix64 + xoshiro256**.
TEST_CASE("golden values for seed 42") {
  SUBCASE("next_u64") {
    Random rng(42);
    const std::array<std::uint64_t, 4> expected{0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL,
                                                0xecb8ad4703b360a1ULL};
    for (auto value : expected) CHECK(rng.next_u64() == value);
  }
  SUBCASE("seed 0") {
    Random rng(0);
    CHECK(rng.next_u64() == 0x99ec5f36cb75f2b4ULL);
    CHECK(rng.next_u64() == 0xbf6e1f784956452aULL);
  }
  SUBCASE("streams") {
    Random stream0 = Random::stream(42, 0);
    CHECK(stream0.next_u64() == 0x6d9b8b5adb4e1bbbULL);
    CHECK(stream0.next_u64() == 0x3686b69fc89a6e98ULL);
    Random stream1 = Random::stream(42, 1);
    CHECK(stream1.next_u64() == 0x86a040e545f1046bULL);
    CHECK(stream1.next_u64() == 0xc14151c57e449709ULL);
    Random parent(42);
    CHECK(parent.split().next_u64() == 0xa1b474e8a70b9d08ULL);
  }
  SUBCASE("uniform") {
    Random rng(42);
    CHECK(rng.uniform() == 0x1.5780b2e0c2ecp-4);
    CHECK(rng.uniform() == 0x1.84136619b444ep-2);
    Random rng_float(42);
    CHECK(rng_float.uniform<float>() == 0x1.5780bp-4f);
    CHECK(rng_float.uniform<float>() == 0x1.841364p-2f);
  }
  SUBCASE("uniform_int") {
    Random rng(42);
    const std::array<int, 8> expected{0, 2, 4, 6, 6, 5, 5, 5};
    for (int value : expected) CHECK(rng.uniform_int(7) == value);
  }
  SUBCASE("normal") {
    // std::log may differ in the last bit between C libraries: allow 1e-14.
    Random rng(42);
    const std::array<double, 4> expected{-0.72621913824478568, -0.21119691823195985, 0.22162270150359331,
                                         0.52277168775601457};
    for (double value : expected) CHECK(rng.normal() == doctest::Approx(value).epsilon(1e-14));
  }
  SUBCASE("shuffle") {
    Random rng(42);
    std::vector<int> values{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    rng.shuffle(values);
    CHECK(values == std::vector<int>{9, 1, 4, 2, 8, 7, 6, 5, 3, 0});
  }
  SUBCASE("sample_without_replacement") {
    Random rng(42);
    CHECK(rng.sample_without_replacement(1000, 6) == std::vector<Index>{83, 379, 680, 924, 991, 770});
  }
}

TEST_CASE("same seed, same sequence; copies continue identically") {
  Random a(123), b(123);
  for (int i = 0; i < 1000; ++i) REQUIRE(a.next_u64() == b.next_u64());
  CHECK(a == b);
  (void)a.normal();  // leaves a spare normal pending
  Random copy = a;
  CHECK(copy == a);
  for (int i = 0; i < 100; ++i) REQUIRE(copy.normal() == a.normal());
  CHECK(a != b);
  CHECK(Random(1).next_u64() != Random(2).next_u64());
  Random default_seeded;
  CHECK(default_seeded == Random(0));
  struct Holder {
    int n = 0;
    Random rng;
  };
  Holder holder{};  // aggregate initialisation must accept a defaulted Random
  CHECK(holder.rng == Random(0));
}

TEST_CASE("streams depend only on (seed, index)") {
  // Asking for streams in any order, before or after other draws, gives the
  // same generators: what parallel code relies on.
  std::vector<std::uint64_t> forward, backward(64);
  for (std::uint64_t i = 0; i < 64; ++i) forward.push_back(Random::stream(7, i).next_u64());
  for (std::uint64_t i = 64; i-- > 0;) backward[i] = Random::stream(7, i).next_u64();
  CHECK(forward == backward);

  std::set<std::uint64_t> first_outputs;
  for (std::uint64_t i = 0; i < 10000; ++i) first_outputs.insert(Random::stream(7, i).next_u64());
  first_outputs.insert(Random(7).next_u64());
  CHECK(first_outputs.size() == 10001);

  CHECK(Random::stream(7, 0) != Random::stream(8, 0));
  CHECK(Random::stream(7, 1) != Random::stream(1, 7));  // (seed, index) is not symmetric
}

TEST_CASE("split is deterministic, advances the parent and differs from it") {
  Random a(5), b(5);
  Random child_a = a.split();
  Random child_b = b.split();
  CHECK(child_a == child_b);
  CHECK(a == b);
  CHECK(a != Random(5));
  CHECK(child_a.next_u64() != a.next_u64());
}

TEST_CASE("streams and nearby seeds are uncorrelated") {
  constexpr std::size_t n = 100000;
  const auto s0 = uniforms(Random::stream(42, 0), n);
  CHECK(std::abs(correlation(s0, uniforms(Random::stream(42, 1), n))) < 0.01);
  CHECK(std::abs(correlation(s0, uniforms(Random(42), n))) < 0.01);
  CHECK(std::abs(correlation(uniforms(Random(1), n), uniforms(Random(2), n))) < 0.01);
  // Lag-1 autocorrelation within one stream.
  std::vector<double> lagged(s0.begin() + 1, s0.end());
  std::vector<double> leading(s0.begin(), s0.end() - 1);
  CHECK(std::abs(correlation(leading, lagged)) < 0.01);
}

TEST_CASE_TEMPLATE("uniform<T> lies in [0, 1) with the right mean and variance", T, float, double) {
  Random rng(2024);
  constexpr int n = 1000000;
  double sum = 0, sum_sq = 0;
  T lowest = 1, highest = 0;
  for (int i = 0; i < n; ++i) {
    const T u = rng.uniform<T>();
    lowest = std::min(lowest, u);
    highest = std::max(highest, u);
    sum += static_cast<double>(u);
    sum_sq += static_cast<double>(u) * static_cast<double>(u);
  }
  const double mean = sum / n;
  const double variance = sum_sq / n - mean * mean;
  CHECK(lowest >= T(0));
  CHECK(highest < T(1));
  CHECK(std::abs(mean - 0.5) < 0.002);            // ~ 7 standard errors
  CHECK(std::abs(variance - 1.0 / 12.0) < 5e-4);  // ~ 7 standard errors
}

TEST_CASE_TEMPLATE("uniform(a, b) stays inside [a, b)", T, float, double) {
  Random rng(3);
  for (int i = 0; i < 10000; ++i) {
    const T value = rng.uniform(T(-2), T(5));
    REQUIRE(value >= T(-2));
    REQUIRE(value < T(5));
  }
  // An interval one ulp wide: a + (b - a) * u rounds to b about half the time,
  // which must be pulled back inside.
  const T a = T(1);
  const T b = std::nextafter(a, T(2));
  for (int i = 0; i < 1000; ++i) REQUIRE(rng.uniform(a, b) == a);
}

TEST_CASE("uniform_int is unbiased") {
  SUBCASE("chi-square for n = 7") {
    Random rng(99);
    constexpr int n = 7, draws = 700000;
    std::vector<double> counts(n, 0.0);
    for (int i = 0; i < draws; ++i) {
      const int value = rng.uniform_int(n);
      REQUIRE(value >= 0);
      REQUIRE(value < n);
      counts[static_cast<std::size_t>(value)] += 1;
    }
    // 6 degrees of freedom: P(chi2 > 40) ~ 5e-7.
    CHECK(chi_square(counts, draws / n) < 40.0);
  }
  SUBCASE("range close to 2^64 (needs the rejection step)") {
    // For n = 3 * 2^62, multiply-shift without rejection maps two of every
    // four draws to multiples of 3, so they would make up half the output.
    Random rng(11);
    const std::uint64_t n = 3ULL << 62;
    int multiples_of_3 = 0;
    constexpr int draws = 60000;
    for (int i = 0; i < draws; ++i) {
      const std::uint64_t value = rng.uniform_int(n);
      REQUIRE(value < n);
      multiples_of_3 += value % 3 == 0 ? 1 : 0;
    }
    CHECK(std::abs(multiples_of_3 / double(draws) - 1.0 / 3.0) < 0.01);
  }
  SUBCASE("signed ranges") {
    Random rng(12);
    std::vector<double> counts(5, 0.0);
    for (int i = 0; i < 50000; ++i) {
      const int value = rng.uniform_int(-2, 3);
      REQUIRE(value >= -2);
      REQUIRE(value < 3);
      counts[static_cast<std::size_t>(value + 2)] += 1;
    }
    CHECK(chi_square(counts, 10000) < 30.0);
    constexpr auto lo = std::numeric_limits<std::int64_t>::min();
    constexpr auto hi = std::numeric_limits<std::int64_t>::max();
    bool saw_negative = false, saw_positive = false;
    for (int i = 0; i < 100; ++i) {
      const std::int64_t value = rng.uniform_int(lo, hi);
      REQUIRE(value < hi);
      saw_negative |= value < 0;
      saw_positive |= value > 0;
    }
    CHECK(saw_negative);
    CHECK(saw_positive);
    CHECK(rng.uniform_int(std::int64_t{1}) == 0);
  }
}

TEST_CASE("portable 64x64 -> 128 multiply matches the native one") {
  Random rng(8);
  const std::array<std::uint64_t, 4> edges{0, 1, 0xffffffffULL, ~0ULL};
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t a = i < 16 ? edges[static_cast<std::size_t>(i % 4)] : rng.next_u64();
    const std::uint64_t b = i < 16 ? edges[static_cast<std::size_t>(i / 4)] : rng.next_u64();
    std::uint64_t low_native = 0, low_portable = 0;
    const std::uint64_t high_native = redflag::detail::mul_high64(a, b, low_native);
    const std::uint64_t high_portable = redflag::detail::mul_high64_portable(a, b, low_portable);
    REQUIRE(high_native == high_portable);
    REQUIRE(low_native == low_portable);
  }
}

TEST_CASE_TEMPLATE("normal has standard moments", T, float, double) {
  Random rng(77);
  constexpr int n = 1000000;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  int beyond_196 = 0;
  for (int i = 0; i < n; ++i) {
    const auto z = static_cast<double>(rng.template normal<T>());
    s1 += z;
    s2 += z * z;
    s3 += z * z * z;
    s4 += z * z * z * z;
    beyond_196 += std::abs(z) > 1.959964 ? 1 : 0;
  }
  const double mean = s1 / n;
  const double variance = s2 / n - mean * mean;
  const double skewness = s3 / n / std::pow(variance, 1.5);
  const double kurtosis = s4 / n / (variance * variance);
  // Standard errors: mean 0.001, variance 0.0014, skewness 0.0024, kurtosis 0.005.
  CHECK(std::abs(mean) < 0.006);
  CHECK(std::abs(variance - 1.0) < 0.008);
  CHECK(std::abs(skewness) < 0.015);
  CHECK(std::abs(kurtosis - 3.0) < 0.03);
  CHECK(std::abs(beyond_196 / double(n) - 0.05) < 0.0015);

  Random shifted(77);
  const T value = shifted.normal(T(10), T(2));
  Random plain(77);
  CHECK(value == T(10) + T(2) * plain.normal<T>());
  CHECK(shifted.normal(T(3), T(0)) == T(3));
}

TEST_CASE("bernoulli") {
  Random rng(4);
  int hits = 0;
  for (int i = 0; i < 100000; ++i) {
    REQUIRE_FALSE(rng.bernoulli(0.0));
    REQUIRE(rng.bernoulli(1.0));
    hits += rng.bernoulli(0.3) ? 1 : 0;
  }
  CHECK(std::abs(hits / 100000.0 - 0.3) < 0.01);  // sd 0.0014
}

TEST_CASE("shuffle") {
  SUBCASE("is a permutation") {
    Random rng(5);
    std::vector<int> values(1000);
    std::iota(values.begin(), values.end(), 0);
    const auto original = values;
    rng.shuffle(values);
    CHECK(values != original);
    std::sort(values.begin(), values.end());
    CHECK(values == original);
  }
  SUBCASE("all 6 orderings of 3 elements are equally likely") {
    Random rng(6);
    std::map<std::array<int, 3>, double> counts;
    constexpr int trials = 60000;
    for (int i = 0; i < trials; ++i) {
      std::array<int, 3> values{0, 1, 2};
      rng.shuffle(values);
      counts[values] += 1;
    }
    REQUIRE(counts.size() == 6);
    std::vector<double> observed;
    for (const auto& entry : counts) observed.push_back(entry.second);
    CHECK(chi_square(observed, trials / 6.0) < 30.0);  // 5 dof: P(> 30) ~ 1.5e-5
  }
  SUBCASE("empty and single-element ranges, spans") {
    Random rng(7);
    std::vector<int> empty;
    rng.shuffle(empty);
    std::vector<int> one{42};
    rng.shuffle(one);
    CHECK(one == std::vector<int>{42});
    std::vector<double> values{1, 2, 3, 4, 5, 6};
    rng.shuffle(std::span(values).subspan(2));  // shuffles only the tail
    CHECK(values[0] == 1);
    CHECK(values[1] == 2);
    std::sort(values.begin() + 2, values.end());
    CHECK(values == std::vector<double>{1, 2, 3, 4, 5, 6});
  }
  SUBCASE("Eigen vectors") {
    Random rng(8);
    Eigen::VectorXd values = Eigen::VectorXd::LinSpaced(50, 0.0, 49.0);
    rng.shuffle(values);
    CHECK_FALSE(values.isApprox(Eigen::VectorXd::LinSpaced(50, 0.0, 49.0)));
    std::sort(values.begin(), values.end());
    CHECK(values == Eigen::VectorXd::LinSpaced(50, 0.0, 49.0));
  }
}

TEST_CASE("sample_without_replacement") {
  Random rng(13);
  SUBCASE("distinct values in range for both the dense and the sparse path") {
    for (const auto& [n, k] : {std::pair<Index, Index>{10, 10}, {10, 3}, {1000, 500}, {100000, 50}}) {
      const auto sample = rng.sample_without_replacement(n, k);
      REQUIRE(sample.size() == static_cast<std::size_t>(k));
      const std::set<Index> distinct(sample.begin(), sample.end());
      CHECK(distinct.size() == sample.size());
      CHECK(*distinct.begin() >= 0);
      CHECK(*distinct.rbegin() < n);
    }
    CHECK(rng.sample_without_replacement(0, 0).empty());
    CHECK(rng.sample_without_replacement(5, 0).empty());
  }
  SUBCASE("the sparse path equals a plain partial Fisher-Yates shuffle") {
    for (const auto& [n, k] : {std::pair<Index, Index>{1000, 20}, {81, 10}, {88, 10}, {20, 20}}) {
      Random a(21), b(21);
      std::vector<Index> cells(static_cast<std::size_t>(n));
      std::iota(cells.begin(), cells.end(), Index{0});
      std::vector<Index> expected;
      for (Index i = 0; i < k; ++i) {
        const Index j = b.uniform_int(i, n);
        std::swap(cells[static_cast<std::size_t>(i)], cells[static_cast<std::size_t>(j)]);
        expected.push_back(cells[static_cast<std::size_t>(i)]);
      }
      CHECK(a.sample_without_replacement(n, k) == expected);
      CHECK(a == b);
    }
  }
  SUBCASE("each index is equally likely to be chosen") {
    constexpr Index n = 50, k = 3;  // sparse path
    constexpr int trials = 50000;
    std::vector<double> counts(n, 0.0);
    for (int t = 0; t < trials; ++t) {
      for (Index value : rng.sample_without_replacement(n, k)) counts[static_cast<std::size_t>(value)] += 1;
    }
    // 49 dof: P(chi2 > 100) ~ 2e-5.
    CHECK(chi_square(counts, trials * double(k) / n) < 100.0);
  }
}

TEST_CASE("bad arguments throw redflag::invalid_argument") {
  Random rng(1);
  using redflag::invalid_argument;
  CHECK_THROWS_WITH_AS(rng.uniform_int(0), doctest::Contains("Random::uniform_int: n must be positive, got 0"),
                       invalid_argument);
  CHECK_THROWS_AS(rng.uniform_int(-3), invalid_argument);
  CHECK_THROWS_WITH_AS(rng.uniform_int(5, 5), doctest::Contains("low must be less than high, got low = 5, high = 5"),
                       invalid_argument);
  CHECK_THROWS_AS(rng.uniform_int(6, 5), invalid_argument);
  CHECK_THROWS_WITH_AS(rng.uniform(1.0, 1.0), doctest::Contains("Random::uniform: a must be less than b"),
                       invalid_argument);
  CHECK_THROWS_AS(rng.uniform(2.0f, 1.0f), invalid_argument);
  CHECK_THROWS_WITH_AS(rng.uniform(std::nan(""), 1.0), doctest::Contains("a must be finite, got NaN"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(rng.uniform(0.0, std::numeric_limits<double>::infinity()),
                       doctest::Contains("b must be finite, got Inf"), invalid_argument);
  CHECK_THROWS_AS(rng.uniform(-std::numeric_limits<double>::max(), std::numeric_limits<double>::max()),
                  invalid_argument);
  CHECK_THROWS_WITH_AS(rng.normal(0.0, -1.0),
                       doctest::Contains("Random::normal: stddev must be finite and >= 0, got -1"), invalid_argument);
  CHECK_THROWS_AS(rng.normal(std::nan(""), 1.0), invalid_argument);
  CHECK_THROWS_AS(rng.normal(0.0f, std::numeric_limits<float>::infinity()), invalid_argument);
  CHECK_THROWS_WITH_AS(rng.bernoulli(1.5), doctest::Contains("Random::bernoulli: p must be in [0, 1], got 1.5"),
                       invalid_argument);
  CHECK_THROWS_AS(rng.bernoulli(std::nan("")), invalid_argument);
  CHECK_THROWS_AS(rng.bernoulli(-0.1), invalid_argument);
  CHECK_THROWS_WITH_AS(rng.sample_without_replacement(3, 4),
                       doctest::Contains("Random::sample_without_replacement: k must be in [0, n] = [0, 3], got 4"),
                       invalid_argument);
  CHECK_THROWS_AS(rng.sample_without_replacement(3, -1), invalid_argument);
  CHECK_THROWS_WITH_AS(rng.sample_without_replacement(-1, 0), doctest::Contains("n must be >= 0, got -1"),
                       invalid_argument);
  // A failed call consumes no randomness.
  CHECK(rng == Random(1));
}

TEST_CASE("works with standard algorithms as a uniform_random_bit_generator") {
  Random rng(9);
  std::vector<int> values{1, 2, 3, 4, 5};
  std::shuffle(values.begin(), values.end(), rng);
  std::sort(values.begin(), values.end());
  CHECK(values == std::vector<int>{1, 2, 3, 4, 5});
  CHECK(Random::min() == 0);
  CHECK(Random::max() == std::numeric_limits<std::uint64_t>::max());
}
