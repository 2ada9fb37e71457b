#include <redflag/timeseries/sliding_windows.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using redflag::Index;
using redflag::LabelVector;
using redflag::Matrix;
using redflag::Vector;

namespace {

// Timestep t, feature f holds 10 t + f.
template <class T>
Matrix<T> numbered(Index n, Index features) {
  Matrix<T> series(n, features);
  for (Index t = 0; t < n; ++t) {
    for (Index f = 0; f < features; ++f) series(t, f) = static_cast<T>(10 * t + f);
  }
  return series;
}

}  // namespace

TEST_CASE_TEMPLATE("sliding_windows lays windows out position-major with stride", T, float, double) {
  const Matrix<T> series = numbered<T>(7, 2);
  const Matrix<T> windows = redflag::sliding_windows(series, 3, 2);
  REQUIRE(windows.rows() == 3);  // starts 0, 2, 4
  REQUIRE(windows.cols() == 6);
  for (Index k = 0; k < 3; ++k) {
    for (Index t = 0; t < 3; ++t) {
      for (Index f = 0; f < 2; ++f) CHECK(windows(k, t * 2 + f) == static_cast<T>(10 * (2 * k + t) + f));
    }
  }
  // TransformerAutoencoder reads a row as a window x features row-major matrix.
  for (Index k = 0; k < 3; ++k) {
    const Eigen::Map<const Matrix<T>> as_model_sees_it(windows.row(k).data(), 3, 2);
    CHECK(as_model_sees_it == series.middleRows(2 * k, 3));
  }
  CHECK(redflag::sliding_windows(series, 3).rows() == 5);
  CHECK(redflag::sliding_windows(series, 7, 3).rows() == 1);
  CHECK(redflag::sliding_windows(series, 1).isApprox(series));
}

TEST_CASE("window_starts counts windows and leaves the uncovered tail out") {
  CHECK(redflag::window_starts(7, 3, 2) == std::vector<Index>{0, 2, 4});
  CHECK(redflag::window_starts(8, 3, 2) == std::vector<Index>{0, 2, 4});  // timestep 7 in no window
  CHECK(redflag::window_starts(5, 3) == std::vector<Index>{0, 1, 2});
  CHECK(redflag::window_starts(3, 3, 10) == std::vector<Index>{0});
}

TEST_CASE("window_labels: a window is anomalous if any of its timesteps is") {
  std::vector<std::uint8_t> labels(10, 0);
  labels[5] = 1;
  LabelVector stride_one(8);
  stride_one << 0, 0, 0, 1, 1, 1, 0, 0;
  CHECK(redflag::window_labels(labels, 3) == stride_one);
  LabelVector stride_two(4);  // windows 0-2, 2-4, 4-6, 6-8
  stride_two << 0, 0, 1, 0;
  CHECK(redflag::window_labels(labels, 3, 2) == stride_two);

  LabelVector as_labels = LabelVector::Zero(10);
  as_labels(0) = 1;
  as_labels(9) = 1;
  LabelVector ends(4);
  ends << 1, 0, 0, 1;
  CHECK(redflag::window_labels(as_labels, 4, 2) == ends);  // windows 0-3, 2-5, 4-7, 6-9

  labels[2] = 2;
  CHECK_THROWS_WITH_AS(redflag::window_labels(labels, 3),
                       "redflag::window_labels: timestep_labels[2] = 2 is not a binary label (expected 0 or 1)",
                       redflag::data_error);
}

TEST_CASE_TEMPLATE("timestep_scores with the median keeps one bad window from spreading", T, float, double) {
  // 4 windows of 3 over 6 timesteps; window 1 (timesteps 1-3) goes wrong as
  // a whole, as a window anchored inside a crash does.
  Matrix<T> errors = Matrix<T>::Ones(4, 3);
  errors.row(1).setConstant(T(100));
  errors(2, 0) = T(3);  // timestep 2 is seen as 1 (window 0), 100, 3: median 3
  Vector<T> median(6);
  median << T(1), T(50.5), T(3), T(1), T(1), T(1);  // timestep 1: {1, 100} -> 50.5; 3: {100, 1, 1} -> 1
  CHECK(redflag::timestep_scores(errors, 6, 3, 1, redflag::TimestepAggregate::median).isApprox(median));
  const Vector<T> mean = redflag::timestep_scores(errors, 6, 3);
  CHECK(mean(3) == doctest::Approx(34.0));  // the mean spreads window 1's error
  CHECK(redflag::timestep_scores(errors, 6, 3, 1, redflag::TimestepAggregate::mean) == mean);
  Vector<T> one_score(2);  // stride 2: timestep 5 is in no window
  one_score << T(1), T(3);
  const Vector<T> strided = redflag::timestep_scores(one_score, 6, 3, 2, redflag::TimestepAggregate::median);
  CHECK(strided(2) == T(2));
  CHECK(std::isnan(strided(5)));
}

