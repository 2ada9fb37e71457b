// redflag_market: unusual bars in a daily OHLCV series with a
// TransformerAutoencoder.
//
//   redflag_market [CSV] [--train-until DATE] [--quick] [--window N] [--d-model N] [--heads N]
//                  [--layers N] [--ffn N] [--epochs N] [--learning-rate X] [--train-stride N]
//                  [--contamination X] [--gap N] [--threads N] [--seed N] [--inject TYPE]
//                  [--report FILE] [--scores FILE] [--stream]
//
// The bars up to --train-until (default 2013-12-31 for the bundled SPY
// series, 2008-2013, so training sees the 2008 crash and the calm after it)
// train the model on windows of --window bars; every bar of the series is
// then scored, and the bars of the later, test part whose error reaches the
// threshold are reported, grouped into episodes.
//
//   * Windows: sliding_windows over the bars, scaled inside the model by a
//     WindowScaler (log prices relative to each window's first open, centred
//     log volumes), so the model sees shapes, not price levels.
//   * Per-bar score: timestep_scores over timestep_errors — a bar's error
//     averaged over every window that contains it (it uses the windows after
//     the bar too: the score of a report written with hindsight).
//   * Threshold: the (1 - contamination) quantile of the training bars'
//     scores; the model's own window threshold (the same quantile of the
//     training windows' scores) flags windows in the streaming mode.
//
// --report writes a self-contained HTML report; --scores a CSV with every
// bar's scores; --stream feeds the test part bar by bar through a
// StreamingWindowScorer and prints each bar's score as it arrives (the score
// of the window ending at that bar: all a live feed knows). --inject TYPE
// plants labelled anomalies of that type (contextual, pattern, collective,
// subtle, mixed) into the test part and prints how well they are found.

#include "bars.hpp"
#include "report.hpp"

#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>
#include <redflag/metrics/thresholds.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/nn/transformer_autoencoder.hpp>
#include <redflag/timeseries/anomaly_injector.hpp>
#include <redflag/timeseries/sliding_windows.hpp>
#include <redflag/timeseries/streaming_scorer.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using redflag::Index;
using redflag::Matrix;
using redflag::Vector;
using Model = redflag::TransformerAutoencoder<float>;

