#include "scaler_test_support.hpp"

#include <redflag/preprocessing/standard_scaler.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

using redflag::Index;
using redflag::Matrix;
using redflag::StandardScaler;
using redflag::Vector;
using namespace scaler_test;

TEST_CASE_TEMPLATE("StandardScaler matches scikit-learn", T, float, double) {
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  const Matrix<T> X_new = matrix<T>(ref::X_new, reference_columns);
  StandardScaler<T> scaler;
  scaler.fit(X);
  CHECK(scaler.n_samples_seen() == 12);

  const auto& mean = pick<T>(ref::standard_mean, ref::standard_mean_f32);
  const auto& var = pick<T>(ref::standard_var, ref::standard_var_f32);
  const auto& scale = pick<T>(ref::standard_scale, ref::standard_scale_f32);
  // Statistics are double for both scalar types: equal to ~1e-12 relative.
  check_close(scaler.mean(), mean, 1e-13, {}, "mean");
  check_close(scaler.var(), var, 1e-12, {}, "var");
  check_close(scaler.scale(), scale, 1e-12, {}, "scale");

  const double rel = output_tolerance<T>();
  check_close(scaler.transform(X), pick<T>(ref::standard_transform, ref::standard_transform_f32), rel, {},
              "transform(X)");
  check_close(scaler.transform(X_new), pick<T>(ref::standard_transform_new, ref::standard_transform_new_f32), rel, {},
              "transform(X_new)");

  StandardScaler<T> no_mean({.with_mean = false});
  no_mean.fit(X);
  check_close(no_mean.transform(X_new), pick<T>(ref::standard_no_mean, ref::standard_no_mean_f32), rel, {},
              "with_mean = false");
  check_close(no_mean.mean(), mean, 1e-13, {}, "mean is computed without with_mean");

  StandardScaler<T> no_std({.with_std = false});
  no_std.fit(X);
  check_close(no_std.transform(X_new), pick<T>(ref::standard_no_std, ref::standard_no_std_f32), rel, {},
              "with_std = false");

  StandardScaler<T> neither({.with_mean = false, .with_std = false});
  CHECK(neither.fit(X).transform(X_new) == X_new);
}

TEST_CASE_TEMPLATE("StandardScaler constant columns", T, float, double) {
  SUBCASE("an exactly constant column has scale 1 and maps to 0") {
    Matrix<T> X(4, 2);
    X << T(3.7), T(1), T(3.7), T(2), T(3.7), T(3), T(3.7), T(4);
    StandardScaler<T> scaler;
    const Matrix<T> Z = scaler.fit_transform(X);
    CHECK(scaler.var()(0) == 0.0);
    CHECK(scaler.scale()(0) == 1.0);
    CHECK(Z.col(0).isZero(0));
    CHECK(scaler.scale()(1) == doctest::Approx(std::sqrt(1.25)));
  }

  SUBCASE("a near-constant column within the two-pass error bound has scale 1") {
    if constexpr (std::is_same_v<T, double>) {
      // 1e6 and the next double, alternating: variance ~3.4e-21 > 0, but
      // below n*eps*var + (n*mean*eps)^2, scikit-learn's constant rule.
      const double up = std::nextafter(1e6, 2e6);
      Matrix<T> X(12, 1);
      for (Index i = 0; i < 12; ++i) X(i, 0) = i % 2 == 0 ? 1e6 : up;
      StandardScaler<T> scaler;
      scaler.fit(X);
      CHECK(scaler.var()(0) > 0.0);
      CHECK(scaler.scale()(0) == 1.0);
      CHECK(scaler.transform(X).cwiseAbs().maxCoeff() < 1e-9);
    }
  }

  SUBCASE("a single row") {
    Matrix<T> X(1, 3);
    X << T(5), T(-2), T(0);
    StandardScaler<T> scaler;
    CHECK(scaler.fit_transform(X).isZero(0));
    CHECK(scaler.scale() == Vector<double>::Ones(3));
  }

  SUBCASE("a small spread far from zero is not constant") {
    Matrix<T> X(4, 1);
    X << T(1000), T(1000.5), T(1001), T(1001.5);
    StandardScaler<T> scaler;
    scaler.fit(X);
    CHECK(scaler.scale()(0) == doctest::Approx(std::sqrt(0.3125)).epsilon(1e-12));
  }
}

TEST_CASE_TEMPLATE("StandardScaler inverse_transform undoes transform", T, float, double) {
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  const Matrix<T> X_new = matrix<T>(ref::X_new, reference_columns);
  for (const bool with_mean : {true, false}) {
    for (const bool with_std : {true, false}) {
      CAPTURE(with_mean);
      CAPTURE(with_std);
      StandardScaler<T> scaler({.with_mean = with_mean, .with_std = with_std});
      scaler.fit(X);
      const Matrix<T> back = scaler.inverse_transform(scaler.transform(X_new));
      for (Index i = 0; i < X_new.rows(); ++i) {
        for (Index j = 0; j < X_new.cols(); ++j) {
          // Rounding the z-score to T costs up to half an ulp of |x - mean| / scale.
          const double slack = 4 * std::numeric_limits<T>::epsilon() *
                               (std::abs(static_cast<double>(X_new(i, j))) + std::abs(scaler.mean()(j)));
          CHECK(std::abs(static_cast<double>(back(i, j)) - static_cast<double>(X_new(i, j))) <= slack);
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("StandardScaler is accurate on large offsets", T, float, double) {
  // offset + k/8 for k = 0..39, 25 times each (exact in T): the variance is
  // (40^2 - 1) / 12 / 64 = 1599/768 whatever the offset. A one-pass
  // E[x^2] - E[x]^2 in double loses every digit at offset 1e8.
  const double offset = std::is_same_v<T, double> ? 1e8 : 1e4;
  Matrix<T> X(1000, 1);
  for (Index i = 0; i < X.rows(); ++i) X(i, 0) = static_cast<T>(offset + static_cast<double>(i % 40) / 8.0);
  StandardScaler<T> scaler;
  scaler.fit(X);
  CHECK(scaler.mean()(0) == doctest::Approx(offset + 39.0 / 16.0).epsilon(1e-15));
  CHECK(scaler.var()(0) == doctest::Approx(1599.0 / 768.0).epsilon(1e-9));
}

TEST_CASE_TEMPLATE("StandardScaler shared behaviour", T, float, double) { check_common_behaviour<StandardScaler<T>>(); }

TEST_CASE("StandardScaler rejects a file with a negative scale") {
  StandardScaler<double> scaler;
  scaler.fit(matrix<double>(ref::X, reference_columns));
  std::string text;
  (void)json_round_trip(scaler, &text);
  const auto scale_at = text.find(R"("scale")");
  REQUIRE(scale_at != std::string::npos);
  const auto values_at = text.find(R"("values": [)", scale_at);
  REQUIRE(values_at != std::string::npos);
  const auto first = text.find_first_of("0123456789", values_at);
  std::string tampered = text;
  tampered.insert(first, "-");
  CHECK_THROWS_WITH_AS((void)json_load<StandardScaler<double>>(tampered),
                       doctest::Contains("StandardScaler scale[0] = -339.37"), redflag::serialization_error);
}
