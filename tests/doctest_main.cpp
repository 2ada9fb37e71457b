#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/skip.hpp"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int failed = context.run();
  // 77 is the tests' SKIP_RETURN_CODE: a run that skipped a test case and
  // failed none is reported as skipped, not passed (support/skip.hpp).
  if (failed == 0 && !context.shouldExit() && redflag::test::skip_reported()) return 77;
  return failed;
}
