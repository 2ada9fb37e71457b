#pragma once

// StreamingIsolationForest: an IsolationForest kept fresh over a sliding
// window of the last W rows of a stream. In the spirit of iForestASD (Ding &
// Fei, "An Anomaly Detection Approach Based on Isolation Forest Algorithm for
// Streaming Data using Sliding Window", 2013), which refits the whole forest
// on the window when needed; here a share of the trees is replaced every
// block instead, so the forest changes gradually and on a fixed schedule.
//
// learn_one copies the row into a ring buffer of W rows, allocated once.
// Warm-up: the first forest is fitted when the window is first full (W rows),
// so every forest is fitted on W rows. From then on, every block_size rows
// the trees_per_block oldest trees are replaced by as many new ones fitted on
// the window (drop_oldest_trees, fit_more). New trees continue the random
// streams (tree t of the stream draws from Random::stream(random_state, t)),
// so a stream's models and scores are a function of its rows and the seed.
//
// The window is passed to the forest in ring order: row r of window() holds
// the latest stream row whose index is r modulo W.
//
// A Detector like the others: fit(X) starts the stream over on X's rows;
// anomaly_score, decision_function, predict, threshold and explain use the
// current forest and throw not_fitted until the window has been full once.
//
// Not thread-safe: do not call learn_one while another thread scores on the
// same object (const calls may run concurrently). To score elsewhere, share
// a copy of model().

#include <redflag/core/eigen_cereal.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/explanation.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/isolation_forest.hpp>
#include <redflag/metrics/thresholds.hpp>

#include <cereal/cereal.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace redflag {

template <Scalar T>
class StreamingIsolationForest {
 public:
  using scalar_type = T;
  using Forest = IsolationForest<T>;

  struct Params {
    // The forest's parameters. max_samples resolves against the window
    // (auto: min(256, window_size)); a contamination fraction is re-applied
    // to the window at every refresh.
    typename Forest::Params forest = {};
    Index window_size = 2048;  // W: rows the forest is fitted on, >= 2
    Index block_size = 256;    // rows between refreshes, in [1, W]
    // Trees replaced per refresh, in [1, n_estimators]; auto =
    // max(1, n_estimators * block_size / window_size), which renews the whole
    // forest about once per window.
    std::variant<Auto, Index> trees_per_block = Auto{};

    // Throws invalid_argument naming the first field out of its range,
    // including the forest's. Called by the constructor and again by fit.
    void validate(std::string_view where = "StreamingIsolationForest::Params::validate") const {
      StreamingIsolationForest::validate_params(*this, where);
    }
  };

  static constexpr std::string_view model_type = "StreamingIsolationForest";
  static constexpr std::uint32_t format_version = 1;

  StreamingIsolationForest() : StreamingIsolationForest(Params{}) {}

  // The first row learned fixes the column count; columns are numeric,
  // named x0, x1, ...
  explicit StreamingIsolationForest(const Params& params) : params_(params) {
    params_.validate("StreamingIsolationForest::StreamingIsolationForest");
    forest_ = Forest(params_.forest);
  }

  // Columns from `schema` (categorical columns hold codes >= 0).
  StreamingIsolationForest(const Params& params, const Schema& schema) : StreamingIsolationForest(params) {
    set_schema(schema, "StreamingIsolationForest::StreamingIsolationForest");
  }

  // Adds a row to the window, fitting or refreshing the forest when it is
  // due. Allocates nothing between refreshes once the window exists.
  void learn_one(std::span<const T> row) {
    constexpr std::string_view where = "StreamingIsolationForest::learn_one";
    if (row.empty()) detail::raise<data_error>(where, "row is empty");
    const Eigen::Map<const Matrix<T>> X(row.data(), 1, static_cast<Index>(row.size()));
    if (schema_.empty()) {
      learn_first(X, where);
    } else {
      require_rows(X, where);
    }
    append(row.data());
  }

  // learn_one for each row of X in order; X is checked whole first, so bad
  // input learns nothing.
  void learn(const MatrixRef<T>& X) {
    constexpr std::string_view where = "StreamingIsolationForest::learn";
    detail::require_non_empty(X, where, "X");
    if (schema_.empty()) {
      learn_first(X, where);
    } else {
      require_rows(X, where);
    }
    for (Index i = 0; i < X.rows(); ++i) append(X.row(i).data());
  }

