// Random throughput against std::mt19937_64 (same run, same batch sizes), and
// the fixed cost of parallel_for against a plain loop. Figures and the command
// that produced them are in docs/determinism.md.

#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace {

constexpr int batch = 1024;  // draws per benchmark iteration

void BM_Random_next_u64(benchmark::State& state) {
  redflag::Random rng(42);
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (int i = 0; i < batch; ++i) acc += rng.next_u64();
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Random_next_u64);

void BM_Mt19937_64_next_u64(benchmark::State& state) {
  std::mt19937_64 rng(42);
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (int i = 0; i < batch; ++i) acc += rng();
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Mt19937_64_next_u64);

void BM_Random_uniform(benchmark::State& state) {
  redflag::Random rng(42);
  for (auto _ : state) {
    double acc = 0;
    for (int i = 0; i < batch; ++i) acc += rng.uniform();
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Random_uniform);

void BM_Mt19937_64_uniform(benchmark::State& state) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  for (auto _ : state) {
    double acc = 0;
    for (int i = 0; i < batch; ++i) acc += dist(rng);
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Mt19937_64_uniform);

void BM_Random_uniform_int(benchmark::State& state) {
  redflag::Random rng(42);
  for (auto _ : state) {
    std::int64_t acc = 0;
    for (int i = 0; i < batch; ++i) acc += rng.uniform_int(std::int64_t{1000003});
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Random_uniform_int);

void BM_Mt19937_64_uniform_int(benchmark::State& state) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::int64_t> dist(0, 1000002);
  for (auto _ : state) {
    std::int64_t acc = 0;
    for (int i = 0; i < batch; ++i) acc += dist(rng);
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Mt19937_64_uniform_int);

void BM_Random_normal(benchmark::State& state) {
  redflag::Random rng(42);
  for (auto _ : state) {
    double acc = 0;
    for (int i = 0; i < batch; ++i) acc += rng.normal();
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Random_normal);

void BM_Mt19937_64_normal(benchmark::State& state) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> dist;
  for (auto _ : state) {
    double acc = 0;
    for (int i = 0; i < batch; ++i) acc += dist(rng);
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Mt19937_64_normal);

void BM_Random_stream_create(benchmark::State& state) {
  std::uint64_t index = 0;
  for (auto _ : state) {
    redflag::Random rng = redflag::Random::stream(42, index++);
    benchmark::DoNotOptimize(rng);
  }
}
BENCHMARK(BM_Random_stream_create);

// A deliberately tiny body (one multiply-add per index) over 2^16 indices, so
// what is measured is parallel_for's own cost: thread start and join, chunk
// hand-out, and the per-chunk call.
constexpr std::size_t loop_count = std::size_t{1} << 16;

void BM_serial_loop(benchmark::State& state) {
  std::vector<double> out(loop_count);
  double* const data = out.data();
  for (auto _ : state) {
    for (std::size_t i = 0; i < loop_count; ++i) data[i] = static_cast<double>(i) * 0.5 + 1.0;
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(loop_count));
}
BENCHMARK(BM_serial_loop)->UseRealTime();

// Arguments: n_jobs, grain.
void BM_parallel_for(benchmark::State& state) {
  const auto n_jobs = static_cast<int>(state.range(0));
  const redflag::ParallelOptions options{.grain = static_cast<std::size_t>(state.range(1))};
  std::vector<double> out(loop_count);
  double* const data = out.data();
  for (auto _ : state) {
    redflag::parallel_for(
        loop_count, n_jobs,
        [data](std::size_t begin, std::size_t end) {
          for (std::size_t i = begin; i < end; ++i) data[i] = static_cast<double>(i) * 0.5 + 1.0;
        },
        options);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(loop_count));
}
BENCHMARK(BM_parallel_for)
    ->ArgNames({"n_jobs", "grain"})
    ->Args({1, 1024})
    ->Args({2, 1024})
    ->Args({2, 16384})
    ->Args({-1, 1024})
    ->UseRealTime();

// The cost of one parallel call with an empty body: mostly starting and
// joining n_jobs - 1 threads.
void BM_parallel_for_empty(benchmark::State& state) {
  const auto n_jobs = static_cast<int>(state.range(0));
  for (auto _ : state) {
    redflag::parallel_for(64, n_jobs,
                          [](std::size_t begin, std::size_t end) { benchmark::DoNotOptimize(begin + end); });
  }
}
BENCHMARK(BM_parallel_for_empty)->ArgName("n_jobs")->Arg(1)->Arg(2)->Arg(4)->UseRealTime();

}  // namespace
