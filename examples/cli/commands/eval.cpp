// redflag eval iforest DATA.csv --label COL: fit, score and evaluate in one go,
// printing one JSON line for benchmark scripts.
#include "command.hpp"
#include "iforest_options.hpp"

#include <redflag/io/csv.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>

#include <cstdio>
#include <string>

namespace redflag::cli {
namespace {

std::string eval_usage() {
  return std::string(
             "usage: redflag eval iforest DATA.csv [--label COLUMN] [options]\n\n"
             "Fits an IsolationForest (with --extension, an ExtendedIsolationForest) on every\n"
             "row of DATA.csv (all columns but the 0/1 label column, default 'label',\n"
             "1 = anomaly), scores every row and prints one JSON line on standard output,\n"
             "nothing else:\n"
             "  {\"model\":\"iforest\",\"n\":ROWS,\"d\":COLUMNS,\"fit_s\":S,\"score_s\":S,\"auc\":A,\"ap\":P}\n"
             "fit_s and score_s are wall-clock seconds of fitting and scoring (CSV parsing\n"
             "excluded), auc is the ROC AUC and ap the average precision of the scores. With\n"
             "--extension L the line ends with ,\"extension\":L (\"auto\" quoted) before the '}'.\n\n"
             "options:\n"
             "  --label COLUMN        the label column; default label\n") +
         iforest_options_help;
}

int run_eval(const std::vector<std::string>& arguments, std::ostream& out) {
  std::set<std::string> options = iforest_option_names();
  options.insert("label");
  const Arguments parsed(arguments, options, {}, "eval");
  parsed.require_positionals(2, "a model name (iforest) and one CSV file");
  require_iforest(parsed.positionals()[0], "eval");
  const IforestSettings settings = parse_iforest_settings(parsed, "eval");
  const auto table = read_iforest_data(parsed.positionals()[1], {.label_column = parsed.value("label", "label")},
                                       settings, "eval");

  Stopwatch clock;
  return fit_iforest(settings, table.values, table.schema, parsed, "eval", [&](const auto& forest) {
    const double fit_s = clock.milliseconds() / 1000.0;
    clock.restart();
    const Vector<double> scores = forest.anomaly_score(table.values);
    const double score_s = clock.milliseconds() / 1000.0;
    const double auc = roc_auc_score(table.labels, scores);
    const double ap = average_precision_score(table.labels, scores);

    // Only present when asked for, so the contract's line is unchanged.
    std::string extension;
    if (settings.extended) {
      const std::string level = settings.extension_text();
      extension = ",\"extension\":" + (level == "auto" ? "\"auto\"" : level);
    }
    char line[320];
    std::snprintf(line, sizeof line,
                  "{\"model\":\"%s\",\"n\":%lld,\"d\":%lld,\"fit_s\":%.6g,\"score_s\":%.6g,\"auc\":%.6f,\"ap\":%.6f%s}\n",
                  std::string(iforest_model_name).c_str(), static_cast<long long>(table.values.rows()),
                  static_cast<long long>(table.values.cols()), fit_s, score_s, auc, ap, extension.c_str());
    out << line;
    return 0;
  });
}

}  // namespace

Command make_eval_command() {
  return {.name = "eval",
          .summary = "fit and score an IsolationForest on a labelled CSV, print one JSON line",
          .usage = eval_usage(),
          .run = run_eval};
}

}  // namespace redflag::cli
