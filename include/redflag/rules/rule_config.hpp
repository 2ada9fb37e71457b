#pragma once

// Rules from a JSON file, so operators change thresholds and add rules
// without recompiling. A file names columns; it is loaded against the Schema
// the engine evaluates (a FeatureSet's, a CSV's). The format
// (docs/rules-engine.md has the full reference):
//
//   {"version": 2,
//    "rules": [
//      {"name": "HIGH_AMOUNT", "severity": "high", "weight": 0.5,
//       "when": {"column": "amount", "op": ">", "value": 10000}},
//      {"name": "VELOCITY_MULTI_CITY", "severity": "critical", "weight": 0.7,
//       "when": {"all": [{"column": "transactions_60s", "op": ">", "value": 3},
//                        {"column": "cities_60s", "op": ">=", "value": 2}]}},
//      {"name": "UNUSUAL_HOUR", "severity": "low", "weight": 0.15,
//       "when": {"column": "local_hour", "between": [2, 5]}},
//      {"name": "NIGHT_JUMP", "severity": "medium", "weight": 0.3,
//       "when": {"all": [{"rule": "UNUSUAL_HOUR"},
//                        {"column": "amount_to_mean", "op": ">", "value": 4}]}}]}
//
// A condition is one of
//   {"column": C, "op": OP, "value": X}     OP one of > >= < <= == !=
//   {"column": C, "op": OP, "other": C2}    two columns of the same row
//   {"column": C, "between": [FROM, TO]}    FROM <= value < TO (wraps if FROM > TO)
//   {"column": C, "in": [CODE, ...]}        a categorical column's code
//   {"all": [...]}, {"any": [...]}, {"not": {...}}
//   {"rule": NAME}                          the condition of another rule of the file
// Anything malformed — invalid JSON, an unknown key, a wrong type, a
// non-finite number, a duplicate rule name, an unknown column or rule, an
// operator the column's kind does not support, a cyclic rule reference —
// rejects the whole file with invalid_argument naming the JSON path
// ("$.rules[1].when.all[0].column: unknown column 'cities_5m' (known columns: ...)").
//
// save_rules(engine) writes an engine's rules back in this format (rule
// references written out in full), so load_rules(save_rules(engine), ...)
// gives an engine with the same rules.

#include <redflag/core/detail/json.hpp>
#include <redflag/core/error.hpp>
#include <redflag/rules/rules_engine.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

namespace redflag {

namespace detail::rule_config {

using json::Kind;
using json::Value;

class Parser {
 public:
  Parser(const Value& root, const Schema& schema) : root_(root), schema_(schema) {}

  std::vector<Rule> parse() {
    const std::string path = "$";
    require_object(root_, path);
    require_keys(root_, path, {"version", "rules"}, {"version", "rules"});
    int version = 0;
    if (!member(root_, "version").to_integer(version)) fail(path + ".version", "expected an integer");
    if (version == 1) {
      fail(path + ".version",
           "version 1 files (quantity, window, hour_between and percent_change conditions) are "
           "no longer read: version 2 names the columns of a schema (docs/rules-engine.md)");
    }
    if (version != 2) fail(path + ".version", "expected 2, got " + std::to_string(version));
    const Value& list = member(root_, "rules");
    if (!list.is(Kind::array)) fail(path + ".rules", "expected an array");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string rule_path = path + ".rules[" + std::to_string(i) + "]";
      const Value& rule = list.items()[i];
      require_object(rule, rule_path);
      require_keys(rule, rule_path, {"name", "severity", "weight", "when"}, {"name", "severity", "weight", "when"});
      const std::string name = string(member(rule, "name"), rule_path + ".name");
      if (name.empty()) fail(rule_path + ".name", "empty name");
      if (index_.contains(name)) fail(rule_path + ".name", "duplicate rule name '" + name + "'");
      index_.emplace(name, i);
      entries_.push_back({name, &rule, rule_path, State::unvisited, std::nullopt});
    }
    std::vector<Rule> rules;
    for (Entry& entry : entries_) {
      const Value& rule = *entry.json;
      const Severity level = severity(member(rule, "severity"), entry.path + ".severity");
      const double weight = number(member(rule, "weight"), entry.path + ".weight");
      if (weight < 0.0 || weight > 1.0) fail(entry.path + ".weight", "expected a number in [0, 1]");
      rules.push_back(Rule{entry.name, level, weight, condition_of(entry)});
    }
    return rules;
  }

