// Golden model files: IsolationForest models saved by format version 1 and
// checked in under tests/forest/golden/, with the scores they gave on the
// data below. Later versions must still load them and score bit-identically.
//
// To regenerate (only when deliberately starting a new golden set — the
// point is that old files keep working), run with REDFLAG_WRITE_GOLDEN set:
//
//   REDFLAG_WRITE_GOLDEN=1 build/tests/test_forest_isolation_forest_golden
//
// It writes isolation_forest_<float32|float64>.bin / .json and
// scores_<float32|float64>.csv (hexadecimal floats, exact)
// in tests/forest/golden/ of the source tree.

#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using redflag::Index;
using redflag::IsolationForest;
using redflag::Matrix;
using redflag::Vector;

namespace {

const std::filesystem::path golden_dir = std::filesystem::path(REDFLAG_SOURCE_DIR) / "tests" / "forest" / "golden";

// 48 rows x 3 columns from integer arithmetic only (no random generator, so
// the data cannot drift with the library), plus one far-away row. Every
// value is exact in float and double.
template <class T>
Matrix<T> golden_data() {
  Matrix<T> X(49, 3);
  for (Index i = 0; i < 48; ++i) {
    for (Index j = 0; j < 3; ++j) X(i, j) = static_cast<T>((i * (7 + 2 * j) + 5 * j) % 19) / T(4);
  }
  X.row(48) << T(12), T(-6), T(9.5);
  return X;
}

template <class T>
std::filesystem::path model_file(const char* extension) {
  return golden_dir / ("isolation_forest_" + std::string(redflag::scalar_name<T>) + extension);
}

template <class T>
std::filesystem::path scores_file() {
  return golden_dir / ("scores_" + std::string(redflag::scalar_name<T>) + ".csv");
}

// Hexadecimal floating point: exact, and parsed back by strtod / strtof.
template <class T>
std::string hex(T value) {
  char text[64];
  std::snprintf(text, sizeof text, "%a", static_cast<double>(value));
  return text;
}

template <class T>
std::vector<T> read_scores(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path.string());
  std::vector<T> scores;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty()) scores.push_back(static_cast<T>(std::strtod(line.c_str(), nullptr)));
  }
  return scores;
}

}  // namespace

TEST_CASE_TEMPLATE("IsolationForest golden files (format v1) load and score bit-identically", T, float, double) {
  const Matrix<T> X = golden_data<T>();
  if (std::getenv("REDFLAG_WRITE_GOLDEN") != nullptr) {
    IsolationForest<T> model({.n_estimators = 10, .max_samples = Index{32}, .contamination = 0.1,
                              .max_features = 1.0, .random_state = 20240601});
    model.fit(X, redflag::Schema::from_names({"amount", "hour", "velocity"}));
    redflag::save(model, model_file<T>(".bin"), redflag::Format::portable_binary);
    redflag::save(model, model_file<T>(".json"), redflag::Format::json);
    std::ofstream out(scores_file<T>());
    out << "anomaly_score\n";
    const Vector<T> scores = model.anomaly_score(X);
    for (Index i = 0; i < scores.size(); ++i) out << hex(scores(i)) << '\n';
    MESSAGE("wrote golden files for ", redflag::scalar_name<T>, " into ", golden_dir.string());
  }

  const std::vector<T> expected = read_scores<T>(scores_file<T>());
  REQUIRE(expected.size() == static_cast<std::size_t>(X.rows()));
  for (const char* extension : {".bin", ".json"}) {
    CAPTURE(extension);
    const auto model = redflag::load<IsolationForest<T>>(model_file<T>(extension));
    CHECK(model.n_estimators() == 10);
    CHECK(model.max_samples() == 32);
    CHECK(model.schema() == redflag::Schema::from_names({"amount", "hour", "velocity"}));
    const Vector<T> scores = model.anomaly_score(X);
    for (Index i = 0; i < X.rows(); ++i) {
      CAPTURE(i);
      CHECK(hex(scores(i)) == hex(expected[static_cast<std::size_t>(i)]));
    }
    // The far-away row is flagged, and predict agrees with the saved threshold.
    CHECK(model.predict(X)(48) == 1);
    CHECK(model.predict(X) == (scores.array() >= model.threshold()).template cast<redflag::Label>().matrix());
  }
}
