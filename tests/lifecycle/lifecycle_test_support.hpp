#pragma once

// Helpers shared by the model lifecycle tests: a fresh scratch folder per
// test, small random data, small fitted models, and file edits that simulate
// corruption.

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/forest/random_forest.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace redflag::test {

// An empty folder under the test scratch directory, removed first if a
// previous run left it.
inline std::filesystem::path fresh_directory(const std::string& name) {
  const auto path = std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) / "lifecycle" / name;
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path;
}

// n x d normal cells with the given mean, drawn row by row.
inline Matrix<double> normal_rows(Index n, Index d, std::uint64_t seed, double mean = 0.0, double stddev = 1.0) {
  Random rng(seed);
  Matrix<double> X(n, d);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) X(i, j) = rng.normal(mean, stddev);
  }
  return X;
}

inline IsolationForest<double> small_forest(std::uint64_t seed, Index n_estimators = 10) {
  IsolationForest<double> forest({.n_estimators = n_estimators, .random_state = seed});
  forest.fit(normal_rows(256, 3, seed));
  return forest;
}

// Binary labels: 1 where the first two columns sum above 0.5.
inline LabelVector threshold_labels(const Matrix<double>& X) {
  LabelVector y(X.rows());
  for (Index i = 0; i < X.rows(); ++i) y(i) = X(i, 0) + X(i, 1) > 0.5 ? 1 : 0;
  return y;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace redflag::test
