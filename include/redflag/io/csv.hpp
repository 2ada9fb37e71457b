#pragma once

// CSV input and output. A CSV file here is a header line of column names
// followed by one observation per line, numbers only (plus an optional
// integer label column). read_csv turns it into a Matrix<T>, the Schema of the
// kept columns and, optionally, a LabelVector; write_csv writes the same
// shape back so that reading it again reproduces every value bit for bit.
//
// Malformed input never yields a silently wrong matrix: ragged rows, text in
// a numeric column, NaN/Inf (unless allowed), values out of range for T and
// empty files all throw redflag::data_error naming the line and column.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/io/csv_parser.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_set>
#include <vector>

namespace redflag {

struct CsvOptions {
  char delimiter = ',';
  // Name of an integer column moved out of the features into CsvTable::labels.
  // Empty: no label column.
  std::string label_column = {};
  // Feature columns to keep, in this order. Empty: every column but the label.
  std::vector<std::string> columns = {};
  // Feature columns to leave out.
  std::vector<std::string> drop = {};
  // Accept nan/inf cells, and read empty cells as NaN, instead of throwing.
  bool allow_non_finite = false;
};

template <Scalar T>
struct CsvTable {
  Matrix<T> values;        // rows = data lines, columns = kept features
  Schema schema;           // names of the columns of `values` (all numeric)
  LabelVector labels;      // one per row; empty when no label column was read
  std::string label_name;  // the label column's name; empty when none

