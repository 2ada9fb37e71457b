#pragma once

// RandomForest: Breiman's random forest classifier ("Random Forests",
// Machine Learning 45, 2001) with scikit-learn's RandomForestClassifier
// parameters and defaults. Each tree is a CART tree
// (detail/decision_tree_builder.hpp) grown on a bootstrap sample, choosing
// each split among max_features random columns; predict_proba averages the
// trees' leaf class distributions.
//
// Labels are any integers; classes() lists them ascending, the column order
// of predict_proba. Class weights multiply sample weights, and a bootstrap
// draw counted m times weighs m times, as in scikit-learn.
//
// Tree t draws from Random::stream(random_state, t); trees are fitted in
// parallel and rows predicted in parallel over fixed blocks, each row adding
// its trees' probabilities in tree order, so models and predictions are
// bit-identical for any n_jobs.

#include <redflag/core/concepts.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/explanation.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/detail/decision_tree_builder.hpp>
#include <redflag/forest/detail/random_forest_state.hpp>
#include <redflag/forest/detail/tree_shap.hpp>
#include <redflag/forest/random_forest_params.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace redflag {

template <Scalar T>
class RandomForest {
 public:
  using scalar_type = T;

  using Params = RandomForestParams;

  // The type tag in model files, kept from the first release so older files
  // load; messages name the class, RandomForest.
  static constexpr std::string_view model_type = "RandomForestClassifier";
  // 2: min_samples_split / min_samples_leaf may be fractions. Format 1 files load.
  static constexpr std::uint32_t format_version = 2;

  RandomForest() = default;
  explicit RandomForest(const Params& params) : params_(params) { params_.validate(at("RandomForest")); }

  RandomForest& fit(const MatrixRef<T>& X, const LabelsRef& y) { return fit(X, y, Schema::numeric(X.cols())); }
  RandomForest& fit(const MatrixRef<T>& X, const LabelsRef& y, const Schema& schema) {
    return fit_impl(X, y, nullptr, schema);
  }
  RandomForest& fit(const MatrixRef<T>& X, const LabelsRef& y, const VectorRef<T>& sample_weight) {
    return fit_impl(X, y, &sample_weight, Schema::numeric(X.cols()));
  }
  RandomForest& fit(const MatrixRef<T>& X, const LabelsRef& y, const VectorRef<T>& sample_weight,
                    const Schema& schema) {
    return fit_impl(X, y, &sample_weight, schema);
  }

  // n x n_classes, columns in classes() order: the mean over trees of the
  // class distribution (weighted) of the leaf each row reaches.
  [[nodiscard]] Matrix<T> predict_proba(const MatrixRef<T>& X) const {
    require_input(X, "predict_proba");
    return probabilities(X);
  }

  // Also checks that `schema` names the columns the model was fitted on.
  [[nodiscard]] Matrix<T> predict_proba(const MatrixRef<T>& X, const Schema& schema) const {
    require_fitted("predict_proba");
    state_.schema.require_same(schema, at("predict_proba"));
    return predict_proba(X);
  }

  // The class of highest probability (the first, in classes() order, on ties).
  [[nodiscard]] LabelVector predict(const MatrixRef<T>& X) const {
    require_input(X, "predict");
    const Matrix<T> proba = probabilities(X);
    LabelVector labels(X.rows());
    for (Index r = 0; r < X.rows(); ++r) {
      Index best = 0;
      proba.row(r).maxCoeff(&best);
      labels(r) = state_.classes[static_cast<std::size_t>(best)];
    }
    return labels;
  }

  // Mean decrease in impurity per column, each tree's normalised to sum 1,
  // averaged over trees and normalised again: scikit-learn's
  // feature_importances_, computed at fit and saved with the model. Not
  // redflag's feature_importances (core/explanation.hpp), which measures
  // contributions on given rows.
  [[nodiscard]] Vector<T> impurity_importances() const {
    require_fitted("impurity_importances");
    Vector<T> result(static_cast<Index>(state_.importances.size()));
    for (std::size_t j = 0; j < state_.importances.size(); ++j) {
      result(static_cast<Index>(j)) = static_cast<T>(state_.importances[j]);
    }
    return result;
  }

