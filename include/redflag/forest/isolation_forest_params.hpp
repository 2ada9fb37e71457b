#pragma once

// The parameter vocabulary of IsolationForest: scikit-learn's "auto", the
// missing-value policy, the two split policies, and the checks of input
// values those imply.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <cereal/cereal.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace redflag {

// What a model does with NaN in its input.
enum class MissingPolicy : std::uint8_t {
  reject,  // data_error naming the row and column (scikit-learn's behaviour)
  route,   // fit: a row missing the split value follows the larger branch;
           // score: it descends both branches, weighted by training rows
};

// Split policy of the classic Isolation Forest: one column per split, a
// threshold for numeric columns, a category subset for categorical ones.
struct AxisParallel {
  friend bool operator==(AxisParallel, AxisParallel) = default;
};

// Split policy of the Extended Isolation Forest: random hyperplanes through
// extension_level + 1 of the tree's columns. Level 0 cuts parallel to the
// axes; auto = fully extended (the tree's column count - 1), as the paper
// recommends. Hyperplanes mix columns, so put them on comparable scales.
struct Hyperplane {
  std::variant<Auto, Index> extension_level = Auto{};
  friend bool operator==(const Hyperplane&, const Hyperplane&) = default;

  // Non-zero coordinates of each normal vector, given the tree's columns.
  [[nodiscard]] Index terms(Index tree_columns, std::string_view where) const {
    const auto* level = std::get_if<Index>(&extension_level);
    if (level == nullptr) return tree_columns;
    if (*level < 0 || *level >= tree_columns) {
      detail::raise<invalid_argument>(where, "extension_level must be in [0, " + std::to_string(tree_columns - 1) +
                                                 "] (columns per tree - 1), got " + std::to_string(*level));
    }
    return *level + 1;
  }
};

