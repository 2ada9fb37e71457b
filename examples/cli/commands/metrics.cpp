// redflag metrics DATA.csv --score COL --label COL: evaluate a score column.
#include "command.hpp"

#include <redflag/io/csv.hpp>
#include <redflag/metrics/classification_report.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>
#include <redflag/metrics/thresholds.hpp>

#include <cstdio>

namespace redflag::cli {

Command make_metrics_command() {
  return {
      .name = "metrics",
      .summary = "evaluate a score column against a label column (ROC/PR AUC, thresholds, report)",
      .usage = "usage: redflag metrics DATA.csv --score COLUMN [--label COLUMN] [--threshold T | --contamination C]\n\n"
               "Reads the score column (higher = more anomalous) and the 0/1 label column\n"
               "(default 'label', 1 = anomaly) and prints ROC AUC, average precision,\n"
               "Youden's J threshold and a classification report. The report uses --threshold T,\n"
               "or the (1 - C) quantile of the scores for --contamination C, or Youden's\n"
               "threshold. A row is flagged when its score >= the threshold.\n",
      .run =
          [](const std::vector<std::string>& arguments, std::ostream& out) {
            const Arguments parsed(arguments, {"score", "label", "threshold", "contamination"}, {}, "metrics");
            parsed.require_positionals(1, "one CSV file");
            if (parsed.has("threshold") && parsed.has("contamination")) {
              throw invalid_argument("redflag metrics: give --threshold or --contamination, not both");
            }
            Stopwatch clock;
            const auto table = read_csv<double>(
                std::filesystem::path(parsed.positionals()[0]),
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
            std::snprintf(line, sizeof line, "Youden's J         %.6f at %.6g (TPR %.4f, FPR %.4f)\n", youden.j,
                          youden.threshold, youden.tpr, youden.fpr);
            out << line;
            std::snprintf(line, sizeof line, "threshold          %.6g (%s)\n\n", threshold, rule.c_str());
            out << line << report.to_string() << "\n";
            out << "timing             read " << format_milliseconds(read_ms) << ", metrics "
                << format_milliseconds(compute_ms) << "\n";
            return 0;
          },
  };
}

}  // namespace redflag::cli
