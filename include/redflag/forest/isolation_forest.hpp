#pragma once

// IsolationForest: the unsupervised anomaly detector of Liu, Ting & Zhou
// (ICDM 2008) with scikit-learn's parameters and defaults, and the Extended
// Isolation Forest of Hariri, Kind & Brunner (2021) as its hyperplane split
// policy. Each tree isolates a random subsample with random splits; anomalies
// are isolated in fewer splits, so their average path length E[h(x)] is short
// and
//   anomaly_score(x) = 2^(-E[h(x)] / c(max_samples))   in (0, 1],
// higher = more anomalous (scikit-learn's score_samples is its negative).
//
// Tree t draws from Random::stream(random_state, t); trees are fitted in
// parallel over trees and rows are scored in parallel over fixed blocks, each
// row summing its trees' path lengths in tree order, so models and scores are
// bit-identical for any n_jobs. See docs/isolation-forest.md.

#include <redflag/core/concepts.hpp>
#include <redflag/core/detail/portable_math.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/detail/isolation_forest_explanation.hpp>
#include <redflag/forest/detail/isolation_forest_state.hpp>
#include <redflag/forest/detail/isolation_scorer.hpp>
#include <redflag/forest/detail/isolation_tree.hpp>
#include <redflag/forest/detail/isolation_tree_builder.hpp>
#include <redflag/forest/isolation_forest_params.hpp>
#include <redflag/metrics/thresholds.hpp>
#include <redflag/simd/detail/portable_exp2_avx512.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace redflag {

template <Scalar T, class Split = AxisParallel>
class IsolationForest {
  static_assert(std::same_as<Split, AxisParallel> || std::same_as<Split, Hyperplane>,
                "IsolationForest's split policy is AxisParallel or Hyperplane");

 public:
  using scalar_type = T;
  using split_policy = Split;

  // An Index is a count, a double a fraction — scikit-learn's int / float
  // distinction: `.max_samples = 512`, `.max_samples = 0.5`, `.max_features = 3`.
  struct Params {
    Index n_estimators = 100;  // trees, >= 1
    // Rows per tree: auto = min(256, n) | count >= 2 (clipped to n) | fraction in (0, 1].
    std::variant<Auto, Index, double> max_samples = Auto{};
    // Threshold: auto = 0.5 | the share of training rows flagged, in (0, 0.5].
    Contamination contamination = Auto{};
    // Columns per tree: count in [1, d] | fraction in (0, 1].
    std::variant<Index, double> max_features = 1.0;
    bool bootstrap = false;  // draw rows with replacement
    std::uint64_t random_state = 0;
    int n_jobs = 1;  // 1 serial, -1 all cores (scikit-learn semantics); not saved with the model
    MissingPolicy missing = MissingPolicy::reject;  // NaN input: reject, or route (see the header comment)
    Split split = {};                               // Hyperplane: {.extension_level = ...}

    // Throws invalid_argument naming the first field out of its range. Called
    // by the constructor and again by fit, which also checks what depends on
    // the data (max_features <= the column count, max_samples of n rows).
    void validate(std::string_view where = "IsolationForest::Params::validate") const {
      IsolationForest::validate_params(*this, where);
    }
  };

  static constexpr std::string_view model_type =
      std::same_as<Split, Hyperplane> ? "ExtendedIsolationForest" : "IsolationForest";
  static constexpr std::uint32_t format_version = 2;

  IsolationForest() = default;
  explicit IsolationForest(const Params& params) : params_(params) { params_.validate(at(model_type)); }

  // Fits on X with numeric columns named x0, x1, ...
  IsolationForest& fit(const MatrixRef<T>& X) { return fit(X, Schema::numeric(X.cols())); }

