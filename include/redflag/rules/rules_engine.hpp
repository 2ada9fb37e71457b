#pragma once

// RulesEngine: auditable business rules next to a model score.
//
// A rule is a named predicate over a transaction and its entity's state
// (see rule_predicates.hpp), with a reason code (its name), a severity and a
// weight. evaluate() reports every rule that fired with the observations
// that made it fire ("amount 12500 > 10000"), without allocating once the
// hits buffer has grown to the number of rules.
//
//   RulesEngine engine = RulesEngine::builtin();      // HIGH_AMOUNT, VELOCITY_MULTI_CITY, UNUSUAL_HOUR
//   engine.add({"BIG_JUMP", Severity::medium, 0.3, rules::amount_to_mean() > 10});
//   RuleHits hits;
//   engine.evaluate(context, hits);                    // context: a TransactionContext
//
// Rules can also come from a JSON configuration (rule_config.hpp).

#include <redflag/core/error.hpp>
#include <redflag/rules/rule_predicates.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag {

enum class Severity : std::uint8_t { low, medium, high, critical };

inline std::string_view to_string(Severity severity) {
  constexpr std::array<std::string_view, 4> names = {"low", "medium", "high", "critical"};
  return names[static_cast<std::size_t>(severity)];
}

struct Rule {
  std::string name;  // the reason code, e.g. "HIGH_AMOUNT"
  Severity severity = Severity::medium;
  double weight = 0.5;  // in [0, 1]: how much a hit alone raises the risk score
  rules::Predicate when;
};

struct RuleHit {
  std::size_t rule = 0;  // index into RulesEngine::rules()
  rules::Evidence evidence;
};

// Reused across evaluations, so evaluation allocates nothing once `hits`
// has grown to the number of rules.
struct RuleHits {
  std::vector<RuleHit> hits;
  rules::Evidence scratch;  // the rule being evaluated
  [[nodiscard]] bool empty() const { return hits.empty(); }
  [[nodiscard]] std::size_t size() const { return hits.size(); }
};

class RulesEngine {
 public:
  RulesEngine() = default;

  // The reference system's rules:
  //   HIGH_AMOUNT          amount > 10,000                               high, weight 0.5
  //   VELOCITY_MULTI_CITY  > 3 transactions in 60 s from >= 2 cities     critical, weight 0.7
  //   UNUSUAL_HOUR         local time in [02:00, 05:00)                  low, weight 0.15
  static RulesEngine builtin() {
    using std::chrono::seconds;
    RulesEngine engine;
    engine.add({"HIGH_AMOUNT", Severity::high, 0.5, rules::amount() > 10'000.0});
    engine.add({"VELOCITY_MULTI_CITY", Severity::critical, 0.7,
                rules::window_count(seconds(60)) > 3 && rules::window_distinct_cities(seconds(60)) >= 2});
    engine.add({"UNUSUAL_HOUR", Severity::low, 0.15, rules::local_hour_between(2, 5)});
    return engine;
  }

  // Throws invalid_argument for an empty or duplicate name or a weight
  // outside [0, 1]; the engine is unchanged then.
  RulesEngine& add(Rule rule) {
    constexpr std::string_view where = "RulesEngine::add";
    if (rule.name.empty()) detail::raise<invalid_argument>(where, "rule with an empty name");
    if (find(rule.name) != rules_.size()) {
      detail::raise<invalid_argument>(where, "a rule named '" + rule.name + "' already exists");
    }
    if (!(rule.weight >= 0.0 && rule.weight <= 1.0)) {
      detail::raise<invalid_argument>(where, "rule '" + rule.name + "': weight must be in [0, 1]");
    }
    rules_.push_back(std::move(rule));
    return *this;
  }

  [[nodiscard]] const std::vector<Rule>& rules() const { return rules_; }
  [[nodiscard]] const Rule& rule(std::size_t index) const { return rules_.at(index); }

  // Index of the rule named `name`, or rules().size().
  [[nodiscard]] std::size_t find(std::string_view name) const {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].name == name) return i;
    }
    return rules_.size();
  }

  // Replaces `hits` with the rules that fired, in rule order.
  void evaluate(const TransactionContext& context, RuleHits& hits) const {
    hits.hits.reserve(rules_.size());
    hits.hits.clear();
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      hits.scratch.clear();
      if (rules_[i].when.evaluate(context, hits.scratch)) hits.hits.push_back({i, hits.scratch});
    }
  }

  // "HIGH_AMOUNT: amount 12500 > 10000"
  [[nodiscard]] std::string describe(const RuleHit& hit) const {
    std::string text = rule(hit.rule).name + ":";
    bool first = true;
    for (const rules::Observation& o : hit.evidence.observations()) {
      text += first ? " " : "; ";
      text += rules::describe(o);
      first = false;
    }
    return text;
  }

 private:
  std::vector<Rule> rules_;
};

}  // namespace redflag
