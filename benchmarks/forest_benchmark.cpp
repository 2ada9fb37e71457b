// IsolationForest, one thread (n_jobs = 1), 100 trees, d = 10 standard normal
// columns:
//   fit<T>/rows:n/max_samples:256        n = 1e4, 1e5, 1e6
//   fit<double>/rows:1e6/max_samples:m   m = 4096, 65536 (at 1e6 rows even the
//                                        largest subsample is a small share of X)
//   anomaly_score<T>/rows:n              the n rows the model was fitted on
//   anomaly_score_batch<T>/rows:b        b = 64 and 2048 rows per call
//   score_one<T>                         one row per call
//   explain_one<T>                       explain() of one row per call (TreeSHAP
//                                        over the 100 trees, as for an alert)
// Scoring models use max_samples 256 and are fitted once, outside the timing.
// Counters: items_per_second (rows per second); per_row_tree (time per row and
// tree, e.g. "12.3ns"; seconds in JSON); on fit, the model's memory_usage()
// (model_bytes), its portable-binary file size (file_bytes) and node count.
// Debug and sanitizer builds run reduced sizes (at most 1e4 rows).
//
//   cmake --preset bench && cmake --build --preset bench --target bench_forest
//   build/bench/benchmarks/bench_forest --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   /usr/bin/python3 benchmarks/compare_iforest.py   # the same cases against scikit-learn
//
// Data: 1e6 x 10 standard normal values from redflag::Random(2024) or, when
// REDFLAG_BENCH_FOREST_DATA names a file of at least 1e6 x 10 little-endian
// float64 values (row-major), that file; compare_iforest.py passes the matrix
// it gives scikit-learn. Size n uses the first n rows.

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <benchmark/benchmark.h>

#include <bit>
#include <concepts>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <span>
#include <sstream>
#include <string>

namespace {

using redflag::Index;
using redflag::IsolationForest;
using redflag::Matrix;

#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
constexpr bool full_sizes = true;
#else
// Debug and sanitizer builds only smoke-run this program (CTest's
// benchmark.forest), where the 1e6-row cases would take minutes.
constexpr bool full_sizes = false;
#endif

constexpr Index cols = 10;
constexpr Index trees = 100;
constexpr Index max_rows = full_sizes ? 1'000'000 : 10'000;
// The model the latency cases (batches, score_one) score with, and the rows they cycle through.
constexpr Index latency_rows = full_sizes ? 100'000 : 10'000;

Matrix<double> load_or_generate() {
  Matrix<double> X(max_rows, cols);
  if (const char* path = std::getenv("REDFLAG_BENCH_FOREST_DATA")) {
    static_assert(std::endian::native == std::endian::little, "the data file holds little-endian float64");
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(X.data()), static_cast<std::streamsize>(X.size() * Index{sizeof(double)}));
    if (!in) {
      std::cerr << "bench_forest: cannot read " << max_rows << " x " << cols
                << " float64 values from REDFLAG_BENCH_FOREST_DATA=" << path << '\n';
      std::exit(1);
    }
    return X;
  }
  redflag::Random random(2024);
  for (Index i = 0; i < X.rows(); ++i) {
    for (Index j = 0; j < cols; ++j) X(i, j) = random.normal();
  }
  return X;
}

// Built once on first use, outside any timing.
const Matrix<double>& values() {
  static const Matrix<double> X = load_or_generate();
  return X;
}

// The float matrix holds the double values rounded, so both types see the same data.
template <class T>
const Matrix<T>& data() {
  if constexpr (std::same_as<T, double>) {
    return values();
  } else {
    static const Matrix<T> X = values().template cast<T>();
    return X;
  }
}

template <class T>
typename IsolationForest<T>::Params params(Index max_samples) {
  return {.n_estimators = trees, .max_samples = max_samples, .random_state = 1, .n_jobs = 1};
}

// A max_samples 256 model fitted on the first `rows` rows, fitted once.
template <class T>
const IsolationForest<T>& fitted(Index rows) {
  static std::map<Index, IsolationForest<T>> models;
  auto found = models.find(rows);
  if (found == models.end()) {
    IsolationForest<T> model(params<T>(256));
    model.fit(data<T>().topRows(rows));
    found = models.emplace(rows, std::move(model)).first;
  }
  return found->second;
}

