#pragma once

// AnomalyInjector: plants labelled anomalies of known size into an OHLCV
// series (ohlcv.hpp), to measure how well a detector finds them.
//
// Sizes are in units of sigma, the standard deviation of the log returns
// log(close_t / close_{t-1}) of the TRAINING series (given, or computed by
// log_return_std), so the same settings mean the same difficulty at any
// volatility. "A price move of k sigma" multiplies open, high, low and close
// of a bar by exp(k * sigma), which keeps the bar consistent.
//
// The series is cut into slots of slot_bars (300) bars; each slot receives one
// event with probability event_probability (0.5), at a uniformly random
// position where it fits. A last, partial slot of L bars receives one with
// probability event_probability * L / slot_bars (events are then as frequent
// per bar at the end of the series as anywhere else), and none when the drawn
// event is longer than L. Each event picks one kind of its type uniformly
// (under mixed, the type is first drawn uniformly from the other four). With
// d_j the log price change in sigma at the j-th bar of the event
// (j = 0 .. length - 1):
//
//   contextual  volume_surge      1 bar, volume x U[3, 6], prices untouched
//               close_decoupling  1 bar, close x exp(+-U[8, 15] sigma), high/low
//                                 stretched to enclose it; neighbours untouched
//               range_inversion   1 bar, high and low moved around sqrt(high * low)
//                                 so that log(low / high) = U[4, 8] sigma: high < low
//   pattern     spike             1-3 bars, d_j = +-U[6, 12]
//               level_shift       20-60 bars, d_j = +-U[6, 12]
//               trend_change      20-60 bars (m), slope s = +-U[0.5, 1] sigma per bar,
//                                 d_j = s * min(j + 1, m - j) (a triangle)
//   collective  flash_crash       m = 2h + 1 bars, h in 3-10, d_j = -k (1 - |j - h| / (h + 1)),
//                                 k = U[15, 30] (V-shaped, rebounds), volume x U[3, 6]
//               price_jump        10-30 bars (m), d_j = +-U[15, 30], volume x
//                                 1 + (f - 1) exp(-3 j / m), f = U[3, 6] (decaying surge)
//   subtle      subtle_shift      20-60 bars, d_j = +-U[1.5, 3]
//               micro_oscillation 20-60 bars, d_j = a cos(2 pi j / P), a = U[1.5, 3], P in 4-8
//               volume_increase   20-60 bars, volume x U[1.3, 1.6]
//
// Every event is temporary: after it the series continues on its own path,
// so events never interact and the labels are 1 on exactly the bars of the
// events (and no bar outside them is changed). Signs are drawn with
// probability 1/2 each.
//
// range_inversion deliberately breaks high >= low (and open/close within
// [low, high]): do not run validate_ohlcv on injected series.
//
// Same Params, sigma and series → the same result bit for bit; each slot draws
// from its own stream, Random::stream(random_state, slot).

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/timeseries/ohlcv.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

