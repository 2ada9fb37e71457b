// Run by CTest with REDFLAG_SIMD set (tests/simd/tests.cmake): checks that
// the environment's path is taken when this CPU has it, and that an unknown
// path or one the CPU lacks is an invalid_argument at first use — from a
// kernel too, never an illegal instruction. Prints what it saw; exits 0 when
// that is what it expected.

#include <redflag/forest/isolation_forest.hpp>
#include <redflag/simd/path.hpp>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

int main() {
  namespace simd = redflag::simd;
  const char* value = std::getenv("REDFLAG_SIMD");
  if (value == nullptr) {
    std::cerr << "REDFLAG_SIMD is not set\n";
    return 2;
  }
  const std::optional<simd::Path> path = simd::parse_path(value);
  const bool usable = path && simd::supported(*path);
  // A forest large enough for its vector walk: scoring runs the chosen kernel.
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> X(4096, 3);
  for (Eigen::Index r = 0; r < X.rows(); ++r) {
    for (Eigen::Index c = 0; c < X.cols(); ++c) X(r, c) = static_cast<float>((r * 7919 + c * 104729) % 1000);
  }
  try {
    const simd::Path active = simd::active();
    redflag::IsolationForest<float> forest({.n_estimators = 10, .random_state = 1});
    forest.fit(X);
    const float score = forest.anomaly_score(X).maxCoeff();
    std::cout << "active: " << simd::name(active) << ", scored (max " << score << ")\n";
    return usable && active == *path ? 0 : 1;
  } catch (const redflag::invalid_argument& e) {
    std::cout << "invalid_argument: " << e.what() << "\n";
    return usable ? 1 : 0;
  }
}