  // Accuracy of the out-of-bag predictions on the training rows (fit with
  // oob_score = true); kept when the model is saved.
  [[nodiscard]] double oob_score() const {
    require_fitted("oob_score");
    if (!state_.has_oob) detail::raise<not_fitted>(at("oob_score"), "fit with oob_score = true first");
    return state_.oob_score;
  }

  // Per training row, the class probabilities averaged over the trees that
  // did not draw it (all zero for a row every tree drew, as scikit-learn).
  // One row per training row, so it is not saved with the model.
  [[nodiscard]] const Matrix<T>& oob_decision_function() const {
    require_fitted("oob_decision_function");
    if (oob_decision_.size() == 0) {
      detail::raise<not_fitted>(at("oob_decision_function"),
                                state_.has_oob ? "the out-of-bag decision function is not saved with the model"
                                               : "fit with oob_score = true first");
    }
    return oob_decision_;
  }

  // Exact path-dependent TreeSHAP of the probability of classes()[class_index],
  // averaged over trees, with covers = weighted training rows per node:
  // scores are that column of predict_proba, expected_value the class's
  // cover-weighted mean leaf probability. One class per call (ask for each
  // class you need; for two classes the second's contributions are the
  // first's negated).
  [[nodiscard]] Explanation<T> explain(const MatrixRef<T>& X, Index class_index) const {
    const std::string where = at("explain");
    require_input(X, "explain");
    detail::require_parameter(class_index >= 0 && class_index < n_classes(), where, "class_index",
                              "in [0, " + std::to_string(n_classes()) + ") (a column of predict_proba)", class_index);
    const std::size_t n_trees = state_.trees.tree_count();
    const std::size_t k_count = state_.classes.size();
    const auto k = static_cast<std::size_t>(class_index);
    const auto d = static_cast<std::size_t>(X.cols());
    const double per_tree = 1.0 / static_cast<double>(n_trees);
    Explanation<T> result;
    result.feature_names = state_.schema.names();
    double expected = 0.0;
    for (std::size_t t = 0; t < n_trees; ++t) {
      expected += detail::forest::expected_value(detail::forest::ClassTreeView<T>(state_.trees, t), k);
    }
    result.expected_value = static_cast<T>(expected * per_tree);
    result.contributions.resize(X.rows(), X.cols());
    result.scores = probabilities(X).col(class_index);
    int deepest = 0;
    for (const auto depth : state_.trees.depth) deepest = std::max(deepest, depth);
    const auto stride = static_cast<std::size_t>(X.outerStride());
    parallel_for(static_cast<std::size_t>(X.rows()), params_.n_jobs,
                 [&](std::size_t begin, std::size_t end) {
                   detail::forest::TreeShapWorkspace workspace;
                   workspace.reserve(deepest, k_count, d);
                   // TreeSHAP computes every class at once; the others are dropped.
                   std::vector<double> phi(d * k_count);
                   for (std::size_t r = begin; r < end; ++r) {
                     const T* x = X.data() + r * stride;
                     std::fill(phi.begin(), phi.end(), 0.0);
                     for (std::size_t t = 0; t < n_trees; ++t) {
                       detail::forest::add_tree_shap(detail::forest::ClassTreeView<T>(state_.trees, t), x,
                                                     std::span<double>(phi), workspace);
                     }
                     for (std::size_t j = 0; j < d; ++j) {
                       result.contributions(static_cast<Index>(r), static_cast<Index>(j)) =
                           static_cast<T>(phi[j * k_count + k] * per_tree);
                     }
                   }
                 },
                 {.grain = 16});
    return result;
  }

  // explain(X, class_index).importances(): the mean absolute contribution of
  // each feature to that class's probability over X's rows, normalised to
  // sum to 1 — feature_importances as every component defines it.
  [[nodiscard]] Vector<T> feature_importances(const MatrixRef<T>& X, Index class_index) const {
    return explain(X, class_index).importances();
  }

  void set_n_jobs(int n_jobs) {
    resolve_n_jobs(n_jobs, at("set_n_jobs"));
    params_.n_jobs = n_jobs;
  }

