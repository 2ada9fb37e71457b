#pragma once

// IsolationForest: the unsupervised anomaly detector of Liu, Ting & Zhou
// (ICDM 2008) with scikit-learn's parameters and defaults. Each tree isolates
// a random subsample with random axis-parallel splits; anomalies are isolated
// in fewer splits, so their average path length E[h(x)] is short and
//   anomaly_score(x) = 2^(-E[h(x)] / c(max_samples))   in (0, 1],
// higher = more anomalous (scikit-learn's score_samples is its negative).
//
// Tree t draws from Random::stream(random_state, t); trees are fitted in
// parallel over trees and rows are scored in parallel over fixed blocks, each
// row summing its trees' path lengths in tree order, so models and scores are
// bit-identical for any n_jobs. See docs/isolation-forest.md.

#include <redflag/core/concepts.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/isolation_tree.hpp>
#include <redflag/metrics/thresholds.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/vector.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace redflag {

// scikit-learn's "auto" for a parameter: `.max_samples = redflag::Auto{}`.
struct Auto {
  friend bool operator==(Auto, Auto) = default;
};

template <Scalar T>
class IsolationForest {
 public:
  using scalar_type = T;
  using Node = detail::forest::IsolationNode<T>;

  // An Index is a count, a double a fraction — scikit-learn's int / float
  // distinction: `.max_samples = 512`, `.max_samples = 0.5`, `.max_features = 3`.
  struct Params {
    Index n_estimators = 100;  // trees, >= 1
    // Rows per tree: auto = min(256, n) | count >= 2 (clipped to n) | fraction in (0, 1].
    std::variant<Auto, Index, double> max_samples = Auto{};
    // Threshold: auto = 0.5 | the share of training rows flagged, in (0, 0.5].
    std::variant<Auto, double> contamination = Auto{};
    // Columns per tree: count in [1, d] | fraction in (0, 1].
    std::variant<Index, double> max_features = 1.0;
    bool bootstrap = false;  // draw rows with replacement
    std::uint64_t random_state = 0;
    int n_jobs = 1;  // 1 serial, -1 all cores (scikit-learn semantics); not saved with the model
  };

  static constexpr std::string_view model_type = "IsolationForest";
  static constexpr std::uint32_t format_version = 1;

  IsolationForest() = default;
  explicit IsolationForest(const Params& params) : params_(params) {}

  // Fits on X with columns named x0, x1, ...
  IsolationForest& fit(const MatrixRef<T>& X) { return fit(X, Schema::numeric(X.cols())); }

