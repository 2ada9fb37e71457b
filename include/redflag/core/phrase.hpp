#pragma once

// ColumnPhrase: how a column reads in an explanation, declared next to the
// column itself, so a risk decision or a fired rule speaks the pipeline's
// language ("cash 12.4 points above the model's weight") whatever the record.
//
//   FeatureColumn{"time_since_last", ColumnKind::numeric,
//                 {.text = "{value} s since the previous transaction", .digits = 0, .inverse = undo_log1p}}
//
// A phrase is a template with the placeholders {name} (the column's name),
// {value} (the value, after `inverse`) and {percent} (100 x that value), or a
// function for wording that depends on the value. A Phrasebook collects the
// phrases of a set of columns by name; FeatureSet::phrasebook() builds one.

#include <redflag/core/error.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag {

// The inverse of std::log1p, for a column that stores ln(1 + x).
inline double undo_log1p(double value) { return std::expm1(value); }

struct ColumnPhrase {
  std::string text{};                       // empty and no `format`: the column has no phrase
  int digits = -1;                          // digits after the point for {value} and {percent}; -1: as few as needed
  double (*inverse)(double) = nullptr;      // applied to the value first (undo_log1p for a log column)
  std::string (*format)(double) = nullptr;  // wording that depends on the value; wins over `text`

  [[nodiscard]] bool empty() const { return text.empty() && format == nullptr; }
};

// 12500, 0.25, -3.5 with digits = -1 (at most six decimals, trailing zeros
// dropped); fixed notation otherwise.
inline std::string format_number(double value, int digits = -1) {
  std::array<char, 64> buffer{};
  if (!std::isfinite(value)) return std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
  if (digits >= 0) {
    const int written = std::snprintf(buffer.data(), buffer.size(), "%.*f", digits, value);
    return std::string(buffer.data(), written > 0 ? static_cast<std::size_t>(written) : 0);
  }
  if (std::abs(value) < 1e15 && value == std::floor(value)) return std::to_string(static_cast<long long>(value));
  const int written = std::snprintf(buffer.data(), buffer.size(), "%.6f", value);
  std::string text(buffer.data(), written > 0 ? static_cast<std::size_t>(written) : 0);
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

namespace detail {

inline constexpr std::array<std::string_view, 3> phrase_placeholders = {"name", "value", "percent"};

// Calls on_text(literal) and on_placeholder(name) along `text`; false at an
// unbalanced brace or an unknown placeholder (its name in `bad`).
template <class OnText, class OnPlaceholder>
bool walk_phrase(std::string_view text, OnText on_text, OnPlaceholder on_placeholder, std::string* bad = nullptr) {
  std::size_t position = 0;
  while (position < text.size()) {
    const std::size_t open = text.find_first_of("{}", position);
    if (open == std::string_view::npos) {
      on_text(text.substr(position));
      return true;
    }
    if (text[open] == '}') {
      if (bad) *bad = "}";
      return false;
    }
    on_text(text.substr(position, open - position));
    const std::size_t close = text.find('}', open);
    if (close == std::string_view::npos) {
      if (bad) *bad = std::string(text.substr(open));
      return false;
    }
    const std::string_view name = text.substr(open + 1, close - open - 1);
    bool known = false;
    for (const std::string_view placeholder : phrase_placeholders) known = known || placeholder == name;
    if (!known) {
      if (bad) *bad = "{" + std::string(name) + "}";
      return false;
    }
    on_placeholder(name);
    position = close + 1;
  }
  return true;
}

}  // namespace detail

// Throws invalid_argument naming the column if the phrase's template has an
// unknown placeholder or an unbalanced brace, or digits is out of [-1, 12].
inline void validate_phrase(std::string_view column, const ColumnPhrase& phrase, std::string_view where) {
  std::string bad;
  if (!detail::walk_phrase(
          phrase.text, [](std::string_view) {}, [](std::string_view) {}, &bad)) {
    detail::raise<invalid_argument>(
        where, "column '" + std::string(column) + "': phrase \"" + phrase.text + "\" has " +
                   (bad.size() == 1 ? "an unbalanced '" + bad + "'" : "an unknown placeholder " + bad) +
                   " (known: {name}, {value}, {percent})");
  }
  if (phrase.digits < -1 || phrase.digits > 12) {
    detail::raise<invalid_argument>(where, "column '" + std::string(column) + "': phrase digits must be in [-1, 12]");
  }
}

// The phrase's words for `value`; "name value" for a column without one.
inline std::string phrase_column(std::string_view name, const ColumnPhrase& phrase, double value) {
  const double shown = phrase.inverse ? phrase.inverse(value) : value;
  if (phrase.format) return phrase.format(shown);
  if (phrase.text.empty()) return std::string(name) + " " + format_number(shown, phrase.digits);
  std::string out;
  detail::walk_phrase(
      phrase.text, [&](std::string_view literal) { out.append(literal); },
      [&](std::string_view placeholder) {
        if (placeholder == "name") out.append(name);
        if (placeholder == "value") out += format_number(shown, phrase.digits);
        if (placeholder == "percent") out += format_number(100.0 * shown, phrase.digits);
      });
  return out;
}

// Phrases by column name. Columns without a phrase are not kept.
class Phrasebook {
 public:
  Phrasebook() = default;

  // Throws invalid_argument for a malformed phrase (validate_phrase).
  Phrasebook& add(std::string column, ColumnPhrase phrase) {
    if (phrase.empty()) return *this;
    validate_phrase(column, phrase, "Phrasebook::add");
    for (auto& entry : entries_) {
      if (entry.first == column) {
        entry.second = std::move(phrase);
        return *this;
      }
    }
    entries_.emplace_back(std::move(column), std::move(phrase));
    return *this;
  }

  // The column's phrase, or nullptr.
  [[nodiscard]] const ColumnPhrase* find(std::string_view column) const {
    for (const auto& entry : entries_) {
      if (entry.first == column) return &entry.second;
    }
    return nullptr;
  }

  // The column's words for `value`: its phrase, or "name value".
  [[nodiscard]] std::string describe(std::string_view column, double value) const {
    const ColumnPhrase* phrase = find(column);
    return phrase_column(column, phrase ? *phrase : ColumnPhrase{}, value);
  }

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] bool empty() const { return entries_.empty(); }

 private:
  std::vector<std::pair<std::string, ColumnPhrase>> entries_;
};

}  // namespace redflag
