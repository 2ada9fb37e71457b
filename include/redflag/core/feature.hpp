#pragma once

// The Feature concept and FeatureSet.
//
// A feature maps a host's record (a transaction, a bar, a customer) to one or
// more numeric columns and declares each column's name and kind. It may keep
// or consult per-entity state (a running mean per card, the last event time
// per account): such a *stateful* feature has a non-const extract(). A
// FeatureSet composes features and writes one row per record into a matrix,
// without allocating per record, and exposes the columns as a Schema that
// models record at fit time.
//
//   struct LogAmount {
//     static constexpr std::size_t width = 1;
//     std::array<FeatureColumn, 1> columns() const { return {{{"log_amount"}}}; }
//     void extract(const Transaction& t, std::span<double, 1> out) const {
//       out[0] = std::log1p(t.amount);
//     }
//   };

#include <redflag/core/error.hpp>
#include <redflag/core/phrase.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace redflag {

// A column declared by a feature. The name may point into the feature object
// (features with configurable names); FeatureSet copies it into its Schema,
// and the phrase (how the column reads in explanations) into its Phrasebook.
struct FeatureColumn {
  std::string_view name;
  ColumnKind kind = ColumnKind::numeric;
  ColumnPhrase phrase{};
};

template <class F, class Record>
concept Feature =
    // width must be a static constant expression; checked in steps so that a
    // non-static or non-constexpr width fails the concept, not the compilation.
    requires {
  &F::width;
}
&&!std::is_member_pointer_v<decltype(&F::width)> && requires { typename std::integral_constant<std::size_t, F::width>; }
&&(F::width > 0) && requires(const F& feature) {
  { feature.columns() } -> std::convertible_to<std::array<FeatureColumn, F::width>>;
}
&&(
    requires(const F& feature, const Record& record, std::span<double, F::width> out) {
      feature.extract(record, out);
    } ||
    requires(F & feature, const Record& record, std::span<double, F::width> out) { feature.extract(record, out); });

// A feature whose extract() reads and updates state, so it needs a mutable object.
template <class F, class Record>
concept StatefulFeature =
    Feature<F, Record> && !requires(const F& feature, const Record& record, std::span<double, F::width> out) {
  feature.extract(record, out);
};

// A one-column stateless feature from a name and a function of the record:
//   auto log_amount = make_feature<Transaction>("log_amount", [](const Transaction& t) {
//     return std::log1p(t.amount); });
template <class Record, class Function>
  requires std::is_invocable_r_v<double, const Function&, const Record&>
class FunctionFeature {
 public:
  static constexpr std::size_t width = 1;

  FunctionFeature(std::string name, Function function, ColumnKind kind = ColumnKind::numeric)
      : name_(std::move(name)), function_(std::move(function)), kind_(kind) {}

  [[nodiscard]] std::array<FeatureColumn, 1> columns() const { return {{{name_, kind_}}}; }

  void extract(const Record& record, std::span<double, 1> out) const {
    out[0] = static_cast<double>(std::invoke(function_, record));
  }

 private:
  std::string name_;
  Function function_;
  ColumnKind kind_;
};

template <class Record, class Function>
auto make_feature(std::string name, Function function, ColumnKind kind = ColumnKind::numeric) {
  return FunctionFeature<Record, Function>(std::move(name), std::move(function), kind);
}

template <class Record, class... Features>
  requires(sizeof...(Features) > 0 && (Feature<Features, Record> && ...))
class FeatureSet {
 public:
  static constexpr std::size_t width = (std::size_t{Features::width} + ...);
  static constexpr bool stateful = (StatefulFeature<Features, Record> || ...);

  explicit FeatureSet(Features... features) : features_(std::move(features)...) {
    std::vector<Column> columns;
    columns.reserve(width);
    std::apply([&](const auto&... feature) { (append_columns(feature, columns, phrasebook_), ...); }, features_);
    std::unordered_set<std::string> seen;
    for (const Column& column : columns) {
      if (column.name.empty()) {
        detail::raise<invalid_argument>("FeatureSet::FeatureSet", "a feature declares a column with an empty name");
      }
      if (!seen.insert(column.name).second) {
        detail::raise<invalid_argument>("FeatureSet::FeatureSet",
                                        "two features declare the column '" + column.name + "'");
      }
    }
    schema_ = Schema(std::move(columns));
  }