  // Columns of kind categorical hold integer codes >= 0 and are split by
  // category subsets (axis-parallel policy only).
  IsolationForest& fit(const MatrixRef<T>& X, const Schema& schema) {
    const std::string where = at("fit");
    params_.validate(where);
    detail::require_non_empty(X, where, "X");
    if (X.rows() < 2) {
      detail::raise<data_error>(where, "X has " + std::to_string(X.rows()) + " row, at least 2 are required");
    }
    schema.require_columns(X.cols(), where);
    if (X.cols() > detail::forest::max_columns) {
      detail::raise<invalid_argument>(where, "X has " + std::to_string(X.cols()) + " columns, at most " +
                                                 std::to_string(detail::forest::max_columns) + " are supported");
    }
    if constexpr (std::same_as<Split, Hyperplane>) {
      for (const Column& column : schema.columns()) {
        if (column.kind == ColumnKind::categorical) {
          detail::raise<invalid_argument>(where, "column '" + column.name +
                                                     "' is categorical; hyperplane splits need numeric columns "
                                                     "(use IsolationForest, or encode the column)");
        }
      }
    }
    detail::forest::check_values(X, schema, params_.missing, where);

    detail::forest::ForestState<T> state;
    state.schema = schema;
    state.max_samples = resolve_max_samples(params_.max_samples, X.rows(), where);
    const auto settings = tree_settings(state, X.cols(), where);
    const auto max_nodes =
        static_cast<double>(params_.n_estimators) * static_cast<double>(std::int64_t{2} << settings.height_limit);
    if (max_nodes > static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
      detail::raise<invalid_argument>(where,
                                      "n_estimators * 2^(ceil(log2(max_samples)) + 1) must be <= "
                                      "2147483647 (node indices are 32-bit), got " +
                                          detail::format_number(max_nodes));
    }
    // Build into a fresh model and swap it in last, so a failed fit leaves
    // the previous one intact.
    IsolationForest fitted(params_);
    fitted.state_ = std::move(state);
    fitted.grow(X, settings, static_cast<std::size_t>(params_.n_estimators));
    fitted.set_contamination_threshold(X);
    *this = std::move(fitted);
    return *this;
  }

  // Adds n_new_trees trees fitted on X, continuing the random streams: fit
  // with n_estimators = a, then fit_more(X, b) gives the same model as fit
  // with a + b on the same X. Keeps max_samples (every tree must share
  // c(max_samples)); a contamination threshold is recomputed on X.
  IsolationForest& fit_more(const MatrixRef<T>& X, Index n_new_trees) {
    const std::string where = at("fit_more");
    require_fitted(where);
    detail::require_parameter(n_new_trees >= 1, where, "n_new_trees", ">= 1", n_new_trees);
    detail::require_non_empty(X, where, "X");
    state_.schema.require_columns(X.cols(), where);
    detail::forest::check_values(X, state_.schema, params_.missing, where);
    if (!params_.bootstrap && X.rows() < state_.max_samples) {
      detail::raise<data_error>(where, "X has " + std::to_string(X.rows()) + " rows, the model draws " +
                                           std::to_string(state_.max_samples) + " per tree without replacement");
    }
    const auto settings = tree_settings(state_, X.cols(), where);
    const double max_nodes =
        static_cast<double>(state_.trees.nodes.size()) +
        static_cast<double>(n_new_trees) * static_cast<double>(std::int64_t{2} << settings.height_limit);
    if (max_nodes > static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
      detail::raise<invalid_argument>(where, "the forest would exceed 2147483647 nodes");
    }
    IsolationForest grown(*this);
    grown.grow(X, settings, static_cast<std::size_t>(n_new_trees));
    grown.params_.n_estimators += n_new_trees;
    grown.set_contamination_threshold(X);
    *this = std::move(grown);
    return *this;
  }

  // Removes the `count` oldest trees (those fitted first), keeping at least
  // one; later fit_more calls continue the random streams where they were.
  IsolationForest& drop_oldest_trees(Index count) {
    const std::string where = at("drop_oldest_trees");
    require_fitted(where);
    detail::require_parameter(count >= 0 && count < n_estimators(), where, "count",
                              "in [0, n_estimators - 1] = [0, " + std::to_string(n_estimators() - 1) + "]", count);
    state_.trees.drop_oldest(static_cast<std::size_t>(count));
    params_.n_estimators -= count;
    return *this;
  }

