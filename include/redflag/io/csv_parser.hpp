#pragma once

// The CSV tokenizer and cell parsers behind redflag::read_csv (io/csv.hpp).
// Internal: include <redflag/io/csv.hpp> instead.
//
// Design: the whole text is in memory, so fields are string_views into it and
// numbers are parsed in place with std::from_chars straight into the output
// matrix; only quoted fields go through a reused scratch buffer. Nothing is
// allocated per cell. Every failure is a data_error naming the source, the
// 1-based line (as an editor shows it) and the 1-based column with its name.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace redflag::detail::csv {

// `text` quoted for a message: control bytes escaped, long cells shortened, so
// a hostile file cannot produce a megabyte-long or terminal-garbling message.
inline std::string printable(std::string_view text, std::size_t limit = 40) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == limit) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 15];
    } else {
      out += text[i];
    }
  }
  out += '\'';
  return out;
}

// "a, b, c" — shortened after 20 names.
inline std::string list_names(const std::vector<std::string>& names) {
  std::string text;
  const std::size_t shown = std::min<std::size_t>(names.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) text += ", ";
    text += printable(names[i]);
  }
  if (names.size() > shown) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

// A delimiter must not be confusable with quoting, line ends or number syntax.
inline void require_delimiter(char delimiter, std::string_view where) {
  const auto byte = static_cast<unsigned char>(delimiter);
  const bool usable = byte >= 0x20 && byte < 0x7f && delimiter != '"' && delimiter != '.' && delimiter != '+' &&
                      delimiter != '-' && !(delimiter >= '0' && delimiter <= '9') &&
                      !(delimiter >= 'a' && delimiter <= 'z') && !(delimiter >= 'A' && delimiter <= 'Z');
  if (usable || delimiter == '\t') return;
  raise<invalid_argument>(where,
                          "delimiter must be a punctuation character, space or tab (not a "
                          "letter, digit, '\"', '.', '+' or '-'), got " +
                              printable(std::string_view(&delimiter, 1)));
}

// Whether a number that from_chars reported as out of range is tiny (underflow)
// rather than huge: estimate its decimal exponent from the digits.
inline bool underflows(std::string_view number) {
  std::size_t i = 0;
  if (i < number.size() && (number[i] == '-' || number[i] == '+')) ++i;
  while (i < number.size() && number[i] == '0') ++i;
  long long magnitude = 0;  // the value is about 10^magnitude
  while (i < number.size() && number[i] >= '0' && number[i] <= '9') ++i, ++magnitude;
  if (i < number.size() && number[i] == '.') {
    ++i;
    if (magnitude == 0) {
      while (i < number.size() && number[i] == '0') ++i, --magnitude;
    }
    while (i < number.size() && number[i] >= '0' && number[i] <= '9') ++i;
  }
  if (i < number.size() && (number[i] == 'e' || number[i] == 'E')) {
    ++i;
    const bool negative = i < number.size() && number[i] == '-';
    if (i < number.size() && (number[i] == '-' || number[i] == '+')) ++i;
    long long exponent = 0;
    const auto [ptr, ec] = std::from_chars(number.data() + i, number.data() + number.size(), exponent);
    (void)ptr;
    if (ec == std::errc::result_out_of_range || exponent > (1LL << 40)) exponent = 1LL << 40;
    magnitude += negative ? -exponent : exponent;
  }
  return magnitude <= 0;
}

// Column roles while reading: an index >= 0 is the output column.
inline constexpr Index skip_role = -1;
inline constexpr Index label_role = -2;

class Parser {
 public:
  Parser(std::string_view text, char delimiter, bool allow_non_finite, std::string_view where, std::string_view source)
      : p_(text.data()),
        end_(text.data() + text.size()),
        delimiter_(delimiter),
        allow_non_finite_(allow_non_finite),
        where_(where),
        source_(source) {
    // A UTF-8 byte order mark (Excel writes one) is not part of the first name.
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") p_ += 3;
  }

