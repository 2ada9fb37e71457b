#pragma once

// parallel_for / parallel_map_chunks: redflag's only source of threads.
//
// Determinism comes from *fixed chunking*: [0, count) is cut into chunks of
// `grain` indices whose boundaries depend on count and grain alone, never on
// the number of threads. Threads take whole chunks from an atomic counter, so
// which thread runs a chunk varies, but the chunks themselves do not. Any
// per-chunk result (a partial sum, a fitted tree) reduced afterwards in chunk
// order is therefore bit-identical for every n_jobs, including 1.
//
// There is no global pool: each parallel call starts its threads and joins
// them before returning (roughly 10-50 us per thread; see docs/determinism.md
// for figures). Calls that would gain nothing — n_jobs resolving to 1 or a
// single chunk — run on the calling thread and create no thread at all.

#include <redflag/core/error.hpp>
#include <redflag/core/validation.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace redflag {

struct ParallelOptions {
  // Indices per chunk (>= 1). Chunk c covers [c * grain, min(count, (c + 1) * grain)).
  // Pick it so one chunk is at least ~10 us of work; it also fixes the
  // reduction order, so changing it may change floating-point results.
  std::size_t grain = 1;
};

namespace detail {

// n_jobs -> worker count given `n_cpus` (scikit-learn / joblib semantics):
// positive values are taken as is, -1 means all CPUs, -2 all but one, and in
// general n_cpus + 1 + n_jobs, never below 1. Zero is an error.
inline int resolve_n_jobs_for(int n_jobs, int n_cpus, std::string_view where) {
  if (n_jobs == 0) {
    raise<invalid_argument>(where, "n_jobs must be a non-zero integer, got 0");
  }
  if (n_jobs > 0) return n_jobs;
  const long long resolved = static_cast<long long>(std::max(n_cpus, 1)) + 1 + n_jobs;
  return static_cast<int>(std::max(resolved, 1LL));
}

// Set on threads that are running chunks of a parallel call. A parallel call
// made from inside a body runs serially instead of multiplying threads
// (cores x cores); results do not depend on n_jobs, so only speed changes.
inline bool& inside_parallel_region() noexcept {
  thread_local bool inside = false;
  return inside;
}

class ParallelRegionGuard {
 public:
  ParallelRegionGuard() noexcept : previous_(std::exchange(inside_parallel_region(), true)) {}
  ~ParallelRegionGuard() { inside_parallel_region() = previous_; }
  ParallelRegionGuard(const ParallelRegionGuard&) = delete;
  ParallelRegionGuard& operator=(const ParallelRegionGuard&) = delete;

