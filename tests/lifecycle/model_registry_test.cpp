#include <redflag/lifecycle/model_registry.hpp>

#include "lifecycle_test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>

using redflag::IsolationForest;
using redflag::ModelRegistry;
using redflag::ModelStatus;
using redflag::RandomForest;

namespace {

template <class Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const redflag::error& failure) {
    return failure.what();
  }
  return "";
}

redflag::ModelRecord record_for(std::int64_t end) {
  return {.params = {{"n_estimators", "10"}},
          .training_window = {end - 7 * 86400, end},
          .rows_used = 256,
          .metrics = {{"anomaly_rate", 0.05}},
          .created_at = end};
}

}  // namespace

TEST_CASE("register, promote, rollback and history") {
  const auto directory = redflag::test::fresh_directory("registry_flow");
  ModelRegistry registry(directory);
  CHECK_FALSE(registry.active().has_value());
  CHECK(registry.history().empty());

  const auto first = redflag::test::small_forest(1);
  const auto second = redflag::test::small_forest(2);
  const auto X = redflag::test::normal_rows(50, 3, 9);
  CHECK(registry.register_model(first, record_for(1000000)) == 1);
  CHECK(registry.manifest(1).status == ModelStatus::candidate);
  CHECK_FALSE(registry.active().has_value());
  registry.promote(1, "initial model");
  REQUIRE(registry.active().has_value());
  CHECK(registry.active()->version == 1);

  CHECK(registry.register_model(second, record_for(2000000)) == 2);
  const auto manifest = registry.manifest(2);
  CHECK(manifest.model_type == "IsolationForest");
  CHECK(manifest.scalar == "float64");
  CHECK(manifest.parent_version == 1);
  CHECK(manifest.created_at == 2000000);
  CHECK(manifest.training_window == redflag::TimeWindow{2000000 - 7 * 86400, 2000000});
  CHECK(manifest.rows_used == 256);
  CHECK(manifest.params.at("n_estimators") == "10");
  CHECK(manifest.metrics.at("anomaly_rate") == 0.05);

  registry.promote(2, "fresher data");
  CHECK(registry.active()->version == 2);
  CHECK(registry.manifest(1).status == ModelStatus::retired);
  CHECK(registry.load_active<IsolationForest<double>>().model.anomaly_score(X) == second.anomaly_score(X));

  CHECK(registry.rollback("alerts doubled") == 1);
  CHECK(registry.active()->version == 1);
  CHECK(registry.manifest(2).status == ModelStatus::retired);
  CHECK(registry.manifest(2).status_reason == "rolled back: alerts doubled");
  const auto loaded = registry.load_active<IsolationForest<double>>();
  CHECK(loaded.version == 1);
  CHECK(loaded.model.anomaly_score(X) == first.anomaly_score(X));

  const auto history = registry.history();
  REQUIRE(history.size() == 2);
  CHECK(history[0].status == ModelStatus::active);
  CHECK(history[1].status == ModelStatus::retired);

  const auto log = registry.decisions();
  REQUIRE(log.size() == 5);
  CHECK(log[0].action == "register");
  CHECK(log[1].action == "promote");
  CHECK(log[1].reason == "initial model");
  CHECK(log[3].action == "promote");
  CHECK(log[4].action == "rollback");
  CHECK(log[4].version == 1);
  for (std::size_t i = 0; i < log.size(); ++i) CHECK(log[i].sequence == i + 1);

  // Another process (here: another object) sees the same registry.
  const ModelRegistry reopened(directory);
  CHECK(reopened.active()->version == 1);
  CHECK(reopened.history() == history);
}

