#pragma once

// TransactionSimulator: a seedable stream of card transactions with
// labelled fraud, for tests, benchmarks and examples.
//
// Each user has a home city (and its UTC offset), a typical amount
// (log-normal around 33), active local hours and a few favourite merchants.
// Normal traffic: amounts around the typical one, mostly favourite merchants
// in the home city, at active hours. Fraud incidents, each labelled with its
// pattern:
//   card_testing         5-10 small amounts (0.50-3.00) 5-30 s apart at
//                        merchants the user has never used;
//   account_takeover     1-3 purchases from a city and merchant new to the
//                        user, at 02:00-04:59 local time, 3-8x the typical amount;
//   large_amount         one purchase of max(30-100x typical, 2,000-30,000);
//   velocity_multi_city  4-6 purchases within 60 s from 2-3 different cities.
// The stream is sorted by time; the same parameters give the same stream.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/transactions/transaction.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace redflag {

enum class FraudPattern : std::uint8_t { none, card_testing, account_takeover, large_amount, velocity_multi_city };

inline std::string_view to_string(FraudPattern pattern) {
  switch (pattern) {
    case FraudPattern::none: return "none";
    case FraudPattern::card_testing: return "card_testing";
    case FraudPattern::account_takeover: return "account_takeover";
    case FraudPattern::large_amount: return "large_amount";
    case FraudPattern::velocity_multi_city: return "velocity_multi_city";
  }
  return "unknown";
}

struct SimulatorParams {
  std::size_t users = 1'000;
  std::size_t transactions = 100'000;
  double fraud_rate = 0.01;                   // fraction of transactions that belong to a fraud incident
  std::int64_t start_ms = 1'700'006'400'000;  // 2023-11-15 00:00 UTC
  int days = 30;
  std::size_t cities = 200;
  std::size_t merchants = 5'000;
  std::uint64_t seed = 0;
};

struct SimulatedStream {
  std::vector<Transaction> transactions;  // sorted by timestamp
  std::vector<FraudPattern> patterns;     // one per transaction

  // 1 for fraud, 0 for normal: the labels roc_auc_score takes.
  [[nodiscard]] LabelVector labels() const {
    LabelVector out(static_cast<Index>(patterns.size()));
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      out[static_cast<Index>(i)] = patterns[i] == FraudPattern::none ? 0 : 1;
    }
    return out;
  }
};

class TransactionSimulator {
 public:
  explicit TransactionSimulator(const SimulatorParams& params) : params_(params) {
    constexpr std::string_view where = "TransactionSimulator::TransactionSimulator";
    if (params.users == 0) detail::raise<invalid_argument>(where, "users must be positive");
    if (!(params.fraud_rate >= 0.0 && params.fraud_rate < 0.5)) {
      detail::raise<invalid_argument>(where, "fraud_rate must be in [0, 0.5)");
    }
    if (params.days < 1) detail::raise<invalid_argument>(where, "days must be positive");
    if (params.cities < 4) detail::raise<invalid_argument>(where, "cities must be at least 4");
    if (params.merchants < 16) detail::raise<invalid_argument>(where, "merchants must be at least 16");
    if (params.start_ms < 0) detail::raise<invalid_argument>(where, "start_ms must be >= 0");
  }

