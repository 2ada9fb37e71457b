// The example's features, written against redflag's Feature concept: each
// turns a domain record (a Customer at the end of a month, or one
// Transaction) into named columns, and a FeatureSet composes them into the
// matrix a model takes.
#pragma once

#include "bank.hpp"

#include <redflag/core/feature.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/preprocessing/cyclical.hpp>
#include <redflag/stream/entity_store.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace aml {

// The month's payments: average and largest amount, how many, and the share
// sent to high-risk countries.
struct PaymentProfile {
  static constexpr std::size_t width = 4;
  std::array<redflag::FeatureColumn, width> columns() const {
    return {{{"avg_amount"}, {"max_amount"}, {"transaction_count"}, {"high_risk_country_ratio"}}};
  }
  void extract(const Customer& customer, std::span<double, width> out) const {
    double total = 0.0, largest = 0.0, high_risk = 0.0;
    for (const Transaction& t : customer.transactions) {
      total += t.amount;
      largest = std::max(largest, t.amount);
      high_risk += is_high_risk_country(t.country) ? 1.0 : 0.0;
    }
    const auto count = static_cast<double>(customer.transactions.size());
    out[0] = count > 0 ? total / count : 0.0;
    out[1] = largest;
    out[2] = count;
    out[3] = count > 0 ? high_risk / count : 0.0;
  }
};

// The know-your-customer file at the end of the month.
struct DocumentFile {
  static constexpr std::size_t width = 3;
  std::array<redflag::FeatureColumn, width> columns() const {
    return {{{"verified_documents"}, {"expired_documents"}, {"document_completeness"}}};
  }
  void extract(const Customer& customer, std::span<double, width> out) const {
    std::array<bool, required_document_kinds> present{};
    double verified = 0.0, expired = 0.0;
    for (const Document& d : customer.documents) {
      present[static_cast<std::size_t>(d.kind)] = true;
      verified += d.verified ? 1.0 : 0.0;
      expired += d.expires < customer.as_of ? 1.0 : 0.0;
    }
    out[0] = verified;
    out[1] = expired;
    out[2] = static_cast<double>(std::count(present.begin(), present.end(), true)) / required_document_kinds;
  }
};

// The customer features of the risk model. Every feature is stateless, so
// the set can be const and shared.
inline auto customer_features() {
  auto age = redflag::make_feature<Customer>("customer_age_days", [](const Customer& c) {
    return static_cast<double>(c.as_of - c.onboarded) / seconds_per_day;
  });
  auto business = redflag::make_feature<Customer>(
      "business_risk", [](const Customer& c) { return business_types[static_cast<std::size_t>(c.business)].risk; });
  return redflag::make_feature_set<Customer>(PaymentProfile{}, DocumentFile{}, age, business);
}

// How a payment feeds its customer's state in a redflag::EntityStore: keyed
// by the customer's number, its amount the value (running statistics,
// percentiles, window sums), its country the place.
struct CustomerEntity {
  std::int64_t key(const Transaction& t) const { return t.customer; }
  std::int64_t time_ms(const Transaction& t) const { return t.time * 1000; }
  double value(const Transaction& t) const { return t.amount; }
  std::uint64_t place(const Transaction& t) const { return static_cast<std::uint64_t>(t.country) + 1; }
};

// A payment with its customer's state before it.
using PaymentContext = redflag::EntityContext<Transaction>;

// Where the customer's state is kept: payments of the last 24 hours in the
// window, so the velocity columns see them.
inline redflag::EntityStoreParams customer_store_params() {
  return {.max_entities = 100'000, .shards = 4, .window_horizon_ms = seconds_per_day * 1000};
}

// The customer's payments in the 24 hours before this one (how many and how
// much), the hours since the previous one, and how this amount compares with
// the customer's usual amount (the median of all earlier payments), all read
// from the customer's EntityState.
struct CustomerVelocity {
  static constexpr std::size_t width = 4;
  std::array<redflag::FeatureColumn, width> columns() const {
    return {{{"payments_24h"}, {"log_amount_24h"}, {"log_hours_since_previous"}, {"amount_vs_usual"}}};
  }
  void extract(const PaymentContext& c, std::span<double, width> out) const {
    const redflag::BehaviourProfile& history = c.before.profile;
    const redflag::WindowStats day = c.before.recent.stats(c.event.time_ms, seconds_per_day * 1000);
    out[0] = static_cast<double>(day.count);
    out[1] = std::log1p(day.count == 0 ? 0.0 : day.sum);
    // Gaps are capped at 30 days; a customer's first payment counts as one.
    const double hours =
        history.empty() ? 30.0 * 24.0 : static_cast<double>(c.event.time_ms - history.last_time_ms()) / 3.6e6;
    out[2] = std::log1p(std::min(hours, 30.0 * 24.0));
    out[3] = history.empty() ? 0.0 : std::log1p(c.record.amount) - std::log1p(history.value_sketch().quantile(0.5));
  }
};

inline auto transaction_features() {
  auto amount = redflag::make_feature<PaymentContext>(
      "log_amount", [](const PaymentContext& c) { return std::log1p(c.record.amount); });
  auto country = redflag::make_feature<PaymentContext>(
      "high_risk_country", [](const PaymentContext& c) { return is_high_risk_country(c.record.country) ? 1.0 : 0.0; });
  return redflag::make_feature_set<PaymentContext>(amount, country, CustomerVelocity{});
}
using TransactionFeatures = decltype(transaction_features());

// The FeatureSet's columns followed by the hour of day and the day of week on
// the circle (23:00 is next to 00:00, Sunday next to Monday).
inline redflag::Schema transaction_schema(const TransactionFeatures& features) {
  std::vector<redflag::Column> columns = features.schema().columns();
  for (const auto& column : redflag::hour_of_day_columns()) columns.push_back(column);
  for (const auto& column : redflag::day_of_week_columns()) columns.push_back(column);
  return redflag::Schema(std::move(columns));
}

// One row per payment, oldest first; each payment then updates its
// customer's state in `store`, so a later month continues the history.
inline redflag::Matrix<double> transaction_matrix(const TransactionFeatures& features, redflag::EntityStore& store,
                                                  const std::vector<Transaction>& transactions) {
  const auto n = static_cast<redflag::Index>(transactions.size());
  constexpr auto d = static_cast<redflag::Index>(TransactionFeatures::width);
  redflag::Matrix<double> X(n, d + 4);
  for (redflag::Index i = 0; i < n; ++i) {
    store.observe(transactions[static_cast<std::size_t>(i)], CustomerEntity{}, [&](const PaymentContext& c) {
      features.write_row(c, std::span<double>(X.row(i).data(), static_cast<std::size_t>(d)));
    });
  }
  redflag::Vector<double> hours(n), weekdays(n);
  for (redflag::Index i = 0; i < n; ++i) {
    const std::int64_t time = transactions[static_cast<std::size_t>(i)].time;
    hours(i) = static_cast<double>(time % seconds_per_day) / 3600.0;
    weekdays(i) = static_cast<double>((time / seconds_per_day + 3) % 7);  // 0 = Monday
  }
  X.middleCols(d, 2) = redflag::encode_hour_of_day(hours);
  X.rightCols(2) = redflag::encode_day_of_week(weekdays);
  return X;
}

}  // namespace aml