struct Options {
  std::string csv = REDFLAG_MARKET_DATA;
  std::string train_until = "2013-12-31";
  Index window = 30;
  Index d_model = 32;
  Index heads = 4;
  Index layers = 2;  // encoder layers, and as many decoder layers
  Index ffn = 64;
  Index epochs = 20;
  double learning_rate = 2e-3;
  Index train_stride = 1;  // train on every train_stride-th window
  double contamination = 0.05;
  Index gap = 3;  // flagged bars at most this many unflagged bars apart form one episode
  int threads = 1;
  std::uint64_t seed = 0;
  std::optional<redflag::AnomalyType> inject;
  std::string report;
  std::string scores;
  bool stream = false;
};

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class Number>
Number parse_number(std::string_view option, std::string_view text, Number lo, Number hi) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw usage_error(std::string(option) + " expects a number, got '" + std::string(text) + "'");
  }
  if (value < lo || value > hi) {
    throw usage_error(std::string(option) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                      "], got " + std::string(text));
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  CLI::App app(
      "Market time series: OHLCV bars through a TransformerAutoencoder, with an HTML report and a "
      "streaming mode (redflag example).",
      "redflag_market");
  app.get_formatter()->label("Usage", "usage");
  app.get_formatter()->column_width(26);
  // Unknown options and a second CSV are kept (extras) and refused below, naming them.
  app.allow_extras();
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string csv;
  app.add_option("CSV", csv, "OHLCV bars with a timestamp column (default: the bundled SPY daily series)");
  // The values as typed; each is checked below with its range.
  std::map<std::string, std::string> text;
  const auto value_option = [&](const std::string& name, const std::string& value, const std::string& help) {
    app.add_option(name, text[name], help)->option_text(value)->type_name(value);
  };
  bool quick = false;
  bool stream = false;
  value_option("--train-until", "DATE", "last timestamp of the training part (default 2013-12-31)");
  app.add_flag("--quick", quick,
               "a small, fast model: window 10, d-model 8, 2 heads, 1 + 1 layers, ffn 16,\n"
               "3 epochs on every second training window (a smoke test, not a good model);\n"
               "options given as well override it");
  value_option("--window", "N", "bars per window, in [2, 1000] (default 30)");
  value_option("--d-model", "N", "model width, a multiple of --heads (default 32)");
  value_option("--heads", "N", "attention heads (default 4)");
  value_option("--layers", "N", "encoder layers, and as many decoder layers (default 2)");
  value_option("--ffn", "N", "feed-forward width (default 64)");
  value_option("--epochs", "N", "training epochs (default 20)");
  value_option("--learning-rate", "X", "Adam's learning rate (default 0.002)");
  value_option("--train-stride", "N", "train on every N-th window only (default 1: all)");
  value_option("--contamination", "X", "share of the training bars above the threshold (default 0.05)");
  value_option("--gap", "N", "flagged bars at most this many bars apart form one episode (default 3)");
  value_option("--threads", "N",
               "threads per training batch, -1 = all cores (default 1; results do not\n"
               "depend on it)");
  value_option("--seed", "N", "random seed (default 0)");
  value_option("--inject", "TYPE",
               "plant labelled anomalies into the test part: contextual, pattern,\n"
               "collective, subtle, mixed");
  value_option("--report", "FILE", "write a self-contained HTML report");
  value_option("--scores", "FILE", "write every bar's scores as CSV");
  app.add_flag("--stream", stream, "score the test part bar by bar, as a live feed would");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& help) {
    std::exit(app.exit(help));
  } catch (const CLI::ParseError& failure) {
    throw usage_error(failure.what());
  }
  for (const std::string& extra : app.remaining()) {
    if (extra.starts_with("-")) throw usage_error("unknown option '" + extra + "'");
    throw usage_error("more than one CSV file given ('" + extra + "')");
  }

  Options o;
  if (quick) {  // the preset first, so that options given as well override it
    o.window = 10;
    o.d_model = 8;
    o.heads = 2;
    o.layers = 1;
    o.ffn = 16;
    o.epochs = 3;
    o.train_stride = 2;
  }
  o.stream = stream;
  if (!csv.empty()) o.csv = csv;
  const auto given = [&](const std::string& name) { return app.count(name) > 0; };
  if (given("--train-until")) o.train_until = text["--train-until"];
  if (given("--window")) o.window = parse_number<Index>("--window", text["--window"], 2, 1000);
  if (given("--d-model")) o.d_model = parse_number<Index>("--d-model", text["--d-model"], 1, 4096);
  if (given("--heads")) o.heads = parse_number<Index>("--heads", text["--heads"], 1, 64);
  if (given("--layers")) o.layers = parse_number<Index>("--layers", text["--layers"], 0, 16);
  if (given("--ffn")) o.ffn = parse_number<Index>("--ffn", text["--ffn"], 1, 16384);
  if (given("--epochs")) o.epochs = parse_number<Index>("--epochs", text["--epochs"], 1, 10000);
  if (given("--learning-rate")) {
    o.learning_rate = parse_number<double>("--learning-rate", text["--learning-rate"], 1e-6, 1.0);
  }
  if (given("--train-stride")) o.train_stride = parse_number<Index>("--train-stride", text["--train-stride"], 1, 1000);
  if (given("--contamination")) {
    o.contamination = parse_number<double>("--contamination", text["--contamination"], 1e-4, 0.5);
  }
  if (given("--gap")) o.gap = parse_number<Index>("--gap", text["--gap"], 0, 1000);
  if (given("--threads")) {
    o.threads = parse_number<int>("--threads", text["--threads"], -1, 256);
    if (o.threads == 0) throw usage_error("--threads must be -1 (all cores) or at least 1, got 0");
  }
  if (given("--seed")) o.seed = parse_number<std::uint64_t>("--seed", text["--seed"], 0, UINT64_MAX);
  if (given("--inject")) {
    try {
      o.inject = redflag::parse_anomaly_type(text["--inject"]);
    } catch (const redflag::invalid_argument&) {
      throw usage_error("--inject expects contextual, pattern, collective, subtle or mixed, got '" + text["--inject"] +
                        "'");
    }
  }
  if (given("--report")) o.report = text["--report"];
  if (given("--scores")) o.scores = text["--scores"];
  if (o.d_model % o.heads != 0) {
    throw usage_error("--d-model (" + std::to_string(o.d_model) + ") must be a multiple of --heads (" +
                      std::to_string(o.heads) + ")");
  }
  return o;
}

