#include <redflag/core/detail/portable_math.hpp>
#include <redflag/core/random.hpp>
#include <redflag/simd/detail/portable_exp2_avx512.hpp>
#include <redflag/simd/path.hpp>

#include <doctest/doctest.h>

#include "../support/simd_paths.hpp"

#include <cstring>
#include <limits>
#include <vector>

namespace simd = redflag::simd;

TEST_CASE("portable_exp2_each gives portable_exp2's bits on every path, special arguments included") {
  // Scores' arguments (-2 to 0), the whole range, and the lanes the vector
  // formula leaves to the scalar function: NaN, overflow, subnormal results.
  std::vector<double> x;
  redflag::Random random(5);
  for (int i = 0; i < 4000; ++i) x.push_back(-2.0 * random.uniform<double>());
  for (int i = 0; i < 2000; ++i) x.push_back(random.uniform<double>(-1100.0, 1100.0));
  const double special[] = {std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(),
                            1023.9999,
                            1024.0,
                            -1021.5,
                            -1022.0,
                            -1074.0,
                            -1075.5,
                            -1100.0,
                            -1100.5,
                            0.0,
                            -0.0,
                            1.0 / 128,
                            -1.0 / 128,
                            0x1.eaade37ca7becp-1};
  for (const double value : special) x.push_back(value);
  x.push_back(-0.5);  // a tail past the last group of 8
  std::vector<double> expected(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) expected[i] = redflag::detail::portable_exp2(x[i]);
  const int compared = redflag::test::on_every_path([&](simd::Path) {
    std::vector<double> out(x.size());
    simd::detail::portable_exp2_each(x.data(), out.data(), x.size());
    CHECK(std::memcmp(out.data(), expected.data(), sizeof(double) * x.size()) == 0);
    std::vector<double> in_place = x;
    simd::detail::portable_exp2_each(in_place.data(), in_place.data(), in_place.size());
    CHECK(std::memcmp(in_place.data(), expected.data(), sizeof(double) * x.size()) == 0);
  });
  CHECK(compared >= 1);
}
