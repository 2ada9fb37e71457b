#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using redflag::chunk_count;
using redflag::parallel_for;
using redflag::parallel_map_chunks;
using redflag::ParallelOptions;

namespace {

const std::vector<int> job_counts{1, 2, 3, 8, -1};

// Values spanning 16 orders of magnitude, so that summation order shows in the
// last bits of the result.
std::vector<double> awkward_values(std::size_t n) {
  redflag::Random rng(31);
  std::vector<double> values(n);
  for (auto& value : values) value = rng.normal() * std::pow(10.0, rng.uniform_int(-8, 9));
  return values;
}

std::uint64_t bits(double value) { return std::bit_cast<std::uint64_t>(value); }

}  // namespace

TEST_CASE("resolve_n_jobs follows scikit-learn's n_jobs semantics") {
  using redflag::detail::resolve_n_jobs_for;
  struct Row {
    int n_jobs, n_cpus, expected;
  };
  const Row table[] = {
      {1, 4, 1},
      {3, 4, 3},
      {16, 4, 16},
      {-1, 4, 4},
      {-2, 4, 3},
      {-3, 4, 2},
      {-4, 4, 1},
      {-5, 4, 1},
      {-100, 4, 1},
      {INT_MIN, 4, 1},
      {INT_MAX, 4, INT_MAX},
      {-1, 1, 1},
      {-2, 1, 1},
      {-1, 0, 1},
      {-1, 64, 64},
      {-2, 64, 63},
  };
  for (const Row& row : table) {
    CAPTURE(row.n_jobs);
    CAPTURE(row.n_cpus);
    CHECK(resolve_n_jobs_for(row.n_jobs, row.n_cpus, "test") == row.expected);
  }
  const int cpus = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  CHECK(redflag::resolve_n_jobs(-1) == cpus);
  CHECK(redflag::resolve_n_jobs(-2) == std::max(1, cpus - 1));
  CHECK(redflag::resolve_n_jobs(1) == 1);
  CHECK(redflag::resolve_n_jobs(cpus + 5) == cpus + 5);
  CHECK_THROWS_WITH_AS(redflag::resolve_n_jobs(0), "redflag::resolve_n_jobs: n_jobs must be a non-zero integer, got 0",
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::resolve_n_jobs(0, "IsolationForest::fit"),
                       "redflag::IsolationForest::fit: n_jobs must be a non-zero integer, got 0",
                       redflag::invalid_argument);
}

TEST_CASE("chunk_count") {
  CHECK(chunk_count(0) == 0);
  CHECK(chunk_count(5) == 5);
  CHECK(chunk_count(9, {.grain = 3}) == 3);
  CHECK(chunk_count(10, {.grain = 3}) == 4);
  CHECK(chunk_count(2, {.grain = 100}) == 1);
  CHECK_THROWS_WITH_AS(chunk_count(10, {.grain = 0}),
                       "redflag::chunk_count: ParallelOptions::grain must be >= 1, got 0", redflag::invalid_argument);
}

TEST_CASE("every index is visited exactly once, in fixed chunks") {
  constexpr std::size_t count = 10007, grain = 13;
  const std::size_t n_chunks = chunk_count(count, {.grain = grain});
  for (int n_jobs : job_counts) {
    CAPTURE(n_jobs);
    std::vector<std::atomic<int>> visits(count);
    std::vector<std::atomic<int>> chunk_calls(n_chunks);
    std::atomic<bool> bad_bounds{false};
    parallel_for(count, n_jobs,
                 [&](std::size_t begin, std::size_t end) {
                   if (begin % grain != 0 || end != std::min(count, begin + grain)) bad_bounds = true;
                   chunk_calls[begin / grain].fetch_add(1);
                   for (std::size_t i = begin; i < end; ++i) visits[i].fetch_add(1);
                 },
                 {.grain = grain});
    CHECK_FALSE(bad_bounds.load());
    bool all_once = true;
    for (const auto& v : visits) all_once = all_once && v.load() == 1;
    for (const auto& c : chunk_calls) all_once = all_once && c.load() == 1;
    CHECK(all_once);
  }
}

