#pragma once

// The IsolationForest options shared by `redflag fit iforest` and
// `redflag eval iforest`: their names, their help text, their parsing into
// Params, and fitting the forest they describe (IsolationForest, or
// ExtendedIsolationForest with --extension). Ranges are the library's own
// (validate_params); this file only maps them to options.

#include "command.hpp"
#include "forest_input.hpp"

#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/io/csv.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace redflag::cli {

template <Scalar T>
using Forest = IsolationForest<T>;
template <Scalar T>
using ExtendedForest = ExtendedIsolationForest<T>;

inline constexpr std::string_view iforest_model_name = "iforest";

// Declares the options below on `app`, with their help.
inline void add_iforest_options(CLI::App& app) {
  add_value_option(app, "trees", "N", "trees (n_estimators), >= 1; default 100");
  add_value_option(app, "max-samples", "S",
                   "rows per tree: auto (min(256, n)), a count >= 2 (clipped\n"
                   "to n) or a fraction in (0, 1] written with a '.' like 0.5;\n"
                   "default auto");
  add_value_option(app, "contamination", "C",
                   "auto (threshold 0.5) or the share of training rows flagged,\n"
                   "in (0, 0.5]; default auto");
  add_value_option(app, "max-features", "F",
                   "columns per tree: a count in [1, d] or a fraction in (0, 1]\n"
                   "written with a '.' (1 is one column, 1.0 all); default 1.0");
  add_value_option(app, "extension", "L",
                   "fit an Extended Isolation Forest (hyperplane splits) with\n"
                   "extension level L: an integer in [0, columns per tree - 1],\n"
                   "or auto for fully extended; default: axis-parallel splits");
  add_value_option(app, "seed", "S", "random_state, an integer >= 0; default 0");
  add_value_option(app, "threads", "T",
                   "threads (n_jobs), -1 for all cores; default 1. Results do not\n"
                   "depend on it");
  add_value_option(app, "missing", "M",
                   "rows with missing values (empty cells, nan): reject\n"
                   "(default: an error) or route (fitted and scored)");
  add_value_option(app, "categorical", "COLS",
                   "comma-separated columns holding category codes (whole\n"
                   "numbers >= 0), split by category subsets; not with --extension");
  add_value_option(app, "dtype", "TYPE", dtype_help);
}

// What the options ask for, for a forest computing in T. `params` holds
// everything but the split policy.
template <Scalar T>
struct IforestSettings {
  typename Forest<T>::Params params;
  bool extended = false;  // --extension given
  std::variant<Auto, Index> extension_level = Auto{};
  std::vector<std::string> categorical;  // --categorical, in the order given

  // The extension level as typed ("1", "auto"), for reports.
  [[nodiscard]] std::string extension_text() const {
    const auto* level = std::get_if<Index>(&extension_level);
    return level == nullptr ? std::string("auto") : std::to_string(*level);
  }

  [[nodiscard]] typename ExtendedForest<T>::Params extended_params() const {
    typename ExtendedForest<T>::Params result;
    result.n_estimators = params.n_estimators;
    result.max_samples = params.max_samples;
    result.contamination = params.contamination;
    result.max_features = params.max_features;
    result.bootstrap = params.bootstrap;
    result.random_state = params.random_state;
    result.n_jobs = params.n_jobs;
    result.missing = params.missing;
    result.split.extension_level = extension_level;
    return result;
  }
};

namespace iforest_options {

// Library parameter -> the option that sets it, so a range error from
// validate_params or fit names what the user typed.
inline constexpr std::array<ParameterOption, 6> option_of_parameter = {{
    {"n_estimators", "trees"},
    {"max_samples", "max-samples"},
    {"contamination", "contamination"},
    {"max_features", "max-features"},
    {"n_jobs", "threads"},
    {"extension_level", "extension"},
}};

// "a,b" -> {"a", "b"}; empty or repeated names are usage errors.
inline std::vector<std::string> parse_column_list(const std::string& text, const std::string& command,
                                                  const std::string& option) {
  std::vector<std::string> names;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = text.find(',', begin);
    std::string name = text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    if (name.empty()) option_error(command, option, text, "comma-separated column names");
    for (const auto& seen : names) {
      if (seen == name) {
        throw invalid_argument("redflag " + command + ": --" + option + " lists '" + name + "' twice");
      }
    }
    names.push_back(std::move(name));
    if (comma == std::string::npos) return names;
    begin = comma + 1;
  }
}

}  // namespace iforest_options