 private:
  enum class State { unvisited, in_progress, done };
  struct Entry {
    std::string name;
    const Value* json;
    std::string path;
    State state;
    std::optional<rules::Condition> when;
  };

  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    raise<invalid_argument>("load_rules", path + ": " + what);
  }

  static void require_object(const Value& v, const std::string& path) {
    if (!v.is(Kind::object)) fail(path, "expected an object");
  }

  // A member require_keys has checked is there.
  static const Value& member(const Value& v, std::string_view key) { return *v.find(key); }

  // Every key must be allowed and appear once; required keys must be present.
  static void require_keys(const Value& v, const std::string& path, std::initializer_list<std::string_view> allowed,
                           std::initializer_list<std::string_view> required) {
    std::vector<std::string_view> seen;
    for (const std::string& name : v.keys()) {
      const std::string_view key = name;
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        fail(path + "." + std::string(key), "unknown key");
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        fail(path + "." + std::string(key), "duplicate key");
      }
      seen.push_back(key);
    }
    for (const std::string_view key : required) {
      if (std::find(seen.begin(), seen.end(), key) == seen.end()) fail(path + "." + std::string(key), "missing");
    }
  }

  static std::string string(const Value& v, const std::string& path) {
    if (!v.is(Kind::string)) fail(path, "expected a string");
    return v.text();
  }

  static double number(const Value& v, const std::string& path) {
    double value = 0.0;
    if (!v.to_double(value) || !std::isfinite(value)) fail(path, "expected a finite number");
    return value;
  }

  template <class Enum, std::size_t N>
  static Enum choice(const Value& v, const std::string& path, const std::array<std::string_view, N>& names) {
    const std::string text = string(v, path);
    for (std::size_t i = 0; i < N; ++i) {
      if (names[i] == text) return static_cast<Enum>(i);
    }
    std::string expected;
    for (std::size_t i = 0; i < N; ++i) expected += (i == 0 ? "" : ", ") + std::string(names[i]);
    fail(path, "unknown value '" + text + "' (expected one of " + expected + ")");
  }

  static Severity severity(const Value& v, const std::string& path) {
    return choice<Severity>(v, path, std::array<std::string_view, 4>{"low", "medium", "high", "critical"});
  }
  static rules::Op op(const Value& v, const std::string& path) { return choice<rules::Op>(v, path, rules::op_names); }

  // The column named at `path`, checked against the schema.
  const Column& column(const Value& v, const std::string& path) const {
    const std::string name = string(v, path);
    const Index index = schema_.find(name);
    if (index < 0) {
      std::string known;
      for (const Column& c : schema_) known += (known.empty() ? "" : ", ") + c.name;
      fail(path, "unknown column '" + name + "' (known columns: " + known + ")");
    }
    return schema_[index];
  }

  static void require_ordered(const Column& c, const std::string& path) {
    if (c.kind == ColumnKind::categorical) {
      fail(path, "column '" + c.name + "' is categorical; compare it with ==, != or in");
    }
  }

  rules::Condition condition_of(Entry& entry) {
    if (entry.state == State::done) return *entry.when;
    entry.state = State::in_progress;
    entry.when = condition(member(*entry.json, "when"), entry.path + ".when");
    entry.state = State::done;
    return *entry.when;
  }

  rules::Condition condition(const Value& v, const std::string& path) {
    require_object(v, path);
    if (v.find("column")) return leaf(v, path);
    if (v.size() != 1) fail(path, "a condition is a column test or has exactly one key: all, any, not or rule");
    const std::string& kind = v.keys().front();
    const Value& body = v.items().front();
    const std::string at = path + "." + kind;
    if (kind == "all" || kind == "any") {
      if (!body.is(Kind::array) || body.size() == 0) fail(at, "expected a non-empty array of conditions");
      std::vector<rules::Condition> children;
      for (std::size_t i = 0; i < body.size(); ++i) {
        children.push_back(condition(body.items()[i], at + "[" + std::to_string(i) + "]"));
      }
      return kind == "all" ? rules::all_of(std::move(children)) : rules::any_of(std::move(children));
    }
    if (kind == "not") return !condition(body, at);
    if (kind == "rule") {
      const std::string name = string(body, at);
      const auto found = index_.find(name);
      if (found == index_.end()) fail(at, "no rule named '" + name + "'");
      Entry& target = entries_[found->second];
      if (target.state == State::in_progress) fail(at, "rule reference cycle through '" + name + "'");
      return condition_of(target);
    }
    fail(at, "unknown condition kind (expected column, all, any, not or rule)");
  }

  rules::Condition leaf(const Value& v, const std::string& path) {
    const Column& c = column(member(v, "column"), path + ".column");
    const rules::ColumnRef ref = rules::column(c.name);
    if (v.find("between")) {
      require_keys(v, path, {"column", "between"}, {"column", "between"});
      const Value& range = member(v, "between");
      if (!range.is(Kind::array) || range.size() != 2) fail(path + ".between", "expected [from, to]");
      require_ordered(c, path + ".column");
      const double from = number(range.items()[0], path + ".between[0]");
      const double to = number(range.items()[1], path + ".between[1]");
      if (from == to) fail(path + ".between", "empty interval");
      return ref.between(from, to);
    }
    if (v.find("in")) {
      require_keys(v, path, {"column", "in"}, {"column", "in"});
      const Value& codes = member(v, "in");
      if (!codes.is(Kind::array) || codes.size() == 0) fail(path + ".in", "expected a non-empty array of codes");
      if (c.kind != ColumnKind::categorical) {
        fail(path + ".column", "column '" + c.name + "' is " + std::string(to_string(c.kind)) +
                                   "; membership (in) needs a categorical column");
      }
      std::vector<double> values;
      for (std::size_t i = 0; i < codes.size(); ++i) {
        values.push_back(number(codes.items()[i], path + ".in[" + std::to_string(i) + "]"));
      }
      return ref.in(std::move(values));
    }
    if (v.find("other")) {
      require_keys(v, path, {"column", "op", "other"}, {"column", "op", "other"});
      const rules::Op relation = op(member(v, "op"), path + ".op");
      const Column& other = column(member(v, "other"), path + ".other");
      if (rules::is_ordering(relation)) {
        require_ordered(c, path + ".column");
        require_ordered(other, path + ".other");
      }
      return ref.compare(relation, rules::column(other.name));
    }
    require_keys(v, path, {"column", "op", "value"}, {"column", "op", "value"});
    const rules::Op relation = op(member(v, "op"), path + ".op");
    if (rules::is_ordering(relation)) require_ordered(c, path + ".column");
    return ref.compare(relation, number(member(v, "value"), path + ".value"));
  }

  const Value& root_;
  const Schema& schema_;
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<Entry> entries_;
};

}  // namespace detail::rule_config

