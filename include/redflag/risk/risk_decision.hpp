#pragma once

// RiskDecision: one verdict per transaction from a detector's score and the
// rules that fired.
//
//   risk_score = 1 - (1 - model_weight * model_score) * prod over fired rules (1 - weight)
//
// a "noisy-OR": each signal alone raises the risk by its weight, several
// signals compound, and the score stays in [0, 1]. The level comes from
// thresholds on the score (LOW < medium_from <= MEDIUM < high_from <= HIGH <
// critical_from <= CRITICAL); with severity_sets_floor a fired rule's
// severity is also a minimum level (a critical rule is never LOW). The
// recommendation follows the level: BLOCK from block_from, REVIEW from
// review_from, APPROVE below. decide() allocates nothing and is
// deterministic; explain() builds the human-readable text on demand, in the
// words the columns declare (their ColumnPhrase: the rules engine's for the
// evidence, the model's Phrasebook for its contributions), so any pipeline's
// explanation reads in its own terms.

#include <redflag/core/error.hpp>
#include <redflag/core/phrase.hpp>
#include <redflag/rules/rules_engine.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace redflag {

enum class RiskLevel : std::uint8_t { low, medium, high, critical };
enum class Recommendation : std::uint8_t { approve, review, block };

inline std::string_view to_string(RiskLevel level) {
  constexpr std::array<std::string_view, 4> names = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
  return names[static_cast<std::size_t>(level)];
}
inline std::string_view to_string(Recommendation recommendation) {
  constexpr std::array<std::string_view, 3> names = {"APPROVE", "REVIEW", "BLOCK"};
  return names[static_cast<std::size_t>(recommendation)];
}

struct RiskPolicy {
  // A model score of 1 alone gives risk 0.6: HIGH, reviewed, not blocked
  // without a rule or a second signal.
  double model_weight = 0.6;
  double medium_from = 0.3;
  double high_from = 0.6;
  double critical_from = 0.85;
  bool severity_sets_floor = true;
  RiskLevel review_from = RiskLevel::medium;
  RiskLevel block_from = RiskLevel::critical;
  std::size_t top_features = 3;  // model contributions named in explain()
};

// One feature's part in the model's score (e.g. from IsolationForest::explain).
struct FeatureContribution {
  std::string_view name;
  double value = 0.0;
  double contribution = 0.0;
};

struct RiskDecision {
  static constexpr std::size_t max_reasons = 16;

  double risk_score = 0.0;
  RiskLevel level = RiskLevel::low;
  Recommendation recommendation = Recommendation::approve;
  double model_score = 0.0;  // as given, clamped to [0, 1]; 0 without a model
  bool has_model_score = false;
  // Reason codes of the fired rules, in rule order (names owned by the
  // RulesEngine, valid while it lives); more than max_reasons are counted
  // in the score but not listed.
  std::array<std::string_view, max_reasons> reason_codes{};
  std::size_t reason_count = 0;

  [[nodiscard]] std::span<const std::string_view> reasons() const { return {reason_codes.data(), reason_count}; }
};

class RiskDecider {
 public:
  RiskDecider() = default;
  explicit RiskDecider(const RiskPolicy& policy) : policy_(policy) {
    constexpr std::string_view where = "RiskDecider::RiskDecider";
    auto in_unit = [](double x) { return x >= 0.0 && x <= 1.0; };
    if (!in_unit(policy.model_weight)) detail::raise<invalid_argument>(where, "model_weight must be in [0, 1]");
    if (!(in_unit(policy.medium_from) && in_unit(policy.high_from) && in_unit(policy.critical_from) &&
          policy.medium_from <= policy.high_from && policy.high_from <= policy.critical_from)) {
      detail::raise<invalid_argument>(where,
                                      "thresholds must satisfy 0 <= medium_from <= high_from <= critical_from <= 1");
    }
    if (policy.review_from > policy.block_from) {
      detail::raise<invalid_argument>(where, "review_from must not be above block_from");
    }
  }

  [[nodiscard]] const RiskPolicy& policy() const { return policy_; }