  [[nodiscard]] bool is_fitted() const { return state_.trees.tree_count() > 0; }
  [[nodiscard]] const Schema& schema() const { return state_.schema; }
  [[nodiscard]] const Params& params() const { return params_; }
  [[nodiscard]] const LabelVector& classes() const { return classes_; }
  [[nodiscard]] Index n_classes() const { return static_cast<Index>(state_.classes.size()); }
  [[nodiscard]] Index n_features() const { return state_.schema.size(); }
  [[nodiscard]] Index n_estimators() const { return static_cast<Index>(state_.trees.tree_count()); }
  [[nodiscard]] Index node_count() const { return static_cast<Index>(state_.trees.nodes.size()); }
  [[nodiscard]] std::size_t memory_usage() const { return state_.memory_usage(); }

  // Params::validate, for callers that name the place themselves.
  static void validate_params(const Params& params, std::string_view where) { params.validate(where); }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    detail::check_format_version("RandomForest", version, format_version);
    if constexpr (Archive::is_loading::value) {
      RandomForest loaded;
      detail::forest::serialize_random_forest_params(archive, loaded.params_, version);
      loaded.state_.serialize(archive, version);
      try {
        loaded.params_.validate("load");
      } catch (const invalid_argument& failure) {
        throw serialization_error(std::string(failure.what()) + " (in a RandomForest)");
      }
      loaded.state_.check_loaded(loaded.params_.n_estimators);
      loaded.classes_ = to_labels(loaded.state_.classes);
      *this = std::move(loaded);
    } else {
      detail::forest::serialize_random_forest_params(archive, params_, version);
      state_.serialize(archive, version);
    }
  }

 private:
  static std::string at(std::string_view method) { return "RandomForest::" + std::string(method); }

  static LabelVector to_labels(const std::vector<Label>& classes) {
    LabelVector labels(static_cast<Index>(classes.size()));
    for (std::size_t k = 0; k < classes.size(); ++k) labels(static_cast<Index>(k)) = classes[k];
    return labels;
  }

  void require_fitted(std::string_view method) const {
    if (!is_fitted()) detail::raise<not_fitted>(at(method), "call fit() before using the model");
  }

  void require_input(const MatrixRef<T>& X, std::string_view method) const {
    const std::string where = at(method);
    require_fitted(method);
    detail::require_non_empty(X, where, "X");
    state_.schema.require_columns(X.cols(), where);
    detail::require_finite(X, where, "X");
  }

  // Per-row class weights (sample weight times class weight) and class codes.
  struct Targets {
    std::vector<std::int32_t> codes;
    std::vector<double> weight;
    std::vector<Label> classes;
  };

  Targets targets(const LabelsRef& y, const VectorRef<T>* sample_weight, std::string_view where) const {
    Targets out;
    out.classes.assign(y.data(), y.data() + y.size());
    std::sort(out.classes.begin(), out.classes.end());
    out.classes.erase(std::unique(out.classes.begin(), out.classes.end()), out.classes.end());
    if (out.classes.size() < 2) {
      detail::raise<data_error>(
          where, "y has a single class (" + std::to_string(out.classes.front()) + "); a classifier needs at least 2");
    }
    const auto n = static_cast<std::size_t>(y.size());
    out.codes.resize(n);
    std::vector<double> class_rows(out.classes.size(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const auto code =
          std::lower_bound(out.classes.begin(), out.classes.end(), y(static_cast<Index>(i))) - out.classes.begin();
      out.codes[i] = static_cast<std::int32_t>(code);
      class_rows[static_cast<std::size_t>(code)] += 1.0;
    }
    out.weight.assign(n, 1.0);
    if (sample_weight != nullptr) {
      detail::require_same_length(sample_weight->size(), y.size(), where, "sample_weight", "y");
      double total = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto value = static_cast<double>((*sample_weight)(static_cast<Index>(i)));
        if (!std::isfinite(value) || value < 0.0) {
          detail::raise<data_error>(where, "sample_weight[" + std::to_string(i) + "] = " +
                                               detail::format_number(value) + " (finite values >= 0 required)");
        }
        out.weight[i] = value;
        total += value;
      }
      if (!(total > 0.0)) detail::raise<data_error>(where, "sample_weight is all zero");
    }
    std::vector<double> per_class(out.classes.size(), 1.0);
    if (const auto* explicit_weights = std::get_if<std::map<Label, double>>(&params_.class_weight)) {
      for (const auto& [label, weight] : *explicit_weights) {
        const auto found = std::lower_bound(out.classes.begin(), out.classes.end(), label);
        if (found == out.classes.end() || *found != label) {
          detail::raise<invalid_argument>(where,
                                          "class_weight names class " + std::to_string(label) + ", which is not in y");
        }
        per_class[static_cast<std::size_t>(found - out.classes.begin())] = weight;
      }
    } else if (balanced_once()) {
      // n / (n_classes * rows of the class), on unweighted rows like scikit-learn.
      for (std::size_t k = 0; k < per_class.size(); ++k) {
        per_class[k] = static_cast<double>(n) / (static_cast<double>(per_class.size()) * class_rows[k]);
      }
    }
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) total += (out.weight[i] *= per_class[static_cast<std::size_t>(out.codes[i])]);
    if (!(total > 0.0)) detail::raise<data_error>(where, "every row has weight 0 after class_weight");
    return out;
  }

  bool balanced_once() const {
    const auto* kind = std::get_if<ClassWeight>(&params_.class_weight);
    return kind != nullptr &&
           (*kind == ClassWeight::balanced || (*kind == ClassWeight::balanced_subsample && !params_.bootstrap));
  }

  bool balanced_per_tree() const {
    const auto* kind = std::get_if<ClassWeight>(&params_.class_weight);
    return kind != nullptr && *kind == ClassWeight::balanced_subsample && params_.bootstrap;
  }

  Index bootstrap_draws(Index n, std::string_view where) const {
    if (!params_.max_samples) return n;
    if (const auto* count = std::get_if<Index>(&*params_.max_samples)) {
      detail::require_parameter(*count <= n, where, "max_samples", "<= the " + std::to_string(n) + " rows of X",
                                *count);
      return *count;
    }
    // scikit-learn: max(round(n * fraction), 1).
    return std::max<Index>(
        1, static_cast<Index>(std::round(static_cast<double>(n) * std::get<double>(*params_.max_samples))));
  }

  static Index resolve_max_features(const std::variant<Sqrt, Log2, Index, double>& setting, Index d,
                                    std::string_view where) {
    if (std::holds_alternative<Sqrt>(setting)) {
      return std::max<Index>(1, static_cast<Index>(std::sqrt(static_cast<double>(d))));
    }
    if (std::holds_alternative<Log2>(setting)) {
      return std::max<Index>(1, static_cast<Index>(std::log2(static_cast<double>(d))));
    }
    if (const auto* count = std::get_if<Index>(&setting)) {
      detail::require_parameter(*count <= d, where, "max_features",
                                "in [1, " + std::to_string(d) + "] (the columns of X)", *count);
      return *count;
    }
    return std::max<Index>(1, static_cast<Index>(std::get<double>(setting) * static_cast<double>(d)));
  }

  RandomForest& fit_impl(const MatrixRef<T>& X, const LabelsRef& y, const VectorRef<T>* sample_weight,
                         const Schema& schema) {
    const std::string where = at("fit");
    params_.validate(where);
    detail::require_non_empty(X, where, "X");
    detail::require_same_length(X.rows(), y.size(), where, "X", "y");
    schema.require_columns(X.cols(), where);
    if (X.cols() > detail::forest::max_columns) {
      detail::raise<invalid_argument>(where, "X has " + std::to_string(X.cols()) + " columns, at most " +
                                                 std::to_string(detail::forest::max_columns) + " are supported");
    }
    detail::require_finite(X, where, "X");
    const Targets target = targets(y, sample_weight, where);
    const auto n = static_cast<std::size_t>(X.rows());
    const Index draws = params_.bootstrap ? bootstrap_draws(X.rows(), where) : X.rows();
    if (static_cast<double>(params_.n_estimators) * 2.0 * static_cast<double>(draws) >
        static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
      detail::raise<invalid_argument>(where,
                                      "n_estimators * 2 * rows per tree must be <= 2147483647 "
                                      "(node indices are 32-bit)");
    }
    detail::forest::ClassTreeSettings settings;
    if (params_.max_depth) settings.max_depth = *params_.max_depth;
    // Fractions of the training rows, as scikit-learn resolves them.
    const auto rows_of = [&](const std::variant<Index, double>& value, Index least) {
      if (const auto* count = std::get_if<Index>(&value)) return *count;
      return std::max(least, static_cast<Index>(std::ceil(std::get<double>(value) * static_cast<double>(X.rows()))));
    };
    settings.min_samples_split = rows_of(params_.min_samples_split, 2);
    settings.min_samples_leaf = rows_of(params_.min_samples_leaf, 1);
    settings.min_impurity_decrease = params_.min_impurity_decrease;
    settings.max_features = resolve_max_features(params_.max_features, X.cols(), where);
    settings.criterion = params_.criterion;
    settings.n_classes = target.classes.size();

    const auto bins = detail::forest::bin_features(X, static_cast<std::size_t>(params_.max_bins), params_.n_jobs);
    const auto n_trees = static_cast<std::size_t>(params_.n_estimators);
    std::vector<detail::forest::BuiltClassTree<T>> built(n_trees);
    // Rows each tree drew (bit per row), kept for the out-of-bag estimate only.
    const std::size_t words = (n + 63) / 64;
    std::vector<std::uint64_t> in_bag(params_.oob_score ? n_trees * words : 0, 0);
    parallel_for(n_trees, params_.n_jobs, [&](std::size_t begin, std::size_t end) {
      std::vector<double> weight;
      std::vector<std::uint32_t> counts;
      for (std::size_t t = begin; t < end; ++t) {
        Random rng = Random::stream(params_.random_state, t);
        weight = target.weight;
        if (params_.bootstrap) {
          counts.assign(n, 0);
          for (Index i = 0; i < draws; ++i) ++counts[rng.uniform_int(n)];
          for (std::size_t i = 0; i < n; ++i) weight[i] *= counts[i];
          if (balanced_per_tree()) reweigh_subsample(target, counts, static_cast<double>(draws), weight);
          if (!in_bag.empty()) {
            for (std::size_t i = 0; i < n; ++i) {
              if (counts[i] != 0) in_bag[t * words + i / 64] |= std::uint64_t{1} << (i % 64);
            }
          }
        }
        built[t] = detail::forest::build_class_tree<T>(bins, target.codes, weight, settings, rng);
      }
    });

    RandomForest fitted(params_);
    fitted.state_.schema = schema;
    fitted.state_.classes = target.classes;
    fitted.state_.trees.n_classes = static_cast<std::uint32_t>(target.classes.size());
    std::vector<double> importance(static_cast<std::size_t>(X.cols()), 0.0);
    std::size_t split_trees = 0;
    for (auto& tree : built) {
      if (tree.nodes.size() > 1) {
        ++split_trees;
        for (std::size_t j = 0; j < importance.size(); ++j) importance[j] += tree.importance[j];
      }
      fitted.state_.trees.append(std::move(tree));
    }
    const double importance_sum = std::accumulate(importance.begin(), importance.end(), 0.0);
    if (split_trees > 0 && importance_sum > 0.0) {
      for (double& value : importance) value /= importance_sum;
    }
    fitted.state_.importances = std::move(importance);
    fitted.state_.trees.derive();
    fitted.classes_ = to_labels(target.classes);
    if (params_.oob_score) fitted.compute_oob(X, target.codes, in_bag, words);
    *this = std::move(fitted);
    return *this;
  }

  // balanced_subsample: n_draws / (classes drawn * draws of the class), from
  // the tree's own bootstrap sample, as scikit-learn's compute_sample_weight.
  static void reweigh_subsample(const Targets& target, const std::vector<std::uint32_t>& counts, double draws,
                                std::vector<double>& weight) {
    std::vector<double> drawn(target.classes.size(), 0.0);
    for (std::size_t i = 0; i < counts.size(); ++i) drawn[static_cast<std::size_t>(target.codes[i])] += counts[i];
    const auto present =
        static_cast<double>(std::count_if(drawn.begin(), drawn.end(), [](double c) { return c > 0.0; }));
    for (std::size_t i = 0; i < counts.size(); ++i) {
      const double rows = drawn[static_cast<std::size_t>(target.codes[i])];
      weight[i] = rows > 0.0 ? weight[i] * draws / (present * rows) : 0.0;
    }
  }

  void compute_oob(const MatrixRef<T>& X, const std::vector<std::int32_t>& codes,
                   const std::vector<std::uint64_t>& in_bag, std::size_t words) {
    const auto n = static_cast<std::size_t>(X.rows());
    const std::size_t k_count = state_.classes.size();
    const std::size_t n_trees = state_.trees.tree_count();
    oob_decision_ = Matrix<T>::Zero(X.rows(), static_cast<Index>(k_count));
    const auto stride = static_cast<std::size_t>(X.outerStride());
    const auto correct = parallel_map_chunks(
        n, params_.n_jobs,
        [&](std::size_t begin, std::size_t end) {
          std::vector<double> sum(k_count);
          std::size_t hits = 0;
          for (std::size_t i = begin; i < end; ++i) {
            std::fill(sum.begin(), sum.end(), 0.0);
            std::size_t votes = 0;
            const T* x = X.data() + i * stride;
            for (std::size_t t = 0; t < n_trees; ++t) {
              if ((in_bag[t * words + i / 64] >> (i % 64)) & 1u) continue;
              const std::size_t row = state_.trees.leaf_of(t, x);
              for (std::size_t k = 0; k < k_count; ++k) {
                sum[k] += static_cast<double>(state_.trees.leaf_values[row * k_count + k]);
              }
              ++votes;
            }
            // A row no tree left out keeps probabilities 0 and counts as
            // the first class, as in scikit-learn.
            const double scale = votes == 0 ? 0.0 : 1.0 / static_cast<double>(votes);
            std::size_t best = 0;
            for (std::size_t k = 0; k < k_count; ++k) {
              oob_decision_(static_cast<Index>(i), static_cast<Index>(k)) = static_cast<T>(sum[k] * scale);
              if (sum[k] > sum[best]) best = k;
            }
            hits += static_cast<std::int32_t>(best) == codes[i] ? 1 : 0;
          }
          return hits;
        },
        {.grain = 1024});
    std::size_t hits = 0;
    for (const std::size_t value : correct) hits += value;
    state_.has_oob = true;
    state_.oob_score = static_cast<double>(hits) / static_cast<double>(n);
  }

  [[nodiscard]] Matrix<T> probabilities(const MatrixRef<T>& X) const {
    constexpr std::size_t block_rows = 4096;
    const std::size_t k_count = state_.classes.size();
    const double per_tree = 1.0 / static_cast<double>(state_.trees.tree_count());
    Matrix<T> out(X.rows(), static_cast<Index>(k_count));
    const auto stride = static_cast<std::size_t>(X.outerStride());
    parallel_for(static_cast<std::size_t>(X.rows()), params_.n_jobs,
                 [&](std::size_t begin, std::size_t end) {
                   std::vector<double> sum((end - begin) * k_count, 0.0);
                   state_.trees.add_probabilities(X.data() + begin * stride, stride, end - begin,
                                                  static_cast<std::size_t>(X.cols()), sum.data());
                   for (std::size_t r = begin; r < end; ++r) {
                     for (std::size_t k = 0; k < k_count; ++k) {
                       out(static_cast<Index>(r), static_cast<Index>(k)) =
                           static_cast<T>(sum[(r - begin) * k_count + k] * per_tree);
                     }
                   }
                 },
                 {.grain = block_rows});
    return out;
  }

  Params params_;
  detail::forest::ClassForestState<T> state_;
  LabelVector classes_;
  Matrix<T> oob_decision_;  // not saved: a row per training row
};

}  // namespace redflag
