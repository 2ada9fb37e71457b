#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/nn/transformer_autoencoder.hpp>

#include <doctest/doctest.h>

#include <cereal/archives/json.hpp>

#include <sstream>
#include <string>

using redflag::Index;
using redflag::Matrix;
using redflag::Random;
using redflag::TransformerAutoencoder;
using redflag::Vector;

static_assert(redflag::SerializableModel<TransformerAutoencoder<float>>);
static_assert(redflag::SerializableModel<TransformerAutoencoder<double>>);

namespace {

template <class T>
Matrix<T> noise_windows(Index count, Index columns, std::uint64_t seed) {
  Random random(seed);
  Matrix<T> X(count, columns);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = random.normal<T>();
  return X;
}

template <class T>
TransformerAutoencoder<T> fitted_model() {
  TransformerAutoencoder<T> model({.window = 4,
                                   .d_model = 4,
                                   .heads = 2,
                                   .encoder_layers = 1,
                                   .decoder_layers = 1,
                                   .ffn = 8,
                                   .batch_size = 4,
                                   .epochs = 2,
                                   .random_state = 8});
  model.fit(noise_windows<T>(12, 12, 1));
  return model;
}

template <class T>
TransformerAutoencoder<T> round_trip(const TransformerAutoencoder<T>& model, redflag::Format format) {
  std::stringstream stream;
  redflag::save(model, stream, format);
  return redflag::load<TransformerAutoencoder<T>>(stream);
}

}  // namespace

TEST_CASE_TEMPLATE("TransformerAutoencoder round-trips and scores bit for bit", T, float, double) {
  const TransformerAutoencoder<T> model = fitted_model<T>();
  const Matrix<T> X = noise_windows<T>(5, 12, 2);
  const Vector<T> scores = model.anomaly_score(X);
  for (const auto format : {redflag::Format::portable_binary, redflag::Format::json}) {
    const TransformerAutoencoder<T> loaded = round_trip(model, format);
    REQUIRE(loaded.is_fitted());
    CHECK(loaded.n_features() == 3);
    CHECK(loaded.params().d_model == 4);
    CHECK(loaded.params().random_state == 8);
    CHECK(loaded.best_epoch() == model.best_epoch());
    CHECK(loaded.history().size() == model.history().size());
    CHECK(loaded.history().back().validation == model.history().back().validation);
    CHECK((loaded.anomaly_score(X).array() == scores.array()).all());
  }
  const TransformerAutoencoder<T> unfitted = round_trip(TransformerAutoencoder<T>(), redflag::Format::portable_binary);
  CHECK_FALSE(unfitted.is_fitted());
  CHECK(unfitted.params().window == 60);
}

TEST_CASE("TransformerAutoencoder sizes its batch buffers by the windows there are, not by batch_size") {
  // The largest batch_size allowed, on 12 windows: the buffers hold 12
  // windows' worth (at batch_size they would take gigabytes).
  TransformerAutoencoder<float> model({.window = 4,
                                       .d_model = 4,
                                       .heads = 2,
                                       .encoder_layers = 1,
                                       .decoder_layers = 1,
                                       .ffn = 8,
                                       .batch_size = TransformerAutoencoder<float>::max_batch_size,
                                       .epochs = 2,
                                       .random_state = 8});
  const Matrix<float> X = noise_windows<float>(12, 12, 1);
  model.fit(X);
  CHECK(model.anomaly_score(X).allFinite());
  CHECK_THROWS_AS(
      TransformerAutoencoder<float>({.batch_size = TransformerAutoencoder<float>::max_batch_size + 1}).fit(X),
      redflag::invalid_argument);
}

TEST_CASE("TransformerAutoencoder rejects damaged files") {
  const TransformerAutoencoder<double> model = fitted_model<double>();
  std::stringstream stream;
  redflag::save(model, stream);
  const std::string bytes = stream.str();
  std::stringstream truncated(bytes.substr(0, bytes.size() - 40));
  CHECK_THROWS_AS(redflag::load<TransformerAutoencoder<double>>(truncated), redflag::serialization_error);
  std::stringstream other_scalar(bytes);
  CHECK_THROWS_AS(redflag::load<TransformerAutoencoder<float>>(other_scalar), redflag::serialization_error);

  // Fields that contradict each other, written without the envelope (whose
  // checksum would reject any edit first).
  const auto load_edited = [&](const std::string& from, const std::string& to) {
    std::stringstream raw;
    {
      cereal::JSONOutputArchive out(raw);
      TransformerAutoencoder<double> copy = model;
      copy.serialize(out, 1);
    }
    std::string text = raw.str();
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    std::stringstream edited(text);
    cereal::JSONInputArchive in(edited);
    TransformerAutoencoder<double> target;
    target.serialize(in, 1);
  };
  CHECK_NOTHROW(load_edited("\"ffn\": 8", "\"ffn\": 8"));
  CHECK_THROWS_WITH_AS(load_edited("\"ffn\": 8", "\"ffn\": 9"),
                       doctest::Contains("holds 375 weights, its params need 393"), redflag::serialization_error);
  CHECK_THROWS_WITH_AS(load_edited("\"heads\": 2", "\"heads\": 3"),
                       doctest::Contains("TransformerAutoencoder: d_model must be a positive multiple of heads"),
                       redflag::serialization_error);
  // Regression (found by fuzzing): window * features overflowed in the shape check.
  CHECK_THROWS_WITH_AS(load_edited("\"window\": 4", "\"window\": 4611686018427387904"),
                       doctest::Contains("has 3 features and 12 columns"), redflag::serialization_error);
  // Regression: an unbounded batch_size made the first anomaly_score ask for terabytes.
  CHECK_THROWS_WITH_AS(load_edited("\"batch_size\": 4", "\"batch_size\": 4000000000000"),
                       doctest::Contains("batch_size must be in [1, 1048576]"), redflag::serialization_error);
  CHECK_THROWS_WITH_AS(load_edited("\"best_epoch\": ", "\"best_epoch\": 7"),
                       doctest::Contains("inconsistent training history"), redflag::serialization_error);
}
