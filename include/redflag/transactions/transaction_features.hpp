#pragma once

// The ten transaction features: each compares a transaction with its
// entity's history, so each reads the entity's state as it was *before* the
// transaction (EntityStore::observe hands that state to its visitor, then
// applies the transaction). All are Feature-concept features over a
// TransactionContext, composed by make_transaction_features() into one
// FeatureSet whose rows go straight into IsolationForest or any other model;
// each column carries its phrase, so a risk explanation reads "amount 3.2
// standard deviations from this user's average".
//
// Formulas (n = the entity's past events, t = the transaction's time; see
// docs/entity-state.md for the table):
//   log_amount           ln(1 + amount)
//   amount_zscore        (amount - mean) / max(sd, 0.01 |mean|, 0.01); 0 if n < 2
//   amount_percentile    fraction of past amounts <= amount (KLL); 0.5 if n = 0
//   velocity_ratio       (events in (t - W, t] + 1) / (n / max(1, (t - first) / W) + 1),
//                        W = velocity_window_ms: recent rate over lifetime rate
//   hour_deviation       1 - hours[h] / max(hours); 0 if n = 0
//   day_deviation        1 - weekdays[d] / max(weekdays); 0 if n = 0
//   time_since_last      ln(1 + seconds since the previous event); no previous
//                        event: ln(1 + no_history_seconds)
//   merchant_familiarity past events at this merchant / n; 0 if n = 0 or unknown
//   is_new_user          1 if n < new_user_events, else 0
//   global_amount_flag   1 if amount > global_amount_threshold, else 0

#include <redflag/core/error.hpp>
#include <redflag/core/feature.hpp>
#include <redflag/core/types.hpp>
#include <redflag/stream/entity_features.hpp>
#include <redflag/stream/entity_store.hpp>
#include <redflag/transactions/transaction.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace redflag {

// A transaction, its entity event, and the entity's state before it.
using TransactionContext = EntityContext<Transaction>;

struct TransactionFeatureParams {
  // Window of velocity_ratio: one hour compares "this hour" with the
  // entity's hourly rate.
  std::int64_t velocity_window_ms = 3600LL * 1000;
  // Fewer past events than this: is_new_user = 1 (profiles are not yet reliable).
  std::uint64_t new_user_events = 20;
  // HIGH_AMOUNT's threshold in the reference rules, as a model input.
  double global_amount_threshold = 10'000.0;
  // time_since_last for an entity with no earlier event: the default idle
  // TTL, the longest gap a kept entity can have.
  double no_history_seconds = static_cast<double>(EntityStoreParams{}.idle_ttl_ms) / 1000.0;
};

namespace detail {

inline std::string phrase_percentile(double v) {
  return v >= 0.5 ? "amount above " + redflag::format_number(100.0 * v, 0) + "% of this user's past amounts"
                  : "amount below " + redflag::format_number(100.0 * (1.0 - v), 0) + "% of this user's past amounts";
}
inline std::string phrase_familiarity(double v) {
  return v == 0.0 ? "new merchant for this user"
                  : "merchant of " + redflag::format_number(100.0 * v, 0) + "% of this user's transactions";
}
inline std::string phrase_new_user(double v) { return v > 0.5 ? "new user" : "established user"; }
inline std::string phrase_global_flag(double v) {
  return v > 0.5 ? "amount above the global threshold" : "ordinary amount";
}

template <std::size_t N>
double histogram_deviation(const std::array<std::uint32_t, N>& histogram, int bin) {
  const std::uint32_t peak = *std::max_element(histogram.begin(), histogram.end());
  if (peak == 0) return 0.0;
  return 1.0 - static_cast<double>(histogram[static_cast<std::size_t>(bin)]) / static_cast<double>(peak);
}

}  // namespace detail

struct LogAmount {
  static constexpr std::size_t width = 1;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"log_amount", ColumnKind::numeric, {.text = "amount {value}", .digits = 2, .inverse = undo_log1p}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const { out[0] = std::log1p(c.record.amount); }
};

struct AmountZscore {
  static constexpr std::size_t width = 1;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"amount_zscore",
              ColumnKind::numeric,
              {.text = "amount {value} standard deviations from this user's average", .digits = 1}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    const BehaviourProfile& p = c.before.profile;
    if (p.count() < 2) {
      out[0] = 0.0;
      return;
    }
    const double scale = std::max({p.stddev_value(), 0.01 * std::abs(p.mean_value()), 0.01});
    out[0] = (c.record.amount - p.mean_value()) / scale;
  }
};

struct AmountPercentile {
  static constexpr std::size_t width = 1;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"amount_percentile", ColumnKind::numeric, {.format = detail::phrase_percentile}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    out[0] = c.before.profile.empty() ? 0.5 : c.before.profile.value_rank(c.record.amount);
  }
};

struct VelocityRatio {
  static constexpr std::size_t width = 1;
  std::int64_t window_ms = TransactionFeatureParams{}.velocity_window_ms;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"velocity_ratio",
              ColumnKind::numeric,
              {.text = "{value}x this user's usual transaction rate", .digits = 1}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    const BehaviourProfile& p = c.before.profile;
    const double recent = static_cast<double>(c.before.recent.count(c.event.time_ms, window_ms));
    const double windows =
        std::max(1.0, static_cast<double>(c.event.time_ms - p.first_time_ms()) / static_cast<double>(window_ms));
    const double rate = p.empty() ? 0.0 : static_cast<double>(p.count()) / windows;
    out[0] = (recent + 1.0) / (rate + 1.0);
  }
};

