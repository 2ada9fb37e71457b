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

int run_simulate(const std::vector<std::string>& arguments, std::ostream& out) {
  const Arguments parsed(arguments, {"bars", "bars-per-day", "volatility", "seed", "out"}, {}, "simulate");
  parsed.require_positionals(1, "what to simulate (ohlcv)");
  if (parsed.positionals()[0] != "ohlcv") {
    throw invalid_argument("redflag simulate: unknown series '" + parsed.positionals()[0] + "' (supported: ohlcv)");
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

}  // namespace

Command make_simulate_command() {
  return {.name = "simulate",
          .summary = "write a seeded simulated OHLCV series as CSV",
          .usage = "usage: redflag simulate ohlcv [--bars N] [--bars-per-day N] [--volatility S] [--seed S]\n"
                   "                              [--out FILE]\n\n"
                   "Writes bars of the OhlcvSimulator (geometric Brownian motion with an intraday\n"
                   "U shape in volatility and volume) as CSV with the columns\n"
                   "open,high,low,close,volume, to FILE or standard output. Defaults: 1560 bars,\n"
                   "78 bars per day, per-bar volatility 0.001, seed 0. The same seed gives the\n"
                   "same file.\n",
          .run = run_simulate};
}

}  // namespace redflag::cli