std::string format(const char* spec, double value) { return market::html::format(spec, value); }

// The columns that carry a window's reconstruction error, largest share
// first: "volume 64%, close 18%". The names come from the model's schema
// ("volume@59" is volume at the window's last position).
std::string error_by_column(const Model& model, const Matrix<float>& window) {
  const redflag::Explanation<float> why = model.explain(window);
  std::vector<std::pair<std::string, double>> shares;
  double total = 0.0;
  for (Index j = 0; j < why.contributions.cols(); ++j) {
    const std::string& name = model.schema()[j].name;
    const std::string column = name.substr(0, name.find('@'));
    const double contribution = why.contributions(0, j);
    total += contribution;
    auto found = std::find_if(shares.begin(), shares.end(), [&](const auto& s) { return s.first == column; });
    if (found == shares.end()) {
      shares.emplace_back(column, contribution);
    } else {
      found->second += contribution;
    }
  }
  std::stable_sort(shares.begin(), shares.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string text;
  for (std::size_t k = 0; k < std::min<std::size_t>(2, shares.size()); ++k) {
    text += (k == 0 ? "" : ", ") + shares[k].first + " " + format("%.0f", 100.0 * shares[k].second / total) + "%";
  }
  return text;
}

// Flagged bars grouped into episodes, never across the training/test split.
std::vector<market::Episode> episodes(const Vector<float>& scores, const std::vector<bool>& flagged, Index train_end,
                                      Index gap) {
  std::vector<market::Episode> out;
  for (Index i = 0; i < scores.size(); ++i) {
    if (!flagged[static_cast<std::size_t>(i)]) continue;
    const bool test = i >= train_end;
    if (out.empty() || out.back().test != test || i - out.back().end > gap + 1) {
      out.push_back({.start = i, .end = i, .flagged = 0, .peak = i, .peak_score = scores(i), .test = test});
    }
    market::Episode& e = out.back();
    e.end = i;
    ++e.flagged;
    if (scores(i) > e.peak_score) {
      e.peak = i;
      e.peak_score = scores(i);
    }
  }
  return out;
}

int run(const Options& o) {
  market::Bars bars = market::read_bars(o.csv);
  const auto n = static_cast<Index>(bars.timestamps.size());
  Index train_end = 0;
  while (train_end < n && bars.timestamps[static_cast<std::size_t>(train_end)] <= o.train_until) ++train_end;
  // Enough training windows for the hold-out, and a test part at least one window long.
  if (train_end < 4 * o.window || n - train_end < o.window) {
    throw usage_error("--train-until " + o.train_until + " leaves " + std::to_string(train_end) + " training and " +
                      std::to_string(n - train_end) + " test bars; with --window " + std::to_string(o.window) +
                      " at least " + std::to_string(4 * o.window) + " and " + std::to_string(o.window) + " are needed");
  }
  const auto at = [&](Index i) -> const std::string& { return bars.timestamps[static_cast<std::size_t>(i)]; };
  std::cout << "redflag market example: " << std::filesystem::path(o.csv).filename().string() << ", " << n << " bars "
            << at(0) << " .. " << at(n - 1) << "\n"
            << "training " << at(0) << " .. " << at(train_end - 1) << " (" << train_end << " bars), test "
            << at(train_end) << " .. " << at(n - 1) << " (" << n - train_end << " bars)\n";

  Matrix<float>& series = bars.ohlcv;
  std::optional<redflag::InjectedSeries<float>> injected;
  if (o.inject) {
    // Sized in units of the training part's daily log-return volatility;
    // one slot per 120 bars so the test part gets several events.
    const redflag::AnomalyInjector<float> injector(
        {.type = *o.inject, .slot_bars = 120, .event_probability = 0.7, .random_state = o.seed},
        series.topRows(train_end));
    injected = injector.inject(series.bottomRows(n - train_end));
    series.bottomRows(n - train_end) = injected->series;
    std::cout << "injected into the test part (" << redflag::to_string(*o.inject) << ", sigma "
              << format("%.5f", injector.sigma()) << "):\n";
    for (const redflag::AnomalyEvent& e : injected->events) {
      std::printf("  %-17s %s .. %s  %+6.2f sigma\n", std::string(e.name()).c_str(), at(train_end + e.start).c_str(),
                  at(train_end + e.start + e.length - 1).c_str(), e.magnitude);
    }
    std::fflush(stdout);
  }

  auto model = std::make_shared<Model>(Model::Params{.window = o.window,
                                                     .d_model = o.d_model,
                                                     .heads = o.heads,
                                                     .encoder_layers = o.layers,
                                                     .decoder_layers = o.layers,
                                                     .ffn = o.ffn,
                                                     .batch_size = 32,
                                                     .epochs = o.epochs,
                                                     .learning_rate = o.learning_rate,
                                                     .contamination = o.contamination,
                                                     .scaling = redflag::WindowScaler<float>::Params{},
                                                     .random_state = o.seed,
                                                     .n_jobs = o.threads});
  const auto started = std::chrono::steady_clock::now();
  // The bars' column names go into the model's schema (open@0 ... volume@59).
  model->fit(redflag::sliding_windows(series.topRows(train_end), o.window, o.train_stride),
             redflag::Schema::from_names({redflag::ohlcv::column_names.begin(), redflag::ohlcv::column_names.end()}));
  const double training_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto& history = model->history();
  const double best_loss = history[static_cast<std::size_t>(model->best_epoch())].validation;
  const Index weights = redflag::nn::parameter_count(model->network());
  std::cout << "model: window " << o.window << ", d_model " << o.d_model << ", " << o.heads << " heads, " << o.layers
            << " + " << o.layers << " layers, ffn " << o.ffn << " (" << weights << " weights)\n"
            << "trained " << history.size() << " epochs in " << format("%.1f", training_seconds)
            << " s; best validation MSE " << format("%.4f", best_loss) << " (epoch " << model->best_epoch() + 1
            << ")\n";

  // Every window of the whole series; window k ends at bar k + window - 1,
  // so the last n - train_end windows are those ending in the test part.
  const Matrix<float> windows = redflag::sliding_windows(series, o.window);
  const Vector<float> window_scores = model->anomaly_score(windows.bottomRows(n - train_end));
  const Vector<float> scores = redflag::timestep_scores(model->timestep_errors(windows), n, o.window);
  const double threshold = redflag::contamination_threshold(scores.head(train_end), o.contamination);
  std::vector<bool> flagged(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) flagged[static_cast<std::size_t>(i)] = scores(i) >= threshold;
  const std::vector<market::Episode> found = episodes(scores, flagged, train_end, o.gap);
  Index test_flagged = 0, test_episodes = 0;
  for (Index i = train_end; i < n; ++i) test_flagged += flagged[static_cast<std::size_t>(i)] ? 1 : 0;
  for (const market::Episode& e : found) test_episodes += e.test ? 1 : 0;
  std::cout << "threshold " << format("%.4g", threshold) << " per bar (contamination " << o.contamination
            << " of the training bars), " << format("%.4g", model->threshold()) << " per window\n"
            << "test part: " << test_flagged << " of " << n - train_end << " bars flagged, in " << test_episodes
            << " episodes\n";
  for (const market::Episode& e : found) {
    if (!e.test) continue;
    // The window ending at the peak bar: which columns it failed to reconstruct.
    const Index peak_window = std::max<Index>(0, e.peak - o.window + 1);
    std::printf("  %s .. %s  %3td bars flagged  peak %s  score %.4g  error: %s\n", at(e.start).c_str(),
                at(e.end).c_str(), e.flagged, at(e.peak).c_str(), e.peak_score,
                error_by_column(*model, windows.middleRows(peak_window, 1)).c_str());
  }
  std::fflush(stdout);

  if (injected) {
    const redflag::LabelVector labels = injected->label_vector();
    const Vector<float> test_scores = scores.tail(n - train_end);
    const redflag::ConfusionMatrix counts =
        redflag::confusion_matrix(labels, test_scores, redflag::AtThreshold{threshold});
    std::cout << "injected bars found: precision " << format("%.3f", redflag::precision_score(counts)) << ", recall "
              << format("%.3f", redflag::recall_score(counts)) << " (" << counts.tp << " of " << counts.tp + counts.fn
              << " injected bars flagged, " << counts.fp << " other bars flagged), ROC AUC per bar "
              << format("%.3f", redflag::roc_auc_score(labels, test_scores)) << "\n";
  }

  if (!o.scores.empty()) {
    std::ofstream out(o.scores);
    out << "timestamp,close,part,bar_score,flagged,window_score\n";
    for (Index i = 0; i < n; ++i) {
      out << at(i) << ',' << format("%.9g", series(i, redflag::ohlcv::close)) << ','
          << (i < train_end ? "training" : "test") << ',' << format("%.9g", scores(i)) << ','
          << (flagged[static_cast<std::size_t>(i)] ? 1 : 0) << ',';
      if (i >= train_end) out << format("%.9g", window_scores(i - train_end));  // of the window ending here
      out << '\n';
    }
    if (!out) throw redflag::data_error("redflag_market: cannot write " + o.scores);
    std::cout << "scores written to " << o.scores << "\n";
  }

  if (!o.report.empty()) {
    market::Report report;
    report.title = "redflag: anomalies in " + std::filesystem::path(o.csv).filename().string();
    report.summary = {
        {"data", std::to_string(n) + " bars, " + at(0) + " to " + at(n - 1)},
        {"training part", at(0) + " to " + at(train_end - 1) + " (" + std::to_string(train_end) + " bars)"},
        {"test part", at(train_end) + " to " + at(n - 1) + " (" + std::to_string(n - train_end) + " bars)"},
        {"model", "TransformerAutoencoder<float>: window " + std::to_string(o.window) + ", d_model " +
                      std::to_string(o.d_model) + ", " + std::to_string(o.heads) + " heads, " +
                      std::to_string(o.layers) + " + " + std::to_string(o.layers) + " layers, ffn " +
                      std::to_string(o.ffn) + ", " + std::to_string(weights) + " weights; window-anchored log prices"},
        {"training", std::to_string(history.size()) + " epochs in " + format("%.1f", training_seconds) +
                         " s, best validation MSE " + format("%.4f", best_loss)},
        {"threshold",
         format("%.4g", threshold) + " (contamination " + format("%g", o.contamination) + " of the training bars)"},
        {"test part flagged",
         std::to_string(test_flagged) + " bars in " + std::to_string(test_episodes) + " episodes"}};
    if (injected) {
      report.summary.emplace_back("injected", std::to_string(injected->events.size()) + " " +
                                                  std::string(redflag::to_string(*o.inject)) +
                                                  " events in the test part (orange)");
      for (const redflag::AnomalyEvent& e : injected->events) {
        report.injected.push_back({.start = train_end + e.start, .length = e.length, .name = std::string(e.name())});
      }
    }
    report.timestamps = bars.timestamps;
    for (Index i = 0; i < n; ++i) {
      report.close.push_back(series(i, redflag::ohlcv::close));
      report.scores.push_back(scores(i));
    }
    report.flagged = flagged;
    report.train_end = train_end;
    report.threshold = threshold;
    report.episodes = found;
    std::ofstream out(o.report);
    market::write_report(out, report);
    if (!out) throw redflag::data_error("redflag_market: cannot write " + o.report);
    std::cout << "report written to " << o.report << "\n";
  }

  if (o.stream) {
    // A live feed: the scorer holds the last `window` bars and scores the
    // window ending at each new bar. The bars before the test part only fill
    // its buffer, so the first test bar already has a full window.
    redflag::StreamingWindowScorer<Model> scorer(model);
    std::cout << "streaming the test part: the score of the window ending at each bar, ANOMALY at or above "
              << format("%.4g", model->threshold()) << "\n";
    // Batch scoring stacks windows in groups, so a streamed score may differ
    // from the batch score of the same window in float's last bits.
    double largest_difference = 0.0;
    for (Index i = train_end - o.window + 1; i < n; ++i) {
      const auto score = scorer.push(std::span<const float>(series.row(i).data(), redflag::ohlcv::columns));
      if (i < train_end) continue;
      std::printf("%s  close %9.2f  score %.9g%s\n", at(i).c_str(),
                  static_cast<double>(series(i, redflag::ohlcv::close)), static_cast<double>(score->score),
                  score->anomaly ? "  ANOMALY" : "");
      std::fflush(stdout);
      const double batch = static_cast<double>(window_scores(i - train_end));
      largest_difference =
          std::max(largest_difference, std::abs(static_cast<double>(score->score) - batch) / std::max(batch, 1e-30));
    }
    std::printf("streamed scores match the batch scores within a relative %.2e\n", largest_difference);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const usage_error& e) {
    std::cerr << "redflag_market: " << e.what() << " (see redflag_market --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