  // Starts the stream over: forgets every row learned, then learns X's rows
  // in order (the columns named x0, x1, ...). X needs at least window_size
  // rows, so the model is fitted afterwards; on any error it is left as it was.
  StreamingIsolationForest& fit(const MatrixRef<T>& X) {
    constexpr std::string_view where = "StreamingIsolationForest::fit";
    params_.validate(where);
    detail::require_non_empty(X, where, "X");
    if (X.rows() < params_.window_size) {
      detail::raise<data_error>(where, "X has " + std::to_string(X.rows()) +
                                           " rows, the first forest needs a full "
                                           "window of window_size = " +
                                           std::to_string(params_.window_size));
    }
    StreamingIsolationForest fresh(params_);
    fresh.learn(X);
    *this = std::move(fresh);
    return *this;
  }

  // The current forest's anomaly score of one row, without allocating.
  [[nodiscard]] T score_one(std::span<const T> row) const {
    constexpr std::string_view where = "StreamingIsolationForest::score_one";
    require_ready(where);
    require_rows(Eigen::Map<const Matrix<T>>(row.data(), 1, static_cast<Index>(row.size())), where);
    return forest_.score_one(row);
  }

  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& X) const {
    constexpr std::string_view where = "StreamingIsolationForest::anomaly_score";
    require_ready(where);
    detail::require_non_empty(X, where, "X");
    require_rows(X, where);
    return forest_.anomaly_score(X);
  }

  // Also checks that `schema` names the columns the rows have.
  [[nodiscard]] Vector<T> anomaly_score(const MatrixRef<T>& X, const Schema& schema) const {
    constexpr std::string_view where = "StreamingIsolationForest::anomaly_score";
    require_ready(where);
    schema_.require_same(schema, where);
    return anomaly_score(X);
  }

  // anomaly_score(X) - threshold(): >= 0 means anomaly.
  [[nodiscard]] Vector<T> decision_function(const MatrixRef<T>& X) const {
    constexpr std::string_view where = "StreamingIsolationForest::decision_function";
    require_ready(where);
    detail::require_non_empty(X, where, "X");
    require_rows(X, where);
    return forest_.decision_function(X);
  }

  // 1 (anomaly) where anomaly_score >= threshold(), else 0.
  [[nodiscard]] LabelVector predict(const MatrixRef<T>& X) const {
    constexpr std::string_view where = "StreamingIsolationForest::predict";
    require_ready(where);
    detail::require_non_empty(X, where, "X");
    require_rows(X, where);
    return forest_.predict(X);
  }

  // The current forest's explanation (core/explanation.hpp).
  [[nodiscard]] Explanation<T> explain(const MatrixRef<T>& X) const {
    constexpr std::string_view where = "StreamingIsolationForest::explain";
    require_ready(where);
    detail::require_non_empty(X, where, "X");
    require_rows(X, where);
    return forest_.explain(X);
  }

  // explain(X).importances(), as everywhere (core/explanation.hpp).
  [[nodiscard]] Vector<T> feature_importances(const MatrixRef<T>& X) const { return explain(X).importances(); }

  // The current forest's threshold. Every refresh re-applies the forest's
  // contamination, replacing a threshold set with set_threshold.
  [[nodiscard]] T threshold() const {
    require_ready("StreamingIsolationForest::threshold");
    return forest_.threshold();
  }

  void set_threshold(T threshold) {
    require_ready("StreamingIsolationForest::set_threshold");
    forest_.set_threshold(threshold);
  }

  // Whether a forest has been fitted (the window has been full once); is_ready.
  [[nodiscard]] bool is_fitted() const { return is_ready(); }

  // Whether a forest has been fitted (the window has been full once).
  [[nodiscard]] bool is_ready() const { return rows_seen_ >= static_cast<std::uint64_t>(params_.window_size); }
  [[nodiscard]] std::uint64_t rows_seen() const { return rows_seen_; }
  // Rows still to learn before the first forest (0 once ready).
  [[nodiscard]] Index rows_until_ready() const {
    return is_ready() ? 0 : params_.window_size - static_cast<Index>(rows_seen_);
  }
  // The current forest (unfitted before warm-up): explain, predict, copy.
  [[nodiscard]] const Forest& model() const { return forest_; }
  // W x d; rows past rows_seen() are zero until the window first fills.
  [[nodiscard]] const Matrix<T>& window() const { return window_; }
  [[nodiscard]] const Params& params() const { return params_; }
  [[nodiscard]] const Schema& schema() const { return schema_; }
  [[nodiscard]] Index trees_per_block() const { return resolve_trees_per_block(params_); }
  [[nodiscard]] std::size_t memory_usage() const {
    return sizeof(*this) + static_cast<std::size_t>(window_.size()) * sizeof(T) + forest_.memory_usage();
  }

  // Threads used by fits and batch scoring (not saved).
  void set_n_jobs(int n_jobs) {
    forest_.set_n_jobs(n_jobs);
    params_.forest.n_jobs = n_jobs;
  }

  static Index resolve_trees_per_block(const Params& params) {
    if (const auto* count = std::get_if<Index>(&params.trees_per_block)) return *count;
    return std::max<Index>(1, params.forest.n_estimators * params.block_size / params.window_size);
  }

  // Params::validate.
  static void validate_params(const Params& params, std::string_view where) {
    params.forest.validate(where);
    detail::require_parameter(params.window_size >= 2, where, "window_size", ">= 2", params.window_size);
    detail::require_parameter(params.block_size >= 1 && params.block_size <= params.window_size, where, "block_size",
                              "in [1, window_size] = [1, " + std::to_string(params.window_size) + "]",
                              params.block_size);
    const Index n = params.forest.n_estimators;
    detail::require_parameter(resolve_trees_per_block(params) >= 1 && resolve_trees_per_block(params) <= n, where,
                              "trees_per_block", "auto or in [1, n_estimators] = [1, " + std::to_string(n) + "]",
                              resolve_trees_per_block(params));
    // Rows per tree, as the forest will resolve them on a full window.
    Index psi = std::min<Index>(256, params.window_size);
    if (const auto* count = std::get_if<Index>(&params.forest.max_samples)) psi = std::min(*count, params.window_size);
    if (const auto* fraction = std::get_if<double>(&params.forest.max_samples)) {
      psi = static_cast<Index>(*fraction * static_cast<double>(params.window_size));
      if (psi < 2) {
        detail::raise<invalid_argument>(where, "max_samples = " + detail::format_number(*fraction) +
                                                   " of window_size " + std::to_string(params.window_size) + " is " +
                                                   std::to_string(psi) + " rows, at least 2 are required");
      }
    }
    // A refresh briefly holds n + trees_per_block trees; node indices are 32-bit.
    const double nodes = static_cast<double>(n + resolve_trees_per_block(params)) *
                         static_cast<double>(std::int64_t{2} << detail::forest::height_limit(psi));
    if (nodes > static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
      detail::raise<invalid_argument>(where,
                                      "(n_estimators + trees_per_block) * 2^(ceil(log2(max_samples)) + 1) "
                                      "must be <= 2147483647 (node indices are 32-bit)");
    }
  }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    detail::check_format_version(model_type, version, format_version);
    auto trees_kind = static_cast<std::uint8_t>(params_.trees_per_block.index());
    Index trees_count = 0;
    if (const auto* count = std::get_if<Index>(&params_.trees_per_block)) trees_count = *count;
    std::uint32_t forest_version = Forest::format_version;
    StreamingIsolationForest loaded;
    StreamingIsolationForest& target = Archive::is_loading::value ? loaded : *this;
    archive(cereal::make_nvp("window_size", target.params_.window_size),
            cereal::make_nvp("block_size", target.params_.block_size),
            cereal::make_nvp("trees_per_block_kind", trees_kind), cereal::make_nvp("trees_per_block", trees_count),
            cereal::make_nvp("schema", target.schema_), cereal::make_nvp("rows_seen", target.rows_seen_),
            cereal::make_nvp("window", target.window_), cereal::make_nvp("forest_format_version", forest_version));
    if constexpr (Archive::is_loading::value) {
      detail::check_format_version("IsolationForest (in a StreamingIsolationForest)", forest_version,
                                   Forest::format_version);
    }
    NestedForest nested{target.forest_, forest_version};
    archive(cereal::make_nvp("forest", nested));
    if constexpr (Archive::is_loading::value) {
      if (trees_kind > 1) fail("trees_per_block kind " + std::to_string(trees_kind) + " is unknown");
      if (trees_kind == 0) loaded.params_.trees_per_block = Auto{};
      else loaded.params_.trees_per_block = trees_count;
      loaded.params_.forest = loaded.forest_.params();
      loaded.check_loaded();
      *this = std::move(loaded);
    }
  }

 private:
  // The forest in its own node, with its own format version.
  struct NestedForest {
    Forest& forest;
    std::uint32_t version;
    template <class Archive>
    void serialize(Archive& archive) {
      forest.serialize(archive, version);
    }
  };

  [[noreturn]] static void fail(const std::string& what) {
    throw serialization_error("redflag::load: StreamingIsolationForest " + what);
  }

  void set_schema(const Schema& schema, std::string_view where) {
    if (schema.empty()) detail::raise<invalid_argument>(where, "the schema has no columns");
    if (schema.size() > detail::forest::max_columns) {
      detail::raise<invalid_argument>(where, "rows have " + std::to_string(schema.size()) + " columns, at most " +
                                                 std::to_string(detail::forest::max_columns) + " are supported");
    }
    detail::forest::resolve_max_features(params_.forest.max_features, schema.size(), where);
    window_ = Matrix<T>::Zero(params_.window_size, schema.size());
    schema_ = schema;
  }

  // The first rows fix the columns, once they pass the checks.
  template <class Derived>
  void learn_first(const Eigen::MatrixBase<Derived>& X, std::string_view where) {
    const Schema schema = Schema::numeric(X.cols());
    detail::forest::check_values(MatrixRef<T>(X), schema, params_.forest.missing, where);
    set_schema(schema, where);
  }

  template <class Derived>
  void require_rows(const Eigen::MatrixBase<Derived>& X, std::string_view where) const {
    schema_.require_columns(X.cols(), where);
    detail::forest::check_values(MatrixRef<T>(X), schema_, params_.forest.missing, where);
  }

  void require_ready(std::string_view where) const {
    if (is_ready()) return;
    detail::raise<not_fitted>(where, "the forest is fitted once the window holds its " +
                                         std::to_string(params_.window_size) + " rows; " +
                                         std::to_string(rows_until_ready()) + " more are needed");
  }

  // Stores a checked row; fits or refreshes when due.
  void append(const T* row) {
    const auto W = static_cast<std::uint64_t>(params_.window_size);
    std::copy_n(row, window_.cols(), window_.row(static_cast<Index>(rows_seen_ % W)).data());
    ++rows_seen_;
    if (rows_seen_ == W) {
      forest_.fit(window_, schema_);
    } else if (rows_seen_ > W && (rows_seen_ - W) % static_cast<std::uint64_t>(params_.block_size) == 0) {
      refresh();
    }
  }

  // Works on a copy (cheap next to growing trees), so a refresh that throws
  // leaves the forest as it was.
  void refresh() {
    const Index replaced = resolve_trees_per_block(params_);
    Forest next = forest_;
    if (replaced < next.n_estimators()) {
      next.drop_oldest_trees(replaced);
      next.fit_more(window_, replaced);  // re-applies a contamination fraction to the window
    } else {
      // The whole forest at once: drop_oldest_trees keeps one tree, so grow first.
      next.fit_more(window_, replaced);
      next.drop_oldest_trees(replaced);
      if (const auto* fraction = std::get_if<double>(&params_.forest.contamination)) {
        next.set_threshold(static_cast<T>(contamination_threshold(next.anomaly_score(window_), *fraction)));
      }
    }
    forest_ = std::move(next);
  }

  void check_loaded() {
    try {
      params_.validate("load");
    } catch (const invalid_argument& failure) {
      throw serialization_error(std::string(failure.what()) + " (in a StreamingIsolationForest)");
    }
    if (schema_.empty() != (window_.size() == 0) || window_.rows() != (schema_.empty() ? 0 : params_.window_size) ||
        window_.cols() != schema_.size()) {
      fail("window is " + std::to_string(window_.rows()) + " x " + std::to_string(window_.cols()) + ", expected " +
           std::to_string(params_.window_size) + " x " + std::to_string(schema_.size()));
    }
    if (schema_.empty() && rows_seen_ != 0) fail("has seen rows but has no columns");
    if (forest_.is_fitted() != is_ready()) {
      fail(std::string(is_ready() ? "has a full window but no forest" : "has a forest before its window filled"));
    }
    if (forest_.is_fitted() && !(forest_.schema() == schema_)) fail("forest's schema differs from the window's");
    try {
      if (!schema_.empty())
        detail::forest::check_values(MatrixRef<T>(window_), schema_, params_.forest.missing, "load");
    } catch (const data_error& failure) {
      fail(std::string("window: ") + failure.what());
    }
  }

  Params params_;
  Schema schema_;
  Matrix<T> window_;  // ring buffer, W x d once the columns are known
  std::uint64_t rows_seen_ = 0;
  Forest forest_;
};

}  // namespace redflag
