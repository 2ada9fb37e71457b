// redflag score MODEL DATA.csv: anomaly scores, predictions and, on request,
// explanations of a saved IsolationForest or ExtendedIsolationForest; class
// probabilities, predicted labels and explanations of a saved
// RandomForestClassifier.
#include "command.hpp"
#include "forest_input.hpp"

#include <redflag/core/concepts.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/io/csv.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

namespace redflag::cli {
namespace {

constexpr const char* score_footer =
    "Scores every row of DATA.csv with the model in MODEL (an IsolationForest or\n"
    "ExtendedIsolationForest, float32 or float64 as its file records, e.g. fitted\n"
    "with `redflag fit`) and writes a CSV with the header anomaly_score,prediction and\n"
    "one line per row: the score (higher = more anomalous) and 1 if it is at least\n"
    "the model's threshold, else 0. Written to SCORES.csv, or to standard output (the\n"
    "summary line then goes to standard error).\n\n"
    "--explain K (IsolationForest only) adds, per row, the K features that raised its\n"
    "score most, with their contributions (K in [1, number of features]):\n"
    "  anomaly_score,prediction,base_value,feature_1,contribution_1,...,feature_K,contribution_K\n"
    "base_value is the model's score of a row that tells the trees nothing; it plus\n"
    "all the features' contributions (K = number of features) is the row's score.\n\n"
    "DATA.csv must have the columns the model was fitted on, with the same names in the\n"
    "same order. One more column is allowed: the label column (--label, default\n"
    "'label'), which is ignored when the model was not fitted on a column of that name.\n"
    "Missing cells (empty, nan) are accepted when the model was fitted with\n"
    "--missing route. Other differences are errors (exit status 1).\n\n"
    "A RandomForestClassifier model (`redflag fit rf`) writes instead one probability\n"
    "column per class, in label order, and the predicted label (the most probable):\n"
    "  proba_<label>,...,prediction\n"
    "and with --explain K, per row, the class explained (the larger label with two\n"
    "classes, else the predicted one), its expected value and the K features that\n"
    "raised its probability most (TreeSHAP):\n"
    "  proba_<label>,...,prediction,explained_class,expected_value,feature_1,contribution_1,...\n"
    "expected_value plus all the features' contributions is that class's probability.";

// The CSV's columns, without the label column when the model does not use it.
template <Scalar T>
CsvTable<T> read_model_columns(const std::filesystem::path& path, const Schema& model_schema,
                               const std::string& label) {
  CsvTable<T> table = read_csv<T>(path, {.allow_non_finite = true});
  const std::vector<std::string> names = table.schema.names();
  const auto found = std::find(names.begin(), names.end(), label);
  const std::vector<std::string> wanted = model_schema.names();
  if (label.empty() || found == names.end() || std::find(wanted.begin(), wanted.end(), label) != wanted.end()) {
    return table;
  }
  const auto skip = static_cast<Index>(found - names.begin());
  const Index rows = table.values.rows();
  const Index cols = table.values.cols();
  Matrix<T> kept(rows, cols - 1);
  kept.leftCols(skip) = table.values.leftCols(skip);
  kept.rightCols(cols - 1 - skip) = table.values.rightCols(cols - 1 - skip);
  std::vector<std::string> kept_names = names;
  kept_names.erase(kept_names.begin() + skip);
  table.values = std::move(kept);
  table.schema = Schema::from_names(kept_names);
  return table;
}

// A CSV has no column kinds: DATA.csv's columns take the model's kinds, so
// only their names and count are compared.
Schema with_kinds_of(const Schema& model_schema, const Schema& csv_schema) {
  if (model_schema.size() != csv_schema.size()) return csv_schema;
  std::vector<Column> columns = csv_schema.columns();
  for (Index i = 0; i < model_schema.size(); ++i) columns[static_cast<std::size_t>(i)].kind = model_schema[i].kind;
  return Schema(std::move(columns));
}

template <Scalar T>
void write_explanation(std::ostream& out, const Explanation<T>& explanation, const LabelVector& predictions, Index k) {
  std::string buffer = "anomaly_score,prediction,base_value";
  for (Index j = 1; j <= k; ++j) buffer += ",feature_" + std::to_string(j) + ",contribution_" + std::to_string(j);
  buffer += '\n';
  for (Index row = 0; row < explanation.scores.size(); ++row) {
    append_csv_number(buffer, explanation.scores(row));
    buffer += predictions(row) != 0 ? ",1," : ",0,";
    append_csv_number(buffer, explanation.expected_value);
    for (const auto& reason : explanation.top(row, k)) {
      buffer += ',';
      append_csv_field(buffer, reason.name);
      buffer += ',';
      append_csv_number(buffer, reason.value + T(0));  // -0 (a feature with no say) prints as 0
    }
    buffer += '\n';
    if (buffer.size() >= (1U << 16)) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
}

// --explain K as a count in [1, d], checked before any data is read.
Index parse_explain(const Arguments& parsed, const ModelInfo& info, const std::filesystem::path& model_path) {
  if (!parsed.has("explain")) return 0;
  if (info.model_type != IsolationForest<double>::model_type && info.model_type != RandomForest<double>::model_type) {
    throw invalid_argument("redflag score: --explain needs an IsolationForest or a RandomForestClassifier; " +
                           model_path.string() + " holds an " + info.model_type +
                           " (explanations are for axis-parallel forests; hyperplane splits mix features)");
  }
  const std::string text = parsed.value("explain");
  const Index d = info.schema.size();
  Index k = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), k);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || k < 1 || k > d) {
    throw invalid_argument("redflag score: --explain expects a feature count in [1, " + std::to_string(d) +
                           "] (the model's features), got '" + text + "'");
  }
  return k;
}