  // Reads the header line; throws on an empty text, a blank first line, an
  // empty or duplicate column name.
  const std::vector<std::string>& read_header() {
    const char* s = p_;
    while (s < end_ && (is_space(*s) || *s == '\n')) ++s;
    if (s == end_) {
      raise<data_error>(where_, std::string(source_) + " is empty (a header line with column names is required)");
    }
    if (blank_line_ahead()) {
      fail_line(line_, "is blank; the first line must be the header with the column names");
    }
    for (Index column = 0;; ++column) {
      const std::size_t field_line = line_;
      const std::string_view name = read_field(column);
      if (name.empty()) fail(field_line, column, "empty column name in the header");
      names_.emplace_back(name);
      if (p_ == end_ || *p_ != delimiter_) break;
      ++p_;
    }
    if (p_ < end_) next_line();

    std::unordered_map<std::string_view, std::size_t> seen;
    seen.reserve(names_.size());
    for (std::size_t i = 0; i < names_.size(); ++i) {
      const auto [it, inserted] = seen.emplace(names_[i], i);
      if (!inserted) {
        fail(1, static_cast<Index>(i),
             "duplicate column name (column " + std::to_string(it->second + 1) + " has the same name)");
      }
    }
    return names_;
  }

  // Parses every data row. `roles[j]` says where header column j goes: an
  // output column of `values`, the label vector, or nowhere. `values` and
  // `labels` are resized to the rows read.
  template <Scalar T>
  void read_rows(const std::vector<Index>& roles, Index feature_count, bool has_label, Matrix<T>& values,
                 LabelVector& labels) {
    const auto columns = static_cast<Index>(names_.size());
    Index capacity = row_capacity();
    values.resize(capacity, feature_count);
    labels.resize(has_label ? capacity : 0);

    Index rows = 0;
    std::size_t first_blank_line = 0;
    while (p_ < end_) {
      if (blank_line_ahead()) {
        if (first_blank_line == 0) first_blank_line = line_;
        skip_blank_line();
        continue;
      }
      if (first_blank_line != 0) {
        fail_line(first_blank_line, "is blank; blank lines are only allowed at the end of the file");
      }
      if (rows == capacity) {  // unreachable by the bound above; kept as a cheap safety net
        capacity = 2 * capacity + 1;
        values.conservativeResize(capacity, Eigen::NoChange);
        if (has_label) labels.conservativeResize(capacity);
      }
      T* row = values.data() + rows * feature_count;
      for (Index column = 0; column < columns; ++column) {
        const Index role = roles[static_cast<std::size_t>(column)];
        if (role >= 0) {
          row[role] = read_number<T>(column);
        } else if (role == label_role) {
          labels[rows] = read_label(column);
        } else {
          read_field(column);
        }
        // Each reader stops at a delimiter, a line end or the end of the text.
        if (column + 1 < columns) {
          if (p_ == end_ || *p_ != delimiter_) {
            fail(line_, column + 1,
                 "missing value: the row has " + fields(column + 1) + ", the header has " + std::to_string(columns));
          }
          ++p_;
        }
      }
      if (p_ < end_) {
        if (*p_ == delimiter_) fail_extra_fields(columns);
        next_line();
      }
      ++rows;
    }
    if (rows == 0) {
      raise<data_error>(where_, std::string(source_) + " has a header but no data rows");
    }
    if (rows < capacity) {
      values.conservativeResize(rows, Eigen::NoChange);
      if (has_label) labels.conservativeResize(rows);
    }
  }

 private:
  [[nodiscard]] bool is_space(char c) const { return (c == ' ' || c == '\t' || c == '\r') && c != delimiter_; }

  void next_line() {
    ++p_;  // the '\n'
    ++line_;
  }

  [[nodiscard]] bool blank_line_ahead() const {
    const char* s = p_;
    while (s < end_ && is_space(*s)) ++s;
    return s == end_ || *s == '\n';
  }

  void skip_blank_line() {
    while (p_ < end_ && *p_ != '\n') ++p_;
    if (p_ < end_) next_line();
  }

