#include <redflag/forest/isolation_forest.hpp>
#include <redflag/lifecycle/model_handle.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

// A model whose every weight is a function of its version, so a score
// computed from a mix of two versions (a torn read) cannot match either.
struct TaggedModel {
  std::uint64_t tag = 0;
  std::array<double, 32> weights{};

  explicit TaggedModel(std::uint64_t version) : tag(version) {
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = expected_weight(version, i);
  }

  static double expected_weight(std::uint64_t version, std::size_t i) { return static_cast<double>(version * 131 + i); }

  [[nodiscard]] double score(double x) const {
    double total = 0.0;
    for (const double weight : weights) total += weight * x;
    return total;
  }

  // What version `version` scores for x, computed independently of any instance.
  static double expected_score(std::uint64_t version, double x) {
    double total = 0.0;
    for (std::size_t i = 0; i < 32; ++i) total += expected_weight(version, i) * x;
    return total;
  }
};

}  // namespace

TEST_CASE("ModelHandle is empty until the first publish") {
  redflag::ModelHandle<TaggedModel> handle;
  CHECK(handle.snapshot() == nullptr);
  CHECK(handle.version() == 0);
  handle.publish(TaggedModel(7), 7);
  REQUIRE(handle.snapshot() != nullptr);
  CHECK(handle.version() == 7);
  CHECK(handle.snapshot()->model.tag == 7);
  handle.publish(nullptr);
  CHECK(handle.snapshot() == nullptr);
}

TEST_CASE("A snapshot keeps its model after later publishes") {
  redflag::ModelHandle<TaggedModel> handle(TaggedModel(1), 1);
  const auto first = handle.snapshot();
  for (std::uint64_t version = 2; version <= 5; ++version) handle.publish(TaggedModel(version), version);
  CHECK(first->version == 1);
  CHECK(first->model.score(2.0) == TaggedModel::expected_score(1, 2.0));
  CHECK(handle.version() == 5);
}

TEST_CASE("Scoring threads see only complete versions while the model is swapped 1,000 times") {
  constexpr std::uint64_t swaps = 1000;
  constexpr int scorers = 4;
  redflag::ModelHandle<TaggedModel> handle(TaggedModel(1), 1);
  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::array<std::uint64_t, scorers> scores{};
  std::array<std::uint64_t, scorers> failures{};
  std::array<std::uint64_t, scorers> versions_seen{};
  std::vector<std::thread> threads;
  for (int t = 0; t < scorers; ++t) {
    threads.emplace_back([&, t] {
      std::uint64_t last_version = 0;
      const double x = 1.0 + t;
      // Score until the promoter is done, then once more so the final version is seen.
      for (bool last = false; !last;) {
        last = done.load();
        const auto snapshot = handle.snapshot();
        if (snapshot->version == 1 && last_version == 0) started.fetch_add(1);
        const double score = snapshot->model.score(x);
        ++scores[static_cast<std::size_t>(t)];
        // The score is exactly what the snapshot's version produces, the
        // model is the one published under that version, and versions never
        // go backwards for one thread.
        if (score != TaggedModel::expected_score(snapshot->version, x) || snapshot->model.tag != snapshot->version ||
            snapshot->version < last_version) {
          ++failures[static_cast<std::size_t>(t)];
        }
        if (snapshot->version != last_version) ++versions_seen[static_cast<std::size_t>(t)];
        last_version = snapshot->version;
      }
      if (last_version != swaps + 1) ++failures[static_cast<std::size_t>(t)];
    });
  }
  // Every scorer has scored with version 1 before the first swap.
  while (started.load() < scorers) std::this_thread::yield();
  for (std::uint64_t version = 2; version <= swaps + 1; ++version) {
    handle.publish(TaggedModel(version), version);
    if (version % 64 == 0) std::this_thread::yield();  // let scorers run on a busy machine
  }
  done.store(true);
  for (auto& thread : threads) thread.join();
  std::uint64_t total_scores = 0;
  for (int t = 0; t < scorers; ++t) {
    CHECK(failures[static_cast<std::size_t>(t)] == 0);
    CHECK(versions_seen[static_cast<std::size_t>(t)] >= 2);  // each thread saw the model change
    total_scores += scores[static_cast<std::size_t>(t)];
  }
  MESSAGE("scores: " << total_scores << " across " << scorers << " threads, " << swaps << " swaps");
  CHECK(handle.version() == swaps + 1);
}

TEST_CASE("ModelHandle serves an IsolationForest") {
  redflag::Random rng(11);
  redflag::Matrix<double> X(200, 3);
  for (redflag::Index i = 0; i < X.size(); ++i) X.data()[i] = rng.normal<double>();
  redflag::IsolationForest<double> forest({.n_estimators = 10, .random_state = 3});
  forest.fit(X);
  const redflag::Vector<double> expected = forest.anomaly_score(X);
  redflag::ModelHandle<redflag::IsolationForest<double>> handle(forest, 4);
  const auto snapshot = handle.snapshot();
  CHECK(snapshot->version == 4);
  CHECK(snapshot->model.anomaly_score(X) == expected);
}