namespace detail::rule_config {

// Shortest text that reads back as the same double.
inline std::string exact_number(double value) {
  std::array<char, 32> text{};
  for (int digits = 15; digits <= 17; ++digits) {
    const int written = std::snprintf(text.data(), text.size(), "%.*g", digits, value);
    if (std::strtod(text.data(), nullptr) == value || digits == 17) {
      return std::string(text.data(), static_cast<std::size_t>(written));
    }
  }
  return {};
}

inline std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      std::array<char, 8> escape{};
      std::snprintf(escape.data(), escape.size(), "\\u%04x", static_cast<unsigned>(c));
      out += escape.data();
    } else {
      out += c;
    }
  }
  return out + "\"";
}

inline std::string condition_json(const rules::Condition& condition) {
  namespace d = rules::detail;
  return std::visit(
      [](const auto& node) -> std::string {
        using Node = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<Node, d::Compare>) {
          return "{\"column\": " + json_string(node.column) + ", \"op\": \"" + std::string(rules::to_string(node.op)) +
                 "\", \"value\": " + exact_number(node.constant) + "}";
        } else if constexpr (std::is_same_v<Node, d::CompareColumns>) {
          return "{\"column\": " + json_string(node.column) + ", \"op\": \"" + std::string(rules::to_string(node.op)) +
                 "\", \"other\": " + json_string(node.other) + "}";
        } else if constexpr (std::is_same_v<Node, d::Between>) {
          return "{\"column\": " + json_string(node.column) + ", \"between\": [" + exact_number(node.from) + ", " +
                 exact_number(node.to) + "]}";
        } else if constexpr (std::is_same_v<Node, d::Member>) {
          std::string codes;
          for (const double code : node.codes) codes += (codes.empty() ? "" : ", ") + exact_number(code);
          return "{\"column\": " + json_string(node.column) + ", \"in\": [" + codes + "]}";
        } else if constexpr (std::is_same_v<Node, d::Not>) {
          return "{\"not\": " + condition_json(node.child.front()) + "}";
        } else {
          std::string children;
          for (const rules::Condition& child : node.children) {
            children += (children.empty() ? "" : ", ") + condition_json(child);
          }
          return std::string("{\"") + (std::is_same_v<Node, d::All> ? "all" : "any") + "\": [" + children + "]}";
        }
      },
      condition.node());
}

}  // namespace detail::rule_config

