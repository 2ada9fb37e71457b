#include "scaler_test_support.hpp"

#include <redflag/core/random.hpp>
#include <redflag/preprocessing/robust_scaler.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

using redflag::Index;
using redflag::Matrix;
using redflag::RobustScaler;
using redflag::Vector;
using namespace scaler_test;

TEST_CASE_TEMPLATE("RobustScaler matches scikit-learn", T, float, double) {
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  const Matrix<T> X_new = matrix<T>(ref::X_new, reference_columns);
  const double rel = output_tolerance<T>();

  RobustScaler<T> scaler;
  scaler.fit(X);
  check_close(scaler.center(), pick<T>(ref::robust_center, ref::robust_center_f32), 1e-15, {}, "center");
  check_close(scaler.scale(), pick<T>(ref::robust_scale, ref::robust_scale_f32), 1e-15, {}, "scale");
  check_close(scaler.transform(X), pick<T>(ref::robust_transform, ref::robust_transform_f32), rel, {}, "transform(X)");
  check_close(scaler.transform(X_new), pick<T>(ref::robust_transform_new, ref::robust_transform_new_f32), rel, {},
              "transform(X_new)");

  SUBCASE("quantile range 10-90 with unit variance") {
    RobustScaler<T> wide({.quantile_min = 10.0, .quantile_max = 90.0, .unit_variance = true});
    wide.fit(X);
    check_close(wide.center(), pick<T>(ref::robust_10_90_unit_center, ref::robust_10_90_unit_center_f32), 1e-15, {},
                "center");
    // Phi^-1 comes from different code (AS 241 vs cephes): ~1e-16 apart.
    check_close(wide.scale(), pick<T>(ref::robust_10_90_unit_scale, ref::robust_10_90_unit_scale_f32), 1e-14, {},
                "scale");
    check_close(wide.transform(X_new),
                pick<T>(ref::robust_10_90_unit_transform_new, ref::robust_10_90_unit_transform_new_f32),
                std::max(rel, 1e-14), {}, "transform(X_new)");
  }

  SUBCASE("odd row count: the median is one order statistic") {
    const Matrix<T> X_odd = matrix<T>(ref::X_odd, odd_columns);
    RobustScaler<T> odd;
    odd.fit(X_odd);
    check_equal(odd.center(), pick<T>(ref::robust_odd_center, ref::robust_odd_center_f32), "center");
    check_equal(odd.scale(), pick<T>(ref::robust_odd_scale, ref::robust_odd_scale_f32), "scale");
    // Percentiles falling between order statistics, on either side of t = 0.5.
    RobustScaler<T> uneven({.quantile_min = 33.3, .quantile_max = 91.7});
    uneven.fit(X_odd);
    check_close(uneven.scale(), pick<T>(ref::robust_odd_33_92_scale, ref::robust_odd_33_92_scale_f32), 1e-15, {},
                "scale");
  }

  SUBCASE("interpolation rounds like numpy's _lerp") {
    // At the 65th percentile numpy computes b - (b - a) * (1 - t), which
    // differs from a + (b - a) * t in the last bit for this column.
    RobustScaler<T> lerp({.quantile_min = 20.0, .quantile_max = 65.0});
    lerp.fit(matrix<T>(ref::X_lerp, 1));
    check_equal(lerp.scale(), pick<T>(ref::robust_lerp_20_65_scale, ref::robust_lerp_20_65_scale_f32), "scale");
  }
}

TEST_CASE_TEMPLATE("RobustScaler with_centering and with_scaling", T, float, double) {
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  const Matrix<T> X_new = matrix<T>(ref::X_new, reference_columns);
  RobustScaler<T> both;
  both.fit(X);
  RobustScaler<T> scale_only({.with_centering = false});
  scale_only.fit(X);
  RobustScaler<T> center_only({.with_scaling = false});
  center_only.fit(X);
  RobustScaler<T> neither({.with_centering = false, .with_scaling = false});
  neither.fit(X);
  CHECK(scale_only.center() == both.center());  // always computed
  for (Index i = 0; i < X_new.rows(); ++i) {
    for (Index j = 0; j < X_new.cols(); ++j) {
      const double x = static_cast<double>(X_new(i, j));
      CHECK(scale_only.transform(X_new)(i, j) == static_cast<T>(x / both.scale()(j)));
      CHECK(center_only.transform(X_new)(i, j) == static_cast<T>(x - both.center()(j)));
    }
  }
  CHECK(neither.transform(X_new) == X_new);
}

