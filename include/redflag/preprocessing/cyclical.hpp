#pragma once

// Cyclical encoding of periodic time features. Hour 23 and hour 0 are one
// hour apart, but as raw numbers they are 23 apart; mapping v to the point
// (sin(2*pi*v/period), cos(2*pi*v/period)) on the unit circle keeps
// neighbours close, which distance- and tree-based detectors rely on.
//
//   auto hours = redflag::encode_hour_of_day(hour_column);    // n x 2: hour_sin, hour_cos
//   auto columns = redflag::hour_of_day_columns();           // names and kinds for a Schema

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <cmath>
#include <concepts>
#include <numbers>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace redflag {

namespace detail::preprocessing {

// Floating input keeps its precision; integer hours and days give double.
template <class Value>
using cyclical_scalar_t = std::conditional_t<std::same_as<Value, float>, float, double>;

template <class Derived>
Matrix<cyclical_scalar_t<typename Derived::Scalar>> encode_cyclical_checked(const Eigen::MatrixBase<Derived>& values,
                                                                            double period, double upper,
                                                                            std::string_view where) {
  static_assert(Derived::IsVectorAtCompileTime, "cyclical encoding takes a vector of values");
  static_assert(std::is_arithmetic_v<typename Derived::Scalar>, "cyclical encoding takes numeric values");
  using T = cyclical_scalar_t<typename Derived::Scalar>;
  detail::require_parameter(std::isfinite(period) && period > 0.0, where, "period", "finite and > 0", period);
  if (values.size() == 0) raise<data_error>(where, "values is empty");
  const Index n = values.size();
  Matrix<T> out(n, 2);
  // The angle is formed in double whatever the input type. fmod is exact, so
  // v and v + period (when both are exact) encode identically.
  for (Index i = 0; i < n; ++i) {
    const auto value = static_cast<double>(values(i));
    if (!std::isfinite(value) || (upper > 0.0 && !(value >= 0.0 && value < upper))) {
      const std::string range = upper > 0.0 ? "in [0, " + format_number(upper) + ")" : "finite";
      raise<data_error>(where, "values[" + std::to_string(i) + "] = " + format_number(value) + " is not " + range);
    }
    const double angle = 2.0 * std::numbers::pi * (std::fmod(value, period) / period);
    out(i, 0) = static_cast<T>(std::sin(angle));
    out(i, 1) = static_cast<T>(std::cos(angle));
  }
  return out;
}

}  // namespace detail::preprocessing

// n x 2 matrix (sin, cos) of 2*pi*value/period. Values may be any finite
// number (v and v + period encode alike); period must be finite and > 0.
template <class Derived>
Matrix<detail::preprocessing::cyclical_scalar_t<typename Derived::Scalar>> encode_cyclical(
    const Eigen::MatrixBase<Derived>& values, double period) {
  return detail::preprocessing::encode_cyclical_checked(values, period, 0.0, "encode_cyclical");
}

// Hour of day in [0, 24), fractional hours allowed (13.5 = 13:30); period 24.
template <class Derived>
Matrix<detail::preprocessing::cyclical_scalar_t<typename Derived::Scalar>> encode_hour_of_day(
    const Eigen::MatrixBase<Derived>& hours) {
  return detail::preprocessing::encode_cyclical_checked(hours, 24.0, 24.0, "encode_hour_of_day");
}

// Day of week in [0, 7) (0 = the first day of your week; fractions allowed);
// period 7.
template <class Derived>
Matrix<detail::preprocessing::cyclical_scalar_t<typename Derived::Scalar>> encode_day_of_week(
    const Eigen::MatrixBase<Derived>& days) {
  return detail::preprocessing::encode_cyclical_checked(days, 7.0, 7.0, "encode_day_of_week");
}

// The two columns an encoding adds: "<prefix>_sin", "<prefix>_cos", both
// ColumnKind::timestamp_derived.
inline std::vector<Column> cyclical_columns(std::string_view prefix) {
  if (prefix.empty()) detail::raise<invalid_argument>("cyclical_columns", "prefix must not be empty");
  const std::string base(prefix);
  return {{base + "_sin", ColumnKind::timestamp_derived}, {base + "_cos", ColumnKind::timestamp_derived}};
}

// {"hour_sin", "hour_cos"}
inline std::vector<Column> hour_of_day_columns() { return cyclical_columns("hour"); }

// {"weekday_sin", "weekday_cos"}
inline std::vector<Column> day_of_week_columns() { return cyclical_columns("weekday"); }

}  // namespace redflag
