#pragma once

// RandomForest's parameters (scikit-learn's RandomForestClassifier names and
// defaults), their checks and their file format. RandomForest<T>::Params is
// this struct, so `RandomForest<double>::Params{.n_estimators = 50}` works.

#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/map.hpp>

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace redflag {

// Split quality: gini = 1 - sum p_k^2; entropy = -sum p_k log2 p_k.
enum class Criterion : std::uint8_t { gini, entropy };

// scikit-learn's max_features = "sqrt" / "log2": max(1, floor(f(columns))).
struct Sqrt {
  friend bool operator==(Sqrt, Sqrt) = default;
};
struct Log2 {
  friend bool operator==(Log2, Log2) = default;
};

// scikit-learn's class_weight = None / "balanced" / "balanced_subsample";
// a std::map<Label, double> gives explicit weights (absent classes weigh 1).
enum class ClassWeight : std::uint8_t { none, balanced, balanced_subsample };

// An Index is a count, a double a fraction (scikit-learn's int / float).
struct RandomForestParams {
  Index n_estimators = 100;  // trees, >= 1
  Criterion criterion = Criterion::gini;
  std::optional<Index> max_depth = std::nullopt;  // none: grow until pure or too small; else >= 1
  // Rows a node needs to be split: a count >= 2 | a fraction in (0, 1] of
  // the training rows, ceil(fraction * n) and at least 2.
  std::variant<Index, double> min_samples_split = Index{2};
  // Rows each side of a split keeps: a count >= 1 | a fraction in (0, 1),
  // ceil(fraction * n).
  std::variant<Index, double> min_samples_leaf = Index{1};
  double min_impurity_decrease = 0.0;                             // >= 0, weighted as in scikit-learn
  std::variant<Sqrt, Log2, Index, double> max_features = Sqrt{};  // count in [1, d] | fraction in (0, 1]
  bool bootstrap = true;
  bool oob_score = false;  // out-of-bag accuracy (needs bootstrap)
  std::optional<std::variant<Index, double>> max_samples =
      std::nullopt;  // bootstrap draws: none = n | count | fraction
  std::variant<ClassWeight, std::map<Label, double>> class_weight = ClassWeight::none;
  // Histogram bins per column for split search, in [2, 256]; a column with
  // at most max_bins distinct values is searched exactly.
  Index max_bins = 255;
  std::uint64_t random_state = 0;
  int n_jobs = 1;  // 1 serial, -1 all cores; not saved with the model

  // Throws invalid_argument naming the first field out of its range. Called
  // by RandomForest's constructor and again by fit, which also checks what
  // depends on the data (max_features <= d, class_weight's classes).
  void validate(std::string_view where = "RandomForest::Params::validate") const;
};

inline void RandomForestParams::validate(std::string_view where) const {
  const RandomForestParams& params = *this;
  using detail::require_parameter;
  require_parameter(params.n_estimators >= 1, where, "n_estimators", ">= 1", params.n_estimators);
  resolve_n_jobs(params.n_jobs, where);
  const auto criterion_code = static_cast<std::uint8_t>(params.criterion);
  require_parameter(criterion_code <= 1, where, "criterion", "gini or entropy", criterion_code);
  if (params.max_depth)
    require_parameter(*params.max_depth >= 1, where, "max_depth", "none or >= 1", *params.max_depth);
  if (const auto* count = std::get_if<Index>(&params.min_samples_split)) {
    require_parameter(*count >= 2, where, "min_samples_split", "a count >= 2 or a fraction in (0, 1]", *count);
  } else {
    const double fraction = std::get<double>(params.min_samples_split);
    require_parameter(fraction > 0.0 && fraction <= 1.0, where, "min_samples_split",
                      "a count >= 2 or a fraction in (0, 1]", fraction);
  }
  if (const auto* count = std::get_if<Index>(&params.min_samples_leaf)) {
    require_parameter(*count >= 1, where, "min_samples_leaf", "a count >= 1 or a fraction in (0, 1)", *count);
  } else {
    const double fraction = std::get<double>(params.min_samples_leaf);
    require_parameter(fraction > 0.0 && fraction < 1.0, where, "min_samples_leaf",
                      "a count >= 1 or a fraction in (0, 1)", fraction);
  }
  require_parameter(std::isfinite(params.min_impurity_decrease) && params.min_impurity_decrease >= 0.0, where,
                    "min_impurity_decrease", "finite and >= 0", params.min_impurity_decrease);
  if (const auto* count = std::get_if<Index>(&params.max_features)) {
    require_parameter(*count >= 1, where, "max_features", "sqrt, log2, a count >= 1 or a fraction in (0, 1]", *count);
  } else if (const auto* fraction = std::get_if<double>(&params.max_features)) {
    require_parameter(*fraction > 0.0 && *fraction <= 1.0, where, "max_features",
                      "sqrt, log2, a count >= 1 or a fraction in (0, 1]", *fraction);
  }
  if (params.max_samples) {
    if (!params.bootstrap) {
      detail::raise<invalid_argument>(where, "max_samples must be none when bootstrap = false");
    }
    if (const auto* count = std::get_if<Index>(&*params.max_samples)) {
      require_parameter(*count >= 1, where, "max_samples", "none, a count >= 1 or a fraction in (0, 1]", *count);
    } else {
      const double fraction = std::get<double>(*params.max_samples);
      require_parameter(fraction > 0.0 && fraction <= 1.0, where, "max_samples",
                        "none, a count >= 1 or a fraction in (0, 1]", fraction);
    }
  }
  require_parameter(params.max_bins >= 2 && params.max_bins <= 256, where, "max_bins", "in [2, 256]", params.max_bins);
  if (params.oob_score && !params.bootstrap) {
    detail::raise<invalid_argument>(where, "oob_score = true needs bootstrap = true");
  }
  if (const auto* kind = std::get_if<ClassWeight>(&params.class_weight)) {
    const auto code = static_cast<std::uint8_t>(*kind);
    require_parameter(code <= 2, where, "class_weight", "none, balanced, balanced_subsample or a map", code);
  } else {
    for (const auto& [label, weight] : std::get<std::map<Label, double>>(params.class_weight)) {
      require_parameter(std::isfinite(weight) && weight >= 0.0, where, "class_weight[" + std::to_string(label) + "]",
                        "finite and >= 0", weight);
    }
  }
}

}  // namespace redflag

