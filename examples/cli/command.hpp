#pragma once

// What a subcommand of the `redflag` tool provides, and the view of its
// parsed command line (CLI11) that the commands share.

#include <redflag/core/error.hpp>

#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag::cli {

// Runs a command once its command line is parsed; returns the exit status.
using Action = std::function<int(std::ostream& out)>;

struct Command {
  std::string name;
  std::string summary;  // one line for `redflag --help`
  // Declares the command's options and subcommands on `app` (the tool's
  // subcommand `name`, whose --help CLI11 writes from them) and returns its
  // action, bound to `app`'s parsed values.
  std::function<Action(CLI::App& app)> define;
};

// Declares a --NAME option taking one value, shown as `--NAME VALUE` in the
// help. Values are kept as typed: the commands check them and say what they
// expected (CLI11's type checks would name a C++ type instead).
inline CLI::Option* add_value_option(CLI::App& app, const std::string& name, const std::string& value,
                                     const std::string& description) {
  return app.add_option("--" + name, description)->option_text(value)->type_name(value);
}

// The --name options and positional arguments of one parsed (sub)command.
// Unknown options and stray arguments (CLI11 keeps them as extras: see main)
// are errors that name the option.
class Arguments {
 public:
  Arguments(const CLI::App& app, std::string command) : app_(&app), command_(std::move(command)) {
    for (const std::string& extra : app.remaining()) {
      if (extra.starts_with("-")) fail("unknown option " + extra + " (see " + help_command() + ")");
    }
    for (const std::string& extra : app.remaining()) {
      fail("unexpected argument '" + extra + "' (see " + help_command() + ")");
    }
  }

  [[nodiscard]] bool has(const std::string& name) const { return app_->count("--" + name) > 0; }
  [[nodiscard]] std::string value(const std::string& name, const std::string& fallback = {}) const {
    return has(name) ? app_->get_option("--" + name)->as<std::string>() : fallback;
  }
  [[nodiscard]] std::string required(const std::string& name) const {
    if (!has(name)) fail("missing required option --" + name);
    return value(name);
  }
  [[nodiscard]] double number(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    const std::string text = value(name);
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
  // A positional argument declared with app.add_option(name, ...).
  [[nodiscard]] std::string positional(const std::string& name) const {
    return app_->get_option(name)->as<std::string>();
  }

 private:
  [[nodiscard]] std::string help_command() const {
    std::string path = app_->get_name();
    for (const CLI::App* parent = app_->get_parent(); parent != nullptr; parent = parent->get_parent()) {
      path = parent->get_name() + " " + path;
    }
    return path + " --help";
  }

  [[noreturn]] void fail(const std::string& what) const { throw invalid_argument("redflag " + command_ + ": " + what); }

  const CLI::App* app_;
  std::string command_;
};

// fit and eval without a known model subcommand: names the unknown model the
// first argument gives (CLI11 keeps it as an extra), or asks for one.
[[noreturn]] inline void fail_unknown_model(const CLI::App& app, const std::string& supported) {
  const std::vector<std::string> extras = app.remaining();
  for (std::size_t i = 0; i < extras.size(); ++i) {
    if (extras[i].starts_with("-")) {
      ++i;  // every option of fit and eval takes a value
      continue;
    }
    throw invalid_argument("redflag " + app.get_name() + ": unknown model '" + extras[i] +
                           "' (supported: " + supported + ")");
  }
  throw invalid_argument("redflag " + app.get_name() + ": expected a model name (" + supported +
                         ") and one CSV file (see redflag " + app.get_name() + " --help)");
}

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

// --dtype float32|float64 (default float64): the scalar the forests compute
// in. float32 compares like for like with scikit-learn, whose forests
// compute in float32.
inline constexpr const char* dtype_help =
    "float64 (default) or float32, the scalar the model computes in\n"
    "(scikit-learn's forests use float32)";

inline bool float32_requested(const Arguments& parsed, const std::string& command) {
  const std::string text = parsed.value("dtype", "float64");
  if (text != "float32" && text != "float64") option_error(command, "dtype", text, "float32 or float64");
  return text == "float32";
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
    const std::string prefix = "redflag::" + std::string(model) + "::fit: ";  // the library's message prefix
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
