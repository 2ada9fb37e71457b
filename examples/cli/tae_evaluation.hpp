#pragma once

// `redflag eval tae SERIES.csv`: the TransformerAutoencoder's evaluation
// protocol on one series.
//
//   bars [0, 60 %)     training: windows (stride 1) fit the model (its own
//                      early-stopping hold-out is the last 10 % of them)
//   bars [60 %, 80 %)  validation: thresholds are chosen here
//   bars [80 %, 100 %) test: reported, never used for a choice
//
// With --inject TYPE the clean validation and test segments receive labelled
// anomalies from the AnomalyInjector (sigma from the training segment's log
// returns), --repeats times with different seeds, pooled, so that even a
// short series yields enough events (a 936-bar test segment holds about 1.5
// per injection; with 5 injections instead of 40, one model's mixed ROC AUC
// ranged from 0.56 to 0.90 over eight sets of injections). With --label COL
// the series' own labels are used instead (training windows that touch a
// labelled bar are left out).
//
// Each segment is scored window by window; a window's score is the root mean
// square of its per-position reconstruction errors (--window-score mean: their
// mean, the model's anomaly_score, which a one-bar event barely moves; max:
// the largest), a bar's score the lowest error any window containing it gives
// its neighbourhood (TimestepAggregate::neighbourhood_min; --bar-score mean or
// median: the mean or median of its per-position errors over those windows;
// see timestep_scores). At either level
// the threshold maximising F1 (or Youden's J, --threshold youden) on the
// validation segment is applied to the test segment. No point adjustment.

#include "command.hpp"

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/io/csv.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>
#include <redflag/metrics/thresholds.hpp>
#include <redflag/nn/transformer_autoencoder.hpp>
#include <redflag/timeseries/anomaly_injector.hpp>
#include <redflag/timeseries/ohlcv.hpp>
#include <redflag/timeseries/sliding_windows.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace redflag::cli {

inline constexpr std::string_view tae_model_name = "tae";

inline constexpr const char* tae_eval_footer =
    "Trains a TransformerAutoencoder on the first 60 % of the series' bars, chooses\n"
    "thresholds on the next 20 % and evaluates on the last 20 %, then prints one\n"
    "JSON line:\n"
    "  {\"model\":\"tae\",\"n\":BARS,\"windows\":TRAINING_WINDOWS,\"params\":WEIGHTS,\n"
    "   \"epochs\":EPOCHS_RUN,\"train_s\":S,\"windows_per_s\":W,\"per_type\":{TYPE:{\n"
    "   \"window\":{\"precision\":..,\"recall\":..,\"f1\":..,\"f2\":..,\"f4\":..,\"auc\":..},\n"
    "   \"timestep\":{same keys}},...}}\n"
    "With --inject (default all = the four types and mixed) anomalies are planted in\n"
    "the validation and test bars (OHLCV columns required); with --label COLUMN the\n"
    "series' own 0/1 labels are used and the type is \"labelled\". A window is\n"
    "anomalous if any of its bars is; a bar's score combines its errors over the\n"
    "windows containing it. windows_per_s is the scoring throughput on the test\n"
    "segment. A metric that is undefined (no anomaly in the test segment) is null.\n"
    "The model computes in float32.";

// Declares the options of `redflag eval tae` on `app`, with their help.
inline void add_tae_options(CLI::App& app) {
  app.add_option("SERIES.csv", "the series, one bar per row, with a header")->required();
  add_value_option(app, "columns", "A,B,...",
                   "feature columns; default open,high,low,close,volume. Five\n"
                   "OHLCV columns are scaled per window (log prices over the\n"
                   "window's first open, centred log volume), others are\n"
                   "standardised");
  add_value_option(app, "inject", "TYPE",
                   "all (default), contextual, pattern, collective, subtle or\n"
                   "mixed: the anomalies planted; not with --label");
  add_value_option(app, "label", "COLUMN", "use the series' own 0/1 labels instead of injecting");
  add_value_option(app, "window", "N", "bars per window; default 60");
  add_value_option(app, "d-model", "N", "model width; default 64");
  add_value_option(app, "heads", "N", "attention heads (must divide --d-model); default 8");
  add_value_option(app, "layers", "N", "encoder and decoder blocks each; default 3");
  add_value_option(app, "ffn", "N", "feed-forward width; default 128");
  add_value_option(app, "epochs", "N", "most training epochs (early stopping may end sooner); default 20");
  add_value_option(app, "batch", "N", "mini-batch size; default 32");
  add_value_option(app, "learning-rate", "X", "Adam's learning rate; default 0.001");
  add_value_option(app, "repeats", "N", "injections per type, pooled; default 40");
  add_value_option(app, "threshold", "RULE", "f1 (default) or youden: how thresholds are chosen on validation");
  add_value_option(app, "window-score", "RULE", "rms (default), mean or max of a window's per-position errors");
  add_value_option(app, "bar-score", "RULE",
                   "neighbourhood-min (default: the lowest error any window gives\n"
                   "the bar's neighbourhood), mean or median of its errors\n"
                   "over the windows containing it");
  add_value_option(app, "seed", "S", "random_state of the model and the injector; default 0");
  add_value_option(app, "threads", "T", "threads; results do not depend on it; default 1");
  app.footer(tae_eval_footer);
}

