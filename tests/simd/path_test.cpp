#include <doctest/doctest.h>
#include <redflag/simd/path.hpp>

#include <cstdlib>
#include <string>

namespace simd = redflag::simd;

TEST_CASE("path names round-trip and unknown names are refused") {
  for (const simd::Path path : simd::all_paths) CHECK(simd::parse_path(simd::name(path)) == path);
  CHECK_FALSE(simd::parse_path("sse9").has_value());
  CHECK_FALSE(simd::parse_path("").has_value());
  CHECK_FALSE(simd::parse_path("AVX2").has_value());
}

TEST_CASE("the scalar path runs everywhere and the best path is supported") {
  CHECK(simd::supported(simd::Path::scalar));
  CHECK(simd::supported(simd::best_supported()));
  MESSAGE("this CPU: " << simd::name(simd::best_supported()));
#if !(defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)))
  CHECK(simd::best_supported() == simd::Path::scalar);
#endif
}

TEST_CASE("ScopedPath forces a path for its lifetime, nested, and restores the previous one") {
  const simd::Path before = simd::active();
  {
    const simd::ScopedPath scalar(simd::Path::scalar);
    CHECK(simd::active() == simd::Path::scalar);
    CHECK(simd::kernel_path(simd::Path::avx512) == simd::Path::scalar);
    {
      const simd::ScopedPath best(simd::best_supported());
      CHECK(simd::active() == simd::best_supported());
      CHECK(simd::kernel_path(simd::Path::avx512) == simd::best_supported());
      CHECK(simd::kernel_path(simd::Path::scalar) == simd::Path::scalar);  // a kernel with a scalar path only
    }
    CHECK(simd::active() == simd::Path::scalar);
  }
  CHECK(simd::active() == before);
}

TEST_CASE("forcing a path this CPU lacks is an invalid_argument naming it, and changes nothing") {
  const simd::Path before = simd::active();
  int lacking = 0;
  for (const simd::Path path : simd::all_paths) {
    if (simd::supported(path)) continue;
    ++lacking;
    const std::string expected = "redflag::simd: ScopedPath forces the " + std::string(simd::name(path)) +
                                 " path, which this CPU lacks (it supports " +
                                 std::string(simd::name(simd::best_supported())) + " at best)";
    CHECK_THROWS_WITH_AS(simd::ScopedPath{path}, expected.c_str(), redflag::invalid_argument);
    CHECK(simd::active() == before);
  }
  MESSAGE(lacking << " of 3 paths missing on this CPU");
  if (simd::best_supported() == simd::Path::avx512) CHECK(lacking == 0);
}
