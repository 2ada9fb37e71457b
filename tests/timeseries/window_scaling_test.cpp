#include "../support/allocation_tracker.hpp"

#include <redflag/core/bounded_archive.hpp>
#include <redflag/preprocessing/min_max_scaler.hpp>
#include <redflag/timeseries/ohlcv_simulator.hpp>
#include <redflag/timeseries/sliding_windows.hpp>
#include <redflag/timeseries/window_scaling.hpp>

#include <cereal/archives/json.hpp>
#include <cereal/archives/portable_binary.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <span>
#include <sstream>
#include <vector>

using redflag::Index;
using redflag::Matrix;
using redflag::WindowScaler;

namespace {

template <class T>
Matrix<T> simulated_windows(double scale_prices, Index bars = 400, double drift = 0.0) {
  Matrix<T> series = redflag::OhlcvSimulator<T>({.bars = bars, .drift = drift, .random_state = 7}).generate();
  series.leftCols(4) *= static_cast<T>(scale_prices);
  return redflag::sliding_windows(series, 20, 5);
}

// The anchored values back from a transformed row: z * scale + mean.
template <class T>
std::vector<double> unscaled(const WindowScaler<T>& scaler, const Matrix<T>& z, Index row) {
  std::vector<double> values(static_cast<std::size_t>(z.cols()));
  for (Index i = 0; i < z.cols(); ++i) {
    const auto f = static_cast<std::size_t>(i % scaler.features());
    values[static_cast<std::size_t>(i)] = static_cast<double>(z(row, i)) * scaler.scale()[f] + scaler.mean()[f];
  }
  return values;
}

template <class Archive, class Value>
std::string write(const Value& value) {
  std::stringstream stream;
  {
    Archive archive(stream);
    archive(value);
  }
  return stream.str();
}

// The fields of a WindowScaler in its archive order, to write tampered files.
struct RawScaler {
  std::vector<Index> price_columns{0, 1, 2, 3};
  Index anchor_column = 0;
  std::vector<Index> volume_columns{4};
  Index window = 2;
  Index features = 5;
  std::vector<double> mean = std::vector<double>(5, 0.0);
  std::vector<double> scale = std::vector<double>(5, 1.0);

  template <class Archive>
  void serialize(Archive& archive) {
    archive(price_columns, anchor_column, volume_columns, window, features, mean, scale);
  }
};

}  // namespace

TEST_CASE_TEMPLATE("WindowScaler anchors prices, centres log volume and standardises", T, float, double) {
  // Two windows of 2 positions x 6 features (OHLCV + a constant extra column).
  Matrix<T> windows(2, 12);
  const T e = static_cast<T>(std::exp(1.0));
  windows.row(0) << T(100), T(110), T(90), T(105), e - T(1), T(7),  //
      T(105), T(120), T(100), T(115), e * e * e - T(1), T(7);
  windows.row(1) << T(50), T(52), T(49), T(51), T(0), T(7),  //
      T(51), T(51), T(48), T(49), T(0), T(7);
  WindowScaler<T> scaler;
  CHECK_FALSE(scaler.is_fitted());
  scaler.fit(windows, 6);
  REQUIRE(scaler.is_fitted());
  CHECK(scaler.window() == 2);
  CHECK(scaler.features() == 6);
  CHECK(scaler.scale()[5] == 1.0);  // constant feature
  CHECK(scaler.mean()[5] == doctest::Approx(7.0));

  const Matrix<T> z = scaler.transform(windows);
  const double tolerance = std::same_as<T, float> ? 1e-5 : 1e-12;
  const std::vector<double> first = unscaled(scaler, z, 0);
  const std::vector<double> expected = {0.0,
                                        std::log(1.1),
                                        std::log(0.9),
                                        std::log(1.05),
                                        -1.0,
                                        7.0,
                                        std::log(1.05),
                                        std::log(1.2),
                                        0.0,
                                        std::log(1.15),
                                        1.0,
                                        7.0};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(first[i] == doctest::Approx(expected[i]).epsilon(tolerance).scale(1.0));
  }
  const std::vector<double> second = unscaled(scaler, z, 1);
  CHECK(second[1 * 6 + 3] == doctest::Approx(std::log(49.0 / 50.0)).epsilon(tolerance).scale(1.0));
  CHECK(second[4] == doctest::Approx(0.0).scale(1.0));  // zero volume throughout: log1p(0) - 0

  // Fitted statistics standardise the training windows.
  for (Index f = 0; f < 5; ++f) {
    double sum = 0.0, squares = 0.0;
    for (Index r = 0; r < 2; ++r) {
      for (Index t = 0; t < 2; ++t) {
        sum += static_cast<double>(z(r, t * 6 + f));
        squares += static_cast<double>(z(r, t * 6 + f)) * static_cast<double>(z(r, t * 6 + f));
      }
    }
    CHECK(sum / 4 == doctest::Approx(0.0).scale(1.0).epsilon(1e-5));
    CHECK(squares / 4 == doctest::Approx(1.0).epsilon(1e-4));
  }
}