  // model_score: any detector's score scaled to [0, 1] (IsolationForest's
  // anomaly_score already is); std::nullopt for rules only. NaN is rejected.
  [[nodiscard]] RiskDecision decide(std::optional<double> model_score, const RuleHits& hits,
                                    const RulesEngine& engine) const {
    RiskDecision decision;
    double keep = 1.0;  // probability-like "no risk" left after each signal
    if (model_score) {
      if (std::isnan(*model_score)) detail::raise<invalid_argument>("RiskDecider::decide", "model score is NaN");
      decision.model_score = std::clamp(*model_score, 0.0, 1.0);
      decision.has_model_score = true;
      keep *= 1.0 - policy_.model_weight * decision.model_score;
    }
    RiskLevel floor = RiskLevel::low;
    for (const RuleHit& hit : hits.hits) {
      const Rule& rule = engine.rule(hit.rule);
      keep *= 1.0 - rule.weight;
      floor = std::max(floor, static_cast<RiskLevel>(rule.severity));
      if (decision.reason_count < RiskDecision::max_reasons) decision.reason_codes[decision.reason_count++] = rule.name;
    }
    decision.risk_score = std::clamp(1.0 - keep, 0.0, 1.0);
    RiskLevel level = decision.risk_score >= policy_.critical_from ? RiskLevel::critical
                      : decision.risk_score >= policy_.high_from   ? RiskLevel::high
                      : decision.risk_score >= policy_.medium_from ? RiskLevel::medium
                                                                   : RiskLevel::low;
    if (policy_.severity_sets_floor) level = std::max(level, floor);
    decision.level = level;
    decision.recommendation = level >= policy_.block_from    ? Recommendation::block
                              : level >= policy_.review_from ? Recommendation::review
                                                             : Recommendation::approve;
    return decision;
  }

  // "HIGH risk 0.72, REVIEW: amount 37x this user's average (> 10); 3 cities in 60 s (>= 2)
  //  [VELOCITY_MULTI_CITY]; model 0.71: new merchant for this user, ..."
  // `model_columns`: the phrases of the model's columns (FeatureSet::phrasebook());
  // a column without one reads "name = value".
  [[nodiscard]] std::string explain(const RiskDecision& decision, const RuleHits& hits, const RulesEngine& engine,
                                    std::span<const FeatureContribution> contributions = {},
                                    const Phrasebook& model_columns = {}) const {
    std::string text = std::string(to_string(decision.level)) + " risk " + format_number(decision.risk_score, 2) +
                       ", " + std::string(to_string(decision.recommendation));
    std::string separator = ": ";
    for (const RuleHit& hit : hits.hits) {
      std::string because;
      for (const rules::Observation& o : hit.evidence.observations()) {
        if (!o.held) continue;  // the leaves that made the rule fire
        because += (because.empty() ? "" : "; ") + engine.describe(o);
      }
      text += separator + because + " [" + engine.rule(hit.rule).name + "]";
      separator = "; ";
    }
    if (decision.has_model_score) {
      text += separator + "model " + format_number(decision.model_score, 2);
      std::vector<FeatureContribution> top(contributions.begin(), contributions.end());
      std::stable_sort(top.begin(), top.end(),
                       [](const auto& a, const auto& b) { return a.contribution > b.contribution; });
      std::string features;
      for (std::size_t i = 0; i < top.size() && i < policy_.top_features && top[i].contribution > 0.0; ++i) {
        features += (features.empty() ? "" : ", ") + phrase(top[i], model_columns);
      }
      if (!features.empty()) text += ": " + features;
    }
    return text;
  }

  // The contribution's column in its declared words, or "name = value".
  static std::string phrase(const FeatureContribution& f, const Phrasebook& columns) {
    if (const ColumnPhrase* words = columns.find(f.name)) return phrase_column(f.name, *words, f.value);
    return std::string(f.name) + " = " + format_number(f.value, 3);
  }

 private:
  RiskPolicy policy_;
};

}  // namespace redflag