  // An upper bound on the data rows left, so the matrix is allocated once.
  // Every row but the last ends in '\n', and a complete row of n fields takes
  // at least n bytes with its line end (plus one slot for a short row, whose
  // first cells are stored before it is found short). The byte bound keeps a
  // wide header followed by a flood of newlines from allocating more than
  // ~8 bytes per input byte.
  [[nodiscard]] Index row_capacity() const {
    if (p_ == end_) return 0;
    const auto newlines = static_cast<std::size_t>(std::count(p_, end_, '\n'));
    const std::size_t by_lines = newlines + (end_[-1] == '\n' ? 0 : 1);
    const std::size_t by_bytes = (static_cast<std::size_t>(end_ - p_) + 1) / names_.size() + 1;
    return static_cast<Index>(std::min(by_lines, by_bytes));
  }

  // One field, leaving p_ at the delimiter, line end or end of text after it.
  // Unquoted fields are trimmed of spaces and tabs; quoted ones are returned
  // verbatim with "" unescaped (valid until the next call).
  std::string_view read_field(Index column) {
    while (p_ < end_ && is_space(*p_)) ++p_;
    if (p_ < end_ && *p_ == '"') return read_quoted(column);
    const char* start = p_;
    while (p_ < end_ && *p_ != delimiter_ && *p_ != '\n') ++p_;
    const char* stop = p_;
    while (stop > start && is_space(stop[-1])) --stop;
    return {start, static_cast<std::size_t>(stop - start)};
  }

  std::string_view read_quoted(Index column) {
    const std::size_t start_line = line_;
    ++p_;  // the opening quote
    scratch_.clear();
    for (;;) {
      const auto* quote = static_cast<const char*>(std::memchr(p_, '"', static_cast<std::size_t>(end_ - p_)));
      if (quote == nullptr) fail(start_line, column, "quoted field is not closed (missing '\"')");
      line_ += static_cast<std::size_t>(std::count(p_, quote, '\n'));
      scratch_.append(p_, quote);
      p_ = quote + 1;
      if (p_ < end_ && *p_ == '"') {  // "" is an escaped quote
        scratch_ += '"';
        ++p_;
        continue;
      }
      break;
    }
    while (p_ < end_ && is_space(*p_)) ++p_;
    if (p_ < end_ && *p_ != delimiter_ && *p_ != '\n') {
      fail(line_, column, "unexpected " + printable(std::string_view(p_, 1)) + " after a closing quote");
    }
    return scratch_;
  }

  // The fast path parses in place and accepts the number only if a delimiter,
  // line end or end of text follows; anything unusual (quotes, errors, a
  // non-finite value to reject) takes the slow path, which finds the exact error.
  template <Scalar T>
  T read_number(Index column) {
    const char* s = p_;
    while (s < end_ && is_space(*s)) ++s;
    if (s < end_ && *s != '"') {
      const char* digits = s + (*s == '+' ? 1 : 0);  // from_chars rejects a leading '+'
      T value{};
      const auto [ptr, ec] = std::from_chars(digits, end_, value);
      if (ec == std::errc{} && (digits == s || (*digits != '-' && *digits != '+'))) {
        const char* after = ptr;
        while (after < end_ && is_space(*after)) ++after;
        if ((after == end_ || *after == delimiter_ || *after == '\n') && (allow_non_finite_ || std::isfinite(value))) {
          p_ = after;
          return value;
        }
      }
    }
    const std::size_t field_line = line_;
    return parse_number<T>(read_field(column), field_line, column);
  }

