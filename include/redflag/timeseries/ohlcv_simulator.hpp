#pragma once

// OhlcvSimulator: a seedable series of intraday OHLCV bars (columns open,
// high, low, close, volume; see ohlcv.hpp) for tests, benchmarks and examples.
//
// Bars run in trading days of bars_per_day bars (78 five-minute bars = one
// 6.5-hour session). With b the bar of the day and
//   u(b) = (2 b / (bars_per_day - 1) - 1)^2      (1 at the open and close, 0 at mid-day)
// each bar is drawn as
//   sigma_b    = volatility * (1 + volatility_amplitude * u(b))
//   open       = previous close, times exp(day_gap * z) on the first bar of a day
//                (start_price for the very first bar)
//   close      = open * exp(drift + sigma_b * z)                      (geometric Brownian motion)
//   high       = max(open, close) * exp(wick * sigma_b * |z|)
//   low        = min(open, close) * exp(-wick * sigma_b * |z|)
//   volume     = base_volume * (1 + volume_amplitude * u(b)) * exp(volume_noise * z - volume_noise^2 / 2)
// with a fresh standard normal z each time. The last factor of the volume
// has mean 1, so the mean volume at bar b is base_volume * (1 + volume_amplitude * u(b)):
// busier, more volatile opens and closes than mid-days — the intraday U shape.
//
// Same Params (including random_state) → the same series bit for bit.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/timeseries/ohlcv.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

namespace redflag {

template <Scalar T>
class OhlcvSimulator {
 public:
  struct Params {
    Index bars = 78 * 20;     // length of the series
    Index bars_per_day = 78;  // bars per trading day (78 five-minute bars)
    double start_price = 100.0;
    double drift = 0.0;                 // mean log return per bar
    double volatility = 0.001;          // per-bar standard deviation of log returns at mid-day
    double volatility_amplitude = 1.0;  // sigma at the day's first and last bar = (1 + this) * volatility
    double volume_amplitude = 1.0;      // mean volume there = (1 + this) * base_volume
    double base_volume = 10'000.0;      // mean volume at mid-day
    double volume_noise = 0.3;          // standard deviation of log volume around its mean
    double day_gap = 0.002;             // standard deviation of the log gap at each day's open
    double wick = 0.5;                  // wick lengths, in units of the bar's sigma
    std::uint64_t random_state = 0;
  };

  OhlcvSimulator() : OhlcvSimulator(Params{}) {}
  explicit OhlcvSimulator(const Params& params) : params_(params) {
    constexpr std::string_view where = "OhlcvSimulator::OhlcvSimulator";
    using detail::require_parameter;
    const auto finite_at_least = [&](double value, double minimum, std::string_view name, std::string_view text) {
      require_parameter(std::isfinite(value) && value >= minimum, where, name, text, value);
    };
    require_parameter(params.bars >= 1, where, "bars", ">= 1", params.bars);
    require_parameter(params.bars_per_day >= 2, where, "bars_per_day", ">= 2", params.bars_per_day);
    require_parameter(std::isfinite(params.start_price) && params.start_price > 0, where, "start_price",
                      "positive and finite", params.start_price);
    require_parameter(std::isfinite(params.drift), where, "drift", "finite", params.drift);
    require_parameter(std::isfinite(params.volatility) && params.volatility > 0, where, "volatility",
                      "positive and finite", params.volatility);
    finite_at_least(params.volatility_amplitude, 0, "volatility_amplitude", ">= 0 and finite");
    finite_at_least(params.volume_amplitude, 0, "volume_amplitude", ">= 0 and finite");
    require_parameter(std::isfinite(params.base_volume) && params.base_volume > 0, where, "base_volume",
                      "positive and finite", params.base_volume);
    finite_at_least(params.volume_noise, 0, "volume_noise", ">= 0 and finite");
    finite_at_least(params.day_gap, 0, "day_gap", ">= 0 and finite");
    finite_at_least(params.wick, 0, "wick", ">= 0 and finite");
  }

  // bars x 5 OHLCV series (row i is bar i; its bar of the day is bar_of_day(i)).
  [[nodiscard]] Matrix<T> generate() const {
    const Params& p = params_;
    Random random(p.random_state);
    Matrix<T> series(p.bars, ohlcv::columns);
    double close = p.start_price;
    for (Index i = 0; i < p.bars; ++i) {
      const double u = intraday_shape(bar_of_day(i));
      const double sigma = p.volatility * (1.0 + p.volatility_amplitude * u);
      double open = close;
      if (i > 0 && bar_of_day(i) == 0) open *= std::exp(p.day_gap * random.normal());
      close = open * std::exp(p.drift + sigma * random.normal());
      const double high = std::max(open, close) * std::exp(p.wick * sigma * std::abs(random.normal()));
      const double low = std::min(open, close) * std::exp(-p.wick * sigma * std::abs(random.normal()));
      const double noise = p.volume_noise * random.normal() - 0.5 * p.volume_noise * p.volume_noise;
      const double volume = p.base_volume * (1.0 + p.volume_amplitude * u) * std::exp(noise);
      // Converting each value on its own keeps the order of the prices in
      // float too (rounding is monotonic), so bars stay consistent.
      series(i, ohlcv::open) = static_cast<T>(open);
      series(i, ohlcv::high) = static_cast<T>(high);
      series(i, ohlcv::low) = static_cast<T>(low);
      series(i, ohlcv::close) = static_cast<T>(close);
      series(i, ohlcv::volume) = static_cast<T>(volume);
    }
    return series;
  }

  // Position of bar i within its trading day, 0 .. bars_per_day - 1.
  [[nodiscard]] Index bar_of_day(Index i) const noexcept { return i % params_.bars_per_day; }

  // u(b) above: 1 at the first and last bar of the day, 0 at mid-day.
  [[nodiscard]] double intraday_shape(Index bar) const noexcept {
    const double x = 2.0 * static_cast<double>(bar) / static_cast<double>(params_.bars_per_day - 1) - 1.0;
    return x * x;
  }

  [[nodiscard]] const Params& params() const noexcept { return params_; }

 private:
  Params params_;
};

}  // namespace redflag
