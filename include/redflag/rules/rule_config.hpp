#pragma once

// Rules from a JSON configuration, so operators change thresholds without
// recompiling. The format (docs/rules-engine.md has the full reference):
//
//   {"version": 1,
//    "rules": [
//      {"name": "HIGH_AMOUNT", "severity": "high", "weight": 0.5,
//       "when": {"quantity": {"name": "amount", "op": ">", "value": 10000}}},
//      {"name": "VELOCITY_MULTI_CITY", "severity": "critical", "weight": 0.7,
//       "when": {"all": [
//         {"window": {"aggregate": "count", "seconds": 60, "op": ">", "value": 3}},
//         {"window": {"aggregate": "distinct_cities", "seconds": 60, "op": ">=", "value": 2}}]}},
//      {"name": "NIGHT_JUMP", "severity": "medium", "weight": 0.3,
//       "when": {"all": [{"rule": "UNUSUAL_HOUR"},
//                        {"percent_change": {"baseline": "mean_amount", "op": ">", "value": 300}}]}}]}
//
// A condition is an object with exactly one key: quantity, window,
// hour_between, percent_change, all, any, not, or rule (the condition of
// another rule in the same file, by name). Anything malformed — invalid
// JSON, an unknown key or kind, a wrong type, a non-finite number, a
// duplicate rule name, an unknown or cyclic rule reference — rejects the
// whole configuration with invalid_argument naming the JSON path
// ("$.rules[1].when.all[0].window.seconds: expected a positive number").

#include <redflag/core/detail/json.hpp>
#include <redflag/core/error.hpp>
#include <redflag/rules/rules_engine.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace redflag {

namespace detail::rule_config {

using json::Kind;
using json::Value;

class Parser {
 public:
  explicit Parser(const Value& root) : root_(root) {}

  RulesEngine parse() {
    const std::string path = "$";
    require_object(root_, path);
    require_keys(root_, path, {"version", "rules"}, {"rules"});
    if (const Value* version = root_.find("version")) {
      int number = 0;
      if (!version->to_integer(number) || number != 1) fail(path + ".version", "expected 1");
    }
    const Value& rules = member(root_, "rules");
    if (!rules.is(Kind::array)) fail(path + ".rules", "expected an array");
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const std::string rule_path = path + ".rules[" + std::to_string(i) + "]";
      const Value& rule = rules.items()[i];
      require_object(rule, rule_path);
      require_keys(rule, rule_path, {"name", "severity", "weight", "when"}, {"name", "severity", "weight", "when"});
      const std::string name = string(member(rule, "name"), rule_path + ".name");
      if (name.empty()) fail(rule_path + ".name", "empty name");
      if (index_.contains(name)) fail(rule_path + ".name", "duplicate rule name '" + name + "'");
      index_.emplace(name, i);
      entries_.push_back({name, &rule, rule_path, State::unvisited, std::nullopt});
    }
    RulesEngine engine;
    for (Entry& entry : entries_) {
      const Value& rule = *entry.json;
      const Severity level = severity(member(rule, "severity"), entry.path + ".severity");
      const double weight = number(member(rule, "weight"), entry.path + ".weight");
      if (weight < 0.0 || weight > 1.0) fail(entry.path + ".weight", "expected a number in [0, 1]");
      engine.add(Rule{entry.name, level, weight, condition_of(entry)});
    }
    return engine;
  }

 private:
  enum class State { unvisited, in_progress, done };
  struct Entry {
    std::string name;
    const Value* json;
    std::string path;
    State state;
    std::optional<rules::Predicate> when;
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

