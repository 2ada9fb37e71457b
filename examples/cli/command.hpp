#pragma once

// What a subcommand of the `redflag` tool provides, and the small argument
// parser they share.

#include <redflag/core/error.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <map>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag::cli {

struct Command {
  std::string name;
  std::string summary;  // one line for `redflag --help`
  std::string usage;    // full text for `redflag <name> --help`
  std::function<int(const std::vector<std::string>& arguments, std::ostream& out)> run;
};

// --name value options and positional arguments. Unknown options and
// missing values are errors that name the option.
class Arguments {
 public:
  Arguments(const std::vector<std::string>& arguments, const std::set<std::string>& value_options,
            const std::set<std::string>& flag_options, std::string command)
      : command_(std::move(command)) {
    for (std::size_t i = 0; i < arguments.size(); ++i) {
      const std::string& argument = arguments[i];
      if (argument.size() > 2 && argument.starts_with("--")) {
        const std::string name = argument.substr(2);
        if (flag_options.contains(name)) {
          flags_.insert(name);
        } else if (value_options.contains(name)) {
          if (i + 1 >= arguments.size()) fail("option --" + name + " needs a value");
          values_[name] = arguments[++i];
        } else {
          fail("unknown option " + argument + " (see redflag " + command_ + " --help)");
        }
      } else {
        positionals_.push_back(argument);
      }
    }
  }

  [[nodiscard]] bool flag(const std::string& name) const { return flags_.contains(name); }
  [[nodiscard]] bool has(const std::string& name) const { return values_.contains(name); }
  [[nodiscard]] std::string value(const std::string& name, const std::string& fallback = {}) const {
    const auto found = values_.find(name);
    return found == values_.end() ? fallback : found->second;
  }
  [[nodiscard]] std::string required(const std::string& name) const {
    if (!has(name)) fail("missing required option --" + name);
    return value(name);
  }
  [[nodiscard]] double number(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    const std::string& text = values_.at(name);
    std::size_t parsed = 0;
    double result = 0;
    try {
      result = std::stod(text, &parsed);
    } catch (const std::exception&) {
      parsed = 0;
    }
    if (parsed != text.size()) fail("option --" + name + " expects a number, got '" + text + "'");
    return result;
  }
  [[nodiscard]] const std::vector<std::string>& positionals() const { return positionals_; }
  void require_positionals(std::size_t count, const std::string& what) const {
    if (positionals_.size() != count) {
      fail("expected " + what + ", got " + std::to_string(positionals_.size()) + " arguments");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw invalid_argument("redflag " + command_ + ": " + what);
  }

  std::string command_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positionals_;
};

// Wall-clock timing printed by commands ("read: 12.3 ms"), so researchers
// can compare runs without a profiler.
class Stopwatch {
 public:
  [[nodiscard]] double milliseconds() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }
  void restart() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

inline std::string format_milliseconds(double milliseconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", milliseconds);
  return text;
}

// "redflag fit: --trees expects an integer >= 1, got 'x'".
[[noreturn]] inline void option_error(const std::string& command, const std::string& option, const std::string& text,
                                      const std::string& expected) {
  throw invalid_argument("redflag " + command + ": --" + option + " expects " + expected + ", got '" + text + "'");
}

// The whole of `text` as a Number (an integer type or double), else option_error.
template <class Number>
Number parse_number(const std::string& text, const std::string& command, const std::string& option,
                    const std::string& expected) {
  Number value{};
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end) option_error(command, option, text, expected);
  return value;
}

// A model parameter and the command-line option that sets it.
using ParameterOption = std::pair<std::string_view, std::string_view>;

// "redflag::IsolationForest::fit: max_features must be ..." becomes
// "redflag fit: --max-features 30: max_features must be ..." for the
// parameters in `options`; other errors are rethrown unchanged.
[[noreturn]] inline void rethrow_naming_option(const invalid_argument& failure, const Arguments& parsed,
                                               const std::string& command,
                                               std::initializer_list<std::string_view> model_types,
                                               std::span<const ParameterOption> options) {
  std::string what = failure.what();
  for (const std::string_view model : model_types) {
    const std::string prefix = redflag::detail::message(std::string(model) + "::fit", "");
    if (what.starts_with(prefix)) what.erase(0, prefix.size());
  }
  for (const auto& [parameter, option] : options) {
    if (what.starts_with(parameter) && what.size() > parameter.size() && what[parameter.size()] == ' ') {
      const std::string name(option);
      throw invalid_argument("redflag " + command + ": --" + name + " " + parsed.value(name, "(default)") + ": " +
                             what);
    }
  }
  throw failure;
}

}  // namespace redflag::cli