TEST_CASE("per-chunk floating-point sums are bit-identical for any n_jobs") {
  const auto values = awkward_values(100003);
  const auto chunk_sum = [&](std::size_t begin, std::size_t end) {
    double sum = 0.0;
    for (std::size_t i = begin; i < end; ++i) sum += values[i];
    return sum;
  };
  const ParallelOptions options{.grain = 997};

  const auto reference = parallel_map_chunks(values.size(), 1, chunk_sum, options);
  REQUIRE(reference.size() == chunk_count(values.size(), options));
  const double reference_total = std::accumulate(reference.begin(), reference.end(), 0.0);

  for (int n_jobs : job_counts) {
    CAPTURE(n_jobs);
    // parallel_map_chunks, reduced in chunk order.
    const auto sums = parallel_map_chunks(values.size(), n_jobs, chunk_sum, options);
    REQUIRE(sums.size() == reference.size());
    bool same_chunks = true;
    for (std::size_t c = 0; c < sums.size(); ++c) same_chunks = same_chunks && bits(sums[c]) == bits(reference[c]);
    CHECK(same_chunks);
    CHECK(bits(std::accumulate(sums.begin(), sums.end(), 0.0)) == bits(reference_total));

    // parallel_for writing into a per-chunk slot.
    std::vector<double> slots(chunk_count(values.size(), options));
    parallel_for(
        values.size(), n_jobs,
        [&](std::size_t begin, std::size_t end) { slots[begin / options.grain] = chunk_sum(begin, end); }, options);
    CHECK(bits(std::accumulate(slots.begin(), slots.end(), 0.0)) == bits(reference_total));
  }
}

TEST_CASE("per-chunk random streams give the same draws for any n_jobs") {
  const auto draw = [](std::size_t begin, std::size_t end) {
    std::vector<double> out;
    for (std::size_t i = begin; i < end; ++i) {
      redflag::Random rng = redflag::Random::stream(2024, i);  // one stream per unit of work
      out.push_back(rng.normal() + rng.uniform());
    }
    return out;
  };
  const auto reference = parallel_map_chunks(500, 1, draw, {.grain = 7});
  for (int n_jobs : job_counts) {
    CAPTURE(n_jobs);
    CHECK(parallel_map_chunks(500, n_jobs, draw, {.grain = 7}) == reference);
  }
}

TEST_CASE("the exception of the lowest failing chunk is rethrown after all threads join") {
  constexpr std::size_t count = 400, grain = 10;
  for (int n_jobs : job_counts) {
    CAPTURE(n_jobs);
    std::vector<std::atomic<int>> ran(count / grain);
    const auto body = [&](std::size_t begin, std::size_t) {
      const std::size_t chunk = begin / grain;
      ran[chunk] = 1;
      if (chunk == 17 || chunk == 5 || chunk == 30) {
        throw redflag::data_error("chunk " + std::to_string(chunk));
      }
    };
    CHECK_THROWS_WITH_AS(parallel_for(count, n_jobs, body, {.grain = grain}), "chunk 5", redflag::data_error);
    // Chunks are claimed in order, so everything before the failing chunk ran.
    bool earlier_ran = true;
    for (std::size_t c = 0; c <= 5; ++c) earlier_ran = earlier_ran && ran[c].load() == 1;
    CHECK(earlier_ran);

    const auto mapped = [&](std::size_t begin, std::size_t end) -> int {
      if (begin / grain >= 3) throw std::out_of_range("from chunk " + std::to_string(begin / grain));
      return static_cast<int>(end - begin);
    };
    CHECK_THROWS_WITH_AS(parallel_map_chunks(count, n_jobs, mapped, {.grain = grain}), "from chunk 3",
                         std::out_of_range);
  }
}