namespace redflag {

enum class AnomalyType : std::uint8_t { contextual, pattern, collective, subtle, mixed };

enum class AnomalyKind : std::uint8_t {
  volume_surge,
  close_decoupling,
  range_inversion,  // contextual
  spike,
  level_shift,
  trend_change,  // pattern
  flash_crash,
  price_jump,  // collective
  subtle_shift,
  micro_oscillation,
  volume_increase,  // subtle
};

inline std::string_view to_string(AnomalyType type) {
  switch (type) {
    case AnomalyType::contextual: return "contextual";
    case AnomalyType::pattern: return "pattern";
    case AnomalyType::collective: return "collective";
    case AnomalyType::subtle: return "subtle";
    case AnomalyType::mixed: return "mixed";
  }
  return "unknown";
}

inline std::string_view to_string(AnomalyKind kind) {
  switch (kind) {
    case AnomalyKind::volume_surge: return "volume_surge";
    case AnomalyKind::close_decoupling: return "close_decoupling";
    case AnomalyKind::range_inversion: return "range_inversion";
    case AnomalyKind::spike: return "spike";
    case AnomalyKind::level_shift: return "level_shift";
    case AnomalyKind::trend_change: return "trend_change";
    case AnomalyKind::flash_crash: return "flash_crash";
    case AnomalyKind::price_jump: return "price_jump";
    case AnomalyKind::subtle_shift: return "subtle_shift";
    case AnomalyKind::micro_oscillation: return "micro_oscillation";
    case AnomalyKind::volume_increase: return "volume_increase";
  }
  return "unknown";
}

// "contextual", "pattern", "collective", "subtle" or "mixed"; anything else
// throws invalid_argument listing the names.
inline AnomalyType parse_anomaly_type(std::string_view name) {
  for (const auto type : {AnomalyType::contextual, AnomalyType::pattern, AnomalyType::collective, AnomalyType::subtle,
                          AnomalyType::mixed}) {
    if (name == to_string(type)) return type;
  }
  detail::raise<invalid_argument>(
      "parse_anomaly_type",
      "unknown anomaly type \"" + std::string(name) + "\" (expected contextual, pattern, collective, subtle or mixed)");
}

// The type a kind belongs to (never mixed).
inline AnomalyType type_of(AnomalyKind kind) {
  switch (kind) {
    case AnomalyKind::volume_surge:
    case AnomalyKind::close_decoupling:
    case AnomalyKind::range_inversion: return AnomalyType::contextual;
    case AnomalyKind::spike:
    case AnomalyKind::level_shift:
    case AnomalyKind::trend_change: return AnomalyType::pattern;
    case AnomalyKind::flash_crash:
    case AnomalyKind::price_jump: return AnomalyType::collective;
    case AnomalyKind::subtle_shift:
    case AnomalyKind::micro_oscillation:
    case AnomalyKind::volume_increase: return AnomalyType::subtle;
  }
  return AnomalyType::mixed;
}

struct AnomalyEvent {
  Index start = 0;   // first bar
  Index length = 0;  // bars touched: start .. start + length - 1
  AnomalyKind kind = AnomalyKind::spike;
  // In sigma, signed (+ up, - down): the price move (d_j of the level-type
  // kinds, the close's move, the inversion log(low / high), the crash's depth
  // as -k, the oscillation's amplitude), for trend_change the slope per bar;
  // 0 for the volume-only kinds.
  double magnitude = 0.0;
  double volume_factor = 1.0;  // peak volume multiplier (1 = volume untouched)
  Index period = 0;            // micro_oscillation's period in bars, else 0

  [[nodiscard]] AnomalyType type() const { return type_of(kind); }
  [[nodiscard]] std::string_view name() const { return to_string(kind); }
};

template <Scalar T>
struct InjectedSeries {
  Matrix<T> series;                  // the input with the events applied
  std::vector<std::uint8_t> labels;  // per bar: 1 on every bar of an event
  std::vector<AnomalyEvent> events;  // in order of start

  // labels as the LabelVector the metrics take.
  [[nodiscard]] LabelVector label_vector() const {
    LabelVector out(static_cast<Index>(labels.size()));
    for (std::size_t i = 0; i < labels.size(); ++i) out(static_cast<Index>(i)) = labels[i];
    return out;
  }
};

// Standard deviation (population, ddof = 0) of log(close_t / close_{t-1})
// over an OHLCV series of at least 3 bars (validated with validate_ohlcv);
// data_error when it is 0.
template <class Derived>
  requires Scalar<typename Derived::Scalar>
double log_return_std(const Eigen::MatrixBase<Derived>& series) {
  constexpr std::string_view where = "log_return_std";
  validate_ohlcv(series, where);
  if (series.rows() < 3) {
    detail::raise<data_error>(where, "series has " + std::to_string(series.rows()) + " bars, at least 3 needed");
  }
  const Index n = series.rows() - 1;
  const auto log_return = [&](Index t) {
    return std::log(static_cast<double>(series(t + 1, ohlcv::close)) / static_cast<double>(series(t, ohlcv::close)));
  };
  double sum = 0.0;
  for (Index t = 0; t < n; ++t) sum += log_return(t);
  const double mean = sum / static_cast<double>(n);
  double squares = 0.0;
  for (Index t = 0; t < n; ++t) squares += (log_return(t) - mean) * (log_return(t) - mean);
  const double sigma = std::sqrt(squares / static_cast<double>(n));
  if (!(sigma > 0)) detail::raise<data_error>(where, "the closes never change: the log-return std is 0");
  return sigma;
}

template <Scalar T>
class AnomalyInjector {
 public:
  struct Params {
    AnomalyType type = AnomalyType::mixed;
    Index slot_bars = 300;           // at most one event per slot of this many bars
    double event_probability = 0.5;  // chance that a slot gets an event
    std::uint64_t random_state = 0;
  };