  [[nodiscard]] const Schema& schema() const { return schema_; }
  // The columns' phrases, for RiskDecider and RulesEngine explanations.
  [[nodiscard]] const Phrasebook& phrasebook() const { return phrasebook_; }
  [[nodiscard]] const std::tuple<Features...>& features() const { return features_; }
  [[nodiscard]] std::tuple<Features...>& features() { return features_; }

  // Writes the record's columns into `row` (exactly `width` values).
  template <Scalar T>
  void write_row(const Record& record, std::span<T> row) {
    write_row_impl(*this, record, row);
  }
  template <Scalar T>
  void write_row(const Record& record, std::span<T> row) const requires(!stateful) {
    write_row_impl(*this, record, row);
  }

  // One row per record, in order. Stateful features see the records in that order.
  template <Scalar T>
  void transform_into(std::span<const Record> records, Eigen::Ref<Matrix<T>> out) {
    transform_into_impl(*this, records, out);
  }
  template <Scalar T>
  void transform_into(std::span<const Record> records, Eigen::Ref<Matrix<T>> out) const requires(!stateful) {
    transform_into_impl(*this, records, out);
  }

  template <Scalar T>
  Matrix<T> transform(std::span<const Record> records) {
    Matrix<T> out(static_cast<Index>(records.size()), static_cast<Index>(width));
    transform_into<T>(records, out);
    return out;
  }
  template <Scalar T>
  Matrix<T> transform(std::span<const Record> records) const requires(!stateful) {
    Matrix<T> out(static_cast<Index>(records.size()), static_cast<Index>(width));
    transform_into<T>(records, out);
    return out;
  }

  // A 1 x width matrix for a single record (real-time scoring).
  template <Scalar T>
  Matrix<T> transform_one(const Record& record) {
    return transform<T>(std::span<const Record>(&record, 1));
  }
  template <Scalar T>
  Matrix<T> transform_one(const Record& record) const requires(!stateful) {
    return transform<T>(std::span<const Record>(&record, 1));
  }

 private:
  template <class F>
  static void append_columns(const F& feature, std::vector<Column>& columns, Phrasebook& phrasebook) {
    for (const FeatureColumn& column : feature.columns()) {
      validate_phrase(column.name, column.phrase, "FeatureSet::FeatureSet");
      columns.push_back({std::string(column.name), column.kind});
      phrasebook.add(std::string(column.name), column.phrase);
    }
  }

  // Shared by the const and non-const overloads: `self` is const only when
  // every feature is stateless.
  template <class Self, Scalar T>
  static void write_row_impl(Self& self, const Record& record, std::span<T> row) {
    if (row.size() != width) {
      detail::raise<invalid_argument>("FeatureSet::write_row", "row has " + std::to_string(row.size()) +
                                                                   " values, expected " + std::to_string(width));
    }
    std::array<double, width> values{};
    std::size_t offset = 0;
    std::apply(
        [&](auto&... feature) {
          ((feature.extract(record, std::span<double, std::remove_cvref_t<decltype(feature)>::width>(
                                        values.data() + offset, std::remove_cvref_t<decltype(feature)>::width)),
            offset += std::remove_cvref_t<decltype(feature)>::width),
           ...);
        },
        self.features_);
    for (std::size_t i = 0; i < width; ++i) row[i] = static_cast<T>(values[i]);
  }

  template <class Self, Scalar T>
  static void transform_into_impl(Self& self, std::span<const Record> records, Eigen::Ref<Matrix<T>> out) {
    if (out.rows() != static_cast<Index>(records.size()) || out.cols() != static_cast<Index>(width)) {
      detail::raise<invalid_argument>("FeatureSet::transform_into", "output is " + std::to_string(out.rows()) + " x " +
                                                                        std::to_string(out.cols()) + ", expected " +
                                                                        std::to_string(records.size()) + " x " +
                                                                        std::to_string(width));
    }
    for (std::size_t i = 0; i < records.size(); ++i) {
      write_row_impl(self, records[i], std::span<T>(out.row(static_cast<Index>(i)).data(), width));
    }
  }

  std::tuple<Features...> features_;
  Schema schema_;
  Phrasebook phrasebook_;
};

// FeatureSet's record type cannot be deduced from the features; name it here:
//   auto features = make_feature_set<Transaction>(LogAmount{}, HourOfDay{});
template <class Record, class... Features>
auto make_feature_set(Features... features) {
  return FeatureSet<Record, Features...>(std::move(features)...);
}

}  // namespace redflag
