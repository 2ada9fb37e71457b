// A fitted 100-tree, max_samples 256 IsolationForest stays under 512 KiB in
// memory and on disk whatever the training size: each tree only sees its
// 256-row subsample, so the node count (at most 100 * (2 * 256 - 1)) and with
// it the model's size depend on max_samples, not on n. What is independent of
// n is the expected size; one forest's node count varies with the subsamples
// drawn (standard deviation about 3.5 % over 20 data sets and seeds, the same
// for n = 300, 1e3 and 1e5), so two models may differ by ~5 % by chance and
// the tolerance is 20 %. Anything kept per training row would add at least
// 400 KB at n = 1e5, far beyond it.

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>

using redflag::Index;
using redflag::IsolationForest;
using redflag::Matrix;

namespace {

constexpr Index size_trees = 100;
constexpr Index max_samples = 256;
constexpr std::uintmax_t limit = 512 * 1024;

struct ModelSize {
  std::uintmax_t memory = 0;
  std::uintmax_t file = 0;
  Index nodes = 0;
};

template <class T>
ModelSize fitted_size(Index rows) {
  redflag::Random rng(11);
  Matrix<T> X(rows, 10);
  for (Index i = 0; i < X.rows(); ++i) {
    for (Index j = 0; j < X.cols(); ++j) X(i, j) = rng.normal<T>();
  }
  IsolationForest<T> model({.n_estimators = size_trees, .max_samples = max_samples, .random_state = 5});
  model.fit(X);

  const auto path =
      std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) /
      ("isolation_forest_size_" + std::string(redflag::scalar_name<T>) + "_" + std::to_string(rows) + ".rfm");
  redflag::save(model, path, redflag::Format::portable_binary);
  const ModelSize size{model.memory_usage(), std::filesystem::file_size(path), model.node_count()};
  std::filesystem::remove(path);
  return size;
}

double relative_change(std::uintmax_t value, std::uintmax_t reference) {
  return std::abs(static_cast<double>(value) / static_cast<double>(reference) - 1.0);
}

}  // namespace

TEST_CASE_TEMPLATE("IsolationForest: a 100-tree, max_samples 256 model is under 512 KiB for any training size", T,
                   float, double) {
  const ModelSize reference = fitted_size<T>(1'000);
  for (const Index rows : {Index{1'000}, Index{10'000}, Index{100'000}}) {
    CAPTURE(rows);
    const ModelSize size = rows == 1'000 ? reference : fitted_size<T>(rows);
    MESSAGE(redflag::scalar_name<T>, ", n = ", rows, ": memory_usage ", size.memory, " bytes, file ", size.file,
            " bytes, ", size.nodes, " nodes");
    CHECK(size.memory < limit);
    CHECK(size.file < limit);
    CHECK(size.nodes <= size_trees * (2 * max_samples - 1));
    CHECK(relative_change(size.memory, reference.memory) <= 0.20);
    CHECK(relative_change(size.file, reference.file) <= 0.20);
  }
}