namespace tae_eval {

struct Metrics {
  double precision = 0, recall = 0, f1 = 0, f2 = 0, f4 = 0;
  double auc = std::numeric_limits<double>::quiet_NaN();
};

// Scores and labels of one level (windows or bars), pooled over repeats.
struct Pool {
  std::vector<double> scores;
  std::vector<Label> labels;

  void add(const Vector<float>& s, const LabelVector& y) {
    for (Index i = 0; i < s.size(); ++i) {
      scores.push_back(static_cast<double>(s(i)));
      labels.push_back(y(i));
    }
  }
  [[nodiscard]] Vector<double> score_vector() const {
    return Eigen::Map<const Vector<double>>(scores.data(), static_cast<Index>(scores.size()));
  }
  [[nodiscard]] LabelVector label_vector() const {
    return Eigen::Map<const LabelVector>(labels.data(), static_cast<Index>(labels.size()));
  }
  [[nodiscard]] bool has_both_classes() const {
    bool positive = false, negative = false;
    for (const Label y : labels) (y != 0 ? positive : negative) = true;
    return positive && negative;
  }
};

struct Segment {
  Pool windows;
  Pool bars;
};

// How per-position errors become window and bar scores.
struct Scoring {
  enum class Window { rms, mean, max } window = Window::rms;
  TimestepAggregate bars = TimestepAggregate::neighbourhood_min;
};

// Window scores and bar scores of one stretch of bars.
inline void score_segment(const TransformerAutoencoder<float>& model, const Matrix<float>& bars,
                          const LabelVector& labels, const Scoring& scoring, Segment& into) {
  const Index window = model.window();
  const Matrix<float> errors = model.timestep_errors(sliding_windows(bars, window));
  Vector<float> window_scores;
  switch (scoring.window) {
    case Scoring::Window::rms:
      window_scores = errors.rowwise()
                          .squaredNorm()
                          .cwiseQuotient(Vector<float>::Constant(errors.rows(), static_cast<float>(window)))
                          .cwiseSqrt();
      break;
    case Scoring::Window::mean: window_scores = errors.rowwise().mean(); break;
    case Scoring::Window::max: window_scores = errors.rowwise().maxCoeff(); break;
  }
  into.windows.add(window_scores, window_labels(labels, window));
  into.bars.add(timestep_scores(errors, bars.rows(), window, 1, scoring.bars), labels);
}

inline double choose_threshold(const Pool& validation, bool youden, double fallback) {
  if (!validation.has_both_classes()) return fallback;
  const Vector<double> scores = validation.score_vector();
  const LabelVector labels = validation.label_vector();
  return youden ? youden_j_threshold(labels, scores).threshold : fbeta_optimal_threshold(labels, scores).threshold;
}

inline Metrics evaluate(const Pool& test, double threshold) {
  const Vector<double> scores = test.score_vector();
  const LabelVector labels = test.label_vector();
  const ConfusionMatrix counts = confusion_matrix(labels, scores, AtThreshold{threshold});
  Metrics m{.precision = precision_score(counts),
            .recall = recall_score(counts),
            .f1 = fbeta_score(counts, 1.0),
            .f2 = fbeta_score(counts, 2.0),
            .f4 = fbeta_score(counts, 4.0)};
  if (test.has_both_classes()) m.auc = roc_auc_score(labels, scores);
  return m;
}

inline std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", value);
  return text;
}

