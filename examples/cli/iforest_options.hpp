#pragma once

// The IsolationForest options shared by `redflag fit iforest` and
// `redflag eval iforest`: their names, their help text, and their parsing
// into IsolationForest<double>::Params. Ranges are the library's own
// (IsolationForest::validate_params); this file only maps them to options.

#include "command.hpp"

#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/forest/isolation_forest.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace redflag::cli {

using Forest = IsolationForest<double>;

inline constexpr std::string_view iforest_model_name = "iforest";

// Help text for the options below, indented for a usage block.
inline constexpr const char* iforest_options_help =
    "  --trees N             trees (n_estimators), >= 1; default 100\n"
    "  --max-samples S       rows per tree: auto (min(256, n)), a count >= 2 (clipped\n"
    "                        to n) or a fraction in (0, 1] written with a '.' like 0.5;\n"
    "                        default auto\n"
    "  --contamination C     auto (threshold 0.5) or the share of training rows flagged,\n"
    "                        in (0, 0.5]; default auto\n"
    "  --max-features F      columns per tree: a count in [1, d] or a fraction in (0, 1]\n"
    "                        written with a '.' (1 is one column, 1.0 all); default 1.0\n"
    "  --seed S              random_state, an integer >= 0; default 0\n"
    "  --threads T           threads (n_jobs), -1 for all cores; default 1. Results do not\n"
    "                        depend on it\n";

namespace detail_iforest {

// Library parameter -> the option that sets it, so a range error from
// validate_params or fit names what the user typed.
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 5> option_of_parameter = {{
    {"n_estimators", "trees"},
    {"max_samples", "max-samples"},
    {"contamination", "contamination"},
    {"max_features", "max-features"},
    {"n_jobs", "threads"},
}};

[[noreturn]] inline void fail(const std::string& command, const std::string& option, const std::string& text,
                              const std::string& expected) {
  throw invalid_argument("redflag " + command + ": --" + option + " expects " + expected + ", got '" + text + "'");
}

template <class Integer>
Integer parse_integer(const std::string& text, const std::string& command, const std::string& option,
                      const std::string& expected) {
  Integer value{};
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end) fail(command, option, text, expected);
  return value;
}

inline double parse_fraction(const std::string& text, const std::string& command, const std::string& option,
                             const std::string& expected) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end) fail(command, option, text, expected);
  return value;
}

// "redflag::IsolationForest::fit: max_features must be ..." becomes
// "redflag fit: --max-features 30: max_features must be ...". Errors that
// name no parameter are rethrown unchanged.
[[noreturn]] inline void rethrow_naming_option(const invalid_argument& failure, const Arguments& parsed,
                                               const std::string& command) {
  std::string what = failure.what();
  const std::string prefix = redflag::detail::message("IsolationForest::fit", "");
  if (what.starts_with(prefix)) what.erase(0, prefix.size());
  for (const auto& [parameter, option] : option_of_parameter) {
    if (what.starts_with(parameter) && what.size() > parameter.size() && what[parameter.size()] == ' ') {
      const std::string name(option);
      throw invalid_argument("redflag " + command + ": --" + name + " " + parsed.value(name, "(default)") +
                             ": " + what);
    }
  }
  throw failure;
}

}  // namespace detail_iforest

// Value options of the IsolationForest, for Arguments.
inline std::set<std::string> iforest_option_names() {
  return {"trees", "max-samples", "contamination", "max-features", "seed", "threads"};
}

// Reads the options into Params and checks them against the library's
// ranges; throws invalid_argument naming the option. Checks that need the
// data (max_features <= d, enough rows for a fraction) happen in fit_iforest.
inline Forest::Params parse_iforest_params(const Arguments& parsed, const std::string& command) {
  using detail_iforest::parse_fraction;
  using detail_iforest::parse_integer;
  Forest::Params params;
  if (parsed.has("trees")) {
    params.n_estimators = parse_integer<Index>(parsed.value("trees"), command, "trees", "an integer >= 1");
  }
  if (parsed.has("max-samples")) {
    const std::string text = parsed.value("max-samples");
    const std::string expected = "auto, a count >= 2 or a fraction in (0, 1] like 0.5";
    if (text == "auto") {
      params.max_samples = Auto{};
    } else if (text.find('.') != std::string::npos) {
      params.max_samples = parse_fraction(text, command, "max-samples", expected);
    } else {
      params.max_samples = parse_integer<Index>(text, command, "max-samples", expected);
    }
  }
  if (parsed.has("contamination")) {
    const std::string text = parsed.value("contamination");
    if (text == "auto") {
      params.contamination = Auto{};
    } else {
      params.contamination = parse_fraction(text, command, "contamination", "auto or a fraction in (0, 0.5]");
    }
  }
  if (parsed.has("max-features")) {
    const std::string text = parsed.value("max-features");
    const std::string expected = "a count >= 1 or a fraction in (0, 1] like 0.5";
    if (text.find('.') != std::string::npos) {
      params.max_features = parse_fraction(text, command, "max-features", expected);
    } else {
      params.max_features = parse_integer<Index>(text, command, "max-features", expected);
    }
  }
  if (parsed.has("seed")) {
    params.random_state =
        parse_integer<std::uint64_t>(parsed.value("seed"), command, "seed", "an integer in [0, 2^64)");
  }
  if (parsed.has("threads")) {
    params.n_jobs = parse_integer<int>(parsed.value("threads"), command, "threads", "a non-zero integer");
  }
  try {
    Forest::validate_params(params, "IsolationForest::fit");
    resolve_n_jobs(params.n_jobs, "IsolationForest::fit");
  } catch (const invalid_argument& failure) {
    detail_iforest::rethrow_naming_option(failure, parsed, command);
  }
  return params;
}

// Fits a forest; range errors that depend on the data name the option too.
inline Forest fit_iforest(const Forest::Params& params, const MatrixRef<double>& X, const Schema& schema,
                          const Arguments& parsed, const std::string& command) {
  Forest forest(params);
  try {
    forest.fit(X, schema);
  } catch (const invalid_argument& failure) {
    detail_iforest::rethrow_naming_option(failure, parsed, command);
  }
  return forest;
}

// The model argument of fit/eval: only "iforest" so far.
inline void require_iforest(const std::string& model, const std::string& command) {
  if (model != iforest_model_name) {
    throw invalid_argument("redflag " + command + ": unknown model '" + model + "' (supported: iforest)");
  }
}

}  // namespace redflag::cli
