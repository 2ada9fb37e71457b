#pragma once

// Reading an OHLCV CSV with a text timestamp column.
//
// redflag::read_csv reads numeric columns only, so the prices and volumes
// come from it (with its line- and column-precise errors) and the timestamps,
// which the report shows as they are written, from a one-column scan of the
// same file here.

#include <redflag/core/error.hpp>
#include <redflag/io/csv.hpp>
#include <redflag/timeseries/ohlcv.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace market {

struct Bars {
  std::vector<std::string> timestamps;  // as written in the file; ISO dates sort as text
  redflag::Matrix<float> ohlcv;         // one row per bar: open, high, low, close, volume
};

namespace csv_text {

inline std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  return text;
}

// Field `column` of a comma-separated line without quoted commas.
inline std::string_view field(std::string_view line, std::size_t column) {
  for (std::size_t c = 0; c < column; ++c) {
    const auto comma = line.find(',');
    if (comma == std::string_view::npos) return {};
    line.remove_prefix(comma + 1);
  }
  return trim(line.substr(0, line.find(',')));
}

}  // namespace csv_text

// Bars of `path`: columns open, high, low, close, volume (any order, any
// other columns ignored) and a `timestamp` column of strictly increasing
// text timestamps. Throws redflag::data_error naming the file and what is wrong.
// validate_ohlcv then rejects non-positive prices, negative volumes and
// high < low (an open or close outside [low, high] is accepted: the bundled
// series has two such bars, 2015-03-05 and 2015-03-30, as Yahoo printed them).
inline Bars read_bars(const std::filesystem::path& path) {
  const auto fail = [](const std::string& what) { throw redflag::data_error("read_bars: " + what); };
  const std::string name = path.string();
  Bars bars;
  bars.ohlcv = redflag::read_csv<float>(path, {.columns = {"open", "high", "low", "close", "volume"}}).values;

  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < content.size();) {
    const auto end = std::min(content.find('\n', start), content.size());
    lines.emplace_back(content.data() + start, end - start);
    start = end + 1;
  }
  while (!lines.empty() && csv_text::trim(lines.back()).empty()) lines.pop_back();
  std::string_view header = lines.front();
  if (header.starts_with("\xEF\xBB\xBF")) header.remove_prefix(3);  // UTF-8 byte order mark
  const auto columns = static_cast<std::size_t>(std::count(header.begin(), header.end(), ',')) + 1;
  std::size_t column = 0;
  while (column < columns && csv_text::field(header, column) != "timestamp") ++column;
  if (column == columns) fail(name + " has no 'timestamp' column");
  if (lines.size() - 1 != static_cast<std::size_t>(bars.ohlcv.rows())) {
    fail(name + ": " + std::to_string(lines.size() - 1) + " data lines but " + std::to_string(bars.ohlcv.rows()) +
         " rows (quoted line breaks are not supported here)");
  }
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string timestamp(csv_text::field(lines[i], column));
    if (timestamp.empty()) {
      fail(name + " line " + std::to_string(i + 1) + ": empty timestamp");
    }
    if (!bars.timestamps.empty() && !(bars.timestamps.back() < timestamp)) {
      fail(name + " line " + std::to_string(i + 1) + ": timestamp '" + timestamp + "' does not come after '" +
           bars.timestamps.back() + "' (bars must be in time order)");
    }
    bars.timestamps.push_back(std::move(timestamp));
  }
  redflag::validate_ohlcv(bars.ohlcv, "read_bars: " + name);
  return bars;
}

}  // namespace market