inline std::string json_metrics(const Metrics& m) {
  return "{\"precision\":" + json_number(m.precision) + ",\"recall\":" + json_number(m.recall) +
         ",\"f1\":" + json_number(m.f1) + ",\"f2\":" + json_number(m.f2) + ",\"f4\":" + json_number(m.f4) +
         ",\"auc\":" + json_number(m.auc) + "}";
}

inline std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> names;
  std::stringstream stream(text);
  for (std::string name; std::getline(stream, name, ',');) names.push_back(name);
  return names;
}

template <class Number>
Number positive_option(const Arguments& parsed, const std::string& name, Number fallback) {
  if (!parsed.has(name)) return fallback;
  const auto value = parse_number<Number>(parsed.value(name), "eval", name, "a number > 0");
  if (!(value > 0)) option_error("eval", name, parsed.value(name), "a number > 0");
  return value;
}

// The command: checks the options, trains, evaluates, prints the JSON line.
inline int run(const Arguments& parsed, std::ostream& out) {
  if (parsed.has("inject") && parsed.has("label")) {
    throw invalid_argument("redflag eval: give --inject or --label, not both");
  }
  const std::string rule = parsed.value("threshold", "f1");
  if (rule != "f1" && rule != "youden") option_error("eval", "threshold", rule, "f1 or youden");
  Scoring scoring;
  const std::string window_rule = parsed.value("window-score", "rms");
  if (window_rule == "mean") {
    scoring.window = Scoring::Window::mean;
  } else if (window_rule == "max") {
    scoring.window = Scoring::Window::max;
  } else if (window_rule != "rms") {
    option_error("eval", "window-score", window_rule, "rms, mean or max");
  }
  const std::string bar_rule = parsed.value("bar-score", "neighbourhood-min");
  if (bar_rule == "mean") {
    scoring.bars = TimestepAggregate::mean;
  } else if (bar_rule == "median") {
    scoring.bars = TimestepAggregate::median;
  } else if (bar_rule != "neighbourhood-min") {
    option_error("eval", "bar-score", bar_rule, "neighbourhood-min, mean or median");
  }
  const bool labelled = parsed.has("label");
  std::vector<AnomalyType> types;
  if (!labelled) {
    const std::string inject = parsed.value("inject", "all");
    if (inject == "all") {
      types = {AnomalyType::contextual, AnomalyType::pattern, AnomalyType::collective, AnomalyType::subtle,
               AnomalyType::mixed};
    } else {
      try {
        types = {parse_anomaly_type(inject)};
      } catch (const invalid_argument&) {
        option_error("eval", "inject", inject, "all, contextual, pattern, collective, subtle or mixed");
      }
    }
  }

  const std::vector<std::string> columns = split_names(parsed.value("columns", "open,high,low,close,volume"));
  const auto table =
      read_csv<float>(parsed.positional("SERIES.csv"), {.label_column = parsed.value("label"), .columns = columns});
  const Matrix<float>& series = table.values;
  const bool ohlcv_columns = series.cols() == ohlcv::columns;
  if (!labelled && !ohlcv_columns) {
    throw invalid_argument("redflag eval: --inject needs the five OHLCV columns (open,high,low,close,volume), got " +
                           std::to_string(series.cols()) + " columns; use --label for other series");
  }
  if (ohlcv_columns) validate_ohlcv(series, "redflag eval");

  TransformerAutoencoder<float>::Params params{
      .window = positive_option<Index>(parsed, "window", 60),
      .d_model = positive_option<Index>(parsed, "d-model", 64),
      .heads = positive_option<Index>(parsed, "heads", 8),
      .encoder_layers = positive_option<Index>(parsed, "layers", 3),
      .decoder_layers = positive_option<Index>(parsed, "layers", 3),
      .ffn = positive_option<Index>(parsed, "ffn", 128),
      .batch_size = positive_option<Index>(parsed, "batch", 32),
      .epochs = positive_option<Index>(parsed, "epochs", 20),
      .learning_rate = positive_option<double>(parsed, "learning-rate", 1e-3),
      .scaling = ohlcv_columns ? WindowScaler<float>::Params{}
                               : WindowScaler<float>::Params{.price_columns = {}, .volume_columns = {}},
      .random_state =
          parsed.has("seed") ? parse_number<std::uint64_t>(parsed.value("seed"), "eval", "seed", "an integer >= 0") : 0,
      .n_jobs =
          parsed.has("threads") ? parse_number<int>(parsed.value("threads"), "eval", "threads", "an integer") : 1};
  const Index repeats = labelled ? 1 : positive_option<Index>(parsed, "repeats", 40);

  const Index n = series.rows(), window = params.window;
  const Index train_end = n * 6 / 10, validation_end = n * 8 / 10;
  if (train_end < window + 1 || validation_end - train_end < window || n - validation_end < window) {
    throw data_error("redflag eval: a series of " + std::to_string(n) + " bars is too short for --window " +
                     std::to_string(window) +
                     ": each of the training (60 %), validation and test (20 % each) "
                     "segments needs at least one window");
  }
  const Matrix<float> training = series.topRows(train_end);
  const Matrix<float> validation = series.middleRows(train_end, validation_end - train_end);
  const Matrix<float> test = series.bottomRows(n - validation_end);

  Matrix<float> training_windows = sliding_windows(training, window);
  if (labelled) {
    // Train on normal behaviour only: drop windows that touch a labelled bar.
    const LabelVector touched = window_labels(table.labels.head(train_end), window);
    Matrix<float> clean(training_windows.rows() - touched.sum(), training_windows.cols());
    for (Index r = 0, k = 0; r < training_windows.rows(); ++r) {
      if (touched(r) == 0) clean.row(k++) = training_windows.row(r);
    }
    training_windows = std::move(clean);
  }
  Stopwatch clock;
  TransformerAutoencoder<float> model(params);
  try {
    model.fit(training_windows);
  } catch (const invalid_argument& failure) {
    rethrow_naming_option(
        failure, parsed, "eval", {"TransformerAutoencoder"},
        std::vector<ParameterOption>{
            {"window", "window"}, {"d_model", "d-model"}, {"heads", "heads"}, {"ffn", "ffn"}, {"n_jobs", "threads"}});
  }
  const double train_s = clock.milliseconds() / 1000.0;

  clock.restart();
  const Vector<float> throughput_scores = model.anomaly_score(sliding_windows(test, window));
  const double windows_per_s = static_cast<double>(throughput_scores.size()) / (clock.milliseconds() / 1000.0);

  std::string per_type;
  const auto report = [&](std::string_view name, const Segment& valid, const Segment& tested) {
    const double fallback = static_cast<double>(model.threshold());
    const bool youden = rule == "youden";
    const Metrics windows = evaluate(tested.windows, choose_threshold(valid.windows, youden, fallback));
    const Metrics bars = evaluate(tested.bars, choose_threshold(valid.bars, youden, fallback));
    per_type += std::string(per_type.empty() ? "" : ",") + "\"" + std::string(name) +
                "\":{\"window\":" + json_metrics(windows) + ",\"timestep\":" + json_metrics(bars) + "}";
  };
  if (labelled) {
    Segment valid, tested;
    score_segment(model, validation, table.labels.segment(train_end, validation_end - train_end), scoring, valid);
    score_segment(model, test, table.labels.tail(n - validation_end), scoring, tested);
    report("labelled", valid, tested);
  } else {
    const double sigma = log_return_std(training);
    for (const AnomalyType type : types) {
      Segment valid, tested;
      for (Index r = 0; r < repeats; ++r) {
        // Independent seeds per type, repeat and segment, all from --seed.
        Random seeds = Random::stream(params.random_state,
                                      1000 + 100 * static_cast<std::uint64_t>(type) + static_cast<std::uint64_t>(r));
        const AnomalyInjector<float> validation_injector({.type = type, .random_state = seeds.next_u64()}, sigma);
        const AnomalyInjector<float> test_injector({.type = type, .random_state = seeds.next_u64()}, sigma);
        const InjectedSeries<float> v = validation_injector.inject(validation);
        const InjectedSeries<float> t = test_injector.inject(test);
        score_segment(model, v.series, v.label_vector(), scoring, valid);
        score_segment(model, t.series, t.label_vector(), scoring, tested);
      }
      report(to_string(type), valid, tested);
    }
  }

  char head[320];
  std::snprintf(head, sizeof head,
                "{\"model\":\"tae\",\"n\":%lld,\"windows\":%lld,\"params\":%lld,\"epochs\":%lld,\"train_s\":%.6g,"
                "\"windows_per_s\":%.6g,",
                static_cast<long long>(n), static_cast<long long>(training_windows.rows()),
                static_cast<long long>(nn::parameter_count(model.network())),
                static_cast<long long>(model.history().size()), train_s, windows_per_s);
  out << head << "\"per_type\":{" << per_type << "}}\n";
  return 0;
}

}  // namespace tae_eval
}  // namespace redflag::cli
