#pragma once

// Schema: the names and kinds of a model's input columns. A model records the
// schema it was fitted on and checks later input against it, so a pipeline
// that reorders or drops a feature fails loudly instead of scoring garbage.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag {

enum class ColumnKind : std::uint8_t {
  numeric,            // a measured quantity (amount, z-score, ratio)
  categorical,        // an integer code with no order (merchant category, country)
  timestamp_derived,  // derived from a time stamp (hour sine, seconds since last event)
};

constexpr std::string_view to_string(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::numeric: return "numeric";
    case ColumnKind::categorical: return "categorical";
    case ColumnKind::timestamp_derived: return "timestamp_derived";
  }
  return "unknown";
}

struct Column {
  std::string name;
  ColumnKind kind = ColumnKind::numeric;

  friend bool operator==(const Column&, const Column&) = default;

  template <class Archive>
  void serialize(Archive& archive) {
    auto kind_code = static_cast<std::uint8_t>(kind);
    archive(cereal::make_nvp("name", name), cereal::make_nvp("kind", kind_code));
    if (kind_code > static_cast<std::uint8_t>(ColumnKind::timestamp_derived)) {
      throw serialization_error("redflag::load: column '" + name + "' has unknown kind code " +
                                std::to_string(kind_code));
    }
    kind = static_cast<ColumnKind>(kind_code);
  }
};

class Schema {
 public:
  Schema() = default;
  explicit Schema(std::vector<Column> columns) : columns_(std::move(columns)) {}
  Schema(std::initializer_list<Column> columns) : columns_(columns) {}

  // Numeric columns named x0, x1, ... — the schema of a bare matrix.
  static Schema numeric(Index count) {
    std::vector<Column> columns;
    columns.reserve(static_cast<std::size_t>(count));
    for (Index i = 0; i < count; ++i) {
      std::string name = "x";
      name += std::to_string(i);
      columns.push_back({std::move(name), ColumnKind::numeric});
    }
    return Schema(std::move(columns));
  }

  static Schema from_names(const std::vector<std::string>& names) {
    std::vector<Column> columns;
    columns.reserve(names.size());
    for (const auto& name : names) columns.push_back({name, ColumnKind::numeric});
    return Schema(std::move(columns));
  }

  [[nodiscard]] Index size() const { return static_cast<Index>(columns_.size()); }
  [[nodiscard]] bool empty() const { return columns_.empty(); }
  [[nodiscard]] const Column& operator[](Index i) const { return columns_[static_cast<std::size_t>(i)]; }
  [[nodiscard]] const std::vector<Column>& columns() const { return columns_; }
  [[nodiscard]] auto begin() const { return columns_.begin(); }
  [[nodiscard]] auto end() const { return columns_.end(); }

  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> result;
    result.reserve(columns_.size());
    for (const auto& column : columns_) result.push_back(column.name);
    return result;
  }

  // Position of the column called `name`, or -1.
  [[nodiscard]] Index find(std::string_view name) const {
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      if (columns_[i].name == name) return static_cast<Index>(i);
    }
    return -1;
  }

  // Throws schema_mismatch unless a matrix with `count` columns fits this schema.
  void require_columns(Index count, std::string_view where) const {
    if (count != size()) {
      detail::raise<schema_mismatch>(where, "input has " + std::to_string(count) + " columns, expected " +
                                                std::to_string(size()) + " (" + describe() + ")");
    }
  }

  // Throws schema_mismatch naming the first column whose name or kind differs.
  void require_same(const Schema& got, std::string_view where) const {
    require_columns(got.size(), where);
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const Column& expected = columns_[i];
      const Column& actual = got.columns_[i];
      if (expected.name != actual.name || expected.kind != actual.kind) {
        detail::raise<schema_mismatch>(where, "column " + std::to_string(i) + ": expected '" + expected.name + "' (" +
                                                  std::string(to_string(expected.kind)) + "), got '" + actual.name +
                                                  "' (" + std::string(to_string(actual.kind)) + ")");
      }
    }
  }

  // "amount, hour_sin, hour_cos" — shortened after eight names.
  [[nodiscard]] std::string describe() const {
    std::string text;
    const std::size_t shown = std::min<std::size_t>(columns_.size(), 8);
    for (std::size_t i = 0; i < shown; ++i) {
      if (i > 0) text += ", ";
      text += columns_[i].name;
    }
    if (columns_.size() > shown) text += ", ... (" + std::to_string(columns_.size()) + " in all)";
    return text;
  }

  friend bool operator==(const Schema&, const Schema&) = default;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(cereal::make_nvp("columns", columns_));
  }

 private:
  std::vector<Column> columns_;
};

}  // namespace redflag