// Runs `write` on --out's file, or on `out` with the summary then going to
// standard error; returns where the summary goes.
template <class Write>
std::ostream& write_scores(const Arguments& parsed, std::ostream& out, const Write& write) {
  if (!parsed.has("out")) {
    write(out);
    if (!out) throw data_error("redflag score: writing to standard output failed");
    return std::cerr;
  }
  const std::string out_path = parsed.value("out");
  std::ofstream file(out_path);
  if (!file) throw data_error("redflag score: cannot write '" + out_path + "'");
  write(file);
  file.close();
  if (!file) throw data_error("redflag score: writing '" + out_path + "' failed");
  return out;
}

template <class Model>
int score_with(const Arguments& parsed, const std::filesystem::path& model_path, const std::filesystem::path& data_path,
               Index explain, std::ostream& out) {
  using T = typename Model::scalar_type;
  const Model forest = load<Model>(model_path);
  auto table = read_model_columns<T>(data_path, forest.schema(), parsed.value("label", "label"));
  table.schema = with_kinds_of(forest.schema(), table.schema);
  try {
    forest.schema().require_same(table.schema, std::string(Model::model_type) + "::anomaly_score");
  } catch (const schema_mismatch& failure) {
    throw schema_mismatch("redflag score: " + data_path.string() +
                          " does not have the model's columns: " + failure.what());
  }
  check_forest_input(table.values, forest.schema(), forest.params().missing, data_path, "score",
                     "the model was fitted with --missing reject (refit with --missing route to score rows "
                     "with missing values)");

  Stopwatch clock;
  Explanation<T> explanation;
  if constexpr (std::same_as<typename Model::split_policy, AxisParallel>) {
    if (explain > 0) explanation = forest.explain(table.values);
  }
  // Explanations carry the same scores; otherwise score once.
  const Vector<T> scores = explain > 0 ? explanation.scores : forest.anomaly_score(table.values, table.schema);
  // The model's own rule (score >= threshold), without scoring a second time.
  const LabelVector predictions = (scores.array() >= forest.threshold()).template cast<Label>();
  const double score_ms = clock.milliseconds();

  const auto write = [&](std::ostream& to) {
    if (explain > 0) {
      write_explanation(to, explanation, predictions, explain);
    } else {
      write_csv(to, scores, {"anomaly_score"}, predictions, {.label_column = "prediction"});
    }
  };
  std::ostream* summary = &write_scores(parsed, out, write);
  *summary << "scored " << table.values.rows() << " rows with " << Model::model_type << " in "
           << format_milliseconds(score_ms) << ", " << predictions.sum() << " flagged";
  if (explain > 0) {
    char base[32];
    std::snprintf(base, sizeof base, "%.6g", static_cast<double>(explanation.expected_value));
    *summary << ", explained (top " << explain << " of " << forest.n_features() << " features, base value " << base
             << ")";
  }
  *summary << (parsed.has("out") ? ", wrote " + parsed.value("out") : std::string()) << "\n";
  return 0;
}