  template <Scalar T>
  T parse_number(std::string_view cell, std::size_t line, Index column) {
    cell = trim(cell);  // quoted cells are not trimmed by read_field
    if (cell.empty()) {
      if (allow_non_finite_) return std::numeric_limits<T>::quiet_NaN();
      fail(line, column, "empty cell (set allow_non_finite to read empty cells as NaN)");
    }
    const std::string_view body = without_plus(cell);
    T value{};
    const char* body_end = body.data() + body.size();
    const auto [ptr, ec] = body.empty() ? std::from_chars_result{body_end, std::errc::invalid_argument}
                                        : std::from_chars(body.data(), body_end, value);
    if (ec == std::errc::result_out_of_range && ptr == body_end) {
      // Too small rounds to zero (as any parser rounds); too large must not become Inf.
      if (underflows(body)) return body.front() == '-' ? -T(0) : T(0);
      char largest[32];
      const auto [largest_end, largest_ec] =
          std::to_chars(std::begin(largest), std::end(largest), std::numeric_limits<T>::max());
      (void)largest_ec;
      fail(line, column,
           printable(cell) + " is out of range for " + std::string(scalar_name<T>) + " (largest finite magnitude " +
               std::string(std::begin(largest), largest_end) + ")");
    }
    if (ec != std::errc{} || ptr != body_end) {
      fail(line, column, "cannot parse " + printable(cell) + " as a number");
    }
    if (!allow_non_finite_ && !std::isfinite(value)) {
      fail(line, column, "non-finite value " + printable(cell) + " (set allow_non_finite to accept NaN and Inf)");
    }
    return value;
  }

  Label read_label(Index column) {
    const std::size_t field_line = line_;
    return parse_label(read_field(column), field_line, column);
  }

  // Labels are integers; "1.0" and "1e0" are accepted because some tools write
  // integer columns as floating point.
  Label parse_label(std::string_view cell, std::size_t line, Index column) {
    cell = trim(cell);
    if (cell.empty()) fail(line, column, "empty label (labels must be integers such as 0 and 1)");
    const std::string_view body = without_plus(cell);
    if (!body.empty()) {
      const char* body_end = body.data() + body.size();
      Label label = 0;
      const auto [ptr, ec] = std::from_chars(body.data(), body_end, label);
      if (ec == std::errc{} && ptr == body_end) return label;
      double value = 0;
      const auto [real_ptr, real_ec] = std::from_chars(body.data(), body_end, value);
      if (real_ptr == body_end && (real_ec == std::errc{} || real_ec == std::errc::result_out_of_range)) {
        constexpr double limit = 9223372036854775808.0;  // 2^63
        if (real_ec == std::errc{} && std::isfinite(value) && value == std::trunc(value) && value >= -limit &&
            value < limit) {
          return static_cast<Label>(value);
        }
        fail(line, column, "label " + printable(cell) + " is not an integer in the 64-bit range");
      }
    }
    fail(line, column, "cannot parse " + printable(cell) + " as an integer label");
  }

  [[nodiscard]] std::string_view trim(std::string_view text) const {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
  }

  // "+1.5" -> "1.5"; "+-1" and "++1" -> "" (rejected).
  static std::string_view without_plus(std::string_view text) {
    if (text.empty() || text.front() != '+') return text;
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) return {};
    return text;
  }

  static std::string fields(Index count) { return std::to_string(count) + (count == 1 ? " field" : " fields"); }

  void fail_extra_fields(Index columns) {
    const std::size_t line = line_;
    Index count = columns;
    while (p_ < end_ && *p_ == delimiter_) {
      ++p_;
      read_field(count);
      ++count;
    }
    fail(line, columns, "extra value: the row has " + fields(count) + ", the header has " + std::to_string(columns));
  }

  [[noreturn]] void fail(std::size_t line, Index column, const std::string& what) const {
    std::string text(source_);
    text += " line " + std::to_string(line) + ", column " + std::to_string(column + 1);
    if (column >= 0 && static_cast<std::size_t>(column) < names_.size()) {
      text += " (" + printable(names_[static_cast<std::size_t>(column)]) + ")";
    }
    text += ": " + what;
    raise<data_error>(where_, text);
  }

  [[noreturn]] void fail_line(std::size_t line, const std::string& what) const {
    raise<data_error>(where_, std::string(source_) + " line " + std::to_string(line) + " " + what);
  }

  const char* p_;
  const char* end_;
  std::size_t line_ = 1;
  char delimiter_;
  bool allow_non_finite_;
  std::string_view where_;
  std::string_view source_;
  std::vector<std::string> names_;
  std::string scratch_;
};

}  // namespace redflag::detail::csv
