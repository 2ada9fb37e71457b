// Golden RandomForest files: a model saved by each file format version and
// checked in under tests/forest/golden/ as rf_v<N>_<float32|float64>.bin /
// .json, with the probabilities it gave on the data below
// (rf_v<N>_<...>_proba.csv, hexadecimal floats, exact). Later versions must
// still load them and predict bit-identically.
//
// The current format's files are written, only when deliberately starting
// its set, by running with REDFLAG_WRITE_GOLDEN set:
//
//   REDFLAG_WRITE_GOLDEN=1 build/tests/test_forest_random_forest_golden

#include <redflag/core/serialization.hpp>
#include <redflag/forest/random_forest.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "../support/forest_test_support.hpp"

using redflag::Index;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::RandomForest;
using redflag::Schema;
using namespace redflag::test;

namespace {

const Schema classifier_schema = Schema::from_names({"amount", "hour", "velocity"});

// Three classes with labels that are not 0..k-1.
LabelVector golden_labels() {
  LabelVector y(49);
  const redflag::Label labels[] = {-1, 3, 7};
  for (Index i = 0; i < 48; ++i) y(i) = labels[(i * 5 + i / 7) % 3];
  y(48) = 7;
  return y;
}

template <class T>
std::filesystem::path golden_file(std::uint32_t version, const std::string& suffix) {
  return golden_dir() / ("rf_v" + std::to_string(version) + "_" + std::string(redflag::scalar_name<T>) + suffix);
}

// One line per row: the class probabilities, comma-separated.
template <class T>
std::vector<std::string> proba_lines(const Matrix<T>& proba) {
  std::vector<std::string> lines;
  for (Index i = 0; i < proba.rows(); ++i) {
    std::string line;
    for (Index k = 0; k < proba.cols(); ++k) line += (k == 0 ? "" : ",") + hex(proba(i, k));
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path.string());
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// The current format's golden model, fitted.
template <class T>
RandomForest<T> fit_current(const Matrix<T>& X) {
  RandomForest<T> model(
      {.n_estimators = 5, .max_depth = 4, .class_weight = redflag::ClassWeight::balanced, .random_state = 20261122});
  model.fit(X, golden_labels(), classifier_schema);
  return model;
}

std::string rf_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class T>
void write_current(const Matrix<T>& X) {
  using Model = RandomForest<T>;
  const Model model = fit_current(X);
  redflag::save(model, golden_file<T>(Model::format_version, ".bin"), redflag::Format::portable_binary);
  redflag::save(model, golden_file<T>(Model::format_version, ".json"), redflag::Format::json);
  std::ofstream out(golden_file<T>(Model::format_version, "_proba.csv"));
  for (const std::string& line : proba_lines(model.predict_proba(X))) out << line << '\n';
  REQUIRE(out.good());
  MESSAGE("wrote golden format-", Model::format_version, " files into ", golden_dir().string());
}

}  // namespace

TEST_CASE_TEMPLATE("RandomForest golden files load and predict bit-identically", T, float, double) {
  const Matrix<T> X = golden_data<T>();
  if (std::getenv("REDFLAG_WRITE_GOLDEN") != nullptr) write_current(X);

  for (std::uint32_t version = 1; version <= RandomForest<T>::format_version; ++version) {
    for (const char* extension : {".bin", ".json"}) {
      CAPTURE(version);
      CAPTURE(extension);
      const auto path = golden_file<T>(version, extension);
      CHECK(redflag::read_info(path).model_format_version == version);
      const auto model = redflag::load<RandomForest<T>>(path);
      CHECK(model.n_estimators() == 5);
      CHECK(model.schema() == classifier_schema);
      CHECK(model.classes() == (LabelVector(3) << -1, 3, 7).finished());
      const std::vector<std::string> expected = read_lines(golden_file<T>(version, "_proba.csv"));
      CHECK(proba_lines(model.predict_proba(X)) == expected);
      // The model the file holds predicts the same after another save and load.
      std::stringstream again;
      redflag::save(model, again);
      CHECK(proba_lines(redflag::load<RandomForest<T>>(again).predict_proba(X)) == expected);
    }
  }
}

// Refitting with the current format's golden parameters saves the very bytes
// of its files and predicts their probabilities, on every architecture the
// suite runs on (x86-64, and aarch64 under qemu in the aarch64 preset): a model
// fitted and saved on one loads and predicts bit-identically on the other.
TEST_CASE_TEMPLATE("refitting the current RandomForest golden model reproduces its files", T, float, double) {
  const Matrix<T> X = golden_data<T>();
  const RandomForest<T> model = fit_current(X);
  constexpr std::uint32_t version = RandomForest<T>::format_version;
  CHECK(proba_lines(model.predict_proba(X)) == read_lines(golden_file<T>(version, "_proba.csv")));
  std::ostringstream binary;
  redflag::save(model, binary, redflag::Format::portable_binary);
  CHECK(binary.str() == rf_file_bytes(golden_file<T>(version, ".bin")));
  // The JSON files predate the shortest round-trip number format: compared
  // with the checked-in file loaded and saved again.
  std::ostringstream json, resaved;
  redflag::save(model, json, redflag::Format::json);
  redflag::save(redflag::load<RandomForest<T>>(golden_file<T>(version, ".json")), resaved, redflag::Format::json);
  CHECK(json.str() == resaved.str());
}
