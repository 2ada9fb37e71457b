#include <redflag/lifecycle/atomic_file.hpp>
#include <redflag/lifecycle/model_registry.hpp>

#include "lifecycle_test_support.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>

using redflag::IsolationForest;
using redflag::ModelRegistry;

namespace {

int temporaries_in(const std::filesystem::path& directory) {
  int count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory)) {
    count += redflag::detail::is_temporary_file(entry.path()) ? 1 : 0;
  }
  return count;
}

}  // namespace

TEST_CASE("write_file_atomically replaces a file and leaves no temporary behind") {
  const auto directory = redflag::test::fresh_directory("atomic_write");
  const auto path = directory / "state.json";
  redflag::detail::write_file_atomically(path, "first", "test");
  CHECK(redflag::test::read_file(path) == "first");
  redflag::detail::write_file_atomically(path, std::string(1 << 20, 'x'), "test");
  CHECK(redflag::test::read_file(path) == std::string(1 << 20, 'x'));
  redflag::detail::write_file_atomically(path, "", "test");
  CHECK(redflag::test::read_file(path).empty());
  CHECK(temporaries_in(directory) == 0);
}

TEST_CASE("a failed write names the step and leaves the old file") {
  const auto directory = redflag::test::fresh_directory("atomic_write_failure");
  CHECK_THROWS_WITH_AS(redflag::detail::write_file_atomically(directory / "missing" / "file", "x", "test"),
                       doctest::Contains("redflag::test: creating '"), redflag::io_error);
  // A directory in the way: the rename fails, the temporary is removed.
  std::filesystem::create_directories(directory / "occupied" / "child");
  CHECK_THROWS_WITH_AS(redflag::detail::write_file_atomically(directory / "occupied", "x", "test"),
                       doctest::Contains("failed"), redflag::io_error);
  CHECK(std::filesystem::is_directory(directory / "occupied" / "child"));
  CHECK(temporaries_in(directory) == 0);
}

// A child process registers and promotes large models in a loop; the parent
// kills it with SIGKILL as soon as it sees a temporary file, i.e. in the
// middle of writing a model, manifest or registry.json. Whatever was cut
// short, the registry opens and its active model loads intact.
TEST_CASE("a process killed mid-write never leaves a half-written active model") {
  const auto directory = redflag::test::fresh_directory("crash");
  const auto small = redflag::test::small_forest(1, 5);
  // ~2 MB on disk, so writing it takes a while.
  const auto large = redflag::test::small_forest(2, 250);
  const auto X = redflag::test::normal_rows(20, 3, 5);
  const redflag::Vector<double> small_scores = small.anomaly_score(X);
  const redflag::Vector<double> large_scores = large.anomaly_score(X);
  {
    ModelRegistry registry(directory);
    registry.register_model(small);
    registry.promote(1);
  }
  int caught_mid_write = 0;
  constexpr int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Only async-signal-safe exits from here: the child never returns to doctest.
      try {
        ModelRegistry registry(directory);
        for (int i = 0; i < 1000; ++i) {
          registry.promote(registry.register_model(i % 2 == 0 ? large : small));
        }
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
    // Round r kills at the (r + 1)-th distinct temporary seen, so the kills
    // land in different writes (model file, manifest, log, registry.json).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::set<std::string> seen;
    while (seen.size() <= static_cast<std::size_t>(round) && std::chrono::steady_clock::now() < deadline) {
      std::error_code ignored;  // files vanish while we iterate
      for (std::filesystem::recursive_directory_iterator entry(directory, ignored), end; !ignored && entry != end;
           entry.increment(ignored)) {
        if (redflag::detail::is_temporary_file(entry->path())) seen.insert(entry->path().filename().string());
      }
    }
    const bool mid_write = seen.size() > static_cast<std::size_t>(round);
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    caught_mid_write += mid_write ? 1 : 0;

    const ModelRegistry registry(directory);
    const auto active = registry.load_active<IsolationForest<double>>();
    const redflag::Vector<double> scores = active.model.anomaly_score(X);
    CHECK((scores == small_scores || scores == large_scores));
    // Every manifest is complete, and every listed model file matches its checksum.
    for (const auto& manifest : registry.history()) {
      CHECK_NOTHROW((void)registry.load<IsolationForest<double>>(manifest.version));
    }
  }
  MESSAGE("killed while a temporary file existed in " << caught_mid_write << " of " << rounds << " rounds");
  CHECK(caught_mid_write >= 1);
  // The next write removes the dead processes' temporaries.
  ModelRegistry registry(directory);
  registry.register_model(small);
  CHECK(temporaries_in(directory) == 0);
}

TEST_CASE("redflag::write_file_atomically is the public entry point, with the same guarantees") {
  const auto directory = std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) / "atomic_public";
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  const auto path = directory / "state.json";
  redflag::write_file_atomically(path, "{}\n");
  redflag::write_file_atomically(path, "{\"viewed\": true}\n");
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "{\"viewed\": true}\n");
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    CHECK_FALSE(redflag::detail::is_temporary_file(entry.path()));
  }
  CHECK_THROWS_WITH_AS(redflag::write_file_atomically(directory / "missing" / "state.json", "x"),
                       doctest::Contains("redflag::write_file_atomically"), redflag::io_error);
}
