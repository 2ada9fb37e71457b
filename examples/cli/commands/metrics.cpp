// redflag metrics DATA.csv --score COL --label COL: evaluate a score column.
#include "command.hpp"

#include <redflag/io/csv.hpp>
#include <redflag/metrics/classification_report.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>
#include <redflag/metrics/thresholds.hpp>

#include <cstdio>

namespace redflag::cli {

namespace {

int run_metrics(const Arguments& parsed, std::ostream& out) {
  if (parsed.has("threshold") && parsed.has("contamination")) {
    throw invalid_argument("redflag metrics: give --threshold or --contamination, not both");
  }
  Stopwatch clock;
  const auto table =
      read_csv<double>(std::filesystem::path(parsed.positional("DATA.csv")),
                       {.label_column = parsed.value("label", "label"), .columns = {parsed.required("score")}});
  const double read_ms = clock.milliseconds();
  clock.restart();
  const Vector<double> scores = table.values.col(0);
  const double auc = roc_auc_score(table.labels, scores);
  const double ap = average_precision_score(table.labels, scores);
  const YoudenThreshold youden = youden_j_threshold(table.labels, scores);
  double threshold = youden.threshold;
  std::string rule = "Youden's J";
  if (parsed.has("threshold")) {
    threshold = parsed.number("threshold", 0);
    rule = "--threshold";
  } else if (parsed.has("contamination")) {
    threshold = contamination_threshold(scores, parsed.number("contamination", 0));
    rule = "--contamination " + parsed.value("contamination");
  }
  const ClassificationReport report = classification_report(table.labels, scores, AtThreshold{threshold});
  const double compute_ms = clock.milliseconds();

  char line[160];
  std::snprintf(line, sizeof line, "rows               %td (%lld anomalies)\n", scores.size(),
                static_cast<long long>(table.labels.sum()));
  out << line;
  std::snprintf(line, sizeof line, "ROC AUC            %.6f\naverage precision  %.6f\n", auc, ap);
  out << line;
  std::snprintf(line, sizeof line, "Youden's J         %.6f at %.6g (TPR %.4f, FPR %.4f)\n", youden.j, youden.threshold,
                youden.tpr, youden.fpr);
  out << line;
  std::snprintf(line, sizeof line, "threshold          %.6g (%s)\n\n", threshold, rule.c_str());
  out << line << report.to_string() << "\n";
  out << "timing             read " << format_milliseconds(read_ms) << ", metrics " << format_milliseconds(compute_ms)
      << "\n";
  return 0;
}

Action define_metrics(CLI::App& app) {
  app.add_option("DATA.csv", "a CSV with a score column and a 0/1 label column")->required();
  add_value_option(app, "score", "COLUMN", "the score column, higher = more anomalous (required)");
  add_value_option(app, "label", "COLUMN", "the 0/1 label column, 1 = anomaly; default label");
  add_value_option(app, "threshold", "T", "flag rows whose score >= T in the report");
  add_value_option(app, "contamination", "C", "flag the share C of rows: the (1 - C) quantile of the scores");
  app.footer(
      "Prints ROC AUC, average precision, Youden's J threshold and a classification\n"
      "report. The report uses --threshold T, or the (1 - C) quantile of the scores for\n"
      "--contamination C, or Youden's threshold. A row is flagged when its score >= the\n"
      "threshold.");
  return [&app](std::ostream& out) { return run_metrics(Arguments(app, "metrics"), out); };
}

}  // namespace

Command make_metrics_command() {
  return {.name = "metrics",
          .summary = "evaluate a score column against a label column (ROC/PR AUC, thresholds, report)",
          .define = define_metrics};
}

}  // namespace redflag::cli