TEST_CASE_TEMPLATE("timestep_scores with neighbourhood_min clears the timesteps after a level change", T, float,
                   double) {
  // Windows of 12 over 40 timesteps. Every window containing timestep 20
  // reconstructs it and everything after it badly (error 50), as a window
  // does across a level change; elsewhere the error is 1.
  const Index n = 40, window = 12, count = n - window + 1, anomaly = 20;
  Matrix<T> errors = Matrix<T>::Ones(count, window);
  for (Index k = anomaly - window + 1; k <= anomaly; ++k) {
    for (Index t = anomaly - k; t < window; ++t) errors(k, t) = T(50);
  }
  const Vector<T> mean = redflag::timestep_scores(errors, n, window);
  const Vector<T> lowest =
      redflag::timestep_scores(errors, n, window, 1, redflag::TimestepAggregate::neighbourhood_min);
  // Timestep 25 is in windows starting at 21-25, which never saw timestep
  // 20: the mean blames it, the neighbourhood minimum does not.
  CHECK(mean(25) > T(15));
  CHECK(lowest(25) == T(1));
  CHECK(lowest(anomaly - 1) == T(1));  // the window starting at 8 ends before the anomaly
  // The anomaly itself: both radii are best where it ends a window (window
  // 9, position 11): radius 1 sees timesteps 19-20, mean square
  // (1 + 2500) / 2; radius 10 timesteps 10-20, 10 ones and 2500 over 11.
  const double radius_1 = 2501.0 / 2.0, radius_10 = 2510.0 / 11.0;
  CHECK(lowest(anomaly) == doctest::Approx(std::pow(radius_1 * radius_10, 0.25)).epsilon(1e-6));
  for (Index i = 0; i < n; ++i) {
    if (i != anomaly) CHECK(lowest(i) < lowest(anomaly));
  }
}

TEST_CASE_TEMPLATE("timestep_scores with neighbourhood_min matches the definition, with strides", T, float, double) {
  const Index n = 37, window = 14;
  for (const Index stride : {1, 3, 5}) {
    CAPTURE(stride);
    const Index count = (n - window) / stride + 1;
    Matrix<T> errors(count, window);
    for (Index k = 0; k < count; ++k) {
      for (Index t = 0; t < window; ++t) errors(k, t) = static_cast<T>((k * 7 + t * 13) % 11 + 1);
    }
    const Vector<T> got =
        redflag::timestep_scores(errors, n, window, stride, redflag::TimestepAggregate::neighbourhood_min);
    Vector<T> column(count);
    for (Index k = 0; k < count; ++k) column(k) = static_cast<T>(k % 4 + 1);
    const Vector<T> got_column =
        redflag::timestep_scores(column, n, window, stride, redflag::TimestepAggregate::neighbourhood_min);
    for (Index i = 0; i < n; ++i) {
      CAPTURE(i);
      double lowest_1 = std::numeric_limits<double>::infinity(), lowest_10 = lowest_1, lowest_window = lowest_1;
      for (Index k = 0; k < count; ++k) {
        if (i < k * stride || i >= k * stride + window) continue;
        double sum_1 = 0, sum_10 = 0;
        int in_1 = 0, in_10 = 0;
        for (Index t = 0; t < window; ++t) {
          const Index distance = std::abs(k * stride + t - i);
          const double square = static_cast<double>(errors(k, t)) * static_cast<double>(errors(k, t));
          if (distance <= 1) sum_1 += square, ++in_1;
          if (distance <= 10) sum_10 += square, ++in_10;
        }
        lowest_1 = std::min(lowest_1, sum_1 / in_1);
        lowest_10 = std::min(lowest_10, sum_10 / in_10);
        lowest_window = std::min(lowest_window, static_cast<double>(column(k)));
      }
      if (std::isinf(lowest_1)) {  // in no window
        CHECK(std::isnan(got(i)));
        CHECK(std::isnan(got_column(i)));
        continue;
      }
      CHECK(got(i) == doctest::Approx(std::pow(lowest_1 * lowest_10, 0.25)).epsilon(1e-6));
      CHECK(got_column(i) == doctest::Approx(lowest_window).epsilon(1e-6));
    }
  }
  Matrix<T> negative = Matrix<T>::Ones(n - window + 1, window);
  negative(3, 4) = T(-1);
  CHECK_THROWS_WITH_AS(redflag::timestep_scores(negative, n, window, 1, redflag::TimestepAggregate::neighbourhood_min),
                       doctest::Contains("non-negative"), redflag::invalid_argument);
}

