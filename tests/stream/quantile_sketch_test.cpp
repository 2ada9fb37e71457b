#include <redflag/core/random.hpp>
#include <redflag/stream/quantile_sketch.hpp>

#include <doctest/doctest.h>
#include <cereal/archives/portable_binary.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

using redflag::KllSketch;

TEST_CASE("KllSketch is exact until its first compaction") {
  KllSketch sketch(16);
  for (int v : {5, 1, 4, 2, 3}) sketch.update(static_cast<float>(v));
  CHECK(sketch.count() == 5);
  CHECK(sketch.rank(0.5) == 0.0);
  CHECK(sketch.rank(3.0) == doctest::Approx(0.6));
  CHECK(sketch.rank(5.0) == 1.0);
  CHECK(sketch.quantile(0.5) == 3.0);
  CHECK(sketch.quantile(1.0) == 5.0);
}

TEST_CASE("KllSketch ranks within its error bound in bounded memory") {
  redflag::Random random(7);
  std::vector<float> values;
  KllSketch sketch(64);
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<float>(random.normal(100.0, 15.0));
    values.push_back(v);
    sketch.update(v);
  }
  std::sort(values.begin(), values.end());
  double worst = 0.0;
  for (double q : {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99}) {
    const double value = values[static_cast<std::size_t>(q * static_cast<double>(values.size()))];
    const double exact = static_cast<double>(std::upper_bound(values.begin(), values.end(), value) - values.begin()) /
                         static_cast<double>(values.size());
    worst = std::max(worst, std::abs(sketch.rank(value) - exact));
  }
  // About 1.7 / k = 2.7% for k = 64 (Karnin, Lang & Liberty 2016).
  CHECK(worst < 0.027);
  CHECK(sketch.retained() <= 3 * 64 + 2 * sketch.level_count());
}

TEST_CASE("KllSketch is deterministic and round-trips through cereal") {
  auto fill = [] {
    KllSketch sketch(16);
    for (int i = 0; i < 5000; ++i) sketch.update(static_cast<float>((i * 7919) % 1000));
    return sketch;
  };
  const KllSketch a = fill();
  const KllSketch b = fill();
  CHECK(a == b);
  std::stringstream buffer;
  {
    cereal::PortableBinaryOutputArchive out(buffer);
    out(a);
  }
  KllSketch restored;
  {
    cereal::PortableBinaryInputArchive in(buffer);
    in(restored);
  }
  CHECK(restored == a);
  CHECK(restored.rank(500.0) == a.rank(500.0));
}

TEST_CASE("KllSketch rejects bad parameters and NaN without changing") {
  CHECK_THROWS_AS(KllSketch(2), redflag::invalid_argument);
  KllSketch sketch;
  sketch.update(1.0f);
  CHECK_THROWS_AS(sketch.update(std::numeric_limits<float>::quiet_NaN()), redflag::invalid_argument);
  CHECK(sketch.count() == 1);
  CHECK_THROWS_AS((void)sketch.quantile(1.5), redflag::invalid_argument);
  CHECK_THROWS_AS((void)KllSketch().quantile(0.5), redflag::invalid_argument);
}
