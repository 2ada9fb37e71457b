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

constexpr const char* scale_usage =
    "usage: redflag scale fit DATA.csv --out MODEL [--scaler standard|minmax|robust]\n"
    "                         [--label COLUMN] [--format binary|json]\n"
    "       redflag scale transform MODEL DATA.csv --out SCALED.csv [--label COLUMN]\n\n"
    "fit learns the scaler (default standard) on every column of DATA.csv except the\n"
    "label column (default 'label', skipped when absent) and saves it as a model file.\n"
    "transform checks that DATA.csv has the columns the scaler was fitted on, scales\n"
    "them and writes SCALED.csv (with the label column, if any, last).\n";

CsvTable<double> read_features(const std::filesystem::path& path, const std::string& label) {
  // The label column is optional: peek at the header to decide.
  std::ifstream in(path);
  std::string header;
  std::getline(in, header);
  const bool has_label = !label.empty() && (header == label || header.starts_with(label + ",") ||
                                            header.ends_with("," + label) ||
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

int run_scale(const std::vector<std::string>& arguments, std::ostream& out) {
  const Arguments parsed(arguments, {"out", "scaler", "label", "format"}, {}, "scale");
  if (parsed.positionals().empty()) throw invalid_argument("redflag scale: expected 'fit' or 'transform'");
  const std::string& action = parsed.positionals()[0];
  const std::string label = parsed.value("label", "label");
  if (action == "fit") {
    parsed.require_positionals(2, "'fit' and one CSV file");
    const std::string format_name = parsed.value("format", "binary");
    if (format_name != "binary" && format_name != "json") {
      throw invalid_argument("redflag scale: --format must be binary or json, got '" + format_name + "'");
    }
    const Format format = format_name == "json" ? Format::json : Format::portable_binary;
    const auto table = read_features(parsed.positionals()[1], label);
    const std::filesystem::path out_path = parsed.required("out");
    const std::string scaler = parsed.value("scaler", "standard");
    if (scaler == "standard") return fit_and_save<StandardScaler<double>>(table, out_path, format, out);
    if (scaler == "minmax") return fit_and_save<MinMaxScaler<double>>(table, out_path, format, out);
    if (scaler == "robust") return fit_and_save<RobustScaler<double>>(table, out_path, format, out);
    throw invalid_argument("redflag scale: --scaler must be standard, minmax or robust, got '" + scaler + "'");
  }
  if (action == "transform") {
    parsed.require_positionals(3, "'transform', a model file and a CSV file");
    const std::filesystem::path model_path = parsed.positionals()[1];
    const auto table = read_features(parsed.positionals()[2], label);
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
  throw invalid_argument("redflag scale: unknown action '" + action + "' (expected fit or transform)");
}

}  // namespace

Command make_scale_command() {
  return {.name = "scale",
          .summary = "fit a standard/min-max/robust scaler on a CSV, or apply a saved one",
          .usage = scale_usage,
          .run = run_scale};
}

}  // namespace redflag::cli