  // sigma: the training series' log-return standard deviation.
  AnomalyInjector(const Params& params, double sigma) : params_(params), sigma_(sigma) {
    constexpr std::string_view where = "AnomalyInjector::AnomalyInjector";
    using detail::require_parameter;
    require_parameter(static_cast<int>(params.type) <= static_cast<int>(AnomalyType::mixed), where, "type",
                      "an AnomalyType", static_cast<int>(params.type));
    require_parameter(params.slot_bars >= 1, where, "slot_bars", ">= 1", params.slot_bars);
    require_parameter(params.event_probability >= 0 && params.event_probability <= 1, where, "event_probability",
                      "in [0, 1]", params.event_probability);
    require_parameter(std::isfinite(sigma) && sigma > 0, where, "sigma", "positive and finite", sigma);
  }

  // sigma = log_return_std(training).
  template <class Derived>
    requires Scalar<typename Derived::Scalar> AnomalyInjector(const Params& params,
                                                              const Eigen::MatrixBase<Derived>& training)
        : AnomalyInjector(params, log_return_std(training)) {}

    // `series` with events planted (it must pass validate_ohlcv).
    [[nodiscard]] InjectedSeries<T> inject(const MatrixRef<T>& series) const {
      validate_ohlcv(series, "AnomalyInjector::inject");
      InjectedSeries<T> result{series, std::vector<std::uint8_t>(static_cast<std::size_t>(series.rows()), 0), {}};
      const Index n = series.rows();
      for (Index slot = 0; slot * params_.slot_bars < n; ++slot) {
        Random random = Random::stream(params_.random_state, static_cast<std::uint64_t>(slot));
        const Index slot_start = slot * params_.slot_bars;
        const Index slot_length = std::min(params_.slot_bars, n - slot_start);
        // In proportion to the slot's length: with the full probability, a short
        // last slot would crowd events into the end of the series.
        const double chance =
            slot_length == params_.slot_bars
                ? params_.event_probability
                : params_.event_probability * static_cast<double>(slot_length) / static_cast<double>(params_.slot_bars);
        if (!random.bernoulli(chance)) continue;
        AnomalyEvent event = draw(random);
        if (event.length > slot_length) continue;
        event.start = slot_start + random.uniform_int(slot_length - event.length + 1);
        apply(event, result.series);
        std::fill_n(result.labels.begin() + event.start, event.length, std::uint8_t{1});
        result.events.push_back(event);
      }
      return result;
    }

    [[nodiscard]] const Params& params() const noexcept { return params_; }
    [[nodiscard]] double sigma() const noexcept { return sigma_; }

   private:
    // A size drawn from [low, high) with a random sign (sign first: the order
    // of the draws is part of the output).
    static double signed_size(Random& random, double low, double high) {
      const double sign = random.bernoulli(0.5) ? 1.0 : -1.0;
      return sign * random.uniform(low, high);
    }