namespace detail::forest {

// Categories are codes in [0, max_category_code] (stored as code * 2 + side).
inline constexpr double max_category_code = 2147483647.0;

inline Index resolve_max_features(const std::variant<Index, double>& setting, Index d, std::string_view where) {
  if (const auto* count = std::get_if<Index>(&setting)) {
    if (*count > d) {
      raise<invalid_argument>(where, "max_features must be in [1, " + std::to_string(d) +
                                         "] (the number of columns), got " + std::to_string(*count));
    }
    return *count;
  }
  // scikit-learn: max(1, int(max_features * n_features)).
  return std::max<Index>(1, static_cast<Index>(std::get<double>(setting) * static_cast<double>(d)));
}

// Infinities are always an error; NaN unless the policy routes it; a
// categorical column holds whole codes in [0, max_category_code].
template <Scalar T>
void check_values(const MatrixRef<T>& X, const Schema& schema, MissingPolicy missing, std::string_view where) {
  bool categorical = false;
  for (const Column& column : schema.columns()) categorical |= column.kind == ColumnKind::categorical;
  // Cell by cell only when some value is non-finite or codes need checking.
  if (!categorical && all_finite(X)) return;
  for (Index row = 0; row < X.rows(); ++row) {
    for (Index col = 0; col < X.cols(); ++col) {
      const double value = static_cast<double>(X(row, col));
      const auto cell = [&] { return " at row " + std::to_string(row) + ", column " + std::to_string(col); };
      if (std::isnan(value)) {
        if (missing == MissingPolicy::reject) {
          raise<data_error>(where, "X has NaN" + cell() + " (set missing = MissingPolicy::route to accept NaN)");
        }
        continue;
      }
      if (!std::isfinite(value))
        raise<data_error>(where, "X has " + format_number(value) + cell() + " (finite values required)");
      if (schema.columns()[static_cast<std::size_t>(col)].kind == ColumnKind::categorical &&
          (value < 0 || value > max_category_code || value != std::floor(value))) {
        raise<data_error>(where, "X has " + format_number(value) + cell() + ", categorical column '" +
                                     schema.columns()[static_cast<std::size_t>(col)].name +
                                     "' needs whole codes in [0, 2147483647]");
      }
    }
  }
}

// Variants as a kind code plus value, so files need no variant support.
// Version 1 had neither `missing` nor a split policy.
template <class Archive, class Params>
void serialize_params(Archive& archive, Params& params, std::uint32_t version) {
  constexpr bool loading = Archive::is_loading::value;
  auto max_samples_kind = static_cast<std::uint8_t>(params.max_samples.index());
  Index max_samples_count = 0;
  double max_samples_fraction = 0.0;
  if (const auto* count = std::get_if<Index>(&params.max_samples)) max_samples_count = *count;
  if (const auto* fraction = std::get_if<double>(&params.max_samples)) max_samples_fraction = *fraction;
  auto contamination_kind = static_cast<std::uint8_t>(params.contamination.index());
  double contamination = 0.0;
  if (const auto* fraction = std::get_if<double>(&params.contamination)) contamination = *fraction;
  auto max_features_kind = static_cast<std::uint8_t>(params.max_features.index());
  Index max_features_count = 0;
  double max_features_fraction = 0.0;
  if (const auto* count = std::get_if<Index>(&params.max_features)) max_features_count = *count;
  if (const auto* fraction = std::get_if<double>(&params.max_features)) max_features_fraction = *fraction;
  archive(cereal::make_nvp("n_estimators", params.n_estimators), cereal::make_nvp("max_samples_kind", max_samples_kind),
          cereal::make_nvp("max_samples_count", max_samples_count),
          cereal::make_nvp("max_samples_fraction", max_samples_fraction),
          cereal::make_nvp("contamination_kind", contamination_kind), cereal::make_nvp("contamination", contamination),
          cereal::make_nvp("max_features_kind", max_features_kind),
          cereal::make_nvp("max_features_count", max_features_count),
          cereal::make_nvp("max_features_fraction", max_features_fraction),
          cereal::make_nvp("bootstrap", params.bootstrap), cereal::make_nvp("random_state", params.random_state));
  auto missing = static_cast<std::uint8_t>(params.missing);
  std::uint8_t extension_kind = 0;
  Index extension_level = 0;
  if constexpr (requires { params.split.extension_level; }) {
    extension_kind = static_cast<std::uint8_t>(params.split.extension_level.index());
    if (const auto* level = std::get_if<Index>(&params.split.extension_level)) extension_level = *level;
  }
  if (version >= 2) {
    archive(cereal::make_nvp("missing", missing), cereal::make_nvp("extension_level_kind", extension_kind),
            cereal::make_nvp("extension_level", extension_level));
  }
  if constexpr (loading) {
    const auto fail = [](const std::string& what) { throw serialization_error("redflag::load: " + what); };
    if (max_samples_kind > 2) fail("max_samples kind " + std::to_string(max_samples_kind) + " is unknown");
    if (contamination_kind > 1) fail("contamination kind " + std::to_string(contamination_kind) + " is unknown");
    if (max_features_kind > 1) fail("max_features kind " + std::to_string(max_features_kind) + " is unknown");
    if (missing > 1) fail("missing-value policy " + std::to_string(missing) + " is unknown");
    if (extension_kind > 1) fail("extension_level kind " + std::to_string(extension_kind) + " is unknown");
    if (max_samples_kind == 0) params.max_samples = Auto{};
    if (max_samples_kind == 1) params.max_samples = max_samples_count;
    if (max_samples_kind == 2) params.max_samples = max_samples_fraction;
    if (contamination_kind == 0) params.contamination = Auto{};
    if (contamination_kind == 1) params.contamination = contamination;
    if (max_features_kind == 0) params.max_features = max_features_count;
    if (max_features_kind == 1) params.max_features = max_features_fraction;
    params.missing = static_cast<MissingPolicy>(missing);
    if constexpr (requires { params.split.extension_level; }) {
      if (extension_kind == 0) params.split.extension_level = Auto{};
      else params.split.extension_level = extension_level;
    }
  }
}

}  // namespace detail::forest
}  // namespace redflag