  [[nodiscard]] std::vector<std::string> column_names() const { return schema.names(); }
};

struct CsvWriteOptions {
  char delimiter = ',';
  // Header name of the label column written after the features.
  std::string label_column = "label";
};

namespace detail::csv {

struct Selection {
  std::vector<Index> roles;  // per header column: output index, label_role or skip_role
  std::vector<std::string> features;
};

// Resolves label_column / columns / drop against the header. Names absent from
// the file are data errors (the file, not the call, may be the wrong one);
// contradictory options are invalid_argument.
inline Selection select_columns(const std::vector<std::string>& header, const CsvOptions& options,
                                std::string_view where, std::string_view source) {
  const auto find = [&](const std::string& name) -> Index {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<Index>(it - header.begin());
  };
  const auto require_known = [&](std::string_view option, const std::string& name) {
    const Index index = find(name);
    if (index < 0) {
      raise<data_error>(where, std::string(source) + ": " + std::string(option) + " names " + printable(name) +
                                   ", which is not a column (columns: " + list_names(header) + ")");
    }
    return index;
  };

  Selection selection;
  selection.roles.assign(header.size(), skip_role);
  Index label_index = -1;
  if (!options.label_column.empty()) {
    label_index = require_known("label_column", options.label_column);
    selection.roles[static_cast<std::size_t>(label_index)] = label_role;
  }

  std::vector<Index> chosen;
  if (options.columns.empty()) {
    for (Index j = 0; j < static_cast<Index>(header.size()); ++j) {
      if (j != label_index) chosen.push_back(j);
    }
  } else {
    for (const auto& name : options.columns) {
      const Index index = require_known("columns", name);
      if (index == label_index) {
        raise<invalid_argument>(where, "columns lists the label column " + printable(name) +
                                           " (label_column is read into labels, not features)");
      }
      if (std::find(chosen.begin(), chosen.end(), index) != chosen.end()) {
        raise<invalid_argument>(where, "columns lists " + printable(name) + " twice");
      }
      chosen.push_back(index);
    }
  }
  for (const auto& name : options.drop) {
    const Index index = require_known("drop", name);
    if (index == label_index) {
      raise<invalid_argument>(where, "drop lists the label column " + printable(name) + " (it is never a feature)");
    }
    const auto it = std::find(chosen.begin(), chosen.end(), index);
    if (it != chosen.end() && !options.columns.empty()) {
      raise<invalid_argument>(where, printable(name) + " is in both columns and drop");
    }
    if (it != chosen.end()) chosen.erase(it);
  }
  if (chosen.empty()) {
    raise<data_error>(where,
                      std::string(source) + ": no feature columns left to read (columns: " + list_names(header) + ")");
  }

  for (std::size_t k = 0; k < chosen.size(); ++k) {
    selection.roles[static_cast<std::size_t>(chosen[k])] = static_cast<Index>(k);
    selection.features.push_back(header[static_cast<std::size_t>(chosen[k])]);
  }
  return selection;
}

template <Scalar T>
CsvTable<T> parse(std::string_view text, const CsvOptions& options, std::string_view where, std::string_view source) {
  require_delimiter(options.delimiter, where);
  Parser parser(text, options.delimiter, options.allow_non_finite, where, source);
  const std::vector<std::string>& header = parser.read_header();
  Selection selection = select_columns(header, options, where, source);

  CsvTable<T> table;
  const bool has_label = !options.label_column.empty();
  parser.read_rows<T>(selection.roles, static_cast<Index>(selection.features.size()), has_label, table.values,
                      table.labels);
  table.schema = Schema::from_names(selection.features);
  table.label_name = options.label_column;
  return table;
}

// The whole stream in one string (the parser works on contiguous text).
inline std::string read_all(std::istream& in, std::string_view where, std::string_view source,
                            std::size_t size_hint = 0) {
  if (!in) raise<data_error>(where, std::string(source) + ": stream is not readable");
  std::string text;
  text.reserve(size_hint);
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) raise<data_error>(where, std::string(source) + ": read error");
  return text;
}

// Header names are quoted when the reader would otherwise split, trim or
// misread them.
inline void append_name(std::string& out, std::string_view name, char delimiter) {
  const bool quote = name.find_first_of(std::string{delimiter, '"', '\n', '\r'}) != std::string_view::npos ||
                     name.front() == ' ' || name.front() == '\t' || name.back() == ' ' || name.back() == '\t' ||
                     name.substr(0, 3) == "\xEF\xBB\xBF";
  if (!quote) {
    out += name;
    return;
  }
  out += '"';
  for (const char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// Shortest text that parses back to exactly `value` (std::to_chars guarantee).
template <class T>
void append_number(std::string& out, T value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(std::begin(buffer), std::end(buffer), value);
  (void)ec;  // 64 bytes hold any float, double or int64
  out.append(std::begin(buffer), end);
}

template <class Derived, class LabelDerived>
void write(std::ostream& out, const Eigen::MatrixBase<Derived>& values, const std::vector<std::string>& names,
           const Eigen::MatrixBase<LabelDerived>* labels, const CsvWriteOptions& options) {
  constexpr std::string_view where = "write_csv";
  require_delimiter(options.delimiter, where);
  require_non_empty(values, where, "values");
  if (static_cast<Index>(names.size()) != values.cols()) {
    raise<invalid_argument>(where, "names has " + std::to_string(names.size()) + " entries but values has " +
                                       std::to_string(values.cols()) + " columns");
  }
  std::unordered_set<std::string_view> seen;
  for (const auto& name : names) {
    if (name.empty()) raise<invalid_argument>(where, "names contains an empty name");
    if (!seen.insert(name).second) raise<invalid_argument>(where, "names contains " + printable(name) + " twice");
  }
  if (labels != nullptr) {
    require_same_length(labels->size(), values.rows(), where, "labels", "values");
    if (options.label_column.empty()) raise<invalid_argument>(where, "label_column must not be empty");
    if (seen.count(options.label_column) != 0) {
      raise<invalid_argument>(where, "label_column " + printable(options.label_column) + " is also a feature name");
    }
  }

  std::string buffer;
  for (std::size_t j = 0; j < names.size(); ++j) {
    if (j > 0) buffer += options.delimiter;
    append_name(buffer, names[j], options.delimiter);
  }
  if (labels != nullptr) {
    buffer += options.delimiter;
    append_name(buffer, options.label_column, options.delimiter);
  }
  buffer += '\n';
  for (Index i = 0; i < values.rows(); ++i) {
    for (Index j = 0; j < values.cols(); ++j) {
      if (j > 0) buffer += options.delimiter;
      append_number(buffer, values(i, j));
    }
    if (labels != nullptr) {
      buffer += options.delimiter;
      append_number(buffer, static_cast<Label>((*labels)(i)));
    }
    buffer += '\n';
    if (buffer.size() >= (1U << 16)) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  if (!out) raise<data_error>(where, "writing to the output stream failed");
}

}  // namespace detail::csv

// Parses CSV text held in memory. T = float parses straight to float.
template <Scalar T = double>
CsvTable<T> parse_csv(std::string_view text, const CsvOptions& options = {},
                      std::string_view source_name = "<string>") {
  return detail::csv::parse<T>(text, options, "parse_csv", source_name);
}

// Reads the rest of `in`; messages name the input `source_name`.
template <Scalar T = double>
CsvTable<T> read_csv(std::istream& in, const CsvOptions& options = {}, std::string_view source_name = "<stream>") {
  const std::string text = detail::csv::read_all(in, "read_csv", source_name);
  return detail::csv::parse<T>(text, options, "read_csv", source_name);
}

// Reads the file at `path` in one go; messages name the file as given.
template <Scalar T = double>
CsvTable<T> read_csv(const std::filesystem::path& path, const CsvOptions& options = {}) {
  const std::string source = path.string();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    const bool missing = !ec || ec == std::errc::no_such_file_or_directory;
    detail::raise<data_error>("read_csv", "cannot open " + detail::csv::printable(source, 4096) + ": " +
                                              (missing ? std::string("file not found") : ec.message()));
  }
  if (std::filesystem::is_directory(status)) {
    detail::raise<data_error>("read_csv",
                              "cannot open " + detail::csv::printable(source, 4096) + ": it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    detail::raise<data_error>("read_csv", "cannot open " + detail::csv::printable(source, 4096) + " for reading");
  }
  const auto size = std::filesystem::file_size(path, ec);
  const std::string text = detail::csv::read_all(in, "read_csv", source, ec ? 0 : static_cast<std::size_t>(size));
  return detail::csv::parse<T>(text, options, "read_csv", source);
}

// Writes a header of `names` and one line per row of `values`, numbers in the
// shortest form that reads back exactly; NaN/Inf are written as nan/inf/-inf.
template <class Derived>
void write_csv(std::ostream& out, const Eigen::MatrixBase<Derived>& values, const std::vector<std::string>& names,
               const CsvWriteOptions& options = {}) {
  static_assert(Scalar<typename Derived::Scalar>, "write_csv: values must be float or double");
  detail::csv::write(out, values, names, static_cast<const Eigen::MatrixBase<LabelVector>*>(nullptr), options);
}

// As above, with `labels` as a last integer column named options.label_column.
template <class Derived, class LabelDerived>
void write_csv(std::ostream& out, const Eigen::MatrixBase<Derived>& values, const std::vector<std::string>& names,
               const Eigen::MatrixBase<LabelDerived>& labels, const CsvWriteOptions& options = {}) {
  static_assert(Scalar<typename Derived::Scalar>, "write_csv: values must be float or double");
  static_assert(std::is_integral_v<typename LabelDerived::Scalar>, "write_csv: labels must be integers");
  detail::csv::write(out, values, names, &labels, options);
}

// Writes a table as read_csv returned it; the label column (if any) keeps
// table.label_name, falling back to options.label_column.
template <Scalar T>
void write_csv(std::ostream& out, const CsvTable<T>& table, const CsvWriteOptions& options = {}) {
  if (table.labels.size() == 0) {
    write_csv(out, table.values, table.schema.names(), options);
    return;
  }
  CsvWriteOptions named = options;
  if (!table.label_name.empty()) named.label_column = table.label_name;
  write_csv(out, table.values, table.schema.names(), table.labels, named);
}

template <Scalar T>
void write_csv(const std::filesystem::path& path, const CsvTable<T>& table, const CsvWriteOptions& options = {}) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    detail::raise<data_error>("write_csv",
                              "cannot open " + detail::csv::printable(path.string(), 4096) + " for writing");
  }
  write_csv(out, table, options);
  out.close();
  if (!out) {
    detail::raise<data_error>("write_csv", "writing " + detail::csv::printable(path.string(), 4096) + " failed");
  }
}

// Building blocks for writing CSV rows that write_csv's shape does not cover
// (text columns, mixed columns), with write_csv's guarantees, so that
// read_csv reads the row back as written.

// Appends `value` in the shortest text that parses back to exactly `value`
// (integers as they are; NaN and infinities as std::to_chars writes them:
// nan, inf, -inf).
template <class T>
  requires std::is_arithmetic_v<T>
void append_csv_number(std::string& line, T value) { detail::csv::append_number(line, value); }

// Appends `text` as one field (a column name or a text cell), quoted when a
// reader would otherwise split it at `delimiter` or a line break, trim it or
// take it for a byte-order mark; an empty field appends nothing.
inline void append_csv_field(std::string& line, std::string_view text, char delimiter = ',') {
  if (!text.empty()) detail::csv::append_name(line, text, delimiter);
}

}  // namespace redflag