    // Kind, length and sizes of one event (start is set by the caller).
    [[nodiscard]] AnomalyEvent draw(Random& random) const {
      AnomalyType type = params_.type;
      if (type == AnomalyType::mixed) type = static_cast<AnomalyType>(random.uniform_int(4));
      // AnomalyKind lists the kinds grouped by type: contextual from 0 (3
      // kinds), pattern from 3 (3), collective from 6 (2), subtle from 8 (3).
      static constexpr std::array<int, 4> first_kind = {0, 3, 6, 8};
      static constexpr std::array<int, 4> kind_count = {3, 3, 2, 3};
      const auto t = static_cast<std::size_t>(type);
      AnomalyEvent e;
      e.kind = static_cast<AnomalyKind>(first_kind[t] + random.uniform_int(kind_count[t]));
      switch (e.kind) {
        case AnomalyKind::volume_surge:
          e.length = 1;
          e.volume_factor = random.uniform(3.0, 6.0);
          break;
        case AnomalyKind::close_decoupling:
          e.length = 1;
          e.magnitude = signed_size(random, 8.0, 15.0);
          break;
        case AnomalyKind::range_inversion:
          e.length = 1;
          e.magnitude = random.uniform(4.0, 8.0);
          break;
        case AnomalyKind::spike:
          e.length = random.uniform_int(Index{1}, Index{4});
          e.magnitude = signed_size(random, 6.0, 12.0);
          break;
        case AnomalyKind::level_shift:
          e.length = random.uniform_int(Index{20}, Index{61});
          e.magnitude = signed_size(random, 6.0, 12.0);
          break;
        case AnomalyKind::trend_change:
          e.length = random.uniform_int(Index{20}, Index{61});
          e.magnitude = signed_size(random, 0.5, 1.0);
          break;
        case AnomalyKind::flash_crash:
          e.length = 2 * random.uniform_int(Index{3}, Index{11}) + 1;
          e.magnitude = -random.uniform(15.0, 30.0);
          e.volume_factor = random.uniform(3.0, 6.0);
          break;
        case AnomalyKind::price_jump:
          e.length = random.uniform_int(Index{10}, Index{31});
          e.magnitude = signed_size(random, 15.0, 30.0);
          e.volume_factor = random.uniform(3.0, 6.0);
          break;
        case AnomalyKind::subtle_shift:
          e.length = random.uniform_int(Index{20}, Index{61});
          e.magnitude = signed_size(random, 1.5, 3.0);
          break;
        case AnomalyKind::micro_oscillation:
          e.length = random.uniform_int(Index{20}, Index{61});
          e.magnitude = random.uniform(1.5, 3.0);
          e.period = random.uniform_int(Index{4}, Index{9});
          break;
        case AnomalyKind::volume_increase:
          e.length = random.uniform_int(Index{20}, Index{61});
          e.volume_factor = random.uniform(1.3, 1.6);
          break;
      }
      return e;
    }

    // Log price change, in sigma, at bar j of a price-moving event whose bars
    // all move together.
    static double deviation(const AnomalyEvent& e, Index j) {
      const auto m = static_cast<double>(e.length);
      const auto x = static_cast<double>(j);
      switch (e.kind) {
        case AnomalyKind::trend_change: return e.magnitude * std::min(x + 1.0, m - x);
        case AnomalyKind::flash_crash: {
          const double h = (m - 1.0) / 2.0;
          return e.magnitude * (1.0 - std::abs(x - h) / (h + 1.0));
        }
        case AnomalyKind::micro_oscillation:
          return e.magnitude * std::cos(2.0 * std::numbers::pi * x / static_cast<double>(e.period));
        default: return e.magnitude;  // spike, level_shift, price_jump, subtle_shift
      }
    }

    static double volume_multiplier(const AnomalyEvent& e, Index j) {
      if (e.kind == AnomalyKind::price_jump) {
        return 1.0 + (e.volume_factor - 1.0) * std::exp(-3.0 * static_cast<double>(j) / static_cast<double>(e.length));
      }
      return e.volume_factor;
    }

    void apply(const AnomalyEvent& e, Matrix<T>& series) const {
      for (Index j = 0; j < e.length; ++j) {
        const Index i = e.start + j;
        double open = static_cast<double>(series(i, ohlcv::open));
        double high = static_cast<double>(series(i, ohlcv::high));
        double low = static_cast<double>(series(i, ohlcv::low));
        double close = static_cast<double>(series(i, ohlcv::close));
        switch (e.kind) {
          case AnomalyKind::volume_surge:
          case AnomalyKind::volume_increase: break;
          case AnomalyKind::close_decoupling:
            close *= std::exp(e.magnitude * sigma_);
            high = std::max(high, close);
            low = std::min(low, close);
            break;
          case AnomalyKind::range_inversion: {
            const double middle = std::sqrt(high * low);
            high = middle * std::exp(-0.5 * e.magnitude * sigma_);
            low = middle * std::exp(0.5 * e.magnitude * sigma_);
            break;
          }
          default: {
            const double factor = std::exp(deviation(e, j) * sigma_);
            open *= factor;
            high *= factor;
            low *= factor;
            close *= factor;
          }
        }
        series(i, ohlcv::open) = static_cast<T>(open);
        series(i, ohlcv::high) = static_cast<T>(high);
        series(i, ohlcv::low) = static_cast<T>(low);
        series(i, ohlcv::close) = static_cast<T>(close);
        series(i, ohlcv::volume) =
            static_cast<T>(static_cast<double>(series(i, ohlcv::volume)) * volume_multiplier(e, j));
      }
    }

    Params params_;
    double sigma_;
};

}  // namespace redflag
