// redflag simulate ohlcv: a seeded OHLCV series from the bar simulator, as
// CSV, so that evaluations (`redflag eval tae`) can run on simulated data.
#include "command.hpp"

#include <redflag/io/csv.hpp>
#include <redflag/timeseries/ohlcv.hpp>
#include <redflag/timeseries/ohlcv_simulator.hpp>

#include <fstream>
#include <string>
#include <vector>

namespace redflag::cli {
namespace {

int run_simulate(const Arguments& parsed, std::ostream& out) {
  const std::string series_name = parsed.positional("SERIES");
  if (series_name != "ohlcv") {
    throw invalid_argument("redflag simulate: unknown series '" + series_name + "' (supported: ohlcv)");
  }
  OhlcvSimulator<double>::Params params;
  if (parsed.has("bars")) params.bars = parse_number<Index>(parsed.value("bars"), "simulate", "bars", "an integer");
  if (parsed.has("bars-per-day")) {
    params.bars_per_day = parse_number<Index>(parsed.value("bars-per-day"), "simulate", "bars-per-day", "an integer");
  }
  params.volatility = parsed.number("volatility", params.volatility);
  if (parsed.has("seed")) {
    params.random_state = parse_number<std::uint64_t>(parsed.value("seed"), "simulate", "seed", "an integer >= 0");
  }
  const Matrix<double> series = OhlcvSimulator<double>(params).generate();
  const std::vector<std::string> names(ohlcv::column_names.begin(), ohlcv::column_names.end());
  if (!parsed.has("out")) {
    write_csv(out, series, names);
    return 0;
  }
  std::ofstream file(parsed.value("out"));
  if (!file) throw data_error("redflag simulate: cannot write " + parsed.value("out"));
  write_csv(file, series, names);
  if (!file.flush()) throw data_error("redflag simulate: cannot write " + parsed.value("out"));
  return 0;
}

Action define_simulate(CLI::App& app) {
  app.add_option("SERIES", "what to simulate: ohlcv")->required();
  add_value_option(app, "bars", "N", "bars to write; default 1560");
  add_value_option(app, "bars-per-day", "N", "bars per trading day; default 78");
  add_value_option(app, "volatility", "S", "per-bar volatility; default 0.001");
  add_value_option(app, "seed", "S", "random_state, an integer >= 0; default 0");
  add_value_option(app, "out", "FILE", "the CSV to write; default standard output");
  app.footer(
      "Writes bars of the OhlcvSimulator (geometric Brownian motion with an intraday\n"
      "U shape in volatility and volume) as CSV with the columns\n"
      "open,high,low,close,volume. The same seed gives the same file.");
  return [&app](std::ostream& out) { return run_simulate(Arguments(app, "simulate"), out); };
}

}  // namespace

Command make_simulate_command() {
  return {.name = "simulate", .summary = "write a seeded simulated OHLCV series as CSV", .define = define_simulate};
}

}  // namespace redflag::cli
