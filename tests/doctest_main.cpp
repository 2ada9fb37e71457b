#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <redflag/simd/path.hpp>

#include <cstdlib>
#include <iostream>
#include <optional>

#include "support/skip.hpp"

int main(int argc, char** argv) {
  // REDFLAG_TEST_SIMD=<path> runs the whole program on one instruction-set
  // path (tests/simd/tests.cmake registers such runs); a path this CPU lacks
  // is a skip, with the reason, not a pass.
  std::optional<redflag::simd::ScopedPath> forced;
  if (const char* path_name = std::getenv("REDFLAG_TEST_SIMD")) {
    const std::optional<redflag::simd::Path> path = redflag::simd::parse_path(path_name);
    if (!path) {
      std::cerr << "REDFLAG_TEST_SIMD=" << path_name << " names no path\n";
      return 2;
    }
    if (!redflag::simd::supported(*path)) {
      std::cout << "SKIPPED: this CPU lacks the " << path_name << " path" << std::endl;
      return 77;
    }
    forced.emplace(*path);
    std::cout << "every kernel on the " << path_name << " path" << std::endl;
  }
  doctest::Context context(argc, argv);
  const int failed = context.run();
  // 77 is the tests' SKIP_RETURN_CODE: a run that skipped a test case and
  // failed none is reported as skipped, not passed (support/skip.hpp).
  if (failed == 0 && !context.shouldExit() && redflag::test::skip_reported()) return 77;
  return failed;
}