// Rows per second, and seconds per row and tree (shown as e.g. "12.3ns").
void set_row_counters(benchmark::State& state, Index rows_per_iteration) {
  state.SetItemsProcessed(state.iterations() * rows_per_iteration);
  state.counters["per_row_tree"] =
      benchmark::Counter(static_cast<double>(rows_per_iteration * trees),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

template <class T>
void fit(benchmark::State& state) {
  const auto rows = static_cast<Index>(state.range(0));
  const auto max_samples = static_cast<Index>(state.range(1));
  const auto X = data<T>().topRows(rows);
  IsolationForest<T> model;
  for (auto _ : state) {
    IsolationForest<T> fresh(params<T>(max_samples));
    fresh.fit(X);
    benchmark::DoNotOptimize(fresh);
    model = std::move(fresh);  // kept for the size counters
  }
  state.SetItemsProcessed(state.iterations() * rows);
  std::ostringstream file(std::ios::binary);
  redflag::save(model, file, redflag::Format::portable_binary);
  state.counters["model_bytes"] = static_cast<double>(model.memory_usage());
  state.counters["file_bytes"] = static_cast<double>(file.str().size());
  state.counters["nodes"] = static_cast<double>(model.node_count());
}

void fit_arguments(benchmark::internal::Benchmark* bench) {
  bench->ArgNames({"rows", "max_samples"});
  for (const Index rows : {Index{10'000}, Index{100'000}, Index{1'000'000}}) {
    if (rows <= max_rows) bench->Args({rows, 256});
  }
}
BENCHMARK_TEMPLATE(fit, double)->Apply(fit_arguments)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit, float)->Apply(fit_arguments)->Unit(benchmark::kMillisecond);

// max_samples sweep at the largest size.
BENCHMARK_TEMPLATE(fit, double)
    ->ArgNames({"rows", "max_samples"})
    ->Args({max_rows, full_sizes ? 4096 : 512})
    ->Args({max_rows, full_sizes ? 65536 : 1024})
    ->Unit(benchmark::kMillisecond);

template <class T>
void anomaly_score(benchmark::State& state) {
  const auto rows = static_cast<Index>(state.range(0));
  const auto X = data<T>().topRows(rows);
  const auto& model = fitted<T>(rows);
  for (auto _ : state) benchmark::DoNotOptimize(model.anomaly_score(X));
  set_row_counters(state, rows);
}

void score_arguments(benchmark::internal::Benchmark* bench) {
  bench->ArgName("rows");
  for (const Index rows : {Index{10'000}, Index{100'000}, Index{1'000'000}}) {
    if (rows <= max_rows) bench->Arg(rows);
  }
}
BENCHMARK_TEMPLATE(anomaly_score, double)->Apply(score_arguments)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(anomaly_score, float)->Apply(score_arguments)->Unit(benchmark::kMillisecond);

// Successive calls score successive batches of the training rows, so the
// same few rows are not replayed from cache.
template <class T>
void anomaly_score_batch(benchmark::State& state) {
  const auto batch = static_cast<Index>(state.range(0));
  const auto& X = data<T>();
  const auto& model = fitted<T>(latency_rows);
  Index begin = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.anomaly_score(X.middleRows(begin, batch)));
    begin += batch;
    if (begin + batch > latency_rows) begin = 0;
  }
  set_row_counters(state, batch);
}
BENCHMARK_TEMPLATE(anomaly_score_batch, double)->ArgName("rows")->Arg(64)->Arg(2048)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(anomaly_score_batch, float)->ArgName("rows")->Arg(64)->Arg(2048)->Unit(benchmark::kMicrosecond);

template <class T>
void score_one(benchmark::State& state) {
  const auto& X = data<T>();
  const auto& model = fitted<T>(latency_rows);
  Index row = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.score_one(std::span<const T>(X.row(row).data(), static_cast<std::size_t>(cols))));
    if (++row == latency_rows) row = 0;
  }
  set_row_counters(state, 1);
}
BENCHMARK_TEMPLATE(score_one, double)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(score_one, float)->Unit(benchmark::kMicrosecond);

template <class T>
void explain_one(benchmark::State& state) {
  const auto& X = data<T>();
  const auto& model = fitted<T>(latency_rows);
  Index row = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.explain(X.middleRows(row, 1)));
    if (++row == latency_rows) row = 0;
  }
  set_row_counters(state, 1);
}
BENCHMARK_TEMPLATE(explain_one, double)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(explain_one, float)->Unit(benchmark::kMicrosecond);

}  // namespace
