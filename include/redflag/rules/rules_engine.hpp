#pragma once

// RulesEngine: auditable business rules over the named columns of a row.
//
// An engine is made for one Schema — the columns of a FeatureSet, of a CSV,
// of any record a host has — and each rule's Condition (condition.hpp) is
// compiled against it when added: column names become indices, an unknown
// column or an operator the column's kind does not support is an error that
// names the rule. evaluate(row) then reports every rule that fired, with the
// observations that made it fire, without looking anything up or allocating
// once the hits buffer has grown to the number of rules.
//
//   auto features = make_feature_set<Account>(CashWeight{}, ModelCashWeight{});
//   RulesEngine engine(features);   // the FeatureSet's schema and its columns' phrases
//   engine.add({"CASH_DRIFT", Severity::medium, 0.4, rules::column("cash_weight") >
//   rules::column("model_cash_weight")}); RuleHits hits; engine.evaluate(std::span<const double>(row), hits);
//   engine.describe(hits.hits[0]);   // "CASH_DRIFT: cash 17.0 % > model cash 5.0 %"
//
// Windowed and per-entity quantities (events in the last minute, ratio to
// the entity's mean) are columns too: stream/entity_features.hpp has the
// stateful features that compute them. Rules can also come from a JSON file
// (rule_config.hpp). An engine is immutable while it evaluates, so threads
// may share it, each with its own RuleHits.

#include <redflag/core/error.hpp>
#include <redflag/core/phrase.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/rules/condition.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
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
  rules::Condition when;
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

// Anything that describes its columns by name and in words: a FeatureSet.
template <class C>
concept DescribedColumns = requires(const C& columns) {
  { columns.schema() } -> std::convertible_to<const Schema&>;
  { columns.phrasebook() } -> std::convertible_to<const Phrasebook&>;
};

class RulesEngine {
 public:
  explicit RulesEngine(Schema schema, Phrasebook phrasebook = {})
      : schema_(std::move(schema)), phrasebook_(std::move(phrasebook)) {
    if (schema_.empty()) detail::raise<invalid_argument>("RulesEngine::RulesEngine", "the schema has no columns");
  }
  template <DescribedColumns Columns>
  explicit RulesEngine(const Columns& columns) : RulesEngine(columns.schema(), columns.phrasebook()) {}

  // Compiles the rule against the schema. Throws invalid_argument naming the
  // rule for an empty or duplicate name, a weight outside [0, 1], an unknown
  // column (listing the known ones) or an operator the column's kind does
  // not support; the engine is unchanged then.
  RulesEngine& add(Rule rule) {
    constexpr std::string_view where = "RulesEngine::add";
    if (rule.name.empty()) detail::raise<invalid_argument>(where, "rule with an empty name");
    if (find(rule.name) != rules_.size()) {
      detail::raise<invalid_argument>(where, "a rule named '" + rule.name + "' already exists");
    }
    if (!(rule.weight >= 0.0 && rule.weight <= 1.0)) {
      detail::raise<invalid_argument>(where, "rule '" + rule.name + "': weight must be in [0, 1]");
    }
    Program program = program_;
    const std::uint32_t root = compile(rule.when, rule.name, program);
    program_ = std::move(program);
    roots_.push_back(root);
    rules_.push_back(std::move(rule));
    return *this;
  }

  [[nodiscard]] const Schema& schema() const { return schema_; }
  [[nodiscard]] const Phrasebook& phrasebook() const { return phrasebook_; }
  [[nodiscard]] const std::vector<Rule>& rules() const { return rules_; }
  [[nodiscard]] const Rule& rule(std::size_t index) const { return rules_.at(index); }

