#include <redflag/timeseries/ohlcv.hpp>
#include <redflag/timeseries/ohlcv_simulator.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

using redflag::Index;
using redflag::Matrix;
using redflag::OhlcvSimulator;
namespace col = redflag::ohlcv;

namespace {

double std_dev(const std::vector<double>& values) {
  double mean = 0.0;
  for (const double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double squares = 0.0;
  for (const double v : values) squares += (v - mean) * (v - mean);
  return std::sqrt(squares / static_cast<double>(values.size()));
}

}  // namespace

TEST_CASE_TEMPLATE("OhlcvSimulator is deterministic and produces valid bars", T, float, double) {
  const typename OhlcvSimulator<T>::Params params{.bars = 2'000, .random_state = 11};
  const Matrix<T> series = OhlcvSimulator<T>(params).generate();
  REQUIRE(series.rows() == 2'000);
  REQUIRE(series.cols() == 5);
  CHECK(series == OhlcvSimulator<T>(params).generate());  // bit for bit
  auto other = params;
  other.random_state = 12;
  CHECK(series != OhlcvSimulator<T>(other).generate());
  CHECK_NOTHROW(redflag::validate_ohlcv(series));
  CHECK(series(0, col::open) == T(100));
  const OhlcvSimulator<T> simulator(params);
  Index gaps = 0;
  for (Index i = 1; i < series.rows(); ++i) {
    if (simulator.bar_of_day(i) != 0) {
      CHECK(series(i, col::open) == series(i - 1, col::close));  // open = previous close within a day
    } else if (series(i, col::open) != series(i - 1, col::close)) {
      ++gaps;
    }
  }
  CHECK(gaps == 2'000 / 78);  // every day after the first opens with a gap
}

TEST_CASE("OhlcvSimulator log returns have the requested volatility and drift") {
  // No intraday shape and no gaps: every bar's log return has std = volatility.
  const Matrix<double> series = OhlcvSimulator<double>({.bars = 20'000,
                                                        .drift = 2e-4,
                                                        .volatility = 0.002,
                                                        .volatility_amplitude = 0.0,
                                                        .day_gap = 0.0,
                                                        .random_state = 3})
                                    .generate();
  std::vector<double> returns;
  double sum = 0.0;
  for (Index i = 1; i < series.rows(); ++i) {
    returns.push_back(std::log(series(i, col::close) / series(i - 1, col::close)));
    sum += returns.back();
  }
  // Standard error of the std estimate: 0.5 %; of the mean: 1.4e-5.
  CHECK(std_dev(returns) == doctest::Approx(0.002).epsilon(0.03));
  CHECK(sum / static_cast<double>(returns.size()) == doctest::Approx(2e-4).epsilon(0.25));
}

TEST_CASE("OhlcvSimulator has an intraday U shape in volatility and volume") {
  const OhlcvSimulator<double> simulator({.bars = 78 * 200, .random_state = 5});
  const Matrix<double> series = simulator.generate();
  std::vector<double> abs_return(78, 0.0), volume(78, 0.0);
  std::vector<double> midday_returns;
  for (Index i = 0; i < series.rows(); ++i) {
    const Index bar = simulator.bar_of_day(i);
    const double r = std::log(series(i, col::close) / series(i, col::open));
    abs_return[static_cast<std::size_t>(bar)] += std::abs(r) / 200.0;
    volume[static_cast<std::size_t>(bar)] += series(i, col::volume) / 200.0;
    if (simulator.intraday_shape(bar) < 0.01) midday_returns.push_back(r);
  }
  const auto mid = [](const std::vector<double>& v) { return (v[38] + v[39]) / 2.0; };
  // Amplitude 1: sigma and mean volume double at the open and close.
  for (const std::size_t edge : {std::size_t{0}, std::size_t{77}}) {
    CHECK(abs_return[edge] > 1.5 * mid(abs_return));
    CHECK(abs_return[edge] < 2.6 * mid(abs_return));
    CHECK(volume[edge] > 1.7 * mid(volume));
    CHECK(volume[edge] < 2.3 * mid(volume));
  }
  CHECK(simulator.intraday_shape(0) == 1.0);
  CHECK(simulator.intraday_shape(77) == 1.0);
  // At mid-day sigma is the requested volatility and the mean volume is base_volume.
  CHECK(std_dev(midday_returns) == doctest::Approx(0.001).epsilon(0.06));
  CHECK(mid(volume) == doctest::Approx(10'000.0).epsilon(0.06));
}

TEST_CASE("OhlcvSimulator rejects bad parameters") {
  using Params = OhlcvSimulator<double>::Params;
  CHECK_THROWS_WITH_AS(OhlcvSimulator<double>(Params{.bars = 0}),
                       "redflag::OhlcvSimulator::OhlcvSimulator: bars must be >= 1, got 0", redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.bars_per_day = 1}), redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.start_price = 0.0}), redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.drift = std::numeric_limits<double>::infinity()}),
                  redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.volatility = 0.0}), redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.volatility_amplitude = -0.1}), redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.volume_amplitude = -1.0}), redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.base_volume = -5.0}), redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.volume_noise = std::numeric_limits<double>::quiet_NaN()}),
                  redflag::invalid_argument);
  CHECK_THROWS_AS(OhlcvSimulator<double>(Params{.day_gap = -0.01}), redflag::invalid_argument);
  CHECK_THROWS_WITH_AS(OhlcvSimulator<double>(Params{.wick = -1.0}),
                       "redflag::OhlcvSimulator::OhlcvSimulator: wick must be >= 0 and finite, got -1",
                       redflag::invalid_argument);
}