 private:
  bool previous_;
};

inline std::size_t checked_chunk_count(std::size_t count, const ParallelOptions& options, std::string_view where) {
  require_parameter(options.grain >= 1, where, "ParallelOptions::grain", ">= 1", options.grain);
  return count / options.grain + (count % options.grain != 0 ? 1 : 0);
}

// Runs run_chunk(c) for every chunk c in [0, n_chunks) on up to `workers`
// threads (the calling thread is one of them). After a chunk throws, threads
// stop claiming new chunks; every chunk already claimed still finishes.
// Chunks are claimed in increasing order, so every chunk below a failing one
// has run, and the exception rethrown — the lowest failing chunk's — is the
// one a serial loop would have thrown.
template <class RunChunk>
void run_chunks(std::size_t n_chunks, int workers, RunChunk& run_chunk) {
  if (workers <= 1 || n_chunks <= 1 || inside_parallel_region()) {
    for (std::size_t chunk = 0; chunk < n_chunks; ++chunk) run_chunk(chunk);
    return;
  }

  std::atomic<std::size_t> next_chunk{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::size_t error_chunk = n_chunks;
  std::exception_ptr error;

  const auto work = [&]() noexcept {
    const ParallelRegionGuard guard;
    while (!failed.load(std::memory_order_relaxed)) {
      const std::size_t chunk = next_chunk.fetch_add(1, std::memory_order_relaxed);
      if (chunk >= n_chunks) return;
      try {
        run_chunk(chunk);
      } catch (...) {
        failed.store(true, std::memory_order_relaxed);
        const std::lock_guard lock(error_mutex);
        if (chunk < error_chunk) {
          error_chunk = chunk;
          error = std::current_exception();
        }
      }
    }
  };

  const auto n_threads = static_cast<std::size_t>(std::min<long long>(workers, static_cast<long long>(n_chunks)));
  std::vector<std::thread> threads;
  threads.reserve(n_threads - 1);
  for (std::size_t i = 1; i < n_threads; ++i) {
    try {
      threads.emplace_back(work);
    } catch (...) {
      // Out of threads or memory: the threads we have (and this one) take all
      // chunks. Rethrowing here would destroy joinable threads (terminate).
      break;
    }
  }
  work();
  for (auto& thread : threads) thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace detail

// Number of workers n_jobs stands for on this machine (see
// detail::resolve_n_jobs_for): 1 -> 1, -1 -> all hardware threads, -2 -> all
// but one, > cores allowed. Throws invalid_argument for 0; `where` names the
// caller in the message ("IsolationForest::fit").
inline int resolve_n_jobs(int n_jobs, std::string_view where = "resolve_n_jobs") {
  if (n_jobs > 0) return n_jobs;                              // skip the CPU query: glibc reads /sys for it (~5 us)
  const unsigned cpus = std::thread::hardware_concurrency();  // 0 when unknown
  return detail::resolve_n_jobs_for(n_jobs, cpus == 0 ? 1 : static_cast<int>(cpus), where);
}

// Number of chunks parallel_for cuts [0, count) into: ceil(count / grain).
inline std::size_t chunk_count(std::size_t count, ParallelOptions options = {}) {
  return detail::checked_chunk_count(count, options, "chunk_count");
}

// Calls body(begin, end) once per chunk of [0, count), on up to n_jobs threads.
// Chunk c is [c * grain, min(count, (c + 1) * grain)), so begin / grain is the
// chunk index. body runs concurrently with itself: it may only write state
// owned by its own indices or chunk. If a body throws, chunks not yet started
// are skipped and the exception of the lowest failing chunk is rethrown here
// after all threads have joined.
template <class Body>
  requires std::invocable<Body&, std::size_t, std::size_t>
void parallel_for(std::size_t count, int n_jobs, Body&& body, ParallelOptions options = {}) {
  constexpr std::string_view where = "parallel_for";
  const int workers = resolve_n_jobs(n_jobs, where);
  const std::size_t n_chunks = detail::checked_chunk_count(count, options, where);
  auto run_chunk = [&](std::size_t chunk) {
    const std::size_t begin = chunk * options.grain;
    body(begin, std::min(count, begin + options.grain));
  };
  detail::run_chunks(n_chunks, workers, run_chunk);
}

// Like parallel_for, but collects body(begin, end)'s return value for every
// chunk, in chunk order. Reduce the vector front to back and the answer is
// bit-identical for any n_jobs:
//
//   auto sums = parallel_map_chunks(n, n_jobs, [&](std::size_t b, std::size_t e) {
//     double s = 0; for (auto i = b; i < e; ++i) s += x[i]; return s; }, {.grain = 4096});
//   double total = std::accumulate(sums.begin(), sums.end(), 0.0);
template <class Body>
  requires std::invocable<Body&, std::size_t, std::size_t> &&
      (!std::is_void_v<std::invoke_result_t<Body&, std::size_t, std::size_t>>)auto parallel_map_chunks(
          std::size_t count, int n_jobs, Body&& body, ParallelOptions options = {})
          -> std::vector<std::decay_t<std::invoke_result_t<Body&, std::size_t, std::size_t>>> {
    using Result = std::decay_t<std::invoke_result_t<Body&, std::size_t, std::size_t>>;
    constexpr std::string_view where = "parallel_map_chunks";
    const int workers = resolve_n_jobs(n_jobs, where);
    const std::size_t n_chunks = detail::checked_chunk_count(count, options, where);
    // optional<> gives each chunk its own object (no vector<bool> bit sharing)
    // and does not ask Result to be default-constructible.
    std::vector<std::optional<Result>> slots(n_chunks);
    auto run_chunk = [&](std::size_t chunk) {
      const std::size_t begin = chunk * options.grain;
      slots[chunk].emplace(body(begin, std::min(count, begin + options.grain)));
    };
    detail::run_chunks(n_chunks, workers, run_chunk);
    std::vector<Result> results;
    results.reserve(n_chunks);
    for (auto& slot : slots) results.push_back(std::move(*slot));
    return results;
  }

}  // namespace redflag
