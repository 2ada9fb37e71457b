// A training step after the first allocates nothing: Eigen's heap use is
// counted through EIGEN_RUNTIME_NO_MALLOC (its malloc check reports through
// eigen_assert, redirected to a counter here), everything else through a
// replaced operator new.

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> eigen_refusals{0};
std::atomic<long> new_calls{0};
}  // namespace

#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(condition)                    \
  do {                                             \
    if (!(condition)) eigen_refusals.fetch_add(1); \
  } while (false)

#include <redflag/core/random.hpp>
#include <redflag/nn/adam.hpp>
#include <redflag/nn/transformer_network.hpp>
#include <redflag/nn/window_batches.hpp>

#include <doctest/doctest.h>

#include <numeric>
#include <vector>

void* operator new(std::size_t size) {
  new_calls.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using redflag::Index;
using redflag::Matrix;
using redflag::Random;
using namespace redflag::nn;

TEST_CASE_TEMPLATE("A training step at the default layer sizes allocates nothing once warmed up", T, float, double) {
  // Default window, d_model, heads and ffn; one block each side keeps the
  // Debug run short. Five windows make a full group of four (the largest
  // GEMMs) and a group of one.
  const TransformerShape shape{
      .features = 3, .window = 60, .d_model = 64, .heads = 8, .encoder_layers = 1, .decoder_layers = 1, .ffn = 128};
  static_assert(WindowBatches<T>::windows_per_group == 4);
  Random random(1);
  TransformerNetwork<T> network(shape, random);
  Matrix<T> windows(5, 60 * 3);
  for (Index i = 0; i < windows.size(); ++i) windows.data()[i] = random.normal<T>();
  std::vector<Index> batch(5);
  std::iota(batch.begin(), batch.end(), Index{0});
  WindowBatches<T> batches(network, 5, true);
  TransformerNetwork<T> gradient = zeros_like(network);
  Adam<TransformerNetwork<T>> adam(network, {.clip_norm = 1.0});
  const auto step = [&] {
    const double error = batches.run(network, windows, batch, 1, &gradient);
    adam.step(network, gradient);
    return error;
  };
  const double first = step();
  std::vector<T> errors(batch.size());

  const long eigen_before = eigen_refusals.load(), new_before = new_calls.load();
  Eigen::internal::set_is_malloc_allowed(false);
  const double second = step();
  // Scoring (no gradient) reuses the same buffers.
  batches.run(network, windows, batch, 1, nullptr, errors);
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK(eigen_refusals.load() == eigen_before);
  CHECK(new_calls.load() == new_before);
  CHECK(second < first);  // the step did train
}