TEST_CASE_TEMPLATE("RobustScaler constant columns and the normal IQR", T, float, double) {
  Matrix<T> X(5, 2);
  X << T(2), T(1), T(2), T(2), T(2), T(3), T(2), T(4), T(2), T(100);
  RobustScaler<T> scaler;
  const Matrix<T> Z = scaler.fit_transform(X);
  CHECK(scaler.center()(0) == 2.0);
  CHECK(scaler.scale()(0) == 1.0);  // zero IQR counts as 1
  CHECK(Z.col(0).isZero(0));
  CHECK(scaler.scale()(1) == 2.0);  // Q75 = 4, Q25 = 2: the outlier 100 does not matter

  RobustScaler<T> unit({.unit_variance = true});
  unit.fit(X);
  const double normal_iqr = 1.3489795003921634;  // 2 * Phi^-1(0.75), scipy.stats.norm.ppf
  CHECK(unit.scale()(0) == doctest::Approx(1.0 / normal_iqr).epsilon(1e-15));
  CHECK(unit.scale()(1) == doctest::Approx(2.0 / normal_iqr).epsilon(1e-15));
}

TEST_CASE_TEMPLATE("RobustScaler selection agrees with a full sort", T, float, double) {
  // Random sizes (odd, even, tiny), many ties and random percentiles: the
  // partial selections must give what numpy's formula gives on sorted data.
  redflag::Random random(2024);
  for (int trial = 0; trial < 200; ++trial) {
    const Index n = 1 + random.uniform_int<Index>(trial < 20 ? 4 : 300);
    const Index distinct = 1 + random.uniform_int<Index>(n);
    Matrix<T> X(n, 2);
    for (Index i = 0; i < n; ++i) {
      X(i, 0) = static_cast<T>(random.uniform_int<Index>(distinct));
      X(i, 1) = random.uniform<T>(T(-1), T(1));
    }
    const double low = std::floor(random.uniform(0.0, 99.0) * 4) / 4;
    const double high = std::min(100.0, low + 0.25 + std::floor(random.uniform(0.0, 100.0 - low) * 4) / 4);
    CAPTURE(trial);
    CAPTURE(n);
    CAPTURE(low);
    CAPTURE(high);
    RobustScaler<T> scaler({.quantile_min = low, .quantile_max = high});
    scaler.fit(X);
    for (Index j = 0; j < 2; ++j) {
      std::vector<double> sorted(static_cast<std::size_t>(n));
      for (Index i = 0; i < n; ++i) sorted[static_cast<std::size_t>(i)] = static_cast<double>(X(i, j));
      std::sort(sorted.begin(), sorted.end());
      const auto percentile = [&](double q) {  // numpy's "linear" method, written out
        const double h = static_cast<double>(n - 1) * (q / 100.0);
        if (h >= static_cast<double>(n - 1)) return sorted.back();
        const auto k = static_cast<std::size_t>(std::floor(h));
        const double t = h - std::floor(h);
        const double a = sorted[k], b = sorted[k + 1];
        return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
      };
      const double median =
          0.5 * sorted[static_cast<std::size_t>((n - 1) / 2)] + 0.5 * sorted[static_cast<std::size_t>(n / 2)];
      double range = percentile(high) - percentile(low);
      if (range < 10 * std::numeric_limits<double>::epsilon()) range = 1.0;
      CHECK(scaler.center()(j) == median);
      CHECK(scaler.scale()(j) == range);
    }
  }
}