// The probabilities, the predictions and, with explain = K > 0, per row the
// explained class, its expected value and its top K contributions.
template <Scalar T>
void write_class_scores(std::ostream& out, const RandomForest<T>& forest, const Matrix<T>& proba,
                        const LabelVector& predictions, const std::vector<Explanation<T>>* explanation, Index explain) {
  const LabelVector& classes = forest.classes();
  std::string buffer;
  for (Index k = 0; k < classes.size(); ++k) buffer += "proba_" + std::to_string(classes(k)) + ",";
  buffer += "prediction";
  if (explanation != nullptr) {
    buffer += ",explained_class,expected_value";
    for (Index j = 1; j <= explain; ++j)
      buffer += ",feature_" + std::to_string(j) + ",contribution_" + std::to_string(j);
  }
  buffer += '\n';
  const auto d = static_cast<std::size_t>(forest.n_features());
  std::vector<std::size_t> order(d);
  for (Index row = 0; row < proba.rows(); ++row) {
    for (Index k = 0; k < classes.size(); ++k) {
      append_csv_number(buffer, proba(row, k));
      buffer += ',';
    }
    append_csv_number(buffer, predictions(row));
    if (explanation != nullptr) {
      // Two classes: always the larger label, so rows compare; more: the predicted class.
      Index k = 1;
      if (classes.size() != 2) {
        while (classes(k) != predictions(row)) k = (k + 1) % classes.size();
      }
      const Explanation<T>& explained = (*explanation)[static_cast<std::size_t>(k)];
      const Matrix<T>& contributions = explained.contributions;
      buffer += ',';
      append_csv_number(buffer, classes(k));
      buffer += ',';
      append_csv_number(buffer, explained.expected_value);
      std::iota(order.begin(), order.end(), std::size_t{0});
      // Largest contribution first; ties keep the column order.
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return contributions(row, static_cast<Index>(a)) > contributions(row, static_cast<Index>(b));
      });
      for (Index j = 0; j < explain; ++j) {
        const std::size_t feature = order[static_cast<std::size_t>(j)];
        buffer += ',';
        append_csv_field(buffer, explained.feature_names[feature]);
        buffer += ',';
        append_csv_number(buffer, contributions(row, static_cast<Index>(feature)) + T(0));  // no -0
      }
    }
    buffer += '\n';
    if (buffer.size() >= (1U << 16)) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
}