  // 2^(-E[h(x)] / c(max_samples)) in (0, 1]; higher is more anomalous,
  // around 0.5 or below for normal rows.
  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& X) const {
    require_input(X, at("anomaly_score"));
    return score(X);
  }

  // Also checks that `schema` names the columns the model was fitted on.
  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& X, const Schema& schema) const {
    const std::string where = at("anomaly_score");
    require_fitted(where);
    state_.schema.require_same(schema, where);
    return anomaly_score(X);
  }

  // The anomaly score of one row, serially and without allocating: the
  // latency path for scoring events one at a time.
  [[nodiscard]] T score_one(std::span<const T> row) const {
    const std::string_view where =
        std::same_as<Split, Hyperplane> ? "ExtendedIsolationForest::score_one" : "IsolationForest::score_one";
    require_fitted(where);
    const Eigen::Map<const Matrix<T>> X(row.data(), 1, static_cast<Index>(row.size()));
    state_.schema.require_columns(X.cols(), where);
    detail::forest::check_values(MatrixRef<T>(X), state_.schema, params_.missing, where);
    double depth = 0.0;
    detail::forest::add_path_lengths(state_.trees, row.data(), row.size(), 1, row.size(), &depth);
    return to_score(depth);
  }

  // anomaly_score(X) - threshold(): >= 0 means anomaly.
  [[nodiscard]] Vector<T> decision_function(const MatrixRef<T>& X) const {
    require_input(X, at("decision_function"));
    return (score(X).array() - state_.threshold).matrix();
  }

  // 1 (anomaly) where anomaly_score >= threshold(), else 0.
  [[nodiscard]] LabelVector predict(const MatrixRef<T>& X) const {
    require_input(X, at("predict"));
    return detail::flag_anomalies<T>(score(X), state_.threshold);
  }

  // scikit-learn's sign, for ported code: score_samples(X) = -anomaly_score(X).
  [[nodiscard]] Vector<T> score_samples(const MatrixRef<T>& X) const {
    require_input(X, at("score_samples"));
    return -score(X);
  }

  // Per row, per column: how much each feature moved the row's anomaly score
  // away from the model's expected value; expected_value + row sum =
  // anomaly_score. Path-dependent TreeSHAP on the path lengths, rescaled onto
  // the score (see detail/isolation_forest_explanation.hpp). Axis-parallel
  // forests only.
  [[nodiscard]] Explanation<T> explain(const MatrixRef<T>& X) const requires std::same_as<Split, AxisParallel> {
    require_input(X, at("explain"));
    return detail::forest::explain(state_.trees, state_.schema, max_samples(), X, params_.n_jobs);
  }

  // explain(X).importances(): the mean absolute contribution of each feature
  // over X's rows, normalised to sum to 1 (core/explanation.hpp). Over all
  // rows it is dominated by normal ones; pass the flagged rows to see which
  // features drive the alerts.
  [[nodiscard]] Vector<T> feature_importances(const MatrixRef<T>& X) const requires std::same_as<Split, AxisParallel> {
    return explain(X).importances();
  }

  // The lowest flagged score (scikit-learn's offset_ is -threshold()).
  [[nodiscard]] T threshold() const {
    require_fitted(at("threshold"));
    return state_.threshold;
  }

  void set_threshold(T threshold) {
    const std::string where = at("set_threshold");
    require_fitted(where);
    detail::require_parameter(std::isfinite(threshold), where, "threshold", "finite", threshold);
    state_.threshold = threshold;
  }

  // Threads used by later fit and scoring calls (n_jobs is not saved).
  void set_n_jobs(int n_jobs) {
    resolve_n_jobs(n_jobs, at("set_n_jobs"));
    params_.n_jobs = n_jobs;
  }

  [[nodiscard]] bool is_fitted() const { return state_.trees.tree_count() > 0; }
  [[nodiscard]] const Schema& schema() const { return state_.schema; }
  [[nodiscard]] const Params& params() const { return params_; }
  [[nodiscard]] Index n_features() const { return state_.schema.size(); }
  [[nodiscard]] Index n_estimators() const { return static_cast<Index>(state_.trees.tree_count()); }
  // Rows per tree after resolving auto / fractions and clipping to n (0 before fit).
  [[nodiscard]] Index max_samples() const { return state_.max_samples; }
  [[nodiscard]] Index node_count() const { return static_cast<Index>(state_.trees.nodes.size()); }
  // Heap bytes the fitted model holds (nodes, counts, side tables, schema).
  [[nodiscard]] std::size_t memory_usage() const { return state_.memory_usage(); }

  // Params::validate; data-dependent checks (max_features <= d) happen in fit.
  static void validate_params(const Params& params, std::string_view where) {
    detail::require_parameter(params.n_estimators >= 1, where, "n_estimators", ">= 1", params.n_estimators);
    resolve_n_jobs(params.n_jobs, where);
    if (const auto* count = std::get_if<Index>(&params.max_samples)) {
      detail::require_parameter(*count >= 2, where, "max_samples", "auto, a count >= 2 or a fraction in (0, 1]",
                                *count);
    } else if (const auto* fraction = std::get_if<double>(&params.max_samples)) {
      detail::require_parameter(*fraction > 0.0 && *fraction <= 1.0, where, "max_samples",
                                "auto, a count >= 2 or a fraction in (0, 1]", *fraction);
    }
    detail::require_contamination(params.contamination, where);
    if (const auto* count = std::get_if<Index>(&params.max_features)) {
      detail::require_parameter(*count >= 1, where, "max_features", "a count >= 1 or a fraction in (0, 1]", *count);
    } else {
      const double fraction = std::get<double>(params.max_features);
      detail::require_parameter(fraction > 0.0 && fraction <= 1.0, where, "max_features",
                                "a count >= 1 or a fraction in (0, 1]", fraction);
    }
    const auto policy = static_cast<std::uint8_t>(params.missing);
    detail::require_parameter(policy <= 1, where, "missing", "reject or route", policy);
    if constexpr (std::same_as<Split, Hyperplane>) {
      if (const auto* level = std::get_if<Index>(&params.split.extension_level)) {
        detail::require_parameter(*level >= 0, where, "extension_level", "auto or a level >= 0", *level);
      }
    }
  }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    detail::check_format_version(model_type, version, format_version);
    if constexpr (Archive::is_loading::value) {
      // Load into a fresh model so a rejected file leaves *this untouched.
      IsolationForest loaded;
      detail::forest::serialize_params(archive, loaded.params_, version);
      loaded.state_.serialize(archive, version);
      try {
        validate_params(loaded.params_, "load");
      } catch (const invalid_argument& failure) {
        throw serialization_error(std::string(failure.what()) + " (in an " + std::string(model_type) + ")");
      }
      loaded.state_.check_loaded(loaded.params_.n_estimators, std::same_as<Split, Hyperplane>);
      if constexpr (std::same_as<Split, Hyperplane>) {
        // fit_more grows trees with the parameters' term count; older trees must agree.
        if (loaded.is_fitted()) {
          Index terms = 0;
          try {
            terms = loaded.tree_settings(loaded.state_, loaded.n_features(), "load").hyperplane_terms;
          } catch (const invalid_argument& failure) {
            throw serialization_error(std::string(failure.what()) + " (in an ExtendedIsolationForest)");
          }
          if (static_cast<Index>(loaded.state_.trees.terms_per_node) != terms) {
            throw serialization_error("redflag::load: ExtendedIsolationForest has " +
                                      std::to_string(loaded.state_.trees.terms_per_node) +
                                      " terms per hyperplane, its parameters give " + std::to_string(terms));
          }
        }
      }
      *this = std::move(loaded);
    } else {
      detail::forest::serialize_params(archive, params_, version);
      state_.serialize(archive, version);
    }
  }

 private:
  static std::string at(std::string_view method) {
    std::string where(model_type);
    where += "::";
    where += method;
    return where;
  }

  static Index resolve_max_samples(const std::variant<Auto, Index, double>& setting, Index n, std::string_view where) {
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

  detail::forest::TreeSettings tree_settings(const detail::forest::ForestState<T>& state, Index d,
                                             std::string_view where) const {
    detail::forest::TreeSettings settings;
    settings.max_samples = state.max_samples;
    settings.max_features = detail::forest::resolve_max_features(params_.max_features, d, where);
    settings.bootstrap = params_.bootstrap;
    settings.height_limit = detail::forest::height_limit(settings.max_samples);
    for (const Column& column : state.schema.columns()) {
      settings.categorical.push_back(column.kind == ColumnKind::categorical);
    }
    if constexpr (std::same_as<Split, Hyperplane>) {
      settings.hyperplane_terms = params_.split.terms(settings.max_features, where);
    }
    return settings;
  }

  // Appends `count` trees fitted on X, tree i drawing from stream
  // trees_built + i, in parallel over trees.
  void grow(const MatrixRef<T>& X, const detail::forest::TreeSettings& settings, std::size_t count) {
    std::vector<detail::forest::BuiltTree<T>> trees(count);
    const std::uint64_t first = state_.trees_built;
    parallel_for(count, params_.n_jobs, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) {
        Random rng = Random::stream(params_.random_state, first + t);
        trees[t] = detail::forest::build_isolation_tree<T>(X, settings, rng);
      }
    });
    state_.trees.terms_per_node = static_cast<std::uint32_t>(settings.hyperplane_terms);
    for (auto& tree : trees) state_.trees.append(std::move(tree));
    state_.trees.derive();
    state_.trees_built += count;
    state_.shrink();
  }

  void set_contamination_threshold(const MatrixRef<T>& X) {
    if (const auto* fraction = std::get_if<double>(&params_.contamination)) {
      state_.threshold = static_cast<T>(contamination_threshold(score(X), *fraction));
    } else {
      state_.threshold = T(0.5);  // scikit-learn's offset_ = -0.5 for contamination="auto"
    }
  }

  void require_fitted(std::string_view where) const {
    if (!is_fitted()) detail::raise<not_fitted>(where, "call fit() before using the model");
  }

  void require_input(const MatrixRef<T>& X, std::string_view where) const {
    require_fitted(where);
    detail::require_non_empty(X, where, "X");
    state_.schema.require_columns(X.cols(), where);
    detail::forest::check_values(X, state_.schema, params_.missing, where);
  }

  // score = 2^(depth * score_scale()), depth the sum of a row's path lengths.
  double score_scale() const {
    return -1.0 / (static_cast<double>(n_estimators()) *
                   detail::forest::average_path_length(static_cast<double>(state_.max_samples)));
  }

  T to_score(double depth) const { return static_cast<T>(detail::portable_exp2(depth * score_scale())); }

  // Scores validated input. Blocks of rows are independent and each row adds
  // its trees' path lengths in tree order, so the result does not depend on
  // n_jobs. Within a block the tree loop is outermost: one tree's nodes stay
  // in cache while the block's rows walk it, several rows at a time.
  [[nodiscard]] Vector<T> score(const MatrixRef<T>& X) const {
    constexpr std::size_t block_rows = 512;
    const auto n = static_cast<std::size_t>(X.rows());
    Vector<T> out(X.rows());
    // Rows are contiguous (row-major, inner stride 1), `stride` values apart.
    const auto stride = static_cast<std::size_t>(X.outerStride());
    const auto columns = static_cast<std::size_t>(X.cols());
    const auto complete =
        detail::forest::scoring_copy_pays<T>(n, stride) ? detail::forest::scoring_copy(state_.trees) : std::nullopt;
    const double scale = score_scale();
    parallel_for(n, params_.n_jobs,
                 [&](std::size_t begin, std::size_t end) {
                   double depth[block_rows] = {};
                   detail::forest::add_path_lengths(state_.trees, X.row(static_cast<Index>(begin)).data(), stride,
                                                    end - begin, columns, depth, complete ? &*complete : nullptr);
                   for (std::size_t i = 0; i < end - begin; ++i) depth[i] *= scale;
                   simd::detail::portable_exp2_each(depth, depth, end - begin);
                   for (std::size_t i = begin; i < end; ++i)
                     out(static_cast<Index>(i)) = static_cast<T>(depth[i - begin]);
                 },
                 {.grain = block_rows});
    return out;
  }

  Params params_;
  detail::forest::ForestState<T> state_;
};

// The Extended Isolation Forest: `{.split = {.extension_level = 1}}`.
template <Scalar T>
using ExtendedIsolationForest = IsolationForest<T, Hyperplane>;

}  // namespace redflag
