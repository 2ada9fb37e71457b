// redflag score MODEL DATA.csv: anomaly scores and predictions of a saved model.
#include "command.hpp"

#include <redflag/core/concepts.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/io/csv.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>

namespace redflag::cli {
namespace {

constexpr const char* score_usage =
    "usage: redflag score MODEL DATA.csv [--out SCORES.csv] [--label COLUMN]\n\n"
    "Scores every row of DATA.csv with the model in MODEL (an IsolationForest fitted\n"
    "with `redflag fit`) and writes a CSV with the header anomaly_score,prediction and\n"
    "one line per row: the score (higher = more anomalous) and 1 if it is at least the\n"
    "model's threshold, else 0. Written to SCORES.csv, or to standard output (the\n"
    "summary line then goes to standard error).\n\n"
    "DATA.csv must have the columns the model was fitted on, with the same names in the\n"
    "same order. One more column is allowed: the label column (--label, default\n"
    "'label'), which is ignored when the model was not fitted on a column of that name.\n"
    "Other differences are errors (exit status 1).\n";

// The CSV's columns, without the label column when the model does not use it.
CsvTable<double> read_model_columns(const std::filesystem::path& path, const Schema& model_schema,
                                    const std::string& label) {
  CsvTable<double> table = read_csv<double>(path);
  const std::vector<std::string> names = table.schema.names();
  const auto found = std::find(names.begin(), names.end(), label);
  const std::vector<std::string> wanted = model_schema.names();
  if (label.empty() || found == names.end() || std::find(wanted.begin(), wanted.end(), label) != wanted.end()) {
    return table;
  }
  const auto skip = static_cast<Index>(found - names.begin());
  const Index rows = table.values.rows();
  const Index cols = table.values.cols();
  Matrix<double> kept(rows, cols - 1);
  kept.leftCols(skip) = table.values.leftCols(skip);
  kept.rightCols(cols - 1 - skip) = table.values.rightCols(cols - 1 - skip);
  std::vector<std::string> kept_names = names;
  kept_names.erase(kept_names.begin() + skip);
  table.values = std::move(kept);
  table.schema = Schema::from_names(kept_names);
  return table;
}

int run_score(const std::vector<std::string>& arguments, std::ostream& out) {
  const Arguments parsed(arguments, {"out", "label"}, {}, "score");
  parsed.require_positionals(2, "a model file and one CSV file");
  const std::filesystem::path model_path = parsed.positionals()[0];
  const std::filesystem::path data_path = parsed.positionals()[1];

  using Forest = IsolationForest<double>;
  const ModelInfo info = read_info(model_path);
  if (info.model_type != Forest::model_type || info.scalar != scalar_name<double>) {
    throw invalid_argument("redflag score: " + model_path.string() + " holds a '" + info.model_type + "' (" +
                           info.scalar + "); score supports " + std::string(Forest::model_type) + " (" +
                           std::string(scalar_name<double>) + ")");
  }
  const Forest forest = load<Forest>(model_path);
  const auto table = read_model_columns(data_path, forest.schema(), parsed.value("label", "label"));
  try {
    forest.schema().require_same(table.schema, "IsolationForest::anomaly_score");
  } catch (const schema_mismatch& failure) {
    throw schema_mismatch("redflag score: " + data_path.string() + " does not have the model's columns: " +
                          failure.what());
  }

  Stopwatch clock;
  const Vector<double> scores = forest.anomaly_score(table.values, table.schema);
  // The model's own rule (score >= threshold), without scoring a second time.
  const LabelVector predictions = detail::flag_anomalies<double>(scores, forest.threshold());
  const double score_ms = clock.milliseconds();

  const CsvWriteOptions columns{.label_column = "prediction"};
  const std::vector<std::string> header = {"anomaly_score"};
  std::ostream* summary = &out;
  if (parsed.has("out")) {
    const std::string out_path = parsed.value("out");
    std::ofstream file(out_path);
    if (!file) throw data_error("redflag score: cannot write '" + out_path + "'");
    write_csv(file, scores, header, predictions, columns);
    file.close();
    if (!file) throw data_error("redflag score: writing '" + out_path + "' failed");
  } else {
    write_csv(out, scores, header, predictions, columns);
    summary = &std::cerr;
  }
  *summary << "scored " << table.values.rows() << " rows with " << Forest::model_type << " in "
           << format_milliseconds(score_ms) << ", " << predictions.sum() << " flagged"
           << (parsed.has("out") ? ", wrote " + parsed.value("out") : std::string()) << "\n";
  return 0;
}

}  // namespace

Command make_score_command() {
  return {.name = "score",
          .summary = "score a CSV with a saved IsolationForest (anomaly_score,prediction per row)",
          .usage = score_usage,
          .run = run_score};
}

}  // namespace redflag::cli
