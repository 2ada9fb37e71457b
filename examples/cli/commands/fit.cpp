// redflag fit iforest|rf DATA.csv --out MODEL: fit a detector or a
// classifier and save it.
#include "command.hpp"
#include "iforest_options.hpp"
#include "rf_options.hpp"

#include <redflag/core/serialization.hpp>
#include <redflag/io/csv.hpp>

#include <cstdio>
#include <string>

namespace redflag::cli {
namespace {

constexpr const char* fit_iforest_footer =
    "Fits an IsolationForest (with --extension, an ExtendedIsolationForest) on the\n"
    "columns of DATA.csv, except the label column if --label names one (without\n"
    "--label every column is a feature), and saves it to MODEL (portable binary;\n"
    "`redflag info MODEL` shows it). Prints the fitted model and the fit time (CSV\n"
    "parsing excluded).";

constexpr const char* fit_rf_footer =
    "Fits a RandomForestClassifier on the columns of DATA.csv but the label column\n"
    "(--label, required: integer class labels), every value present and finite,\n"
    "and saves it to MODEL; `redflag score MODEL` gives its probabilities.";

// ", float32" in the summary line when the model computes in float32.
template <Scalar T>
std::string dtype_note() {
  return std::same_as<T, float> ? ", float32" : "";
}

template <Scalar T>
int run_rf(const Arguments& parsed, std::ostream& out) {
  const typename RandomForest<T>::Params params = parse_rf_params<T>(parsed, "fit", ClassWeight::none);
  const std::string label = parsed.required("label");
  const std::filesystem::path out_path = parsed.required("out");
  const auto table = read_rf_data<T>(parsed.positional("DATA.csv"), label, "fit");

  Stopwatch clock;
  const RandomForest<T> forest = fit_rf<T>(params, table.values, table.labels, table.schema, parsed, "fit");
  const double fit_ms = clock.milliseconds();
  save(forest, out_path);
  std::string classes;
  for (const Label label_value : forest.classes())
    classes += (classes.empty() ? "" : " ") + std::to_string(label_value);
  out << "fitted " << forest.model_type << " (" << forest.n_estimators() << " trees, max_depth "
      << (params.max_depth ? std::to_string(*params.max_depth) : std::string("none")) << ", class_weight "
      << class_weight_text(params.class_weight) << ", " << forest.node_count() << " nodes, classes " << classes
      << dtype_note<T>() << ") on " << table.values.rows() << " rows x " << table.values.cols() << " columns in "
      << format_milliseconds(fit_ms) << ", saved to " << out_path.string() << "\n";
  return 0;
}

template <Scalar T>
int run_iforest(const Arguments& parsed, std::ostream& out) {
  const IforestSettings<T> settings = parse_iforest_settings<T>(parsed, "fit");
  const std::filesystem::path out_path = parsed.required("out");

  CsvOptions csv;
  if (parsed.has("label")) csv.drop = {parsed.value("label")};
  const auto table = read_iforest_data<T>(parsed.positional("DATA.csv"), csv, settings, "fit");

  Stopwatch clock;
  return fit_iforest<T>(settings, table.values, table.schema, parsed, "fit", [&](const auto& forest) {
    const double fit_ms = clock.milliseconds();
    save(forest, out_path);
    char threshold[32];
    std::snprintf(threshold, sizeof threshold, "%.6g", static_cast<double>(forest.threshold()));
    out << "fitted " << forest.model_type << " (" << forest.n_estimators() << " trees, max_samples "
        << forest.max_samples();
    if (settings.extended) out << ", extension level " << settings.extension_text();
    out << ", " << forest.node_count() << " nodes, threshold " << threshold << dtype_note<T>() << ") on "
        << table.values.rows() << " rows x " << table.values.cols() << " columns in " << format_milliseconds(fit_ms)
        << ", saved to " << out_path.string() << "\n";
    return 0;
  });
}

Action define_fit(CLI::App& app) {
  app.footer("`redflag fit iforest --help` and `redflag fit rf --help` list each model's options.");

  CLI::App* iforest = app.add_subcommand("iforest", "fit an IsolationForest or ExtendedIsolationForest, save it");
  iforest->add_option("DATA.csv", "the training rows, with a header")->required();
  add_value_option(*iforest, "out", "MODEL", "the model file to write (required)");
  add_value_option(*iforest, "label", "COLUMN", "a column to leave out of the features");
  add_iforest_options(*iforest);
  iforest->footer(fit_iforest_footer);

  CLI::App* rf = app.add_subcommand("rf", "fit a RandomForestClassifier, save it");
  rf->add_option("DATA.csv", "the training rows, with a header and an integer label column")->required();
  add_value_option(*rf, "label", "COLUMN", "the label column (required)");
  add_value_option(*rf, "out", "MODEL", "the model file to write (required)");
  add_value_option(*rf, "class-weight", "W",
                   "none (default, as scikit-learn), balanced (n / (classes x\n"
                   "rows of the class)) or balanced_subsample (the same per\n"
                   "tree, from its bootstrap sample)");
  add_rf_options(*rf);
  rf->footer(fit_rf_footer);

  return [&app, iforest, rf](std::ostream& out) {
    if (iforest->parsed()) {
      const Arguments parsed(*iforest, "fit");
      return float32_requested(parsed, "fit") ? run_iforest<float>(parsed, out) : run_iforest<double>(parsed, out);
    }
    if (rf->parsed()) {
      const Arguments parsed(*rf, "fit");
      return float32_requested(parsed, "fit") ? run_rf<float>(parsed, out) : run_rf<double>(parsed, out);
    }
    fail_unknown_model(app, "iforest, rf");
  };
}

}  // namespace

Command make_fit_command() {
  return {.name = "fit",
          .summary = "fit an (Extended)IsolationForest or a RandomForestClassifier on a CSV, save it",
          .define = define_fit};
}

}  // namespace redflag::cli