  static int integer(const Value& v, const std::string& path) {
    int value = 0;
    if (!v.to_integer(value)) fail(path, "expected an integer");
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
  static rules::Compare op(const Value& v, const std::string& path) {
    return choice<rules::Compare>(v, path, std::array<std::string_view, 4>{">", ">=", "<", "<="});
  }

  rules::Predicate condition_of(Entry& entry) {
    if (entry.state == State::done) return *entry.when;
    entry.state = State::in_progress;
    entry.when = condition(member(*entry.json, "when"), entry.path + ".when");
    entry.state = State::done;
    return *entry.when;
  }

  rules::Predicate condition(const Value& v, const std::string& path) {
    require_object(v, path);
    if (v.size() != 1) fail(path, "a condition has exactly one key (its kind)");
    const std::string& kind = v.keys().front();
    const Value& body = v.items().front();
    const std::string at = path + "." + kind;
    using namespace std::chrono;
    if (kind == "quantity") {
      require_object(body, at);
      require_keys(body, at, {"name", "op", "value"}, {"name", "op", "value"});
      const auto q = choice<rules::Quantity>(member(body, "name"), at + ".name",
                                             std::array<std::string_view, 4>{"amount", "amount_to_mean", "event_count",
                                                                             "seconds_since_last"});
      return rules::quantity(q).make(op(member(body, "op"), at + ".op"), number(member(body, "value"), at + ".value"));
    }
    if (kind == "window") {
      require_object(body, at);
      require_keys(body, at, {"aggregate", "seconds", "op", "value"}, {"aggregate", "seconds", "op", "value"});
      const auto aggregate = choice<rules::Aggregate>(
          member(body, "aggregate"), at + ".aggregate",
          std::array<std::string_view, 5>{"count", "sum", "min", "max", "distinct_cities"});
      const double seconds = number(member(body, "seconds"), at + ".seconds");
      if (!(seconds > 0.0 && seconds <= 86'400.0 * 365)) fail(at + ".seconds", "expected a positive number of seconds");
      const auto length = milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
      if (length.count() <= 0) fail(at + ".seconds", "expected a positive number of seconds");
      return rules::window(aggregate, length).make(op(member(body, "op"), at + ".op"), number(member(body, "value"), at + ".value"));
    }
    if (kind == "hour_between") {
      require_object(body, at);
      require_keys(body, at, {"from", "to"}, {"from", "to"});
      const int from = integer(member(body, "from"), at + ".from");
      const int to = integer(member(body, "to"), at + ".to");
      if (from < 0 || from > 23) fail(at + ".from", "expected an hour in [0, 23]");
      if (to < 0 || to > 24 || to == from) fail(at + ".to", "expected an hour in [0, 24] other than from");
      return rules::local_hour_between(from, to);
    }
    if (kind == "percent_change") {
      require_object(body, at);
      require_keys(body, at, {"baseline", "op", "value"}, {"baseline", "op", "value"});
      const auto baseline = choice<rules::Baseline>(member(body, "baseline"), at + ".baseline",
                                                    std::array<std::string_view, 2>{"mean_amount", "previous_amount"});
      return rules::percent_change(baseline).make(op(member(body, "op"), at + ".op"), number(member(body, "value"), at + ".value"));
    }
    if (kind == "all" || kind == "any") {
      if (!body.is(Kind::array) || body.size() == 0) fail(at, "expected a non-empty array of conditions");
      std::vector<rules::Predicate> children;
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
    fail(path, "unknown condition kind '" + kind +
                   "' (expected quantity, window, hour_between, percent_change, all, any, not or rule)");
  }

  const Value& root_;
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<Entry> entries_;
};

}  // namespace detail::rule_config

// Parses a rules configuration; all or nothing.
inline RulesEngine load_rules(std::string_view text) {
  detail::json::Value document;
  try {
    document = detail::json::parse(text);
  } catch (const data_error& failure) {
    detail::raise<invalid_argument>("load_rules", std::string("$: invalid ") + failure.what());
  }
  return detail::rule_config::Parser(document).parse();
}

// A file name would convert to both string_view and path, hence the name.
inline RulesEngine load_rules_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) detail::raise<invalid_argument>("load_rules_file", "cannot open '" + path.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return load_rules(std::string_view(text.str()));
  } catch (const invalid_argument& failure) {
    throw invalid_argument(std::string(failure.what()) + " (in '" + path.string() + "')");
  }
}

}  // namespace redflag
