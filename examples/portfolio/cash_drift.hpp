#pragma once

// Cash drift: the account features, the detector and the recommendations.
//
// Seven redflag features describe an account's proposed trade. An
// IsolationForest (200 trees, contamination 0.05) fitted on a reference
// history of accounts scores each account of a batch; the recommendation
// combines the model's verdict and its top explain() contributions with the
// business rules, a RulesEngine over the same columns loaded from
// rules.json beside this file: cash more than 5 points above or below the
// model's cash percent is a drift whatever the model says.

#include "account.hpp"

#include <redflag/core/feature.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/rules/rule_config.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace portfolio {

// "cash 12.4 points above the model", the words of the drift column.
inline std::string phrase_cash_drift(double points) {
  char text[64];
  std::snprintf(text, sizeof text, "cash %.1f points %s the model", std::abs(points), points >= 0 ? "above" : "below");
  return text;
}

// The trade columns, in one pass over the securities:
//   total_trade_amount   the account's TradeAmount
//   cash_trade_amount    the part of it traded into cash securities
//   cash_trade_ratio     cash_trade_amount / total_trade_amount (0 for a zero trade)
//   cash_model_percent   the model's cash percent, summed over the sleeves
//   cash_vs_model_diff   100 * cash_trade_ratio - cash_model_percent, in percentage points
struct CashAllocation {
  static constexpr std::size_t width = 5;
  std::array<redflag::FeatureColumn, 5> columns() const {
    return {{{"total_trade_amount"},
             {"cash_trade_amount"},
             {"cash_trade_ratio"},
             {"cash_model_percent"},
             {"cash_vs_model_diff", redflag::ColumnKind::numeric, {.digits = 1, .format = phrase_cash_drift}}}};
  }
  void extract(const Account& account, std::span<double, 5> out) const {
    double cash_trade = 0, cash_model = 0;
    for (const Sleeve& sleeve : account.sleeves) {
      for (const Security& security : sleeve.securities) {
        if (!security.is_cash()) continue;
        cash_trade += security.trade_amount;
        cash_model += security.model_percent;
      }
    }
    const double ratio = account.trade_amount == 0 ? 0.0 : cash_trade / account.trade_amount;
    out[0] = account.trade_amount;
    out[1] = cash_trade;
    out[2] = ratio;
    out[3] = cash_model;
    out[4] = 100.0 * ratio - cash_model;
  }
};

inline double total_securities(const Account& account) {
  std::size_t count = 0;
  for (const Sleeve& sleeve : account.sleeves) count += sleeve.securities.size();
  return static_cast<double>(count);
}

inline double num_sleeves(const Account& account) { return static_cast<double>(account.sleeves.size()); }

// Every feature is stateless, so one const set serves every batch.
inline auto make_account_features() {
  return redflag::make_feature_set<Account>(CashAllocation{},
                                            redflag::make_feature<Account>("total_securities", total_securities),
                                            redflag::make_feature<Account>("num_sleeves", num_sleeves));
}

using AccountFeatures = decltype(make_account_features());

// A stable id: the same snapshot (same account, same content) always gets the
// same id, so a re-posted batch finds the viewed flags it had. FNV-1a (64 bit)
// of the account's canonical JSON (keys sorted, numbers shortest round-trip).
inline std::string recommendation_id(const nlohmann::json& snapshot) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : snapshot.dump()) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  char text[24];
  std::snprintf(text, sizeof text, "rec-%016llx", static_cast<unsigned long long>(hash));
  return text;
}

struct DetectorSettings {
  redflag::Index trees = 200;
  double contamination = 0.05;
  std::uint64_t seed = 42;
  redflag::Index top_contributions = 3;  // model reasons per flagged account
};

class CashDriftDetector {
 public:
  // Fits the forest on `reference`, the history new batches are judged
  // against: the same account gets the same score in any batch. `rules`: a
  // rules file over the account columns (redflag::load_rules_file refuses
  // one naming an unknown column, with its JSON path).
  CashDriftDetector(std::span<const Account> reference, const std::filesystem::path& rules,
                    const DetectorSettings& settings = {})
      : features_(make_account_features()),
        rules_(redflag::load_rules_file(rules, features_)),
        settings_(settings),
        model_(
            {.n_estimators = settings.trees, .contamination = settings.contamination, .random_state = settings.seed}) {
    model_.fit(features_.transform<double>(reference), features_.schema());
  }

  [[nodiscard]] double threshold() const { return model_.threshold(); }

  // One recommendation per account, in batch order. `snapshots` is the
  // posted JSON array the accounts were read from (for the ids).
  [[nodiscard]] std::vector<nlohmann::json> recommend(std::span<const Account> accounts,
                                                      const nlohmann::json& snapshots) const {
    const redflag::Matrix<double> X = features_.transform<double>(accounts);
    const redflag::Vector<double> scores = model_.anomaly_score(X, features_.schema());
    const redflag::LabelVector flagged = model_.predict(X);

    // explain() costs milliseconds per row: only for the flagged accounts.
    std::vector<redflag::Index> flagged_rows;
    for (redflag::Index i = 0; i < X.rows(); ++i) {
      if (flagged(i) == 1) flagged_rows.push_back(i);
    }
    redflag::Matrix<double> flagged_X(static_cast<redflag::Index>(flagged_rows.size()), X.cols());
    for (std::size_t k = 0; k < flagged_rows.size(); ++k) {
      flagged_X.row(static_cast<redflag::Index>(k)) = X.row(flagged_rows[k]);
    }
    const redflag::Explanation<double> why =
        flagged_rows.empty() ? redflag::Explanation<double>{} : model_.explain(flagged_X);

    std::vector<nlohmann::json> recommendations;
    std::size_t next_flagged = 0;
    redflag::RuleHits hits;
    for (redflag::Index i = 0; i < X.rows(); ++i) {
      nlohmann::json reasons = nlohmann::json::array();
      rules_.evaluate(std::span<const double>(X.row(i).data(), static_cast<std::size_t>(X.cols())), hits);
      for (const redflag::RuleHit& hit : hits.hits) reasons.push_back(rules_.describe(hit));
      nlohmann::json contributions = nlohmann::json::array();
      if (flagged(i) == 1) {
        const auto row = static_cast<redflag::Index>(next_flagged++);
        for (const auto& [column, name, contribution] : why.top(row, settings_.top_contributions)) {
          if (contribution <= 0) break;  // only features that raised the score
          reasons.push_back("model: " + name + " = " + format(X(i, column)) + " raised the score by " +
                            format(contribution));
          contributions.push_back({{"feature", name}, {"value", X(i, column)}, {"contribution", contribution}});
        }
      }
      nlohmann::json features = nlohmann::json::object();
      for (redflag::Index j = 0; j < X.cols(); ++j) features[features_.schema()[j].name] = X(i, j);
      const auto& snapshot = snapshots[static_cast<std::size_t>(i)];
      recommendations.push_back({{"id", recommendation_id(snapshot)},
                                 {"accountId", accounts[static_cast<std::size_t>(i)].account_id},
                                 {"is_anomaly", flagged(i) == 1},
                                 {"score", scores(i)},
                                 {"threshold", model_.threshold()},
                                 {"reasons", std::move(reasons)},
                                 {"contributions", std::move(contributions)},
                                 {"features", std::move(features)},
                                 {"recommendationViewed", false}});
    }
    return recommendations;
  }

 private:
  static std::string format(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", value);
    return text;
  }

  AccountFeatures features_;
  redflag::RulesEngine rules_;
  DetectorSettings settings_;
  redflag::IsolationForest<double> model_;
};

}  // namespace portfolio
