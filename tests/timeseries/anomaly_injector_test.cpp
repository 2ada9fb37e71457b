#include <redflag/timeseries/anomaly_injector.hpp>
#include <redflag/timeseries/ohlcv.hpp>
#include <redflag/timeseries/ohlcv_simulator.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

using redflag::AnomalyEvent;
using redflag::AnomalyInjector;
using redflag::AnomalyKind;
using redflag::AnomalyType;
using redflag::Index;
using redflag::Matrix;
namespace col = redflag::ohlcv;

namespace {

Matrix<double> simulate(Index bars, std::uint64_t seed) {
  return redflag::OhlcvSimulator<double>({.bars = bars, .random_state = seed}).generate();
}

// Log change of a value, in sigma.
double moved(const Matrix<double>& before, const Matrix<double>& after, Index row, Index column, double sigma) {
  return std::log(after(row, column) / before(row, column)) / sigma;
}

bool within(double value, double low, double high) { return value >= low - 1e-9 && value <= high + 1e-9; }

// Checks one event against the series before and after, measuring every
// documented size back from the prices and volumes.
void check_event(const AnomalyEvent& e, const Matrix<double>& before, const Matrix<double>& after, double sigma) {
  CAPTURE(e.start);
  CAPTURE(e.length);
  INFO("kind ", std::string(e.name()), ", magnitude ", e.magnitude);
  const auto prices_unchanged = [&](Index i) {
    for (Index c = 0; c < 4; ++c) CHECK(after(i, c) == before(i, c));
  };
  // Every bar's four prices moved together by d sigma; returns d.
  const auto common_move = [&](Index i) {
    const double d = moved(before, after, i, col::close, sigma);
    for (Index c = 0; c < 3; ++c)
      CHECK(moved(before, after, i, c, sigma) == doctest::Approx(d).epsilon(1e-9).scale(1.0));
    return d;
  };
  const auto volume_ratio = [&](Index i) { return after(i, col::volume) / before(i, col::volume); };
  switch (e.kind) {
    case AnomalyKind::volume_surge:
      CHECK(e.length == 1);
      prices_unchanged(e.start);
      CHECK(within(volume_ratio(e.start), 3.0, 6.0));
      CHECK(volume_ratio(e.start) == doctest::Approx(e.volume_factor));
      break;
    case AnomalyKind::close_decoupling: {
      CHECK(e.length == 1);
      const double d = moved(before, after, e.start, col::close, sigma);
      CHECK(within(std::abs(d), 8.0, 15.0));
      CHECK(d == doctest::Approx(e.magnitude));
      CHECK(after(e.start, col::open) == before(e.start, col::open));
      CHECK(after(e.start, col::high) >= after(e.start, col::close));
      CHECK(after(e.start, col::low) <= after(e.start, col::close));
      break;
    }
    case AnomalyKind::range_inversion: {
      CHECK(e.length == 1);
      const double inversion = std::log(after(e.start, col::low) / after(e.start, col::high)) / sigma;
      CHECK(within(inversion, 4.0, 8.0));
      CHECK(inversion == doctest::Approx(e.magnitude));
      CHECK(after(e.start, col::open) == before(e.start, col::open));
      CHECK(after(e.start, col::close) == before(e.start, col::close));
      break;
    }
    case AnomalyKind::spike:
    case AnomalyKind::level_shift:
    case AnomalyKind::subtle_shift:
    case AnomalyKind::price_jump: {
      const double low = e.kind == AnomalyKind::spike || e.kind == AnomalyKind::level_shift ? 6.0
                         : e.kind == AnomalyKind::subtle_shift                              ? 1.5
                                                                                            : 15.0;
      const double high = e.kind == AnomalyKind::spike || e.kind == AnomalyKind::level_shift ? 12.0
                          : e.kind == AnomalyKind::subtle_shift                              ? 3.0
                                                                                             : 30.0;
      if (e.kind == AnomalyKind::spike) {
        CHECK(within(static_cast<double>(e.length), 1, 3));
      } else if (e.kind == AnomalyKind::price_jump) {
        CHECK(within(static_cast<double>(e.length), 10, 30));
      } else {
        CHECK(within(static_cast<double>(e.length), 20, 60));
      }
      for (Index j = 0; j < e.length; ++j) {
        const double d = common_move(e.start + j);
        CHECK(within(std::abs(d), low, high));
        CHECK(d == doctest::Approx(e.magnitude));
      }
      if (e.kind == AnomalyKind::price_jump) {
        CHECK(within(volume_ratio(e.start), 3.0, 6.0));
        for (Index j = 1; j < e.length; ++j) CHECK(volume_ratio(e.start + j) < volume_ratio(e.start + j - 1));
        CHECK(volume_ratio(e.start + e.length - 1) < 1.0 + 0.1 * (volume_ratio(e.start) - 1.0));
      } else {
        for (Index j = 0; j < e.length; ++j) CHECK(volume_ratio(e.start + j) == 1.0);
      }
      break;
    }
    case AnomalyKind::trend_change: {
      CHECK(within(static_cast<double>(e.length), 20, 60));
      const double slope = common_move(e.start + 1) - common_move(e.start);
      CHECK(within(std::abs(slope), 0.5, 1.0));
      CHECK(common_move(e.start) == doctest::Approx(slope));  // the triangle starts one step up
      const Index m = e.length;
      for (Index j = 0; j < m; ++j) {
        CHECK(common_move(e.start + j) ==
              doctest::Approx(slope * static_cast<double>(std::min(j + 1, m - j))).epsilon(1e-9).scale(1.0));
      }
      break;
    }
    case AnomalyKind::flash_crash: {
      const Index h = (e.length - 1) / 2;
      CHECK(e.length % 2 == 1);
      CHECK(within(static_cast<double>(h), 3, 10));
      const double depth = -common_move(e.start + h);
      CHECK(within(depth, 15.0, 30.0));
      for (Index j = 0; j < e.length; ++j) {
        const double d = common_move(e.start + j);
        if (j < h) CHECK(common_move(e.start + j + 1) < d);  // down to the bottom ...
        if (j > h) CHECK(common_move(e.start + j - 1) < d);  // ... and back up
        CHECK(d < 0.0);
        CHECK(within(volume_ratio(e.start + j), 3.0, 6.0));
      }
      break;
    }
    case AnomalyKind::micro_oscillation: {
      CHECK(within(static_cast<double>(e.length), 20, 60));
      CHECK(within(static_cast<double>(e.period), 4, 8));
      double amplitude = 0.0;
      for (Index j = 0; j < e.length; ++j) amplitude = std::max(amplitude, std::abs(common_move(e.start + j)));
      CHECK(within(amplitude, 1.5, 3.0));
      CHECK(common_move(e.start) == doctest::Approx(amplitude));
      for (Index j = 0; j + e.period < e.length; ++j) {
        CHECK(common_move(e.start + j + e.period) ==
              doctest::Approx(common_move(e.start + j)).epsilon(1e-9).scale(1.0));
      }
      break;
    }
    case AnomalyKind::volume_increase:
      CHECK(within(static_cast<double>(e.length), 20, 60));
      for (Index j = 0; j < e.length; ++j) {
        prices_unchanged(e.start + j);
        CHECK(within(volume_ratio(e.start + j), 1.3, 1.6));
      }
      break;
  }
}

}  // namespace

