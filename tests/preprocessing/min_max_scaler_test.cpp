#include "scaler_test_support.hpp"

#include <redflag/preprocessing/min_max_scaler.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

using redflag::Index;
using redflag::Matrix;
using redflag::MinMaxScaler;
using redflag::Vector;
using namespace scaler_test;

TEST_CASE_TEMPLATE("MinMaxScaler matches scikit-learn", T, float, double) {
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  const Matrix<T> X_new = matrix<T>(ref::X_new, reference_columns);
  const double rel = output_tolerance<T>();

  MinMaxScaler<T> scaler;
  scaler.fit(X);
  check_equal(scaler.data_min(), pick<T>(ref::minmax_data_min, ref::minmax_data_min_f32), "data_min");
  check_equal(scaler.data_max(), pick<T>(ref::minmax_data_max, ref::minmax_data_max_f32), "data_max");
  check_close(scaler.scale(), pick<T>(ref::minmax_scale, ref::minmax_scale_f32), 1e-15, {}, "scale");
  check_close(scaler.min(), pick<T>(ref::minmax_min, ref::minmax_min_f32), 1e-15, {}, "min");
  check_close(scaler.transform(X), pick<T>(ref::minmax_transform, ref::minmax_transform_f32), rel, {}, "transform(X)");
  check_close(scaler.transform(X_new), pick<T>(ref::minmax_transform_new, ref::minmax_transform_new_f32), rel, {},
              "transform(X_new)");

  MinMaxScaler<T> ranged({.feature_min = -1.0, .feature_max = 2.0, .clip = true});
  ranged.fit(X);
  check_close(ranged.scale(), pick<T>(ref::minmax_range_scale, ref::minmax_range_scale_f32), 1e-15, {}, "scale");
  check_close(ranged.min(), pick<T>(ref::minmax_range_min, ref::minmax_range_min_f32), 1e-15, {}, "min");
  const Matrix<T> clipped = ranged.transform(X_new);
  check_close(clipped, pick<T>(ref::minmax_range_clip_new, ref::minmax_range_clip_new_f32), rel, {}, "clip");
  CHECK(clipped.minCoeff() == T(-1));
  CHECK(clipped.maxCoeff() == T(2));
}

TEST_CASE_TEMPLATE("MinMaxScaler maps the fitted range onto the feature range", T, float, double) {
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  MinMaxScaler<T> scaler;
  const Matrix<T> Z = scaler.fit_transform(X);
  CHECK(Z.minCoeff() == T(0));
  CHECK(Z.maxCoeff() == T(1));
  CHECK(scaler.data_range()(0) == doctest::Approx(1250.0 - 0.99));
  // Without clip, values beyond the fitted range leave [0, 1].
  const Matrix<T> outside = scaler.transform(matrix<T>(ref::X_new, reference_columns));
  CHECK(outside(0, 3) < T(0));
  CHECK(outside(2, 0) > T(1));
}

TEST_CASE_TEMPLATE("MinMaxScaler constant columns", T, float, double) {
  Matrix<T> X(3, 2);
  X << T(3.7), T(1), T(3.7), T(2), T(3.7), T(5);
  MinMaxScaler<T> scaler({.feature_min = 2.0, .feature_max = 4.0});
  const Matrix<T> Z = scaler.fit_transform(X);
  CHECK(scaler.data_range()(0) == 0.0);
  CHECK(scaler.scale()(0) == 2.0);          // width / 1: the range counts as 1
  CHECK((Z.col(0).array() == T(2)).all());  // a constant column maps to feature_min
  CHECK(Z(2, 1) == T(4));

  // A range below 10 * epsilon of T also counts as zero (scikit-learn's
  // _handle_zeros_in_scale), one just above it does not.
  const double tiny = 10.0 * std::numeric_limits<T>::epsilon();
  Matrix<T> narrow(2, 2);
  narrow << T(0), T(0), static_cast<T>(tiny / 2), static_cast<T>(tiny * 2);
  MinMaxScaler<T> near;
  near.fit(narrow);
  CHECK(near.scale()(0) == 1.0);
  CHECK(near.scale()(1) == doctest::Approx(1.0 / static_cast<double>(static_cast<T>(tiny * 2))));
}

