// The example's domain records and a seedable generator of GENERATED
// customers: no row of this data describes a real person or company.
//
// Latent risk model. Each customer draws a hidden propensity z ~ N(-2, 1.5)
// and behaves according to r = sigmoid(2z), in (0, 1). The higher r:
//   - the likelier a risky business type (money service, crypto exchange,
//     car dealer, real estate): P(risky type) = 0.15 + 0.6 r;
//   - the newer the customer: age = 30 days + Exp(mean 1400 (1 - 0.7 r) days);
//   - the likelier a required document is missing (P = 0.03 + 0.45 r),
//     unverified (0.05 + 0.5 r) or expired (0.04 + 0.35 r);
//   - the larger the payments (log amount centred at ln 200 + 1.6 r, customer
//     spread 0.6, payment spread 0.7) and the more of them (Poisson,
//     6 + 14 r a month);
//   - the larger the share sent to high-risk countries (0.02 + 0.45 r).
// The label "high risk" (what an investigation concluded) is z > 0, about
// 9% of customers, flipped for 1.5% of customers: investigations err, and a
// model should not reach a perfect score.
//
// Two months are generated for the same customers. In the live month every
// payment is `live_amount_factor` times larger (a pricing change) and a
// `live_corridor_share` of payments goes to a newly opened corridor to
// country C10, on the high-risk list: average and maximum amounts and the
// high-risk-country ratio shift, the other customer features do not.
// Documents expire at least 60 days after the training month begins, so
// document counts are the same in both months.
//
// Unusual transactions are injected into both months (marked `injected`):
// a large night-time payment (15-40 times the customer's usual amount, 01:00
// to 05:00, to a high-risk country) or a burst of 5 to 8 payments of 2-5
// times the usual amount within an hour.
#pragma once

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aml {

inline constexpr std::int64_t seconds_per_day = 86400;
inline constexpr std::int64_t month_days = 30;
inline constexpr std::int64_t training_month_begin = 1767225600;  // 2026-01-01 00:00 UTC
inline constexpr std::int64_t live_month_begin = training_month_begin + month_days * seconds_per_day;

// Generated country codes C01..C12 (not ISO codes). C01 is the bank's home
// country; C09..C12 are on this example's high-risk list.
inline constexpr int country_count = 12;
inline constexpr int home_country = 0;
inline constexpr int first_high_risk_country = 8;
inline constexpr int corridor_country = 9;  // C10, opened in the live month
inline bool is_high_risk_country(int country) { return country >= first_high_risk_country; }
inline std::string country_code(int country) { return (country < 9 ? "C0" : "C") + std::to_string(country + 1); }

// Business types and the bank's risk rating of each (its risk appetite
// table), the `business_risk` feature.
struct BusinessType {
  std::string_view name;
  double risk;
};
inline constexpr std::array<BusinessType, 8> business_types = {{{"software", 0.10},
                                                                {"retail", 0.15},
                                                                {"consulting", 0.20},
                                                                {"restaurant", 0.30},
                                                                {"real_estate", 0.60},
                                                                {"car_dealer", 0.65},
                                                                {"money_service", 0.85},
                                                                {"crypto_exchange", 0.90}}};
inline constexpr int first_risky_business = 4;

// Know-your-customer documents; a complete file holds one of each kind.
enum class DocumentKind : std::uint8_t { identity, proof_of_address, company_registration, source_of_funds };
inline constexpr int required_document_kinds = 4;

struct Document {
  DocumentKind kind = DocumentKind::identity;
  bool verified = false;
  std::int64_t expires = 0;  // Unix seconds
};

struct Transaction {
  std::int64_t customer = 0;
  std::int64_t time = 0;  // Unix seconds, UTC
  double amount = 0.0;
  int country = home_country;
  bool injected = false;  // generator's ground truth, never a feature
};

// A customer as seen at the end of one month.
struct Customer {
  std::int64_t id = 0;
  std::int64_t onboarded = 0;  // Unix seconds
  int business = 0;            // index into business_types
  std::vector<Document> documents;
  std::vector<Transaction> transactions;  // this month's, oldest first
  std::int64_t as_of = 0;                 // end of the month: ages and expiry are measured here
};

struct Month {
  std::vector<Customer> customers;        // one per customer, in id order
  std::vector<Transaction> transactions;  // every customer's, oldest first
};

struct GeneratedBank {
  Month training;                  // month 1
  Month live;                      // month 2, shifted
  redflag::LabelVector high_risk;  // per customer: the investigation's verdict (1 = high risk)
};

struct GeneratorParams {
  std::uint64_t seed = 7;
  redflag::Index customers = 2000;
  double label_noise = 0.015;
  double unusual_events_per_customer = 0.03;  // injected events a month
  double live_amount_factor = 1.5;
  double live_corridor_share = 0.12;
};

namespace generation {

struct Behaviour {
  double log_amount;
  double monthly_rate;
  double high_risk_share;
};

inline int poisson(redflag::Random& rng, double mean) {
  const double limit = std::exp(-mean);
  int count = 0;
  for (double product = rng.uniform(); product > limit; product *= rng.uniform()) ++count;
  return count;
}

inline double round_cents(double amount) { return std::round(amount * 100.0) / 100.0; }

// A time in the month, mostly on weekdays around 13:30.
inline std::int64_t business_time(redflag::Random& rng, std::int64_t month_begin) {
  for (;;) {
    const auto day = rng.uniform_int<std::int64_t>(0, month_days);
    const std::int64_t weekday = (month_begin / seconds_per_day + day + 3) % 7;  // 0 = Monday
    if (weekday >= 5 && rng.bernoulli(0.6)) continue;
    const double hour = std::fmod(std::fmod(rng.normal(13.5, 3.0), 24.0) + 24.0, 24.0);
    return month_begin + day * seconds_per_day + static_cast<std::int64_t>(hour * 3600.0);
  }
}

inline int draw_country(redflag::Random& rng, double high_risk_share) {
  if (rng.bernoulli(high_risk_share)) return rng.uniform_int(first_high_risk_country, country_count);
  return rng.bernoulli(0.75) ? home_country : rng.uniform_int(1, first_high_risk_country);
}

inline void add_payments(redflag::Random& rng, const Behaviour& behaviour, std::int64_t customer,
                         std::int64_t month_begin, double amount_factor, double corridor_share,
                         std::vector<Transaction>& out) {
  const int count = poisson(rng, behaviour.monthly_rate);
  for (int k = 0; k < count; ++k) {
    Transaction t;
    t.customer = customer;
    t.time = business_time(rng, month_begin);
    t.amount = round_cents(amount_factor * std::exp(behaviour.log_amount + rng.normal(0.0, 0.7)));
    t.country = rng.bernoulli(corridor_share) ? corridor_country : draw_country(rng, behaviour.high_risk_share);
    out.push_back(t);
  }
}

inline void add_unusual_event(redflag::Random& rng, const Behaviour& behaviour, std::int64_t customer,
                              std::int64_t month_begin, double amount_factor, std::vector<Transaction>& out) {
  const double usual = amount_factor * std::exp(behaviour.log_amount);
  const auto day = rng.uniform_int<std::int64_t>(0, month_days);
  if (rng.bernoulli(0.5)) {  // one large night-time payment to a high-risk country
    Transaction t{customer, month_begin + day * seconds_per_day + rng.uniform_int<std::int64_t>(3600, 5 * 3600),
                  round_cents(usual * rng.uniform(15.0, 40.0)), rng.uniform_int(first_high_risk_country, country_count),
                  true};
    out.push_back(t);
    return;
  }
  // A burst: 5 to 8 payments within an hour.
  const std::int64_t start = business_time(rng, month_begin);
  const int count = rng.uniform_int(5, 9);
  for (int k = 0; k < count; ++k) {
    Transaction t{customer, start + rng.uniform_int<std::int64_t>(0, 3600), round_cents(usual * rng.uniform(2.0, 5.0)),
                  draw_country(rng, 0.5), true};
    out.push_back(t);
  }
}

inline void by_time(std::vector<Transaction>& transactions) {
  std::stable_sort(transactions.begin(), transactions.end(),
                   [](const Transaction& a, const Transaction& b) { return a.time < b.time; });
}

}  // namespace generation

// Same params, same bank, bit for bit.
inline GeneratedBank generate_bank(const GeneratorParams& params) {
  redflag::Random rng(params.seed);
  const auto n = static_cast<std::size_t>(params.customers);
  GeneratedBank bank;
  bank.high_risk.resize(params.customers);
  std::vector<Customer> profiles(n);
  std::vector<generation::Behaviour> behaviours(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double z = rng.normal(-2.0, 1.5);
    const double r = 1.0 / (1.0 + std::exp(-2.0 * z));
    const bool high_risk = (z > 0.0) != rng.bernoulli(params.label_noise);
    bank.high_risk(static_cast<redflag::Index>(i)) = high_risk ? 1 : 0;

    Customer& c = profiles[i];
    c.id = static_cast<std::int64_t>(i) + 1;
    c.business = rng.bernoulli(0.15 + 0.6 * r)
                     ? rng.uniform_int(first_risky_business, static_cast<int>(business_types.size()))
                     : rng.uniform_int(0, first_risky_business);
    const double age_days = 30.0 - 1400.0 * (1.0 - 0.7 * r) * std::log(1.0 - rng.uniform());
    c.onboarded = training_month_begin - static_cast<std::int64_t>(age_days * seconds_per_day);
    for (int kind = 0; kind < required_document_kinds; ++kind) {
      if (rng.bernoulli(0.03 + 0.45 * r)) continue;  // missing
      Document d;
      d.kind = static_cast<DocumentKind>(kind);
      d.verified = !rng.bernoulli(0.05 + 0.5 * r);
      d.expires = rng.bernoulli(0.04 + 0.35 * r)
                      ? training_month_begin - rng.uniform_int<std::int64_t>(1, 700) * seconds_per_day
                      : training_month_begin + rng.uniform_int<std::int64_t>(60, 1500) * seconds_per_day;
      c.documents.push_back(d);
    }
    behaviours[i] = {std::log(200.0) + 1.6 * r + rng.normal(0.0, 0.6), 6.0 + 14.0 * r, 0.02 + 0.45 * r};
  }

  const auto make_month = [&](std::int64_t begin, double amount_factor, double corridor_share) {
    std::vector<std::vector<Transaction>> payments(n);
    for (std::size_t i = 0; i < n; ++i) {
      generation::add_payments(rng, behaviours[i], profiles[i].id, begin, amount_factor, corridor_share, payments[i]);
    }
    const auto events = static_cast<long>(std::lround(params.unusual_events_per_customer * static_cast<double>(n)));
    for (long e = 0; e < events; ++e) {
      const auto i = rng.uniform_int<std::size_t>(0, n);
      generation::add_unusual_event(rng, behaviours[i], profiles[i].id, begin, amount_factor, payments[i]);
    }
    Month month;
    for (std::size_t i = 0; i < n; ++i) {
      Customer c = profiles[i];
      generation::by_time(payments[i]);
      c.transactions = std::move(payments[i]);
      c.as_of = begin + month_days * seconds_per_day;
      month.transactions.insert(month.transactions.end(), c.transactions.begin(), c.transactions.end());
      month.customers.push_back(std::move(c));
    }
    generation::by_time(month.transactions);
    return month;
  };
  bank.training = make_month(training_month_begin, 1.0, 0.0);
  bank.live = make_month(live_month_begin, params.live_amount_factor, params.live_corridor_share);
  return bank;
}

}  // namespace aml