struct HourDeviation {
  static constexpr std::size_t width = 1;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"hour_deviation", ColumnKind::numeric, {.text = "unusual hour for this user"}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    out[0] = detail::histogram_deviation(c.before.profile.hour_histogram(), c.event.local_hour);
  }
};

struct DayDeviation {
  static constexpr std::size_t width = 1;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"day_deviation", ColumnKind::numeric, {.text = "unusual weekday for this user"}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    out[0] = detail::histogram_deviation(c.before.profile.weekday_histogram(), c.event.local_weekday);
  }
};

struct TimeSinceLast {
  static constexpr std::size_t width = 1;
  double no_history_seconds = TransactionFeatureParams{}.no_history_seconds;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"time_since_last",
              ColumnKind::numeric,
              {.text = "{value} s since the previous transaction", .digits = 0, .inverse = undo_log1p}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    out[0] = std::log1p(seconds_since_last(c));
  }
  [[nodiscard]] double seconds_since_last(const TransactionContext& c) const {
    return redflag::seconds_since_last(c.event, c.before, no_history_seconds);
  }
};

struct MerchantFamiliarity {
  static constexpr std::size_t width = 1;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"merchant_familiarity", ColumnKind::numeric, {.format = detail::phrase_familiarity}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    const BehaviourProfile& p = c.before.profile;
    out[0] = p.empty() || c.event.counterparty == 0
                 ? 0.0
                 : static_cast<double>(p.counterparties().count(c.event.counterparty)) / static_cast<double>(p.count());
  }
};

struct IsNewUser {
  static constexpr std::size_t width = 1;
  std::uint64_t new_user_events = TransactionFeatureParams{}.new_user_events;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"is_new_user", ColumnKind::numeric, {.format = detail::phrase_new_user}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    out[0] = c.before.profile.count() < new_user_events ? 1.0 : 0.0;
  }
};

struct GlobalAmountFlag {
  static constexpr std::size_t width = 1;
  double threshold = TransactionFeatureParams{}.global_amount_threshold;
  [[nodiscard]] std::array<FeatureColumn, 1> columns() const {
    return {{{"global_amount_flag", ColumnKind::numeric, {.format = detail::phrase_global_flag}}}};
  }
  void extract(const TransactionContext& c, std::span<double, 1> out) const {
    out[0] = c.record.amount > threshold ? 1.0 : 0.0;
  }
};

inline void validate(const TransactionFeatureParams& params) {
  constexpr std::string_view where = "make_transaction_features";
  if (params.velocity_window_ms <= 0) detail::raise<invalid_argument>(where, "velocity_window_ms must be positive");
  if (!(std::isfinite(params.global_amount_threshold) && params.global_amount_threshold > 0.0)) {
    detail::raise<invalid_argument>(where, "global_amount_threshold must be finite and positive");
  }
  if (!(std::isfinite(params.no_history_seconds) && params.no_history_seconds >= 0.0)) {
    detail::raise<invalid_argument>(where, "no_history_seconds must be finite and >= 0");
  }
}

// The ten features in the documented order.
inline auto make_transaction_features(const TransactionFeatureParams& params = {}) {
  validate(params);
  return make_feature_set<TransactionContext>(
      LogAmount{}, AmountZscore{}, AmountPercentile{}, VelocityRatio{params.velocity_window_ms}, HourDeviation{},
      DayDeviation{}, TimeSinceLast{params.no_history_seconds}, MerchantFamiliarity{},
      IsNewUser{params.new_user_events}, GlobalAmountFlag{params.global_amount_threshold});
}

using TransactionFeatures = decltype(make_transaction_features());

// Runs `transactions` (in arrival order) through `store` and writes each
// one's feature row, computed from its entity's state before it. Late
// transactions still get a row (from the current state) and are counted in
// the return value; state is not updated for them.
template <class Set>
std::size_t featurize(std::span<const Transaction> transactions, EntityStore& store, Set& features,
                      Eigen::Ref<Matrix<double>> out) {
  if (out.rows() != static_cast<Index>(transactions.size()) || out.cols() != static_cast<Index>(Set::width)) {
    detail::raise<invalid_argument>(
        "featurize", "output is " + std::to_string(out.rows()) + " x " + std::to_string(out.cols()) + ", expected " +
                         std::to_string(transactions.size()) + " x " + std::to_string(Set::width));
  }
  std::size_t late = 0;
  for (std::size_t i = 0; i < transactions.size(); ++i) {
    const Transaction& txn = transactions[i];
    const EntityEvent event = to_entity_event(txn);
    const ObserveResult result = store.observe(event, [&](const EntityState& before) {
      features.write_row(TransactionContext{txn, event, before},
                         std::span<double>(out.row(static_cast<Index>(i)).data(), Set::width));
    });
    if (result.status == ObserveStatus::late) ++late;
  }
  return late;
}

}  // namespace redflag