TEST_CASE_TEMPLATE("MinMaxScaler inverse_transform undoes transform", T, float, double) {
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  const Matrix<T> X_new = matrix<T>(ref::X_new, reference_columns);
  MinMaxScaler<T> scaler({.feature_min = -3.0, .feature_max = 0.5});
  scaler.fit(X);
  const Matrix<T> back = scaler.inverse_transform(scaler.transform(X_new));
  for (Index i = 0; i < X_new.rows(); ++i) {
    for (Index j = 0; j < X_new.cols(); ++j) {
      // One rounding of the output to T, magnified by 1 / scale.
      const double slack =
          4 * std::numeric_limits<T>::epsilon() *
          (std::abs(static_cast<double>(X_new(i, j))) + std::abs(scaler.data_min()(j)) + 3.5 / scaler.scale()(j));
      CHECK(std::abs(static_cast<double>(back(i, j)) - static_cast<double>(X_new(i, j))) <= slack);
    }
  }
}

TEST_CASE_TEMPLATE("MinMaxScaler rejects bad parameters", T, float, double) {
  using Params = typename MinMaxScaler<T>::Params;
  CHECK_THROWS_WITH_AS((MinMaxScaler<T>(Params{.feature_min = 1.0, .feature_max = 1.0})),
                       doctest::Contains("MinMaxScaler::MinMaxScaler: feature_min must be less than feature_max"),
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS((MinMaxScaler<T>(Params{.feature_min = 2.0, .feature_max = -1.0})),
                       doctest::Contains("got feature_min = 2, feature_max = -1"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS((MinMaxScaler<T>(Params{.feature_min = std::numeric_limits<double>::quiet_NaN()})),
                       doctest::Contains("feature_min must be finite"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS((MinMaxScaler<T>(Params{.feature_max = std::numeric_limits<double>::infinity()})),
                       doctest::Contains("feature_max must be finite"), redflag::invalid_argument);
  CHECK_THROWS_AS((MinMaxScaler<T>(Params{.feature_min = -1e308, .feature_max = 1e308})), redflag::invalid_argument);
  if constexpr (std::is_same_v<T, float>) {
    // Finite in double but not in float.
    CHECK_THROWS_WITH_AS((MinMaxScaler<T>(Params{.feature_max = 1e300})),
                         doctest::Contains("feature_max must be finite in float32, got"), redflag::invalid_argument);
  }
}

TEST_CASE_TEMPLATE("MinMaxScaler shared behaviour", T, float, double) { check_common_behaviour<MinMaxScaler<T>>(); }

TEST_CASE("MinMaxScaler rejects a file with inconsistent parameters or statistics") {
  MinMaxScaler<double> scaler({.feature_min = -1.0, .feature_max = 1.0, .clip = true});
  scaler.fit(matrix<double>(ref::X, reference_columns));
  std::string text;
  const auto loaded = json_round_trip(scaler, &text);
  CHECK(loaded.params().clip);
  CHECK(loaded.params().feature_min == -1.0);
  CHECK(loaded.scale() == scaler.scale());
  CHECK(loaded.min() == scaler.min());

  CHECK_THROWS_WITH_AS(
      (void)json_load<MinMaxScaler<double>>(replaced(text, R"("feature_max": 1.0)", R"("feature_max": -2.0)")),
      doctest::Contains("redflag::load: feature_min must be less than feature_max (with a finite "
                        "difference), got feature_min = -1, feature_max = -2 (in a MinMaxScaler)"),
      redflag::serialization_error);
  // data_min above data_max in column 0.
  const auto min_at = text.find(R"("data_min")");
  const auto first = text.find("0.99", min_at);
  REQUIRE(first != std::string::npos);
  std::string swapped = text;
  swapped.replace(first, 4, "2000.0");
  CHECK_THROWS_WITH_AS((void)json_load<MinMaxScaler<double>>(swapped),
                       doctest::Contains("MinMaxScaler column 0 has data_min 2000 > data_max 1250"),
                       redflag::serialization_error);
}