  // Index of the rule named `name`, or rules().size().
  [[nodiscard]] std::size_t find(std::string_view name) const {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].name == name) return i;
    }
    return rules_.size();
  }

  // Replaces `hits` with the rules that fired on `row` (one value per schema
  // column, in schema order), in rule order. Throws schema_mismatch for a
  // row of another width.
  template <Scalar T>
  void evaluate(std::span<const T> row, RuleHits& hits) const {
    schema_.require_columns(static_cast<Index>(row.size()), "RulesEngine::evaluate");
    hits.hits.reserve(rules_.size());
    hits.hits.clear();
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      hits.scratch.clear();
      if (evaluate_node(roots_[i], row, hits.scratch)) hits.hits.push_back({i, hits.scratch});
    }
  }
  template <Scalar T>
  void evaluate(std::span<T> row, RuleHits& hits) const {
    evaluate(std::span<const T>(row), hits);
  }

  // "amount 12500 > 10000", "5 transactions in 60 s (> 3)", "local hour 3 in [2, 5)":
  // the column's phrase when it has one, else its name and value.
  [[nodiscard]] std::string describe(const rules::Observation& o) const {
    using Kind = rules::Observation::Kind;
    const std::string& name = schema_[static_cast<Index>(o.column)].name;
    const ColumnPhrase* phrase = phrasebook_.find(name);
    const ColumnPhrase none;
    const ColumnPhrase& words = phrase ? *phrase : none;
    auto number = [&](double x) { return format_number(words.inverse ? words.inverse(x) : x, words.digits); };
    std::string out = o.held ? "" : "not ";
    out += phrase_column(name, words, o.value);
    switch (o.kind) {
      case Kind::compare:
        out += phrase ? " (" + std::string(rules::to_string(o.op)) + " " + number(o.against) + ")"
                      : " " + std::string(rules::to_string(o.op)) + " " + number(o.against);
        break;
      case Kind::compare_columns:
        out += " " + std::string(rules::to_string(o.op)) + " " +
               phrasebook_.describe(schema_[static_cast<Index>(o.other)].name, o.against);
        break;
      case Kind::between: out += " in [" + number(o.against) + ", " + number(o.to) + ")"; break;
      case Kind::member: {
        const Node& node = program_.nodes[o.other];
        out += " in {";
        for (std::uint32_t i = 0; i < node.count; ++i) {
          out += (i == 0 ? "" : ", ") + format_number(program_.codes[node.first + i]);
        }
        out += "}";
        break;
      }
    }
    return out;
  }

  // "HIGH_AMOUNT: amount 12500 > 10000"
  [[nodiscard]] std::string describe(const RuleHit& hit) const {
    std::string text = rule(hit.rule).name + ":";
    bool first = true;
    for (const rules::Observation& o : hit.evidence.observations()) {
      text += first ? " " : "; ";
      text += describe(o);
      first = false;
    }
    return text;
  }

 private:
  enum class NodeKind : std::uint8_t { compare, compare_columns, between, member, all, any, negate };

  struct Node {
    NodeKind kind = NodeKind::compare;
    rules::Op op = rules::Op::greater;
    std::uint32_t column = 0;
    std::uint32_t other = 0;
    double a = 0.0;           // constant or interval start
    double b = 0.0;           // interval end
    std::uint32_t first = 0;  // all/any/negate: children in `children`; member: codes in `codes`
    std::uint32_t count = 0;
  };

  struct Program {
    std::vector<Node> nodes;
    std::vector<std::uint32_t> children;
    std::vector<double> codes;
  };

  std::uint32_t column_index(const std::string& name, const std::string& rule) const {
    const Index index = schema_.find(name);
    if (index < 0) {
      std::string known;
      for (const Column& column : schema_) known += (known.empty() ? "" : ", ") + column.name;
      detail::raise<invalid_argument>(
          "RulesEngine::add", "rule '" + rule + "': unknown column '" + name + "' (known columns: " + known + ")");
    }
    return static_cast<std::uint32_t>(index);
  }

  void require_kind(std::uint32_t column, bool ordering, const std::string& rule) const {
    const Column& c = schema_[static_cast<Index>(column)];
    if (ordering && c.kind == ColumnKind::categorical) {
      detail::raise<invalid_argument>("RulesEngine::add", "rule '" + rule + "': column '" + c.name +
                                                              "' is categorical; compare it with ==, != or in");
    }
    if (!ordering && c.kind != ColumnKind::categorical) {
      detail::raise<invalid_argument>("RulesEngine::add", "rule '" + rule + "': column '" + c.name + "' is " +
                                                              std::string(to_string(c.kind)) +
                                                              "; membership (in) needs a categorical column");
    }
  }

  std::uint32_t compile(const rules::Condition& condition, const std::string& rule, Program& program) const {
    namespace d = rules::detail;
    Node node;
    std::vector<std::uint32_t> children;
    std::visit(
        [&](const auto& leaf) {
          using Leaf = std::decay_t<decltype(leaf)>;
          if constexpr (std::is_same_v<Leaf, d::Compare>) {
            node.kind = NodeKind::compare;
            node.column = column_index(leaf.column, rule);
            if (rules::is_ordering(leaf.op)) require_kind(node.column, true, rule);
            node.op = leaf.op;
            node.a = leaf.constant;
          } else if constexpr (std::is_same_v<Leaf, d::CompareColumns>) {
            node.kind = NodeKind::compare_columns;
            node.column = column_index(leaf.column, rule);
            node.other = column_index(leaf.other, rule);
            if (rules::is_ordering(leaf.op)) {
              require_kind(node.column, true, rule);
              require_kind(node.other, true, rule);
            }
            node.op = leaf.op;
          } else if constexpr (std::is_same_v<Leaf, d::Between>) {
            node.kind = NodeKind::between;
            node.column = column_index(leaf.column, rule);
            require_kind(node.column, true, rule);
            node.a = leaf.from;
            node.b = leaf.to;
          } else if constexpr (std::is_same_v<Leaf, d::Member>) {
            node.kind = NodeKind::member;
            node.column = column_index(leaf.column, rule);
            require_kind(node.column, false, rule);
            node.first = static_cast<std::uint32_t>(program.codes.size());
            node.count = static_cast<std::uint32_t>(leaf.codes.size());
            program.codes.insert(program.codes.end(), leaf.codes.begin(), leaf.codes.end());
          } else {
            if constexpr (std::is_same_v<Leaf, d::All>) node.kind = NodeKind::all;
            if constexpr (std::is_same_v<Leaf, d::Any>) node.kind = NodeKind::any;
            if constexpr (std::is_same_v<Leaf, d::Not>) node.kind = NodeKind::negate;
            const auto& list = [&]() -> const std::vector<rules::Condition>& {
              if constexpr (std::is_same_v<Leaf, d::Not>) {
                return leaf.child;
              } else {
                return leaf.children;
              }
            }();
            for (const rules::Condition& child : list) children.push_back(compile(child, rule, program));
          }
        },
        condition.node());
    if (!children.empty()) {
      node.first = static_cast<std::uint32_t>(program.children.size());
      node.count = static_cast<std::uint32_t>(children.size());
      program.children.insert(program.children.end(), children.begin(), children.end());
    }
    program.nodes.push_back(node);
    return static_cast<std::uint32_t>(program.nodes.size() - 1);
  }

  template <Scalar T>
  bool evaluate_node(std::uint32_t index, std::span<const T> row, rules::Evidence& evidence) const {
    using Kind = rules::Observation::Kind;
    const Node& n = program_.nodes[index];
    switch (n.kind) {
      case NodeKind::compare: {
        const double value = static_cast<double>(row[n.column]);
        const bool held = rules::compare(value, n.op, n.a);
        evidence.add({Kind::compare, n.op, held, n.column, 0, value, n.a, 0.0});
        return held;
      }
      case NodeKind::compare_columns: {
        const double value = static_cast<double>(row[n.column]);
        const double other = static_cast<double>(row[n.other]);
        const bool held = rules::compare(value, n.op, other);
        evidence.add({Kind::compare_columns, n.op, held, n.column, n.other, value, other, 0.0});
        return held;
      }
      case NodeKind::between: {
        const double value = static_cast<double>(row[n.column]);
        const bool held = rules::in_interval(value, n.a, n.b);
        evidence.add({Kind::between, rules::Op::greater_equal, held, n.column, 0, value, n.a, n.b});
        return held;
      }
      case NodeKind::member: {
        const double value = static_cast<double>(row[n.column]);
        const auto* codes = program_.codes.data() + n.first;
        const bool held = std::find(codes, codes + n.count, value) != codes + n.count;
        evidence.add({Kind::member, rules::Op::equal, held, n.column, index, value, 0.0, 0.0});
        return held;
      }
      case NodeKind::all:
        for (std::uint32_t i = 0; i < n.count; ++i) {
          if (!evaluate_node(program_.children[n.first + i], row, evidence)) return false;
        }
        return true;
      case NodeKind::any:
        for (std::uint32_t i = 0; i < n.count; ++i) {
          if (evaluate_node(program_.children[n.first + i], row, evidence)) return true;
        }
        return false;
      case NodeKind::negate: return !evaluate_node(program_.children[n.first], row, evidence);
    }
    return false;
  }

  Schema schema_;
  Phrasebook phrasebook_;
  std::vector<Rule> rules_;
  std::vector<std::uint32_t> roots_;  // each rule's root node
  Program program_;
};

}  // namespace redflag