namespace redflag::detail::forest {

// Variants as a kind code plus value, so files need no variant support.
// Format 1 held min_samples_split / min_samples_leaf as counts only.
template <class Archive>
void serialize_random_forest_params(Archive& archive, RandomForestParams& params, std::uint32_t version) {
  constexpr bool loading = Archive::is_loading::value;
  auto criterion = static_cast<std::uint8_t>(params.criterion);
  const bool depth_limited = params.max_depth.has_value();
  std::uint8_t has_max_depth = depth_limited ? 1 : 0;
  Index max_depth = depth_limited ? *params.max_depth : 0;
  auto max_features_kind = static_cast<std::uint8_t>(params.max_features.index());
  Index max_features_count = 0;
  double max_features_fraction = 0.0;
  if (const auto* count = std::get_if<Index>(&params.max_features)) max_features_count = *count;
  if (const auto* fraction = std::get_if<double>(&params.max_features)) max_features_fraction = *fraction;
  std::uint8_t max_samples_kind = 0;
  Index max_samples_count = 0;
  double max_samples_fraction = 0.0;
  if (params.max_samples) {
    max_samples_kind = static_cast<std::uint8_t>(params.max_samples->index() + 1);
    if (const auto* count = std::get_if<Index>(&*params.max_samples)) max_samples_count = *count;
    if (const auto* fraction = std::get_if<double>(&*params.max_samples)) max_samples_fraction = *fraction;
  }
  std::uint8_t class_weight_kind = 0;
  std::map<Label, double> class_weights;
  if (const auto* kind = std::get_if<ClassWeight>(&params.class_weight))
    class_weight_kind = static_cast<std::uint8_t>(*kind);
  else {
    class_weight_kind = 3;
    class_weights = std::get<std::map<Label, double>>(params.class_weight);
  }
  // A count, or (format 2) a negative count and the fraction.
  Index split_count = 0;
  double split_fraction = 0.0;
  Index leaf_count = 0;
  double leaf_fraction = 0.0;
  if constexpr (!loading) {
    if (const auto* count = std::get_if<Index>(&params.min_samples_split)) split_count = *count;
    else split_count = -1, split_fraction = std::get<double>(params.min_samples_split);
    if (const auto* count = std::get_if<Index>(&params.min_samples_leaf)) leaf_count = *count;
    else leaf_count = -1, leaf_fraction = std::get<double>(params.min_samples_leaf);
  }
  archive(cereal::make_nvp("n_estimators", params.n_estimators), cereal::make_nvp("criterion", criterion),
          cereal::make_nvp("has_max_depth", has_max_depth), cereal::make_nvp("max_depth", max_depth),
          cereal::make_nvp("min_samples_split", split_count), cereal::make_nvp("min_samples_leaf", leaf_count));
  if (version >= 2) {
    archive(cereal::make_nvp("min_samples_split_fraction", split_fraction),
            cereal::make_nvp("min_samples_leaf_fraction", leaf_fraction));
  }
  archive(cereal::make_nvp("min_impurity_decrease", params.min_impurity_decrease),
          cereal::make_nvp("max_features_kind", max_features_kind),
          cereal::make_nvp("max_features_count", max_features_count),
          cereal::make_nvp("max_features_fraction", max_features_fraction),
          cereal::make_nvp("bootstrap", params.bootstrap), cereal::make_nvp("oob_score", params.oob_score),
          cereal::make_nvp("max_samples_kind", max_samples_kind),
          cereal::make_nvp("max_samples_count", max_samples_count),
          cereal::make_nvp("max_samples_fraction", max_samples_fraction),
          cereal::make_nvp("class_weight_kind", class_weight_kind), cereal::make_nvp("class_weights", class_weights),
          cereal::make_nvp("max_bins", params.max_bins), cereal::make_nvp("random_state", params.random_state));
  if constexpr (loading) {
    const auto fail = [](const std::string& what) { throw serialization_error("redflag::load: " + what); };
    if (criterion > 1) fail("criterion " + std::to_string(criterion) + " is unknown");
    if (has_max_depth > 1) fail("has_max_depth " + std::to_string(has_max_depth) + " is not 0 or 1");
    if (max_features_kind > 3) fail("max_features kind " + std::to_string(max_features_kind) + " is unknown");
    if (max_samples_kind > 2) fail("max_samples kind " + std::to_string(max_samples_kind) + " is unknown");
    if (class_weight_kind > 3) fail("class_weight kind " + std::to_string(class_weight_kind) + " is unknown");
    if (version < 2 && (split_count < 0 || leaf_count < 0)) fail("min_samples_split or min_samples_leaf is negative");
    params.min_samples_split =
        split_count < 0 ? std::variant<Index, double>(split_fraction) : std::variant<Index, double>(split_count);
    params.min_samples_leaf =
        leaf_count < 0 ? std::variant<Index, double>(leaf_fraction) : std::variant<Index, double>(leaf_count);
    params.criterion = static_cast<Criterion>(criterion);
    params.max_depth = has_max_depth == 1 ? std::optional<Index>(max_depth) : std::nullopt;
    if (max_features_kind == 0) params.max_features = Sqrt{};
    if (max_features_kind == 1) params.max_features = Log2{};
    if (max_features_kind == 2) params.max_features = max_features_count;
    if (max_features_kind == 3) params.max_features = max_features_fraction;
    params.max_samples = std::nullopt;
    if (max_samples_kind == 1) params.max_samples = std::variant<Index, double>(max_samples_count);
    if (max_samples_kind == 2) params.max_samples = std::variant<Index, double>(max_samples_fraction);
    if (class_weight_kind == 3) params.class_weight = std::move(class_weights);
    else params.class_weight = static_cast<ClassWeight>(class_weight_kind);
  }
}

}  // namespace redflag::detail::forest
