// IsolationForest: fit and anomaly_score (the block scorer; about 12 ns per
// row and tree) at n = 1e4 and 1e5 rows, d = 10,
// 100 trees, max_samples 256 (one thread), and the latency of scoring a
// single row.
//
//   cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DREDFLAG_BUILD_BENCHMARKS=ON
//   cmake --build build-release --target bench_forest
//   build-release/benchmarks/bench_forest --benchmark_repetitions=9 --benchmark_report_aggregates_only=true

#include <redflag/core/random.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <benchmark/benchmark.h>

namespace {

constexpr redflag::Index cols = 10;

// 1e5 standard normal rows with 1% shifted outliers; benchmarks use the top rows.
const redflag::Matrix<double>& data() {
  static const redflag::Matrix<double> X = [] {
    redflag::Random random(2024);
    redflag::Matrix<double> out(100'000, cols);
    for (redflag::Index i = 0; i < out.rows(); ++i) {
      for (redflag::Index j = 0; j < cols; ++j) out(i, j) = random.normal() + (i % 100 == 0 ? 4.0 : 0.0);
    }
    return out;
  }();
  return X;
}

redflag::IsolationForest<double>::Params params() {
  return {.n_estimators = 100, .max_samples = redflag::Index{256}, .random_state = 1, .n_jobs = 1};
}

void fit(benchmark::State& state) {
  const auto rows = static_cast<redflag::Index>(state.range(0));
  const auto X = data().topRows(rows);
  for (auto _ : state) {
    redflag::IsolationForest<double> model(params());
    model.fit(X);
    benchmark::DoNotOptimize(model);
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(fit)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

void anomaly_score(benchmark::State& state) {
  const auto rows = static_cast<redflag::Index>(state.range(0));
  const auto X = data().topRows(rows);
  redflag::IsolationForest<double> model(params());
  model.fit(X);
  for (auto _ : state) benchmark::DoNotOptimize(model.anomaly_score(X));
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(anomaly_score)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

void score_one(benchmark::State& state) {
  const auto& X = data();
  redflag::IsolationForest<double> model(params());
  model.fit(X.topRows(10'000));
  const redflag::Matrix<double> row = X.row(7);
  for (auto _ : state) benchmark::DoNotOptimize(model.anomaly_score(row));
}
BENCHMARK(score_one)->Unit(benchmark::kMicrosecond);

}  // namespace
