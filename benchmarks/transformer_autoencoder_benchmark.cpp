// The TransformerAutoencoder's network at the default size (window 60,
// 5 features, d_model 64, 8 heads, 3 encoder + 3 decoder blocks, ffn 128),
// run as TransformerAutoencoder runs it (nn::WindowBatches, nn::Adam):
//   train_epoch<T>/threads:n   one epoch over 4,000 windows in shuffled
//                              batches of 32, an Adam step (clip_norm 1) per batch
//   score<T>/threads:n         reconstruction errors of one batch of 256 windows
// Counter: windows_per_second. Wall time (the threads:2 cases run two threads).
// Debug and sanitizer builds run a reduced size (CTest's smoke run,
// benchmark.transformer_autoencoder).
//
//   cmake --preset bench -DREDFLAG_NATIVE=ON && cmake --build --preset bench --target bench_transformer_autoencoder
//   build/bench/benchmarks/bench_transformer_autoencoder --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true /usr/bin/python3 benchmarks/compare_transformer_autoencoder.py   # the same
//   cases against PyTorch
//
// Windows: sines of random phase and frequency per feature plus noise, from
// redflag::Random(2024) (no files).

#include <redflag/core/random.hpp>
#include <redflag/nn/adam.hpp>
#include <redflag/nn/transformer_network.hpp>
#include <redflag/nn/window_batches.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <vector>

namespace {

using redflag::Index;
using redflag::Matrix;
using redflag::Random;
namespace nn = redflag::nn;

#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
constexpr bool full_sizes = true;
#else
// Debug and sanitizer builds only smoke-run this program, where an epoch of
// 4,000 windows at the default size would take minutes.
constexpr bool full_sizes = false;
#endif

constexpr nn::TransformerShape shape = full_sizes ? nn::TransformerShape{.features = 5,
                                                                         .window = 60,
                                                                         .d_model = 64,
                                                                         .heads = 8,
                                                                         .encoder_layers = 3,
                                                                         .decoder_layers = 3,
                                                                         .ffn = 128}
                                                  : nn::TransformerShape{.features = 5,
                                                                         .window = 12,
                                                                         .d_model = 16,
                                                                         .heads = 4,
                                                                         .encoder_layers = 1,
                                                                         .decoder_layers = 1,
                                                                         .ffn = 32};
constexpr Index training_windows = full_sizes ? 4000 : 64;
constexpr Index training_batch = 32;
constexpr Index scoring_batch = full_sizes ? 256 : 32;

template <class T>
Matrix<T> make_windows(Index count) {
  Random random(2024);
  Matrix<T> windows(count, shape.window * shape.features);
  for (Index r = 0; r < count; ++r) {
    for (Index f = 0; f < shape.features; ++f) {
      const double phase = random.uniform(0.0, 6.283);
      const double speed = random.uniform(0.1, 0.5);
      for (Index t = 0; t < shape.window; ++t) {
        windows(r, t * shape.features + f) =
            static_cast<T>(std::sin(phase + speed * static_cast<double>(t)) + 0.1 * random.normal());
      }
    }
  }
  return windows;
}

template <class T>
void train_epoch(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const Matrix<T> windows = make_windows<T>(training_windows);
  Random init(1);
  nn::TransformerNetwork<T> network(shape, init);
  nn::Adam<nn::TransformerNetwork<T>> adam(network, {.learning_rate = 1e-3, .clip_norm = 1.0});
  nn::TransformerNetwork<T> gradient = nn::zeros_like(network);
  nn::WindowBatches<T> batches(network, training_batch, true);
  std::vector<Index> order(static_cast<std::size_t>(training_windows));
  std::uint64_t epoch = 0;
  double loss = 0.0;
  for (auto _ : state) {
    std::iota(order.begin(), order.end(), Index{0});
    Random shuffle = Random::stream(7, ++epoch);
    for (Index i = training_windows - 1; i > 0; --i) {
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(shuffle.uniform_int(i + 1))]);
    }
    loss = 0.0;
    for (Index start = 0; start < training_windows; start += training_batch) {
      const auto size = static_cast<std::size_t>(std::min(training_batch, training_windows - start));
      loss += batches.run(network, windows, std::span<const Index>(order.data() + start, size), threads, &gradient);
      adam.step(network, gradient);
    }
    benchmark::DoNotOptimize(loss);
  }
  state.counters["windows_per_second"] =
      benchmark::Counter(static_cast<double>(training_windows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["mse"] = loss / static_cast<double>(training_windows * shape.window * shape.features);
}

template <class T>
void score(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const Matrix<T> windows = make_windows<T>(scoring_batch);
  Random init(1);
  const nn::TransformerNetwork<T> network(shape, init);
  nn::WindowBatches<T> batches(network, scoring_batch, false);
  std::vector<Index> indices(static_cast<std::size_t>(scoring_batch));
  std::iota(indices.begin(), indices.end(), Index{0});
  std::vector<T> errors(indices.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(batches.run(network, windows, indices, threads, nullptr, errors));
    benchmark::ClobberMemory();
  }
  state.counters["windows_per_second"] =
      benchmark::Counter(static_cast<double>(scoring_batch), benchmark::Counter::kIsIterationInvariantRate);
}

void thread_counts(benchmark::internal::Benchmark* bench) {
  bench->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK_TEMPLATE(train_epoch, float)->Apply(thread_counts);
BENCHMARK_TEMPLATE(train_epoch, double)->Apply(thread_counts);
BENCHMARK_TEMPLATE(score, float)->Apply(thread_counts);
BENCHMARK_TEMPLATE(score, double)->Apply(thread_counts);
