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

constexpr const char* eval_iforest_footer =
    "Fits an IsolationForest (with --extension, an ExtendedIsolationForest) on every\n"
    "row of DATA.csv (all columns but the 0/1 label column, default 'label',\n"
    "1 = anomaly), scores every row and prints one JSON line on standard output,\n"
    "nothing else:\n"
    "  {\"model\":\"iforest\",\"n\":ROWS,\"d\":COLUMNS,\"fit_s\":S,\"score_s\":S,\"auc\":A,\"ap\":P}\n"
    "fit_s and score_s are wall-clock seconds of fitting and scoring (CSV parsing\n"
    "excluded), auc is the ROC AUC and ap the average precision of the scores. With\n"
    "--extension L the line ends with ,\"extension\":L (\"auto\" quoted) before the '}';\n"
    "with --dtype float32, with ,\"dtype\":\"float32\".";

constexpr const char* eval_rf_footer =
    "Splits the rows of DATA.csv (features: all columns but the integer label\n"
    "column, default 'label') into training and test rows, stratified by label and\n"
    "seeded by --seed, fits a RandomForestClassifier on the training rows, predicts\n"
    "the test rows and prints one JSON line on standard output, nothing else:\n"
    "  {\"model\":\"rf\",\"n_train\":N,\"n_test\":N,\"d\":COLUMNS,\"fit_s\":S,\"predict_s\":S,\n"
    "   \"auc\":A,\"ap\":P,\"f1\":F}\n"
    "predict_s times predict_proba on the test rows. With two classes auc and ap rank\n"
    "the test rows by the probability of the larger label (1 for 0/1 labels), and f1\n"
    "scores the predicted labels with the larger label as positive; with more\n"
    "classes each is the unweighted mean over classes of that class against the rest.\n"
    "With --dtype float32 the line ends with ,\"dtype\":\"float32\" before the '}'.";

// ,"dtype":"float32" at the end of the JSON line when the model computes in
// float32; nothing for the default, so the contract's line is unchanged.
template <Scalar T>
std::string dtype_field() {
  return std::same_as<T, float> ? ",\"dtype\":\"float32\"" : "";
}

// One class against the rest: the class's probability column ranks the rows.
struct ClassScores {
  double auc = 0.0;
  double ap = 0.0;
  double f1 = 0.0;
};

template <Scalar T>
ClassScores one_vs_rest(const LabelVector& y, const LabelVector& predicted, const Matrix<T>& proba, Index k,
                        Label label) {
  const LabelVector truth = (y.array() == label).cast<Label>();
  const LabelVector guess = (predicted.array() == label).cast<Label>();
  const Vector<T> scores = proba.col(k);
  return {roc_auc_score(truth, scores), average_precision_score(truth, scores), f1_score(truth, guess)};
}

template <Scalar T>
int run_eval_rf(const Arguments& parsed, std::ostream& out) {
  const typename RandomForest<T>::Params params = parse_rf_params<T>(parsed, "eval", ClassWeight::balanced);
  const double test_size = parsed.number("test-size", 0.3);
  const auto table = read_rf_data<T>(parsed.positional("DATA.csv"), parsed.value("label", "label"), "eval");

  TrainTestSplit<T> split;
  try {
    split = train_test_split(table.values, table.labels, {.test_size = test_size, .random_state = params.random_state});
  } catch (const invalid_argument& failure) {
    std::string what = failure.what();
    const std::string prefix = "redflag::train_test_split: ";  // the library's message prefix
    if (what.starts_with(prefix)) what.erase(0, prefix.size());
    throw invalid_argument("redflag eval: --test-size " + parsed.value("test-size", "(default)") + ": " + what);
  }

  Stopwatch clock;
  const RandomForest<T> forest = fit_rf<T>(params, split.X_train, split.y_train, table.schema, parsed, "eval");
  const double fit_s = clock.milliseconds() / 1000.0;
  clock.restart();
  const Matrix<T> proba = forest.predict_proba(split.X_test);
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
                "\"auc\":%.6f,\"ap\":%.6f,\"f1\":%.6f%s}\n",
                std::string(rf_model_name).c_str(), static_cast<long long>(split.X_train.rows()),
                static_cast<long long>(split.X_test.rows()), static_cast<long long>(table.values.cols()), fit_s,
                predict_s, scores.auc, scores.ap, scores.f1, dtype_field<T>().c_str());
  out << line;
  return 0;
}