TEST_CASE_TEMPLATE("timestep_scores averages the windows containing each timestep", T, float, double) {
  SUBCASE("one score per window") {
    Vector<T> scores(3);
    scores << T(1), T(2), T(4);
    Vector<T> expected(5);
    expected << T(1), T(1.5), T(7.0 / 3.0), T(3), T(4);
    CHECK(redflag::timestep_scores(scores, 5, 3).isApprox(expected));
  }
  SUBCASE("per-position scores, e.g. timestep_errors") {
    Matrix<T> errors(3, 3);  // error of window k at position t = 10 k + t
    for (Index k = 0; k < 3; ++k) {
      for (Index t = 0; t < 3; ++t) errors(k, t) = static_cast<T>(10 * k + t);
    }
    Vector<T> expected(5);
    expected << T(0), T(5.5), T(11), T(16.5), T(22);
    CHECK(redflag::timestep_scores(errors, 5, 3).isApprox(expected));
  }
  SUBCASE("uncovered timesteps are NaN") {
    Vector<T> scores(2);  // windows 0-2 and 2-4 of 6 timesteps
    scores << T(1), T(3);
    const Vector<T> per_timestep = redflag::timestep_scores(scores, 6, 3, 2);
    Vector<T> expected(5);
    expected << T(1), T(1), T(2), T(3), T(3);
    CHECK(per_timestep.head(5).isApprox(expected));
    CHECK(std::isnan(per_timestep(5)));
  }
  SUBCASE("the mean peaks at an isolated anomaly") {
    std::vector<std::uint8_t> labels(20, 0);
    labels[10] = 1;
    const LabelVector window_flags = redflag::window_labels(labels, 5);
    const Vector<T> scores = redflag::timestep_scores(window_flags.cast<T>().eval(), 20, 5);
    Index peak = 0;
    scores.maxCoeff(&peak);
    CHECK(peak == 10);
    CHECK(scores(9) < scores(10));
    CHECK(scores(11) < scores(10));
  }
}

TEST_CASE("sliding window functions reject bad sizes and values") {
  const Matrix<double> series = numbered<double>(5, 2);
  CHECK_THROWS_WITH_AS(redflag::sliding_windows(series, 6),
                       "redflag::sliding_windows: the series has 5 timesteps, fewer than one window of 6",
                       redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::sliding_windows(series, 0), "redflag::sliding_windows: window must be >= 1, got 0",
                       redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::sliding_windows(series, 2, 0), "redflag::sliding_windows: stride must be >= 1, got 0",
                       redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::sliding_windows(Matrix<double>(5, 0), 2), redflag::data_error);
  Matrix<double> with_nan = series;
  with_nan(3, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(redflag::sliding_windows(with_nan, 2), doctest::Contains("at row 3, column 1"),
                       redflag::data_error);

  CHECK_THROWS_AS(redflag::window_starts(2, 3, 1), redflag::data_error);
  CHECK_THROWS_AS(redflag::window_starts(5, -1, 1), redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::window_labels(std::vector<std::uint8_t>(2, 0), 3), redflag::data_error);
  CHECK_THROWS_AS(redflag::window_labels(std::vector<std::uint8_t>(5, 0), 3, 0), redflag::invalid_argument);

  const Vector<double> three = Vector<double>::Ones(3);
  CHECK_THROWS_WITH_AS(redflag::timestep_scores(three, 6, 3),
                       doctest::Contains("window_scores is 3 x 1, expected 4 windows"), redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::timestep_scores(Matrix<double>::Ones(3, 2), 5, 3), redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::timestep_scores(three, 2, 3), redflag::data_error);
  Vector<double> with_inf = three;
  with_inf(1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(redflag::timestep_scores(with_inf, 5, 3), redflag::data_error);
}
