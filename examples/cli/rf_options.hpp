#pragma once

// The RandomForest options shared by `redflag fit rf` and `redflag eval rf`:
// names, help text, parsing into Params, reading the labelled CSV and
// fitting. Ranges are the library's own (validate_params); this file maps
// them to options.

#include "command.hpp"
#include "forest_input.hpp"

#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/io/csv.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace redflag::cli {

inline constexpr std::string_view rf_model_name = "rf";

// Declares the options below (--class-weight is each command's own: its
// default differs) on `app`, with their help.
inline void add_rf_options(CLI::App& app) {
  add_value_option(app, "trees", "N", "trees (n_estimators), >= 1; default 100");
  add_value_option(app, "max-depth", "D",
                   "deepest level of a tree, >= 1, or none (grow until pure);\n"
                   "default none");
  add_value_option(app, "seed", "S", "random_state, an integer >= 0; default 0");
  add_value_option(app, "threads", "T",
                   "threads (n_jobs), -1 for all cores; default 1. Results do not\n"
                   "depend on it");
  add_value_option(app, "dtype", "TYPE", dtype_help);
}

namespace rf_options {

inline constexpr std::array<ParameterOption, 4> option_of_parameter = {{
    {"n_estimators", "trees"},
    {"max_depth", "max-depth"},
    {"class_weight", "class-weight"},
    {"n_jobs", "threads"},
}};

}  // namespace rf_options

inline std::string class_weight_text(const std::variant<ClassWeight, std::map<Label, double>>& class_weight) {
  const auto* kind = std::get_if<ClassWeight>(&class_weight);
  if (kind == nullptr) return "map";
  switch (*kind) {
    case ClassWeight::balanced: return "balanced";
    case ClassWeight::balanced_subsample: return "balanced_subsample";
    case ClassWeight::none: break;
  }
  return "none";
}

// Reads the options (--class-weight defaults to `default_weight`) and checks
// them against the library's ranges; throws invalid_argument naming the option.
template <Scalar T>
typename RandomForest<T>::Params parse_rf_params(const Arguments& parsed, const std::string& command,
                                                 ClassWeight default_weight) {
  typename RandomForest<T>::Params params;
  params.class_weight = default_weight;
  if (parsed.has("trees"))
    params.n_estimators = parse_number<Index>(parsed.value("trees"), command, "trees", "an integer >= 1");
  if (parsed.has("max-depth") && parsed.value("max-depth") != "none") {
    params.max_depth = parse_number<Index>(parsed.value("max-depth"), command, "max-depth", "none or an integer >= 1");
  }
  if (parsed.has("class-weight")) {
    const std::string text = parsed.value("class-weight");
    if (text == "none") {
      params.class_weight = ClassWeight::none;
    } else if (text == "balanced") {
      params.class_weight = ClassWeight::balanced;
    } else if (text == "balanced_subsample") {
      params.class_weight = ClassWeight::balanced_subsample;
    } else {
      option_error(command, "class-weight", text, "none, balanced or balanced_subsample");
    }
  }
  if (parsed.has("seed")) {
    params.random_state = parse_number<std::uint64_t>(parsed.value("seed"), command, "seed", "an integer in [0, 2^64)");
  }
  if (parsed.has("threads"))
    params.n_jobs = parse_number<int>(parsed.value("threads"), command, "threads", "a non-zero integer");
  try {
    RandomForest<T>::validate_params(params, "RandomForestClassifier::fit");
    resolve_n_jobs(params.n_jobs, "RandomForestClassifier::fit");
  } catch (const invalid_argument& failure) {
    rethrow_naming_option(failure, parsed, command, {RandomForest<T>::model_type}, rf_options::option_of_parameter);
  }
  return params;
}

// Reads DATA.csv with its integer label column; any cell that is not a
// finite number is an error naming the row and column.
template <Scalar T>
CsvTable<T> read_rf_data(const std::filesystem::path& path, const std::string& label, const std::string& command) {
  CsvTable<T> table = read_csv<T>(path, {.label_column = label, .allow_non_finite = true});
  check_forest_input(table.values, table.schema, MissingPolicy::reject, path, command,
                     "a RandomForestClassifier needs every value present");
  return table;
}

template <Scalar T>
RandomForest<T> fit_rf(const typename RandomForest<T>::Params& params, const MatrixRef<T>& X, const LabelsRef& y,
                       const Schema& schema, const Arguments& parsed, const std::string& command) {
  RandomForest<T> forest(params);
  try {
    forest.fit(X, y, schema);
  } catch (const invalid_argument& failure) {
    rethrow_naming_option(failure, parsed, command, {RandomForest<T>::model_type}, rf_options::option_of_parameter);
  }
  return forest;
}

}  // namespace redflag::cli
