#include <redflag/timeseries/ohlcv.hpp>

#include <doctest/doctest.h>

#include <limits>
#include <string>

using redflag::Index;
using redflag::Matrix;

namespace {

template <class T>
Matrix<T> good_series() {
  Matrix<T> series(3, 5);
  series << T(100), T(101), T(99), T(100.5), T(1000),  //
      T(100.5), T(102), T(100), T(101), T(0),          // zero volume is allowed
      T(101), T(101), T(101), T(101), T(500);          // a flat bar too
  return series;
}

// The message of the error validate_ohlcv throws, checking its type.
template <class Error, class T>
std::string failure(const Matrix<T>& series) {
  try {
    redflag::validate_ohlcv(series);
  } catch (const Error& error) {
    return error.what();
  }
  FAIL("validate_ohlcv accepted a bad series");
  return {};
}

}  // namespace

TEST_CASE_TEMPLATE("validate_ohlcv accepts well-formed bars in any matrix form", T, float, double) {
  const Matrix<T> series = good_series<T>();
  CHECK_NOTHROW(redflag::validate_ohlcv(series));
  CHECK_NOTHROW(redflag::validate_ohlcv(series.topRows(2)));
  const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> column_major = series;
  CHECK_NOTHROW(redflag::validate_ohlcv(column_major));
  CHECK(redflag::ohlcv::close == 3);
  CHECK(redflag::ohlcv::column_names[static_cast<std::size_t>(redflag::ohlcv::volume)] == "volume");
}

TEST_CASE_TEMPLATE("validate_ohlcv names the first bad bar", T, float, double) {
  SUBCASE("wrong column count") {
    const Matrix<T> four = good_series<T>().leftCols(4);
    CHECK(failure<redflag::schema_mismatch>(four) == "redflag::validate_ohlcv: series has 4 columns, expected 5");
  }
  SUBCASE("no bars") { CHECK(failure<redflag::data_error>(Matrix<T>(0, 5)).find("no bars") != std::string::npos); }
  SUBCASE("NaN and Inf") {
    Matrix<T> series = good_series<T>();
    series(2, 3) = std::numeric_limits<T>::quiet_NaN();
    series(1, 4) = std::numeric_limits<T>::infinity();
    CHECK(failure<redflag::data_error>(series) ==
          "redflag::validate_ohlcv: series bar 1 has volume = Inf (column 4; finite values required)");
  }
  SUBCASE("non-positive price") {
    Matrix<T> series = good_series<T>();
    series(2, 2) = T(0);
    CHECK(failure<redflag::data_error>(series) ==
          "redflag::validate_ohlcv: series bar 2 has low = 0 (column 2; prices must be positive)");
  }
  SUBCASE("high below low") {
    Matrix<T> series = good_series<T>();
    series(1, 1) = T(99);
    CHECK(failure<redflag::data_error>(series) ==
          "redflag::validate_ohlcv: series bar 1 has high 99 < low 100 (columns 1 and 2)");
  }
  SUBCASE("open or close outside the range is accepted, as real feeds print such bars") {
    Matrix<T> series = good_series<T>();
    series(0, 0) = T(98);
    series(2, 3) = T(102);
    CHECK_NOTHROW(redflag::validate_ohlcv(series));
  }
  SUBCASE("negative volume") {
    Matrix<T> series = good_series<T>();
    series(1, 4) = T(-1);
    CHECK(failure<redflag::data_error>(series) ==
          "redflag::validate_ohlcv: series bar 1 has volume = -1 (column 4; volumes must be >= 0)");
  }
  SUBCASE("the caller's name leads the message") {
    Matrix<T> series = good_series<T>();
    series(0, 4) = T(-2);
    CHECK_THROWS_WITH_AS(redflag::validate_ohlcv(series, "Market::load"),
                         doctest::Contains("redflag::Market::load: series bar 0"), redflag::data_error);
  }
}
