#pragma once

// OHLCV bars: one row per bar (timestep), columns open, high, low, close,
// volume in that order. Every time-series tool in redflag/timeseries reads
// and writes this layout.
//
// validate_ohlcv checks that a series is made of well-formed bars and names
// the first offending one. Do not apply it to series from AnomalyInjector:
// its range_inversion events deliberately set high < low.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <array>
#include <cmath>
#include <string>
#include <string_view>

namespace redflag {

namespace ohlcv {

inline constexpr Index open = 0;
inline constexpr Index high = 1;
inline constexpr Index low = 2;
inline constexpr Index close = 3;
inline constexpr Index volume = 4;
inline constexpr Index columns = 5;

inline constexpr std::array<std::string_view, 5> column_names = {"open", "high", "low", "close", "volume"};

}  // namespace ohlcv

// Throws schema_mismatch unless the series has 5 columns, data_error if it is
// empty or, for the first bad bar, when a value is NaN or Inf, a price is not
// positive, high < low, or the volume is negative. `where` names the caller in
// the message. An open or close outside [low, high] is accepted: real feeds
// print such bars (the SPY daily series from Yahoo Finance has two), and they
// are the data's business, not a reason to refuse the whole series.
template <class Derived>
  requires Scalar<typename Derived::Scalar>
void validate_ohlcv(const Eigen::MatrixBase<Derived>& series, std::string_view where = "validate_ohlcv") {
  detail::require_columns(series, ohlcv::columns, where, "series");
  if (series.rows() == 0) detail::raise<data_error>(where, "series has no bars");
  const auto bar = [](Index row) { return "series bar " + std::to_string(row); };
  for (Index row = 0; row < series.rows(); ++row) {
    for (Index col = 0; col < ohlcv::columns; ++col) {
      const double value = static_cast<double>(series(row, col));
      const auto name = [col] { return std::string(ohlcv::column_names[static_cast<std::size_t>(col)]); };
      if (!std::isfinite(value)) {
        detail::raise<data_error>(where, bar(row) + " has " + name() + " = " + detail::format_number(value) +
                                             " (column " + std::to_string(col) + "; finite values required)");
      }
      if (col < ohlcv::volume && !(value > 0)) {
        detail::raise<data_error>(where, bar(row) + " has " + name() + " = " + detail::format_number(value) +
                                             " (column " + std::to_string(col) + "; prices must be positive)");
      }
      if (col == ohlcv::volume && value < 0) {
        detail::raise<data_error>(
            where, bar(row) + " has volume = " + detail::format_number(value) + " (column 4; volumes must be >= 0)");
      }
    }
    const auto h = series(row, ohlcv::high), l = series(row, ohlcv::low);
    if (h < l) {
      detail::raise<data_error>(where, bar(row) + " has high " + detail::format_number(h) + " < low " +
                                           detail::format_number(l) + " (columns 1 and 2)");
    }
  }
}

}  // namespace redflag