TEST_CASE("empty ranges and argument validation") {
  for (int n_jobs : job_counts) {
    int calls = 0;
    parallel_for(0, n_jobs, [&](std::size_t, std::size_t) { ++calls; });
    CHECK(calls == 0);
    CHECK(parallel_map_chunks(0, n_jobs, [](std::size_t b, std::size_t e) { return e - b; }).empty());
  }
  const auto noop = [](std::size_t, std::size_t) {};
  CHECK_THROWS_WITH_AS(parallel_for(10, 2, noop, {.grain = 0}),
                       "redflag::parallel_for: ParallelOptions::grain must be >= 1, got 0", redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(parallel_for(10, 0, noop), "redflag::parallel_for: n_jobs must be a non-zero integer, got 0",
                       redflag::invalid_argument);
  const auto size = [](std::size_t b, std::size_t e) { return e - b; };
  CHECK_THROWS_WITH_AS(parallel_map_chunks(10, 1, size, {.grain = 0}),
                       "redflag::parallel_map_chunks: ParallelOptions::grain must be >= 1, got 0",
                       redflag::invalid_argument);
  CHECK_THROWS_AS(parallel_map_chunks(10, 0, size), redflag::invalid_argument);
  // Grain and n_jobs are checked even when there is nothing to do.
  CHECK_THROWS_AS(parallel_for(0, 0, noop), redflag::invalid_argument);
  CHECK_THROWS_AS(parallel_for(0, 1, noop, {.grain = 0}), redflag::invalid_argument);
}

TEST_CASE("serial fast path runs on the calling thread") {
  const auto caller = std::this_thread::get_id();
  std::set<std::thread::id> seen;
  parallel_for(100, 1, [&](std::size_t, std::size_t) { seen.insert(std::this_thread::get_id()); });
  CHECK(seen == std::set<std::thread::id>{caller});
  seen.clear();
  // A single chunk: nothing to share, so no thread is started even for n_jobs = 8.
  parallel_for(100, 8, [&](std::size_t, std::size_t) { seen.insert(std::this_thread::get_id()); }, {.grain = 100});
  CHECK(seen == std::set<std::thread::id>{caller});
}

TEST_CASE("n_jobs = 2 really runs two chunks at the same time") {
  // Each chunk waits until the other one has started; a serial run could not
  // get past the first chunk. The deadline only keeps a broken build from hanging.
  std::mutex mutex;
  std::condition_variable started;
  int running = 0;
  bool met = true;
  parallel_for(2, 2, [&](std::size_t, std::size_t) {
    std::unique_lock lock(mutex);
    ++running;
    started.notify_all();
    if (!started.wait_for(lock, std::chrono::seconds(60), [&] { return running == 2; })) met = false;
  });
  CHECK(met);
}

TEST_CASE("nested parallel calls run serially inside the worker") {
  std::atomic<bool> inner_left_its_thread{false};
  std::vector<std::atomic<int>> visits(20 * 30);
  parallel_for(20, 2, [&](std::size_t outer_begin, std::size_t) {
    const auto outer_thread = std::this_thread::get_id();
    parallel_for(30, -1, [&](std::size_t begin, std::size_t end) {
      if (std::this_thread::get_id() != outer_thread) inner_left_its_thread = true;
      for (std::size_t i = begin; i < end; ++i) visits[outer_begin * 30 + i].fetch_add(1);
    });
  });
  CHECK_FALSE(inner_left_its_thread.load());
  bool all_once = true;
  for (const auto& v : visits) all_once = all_once && v.load() == 1;
  CHECK(all_once);
  // Outside a parallel region the calling thread is free to parallelise again.
  CHECK_FALSE(redflag::detail::inside_parallel_region());
}

TEST_CASE("parallel_map_chunks keeps chunk order and handles awkward result types") {
  struct NoDefault {
    explicit NoDefault(std::size_t v) : value(v) {}
    std::size_t value;
  };
  for (int n_jobs : job_counts) {
    CAPTURE(n_jobs);
    const auto firsts = parallel_map_chunks(
        1000, n_jobs, [](std::size_t begin, std::size_t) { return NoDefault(begin); }, {.grain = 9});
    bool ordered = true;
    for (std::size_t c = 0; c < firsts.size(); ++c) ordered = ordered && firsts[c].value == c * 9;
    CHECK(ordered);
    CHECK(firsts.size() == chunk_count(1000, {.grain = 9}));
    // bool results: each chunk writes its own object (no std::vector<bool> bit races).
    const auto odd = parallel_map_chunks(1000, n_jobs, [](std::size_t begin, std::size_t) { return begin % 2 == 1; });
    bool alternating = true;
    for (std::size_t c = 0; c < odd.size(); ++c) alternating = alternating && odd[c] == (c % 2 == 1);
    CHECK(alternating);
  }
}