// Reads the options and checks them against the library's ranges; throws
// invalid_argument naming the option. Checks that need the data
// (max_features <= d, the extension level, enough rows for a fraction)
// happen in fit_iforest.
template <Scalar T>
IforestSettings<T> parse_iforest_settings(const Arguments& parsed, const std::string& command) {
  IforestSettings<T> settings;
  typename Forest<T>::Params& params = settings.params;
  if (parsed.has("trees")) {
    params.n_estimators = parse_number<Index>(parsed.value("trees"), command, "trees", "an integer >= 1");
  }
  if (parsed.has("max-samples")) {
    const std::string text = parsed.value("max-samples");
    const std::string expected = "auto, a count >= 2 or a fraction in (0, 1] like 0.5";
    if (text == "auto") {
      params.max_samples = Auto{};
    } else if (text.find('.') != std::string::npos) {
      params.max_samples = parse_number<double>(text, command, "max-samples", expected);
    } else {
      params.max_samples = parse_number<Index>(text, command, "max-samples", expected);
    }
  }
  if (parsed.has("contamination")) {
    const std::string text = parsed.value("contamination");
    if (text == "auto") {
      params.contamination = Auto{};
    } else {
      params.contamination = parse_number<double>(text, command, "contamination", "auto or a fraction in (0, 0.5]");
    }
  }
  if (parsed.has("max-features")) {
    const std::string text = parsed.value("max-features");
    const std::string expected = "a count >= 1 or a fraction in (0, 1] like 0.5";
    if (text.find('.') != std::string::npos) {
      params.max_features = parse_number<double>(text, command, "max-features", expected);
    } else {
      params.max_features = parse_number<Index>(text, command, "max-features", expected);
    }
  }
  if (parsed.has("extension")) {
    settings.extended = true;
    const std::string text = parsed.value("extension");
    if (text != "auto") {
      settings.extension_level = parse_number<Index>(text, command, "extension", "auto or an integer level >= 0");
    }
  }
  if (parsed.has("seed")) {
    params.random_state = parse_number<std::uint64_t>(parsed.value("seed"), command, "seed", "an integer in [0, 2^64)");
  }
  if (parsed.has("threads")) {
    params.n_jobs = parse_number<int>(parsed.value("threads"), command, "threads", "a non-zero integer");
  }
  if (parsed.has("missing")) {
    const std::string text = parsed.value("missing");
    if (text == "reject") {
      params.missing = MissingPolicy::reject;
    } else if (text == "route") {
      params.missing = MissingPolicy::route;
    } else {
      option_error(command, "missing", text, "reject or route");
    }
  }
  if (parsed.has("categorical")) {
    settings.categorical = iforest_options::parse_column_list(parsed.value("categorical"), command, "categorical");
    if (settings.extended) {
      throw invalid_argument("redflag " + command +
                             ": --categorical cannot be combined with --extension (hyperplane splits need "
                             "numeric columns)");
    }
  }
  try {
    if (settings.extended) {
      ExtendedForest<T>::validate_params(settings.extended_params(), "ExtendedIsolationForest::fit");
    } else {
      Forest<T>::validate_params(params, "IsolationForest::fit");
    }
    resolve_n_jobs(params.n_jobs, "IsolationForest::fit");
  } catch (const invalid_argument& failure) {
    rethrow_naming_option(failure, parsed, command, {Forest<T>::model_type, ExtendedForest<T>::model_type},
                          iforest_options::option_of_parameter);
  }
  return settings;
}

// Reads DATA.csv for fit / eval: missing cells are read as NaN and checked
// against --missing, the --categorical columns get their kind and are
// checked for whole codes. `csv` selects the columns (label, drop).
template <Scalar T>
CsvTable<T> read_iforest_data(const std::filesystem::path& path, CsvOptions csv, const IforestSettings<T>& settings,
                              const std::string& command) {
  csv.allow_non_finite = true;
  CsvTable<T> table = read_csv<T>(path, csv);
  std::vector<Column> columns = table.schema.columns();
  for (const std::string& name : settings.categorical) {
    const Index at = table.schema.find(name);
    if (at < 0) {
      if (name == csv.label_column || std::find(csv.drop.begin(), csv.drop.end(), name) != csv.drop.end()) {
        throw invalid_argument("redflag " + command + ": --categorical names '" + name +
                               "', the label column, which is not a feature");
      }
      throw data_error("redflag " + command + ": --categorical names '" + name + "', which is not a column of " +
                       path.string() + " (columns: " + table.schema.describe() + ")");
    }
    columns[static_cast<std::size_t>(at)].kind = ColumnKind::categorical;
  }
  table.schema = Schema(std::move(columns));
  check_forest_input(table.values, table.schema, settings.params.missing, path, command,
                     "use --missing route to accept missing values");
  return table;
}

namespace iforest_options {

template <class Model>
Model fit_model(const typename Model::Params& params, const MatrixRef<typename Model::scalar_type>& X,
                const Schema& schema, const Arguments& parsed, const std::string& command) {
  Model forest(params);
  try {
    forest.fit(X, schema);
  } catch (const invalid_argument& failure) {
    rethrow_naming_option(failure, parsed, command, {Model::model_type}, option_of_parameter);
  }
  return forest;
}

}  // namespace iforest_options

// Fits the forest the settings describe and passes it to `use` (a generic
// callable taking the fitted IsolationForest or ExtendedIsolationForest);
// range errors that depend on the data name the option too. Returns what
// `use` returns.
template <Scalar T, class Use>
auto fit_iforest(const IforestSettings<T>& settings, const MatrixRef<T>& X, const Schema& schema,
                 const Arguments& parsed, const std::string& command, Use&& use) {
  if (settings.extended) {
    return use(iforest_options::fit_model<ExtendedForest<T>>(settings.extended_params(), X, schema, parsed, command));
  }
  return use(iforest_options::fit_model<Forest<T>>(settings.params, X, schema, parsed, command));
}

}  // namespace redflag::cli