template <Scalar T>
int score_classifier(const Arguments& parsed, const std::filesystem::path& model_path,
                     const std::filesystem::path& data_path, Index explain, std::ostream& out) {
  using Model = RandomForest<T>;
  const Model forest = load<Model>(model_path);
  auto table = read_model_columns<T>(data_path, forest.schema(), parsed.value("label", "label"));
  table.schema = with_kinds_of(forest.schema(), table.schema);
  try {
    forest.schema().require_same(table.schema, std::string(Model::model_type) + "::predict_proba");
  } catch (const schema_mismatch& failure) {
    throw schema_mismatch("redflag score: " + data_path.string() +
                          " does not have the model's columns: " + failure.what());
  }
  check_forest_input(table.values, forest.schema(), MissingPolicy::reject, data_path, "score",
                     "a RandomForestClassifier needs every value present");

  Stopwatch clock;
  std::vector<Explanation<T>> explanation;  // one per class
  if (explain > 0) {
    for (Index k = 0; k < forest.n_classes(); ++k) explanation.push_back(forest.explain(table.values, k));
  }
  const Matrix<T> proba = forest.predict_proba(table.values);
  const LabelVector& classes = forest.classes();
  LabelVector predictions(proba.rows());
  std::vector<Index> counts(static_cast<std::size_t>(classes.size()), 0);
  for (Index r = 0; r < proba.rows(); ++r) {
    Index best = 0;  // predict()'s rule: the first class on ties
    proba.row(r).maxCoeff(&best);
    predictions(r) = classes(best);
    ++counts[static_cast<std::size_t>(best)];
  }
  const double score_ms = clock.milliseconds();

  std::ostream& summary = write_scores(parsed, out, [&](std::ostream& to) {
    write_class_scores(to, forest, proba, predictions, explain > 0 ? &explanation : nullptr, explain);
  });
  summary << "scored " << table.values.rows() << " rows with " << Model::model_type << " in "
          << format_milliseconds(score_ms) << ", predicted";
  for (Index k = 0; k < classes.size(); ++k) {
    summary << (k == 0 ? " " : ", ") << classes(k) << ": " << counts[static_cast<std::size_t>(k)];
  }
  if (explain > 0) {
    summary << ", explained (";
    if (classes.size() == 2) {
      char expected[32];
      std::snprintf(expected, sizeof expected, "%.6g", static_cast<double>(explanation[1].expected_value));
      summary << "class " << classes(1) << ", expected value " << expected << ", ";
    } else {
      summary << "predicted class, ";
    }
    summary << "top " << explain << " of " << forest.n_features() << " features)";
  }
  summary << (parsed.has("out") ? ", wrote " + parsed.value("out") : std::string()) << "\n";
  return 0;
}

int run_score(const Arguments& parsed, std::ostream& out) {
  const std::filesystem::path model_path = parsed.positional("MODEL");
  const std::filesystem::path data_path = parsed.positional("DATA.csv");

  const ModelInfo info = read_info(model_path);
  const bool float32 = info.scalar == scalar_name<float>;
  const bool known_scalar = float32 || info.scalar == scalar_name<double>;
  if (known_scalar && info.model_type == IsolationForest<double>::model_type) {
    const Index explain = parse_explain(parsed, info, model_path);
    return float32 ? score_with<IsolationForest<float>>(parsed, model_path, data_path, explain, out)
                   : score_with<IsolationForest<double>>(parsed, model_path, data_path, explain, out);
  }
  if (known_scalar && info.model_type == ExtendedIsolationForest<double>::model_type) {
    const Index explain = parse_explain(parsed, info, model_path);  // refuses --explain
    return float32 ? score_with<ExtendedIsolationForest<float>>(parsed, model_path, data_path, explain, out)
                   : score_with<ExtendedIsolationForest<double>>(parsed, model_path, data_path, explain, out);
  }
  if (known_scalar && info.model_type == RandomForest<double>::model_type) {
    const Index explain = parse_explain(parsed, info, model_path);
    return float32 ? score_classifier<float>(parsed, model_path, data_path, explain, out)
                   : score_classifier<double>(parsed, model_path, data_path, explain, out);
  }
  throw invalid_argument("redflag score: " + model_path.string() + " holds a '" + info.model_type + "' (" +
                         info.scalar + "); score supports " + std::string(IsolationForest<double>::model_type) + ", " +
                         std::string(ExtendedIsolationForest<double>::model_type) + " and " +
                         std::string(RandomForest<double>::model_type) + " (" + std::string(scalar_name<float>) +
                         " or " + std::string(scalar_name<double>) + ")");
}

Action define_score(CLI::App& app) {
  app.add_option("MODEL", "a forest written by `redflag fit`")->required();
  app.add_option("DATA.csv", "the rows to score, with the model's columns")->required();
  add_value_option(app, "out", "SCORES.csv", "the CSV to write; default standard output");
  add_value_option(app, "label", "COLUMN", "a label column to ignore; default label");
  add_value_option(app, "explain", "K", "add each row's K most contributing features");
  app.footer(score_footer);
  return [&app](std::ostream& out) { return run_score(Arguments(app, "score"), out); };
}

}  // namespace

Command make_score_command() {
  return {.name = "score",
          .summary = "score a CSV with a saved forest (anomaly scores or class probabilities), optionally explained",
          .define = define_score};
}

}  // namespace redflag::cli
