#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/preprocessing/cyclical.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

using redflag::Index;
using redflag::Matrix;
using redflag::Vector;

namespace {

template <class T>
Vector<T> values(std::initializer_list<double> list) {
  Vector<T> out(static_cast<Index>(list.size()));
  Index i = 0;
  for (const double value : list) out(i++) = static_cast<T>(value);
  return out;
}

template <class T>
double distance(const Matrix<T>& encoded, Index a, Index b) {
  return (encoded.row(a).template cast<double>() - encoded.row(b).template cast<double>()).norm();
}

}  // namespace

TEST_CASE_TEMPLATE("encode_hour_of_day places hours on the unit circle", T, float, double) {
  const Matrix<T> encoded = redflag::encode_hour_of_day(values<T>({0, 6, 12, 18, 7.25, 13.5}));
  static_assert(std::is_same_v<decltype(encoded), const Matrix<T>>);
  REQUIRE(encoded.rows() == 6);
  REQUIRE(encoded.cols() == 2);
  // Expected values: numpy.sin / numpy.cos of 2*pi*hour/24.
  const std::vector<std::pair<double, double>> expected = {{0.0, 1.0},
                                                           {1.0, 0.0},
                                                           {0.0, -1.0},
                                                           {-1.0, 0.0},
                                                           {0.9469301294951058, -0.32143946530316164},
                                                           {-0.38268343236508967, -0.9238795325112867}};
  const double tolerance = std::is_same_v<T, float> ? 1e-7 : 1e-15;
  for (Index i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(std::abs(static_cast<double>(encoded(i, 0)) - expected[static_cast<std::size_t>(i)].first) <= tolerance);
    CHECK(std::abs(static_cast<double>(encoded(i, 1)) - expected[static_cast<std::size_t>(i)].second) <= tolerance);
    CHECK(std::abs(std::hypot(static_cast<double>(encoded(i, 0)), static_cast<double>(encoded(i, 1))) - 1.0) <=
          tolerance);
  }
}

TEST_CASE("encode_hour_of_day keeps midnight neighbours close") {
  const Matrix<double> encoded = redflag::encode_hour_of_day(values<double>({23, 0, 1, 12}));
  CHECK(distance(encoded, 0, 1) == doctest::Approx(distance(encoded, 1, 2)).epsilon(1e-14));
  CHECK(distance(encoded, 0, 1) < distance(encoded, 1, 3));
  CHECK(distance(encoded, 1, 3) == doctest::Approx(2.0));
}

TEST_CASE_TEMPLATE("encode_day_of_week", T, float, double) {
  const Matrix<T> encoded = redflag::encode_day_of_week(values<T>({0, 3.5, 6}));
  const double tolerance = std::is_same_v<T, float> ? 1e-7 : 1e-15;
  CHECK(std::abs(static_cast<double>(encoded(0, 0))) <= tolerance);
  CHECK(static_cast<double>(encoded(0, 1)) == doctest::Approx(1.0));
  CHECK(std::abs(static_cast<double>(encoded(1, 0))) <= tolerance);  // numpy: 1.2246467991473532e-16
  CHECK(static_cast<double>(encoded(1, 1)) == doctest::Approx(-1.0));
  CHECK(std::abs(static_cast<double>(encoded(2, 0)) - -0.78183148246803) <= tolerance);
  CHECK(std::abs(static_cast<double>(encoded(2, 1)) - 0.6234898018587333) <= tolerance);
}

TEST_CASE("encode_cyclical accepts any vector expression and integer input") {
  Eigen::VectorXi hours(3);
  hours << 0, 6, 23;
  const Matrix<double> from_int = redflag::encode_hour_of_day(hours);  // integers give double
  CHECK(from_int(1, 0) == doctest::Approx(1.0));

  Eigen::RowVectorXd row(2);
  row << 6, 12;
  CHECK(redflag::encode_hour_of_day(row)(0, 0) == doctest::Approx(1.0));

  Matrix<double> table(2, 3);
  table << 1, 6, 3, 2, 18, 4;
  const Matrix<double> column = redflag::encode_hour_of_day(table.col(1));
  CHECK(column(0, 0) == doctest::Approx(1.0));
  CHECK(column(1, 0) == doctest::Approx(-1.0));

  // Any finite value for a plain period; v and v + period encode identically.
  const Matrix<double> wrapped = redflag::encode_cyclical(values<double>({5, 29, -19, 100}), 24.0);
  CHECK(wrapped.row(0) == wrapped.row(1));
  CHECK((wrapped.row(0) - wrapped.row(2)).norm() <= 1e-15);
  CHECK(std::abs(wrapped(3, 0) - 0.8660254037844393) <= 1e-15);
  CHECK(std::abs(wrapped(3, 1) - 0.5) <= 1e-15);

  const Matrix<float> minutes = redflag::encode_cyclical(values<float>({15}), 60.0);
  CHECK(minutes(0, 0) == 1.0f);
}

TEST_CASE("cyclical encoders reject bad values") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(redflag::encode_hour_of_day(values<double>({1, 24})),
                       doctest::Contains("redflag::encode_hour_of_day: values[1] = 24 is not in [0, 24)"),
                       redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::encode_hour_of_day(values<double>({-0.5})),
                       doctest::Contains("values[0] = -0.5 is not in [0, 24)"), redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::encode_hour_of_day(values<double>({3, 4, nan})),
                       doctest::Contains("values[2] = NaN is not in [0, 24)"), redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::encode_day_of_week(values<float>({7})),
                       doctest::Contains("redflag::encode_day_of_week: values[0] = 7 is not in [0, 7)"),
                       redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::encode_cyclical(values<double>({1, inf}), 24.0),
                       doctest::Contains("redflag::encode_cyclical: values[1] = Inf is not finite"),
                       redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::encode_hour_of_day(Vector<double>()),
                       doctest::Contains("encode_hour_of_day: values is empty"), redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::encode_cyclical(values<double>({1}), 0.0),
                       doctest::Contains("encode_cyclical: period must be finite and > 0, got 0"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::encode_cyclical(values<double>({1}), -7.0), redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::encode_cyclical(values<double>({1}), nan), redflag::invalid_argument);
  CHECK_THROWS_AS(redflag::encode_cyclical(values<double>({1}), inf), redflag::invalid_argument);
}

TEST_CASE("cyclical column names and kinds") {
  const auto hour = redflag::hour_of_day_columns();
  REQUIRE(hour.size() == 2);
  CHECK(hour[0] == redflag::Column{"hour_sin", redflag::ColumnKind::timestamp_derived});
  CHECK(hour[1] == redflag::Column{"hour_cos", redflag::ColumnKind::timestamp_derived});
  const auto day = redflag::day_of_week_columns();
  CHECK(day[0].name == "weekday_sin");
  CHECK(day[1].name == "weekday_cos");
  const auto minute = redflag::cyclical_columns("minute");
  CHECK(minute[1] == redflag::Column{"minute_cos", redflag::ColumnKind::timestamp_derived});
  CHECK_THROWS_WITH_AS(redflag::cyclical_columns(""), doctest::Contains("cyclical_columns: prefix must not be empty"),
                       redflag::invalid_argument);

  // Appended to a feature matrix's schema.
  std::vector<redflag::Column> columns = {{"amount", redflag::ColumnKind::numeric}};
  columns.insert(columns.end(), hour.begin(), hour.end());
  const redflag::Schema schema(columns);
  CHECK(schema.describe() == "amount, hour_sin, hour_cos");
  CHECK(schema[2].kind == redflag::ColumnKind::timestamp_derived);
}
