// Ranking metrics on 1e6 scores: random normal scores (shifted up for the
// ~10% positives) rounded to three decimals, so there are many ties.
// tests/metrics/sklearn_timing.py times scikit-learn on the same kind of data.

#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

namespace {

template <class T>
struct Data {
  redflag::LabelVector y;
  redflag::Vector<T> scores;
};

template <class T>
Data<T> make_data(redflag::Index n) {
  std::mt19937_64 engine(42);
  std::bernoulli_distribution label(0.1);
  std::normal_distribution<double> noise;
  Data<T> data{redflag::LabelVector(n), redflag::Vector<T>(n)};
  for (redflag::Index i = 0; i < n; ++i) {
    data.y(i) = label(engine) ? 1 : 0;
    data.scores(i) = static_cast<T>(std::round((noise(engine) + static_cast<double>(data.y(i))) * 1000.0) / 1000.0);
  }
  return data;
}

template <class T>
void BM_roc_auc_score(benchmark::State& state) {
  const auto data = make_data<T>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(redflag::roc_auc_score(data.y, data.scores));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <class T>
void BM_average_precision_score(benchmark::State& state) {
  const auto data = make_data<T>(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(redflag::average_precision_score(data.y, data.scores));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <class T>
void BM_roc_curve(benchmark::State& state) {
  const auto data = make_data<T>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(redflag::roc_curve(data.y, data.scores));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

}  // namespace

BENCHMARK_TEMPLATE(BM_roc_auc_score, double)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_roc_auc_score, float)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_average_precision_score, double)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_roc_curve, double)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