// The engine's rules as a version 2 rules file.
inline std::string save_rules(const RulesEngine& engine) {
  std::string text = "{\"version\": 2, \"rules\": [";
  for (std::size_t i = 0; i < engine.rules().size(); ++i) {
    const Rule& rule = engine.rule(i);
    text += std::string(i == 0 ? "\n" : ",\n") + "  {\"name\": " + detail::rule_config::json_string(rule.name) +
            ", \"severity\": \"" + std::string(to_string(rule.severity)) +
            "\", \"weight\": " + detail::rule_config::exact_number(rule.weight) +
            ", \"when\": " + detail::rule_config::condition_json(rule.when) + "}";
  }
  return text + "\n]}\n";
}

// Parses a rules file against `schema` (and its columns' phrases, for the
// engine's explanations); all or nothing.
inline RulesEngine load_rules(std::string_view text, const Schema& schema, const Phrasebook& phrasebook = {}) {
  detail::json::Value document;
  try {
    document = detail::json::parse(text);
  } catch (const data_error& failure) {
    detail::raise<invalid_argument>("load_rules", std::string("$: invalid ") + failure.what());
  }
  std::vector<Rule> rules = detail::rule_config::Parser(document, schema).parse();
  RulesEngine engine(schema, phrasebook);
  for (Rule& rule : rules) engine.add(std::move(rule));
  return engine;
}

template <DescribedColumns Columns>
RulesEngine load_rules(std::string_view text, const Columns& columns) {
  return load_rules(text, columns.schema(), columns.phrasebook());
}

// A file name would convert to both string_view and path, hence the name.
inline RulesEngine load_rules_file(const std::filesystem::path& path, const Schema& schema,
                                   const Phrasebook& phrasebook = {}) {
  std::ifstream in(path, std::ios::binary);
  if (!in) detail::raise<invalid_argument>("load_rules_file", "cannot open '" + path.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return load_rules(std::string_view(text.str()), schema, phrasebook);
  } catch (const invalid_argument& failure) {
    throw invalid_argument(std::string(failure.what()) + " (in '" + path.string() + "')");
  }
}

template <DescribedColumns Columns>
RulesEngine load_rules_file(const std::filesystem::path& path, const Columns& columns) {
  return load_rules_file(path, columns.schema(), columns.phrasebook());
}

}  // namespace redflag
