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

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
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
  auto business = redflag::make_feature<Customer>("business_risk", [](const Customer& c) {
    return business_types[static_cast<std::size_t>(c.business)].risk;
  });
  return redflag::make_feature_set<Customer>(PaymentProfile{}, DocumentFile{}, age, business);
}

// Stateful: the customer's payments in the 24 hours before this one (how
// many and how much), the hours since the previous one, and how this amount
// compares with the customer's usual amount (the mean log amount of all
// earlier payments). Transactions must arrive oldest first, as they do in
// production.
class CustomerVelocity {
 public:
  static constexpr std::size_t width = 4;
  std::array<redflag::FeatureColumn, width> columns() const {
    return {{{"payments_24h"}, {"log_amount_24h"}, {"log_hours_since_previous"}, {"amount_vs_usual"}}};
  }
  void extract(const Transaction& t, std::span<double, width> out) {
    History& history = customers_[t.customer];
    while (!history.last_day.empty() && history.last_day.front().first <= t.time - seconds_per_day) {
      history.day_total -= history.last_day.front().second;
      history.last_day.pop_front();
    }
    if (history.last_day.empty()) history.day_total = 0.0;  // no rounding residue from the subtractions
    const double log_amount = std::log1p(t.amount);
    out[0] = static_cast<double>(history.last_day.size());
    out[1] = std::log1p(history.day_total);
    // Gaps are capped at 30 days; a customer's first payment counts as one.
    const double hours = history.count == 0 ? 30.0 * 24.0 : static_cast<double>(t.time - history.previous) / 3600.0;
    out[2] = std::log1p(std::min(hours, 30.0 * 24.0));
    out[3] = history.count == 0 ? 0.0 : log_amount - history.mean_log_amount;
    history.previous = t.time;
    history.last_day.emplace_back(t.time, t.amount);
    history.day_total += t.amount;
    history.count += 1;
    history.mean_log_amount += (log_amount - history.mean_log_amount) / static_cast<double>(history.count);
  }

 private:
  struct History {
    std::deque<std::pair<std::int64_t, double>> last_day;  // (time, amount)
    double day_total = 0.0;
    std::int64_t count = 0;
    std::int64_t previous = 0;  // time of the previous payment
    double mean_log_amount = 0.0;
  };
  std::unordered_map<std::int64_t, History> customers_;
};

inline auto transaction_features() {
  auto amount = redflag::make_feature<Transaction>("log_amount",
                                                   [](const Transaction& t) { return std::log1p(t.amount); });
  auto country = redflag::make_feature<Transaction>(
      "high_risk_country", [](const Transaction& t) { return is_high_risk_country(t.country) ? 1.0 : 0.0; });
  return redflag::make_feature_set<Transaction>(amount, country, CustomerVelocity{});
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

inline redflag::Matrix<double> transaction_matrix(TransactionFeatures& features,
                                                  const std::vector<Transaction>& transactions) {
  const auto n = static_cast<redflag::Index>(transactions.size());
  constexpr auto d = static_cast<redflag::Index>(TransactionFeatures::width);
  redflag::Matrix<double> X(n, d + 4);
  features.transform_into<double>(transactions, X.leftCols(d));
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
