// The bank's risk levels as rules: a RulesEngine over the customer's feature
// columns and the model's P(high risk), loaded from a rules file (rules.json
// beside this file), so compliance changes a threshold or adds a rule ("any
// expired document and P > 0.3 is medium") without touching the code. A
// customer's level is the highest severity among the rules that fire
// (RiskDecider with severity as the floor), low when none does.
#pragma once

#include <redflag/core/schema.hpp>
#include <redflag/risk/risk_decision.hpp>
#include <redflag/rules/rule_config.hpp>

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aml {

class RiskLevels {
 public:
  // Throws redflag::invalid_argument naming the rule's JSON path for a rule
  // over a column that is neither a customer feature nor p_high_risk.
  RiskLevels(const redflag::Schema& customer_columns, const std::filesystem::path& rules)
      : engine_(redflag::load_rules_file(rules, with_probability(customer_columns))), path_(rules) {}

  // "high", "medium" or "low" (or "critical" if a rule says so).
  [[nodiscard]] std::string_view level(std::span<const double> customer, double probability) const {
    row_.assign(customer.begin(), customer.end());
    row_.push_back(probability);
    engine_.evaluate(std::span<const double>(row_), hits_);
    static constexpr std::string_view names[] = {"low", "medium", "high", "critical"};
    return names[static_cast<std::size_t>(decider_.decide(std::nullopt, hits_, engine_).level)];
  }

  // "HIGH_RISK, MEDIUM_RISK from rules.json"
  [[nodiscard]] std::string describe() const {
    std::string names;
    for (const redflag::Rule& rule : engine_.rules()) names += (names.empty() ? "" : ", ") + rule.name;
    return names + " from " + path_.filename().string();
  }

 private:
  static redflag::Schema with_probability(const redflag::Schema& customer_columns) {
    std::vector<redflag::Column> columns = customer_columns.columns();
    columns.push_back({"p_high_risk", redflag::ColumnKind::numeric});
    return redflag::Schema(std::move(columns));
  }

  redflag::RulesEngine engine_;
  redflag::RiskDecider decider_;
  std::filesystem::path path_;
  // Scratch of level(): one RiskLevels per thread.
  mutable std::vector<double> row_;
  mutable redflag::RuleHits hits_;
};

}  // namespace aml
