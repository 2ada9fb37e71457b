// CSV reading speed on a shuttle-sized table (49,097 rows x 10 columns, the
// shape of shuttle.csv), generated in memory so the benchmark needs no data
// files. A naive std::istringstream >> double reader over the same text is the
// baseline. With REDFLAG_DATA_DIR set in the environment, the real
// shuttle.csv is read from disk as well.
//
//   bench_io --benchmark_repetitions=10 --benchmark_report_aggregates_only=true

#include <redflag/io/csv.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int shuttle_rows = 49097;
constexpr int shuttle_features = 9;

// Small integers like shuttle.csv (integers) or 10-digit decimals like
// cardio.csv (standardised features), plus a 0/1 label with a 7% anomaly rate.
std::string make_csv(bool decimals) {
  std::mt19937 rng(42);
  std::normal_distribution<double> feature(40.0, 30.0);
  std::bernoulli_distribution anomaly(0.0715);
  std::ostringstream out;
  out.precision(10);
  for (int j = 0; j < shuttle_features; ++j) out << 'f' << j << ',';
  out << "label\n";
  for (int i = 0; i < shuttle_rows; ++i) {
    for (int j = 0; j < shuttle_features; ++j) {
      const double value = feature(rng);
      if (decimals) {
        out << value / 30.0 << ',';
      } else {
        out << static_cast<long>(value) << ',';
      }
    }
    out << (anomaly(rng) ? 1 : 0) << '\n';
  }
  return out.str();
}

const std::string& csv_text(bool decimals) {
  static const std::string integers = make_csv(false);
  static const std::string reals = make_csv(true);
  return decimals ? reals : integers;
}

void set_counters(benchmark::State& state, std::size_t bytes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["rows"] = shuttle_rows;
  state.counters["MB"] = static_cast<double>(bytes) / 1e6;
}

// range(0): 0 = integer cells, 1 = decimal cells.
template <class T>
void BM_ParseCsv(benchmark::State& state) {
  const std::string& text = csv_text(state.range(0) != 0);
  const redflag::CsvOptions options{.label_column = "label"};
  for (auto _ : state) {
    auto table = redflag::parse_csv<T>(text, options);
    benchmark::DoNotOptimize(table.values.data());
  }
  set_counters(state, text.size());
}
BENCHMARK_TEMPLATE(BM_ParseCsv, double)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_ParseCsv, float)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The baseline: getline per row, then >> double and ignore(',') per cell.
void BM_NaiveIstream(benchmark::State& state) {
  const std::string& text = csv_text(state.range(0) != 0);
  for (auto _ : state) {
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);  // header
    std::vector<double> values;
    std::vector<long> labels;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      double value = 0;
      for (int j = 0; j < shuttle_features; ++j) {
        fields >> value;
        fields.ignore(1);
        values.push_back(value);
      }
      fields >> value;
      labels.push_back(static_cast<long>(value));
    }
    benchmark::DoNotOptimize(values.data());
    benchmark::DoNotOptimize(labels.data());
  }
  set_counters(state, text.size());
}
BENCHMARK(BM_NaiveIstream)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The real file, including reading it from disk (page cache after the first run).
void BM_ReadShuttleFile(benchmark::State& state) {
  const char* data_dir = std::getenv("REDFLAG_DATA_DIR");
  const auto path = std::filesystem::path(data_dir == nullptr ? "" : data_dir) / "shuttle.csv";
  if (data_dir == nullptr || !std::filesystem::exists(path)) {
    state.SkipWithError("set REDFLAG_DATA_DIR to the folder with shuttle.csv");
    return;
  }
  const redflag::CsvOptions options{.label_column = "label"};
  for (auto _ : state) {
    auto table = redflag::read_csv<double>(path, options);
    benchmark::DoNotOptimize(table.values.data());
  }
  set_counters(state, static_cast<std::size_t>(std::filesystem::file_size(path)));
}
BENCHMARK(BM_ReadShuttleFile)->Unit(benchmark::kMillisecond);

}  // namespace