TEST_CASE("the registry holds any serializable model and checks the type on load") {
  const auto directory = redflag::test::fresh_directory("registry_types");
  ModelRegistry registry(directory);
  const auto X = redflag::test::normal_rows(300, 3, 4);
  RandomForest<double> classifier({.n_estimators = 5, .random_state = 1});
  classifier.fit(X, redflag::test::threshold_labels(X));
  const auto forest_version = registry.register_model(redflag::test::small_forest(3));
  const auto classifier_version = registry.register_model(classifier);
  CHECK(registry.manifest(classifier_version).model_type == "RandomForestClassifier");
  CHECK(registry.load<RandomForest<double>>(classifier_version).predict_proba(X) == classifier.predict_proba(X));
  CHECK_THROWS_WITH_AS((void)registry.load<IsolationForest<double>>(classifier_version),
                       "redflag::ModelRegistry::load: version 2 holds RandomForestClassifier (float64), expected "
                       "IsolationForest (float64)",
                       redflag::serialization_error);
  CHECK_THROWS_AS((void)registry.load<IsolationForest<float>>(forest_version), redflag::serialization_error);
}

TEST_CASE("bad requests are refused and leave the active model in place") {
  const auto directory = redflag::test::fresh_directory("registry_bad_requests");
  ModelRegistry registry(directory);
  CHECK_THROWS_WITH_AS(registry.rollback(), "redflag::ModelRegistry::rollback: no version is active",
                       redflag::invalid_argument);
  registry.register_model(redflag::test::small_forest(1));
  registry.promote(1);
  CHECK_THROWS_WITH_AS(registry.promote(7),
                       doctest::Contains("redflag::ModelRegistry::manifest: version 7 is not registered"),
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(registry.promote(1), "redflag::ModelRegistry::promote: version 1 is already active",
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(registry.rollback(),
                       "redflag::ModelRegistry::rollback: version 1 is the first active version; there is none to "
                       "roll back to",
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(registry.reject(1, "no"), "redflag::ModelRegistry::reject: version 1 is active, not a candidate",
                       redflag::invalid_argument);
  redflag::ModelRecord bad_metrics;
  bad_metrics.metrics["auc"] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(registry.register_model(redflag::test::small_forest(2), bad_metrics),
                       "redflag::ModelRegistry::register_model: metric 'auc' is NaN (finite values required)",
                       redflag::invalid_argument);
  redflag::ModelRecord backwards;
  backwards.training_window = {10, 5};
  CHECK_THROWS_AS(registry.register_model(redflag::test::small_forest(2), backwards), redflag::invalid_argument);
  CHECK(registry.history().size() == 1);
  CHECK(registry.active()->version == 1);
}

TEST_CASE("a corrupt model file is never promoted or loaded") {
  const auto directory = redflag::test::fresh_directory("registry_checksum");
  ModelRegistry registry(directory);
  const auto first = redflag::test::small_forest(1);
  registry.register_model(first);
  registry.promote(1);
  registry.register_model(redflag::test::small_forest(2));
  const auto path = directory / "models" / "v000002.model";
  std::string bytes = redflag::test::read_file(path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  redflag::test::write_file(path, bytes);
  CHECK_THROWS_WITH_AS(registry.promote(2),
                       doctest::Contains("does not match the checksum in the manifest of version 2"),
                       redflag::serialization_error);
  CHECK_THROWS_AS((void)registry.load<IsolationForest<double>>(2), redflag::serialization_error);
  // Truncated, too.
  redflag::test::write_file(path, bytes.substr(0, 100));
  CHECK_THROWS_AS(registry.promote(2), redflag::serialization_error);
  std::filesystem::remove(path);
  CHECK_THROWS_WITH_AS(registry.promote(2), doctest::Contains("the model file of version 2 is missing"),
                       redflag::serialization_error);
  const auto X = redflag::test::normal_rows(20, 3, 3);
  CHECK(registry.active()->version == 1);
  CHECK(registry.load_active<IsolationForest<double>>().model.anomaly_score(X) == first.anomaly_score(X));
}

TEST_CASE("missing or corrupt manifests are reported; the active model stays loadable") {
  const auto directory = redflag::test::fresh_directory("registry_manifests");
  {
    ModelRegistry registry(directory);
    registry.register_model(redflag::test::small_forest(1));
    registry.promote(1);
    registry.register_model(redflag::test::small_forest(2));
  }
  const auto candidate = directory / "manifests" / "v000002.json";
  const std::string text = redflag::test::read_file(candidate);
  // Truncated JSON (what a non-atomic writer could leave).
  redflag::test::write_file(candidate, text.substr(0, text.size() / 2));
  ModelRegistry registry(directory);
  CHECK_THROWS_WITH_AS((void)registry.history(), doctest::Contains("v000002.json: malformed or incomplete JSON"),
                       redflag::serialization_error);
  CHECK(registry.active()->version == 1);
  CHECK_NOTHROW((void)registry.load_active<IsolationForest<double>>());
  // A field of the wrong type, a missing field, an unknown status.
  std::string wrong = text;
  wrong.replace(wrong.find("\"rows_used\": 0"), 14, "\"rows_used\": \"many\"");
  redflag::test::write_file(candidate, wrong);
  CHECK_THROWS_AS((void)registry.manifest(2), redflag::serialization_error);
  std::string missing = text;
  missing.replace(missing.find("\"scalar\""), 8, "\"scalar_\"");
  redflag::test::write_file(candidate, missing);
  CHECK_THROWS_AS((void)registry.manifest(2), redflag::serialization_error);
  std::string status = text;
  status.replace(status.find("\"candidate\""), 11, "\"pending\"");
  redflag::test::write_file(candidate, status);
  CHECK_THROWS_WITH_AS((void)registry.manifest(2), doctest::Contains("status 'pending' is not candidate"),
                       redflag::serialization_error);
  redflag::test::write_file(candidate, text);
  CHECK(registry.manifest(2).status == ModelStatus::candidate);

  // The active version's manifest gone: a clear error, not "no active model".
  std::filesystem::rename(directory / "manifests" / "v000001.json", directory / "v000001.json.bak");
  CHECK_THROWS_WITH_AS((void)registry.active(), doctest::Contains("the manifest of the active version 1 is missing"),
                       redflag::serialization_error);
  std::filesystem::rename(directory / "v000001.json.bak", directory / "manifests" / "v000001.json");
  CHECK(registry.active()->version == 1);

  // registry.json corrupt or lost.
  const std::string state = redflag::test::read_file(directory / "registry.json");
  redflag::test::write_file(directory / "registry.json", state.substr(0, 10));
  CHECK_THROWS_AS(ModelRegistry{directory}, redflag::serialization_error);
  std::filesystem::remove(directory / "registry.json");
  CHECK_THROWS_WITH_AS(ModelRegistry{directory}, doctest::Contains("is missing but the registry holds manifests"),
                       redflag::serialization_error);
  redflag::test::write_file(directory / "registry.json", state);
  CHECK(ModelRegistry(directory).active()->version == 1);
}

TEST_CASE("registry.json decides the active version when a manifest update was cut short") {
  const auto directory = redflag::test::fresh_directory("registry_commit_point");
  ModelRegistry registry(directory);
  registry.register_model(redflag::test::small_forest(1));
  registry.promote(1);
  registry.register_model(redflag::test::small_forest(2));
  const std::string old_manifest = redflag::test::read_file(directory / "manifests" / "v000001.json");
  registry.promote(2);
  // As if the process died after committing registry.json but before
  // rewriting version 1's manifest: it still says "active".
  redflag::test::write_file(directory / "manifests" / "v000001.json", old_manifest);
  CHECK(registry.active()->version == 2);
  CHECK(registry.manifest(1).status == ModelStatus::retired);
}

TEST_CASE("concurrent readers always see complete manifests while a writer promotes") {
  const auto directory = redflag::test::fresh_directory("registry_concurrent");
  ModelRegistry registry(directory);
  registry.register_model(redflag::test::small_forest(1, 2));
  registry.register_model(redflag::test::small_forest(2, 2));
  registry.promote(1);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    const ModelRegistry view(directory);
    while (!done.load()) {
      try {
        const auto active = view.active();
        if (!active || (active->version != 1 && active->version != 2)) ++failures;
        for (const auto& manifest : view.history()) {
          if (manifest.model_type != "IsolationForest") ++failures;
        }
        ++reads;
      } catch (const redflag::error&) {
        ++failures;
      }
    }
  });
  for (int i = 0; i < 30; ++i) registry.promote(i % 2 == 0 ? 2 : 1);
  done.store(true);
  reader.join();
  CHECK(failures.load() == 0);
  CHECK(reads.load() > 0);
}
