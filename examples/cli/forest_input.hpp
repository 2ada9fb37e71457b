#pragma once

// The checks the forest commands (fit, eval, score) make on the values of a
// CSV before the model sees them, so that a bad cell is reported as the user
// knows it — by file, row and column name, with the option that would accept
// it — rather than by matrix indices. CSV files are read with missing cells
// (empty, nan) as NaN; these checks then apply the model's missing-value
// policy.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/isolation_forest_params.hpp>
#include <redflag/io/csv.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

namespace redflag::cli {

// Throws data_error at the first cell that is infinite, missing (NaN) when
// `missing` rejects it (the message ends with `missing_hint`), or not a whole
// code in [0, 2^31 - 1] in a categorical column. Rows are counted from 1,
// the header excluded.
template <class Derived>
void check_forest_input(const Eigen::MatrixBase<Derived>& X, const Schema& schema, MissingPolicy missing,
                        const std::filesystem::path& path, const std::string& command,
                        const std::string& missing_hint) {
  // The library's range of category codes.
  constexpr double max_category_code = std::numeric_limits<std::int32_t>::max();
  bool categorical = false;
  for (const Column& column : schema.columns()) categorical |= column.kind == ColumnKind::categorical;
  if (!categorical && X.allFinite()) return;
  for (Index row = 0; row < X.rows(); ++row) {
    for (Index col = 0; col < X.cols(); ++col) {
      const auto value = static_cast<double>(X(row, col));
      const Column& column = schema[col];
      const auto at = [&] {
        return path.string() + " row " + std::to_string(row + 1) + ", column '" + column.name + "'";
      };
      if (std::isnan(value)) {
        if (missing == MissingPolicy::reject) {
          throw data_error("redflag " + command + ": " + at() + " is missing (empty or nan); " + missing_hint);
        }
        continue;
      }
      if (std::isinf(value)) {
        throw data_error("redflag " + command + ": " + at() + " is " + (value > 0 ? "inf" : "-inf") +
                         "; values must be finite (or missing)");
      }
      if (column.kind == ColumnKind::categorical &&
          (value < 0 || value > max_category_code || value != std::floor(value))) {
        std::string text;
        append_csv_number(text, X(row, col));  // as the file has it, in the shortest form
        throw data_error("redflag " + command + ": " + at() + " is " + text + "; categorical column '" + column.name +
                         "' needs whole codes in [0, 2147483647]");
      }
    }
  }
}

}  // namespace redflag::cli