TEST_CASE_TEMPLATE("anchored log prices do not depend on the price level", T, float, double) {
  const Matrix<T> windows = simulated_windows<T>(1.0);
  const Matrix<T> scaled_up = simulated_windows<T>(37.5);
  WindowScaler<T> scaler;
  scaler.fit(windows, 5);
  const Matrix<T> z = scaler.transform(windows);
  const Matrix<T> z_up = scaler.transform(scaled_up);
  const double tolerance = std::same_as<T, float> ? 2e-2 : 1e-7;  // float: rounding of the scaled prices
  CHECK((z - z_up).cwiseAbs().maxCoeff() < tolerance);
  // A wrong anchor (here the close instead of the first open) is level-free too
  // but gives different values: the comparison above is not vacuous.
  WindowScaler<T> close_anchored({.anchor_column = 3});
  close_anchored.fit(windows, 5);
  CHECK((close_anchored.transform(windows) - z).cwiseAbs().maxCoeff() > 1e-2);
}

TEST_CASE("the MinMaxScaler pitfall: a trend leaves the training range, anchored windows do not") {
  // Strong upward drift: the second half trades far above the first.
  const Matrix<double> windows = simulated_windows<double>(1.0, 2000, 0.002);
  const Index half = windows.rows() / 2;
  redflag::MinMaxScaler<double> min_max;
  min_max.fit(windows.topRows(half));
  const Matrix<double> naive = min_max.transform(windows.bottomRows(windows.rows() - half));
  CHECK(naive.col(3).minCoeff() > 1.0);  // every later close is above the training range

  WindowScaler<double> scaler;
  scaler.fit(windows.topRows(half), 5);
  const Matrix<double> anchored = scaler.transform(windows.bottomRows(windows.rows() - half));
  const Matrix<double> training = scaler.transform(windows.topRows(half));
  // Later windows look like the training windows: the same mean at every
  // position and feature, and nothing far out.
  for (Index c = 0; c < windows.cols(); ++c) CHECK(std::abs(anchored.col(c).mean() - training.col(c).mean()) < 0.3);
  CHECK(anchored.cwiseAbs().maxCoeff() < 6.0);
}

TEST_CASE_TEMPLATE("transform_window matches transform, works in place and does not allocate", T, float, double) {
  const Matrix<T> windows = simulated_windows<T>(1.0);
  WindowScaler<T> scaler;
  scaler.fit(windows, 5);
  const Matrix<T> z = scaler.transform(windows);
  std::vector<T> input(static_cast<std::size_t>(windows.cols()));
  std::vector<T> out(input.size());
  for (const Index r : {Index{0}, Index{17}, windows.rows() - 1}) {
    std::copy(windows.row(r).data(), windows.row(r).data() + windows.cols(), input.begin());
    const std::size_t before = redflag::test::allocation_count.load();
    scaler.transform_window(input, out);
    CHECK(redflag::test::allocation_count.load() == before);
    for (Index i = 0; i < windows.cols(); ++i) CHECK(out[static_cast<std::size_t>(i)] == z(r, i));
    scaler.transform_window(input, input);  // in place
    CHECK(input == out);
  }
}

TEST_CASE_TEMPLATE("WindowScaler round-trips through cereal archives", T, float, double) {
  const Matrix<T> windows = simulated_windows<T>(1.0);
  WindowScaler<T> scaler({.price_columns = {0, 3}, .anchor_column = 3, .volume_columns = {4}});
  scaler.fit(windows, 5);

  WindowScaler<T> binary;
  {
    std::stringstream stream(write<cereal::PortableBinaryOutputArchive>(scaler));
    cereal::PortableBinaryInputArchive archive(stream);
    archive(binary);
  }
  CHECK(binary == scaler);
  CHECK(binary.transform(windows) == scaler.transform(windows));

  // The archive redflag::load reads model payloads with (lengths checked
  // against the bytes left), as when the scaler is stored inside a model.
  const std::string bytes = write<cereal::PortableBinaryOutputArchive>(scaler);
  WindowScaler<T> bounded;
  {
    redflag::detail::BoundedBinaryInputArchive archive(std::span<const char>(bytes.data(), bytes.size()));
    archive(bounded);
  }
  CHECK(bounded == scaler);
  WindowScaler<T> truncated;
  redflag::detail::BoundedBinaryInputArchive cut(std::span<const char>(bytes.data(), bytes.size() - 3));
  CHECK_THROWS_AS(cut(truncated), redflag::serialization_error);
  CHECK_FALSE(truncated.is_fitted());

  WindowScaler<T> json;
  {
    std::stringstream stream(write<cereal::JSONOutputArchive>(scaler));
    cereal::JSONInputArchive archive(stream);
    archive(json);
  }
  CHECK(json == scaler);

  WindowScaler<T> unfitted;
  {
    std::stringstream stream(write<cereal::PortableBinaryOutputArchive>(WindowScaler<T>()));
    cereal::PortableBinaryInputArchive archive(stream);
    archive(unfitted);
  }
  CHECK_FALSE(unfitted.is_fitted());
}

