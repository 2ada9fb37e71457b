// redflag fit iforest DATA.csv --out MODEL: fit a detector and save it.
#include "command.hpp"
#include "iforest_options.hpp"

#include <redflag/core/serialization.hpp>
#include <redflag/io/csv.hpp>

#include <cstdio>
#include <string>

namespace redflag::cli {
namespace {

std::string fit_usage() {
  return std::string(
             "usage: redflag fit iforest DATA.csv --out MODEL [--label COLUMN] [options]\n\n"
             "Fits an IsolationForest (with --extension, an ExtendedIsolationForest) on the\n"
             "columns of DATA.csv, except the label column if --label names one (without\n"
             "--label every column is a feature), and saves it to MODEL (portable binary;\n"
             "`redflag info MODEL` shows it). Prints the fitted model and the fit time (CSV\n"
             "parsing excluded).\n\n"
             "options:\n"
             "  --out MODEL           the model file to write (required)\n"
             "  --label COLUMN        a column to leave out of the features\n") +
         iforest_options_help;
}

int run_fit(const std::vector<std::string>& arguments, std::ostream& out) {
  std::set<std::string> options = iforest_option_names();
  options.insert({"out", "label"});
  const Arguments parsed(arguments, options, {}, "fit");
  parsed.require_positionals(2, "a model name (iforest) and one CSV file");
  require_iforest(parsed.positionals()[0], "fit");
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
          .summary = "fit an IsolationForest or ExtendedIsolationForest on a CSV, save it as a model",
          .usage = fit_usage(),
          .run = run_fit};
}

}  // namespace redflag::cli
