// redflag info MODEL: what a model file holds, read from its envelope.
#include "command.hpp"

#include <redflag/core/serialization.hpp>

#include <iomanip>
#include <sstream>

namespace redflag::cli {
namespace {

int run_info(const Arguments& parsed, std::ostream& out) {
  const std::string model = parsed.positional("MODEL");
  const ModelInfo info = read_info(std::filesystem::path(model));
  std::ostringstream checksum;
  checksum << std::hex << std::setw(16) << std::setfill('0') << info.payload_checksum;
  out << "file:            " << model << "\n"
      << "format:          " << to_string(info.format) << " (envelope version " << info.envelope_version << ")\n"
      << "model type:      " << info.model_type << " (format version " << info.model_format_version << ")\n"
      << "written by:      redflag " << info.library_version << "\n"
      << "scalar:          " << info.scalar << "\n"
      << "file size:       " << info.file_bytes << " bytes\n"
      << "payload:         " << info.payload_bytes << " bytes, xxh64 " << checksum.str() << "\n"
      << "schema:          " << info.schema.size() << " columns\n";
  for (Index i = 0; i < info.schema.size(); ++i) {
    out << "  " << std::setw(4) << i << "  " << std::left << std::setw(24) << info.schema[i].name << std::right << " "
        << to_string(info.schema[i].kind) << "\n";
  }
  return 0;
}

}  // namespace

Command make_info_command() {
  return {.name = "info",
          .summary = "print a model file's envelope (type, versions, scalar, schema, size)",
          .define = [](CLI::App& app) -> Action {
            app.add_option("MODEL", "a model file written by redflag")->required();
            app.footer(
                "Reads the envelope of MODEL (checking the header and, for binary files, the\n"
                "payload checksum) and prints the model type, the library and format versions\n"
                "it was written with, the scalar type, the input schema and the sizes. Exit\n"
                "status 1 if the file is not a valid model.");
            return [&app](std::ostream& out) { return run_info(Arguments(app, "info"), out); };
          }};
}

}  // namespace redflag::cli
