// EntityStore and its parts, per event:
//   kll_update              KllSketch(k = 32)::update, values cycling over 1e5 normal draws
//   kll_rank/n              KllSketch(k = 32)::rank after n updates (n = 32: exact; 1e5)
//   observe/threads:t       EntityStore::observe (16 shards) from t threads, each
//                           updating its own 1e4 entities round-robin; items_per_second
//                           is the total over threads (the sharding's scaling)
//   observe_batch/threads:t the same events through EntityStore::observe_batch, 16
//                           per call (its prefetches take the shard lock too)
// Debug and sanitizer builds run the same cases (they are per-event).
//
//   build-release/benchmarks/bench_entity_store --benchmark_repetitions=5

#include <redflag/core/random.hpp>
#include <redflag/stream/entity_store.hpp>
#include <redflag/stream/quantile_sketch.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

const std::vector<float>& values() {
  static const std::vector<float> data = [] {
    redflag::Random random(2024);
    std::vector<float> out(100'000);
    for (float& v : out) v = static_cast<float>(random.normal(100.0, 15.0));
    return out;
  }();
  return data;
}

void BM_kll_update(benchmark::State& state) {
  const auto& data = values();
  redflag::KllSketch sketch(32);
  std::size_t i = 0;
  for (auto _ : state) {
    sketch.update(data[i]);
    i = i + 1 == data.size() ? 0 : i + 1;
  }
  state.counters["retained"] = static_cast<double>(sketch.retained());
  state.SetItemsProcessed(state.iterations());
}

void BM_kll_rank(benchmark::State& state) {
  const auto& data = values();
  redflag::KllSketch sketch(32);
  for (std::int64_t i = 0; i < state.range(0); ++i) sketch.update(data[static_cast<std::size_t>(i)]);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sketch.rank(data[i]));
    i = i + 1 == data.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
}

redflag::EntityStore& shared_store() {
  static redflag::EntityStore store([] {
    redflag::EntityStoreParams params;
    params.max_entities = 1'000'000;
    params.shards = 16;
    params.max_future_ms = 365LL * 24 * 3600 * 1000;
    return params;
  }());
  return store;
}

// Thread t's entity ids, "t<t>-<e>".
std::vector<std::string> thread_ids(int thread) {
  constexpr int entities = 10'000;
  std::vector<std::string> ids;
  ids.reserve(entities);
  // Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "t" + std::string at -O3.
  std::string prefix(1, 't');
  prefix += std::to_string(thread);
  for (int e = 0; e < entities; ++e) {
    std::string id = prefix;
    id += '-';
    id += std::to_string(e);
    ids.push_back(std::move(id));
  }
  return ids;
}

redflag::EntityEvent base_event() {
  redflag::EntityEvent event;
  event.value = 42.0;
  event.counterparty = 7;
  event.place = 3;
  event.local_hour = 12;
  event.local_weekday = 2;
  return event;
}

void BM_observe(benchmark::State& state) {
  redflag::EntityStore& store = shared_store();
  const std::vector<std::string> ids = thread_ids(state.thread_index());
  redflag::EntityEvent event = base_event();
  std::int64_t time = 1'700'000'000'000;
  std::size_t e = 0;
  for (auto _ : state) {
    event.entity = ids[e];
    event.time_ms = ++time;
    benchmark::DoNotOptimize(store.observe(event));
    e = e + 1 == ids.size() ? 0 : e + 1;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_observe_batch(benchmark::State& state) {
  constexpr std::size_t batch = 16;
  redflag::EntityStore& store = shared_store();
  const std::vector<std::string> ids = thread_ids(state.thread_index());
  std::vector<redflag::EntityEvent> events(batch, base_event());
  std::int64_t time = 1'700'000'000'000;
  std::size_t e = 0;
  for (auto _ : state) {
    for (auto& event : events) {
      event.entity = ids[e];
      event.time_ms = ++time;
      e = e + 1 == ids.size() ? 0 : e + 1;
    }
    store.observe_batch(events, [](std::size_t, const redflag::EntityState&) {});
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

}  // namespace

BENCHMARK(BM_kll_update);
BENCHMARK(BM_kll_rank)->Arg(32)->Arg(100'000);
BENCHMARK(BM_observe)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_observe_batch)->Threads(1)->Threads(2)->UseRealTime();
