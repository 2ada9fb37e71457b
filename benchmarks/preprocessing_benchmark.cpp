// fit + transform of the scalers on 1e6 x 8 doubles (and floats), and the
// stratified train_test_split on 1e6 rows.
//
//   cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DREDFLAG_BUILD_BENCHMARKS=ON
//   cmake --build build-release --target bench_preprocessing
//   build-release/benchmarks/bench_preprocessing --benchmark_repetitions=9 --benchmark_report_aggregates_only=true

#include <redflag/core/random.hpp>
#include <redflag/preprocessing/min_max_scaler.hpp>
#include <redflag/preprocessing/robust_scaler.hpp>
#include <redflag/preprocessing/standard_scaler.hpp>
#include <redflag/preprocessing/train_test_split.hpp>

#include <benchmark/benchmark.h>

namespace {

constexpr redflag::Index rows = 1'000'000;
constexpr redflag::Index cols = 8;

// Lognormal-ish amounts, normal scores and a few heavy outliers per column.
template <class T>
const redflag::Matrix<T>& data() {
  static const redflag::Matrix<T> X = [] {
    redflag::Random random(12345);
    redflag::Matrix<T> out(rows, cols);
    for (redflag::Index i = 0; i < rows; ++i) {
      for (redflag::Index j = 0; j < cols; ++j) {
        const double z = random.normal();
        out(i, j) = static_cast<T>(j % 2 == 0 ? std::exp(z) * 100.0 : z * static_cast<double>(j + 1));
      }
      if (i % 10'000 == 0) out(i, 0) = static_cast<T>(1e7);
    }
    return out;
  }();
  return X;
}

template <class Scaler>
void fit_transform(benchmark::State& state) {
  using T = typename Scaler::scalar_type;
  const redflag::Matrix<T>& X = data<T>();
  for (auto _ : state) {
    Scaler scaler;
    redflag::Matrix<T> Z = scaler.fit_transform(X);
    benchmark::DoNotOptimize(Z.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
}

template <class Scaler>
void fit_only(benchmark::State& state) {
  using T = typename Scaler::scalar_type;
  const redflag::Matrix<T>& X = data<T>();
  for (auto _ : state) {
    Scaler scaler;
    scaler.fit(X);
    benchmark::DoNotOptimize(scaler.scale().data());
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
}

// transform_into a reused matrix: no allocation, no first-touch page faults
// (which cost ~45 ms per fresh 64 MB matrix on the benchmark machine).
template <class Scaler>
void transform_into_reused(benchmark::State& state) {
  using T = typename Scaler::scalar_type;
  const redflag::Matrix<T>& X = data<T>();
  Scaler scaler;
  scaler.fit(X);
  redflag::Matrix<T> Z(rows, cols);
  for (auto _ : state) {
    scaler.transform_into(X, Z);
    benchmark::DoNotOptimize(Z.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
}

void stratified_split(benchmark::State& state) {
  const redflag::Matrix<double>& X = data<double>();
  redflag::LabelVector y(rows);
  redflag::Random random(99);
  for (redflag::Index i = 0; i < rows; ++i) y(i) = random.bernoulli(0.01) ? 1 : 0;  // 1% fraud
  for (auto _ : state) {
    auto split = redflag::train_test_split(X, y, {.test_size = 0.25, .random_state = 1});
    benchmark::DoNotOptimize(split.X_test.data());
  }
  state.SetItemsProcessed(state.iterations() * rows);
}

}  // namespace

BENCHMARK_TEMPLATE(fit_transform, redflag::StandardScaler<double>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit_transform, redflag::MinMaxScaler<double>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit_transform, redflag::RobustScaler<double>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit_transform, redflag::StandardScaler<float>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit_transform, redflag::MinMaxScaler<float>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit_transform, redflag::RobustScaler<float>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit_only, redflag::StandardScaler<double>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit_only, redflag::MinMaxScaler<double>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit_only, redflag::RobustScaler<double>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(transform_into_reused, redflag::StandardScaler<double>)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(transform_into_reused, redflag::MinMaxScaler<double>)->Unit(benchmark::kMillisecond);
BENCHMARK(stratified_split)->Unit(benchmark::kMillisecond);
