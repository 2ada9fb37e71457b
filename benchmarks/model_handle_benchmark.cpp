// Cost of ModelHandle::snapshot() — what every scoring call pays to get the
// current model — alone, from several threads at once, and while another
// thread publishes continuously; against a mutex-guarded shared_ptr, the
// obvious alternative. Figures and the command are in docs/lifecycle.md.

#include <redflag/lifecycle/model_handle.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace {

struct Model {
  std::array<double, 8> weights{};
};

redflag::ModelHandle<Model>& shared_handle() {
  static redflag::ModelHandle<Model> handle(Model{}, 1);
  return handle;
}

void BM_ModelHandle_snapshot(benchmark::State& state) {
  auto& handle = shared_handle();
  for (auto _ : state) {
    auto snapshot = handle.snapshot();
    benchmark::DoNotOptimize(snapshot->version);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ModelHandle_snapshot)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

// Readers while a publisher swaps the model as fast as it can.
void BM_ModelHandle_snapshot_under_publish(benchmark::State& state) {
  redflag::ModelHandle<Model> handle(Model{}, 1);
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    for (std::uint64_t version = 2; !done.load(std::memory_order_relaxed); ++version) handle.publish(Model{}, version);
  });
  std::uint64_t versions = 0;
  for (auto _ : state) {
    auto snapshot = handle.snapshot();
    versions += snapshot->version;
  }
  done.store(true);
  publisher.join();
  benchmark::DoNotOptimize(versions);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ModelHandle_snapshot_under_publish)->UseRealTime();

struct MutexHandle {
  std::mutex mutex;
  std::shared_ptr<const Model> model = std::make_shared<const Model>();
  std::shared_ptr<const Model> snapshot() {
    const std::lock_guard lock(mutex);
    return model;
  }
};

MutexHandle& shared_mutex_handle() {
  static MutexHandle handle;
  return handle;
}

void BM_Mutex_snapshot(benchmark::State& state) {
  auto& handle = shared_mutex_handle();
  for (auto _ : state) {
    auto snapshot = handle.snapshot();
    benchmark::DoNotOptimize(snapshot.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Mutex_snapshot)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

}  // namespace
