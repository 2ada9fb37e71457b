// redflag eval iforest|rf DATA.csv --label COL: fit, score and evaluate in
// one go, printing one JSON line for benchmark scripts.
#include "command.hpp"
#include "iforest_options.hpp"
#include "rf_options.hpp"
#include "tae_evaluation.hpp"

#include <redflag/io/csv.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>
#include <redflag/preprocessing/train_test_split.hpp>

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
         iforest_options_help +
         "\nusage: redflag eval rf DATA.csv [--label COLUMN] [--test-size F] [rf options]\n\n"
         "Splits the rows of DATA.csv (features: all columns but the integer label\n"
         "column, default 'label') into training and test rows, stratified by label and\n"
         "seeded by --seed, fits a RandomForestClassifier on the training rows, predicts\n"
         "the test rows and prints one JSON line on standard output, nothing else:\n"
         "  {\"model\":\"rf\",\"n_train\":N,\"n_test\":N,\"d\":COLUMNS,\"fit_s\":S,\"predict_s\":S,\n"
         "   \"auc\":A,\"ap\":P,\"f1\":F}\n"
         "predict_s times predict_proba on the test rows. With two classes auc and ap rank\n"
         "the test rows by the probability of the larger label (1 for 0/1 labels), and f1\n"
         "scores the predicted labels with the larger label as positive; with more\n"
         "classes each is the unweighted mean over classes of that class against the rest.\n\n"
         "rf options:\n"
         "  --test-size F         share of rows in the test set, in (0, 1), or a row count;\n"
         "                        default 0.3\n"
         "  --class-weight W      none, balanced (default here) or balanced_subsample\n" +
         rf_options_help + "\n" + tae_eval_usage;
}

// One class against the rest: the class's probability column ranks the rows.
struct ClassScores {
  double auc = 0.0;
  double ap = 0.0;
  double f1 = 0.0;
};

ClassScores one_vs_rest(const LabelVector& y, const LabelVector& predicted, const Matrix<double>& proba, Index k,
                        Label label) {
  const LabelVector truth = (y.array() == label).cast<Label>();
  const LabelVector guess = (predicted.array() == label).cast<Label>();
  const Vector<double> scores = proba.col(k);
  return {roc_auc_score(truth, scores), average_precision_score(truth, scores), f1_score(truth, guess)};
}

int run_eval_rf(const std::vector<std::string>& arguments, std::ostream& out) {
  std::set<std::string> options = rf_option_names();
  options.insert({"label", "test-size"});
  const Arguments parsed(arguments, options, {}, "eval");
  parsed.require_positionals(2, "a model name (rf) and one CSV file");
  const RandomForestModel::Params params = parse_rf_params(parsed, "eval", ClassWeight::balanced);
  const double test_size = parsed.number("test-size", 0.3);
  const auto table = read_rf_data(parsed.positionals()[1], parsed.value("label", "label"), "eval");

  TrainTestSplit<double> split;
  try {
    split = train_test_split(table.values, table.labels, {.test_size = test_size, .random_state = params.random_state});
  } catch (const invalid_argument& failure) {
    std::string what = failure.what();
    const std::string prefix = redflag::detail::message("train_test_split", "");
    if (what.starts_with(prefix)) what.erase(0, prefix.size());
    throw invalid_argument("redflag eval: --test-size " + parsed.value("test-size", "(default)") + ": " + what);
  }

  Stopwatch clock;
  const RandomForestModel forest = fit_rf(params, split.X_train, split.y_train, table.schema, parsed, "eval");
  const double fit_s = clock.milliseconds() / 1000.0;
  clock.restart();
  const Matrix<double> proba = forest.predict_proba(split.X_test);
  // predict()'s rule (first class on ties) without computing the probabilities twice.
  LabelVector predicted(proba.rows());
  for (Index r = 0; r < proba.rows(); ++r) {
    Index best = 0;
    proba.row(r).maxCoeff(&best);
    predicted(r) = forest.classes()(best);
  }
  const double predict_s = clock.milliseconds() / 1000.0;

  const LabelVector& classes = forest.classes();
  ClassScores scores;
  if (classes.size() == 2) {
    scores = one_vs_rest(split.y_test, predicted, proba, 1, classes(1));
  } else {
    for (Index k = 0; k < classes.size(); ++k) {
      const ClassScores one = one_vs_rest(split.y_test, predicted, proba, k, classes(k));
      scores.auc += one.auc;
      scores.ap += one.ap;
      scores.f1 += one.f1;
    }
    const auto count = static_cast<double>(classes.size());
    scores = {scores.auc / count, scores.ap / count, scores.f1 / count};
  }
  char line[320];
  std::snprintf(line, sizeof line,
                "{\"model\":\"%s\",\"n_train\":%lld,\"n_test\":%lld,\"d\":%lld,\"fit_s\":%.6g,\"predict_s\":%.6g,"
                "\"auc\":%.6f,\"ap\":%.6f,\"f1\":%.6f}\n",
                std::string(rf_model_name).c_str(), static_cast<long long>(split.X_train.rows()),
                static_cast<long long>(split.X_test.rows()), static_cast<long long>(table.values.cols()), fit_s,
                predict_s, scores.auc, scores.ap, scores.f1);
  out << line;
  return 0;
}

int run_eval(const std::vector<std::string>& arguments, std::ostream& out) {
  // The model name comes first; it decides which options exist.
  if (!arguments.empty() && arguments[0] == rf_model_name) return run_eval_rf(arguments, out);
  if (!arguments.empty() && arguments[0] == tae_model_name) return tae_eval::run(arguments, out);
  std::set<std::string> options = iforest_option_names();
  options.insert("label");
  const Arguments parsed(arguments, options, {}, "eval");
  parsed.require_positionals(2, "a model name (iforest or rf) and one CSV file");
  require_known_model(parsed.positionals()[0], "eval");
  if (parsed.positionals()[0] == rf_model_name) return run_eval_rf(arguments, out);  // options before the name
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
          .summary = "evaluate an IsolationForest, RandomForestClassifier or TransformerAutoencoder, one JSON line",
          .usage = eval_usage(),
          .run = run_eval};
}

}  // namespace redflag::cli