  [[nodiscard]] SimulatedStream generate() const {
    Random random(params_.seed);
    const std::vector<User> users = make_users(random);
    std::vector<Draft> drafts;
    drafts.reserve(params_.transactions + 16);
    const auto fraud_target =
        static_cast<std::size_t>(std::llround(params_.fraud_rate * static_cast<double>(params_.transactions)));
    const std::size_t normal_count = params_.transactions - fraud_target;
    for (std::size_t i = 0; i < normal_count; ++i) {
      const std::size_t u = random.uniform_int(users.size());
      drafts.push_back(normal(users[u], u, random));
    }
    std::size_t fraud = 0;
    while (fraud < fraud_target) {
      const std::size_t u = random.uniform_int(users.size());
      const auto pattern = static_cast<FraudPattern>(1 + random.uniform_int(4));
      fraud += add_incident(users[u], u, pattern, fraud_target - fraud, random, drafts);
    }
    std::vector<std::size_t> order(drafts.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return drafts[a].timestamp_ms < drafts[b].timestamp_ms; });
    SimulatedStream stream;
    stream.transactions.reserve(drafts.size());
    stream.patterns.reserve(drafts.size());
    for (const std::size_t i : order) {
      const Draft& d = drafts[i];
      Transaction txn;
      txn.id = "t" + std::to_string(stream.transactions.size());
      txn.entity = user_id(d.user);
      txn.amount = d.amount;
      txn.currency = "USD";
      txn.timestamp_ms = d.timestamp_ms;
      txn.utc_offset_minutes = city_offset_minutes(d.home_city);
      txn.merchant = "m" + std::to_string(d.merchant);
      txn.merchant_category = merchant_categories[d.merchant % merchant_categories.size()];
      txn.city = "c" + std::to_string(d.city);
      txn.country = country(d.city);
      stream.transactions.push_back(std::move(txn));
      stream.patterns.push_back(d.pattern);
    }
    return stream;
  }

  // A city's UTC offset: cities are spread over whole-hour offsets -5..+3.
  static std::int32_t city_offset_minutes(std::size_t city) { return static_cast<std::int32_t>(city % 9) * 60 - 300; }

 private:
  static constexpr std::array<std::uint16_t, 8> merchant_categories = {5411, 5812, 5541, 5999, 4111, 5732, 5311, 5912};

  struct User {
    std::size_t home_city = 0;
    double typical_amount = 0.0;
    int first_active_hour = 0;
    int active_hours = 0;
    std::array<std::size_t, 6> favourites{};
    std::size_t favourite_count = 0;
  };

  struct Draft {
    std::size_t user = 0;
    std::int64_t timestamp_ms = 0;
    double amount = 0.0;
    std::size_t merchant = 0;
    std::size_t city = 0;
    std::size_t home_city = 0;  // the user's local time is the home city's
    FraudPattern pattern = FraudPattern::none;
  };

  static std::string user_id(std::size_t user) {
    std::string digits = std::to_string(user);
    return "u" + std::string(digits.size() < 6 ? 6 - digits.size() : 0, '0') + digits;
  }

  static std::string country(std::size_t city) {
    const std::size_t c = city % 9;  // one country per offset
    return std::string{static_cast<char>('A' + c), 'X'};
  }

  std::vector<User> make_users(Random& random) const {
    std::vector<User> users(params_.users);
    for (User& user : users) {
      user.home_city = random.uniform_int(params_.cities);
      user.typical_amount = std::exp(random.normal(3.5, 0.8));
      user.first_active_hour = 6 + random.uniform_int(6);
      user.active_hours = 10 + random.uniform_int(6);
      user.favourite_count = 3 + random.uniform_int(4);
      for (std::size_t i = 0; i < user.favourite_count; ++i) user.favourites[i] = random.uniform_int(params_.merchants);
    }
    return users;
  }

  // UTC time of local day `day`, local hour and second within the hour, in the city's offset.
  std::int64_t at(std::size_t city, std::int64_t day, std::int64_t hour, std::int64_t second_of_hour) const {
    return params_.start_ms + ((day * 24 + hour) * 3600 + second_of_hour) * 1000 -
           static_cast<std::int64_t>(city_offset_minutes(city)) * 60'000;
  }

  std::size_t other_city(std::size_t home, Random& random) const {
    const std::size_t step = 1 + random.uniform_int(params_.cities - 1);
    return (home + step) % params_.cities;
  }

  std::size_t new_merchant(const User& user, Random& random) const {
    while (true) {
      const std::size_t m = random.uniform_int(params_.merchants);
      if (std::find(user.favourites.begin(),
                    user.favourites.begin() + static_cast<std::ptrdiff_t>(user.favourite_count),
                    m) == user.favourites.begin() + static_cast<std::ptrdiff_t>(user.favourite_count)) {
        return m;
      }
    }
  }

  Draft normal(const User& user, std::size_t u, Random& random) const {
    Draft d;
    d.user = u;
    d.home_city = user.home_city;
    d.city = random.bernoulli(0.95) ? user.home_city : other_city(user.home_city, random);
    const std::int64_t hour = (user.first_active_hour + random.uniform_int(user.active_hours)) % 24;
    d.timestamp_ms = at(user.home_city, random.uniform_int(std::int64_t{params_.days}), hour,
                        random.uniform_int(std::int64_t{3600}));
    d.amount = std::round(user.typical_amount * std::exp(random.normal(0.0, 0.5)) * 100.0) / 100.0 + 0.01;
    d.merchant = random.bernoulli(0.8) ? user.favourites[random.uniform_int(user.favourite_count)]
                                       : random.uniform_int(params_.merchants);
    return d;
  }

  // Appends one incident of `pattern` (at most `budget` transactions); returns how many.
  std::size_t add_incident(const User& user, std::size_t u, FraudPattern pattern, std::size_t budget, Random& random,
                           std::vector<Draft>& drafts) const {
    const std::int64_t day = random.uniform_int(std::int64_t{params_.days});
    std::size_t count = 0;
    auto emit = [&](std::int64_t time, double amount, std::size_t merchant, std::size_t city) {
      drafts.push_back({u, time, std::round(amount * 100.0) / 100.0 + 0.01, merchant, city, user.home_city, pattern});
      ++count;
    };
    switch (pattern) {
      case FraudPattern::card_testing: {
        const std::size_t n = std::min<std::size_t>(budget, 5 + random.uniform_int(6));
        std::int64_t time = at(user.home_city, day, random.uniform_int(24), random.uniform_int(3600));
        for (std::size_t i = 0; i < n; ++i) {
          emit(time, random.uniform(0.5, 3.0), new_merchant(user, random), user.home_city);
          time += (5 + random.uniform_int(26)) * 1000;
        }
        break;
      }
      case FraudPattern::account_takeover: {
        const std::size_t n = std::min<std::size_t>(budget, 1 + random.uniform_int(3));
        const std::size_t city = other_city(user.home_city, random);
        std::int64_t time = at(user.home_city, day, 2 + random.uniform_int(3), random.uniform_int(3000));
        for (std::size_t i = 0; i < n; ++i) {
          emit(time, user.typical_amount * random.uniform(3.0, 8.0), new_merchant(user, random), city);
          time += (60 + random.uniform_int(240)) * 1000;
        }
        break;
      }
      case FraudPattern::large_amount: {
        const std::int64_t hour = (user.first_active_hour + random.uniform_int(user.active_hours)) % 24;
        emit(at(user.home_city, day, hour, random.uniform_int(3600)),
             std::max(user.typical_amount * random.uniform(30.0, 100.0), random.uniform(2'000.0, 30'000.0)),
             new_merchant(user, random), user.home_city);
        break;
      }
      case FraudPattern::velocity_multi_city: {
        const std::size_t n = std::min<std::size_t>(budget, 4 + random.uniform_int(3));
        std::array<std::size_t, 3> cities = {user.home_city, other_city(user.home_city, random),
                                             other_city(user.home_city, random)};
        const std::size_t distinct = 2 + random.uniform_int(2);
        const std::int64_t start = at(user.home_city, day, random.uniform_int(24), random.uniform_int(3600));
        for (std::size_t i = 0; i < n; ++i) {
          emit(start + static_cast<std::int64_t>(i) * (50'000 / static_cast<std::int64_t>(n)),
               user.typical_amount * random.uniform(1.0, 3.0), new_merchant(user, random), cities[i % distinct]);
        }
        break;
      }
      case FraudPattern::none: break;
    }
    return count;
  }

  SimulatorParams params_;
};

}  // namespace redflag
