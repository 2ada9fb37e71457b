// RandomForest (classifier), one thread (n_jobs = 1), 100 trees, max_depth 10,
// class_weight balanced, d = 20:
//   fit<T>/rows:n             n = 7e4 (the scikit-learn reference case), 1e5, 1e6
//   predict_proba<T>/rows:n   n = 1e5, 1e6, with the model fitted on the first 7e4 rows
// Counters: items_per_second (rows per second); on predict_proba per_row_tree
// (time per row and tree); on fit, the node count and auc, the test ROC AUC on
// the last 1e5 rows (never trained on) of the model fitted on n rows.
// Debug and sanitizer builds run reduced sizes (at most 2e4 rows, 10 trees).
//
//   cmake --preset bench && cmake --build --preset bench --target bench_random_forest
//   build/bench/benchmarks/bench_random_forest --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   /usr/bin/python3 benchmarks/compare_random_forest.py   # the same cases against scikit-learn
//
// Data: 1.1e6 rows of 20 standard normal columns from redflag::Random(2024)
// and a label 1 for about 13 % of them, from a noisy score mixing linear and
// interaction terms of the first 8 columns (the other 12 are noise) or, when
// REDFLAG_BENCH_RF_DATA names a file of at least 1.1e6 x 21 little-endian
// float64 values (row-major, the label last), that file;
// compare_random_forest.py passes the data it gives scikit-learn. Size n uses
// the first n rows; the last 1e5 are the test rows.

#include <redflag/core/random.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/metrics/roc.hpp>

#include <benchmark/benchmark.h>

#include <bit>
#include <cmath>
#include <concepts>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

namespace {

using redflag::Index;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::RandomForest;

#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
constexpr bool full_sizes = true;
#else
// Debug and sanitizer builds only smoke-run this program (CTest's
// benchmark.random_forest), where the 1e6-row cases would take minutes.
constexpr bool full_sizes = false;
#endif

constexpr Index cols = 20;
constexpr Index trees = full_sizes ? 100 : 10;
constexpr Index test_rows = full_sizes ? 100'000 : 5'000;
constexpr Index max_rows = full_sizes ? 1'000'000 : 20'000;
constexpr Index reference_rows = full_sizes ? 70'000 : 10'000;  // the model predict_proba uses

struct Data {
  Matrix<double> X;
  LabelVector y;
};

Data load_or_generate() {
  const Index rows = max_rows + test_rows;
  Data data{Matrix<double>(rows, cols), LabelVector(rows)};
  if (const char* path = std::getenv("REDFLAG_BENCH_RF_DATA")) {
    static_assert(std::endian::native == std::endian::little, "the data file holds little-endian float64");
    Matrix<double> file(rows, cols + 1);
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(file.data()), static_cast<std::streamsize>(file.size() * Index{sizeof(double)}));
    if (!in) {
      std::cerr << "bench_random_forest: cannot read " << rows << " x " << cols + 1
                << " float64 values from REDFLAG_BENCH_RF_DATA=" << path << '\n';
      std::exit(1);
    }
    data.X = file.leftCols(cols);
    for (Index i = 0; i < rows; ++i) data.y(i) = file(i, cols) > 0.5 ? 1 : 0;
    return data;
  }
  redflag::Random random(2024);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) data.X(i, j) = random.normal();
    const auto x = data.X.row(i);
    const double score = 0.8 * x(0) - 0.6 * x(1) + 0.5 * x(2) + 0.4 * x(3) * x(4) + 0.7 * std::abs(x(5)) -
                         0.3 * x(6) * x(6) + 0.3 * x(7) + 0.6 * random.normal();
    data.y(i) = score > 1.9 ? 1 : 0;  // about 13 % positives
  }
  return data;
}

// Built once on first use, outside any timing.
const Data& values() {
  static const Data data = load_or_generate();
  return data;
}

// The float matrix holds the double values rounded, so both types see the same data.
template <class T>
const Matrix<T>& features() {
  if constexpr (std::same_as<T, double>) {
    return values().X;
  } else {
    static const Matrix<T> X = values().X.template cast<T>();
    return X;
  }
}

template <class T>
typename RandomForest<T>::Params params() {
  return {.n_estimators = trees,
          .max_depth = 10,
          .class_weight = redflag::ClassWeight::balanced,
          .random_state = 1,
          .n_jobs = 1};
}

template <class T>
double test_auc(const RandomForest<T>& model) {
  const auto X = features<T>().bottomRows(test_rows);
  const Matrix<T> proba = model.predict_proba(X);
  const redflag::Vector<double> positive = proba.col(1).template cast<double>();
  return redflag::roc_auc_score(values().y.tail(test_rows), positive);
}

template <class T>
void fit(benchmark::State& state) {
  const auto rows = static_cast<Index>(state.range(0));
  const auto X = features<T>().topRows(rows);
  const LabelVector y = values().y.head(rows);
  RandomForest<T> model;
  for (auto _ : state) {
    RandomForest<T> fresh(params<T>());
    fresh.fit(X, y);
    benchmark::DoNotOptimize(fresh);
    model = std::move(fresh);  // kept for the counters
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["nodes"] = static_cast<double>(model.node_count());
  state.counters["auc"] = test_auc(model);
}

void fit_arguments(benchmark::internal::Benchmark* bench) {
  bench->ArgName("rows");
  for (const Index rows : {reference_rows, Index{100'000}, Index{1'000'000}}) {
    if (rows <= max_rows) bench->Arg(rows);
  }
  if (!full_sizes) bench->Arg(max_rows);
}
BENCHMARK_TEMPLATE(fit, double)->Apply(fit_arguments)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(fit, float)->Apply(fit_arguments)->Unit(benchmark::kMillisecond);

// The model fitted on the first reference_rows rows, fitted once.
template <class T>
const RandomForest<T>& reference_model() {
  static const RandomForest<T> model = [] {
    RandomForest<T> fitted(params<T>());
    fitted.fit(features<T>().topRows(reference_rows), values().y.head(reference_rows));
    return fitted;
  }();
  return model;
}

template <class T>
void predict_proba(benchmark::State& state) {
  const auto rows = static_cast<Index>(state.range(0));
  const auto X = features<T>().topRows(rows);
  const auto& model = reference_model<T>();
  for (auto _ : state) benchmark::DoNotOptimize(model.predict_proba(X));
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["per_row_tree"] = benchmark::Counter(
      static_cast<double>(rows * trees), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void predict_arguments(benchmark::internal::Benchmark* bench) {
  bench->ArgName("rows");
  for (const Index rows : {Index{100'000}, Index{1'000'000}}) {
    if (rows <= max_rows) bench->Arg(rows);
  }
  if (!full_sizes) bench->Arg(max_rows);
}
BENCHMARK_TEMPLATE(predict_proba, double)->Apply(predict_arguments)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(predict_proba, float)->Apply(predict_arguments)->Unit(benchmark::kMillisecond);

}  // namespace
