// redflag scale fit|transform: fit a scaler on a CSV and apply a saved one.
#include "command.hpp"

#include <redflag/core/serialization.hpp>
#include <redflag/io/csv.hpp>
#include <redflag/preprocessing/min_max_scaler.hpp>
#include <redflag/preprocessing/robust_scaler.hpp>
#include <redflag/preprocessing/standard_scaler.hpp>

#include <fstream>

namespace redflag::cli {
namespace {

CsvTable<double> read_features(const std::filesystem::path& path, const std::string& label) {
  // The label column is optional: peek at the header to decide.
  std::ifstream in(path);
  std::string header;
  std::getline(in, header);
  const bool has_label =
      !label.empty() && (header == label || header.starts_with(label + ",") || header.ends_with("," + label) ||
                         header.find("," + label + ",") != std::string::npos);
  return read_csv<double>(path, {.label_column = has_label ? label : std::string()});
}

template <class Scaler>
int fit_and_save(const CsvTable<double>& table, const std::filesystem::path& out_path, Format format,
                 std::ostream& out) {
  Stopwatch clock;
  Scaler scaler;
  scaler.fit(table.values, table.schema);
  const double fit_ms = clock.milliseconds();
  save(scaler, out_path, format);
  out << "fitted " << Scaler::model_type << " on " << table.values.rows() << " rows x " << table.values.cols()
      << " columns in " << format_milliseconds(fit_ms) << ", saved to " << out_path.string() << "\n";
  return 0;
}

template <class Scaler>
int load_and_transform(const std::filesystem::path& model_path, const CsvTable<double>& table,
                       const std::filesystem::path& out_path, std::ostream& out) {
  const Scaler scaler = load<Scaler>(model_path);
  Stopwatch clock;
  CsvTable<double> scaled = table;
  scaled.values = scaler.transform(table.values, table.schema);
  const double transform_ms = clock.milliseconds();
  std::ofstream file(out_path);
  if (!file) throw data_error("redflag scale transform: cannot write '" + out_path.string() + "'");
  write_csv(file, scaled);
  out << "scaled " << table.values.rows() << " rows with " << Scaler::model_type << " in "
      << format_milliseconds(transform_ms) << ", wrote " << out_path.string() << "\n";
  return 0;
}

int run_scale_fit(const Arguments& parsed, std::ostream& out) {
  const std::string format_name = parsed.value("format", "binary");
  if (format_name != "binary" && format_name != "json") {
    throw invalid_argument("redflag scale: --format must be binary or json, got '" + format_name + "'");
  }
  const Format format = format_name == "json" ? Format::json : Format::portable_binary;
  const auto table = read_features(parsed.positional("DATA.csv"), parsed.value("label", "label"));
  const std::filesystem::path out_path = parsed.required("out");
  const std::string scaler = parsed.value("scaler", "standard");
  if (scaler == "standard") return fit_and_save<StandardScaler<double>>(table, out_path, format, out);
  if (scaler == "minmax") return fit_and_save<MinMaxScaler<double>>(table, out_path, format, out);
  if (scaler == "robust") return fit_and_save<RobustScaler<double>>(table, out_path, format, out);
  throw invalid_argument("redflag scale: --scaler must be standard, minmax or robust, got '" + scaler + "'");
}

int run_scale_transform(const Arguments& parsed, std::ostream& out) {
  const std::filesystem::path model_path = parsed.positional("MODEL");
  const auto table = read_features(parsed.positional("DATA.csv"), parsed.value("label", "label"));
  const std::filesystem::path out_path = parsed.required("out");
  const std::string type = read_info(model_path).model_type;
  if (type == StandardScaler<double>::model_type) {
    return load_and_transform<StandardScaler<double>>(model_path, table, out_path, out);
  }
  if (type == MinMaxScaler<double>::model_type) {
    return load_and_transform<MinMaxScaler<double>>(model_path, table, out_path, out);
  }
  if (type == RobustScaler<double>::model_type) {
    return load_and_transform<RobustScaler<double>>(model_path, table, out_path, out);
  }
  throw invalid_argument("redflag scale: " + model_path.string() + " holds a '" + type + "', not a scaler");
}

Action define_scale(CLI::App& app) {
  app.footer("`redflag scale fit --help` and `redflag scale transform --help` describe each action.");
  const std::string label_help = "the label column, kept out of the scaling (skipped when\nabsent); default label";

  CLI::App* fit = app.add_subcommand("fit", "fit a scaler on a CSV and save it as a model file");
  fit->add_option("DATA.csv", "the rows to fit on, with a header")->required();
  add_value_option(*fit, "out", "MODEL", "the model file to write (required)");
  add_value_option(*fit, "scaler", "NAME", "standard (default), minmax or robust");
  add_value_option(*fit, "label", "COLUMN", label_help);
  add_value_option(*fit, "format", "FORMAT", "binary (default) or json");
  fit->footer("Learns the scaler on every column of DATA.csv except the label column and saves it.");

  CLI::App* transform = app.add_subcommand("transform", "apply a saved scaler to a CSV");
  transform->add_option("MODEL", "a scaler written by `redflag scale fit`")->required();
  transform->add_option("DATA.csv", "the rows to scale, with the scaler's columns")->required();
  add_value_option(*transform, "out", "SCALED.csv", "the CSV to write (required)");
  add_value_option(*transform, "label", "COLUMN", label_help);
  transform->footer(
      "Checks that DATA.csv has the columns the scaler was fitted on, scales them and\n"
      "writes SCALED.csv (with the label column, if any, last).");

  return [&app, fit, transform](std::ostream& out) {
    if (fit->parsed()) return run_scale_fit(Arguments(*fit, "scale"), out);
    if (transform->parsed()) return run_scale_transform(Arguments(*transform, "scale"), out);
    const std::vector<std::string> extras = app.remaining();
    if (extras.empty()) throw invalid_argument("redflag scale: expected 'fit' or 'transform'");
    throw invalid_argument("redflag scale: unknown action '" + extras.front() + "' (expected fit or transform)");
  };
}

}  // namespace

Command make_scale_command() {
  return {.name = "scale",
          .summary = "fit a standard/min-max/robust scaler on a CSV, or apply a saved one",
          .define = define_scale};
}

}  // namespace redflag::cli