template <Scalar T>
int run_eval_iforest(const Arguments& parsed, std::ostream& out) {
  const IforestSettings<T> settings = parse_iforest_settings<T>(parsed, "eval");
  const auto table = read_iforest_data<T>(parsed.positional("DATA.csv"),
                                          {.label_column = parsed.value("label", "label")}, settings, "eval");

  Stopwatch clock;
  return fit_iforest<T>(settings, table.values, table.schema, parsed, "eval", [&](const auto& forest) {
    const double fit_s = clock.milliseconds() / 1000.0;
    clock.restart();
    const Vector<T> scores = forest.anomaly_score(table.values);
    const double score_s = clock.milliseconds() / 1000.0;
    const double auc = roc_auc_score(table.labels, scores);
    const double ap = average_precision_score(table.labels, scores);

    // Only present when asked for, so the contract's line is unchanged.
    std::string extra;
    if (settings.extended) {
      const std::string level = settings.extension_text();
      extra = ",\"extension\":" + (level == "auto" ? "\"auto\"" : level);
    }
    extra += dtype_field<T>();
    char line[320];
    std::snprintf(line, sizeof line,
                  "{\"model\":\"%s\",\"n\":%lld,\"d\":%lld,\"fit_s\":%.6g,\"score_s\":%.6g,\"auc\":%.6f,"
                  "\"ap\":%.6f%s}\n",
                  std::string(iforest_model_name).c_str(), static_cast<long long>(table.values.rows()),
                  static_cast<long long>(table.values.cols()), fit_s, score_s, auc, ap, extra.c_str());
    out << line;
    return 0;
  });
}

Action define_eval(CLI::App& app) {
  app.footer(
      "`redflag eval iforest --help`, `redflag eval rf --help` and `redflag eval tae --help`\n"
      "list each model's options.");

  CLI::App* iforest = app.add_subcommand("iforest", "fit and score an (Extended)IsolationForest on labelled rows");
  iforest->add_option("DATA.csv", "the rows, with a header and a 0/1 label column")->required();
  add_value_option(*iforest, "label", "COLUMN", "the label column; default label");
  add_iforest_options(*iforest);
  iforest->footer(eval_iforest_footer);

  CLI::App* rf = app.add_subcommand("rf", "fit a RandomForestClassifier on a split, predict the test rows");
  rf->add_option("DATA.csv", "the rows, with a header and an integer label column")->required();
  add_value_option(*rf, "label", "COLUMN", "the label column; default label");
  add_value_option(*rf, "test-size", "F", "share of rows in the test set, in (0, 1), or a row count;\ndefault 0.3");
  add_value_option(*rf, "class-weight", "W", "none, balanced (default here) or balanced_subsample");
  add_rf_options(*rf);
  rf->footer(eval_rf_footer);

  CLI::App* tae = app.add_subcommand(std::string(tae_model_name),
                                     "train a TransformerAutoencoder on a series, "
                                     "evaluate it on injected or labelled anomalies");
  add_tae_options(*tae);

  return [&app, iforest, rf, tae](std::ostream& out) {
    if (iforest->parsed()) {
      const Arguments parsed(*iforest, "eval");
      return float32_requested(parsed, "eval") ? run_eval_iforest<float>(parsed, out)
                                               : run_eval_iforest<double>(parsed, out);
    }
    if (rf->parsed()) {
      const Arguments parsed(*rf, "eval");
      return float32_requested(parsed, "eval") ? run_eval_rf<float>(parsed, out) : run_eval_rf<double>(parsed, out);
    }
    if (tae->parsed()) return tae_eval::run(Arguments(*tae, "eval"), out);
    fail_unknown_model(app, "iforest, rf, tae");
  };
}

}  // namespace

Command make_eval_command() {
  return {.name = "eval",
          .summary = "evaluate an IsolationForest, RandomForestClassifier or TransformerAutoencoder, one JSON line",
          .define = define_eval};
}

}  // namespace redflag::cli