TEST_CASE("RobustScaler normal quantile matches scipy") {
  for (std::size_t i = 0; i < ref::normal_quantile_p.size(); ++i) {
    const double p = ref::normal_quantile_p[i];
    const double expected = ref::normal_quantile_value[i];
    CAPTURE(p);
    CHECK(redflag::detail::preprocessing::normal_quantile(p) == doctest::Approx(expected).epsilon(1e-15));
  }
  CHECK(redflag::detail::preprocessing::normal_quantile(0.5) == 0.0);
  CHECK(redflag::detail::preprocessing::normal_quantile(0.25) ==
        -redflag::detail::preprocessing::normal_quantile(0.75));
}

TEST_CASE_TEMPLATE("RobustScaler inverse_transform undoes transform", T, float, double) {
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  const Matrix<T> X_new = matrix<T>(ref::X_new, reference_columns);
  RobustScaler<T> scaler({.unit_variance = true});
  scaler.fit(X);
  const Matrix<T> back = scaler.inverse_transform(scaler.transform(X_new));
  for (Index i = 0; i < X_new.rows(); ++i) {
    for (Index j = 0; j < X_new.cols(); ++j) {
      const double slack = 4 * std::numeric_limits<T>::epsilon() *
                           (std::abs(static_cast<double>(X_new(i, j))) + std::abs(scaler.center()(j)));
      CHECK(std::abs(static_cast<double>(back(i, j)) - static_cast<double>(X_new(i, j))) <= slack);
    }
  }
}

TEST_CASE_TEMPLATE("RobustScaler rejects bad parameters", T, float, double) {
  using Params = typename RobustScaler<T>::Params;
  CHECK_THROWS_WITH_AS((RobustScaler<T>(Params{.quantile_min = -1.0})),
                       doctest::Contains("RobustScaler::RobustScaler: quantile_min must be in [0, 100), got -1"),
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS((RobustScaler<T>(Params{.quantile_max = 100.5})),
                       doctest::Contains("quantile_max must be in (0, 100], got 100.5"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS((RobustScaler<T>(Params{.quantile_min = 60.0, .quantile_max = 40.0})),
                       doctest::Contains("quantile_min must be less than quantile_max, got quantile_min = 60"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS((RobustScaler<T>(Params{.quantile_min = 50.0, .quantile_max = 50.0})), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS((RobustScaler<T>(Params{.quantile_min = std::numeric_limits<double>::quiet_NaN()})),
                       doctest::Contains("quantile_min must be in [0, 100), got NaN"), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS((RobustScaler<T>(Params{.quantile_min = 0.0, .unit_variance = true})),
                       doctest::Contains("unit_variance needs quantile_min > 0 and quantile_max < 100"),
                       redflag::invalid_argument);
  // The full range is fine without unit_variance: scale = max - min.
  RobustScaler<T> full(Params{.quantile_min = 0.0, .quantile_max = 100.0});
  full.fit(matrix<T>(ref::X_odd, odd_columns));
  CHECK(full.scale()(0) == 63.0);
}

TEST_CASE_TEMPLATE("RobustScaler shared behaviour", T, float, double) { check_common_behaviour<RobustScaler<T>>(); }

TEST_CASE("RobustScaler rejects a file with inconsistent parameters") {
  RobustScaler<double> scaler;
  scaler.fit(matrix<double>(ref::X, reference_columns));
  std::string text;
  (void)json_round_trip(scaler, &text);
  CHECK_THROWS_WITH_AS(
      (void)json_load<RobustScaler<double>>(replaced(text, R"("quantile_min": 25.0)", R"("quantile_min": 80.0)")),
      doctest::Contains("redflag::load: quantile_min must be less than quantile_max, got quantile_min = 80, "
                        "quantile_max = 75 (in a RobustScaler)"),
      redflag::serialization_error);
  const auto scale_at = text.find(R"("scale")");
  const auto zero_scale = replaced(text.substr(scale_at), "40.3375", "0.0");
  CHECK_THROWS_WITH_AS((void)json_load<RobustScaler<double>>(text.substr(0, scale_at) + zero_scale),
                       doctest::Contains("RobustScaler scale[0] = 0 is invalid"), redflag::serialization_error);
}
