#pragma once

// Synthetic account snapshots: the bundled sample batch and the reference
// history the detector is fitted on.
//
// An account holds one to three sleeves drawn from five model portfolios,
// each with a few securities and a cash position of 1–6 % of the sleeve. Its
// market value is log-normal (median 250 000) and its proposed trade is 2–15 %
// of it, spread over the securities close to their model percents; cash gets
// its model percent give or take half a point. A drifted account trades far
// from the model's cash: 10–25 points above it, or nearly no cash while the
// model asks for 9–14 %.

#include "account.hpp"

#include <redflag/core/random.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace portfolio {

enum class Drift { none, above, below };

struct GeneratedAccounts {
  std::vector<Account> accounts;
  std::vector<Drift> drift;  // per account
};

namespace generation {

struct Holding {
  const char* symbol;
  const char* type;
  double weight;  // within the sleeve's invested part
};

struct SleeveTemplate {
  const char* name;
  std::vector<Holding> holdings;
};

inline const std::array<SleeveTemplate, 5>& sleeve_templates() {
  static const std::array<SleeveTemplate, 5> templates = {{
      {"US Core Equity",
       {{"AAPL", "Equity", 0.22},
        {"MSFT", "Equity", 0.22},
        {"JNJ", "Equity", 0.18},
        {"JPM", "Equity", 0.18},
        {"XOM", "Equity", 0.20}}},
      {"International Equity", {{"VEA", "ETF", 0.6}, {"VWO", "ETF", 0.4}}},
      {"Core Fixed Income", {{"AGG", "FixedIncome", 0.5}, {"BND", "FixedIncome", 0.3}, {"TIP", "FixedIncome", 0.2}}},
      {"Municipal Income", {{"MUB", "FixedIncome", 0.7}, {"VTEB", "FixedIncome", 0.3}}},
      {"Dividend Growth", {{"VIG", "ETF", 0.5}, {"SCHD", "ETF", 0.5}}},
  }};
  return templates;
}

inline double cents(double value) { return std::round(value * 100.0) / 100.0; }

// Scales the cash (or the non-cash) values so that they add up to `total`.
inline void scale_to(std::vector<double>& values, const std::vector<bool>& is_cash, bool cash, double total) {
  double sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (is_cash[i] == cash) sum += values[i];
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (is_cash[i] == cash) values[i] = sum > 0 ? values[i] * total / sum : 0.0;
  }
}

inline Account generate_account(redflag::Random& rng, std::string id, Drift drift) {
  const auto& templates = sleeve_templates();
  const auto sleeve_count = rng.uniform_int<redflag::Index>(1, 4);
  const std::vector<redflag::Index> chosen =
      rng.sample_without_replacement(static_cast<redflag::Index>(templates.size()), sleeve_count);
  std::vector<double> sleeve_weights;
  for (std::size_t s = 0; s < chosen.size(); ++s) sleeve_weights.push_back(rng.uniform(0.5, 1.5));
  double weight_sum = 0;
  for (const double w : sleeve_weights) weight_sum += w;

  // Model percents (of the account) and which positions are cash, flat.
  std::vector<double> model;
  std::vector<bool> is_cash;
  Account account;
  account.account_id = std::move(id);
  for (std::size_t s = 0; s < chosen.size(); ++s) {
    const SleeveTemplate& shape = templates[static_cast<std::size_t>(chosen[s])];
    const double sleeve_percent = 100.0 * sleeve_weights[s] / weight_sum;
    const double cash_share = rng.uniform(0.01, 0.06);
    Sleeve sleeve;
    sleeve.model_name = shape.name;
    std::vector<double> weights;
    double holding_sum = 0;
    for (const Holding& holding : shape.holdings) {
      weights.push_back(holding.weight * rng.uniform(0.8, 1.2));
      holding_sum += weights.back();
    }
    for (std::size_t h = 0; h < shape.holdings.size(); ++h) {
      sleeve.securities.push_back({shape.holdings[h].symbol, shape.holdings[h].type, 0, 0, 0});
      model.push_back(sleeve_percent * (1.0 - cash_share) * weights[h] / holding_sum);
      is_cash.push_back(false);
    }
    sleeve.securities.push_back({"USD", "Cash", 0, 0, 0});
    model.push_back(sleeve_percent * cash_share);
    is_cash.push_back(true);
    account.sleeves.push_back(std::move(sleeve));
  }
  if (drift == Drift::below) {
    // The model keeps a real cash reserve that the trade ignores.
    const double cash_model = rng.uniform(9.0, 14.0);
    scale_to(model, is_cash, true, cash_model);
    scale_to(model, is_cash, false, 100.0 - cash_model);
  }
  for (double& percent : model) percent = cents(percent);

  // Trade shares in percent of the trade: near the model, except for drift.
  double cash_model = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (is_cash[i]) cash_model += model[i];
  }
  std::vector<double> share(model.size());
  for (std::size_t i = 0; i < model.size(); ++i) {
    share[i] = is_cash[i] ? std::max(0.0, model[i] + 0.5 * rng.normal()) : model[i] * rng.uniform(0.9, 1.1);
  }
  double cash_share = 0;
  for (std::size_t i = 0; i < share.size(); ++i) {
    if (is_cash[i]) cash_share += share[i];
  }
  if (drift == Drift::above) cash_share = cash_model + rng.uniform(10.0, 25.0);
  if (drift == Drift::below) cash_share = rng.uniform(0.0, 2.0);
  if (drift != Drift::none) scale_to(share, is_cash, true, cash_share);
  scale_to(share, is_cash, false, 100.0 - cash_share);

  const double market_value = std::exp(std::log(250000.0) + 0.8 * rng.normal());
  const double trade = market_value * rng.uniform(0.02, 0.15);
  double trade_total = 0;
  std::size_t flat = 0;
  for (Sleeve& sleeve : account.sleeves) {
    for (Security& security : sleeve.securities) {
      security.model_percent = model[flat];
      security.trade_amount = cents(trade * share[flat] / 100.0);
      security.market_value = cents(std::max(0.0, market_value * model[flat] / 100.0 * (1.0 + 0.05 * rng.normal())));
      trade_total += security.trade_amount;
      ++flat;
    }
  }
  account.trade_amount = cents(trade_total);
  return account;
}

}  // namespace generation

// `count` accounts "ACC-<first_id>", "ACC-<first_id + 1>", ...; `drifted` of
// them (at random places, half above and half below the model) drift.
inline GeneratedAccounts generate_accounts(std::size_t count, std::size_t drifted, std::uint64_t seed,
                                           std::uint64_t first_id = 100001) {
  redflag::Random rng(seed);
  GeneratedAccounts out;
  out.drift.assign(count, Drift::none);
  const std::vector<redflag::Index> places =
      rng.sample_without_replacement(static_cast<redflag::Index>(count), static_cast<redflag::Index>(drifted));
  for (std::size_t k = 0; k < places.size(); ++k) {
    out.drift[static_cast<std::size_t>(places[k])] = k % 2 == 0 ? Drift::above : Drift::below;
  }
  for (std::size_t i = 0; i < count; ++i) {
    out.accounts.push_back(generation::generate_account(rng, "ACC-" + std::to_string(first_id + i), out.drift[i]));
  }
  return out;
}

}  // namespace portfolio
