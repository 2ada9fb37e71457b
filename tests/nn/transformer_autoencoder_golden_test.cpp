// Golden TransformerAutoencoder files: a small fitted model saved by each
// format version and checked in under tests/nn/golden/ as
// transformer_autoencoder_v<N>_<float32|float64>.bin / .json, with the scores
// it gave on the windows below (..._scores.csv, hexadecimal floats, exact).
// Later builds must still load every version and score bit-identically;
// saving a model loaded from the current version's files must give the
// file's bytes back (version 1 saved n_jobs, which version 2 no longer does).
//
// They are written, only when deliberately starting a format version's set
// (a new format_version gets files of its own beside these), by running with
// REDFLAG_WRITE_GOLDEN set:
//
//   REDFLAG_WRITE_GOLDEN=1 build/tests/test_nn --source-file='*/nn/transformer_autoencoder_golden_test.cpp'
//
// When the forward pass's arithmetic changes on purpose (not the file
// format), only the scores are rewritten, from the checked-in model files:
//
//   REDFLAG_WRITE_GOLDEN_SCORES=1 build/tests/test_nn --source-file='*/nn/transformer_autoencoder_golden_test.cpp'
//
// The scores are a network's forward pass through the kernels of
// simd/detail/nn_kernels.hpp, which compute the same bits on every SIMD path
// and with any compiler flags (fused multiply-adds written out, fixed
// reduction orders), so they hold for every test configuration.

#include <redflag/core/serialization.hpp>
#include <redflag/nn/transformer_autoencoder.hpp>
#include <redflag/version.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

using redflag::Index;
using redflag::Matrix;
using redflag::TransformerAutoencoder;
using redflag::Vector;

namespace {

std::filesystem::path tae_golden_dir() { return std::filesystem::path(REDFLAG_SOURCE_DIR) / "tests" / "nn" / "golden"; }

template <class T>
std::filesystem::path tae_golden_file(const std::string& suffix,
                                      std::uint32_t version = TransformerAutoencoder<T>::format_version) {
  return tae_golden_dir() /
         ("transformer_autoencoder_v" + std::to_string(version) + "_" + std::string(redflag::scalar_name<T>) + suffix);
}

// 24 windows of 4 positions x 3 features from integer arithmetic only (no
// random generator, so the data cannot drift with the library); every value
// is exact in float and double. The last window is far from the others.
template <class T>
Matrix<T> tae_golden_windows() {
  Matrix<T> X(24, 12);
  for (Index i = 0; i < 23; ++i) {
    for (Index j = 0; j < 12; ++j) X(i, j) = static_cast<T>((i * (5 + 2 * j) + 3 * j) % 17 - 8) / T(8);
  }
  for (Index j = 0; j < 12; ++j) X(23, j) = static_cast<T>(j % 2 == 0 ? 3 : -3);
  return X;
}

template <class T>
std::string tae_hex(T value) {
  char text[64];
  std::snprintf(text, sizeof text, "%a", static_cast<double>(value));
  return text;
}

template <class T>
std::vector<std::string> tae_score_lines(const Vector<T>& scores) {
  std::vector<std::string> lines;
  for (Index i = 0; i < scores.size(); ++i) lines.push_back(tae_hex(scores(i)));
  return lines;
}

std::string tae_read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> tae_read_lines(const std::filesystem::path& path) {
  std::istringstream in(tae_read_bytes(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

template <class T>
void tae_write_golden(const Matrix<T>& X) {
  TransformerAutoencoder<T> model({.window = 4,
                                   .d_model = 4,
                                   .heads = 2,
                                   .encoder_layers = 1,
                                   .decoder_layers = 1,
                                   .ffn = 8,
                                   .batch_size = 4,
                                   .epochs = 3,
                                   .contamination = 0.05,
                                   .random_state = 20260301});
  model.fit(X);
  redflag::save(model, tae_golden_file<T>(".bin"), redflag::Format::portable_binary);
  redflag::save(model, tae_golden_file<T>(".json"), redflag::Format::json);
  std::ofstream out(tae_golden_file<T>("_scores.csv"));
  for (const std::string& line : tae_score_lines(model.anomaly_score(X))) out << line << '\n';
  REQUIRE(out.good());
  MESSAGE("wrote golden TransformerAutoencoder files into ", tae_golden_dir().string());
}

// Rewrites only the expected scores of a version's model files (which stay
// as they are), for when the arithmetic of the forward pass changes.
template <class T>
void tae_write_golden_scores(const Matrix<T>& X, std::uint32_t version) {
  const auto model = redflag::load<TransformerAutoencoder<T>>(tae_golden_file<T>(".bin", version));
  std::ofstream out(tae_golden_file<T>("_scores.csv", version));
  for (const std::string& line : tae_score_lines(model.anomaly_score(X))) out << line << '\n';
  REQUIRE(out.good());
  MESSAGE("rewrote ", tae_golden_file<T>("_scores.csv", version).string());
}

}  // namespace

TEST_CASE_TEMPLATE("TransformerAutoencoder golden files load, score and save bit-identically", T, float, double) {
  const Matrix<T> X = tae_golden_windows<T>();
  if (std::getenv("REDFLAG_WRITE_GOLDEN") != nullptr) tae_write_golden(X);

  for (std::uint32_t version = 1; version <= TransformerAutoencoder<T>::format_version; ++version) {
    if (std::getenv("REDFLAG_WRITE_GOLDEN_SCORES") != nullptr) tae_write_golden_scores<T>(X, version);
    const std::vector<std::string> expected = tae_read_lines(tae_golden_file<T>("_scores.csv", version));
    for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
      const auto path = tae_golden_file<T>(format == redflag::Format::json ? ".json" : ".bin", version);
      CAPTURE(path.string());
      const auto info = redflag::read_info(path);
      CHECK(info.model_type == "TransformerAutoencoder");
      CHECK(info.model_format_version == version);
      CHECK(info.scalar == redflag::scalar_name<T>);
      const auto model = redflag::load<TransformerAutoencoder<T>>(path);
      REQUIRE(model.is_fitted());
      CHECK(model.n_features() == 3);
      CHECK(model.params().window == 4);
      CHECK(model.params().random_state == 20260301);
      const Vector<T> scores = model.anomaly_score(X);
      CHECK(tae_score_lines(scores) == expected);
      // The far window scores highest, and is flagged.
      Index highest = 0;
      scores.maxCoeff(&highest);
      CHECK(highest == 23);
      CHECK(model.predict(X)(23) == 1);

      std::stringstream again;
      redflag::save(model, again, format);
      const std::string file = tae_read_bytes(path);
      if (version < TransformerAutoencoder<T>::format_version) {
        // An older version's model, saved by this build, scores the same.
        CHECK(tae_score_lines(redflag::load<TransformerAutoencoder<T>>(again).anomaly_score(X)) == expected);
      } else if (info.library_version == redflag::version_string) {
        CHECK(again.str() == file);
      } else {
        // The envelope records the library version, so a later release's bytes
        // differ there; the model's own encoding must not.
        const auto resaved = redflag::read_info(again);
        CHECK(resaved.payload_bytes == info.payload_bytes);
        CHECK(resaved.payload_checksum == info.payload_checksum);
      }
    }
  }
}