TEST_CASE("AnomalyInjector plants every kind with its documented size") {
  const Matrix<double> training = simulate(3'000, 1);
  const Matrix<double> test = simulate(300 * 80, 2);
  const double sigma = redflag::log_return_std(training);
  const std::map<AnomalyType, std::set<AnomalyKind>> kinds = {
      {AnomalyType::contextual,
       {AnomalyKind::volume_surge, AnomalyKind::close_decoupling, AnomalyKind::range_inversion}},
      {AnomalyType::pattern, {AnomalyKind::spike, AnomalyKind::level_shift, AnomalyKind::trend_change}},
      {AnomalyType::collective, {AnomalyKind::flash_crash, AnomalyKind::price_jump}},
      {AnomalyType::subtle, {AnomalyKind::subtle_shift, AnomalyKind::micro_oscillation, AnomalyKind::volume_increase}},
  };
  for (const auto& entry : kinds) {
    const AnomalyType type = entry.first;  // not a structured binding: clang 14 cannot capture those
    const auto& expected_kinds = entry.second;
    INFO("type ", std::string(redflag::to_string(type)));
    const AnomalyInjector<double> injector({.type = type, .random_state = 9}, training);
    CHECK(injector.sigma() == sigma);
    const auto injected = injector.inject(test);
    std::set<AnomalyKind> seen;
    std::set<double> signs;
    for (const AnomalyEvent& e : injected.events) {
      CHECK(e.type() == type);
      seen.insert(e.kind);
      if (e.magnitude != 0) signs.insert(std::copysign(1.0, e.magnitude));
      check_event(e, test, injected.series, sigma);
    }
    CHECK(seen == expected_kinds);
    CHECK(signs.size() == 2);  // up and down moves both occur (the crash is down only)
  }
}

TEST_CASE("AnomalyInjector labels exactly the bars of its events, one event per slot at most") {
  const Matrix<double> series = simulate(300 * 60 + 123, 4);
  const auto injected = AnomalyInjector<double>({.random_state = 5}, 0.0015).inject(series);
  REQUIRE(injected.labels.size() == static_cast<std::size_t>(series.rows()));
  std::vector<std::uint8_t> expected(injected.labels.size(), 0);
  std::set<Index> slots;
  std::set<AnomalyType> types;
  Index previous_end = 0;
  for (const AnomalyEvent& e : injected.events) {
    CHECK(e.start >= previous_end);  // in order, never overlapping
    previous_end = e.start + e.length;
    CHECK(e.start / 300 == (e.start + e.length - 1) / 300);  // inside one slot
    CHECK(slots.insert(e.start / 300).second);               // the slot's only event
    types.insert(e.type());
    for (Index i = e.start; i < e.start + e.length; ++i) expected[static_cast<std::size_t>(i)] = 1;
  }
  CHECK(injected.labels == expected);
  CHECK(types.size() == 4);  // mixed draws from all four types
  const redflag::LabelVector labels = injected.label_vector();
  Index changed_bars = 0;
  for (Index i = 0; i < series.rows(); ++i) {
    const bool changed = injected.series.row(i) != series.row(i);
    CHECK(labels(i) == injected.labels[static_cast<std::size_t>(i)]);
    if (!injected.labels[static_cast<std::size_t>(i)]) CHECK_FALSE(changed);  // nothing outside the events
    changed_bars += changed ? 1 : 0;
  }
  // Inside events nearly every bar changes (an oscillation's zero crossings do not).
  CHECK(static_cast<double>(changed_bars) > 0.95 * static_cast<double>(labels.sum()));
}

TEST_CASE("about half of the slots receive an event") {
  // A flat series is enough to count events: 2,000 full slots, shortened to
  // 60 bars (the longest event) to keep the test quick.
  Matrix<double> flat(60 * 2'000, 5);
  flat.leftCols(4).setConstant(100.0);
  flat.col(4).setConstant(1'000.0);
  const auto injected = AnomalyInjector<double>({.slot_bars = 60, .random_state = 6}, 0.001).inject(flat);
  const double fraction = static_cast<double>(injected.events.size()) / 2'000.0;
  CHECK(fraction > 0.46);  // 0.5 +- 3.6 standard errors
  CHECK(fraction < 0.54);
  CHECK(AnomalyInjector<double>({.event_probability = 0.0}, 0.001).inject(flat).events.empty());
  CHECK(AnomalyInjector<double>({.event_probability = 1.0}, 0.001).inject(flat.topRows(3'000)).events.size() == 10);
}

TEST_CASE("a last, partial slot receives events in proportion to its length, and only ones that fit") {
  Matrix<double> flat(3'150, 5);
  flat.leftCols(4).setConstant(100.0);
  flat.col(4).setConstant(1'000.0);
  // Ten whole slots and half a slot, every slot certain to draw: the half
  // slot gets a (one-bar, always fitting) contextual event half the time.
  int in_tail = 0;
  constexpr int seeds = 1'000;
  for (int seed = 0; seed < seeds; ++seed) {
    const AnomalyInjector<double> injector(
        {.type = AnomalyType::contextual, .event_probability = 1.0, .random_state = static_cast<std::uint64_t>(seed)},
        0.001);
    const auto injected = injector.inject(flat);
    REQUIRE(injected.events.size() >= 10);
    in_tail += static_cast<int>(injected.events.size()) - 10;
    if (injected.events.size() == 11) CHECK(injected.events.back().start >= 3'000);
  }
  CHECK(in_tail > 450);  // 500 expected, +- 3.2 standard errors
  CHECK(in_tail < 550);
  // Subtle events last 20-60 bars: a 19-bar remainder never gets one.
  for (int seed = 0; seed < 200; ++seed) {
    const AnomalyInjector<double> subtle(
        {.type = AnomalyType::subtle, .event_probability = 1.0, .random_state = static_cast<std::uint64_t>(seed)},
        0.001);
    CHECK(subtle.inject(flat.topRows(3'019)).events.size() == 10);
  }
}

TEST_CASE("AnomalyInjector is deterministic, and each slot depends only on the seed and its index") {
  const Matrix<double> series = simulate(3'000, 8);
  const AnomalyInjector<double> injector({.random_state = 21}, 0.0012);
  const auto first = injector.inject(series);
  const auto again = injector.inject(series);
  CHECK(first.series == again.series);
  CHECK(first.labels == again.labels);
  REQUIRE(first.events.size() == again.events.size());
  for (std::size_t k = 0; k < first.events.size(); ++k) {
    CHECK(first.events[k].start == again.events[k].start);
    CHECK(first.events[k].kind == again.events[k].kind);
    CHECK(first.events[k].magnitude == again.events[k].magnitude);
  }
  const auto other = AnomalyInjector<double>({.random_state = 22}, 0.0012).inject(series);
  CHECK(other.labels != first.labels);
  // The first 1,500 bars (5 whole slots) get the same events alone.
  const auto prefix = injector.inject(series.topRows(1'500));
  CHECK(prefix.series == first.series.topRows(1'500));

  const Matrix<float> as_float = series.cast<float>();
  const auto float_result = AnomalyInjector<float>({.random_state = 21}, 0.0012).inject(as_float);
  CHECK(float_result.labels == first.labels);
}

TEST_CASE("anomaly type names") {
  for (const auto type : {AnomalyType::contextual, AnomalyType::pattern, AnomalyType::collective, AnomalyType::subtle,
                          AnomalyType::mixed}) {
    CHECK(redflag::parse_anomaly_type(redflag::to_string(type)) == type);
  }
  CHECK(redflag::to_string(AnomalyKind::micro_oscillation) == "micro_oscillation");
  CHECK(redflag::type_of(AnomalyKind::price_jump) == AnomalyType::collective);
  CHECK_THROWS_WITH_AS(redflag::parse_anomaly_type("all"),
                       "redflag::parse_anomaly_type: unknown anomaly type \"all\" (expected contextual, pattern, "
                       "collective, subtle or mixed)",
                       redflag::invalid_argument);
}

TEST_CASE("AnomalyInjector rejects bad parameters and series") {
  using Params = AnomalyInjector<double>::Params;
  CHECK_THROWS_WITH_AS(AnomalyInjector<double>(Params{}, 0.0),
                       "redflag::AnomalyInjector::AnomalyInjector: sigma must be positive and finite, got 0",
                       redflag::invalid_argument);
  CHECK_THROWS_AS(AnomalyInjector<double>(Params{}, std::numeric_limits<double>::quiet_NaN()),
                  redflag::invalid_argument);
  CHECK_THROWS_AS(AnomalyInjector<double>(Params{.slot_bars = 0}, 0.001), redflag::invalid_argument);
  CHECK_THROWS_AS(AnomalyInjector<double>(Params{.event_probability = 1.5}, 0.001), redflag::invalid_argument);
  CHECK_THROWS_AS(AnomalyInjector<double>(Params{.type = static_cast<AnomalyType>(9)}, 0.001),
                  redflag::invalid_argument);

  Matrix<double> flat(10, 5);
  flat.leftCols(4).setConstant(100.0);
  flat.col(4).setConstant(1.0);
  CHECK_THROWS_WITH_AS(AnomalyInjector<double>(Params{}, flat),
                       "redflag::log_return_std: the closes never change: the log-return std is 0",
                       redflag::data_error);
  CHECK_THROWS_WITH_AS(redflag::log_return_std(simulate(2, 1)),
                       "redflag::log_return_std: series has 2 bars, at least 3 needed", redflag::data_error);

  const AnomalyInjector<double> injector(Params{}, 0.001);
  CHECK_THROWS_AS((void)injector.inject(flat.leftCols(4)), redflag::schema_mismatch);
  Matrix<double> inverted = simulate(50, 3);
  std::swap(inverted(7, col::high), inverted(7, col::low));
  CHECK_THROWS_WITH_AS((void)injector.inject(inverted),
                       doctest::Contains("redflag::AnomalyInjector::inject: series bar 7 has high"),
                       redflag::data_error);
  // Injected series are not valid OHLCV when they hold a range inversion.
  const auto injected =
      AnomalyInjector<double>({.type = AnomalyType::contextual, .event_probability = 1.0, .random_state = 2}, 0.001)
          .inject(simulate(3'000, 5));
  const bool has_inversion = std::any_of(injected.events.begin(), injected.events.end(),
                                         [](const AnomalyEvent& e) { return e.kind == AnomalyKind::range_inversion; });
  REQUIRE(has_inversion);
  CHECK_THROWS_AS(redflag::validate_ohlcv(injected.series), redflag::data_error);
}
