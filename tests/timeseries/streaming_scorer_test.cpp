#include <redflag/nn/transformer_autoencoder.hpp>
#include <redflag/timeseries/ohlcv_simulator.hpp>
#include <redflag/timeseries/sliding_windows.hpp>
#include <redflag/timeseries/streaming_scorer.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <limits>
#include <memory>
#include <vector>

using redflag::Index;
using redflag::Matrix;
using redflag::TransformerAutoencoder;
using redflag::Vector;

namespace {

std::shared_ptr<const TransformerAutoencoder<double>> fitted_model(const Matrix<double>& series) {
  auto model = std::make_shared<TransformerAutoencoder<double>>(
      TransformerAutoencoder<double>::Params{.window = 6,
                                             .d_model = 8,
                                             .heads = 2,
                                             .encoder_layers = 1,
                                             .decoder_layers = 1,
                                             .ffn = 8,
                                             .batch_size = 16,
                                             .epochs = 2,
                                             .contamination = 0.1,
                                             .scaling = redflag::WindowScaler<double>::Params{},
                                             .random_state = 5});
  model->fit(redflag::sliding_windows(series, 6));
  return model;
}

}  // namespace

TEST_CASE("StreamingWindowScorer scores each bar's window as the batch scorer does") {
  const Matrix<double> series =
      redflag::OhlcvSimulator<double>({.bars = 120, .bars_per_day = 30, .random_state = 3}).generate();
  const auto model = fitted_model(series.topRows(80));
  const Vector<double> batch = model->anomaly_score(redflag::sliding_windows(series, 6));

  redflag::StreamingWindowScorer<TransformerAutoencoder<double>> stream(model);
  Index scored = 0, flagged = 0;
  for (Index t = 0; t < series.rows(); ++t) {
    const auto result = stream.push(std::span<const double>(series.row(t).data(), 5));
    if (t < 5) {
      CHECK_FALSE(result.has_value());
      continue;
    }
    REQUIRE(result.has_value());
    CHECK(result->bar == t);
    // Batch scoring stacks windows in groups: equal up to rounding.
    CHECK(result->score == doctest::Approx(batch(t - 5)).epsilon(1e-12));
    CHECK(result->anomaly == (result->score >= model->threshold()));
    ++scored;
    flagged += result->anomaly ? 1 : 0;
  }
  CHECK(scored == batch.size());
  CHECK(std::abs(flagged - (batch.array() >= model->threshold()).count()) <= 1);
  CHECK(stream.bars() == 120);

  stream.reset();
  CHECK(stream.bars() == 0);
  CHECK_FALSE(stream.push(std::span<const double>(series.row(0).data(), 5)).has_value());
}

TEST_CASE("StreamingWindowScorer rejects bad bars and leaves its window as it was") {
  const Matrix<double> series =
      redflag::OhlcvSimulator<double>({.bars = 60, .bars_per_day = 30, .random_state = 4}).generate();
  const auto model = fitted_model(series);
  redflag::StreamingWindowScorer<TransformerAutoencoder<double>> stream(model), clean(model);
  for (Index t = 0; t < 10; ++t) {
    (void)stream.push(std::span<const double>(series.row(t).data(), 5));
    (void)clean.push(std::span<const double>(series.row(t).data(), 5));
  }
  std::vector<double> bad(series.row(10).data(), series.row(10).data() + 5);
  bad[3] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS((void)stream.push(bad), doctest::Contains("bar 10 has NaN in column 3"), redflag::data_error);
  CHECK_THROWS_WITH_AS((void)stream.push(std::span<const double>(bad.data(), 4)),
                       doctest::Contains("bar 10 has 4 values, the model takes 5"), redflag::invalid_argument);
  CHECK(stream.bars() == 10);
  const auto after = stream.push(std::span<const double>(series.row(10).data(), 5));
  const auto reference = clean.push(std::span<const double>(series.row(10).data(), 5));
  REQUIRE(after.has_value());
  CHECK(after->score == reference->score);  // the rejected bars left no trace

  CHECK_THROWS_AS(redflag::StreamingWindowScorer<TransformerAutoencoder<double>>(nullptr), redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::StreamingWindowScorer<TransformerAutoencoder<double>>(
                      std::make_shared<const TransformerAutoencoder<double>>()),
                  redflag::not_fitted);
}