  IsolationForest& fit(const MatrixRef<T>& X, const Schema& schema) {
    constexpr std::string_view where = "IsolationForest::fit";
    validate_params(params_, where);
    resolve_n_jobs(params_.n_jobs, where);
    detail::require_non_empty(X, where, "X");
    if (X.rows() < 2) {
      detail::raise<data_error>(where, "X has " + std::to_string(X.rows()) + " row, at least 2 are required");
    }
    schema.require_columns(X.cols(), where);
    detail::require_finite(X, where, "X");

    const Index n = X.rows();
    const Index d = X.cols();
    detail::forest::TreeSettings settings;
    settings.max_samples = resolve_max_samples(params_.max_samples, n, where);
    settings.max_features = resolve_max_features(params_.max_features, d, where);
    settings.bootstrap = params_.bootstrap;
    settings.height_limit = detail::forest::height_limit(settings.max_samples);
    const auto max_nodes = static_cast<double>(params_.n_estimators) *
                           static_cast<double>(2 * settings.max_samples - 1);
    if (max_nodes > static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
      detail::raise<invalid_argument>(where, "n_estimators * (2 * max_samples - 1) must be <= 2147483647 (node "
                                             "indices are 32-bit), got " + detail::format_number(max_nodes));
    }

    const auto n_trees = static_cast<std::size_t>(params_.n_estimators);
    std::vector<std::vector<Node>> trees(n_trees);
    parallel_for(n_trees, params_.n_jobs, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) {
        Random rng = Random::stream(params_.random_state, t);
        trees[t] = detail::forest::build_isolation_tree<T>(X, settings, rng);
      }
    });

    // Build into a fresh model and swap it in last, so a failed fit leaves
    // the previous one intact.
    IsolationForest fitted(params_);
    fitted.schema_ = schema;
    fitted.max_samples_ = settings.max_samples;
    fitted.tree_offsets_.reserve(n_trees + 1);
    fitted.tree_offsets_.push_back(0);
    std::size_t total = 0;
    for (const auto& tree : trees) total += tree.size();
    fitted.nodes_.reserve(total);
    for (const auto& tree : trees) {
      const auto base = static_cast<std::int32_t>(fitted.nodes_.size());
      for (Node node : tree) {
        if (node.feature >= 0) node.left += base;
        fitted.nodes_.push_back(node);
      }
      fitted.tree_offsets_.push_back(static_cast<std::int32_t>(fitted.nodes_.size()));
    }
    fitted.scorer_ = detail::forest::BlockScorer<T>(fitted.nodes_, fitted.tree_offsets_);
    if (const auto* fraction = std::get_if<double>(&params_.contamination)) {
      const Vector<T> scores = fitted.score(X);
      fitted.threshold_ = static_cast<T>(contamination_threshold(scores, *fraction));
    } else {
      fitted.threshold_ = T(0.5);  // scikit-learn's offset_ = -0.5 for contamination="auto"
    }
    *this = std::move(fitted);
    return *this;
  }

  // 2^(-E[h(x)] / c(max_samples)) in (0, 1]; higher is more anomalous,
  // around 0.5 or below for normal rows.
  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& X) const {
    require_input(X, "IsolationForest::anomaly_score");
    return score(X);
  }

  // Also checks that `schema` names the columns the model was fitted on.
  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& X, const Schema& schema) const {
    constexpr std::string_view where = "IsolationForest::anomaly_score";
    require_fitted(where);
    schema_.require_same(schema, where);
    return anomaly_score(X);
  }

  // anomaly_score(X) - threshold(): >= 0 means anomaly.
  [[nodiscard]] Vector<T> decision_function(const MatrixRef<T>& X) const {
    require_input(X, "IsolationForest::decision_function");
    return (score(X).array() - threshold_).matrix();
  }

  // 1 (anomaly) where anomaly_score >= threshold(), else 0.
  [[nodiscard]] LabelVector predict(const MatrixRef<T>& X) const {
    require_input(X, "IsolationForest::predict");
    return detail::flag_anomalies<T>(score(X), threshold_);
  }

  // scikit-learn's sign, for ported code: score_samples(X) = -anomaly_score(X).
  [[nodiscard]] Vector<T> score_samples(const MatrixRef<T>& X) const {
    require_input(X, "IsolationForest::score_samples");
    return -score(X);
  }

  // The lowest flagged score (scikit-learn's offset_ is -threshold()).
  [[nodiscard]] T threshold() const {
    require_fitted("IsolationForest::threshold");
    return threshold_;
  }

  void set_threshold(T threshold) {
    constexpr std::string_view where = "IsolationForest::set_threshold";
    require_fitted(where);
    detail::require_parameter(std::isfinite(threshold), where, "threshold", "finite", threshold);
    threshold_ = threshold;
  }

  // Threads used by later fit and scoring calls (n_jobs is not saved).
  void set_n_jobs(int n_jobs) {
    resolve_n_jobs(n_jobs, "IsolationForest::set_n_jobs");
    params_.n_jobs = n_jobs;
  }

  [[nodiscard]] bool is_fitted() const { return !tree_offsets_.empty(); }
  [[nodiscard]] const Schema& schema() const { return schema_; }
  [[nodiscard]] const Params& params() const { return params_; }
  [[nodiscard]] Index n_features() const { return schema_.size(); }
  [[nodiscard]] Index n_estimators() const {
    return is_fitted() ? static_cast<Index>(tree_offsets_.size() - 1) : 0;
  }
  // Rows per tree after resolving auto / fractions and clipping to n (0 before fit).
  [[nodiscard]] Index max_samples() const { return max_samples_; }
  [[nodiscard]] Index node_count() const { return static_cast<Index>(nodes_.size()); }

  // Throws invalid_argument naming the first parameter out of its range;
  // data-dependent checks (max_features <= d) happen in fit.
  static void validate_params(const Params& params, std::string_view where) {
    detail::require_parameter(params.n_estimators >= 1, where, "n_estimators", ">= 1", params.n_estimators);
    if (const auto* count = std::get_if<Index>(&params.max_samples)) {
      detail::require_parameter(*count >= 2, where, "max_samples", "auto, a count >= 2 or a fraction in (0, 1]",
                                *count);
    } else if (const auto* fraction = std::get_if<double>(&params.max_samples)) {
      detail::require_parameter(*fraction > 0.0 && *fraction <= 1.0, where, "max_samples",
                                "auto, a count >= 2 or a fraction in (0, 1]", *fraction);
    }
    if (const auto* fraction = std::get_if<double>(&params.contamination)) {
      detail::require_parameter(*fraction > 0.0 && *fraction <= 0.5, where, "contamination",
                                "auto or a fraction in (0, 0.5]", *fraction);
    }
    if (const auto* count = std::get_if<Index>(&params.max_features)) {
      detail::require_parameter(*count >= 1, where, "max_features", "a count >= 1 or a fraction in (0, 1]",
                                *count);
    } else {
      const double fraction = std::get<double>(params.max_features);
      detail::require_parameter(fraction > 0.0 && fraction <= 1.0, where, "max_features",
                                "a count >= 1 or a fraction in (0, 1]", fraction);
    }
  }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    if (version > format_version) {
      throw serialization_error("redflag::load: IsolationForest format version " + std::to_string(version) +
                                " is newer than this build supports (" + std::to_string(format_version) + ")");
    }
    if constexpr (Archive::is_loading::value) {
      // Load into a fresh model so a rejected file leaves *this untouched.
      IsolationForest loaded;
      loaded.fields(archive);
      loaded.check_loaded();
      loaded.scorer_ = detail::forest::BlockScorer<T>(loaded.nodes_, loaded.tree_offsets_);
      *this = std::move(loaded);
    } else {
      fields(archive);
    }
  }

 private:
  static Index resolve_max_samples(const std::variant<Auto, Index, double>& setting, Index n,
                                   std::string_view where) {
    // Counts above n are clipped to n, as scikit-learn does (it warns).
    if (const auto* count = std::get_if<Index>(&setting)) return std::min(*count, n);
    if (const auto* fraction = std::get_if<double>(&setting)) {
      const auto resolved = static_cast<Index>(*fraction * static_cast<double>(n));
      if (resolved < 2) {
        detail::raise<invalid_argument>(where, "max_samples = " + detail::format_number(*fraction) + " of " +
                                                   std::to_string(n) + " rows is " + std::to_string(resolved) +
                                                   " rows, at least 2 are required");
      }
      return resolved;
    }
    return std::min<Index>(256, n);
  }

  static Index resolve_max_features(const std::variant<Index, double>& setting, Index d, std::string_view where) {
    if (const auto* count = std::get_if<Index>(&setting)) {
      if (*count > d) {
        detail::raise<invalid_argument>(where, "max_features must be in [1, " + std::to_string(d) +
                                                   "] (the number of columns), got " + std::to_string(*count));
      }
      return *count;
    }
    // scikit-learn: max(1, int(max_features * n_features)).
    return std::max<Index>(1, static_cast<Index>(std::get<double>(setting) * static_cast<double>(d)));
  }

  void require_fitted(std::string_view where) const {
    if (!is_fitted()) detail::raise<not_fitted>(where, "call fit() before using the model");
  }

  void require_input(const MatrixRef<T>& X, std::string_view where) const {
    require_fitted(where);
    detail::require_non_empty(X, where, "X");
    schema_.require_columns(X.cols(), where);
    detail::require_finite(X, where, "X");
  }

  // Scores validated input. Blocks of rows are independent and each row adds
  // its trees' path lengths in tree order, so the result does not depend on
  // n_jobs. Within a block the tree loop is outermost: one tree's nodes stay
  // in cache while the block's rows walk it, several rows at a time (see
  // BlockScorer in isolation_tree.hpp).
  [[nodiscard]] Vector<T> score(const MatrixRef<T>& X) const {
    constexpr std::size_t block_rows = 512;
    const auto n = static_cast<std::size_t>(X.rows());
    Vector<T> out(X.rows());
    const std::size_t n_trees = tree_offsets_.size() - 1;
    const double scale = -1.0 / (static_cast<double>(n_trees) *
                                 detail::forest::average_path_length(static_cast<double>(max_samples_)));
    // Rows are contiguous (row-major, inner stride 1), `stride` values apart.
    const auto stride = static_cast<std::size_t>(X.outerStride());
    parallel_for(
        n, params_.n_jobs,
        [&](std::size_t begin, std::size_t end) {
          std::vector<double> depth(end - begin, 0.0);
          scorer_.add_path_lengths(X.row(static_cast<Index>(begin)).data(), stride, end - begin, depth.data());
          for (std::size_t i = begin; i < end; ++i) {
            out(static_cast<Index>(i)) = static_cast<T>(std::exp2(depth[i - begin] * scale));
          }
        },
        {.grain = block_rows});
    return out;
  }

  template <class Archive>
  void fields(Archive& archive) {
    // Variants as a kind code plus value; n_jobs is a runtime setting and is
    // not saved, so a model's bytes do not depend on how it was fitted.
    std::uint8_t max_samples_kind = static_cast<std::uint8_t>(params_.max_samples.index());
    Index max_samples_count = 0;
    double max_samples_fraction = 0.0;
    if (const auto* count = std::get_if<Index>(&params_.max_samples)) max_samples_count = *count;
    if (const auto* fraction = std::get_if<double>(&params_.max_samples)) max_samples_fraction = *fraction;
    std::uint8_t contamination_kind = static_cast<std::uint8_t>(params_.contamination.index());
    double contamination = 0.0;
    if (const auto* fraction = std::get_if<double>(&params_.contamination)) contamination = *fraction;
    std::uint8_t max_features_kind = static_cast<std::uint8_t>(params_.max_features.index());
    Index max_features_count = 0;
    double max_features_fraction = 0.0;
    if (const auto* count = std::get_if<Index>(&params_.max_features)) max_features_count = *count;
    if (const auto* fraction = std::get_if<double>(&params_.max_features)) max_features_fraction = *fraction;

    std::vector<std::int32_t> feature, left;
    std::vector<T> value;
    if constexpr (!Archive::is_loading::value) {
      feature.reserve(nodes_.size());
      left.reserve(nodes_.size());
      value.reserve(nodes_.size());
      for (const Node& node : nodes_) {
        feature.push_back(node.feature);
        left.push_back(node.left);
        value.push_back(node.value);
      }
    }
    archive(cereal::make_nvp("n_estimators", params_.n_estimators),
            cereal::make_nvp("max_samples_kind", max_samples_kind),
            cereal::make_nvp("max_samples_count", max_samples_count),
            cereal::make_nvp("max_samples_fraction", max_samples_fraction),
            cereal::make_nvp("contamination_kind", contamination_kind),
            cereal::make_nvp("contamination", contamination),
            cereal::make_nvp("max_features_kind", max_features_kind),
            cereal::make_nvp("max_features_count", max_features_count),
            cereal::make_nvp("max_features_fraction", max_features_fraction),
            cereal::make_nvp("bootstrap", params_.bootstrap),
            cereal::make_nvp("random_state", params_.random_state),
            cereal::make_nvp("schema", schema_), cereal::make_nvp("max_samples_used", max_samples_),
            cereal::make_nvp("threshold", threshold_), cereal::make_nvp("tree_offsets", tree_offsets_),
            cereal::make_nvp("node_feature", feature), cereal::make_nvp("node_left", left),
            cereal::make_nvp("node_value", value));
    if constexpr (Archive::is_loading::value) {
      const auto fail = [](const std::string& what) {
        throw serialization_error("redflag::load: IsolationForest " + what);
      };
      if (max_samples_kind > 2) fail("max_samples kind " + std::to_string(max_samples_kind) + " is unknown");
      if (contamination_kind > 1) fail("contamination kind " + std::to_string(contamination_kind) + " is unknown");
      if (max_features_kind > 1) fail("max_features kind " + std::to_string(max_features_kind) + " is unknown");
      if (max_samples_kind == 0) params_.max_samples = Auto{};
      if (max_samples_kind == 1) params_.max_samples = max_samples_count;
      if (max_samples_kind == 2) params_.max_samples = max_samples_fraction;
      if (contamination_kind == 0) params_.contamination = Auto{};
      if (contamination_kind == 1) params_.contamination = contamination;
      if (max_features_kind == 0) params_.max_features = max_features_count;
      if (max_features_kind == 1) params_.max_features = max_features_fraction;
      if (feature.size() != left.size() || feature.size() != value.size()) {
        fail("node arrays differ in length (" + std::to_string(feature.size()) + ", " +
             std::to_string(left.size()) + ", " + std::to_string(value.size()) + ")");
      }
      nodes_.resize(feature.size());
      for (std::size_t i = 0; i < nodes_.size(); ++i) nodes_[i] = {value[i], feature[i], left[i]};
    }
  }

  // Everything scoring relies on, so a hostile file cannot make it read out
  // of bounds or loop: offsets increase from 0 to the node count, every
  // internal node's children lie after it within its tree, features are
  // below the column count, values are finite.
  void check_loaded() const {
    const auto fail = [](const std::string& what) {
      throw serialization_error("redflag::load: IsolationForest " + what);
    };
    try {
      validate_params(params_, "load");
    } catch (const invalid_argument& failure) {
      throw serialization_error(std::string(failure.what()) + " (in an IsolationForest)");
    }
    if (tree_offsets_.empty()) {
      if (!nodes_.empty() || !schema_.empty() || max_samples_ != 0) fail("is not fitted but holds fitted state");
      return;
    }
    if (schema_.empty()) fail("is fitted but its schema has no columns");
    if (static_cast<Index>(tree_offsets_.size()) != params_.n_estimators + 1) {
      fail("has " + std::to_string(tree_offsets_.size() - 1) + " trees, n_estimators says " +
           std::to_string(params_.n_estimators));
    }
    if (max_samples_ < 2 || max_samples_ > (std::numeric_limits<std::int32_t>::max() / 2)) {
      fail("max_samples_used " + std::to_string(max_samples_) + " is out of range");
    }
    if (!std::isfinite(threshold_)) fail("threshold " + detail::format_number(threshold_) + " is not finite");
    if (tree_offsets_.front() != 0 || static_cast<std::size_t>(tree_offsets_.back()) != nodes_.size()) {
      fail("tree offsets do not span the " + std::to_string(nodes_.size()) + " nodes");
    }
    const std::int32_t d = static_cast<std::int32_t>(schema_.size());
    for (std::size_t t = 0; t + 1 < tree_offsets_.size(); ++t) {
      const std::int32_t begin = tree_offsets_[t];
      const std::int32_t end = tree_offsets_[t + 1];
      if (end <= begin) fail("tree " + std::to_string(t) + " is empty or its offsets decrease");
      for (std::int32_t i = begin; i < end; ++i) {
        const Node& node = nodes_[static_cast<std::size_t>(i)];
        const std::string at = "node " + std::to_string(i) + " (tree " + std::to_string(t) + ")";
        if (!std::isfinite(node.value)) fail(at + " has a non-finite value");
        if (node.feature == -1) {
          if (node.value < 0) fail(at + " is a leaf with negative path length");
          continue;
        }
        if (node.feature < 0 || node.feature >= d) {
          fail(at + " splits on feature " + std::to_string(node.feature) + ", expected -1 or [0, " +
               std::to_string(d) + ")");
        }
        if (node.left <= i || node.left >= end - 1) {
          fail(at + " has children " + std::to_string(node.left) + ", " + std::to_string(node.left + 1) +
               " outside (" + std::to_string(i) + ", " + std::to_string(end) + ")");
        }
      }
    }
  }

  Params params_;
  Schema schema_;
  Index max_samples_ = 0;
  T threshold_ = T(0);
  std::vector<std::int32_t> tree_offsets_;  // n_estimators + 1 entries when fitted, else empty
  std::vector<Node> nodes_;
  detail::forest::BlockScorer<T> scorer_;  // derived from nodes_ at fit and load; not saved
};

}  // namespace redflag