TEST_CASE("WindowScaler rejects inconsistent archives and keeps its state") {
  WindowScaler<double> scaler;
  scaler.fit(simulated_windows<double>(1.0), 5);
  const WindowScaler<double> before = scaler;
  const auto load = [&](const RawScaler& raw) {
    std::stringstream stream(write<cereal::PortableBinaryOutputArchive>(raw));
    cereal::PortableBinaryInputArchive archive(stream);
    archive(scaler);
  };
  CHECK_NOTHROW(load(RawScaler{}));
  scaler = before;
  RawScaler short_mean;
  short_mean.mean.pop_back();
  CHECK_THROWS_WITH_AS(load(short_mean), "redflag::load: WindowScaler holds 4 means and 5 scales, expected 5",
                       redflag::serialization_error);
  RawScaler zero_scale;
  zero_scale.scale[2] = 0.0;
  CHECK_THROWS_WITH_AS(load(zero_scale), doctest::Contains("feature 2 has mean 0 and scale 0"),
                       redflag::serialization_error);
  RawScaler overlap;
  overlap.volume_columns = {3};
  CHECK_THROWS_WITH_AS(load(overlap), doctest::Contains("column 3 appears twice"), redflag::serialization_error);
  RawScaler bad_window;
  bad_window.window = -1;
  CHECK_THROWS_AS(load(bad_window), redflag::serialization_error);
  CHECK(scaler == before);
}

TEST_CASE("WindowScaler reports bad input") {
  const Matrix<double> windows = simulated_windows<double>(1.0);
  WindowScaler<double> scaler;
  std::vector<double> buffer(100);
  CHECK_THROWS_WITH_AS((void)scaler.transform(windows), "redflag::WindowScaler::transform: call fit() first",
                       redflag::not_fitted);
  CHECK_THROWS_AS(scaler.transform_window(buffer, buffer), redflag::not_fitted);

  CHECK_THROWS_WITH_AS(scaler.fit(windows, 0), "redflag::WindowScaler::fit: features must be >= 1, got 0",
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(scaler.fit(windows, 3), doctest::Contains("price column 3 is outside [0, 3)"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(scaler.fit(windows.leftCols(99), 5), redflag::invalid_argument);
  CHECK_THROWS_AS(scaler.fit(Matrix<double>(0, 100), 5), redflag::data_error);
  CHECK_THROWS_WITH_AS(WindowScaler<double>({.anchor_column = 4}).fit(windows, 5),
                       "redflag::WindowScaler::fit: anchor_column 4 is not one of price_columns",
                       redflag::invalid_argument);
  CHECK_THROWS_AS(WindowScaler<double>({.volume_columns = {0}}).fit(windows, 5), redflag::invalid_argument);
  const Matrix<double> huge = Matrix<double>::Constant(4, 2, 1e308);
  CHECK_THROWS_WITH_AS(WindowScaler<double>({.price_columns = {}, .volume_columns = {}}).fit(huge, 1),
                       "redflag::WindowScaler::fit: feature 0 overflows after scaling (mean or variance is not finite)",
                       redflag::data_error);

  Matrix<double> bad = windows;
  bad(3, 2 * 5 + 1) = 0.0;
  CHECK_THROWS_WITH_AS(scaler.fit(bad, 5),
                       "redflag::WindowScaler::fit: window 3 has 0 at position 2, feature 1 (prices must be positive)",
                       redflag::data_error);
  CHECK_FALSE(scaler.is_fitted());  // a rejected fit leaves the scaler as it was
  bad = windows;
  bad(4, 4) = -3.0;
  CHECK_THROWS_WITH_AS(scaler.fit(bad, 5), doctest::Contains("window 4 has -3 at position 0, feature 4 (volumes"),
                       redflag::data_error);
  bad(4, 4) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(scaler.fit(bad, 5), doctest::Contains("(finite values required)"), redflag::data_error);

  scaler.fit(windows, 5);
  const WindowScaler<double> fitted = scaler;
  CHECK_THROWS_AS(scaler.fit(bad, 5), redflag::data_error);
  CHECK(scaler == fitted);
  CHECK_THROWS_WITH_AS((void)scaler.transform(windows.leftCols(95)),
                       "redflag::WindowScaler::transform: windows has 95 columns, expected 100",
                       redflag::schema_mismatch);
  CHECK_THROWS_WITH_AS((void)scaler.transform(bad), doctest::Contains("window 4 has NaN"), redflag::data_error);
  std::vector<double> out(100);
  CHECK_THROWS_WITH_AS(scaler.transform_window(std::span<const double>(buffer).first(99), out),
                       doctest::Contains("must hold window * features = 100 values, got 99 and 100"),
                       redflag::invalid_argument);
}
