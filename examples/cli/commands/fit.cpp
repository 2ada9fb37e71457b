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
             "Fits an IsolationForest on the columns of DATA.csv, except the label column if\n"
             "--label names one (without --label every column is a feature), and saves it\n"
             "to MODEL (portable binary; `redflag info MODEL` shows it). Prints the fitted\n"
             "model and the fit time (CSV parsing excluded).\n\n"
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
  const Forest::Params params = parse_iforest_params(parsed, "fit");
  const std::filesystem::path out_path = parsed.required("out");

  CsvOptions csv;
  if (parsed.has("label")) csv.drop = {parsed.value("label")};
  const auto table = read_csv<double>(std::filesystem::path(parsed.positionals()[1]), csv);

  Stopwatch clock;
  const Forest forest = fit_iforest(params, table.values, table.schema, parsed, "fit");
  const double fit_ms = clock.milliseconds();
  save(forest, out_path);

  char threshold[32];
  std::snprintf(threshold, sizeof threshold, "%.6g", forest.threshold());
  out << "fitted " << Forest::model_type << " (" << forest.n_estimators() << " trees, max_samples "
      << forest.max_samples() << ", " << forest.node_count() << " nodes, threshold " << threshold << ") on "
      << table.values.rows() << " rows x " << table.values.cols() << " columns in " << format_milliseconds(fit_ms)
      << ", saved to " << out_path.string() << "\n";
  return 0;
}

}  // namespace

Command make_fit_command() {
  return {.name = "fit",
          .summary = "fit an IsolationForest on a CSV and save it as a model file",
          .usage = fit_usage(),
          .run = run_fit};
}

}  // namespace redflag::cli
