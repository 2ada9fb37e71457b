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

std::string fit_usage() {
  return std::string(
             "usage: redflag fit iforest DATA.csv --out MODEL [--label COLUMN] [options]\n"
             "       redflag fit rf DATA.csv --label COLUMN --out MODEL [rf options]\n\n"
             "Fits an IsolationForest (with --extension, an ExtendedIsolationForest) on the\n"
             "columns of DATA.csv, except the label column if --label names one (without\n"
             "--label every column is a feature), and saves it to MODEL (portable binary;\n"
             "`redflag info MODEL` shows it). Prints the fitted model and the fit time (CSV\n"
             "parsing excluded).\n\n"
             "options:\n"
             "  --out MODEL           the model file to write (required)\n"
             "  --label COLUMN        a column to leave out of the features\n") +
         iforest_options_help +
         "\nrf fits a RandomForestClassifier on the columns of DATA.csv but the label\n"
         "column (--label, required: integer class labels), every value present and\n"
         "finite, and saves it to MODEL; `redflag score MODEL` gives its probabilities.\n\n"
         "rf options:\n"
         "  --class-weight W      none (default, as scikit-learn), balanced (n / (classes x\n"
         "                        rows of the class)) or balanced_subsample (the same per\n"
         "                        tree, from its bootstrap sample)\n" +
         rf_options_help;
}

int run_fit_rf(const std::vector<std::string>& arguments, std::ostream& out) {
  std::set<std::string> options = rf_option_names();
  options.insert({"out", "label"});
  const Arguments parsed(arguments, options, {}, "fit");
  parsed.require_positionals(2, "a model name (rf) and one CSV file");
  const RandomForestModel::Params params = parse_rf_params(parsed, "fit", ClassWeight::none);
  const std::string label = parsed.required("label");
  const std::filesystem::path out_path = parsed.required("out");
  const auto table = read_rf_data(parsed.positionals()[1], label, "fit");

  Stopwatch clock;
  const RandomForestModel forest = fit_rf(params, table.values, table.labels, table.schema, parsed, "fit");
  const double fit_ms = clock.milliseconds();
  save(forest, out_path);
  std::string classes;
  for (const Label label_value : forest.classes()) classes += (classes.empty() ? "" : " ") + std::to_string(label_value);
  out << "fitted " << forest.model_type << " (" << forest.n_estimators() << " trees, max_depth "
      << (params.max_depth ? std::to_string(*params.max_depth) : std::string("none")) << ", class_weight "
      << class_weight_text(params) << ", " << forest.node_count() << " nodes, classes " << classes << ") on "
      << table.values.rows() << " rows x " << table.values.cols() << " columns in " << format_milliseconds(fit_ms)
      << ", saved to " << out_path.string() << "\n";
  return 0;
}

int run_fit(const std::vector<std::string>& arguments, std::ostream& out) {
  // The model name comes first; it decides which options exist.
  if (!arguments.empty() && arguments[0] == rf_model_name) return run_fit_rf(arguments, out);
  std::set<std::string> options = iforest_option_names();
  options.insert({"out", "label"});
  const Arguments parsed(arguments, options, {}, "fit");
  parsed.require_positionals(2, "a model name (iforest or rf) and one CSV file");
  require_known_model(parsed.positionals()[0], "fit");
  if (parsed.positionals()[0] == rf_model_name) return run_fit_rf(arguments, out);  // options before the name
  const IforestSettings settings = parse_iforest_settings(parsed, "fit");
  const std::filesystem::path out_path = parsed.required("out");

  CsvOptions csv;
  if (parsed.has("label")) csv.drop = {parsed.value("label")};
  const auto table = read_iforest_data(parsed.positionals()[1], csv, settings, "fit");

  Stopwatch clock;
  return fit_iforest(settings, table.values, table.schema, parsed, "fit", [&](const auto& forest) {
    const double fit_ms = clock.milliseconds();
    save(forest, out_path);
    char threshold[32];
    std::snprintf(threshold, sizeof threshold, "%.6g", forest.threshold());
    out << "fitted " << forest.model_type << " (" << forest.n_estimators() << " trees, max_samples "
        << forest.max_samples();
    if (settings.extended) out << ", extension level " << settings.extension_text();
    out << ", " << forest.node_count() << " nodes, threshold " << threshold << ") on " << table.values.rows()
        << " rows x " << table.values.cols() << " columns in " << format_milliseconds(fit_ms) << ", saved to "
        << out_path.string() << "\n";
    return 0;
  });
}

}  // namespace

Command make_fit_command() {
  return {.name = "fit",
          .summary = "fit an (Extended)IsolationForest or a RandomForestClassifier on a CSV, save it",
          .usage = fit_usage(),
          .run = run_fit};
}

}  // namespace redflag::cli
