#pragma once

// RandomForest: Breiman's random forest classifier ("Random Forests",
// Machine Learning 45, 2001) with scikit-learn's RandomForestClassifier
// parameters and defaults. Each tree is a CART tree (decision_tree_builder.hpp)
// grown on a bootstrap sample, choosing each split among max_features random
// columns; predict_proba averages the trees' leaf class distributions.
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
#include <redflag/core/parallel.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/forest/decision_tree_builder.hpp>
#include <redflag/forest/random_forest_state.hpp>
#include <redflag/forest/tree_shap.hpp>

#include <cereal/types/map.hpp>

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

// scikit-learn's class_weight = None / "balanced" / "balanced_subsample";
// a std::map<Label, double> gives explicit weights (absent classes weigh 1).
enum class ClassWeight : std::uint8_t { none, balanced, balanced_subsample };

// Per-class TreeSHAP explanation of predict_proba:
// probabilities(r, k) = expected_value(k) + sum_j contributions[k](r, j).
template <Scalar T>
struct ClassExplanation {
  std::vector<std::string> feature_names;
  LabelVector classes;
  Vector<T> expected_value;              // per class: the mean leaf probability weighted by cover
  std::vector<Matrix<T>> contributions;  // per class: rows x features
  Matrix<T> probabilities;               // predict_proba of the rows
};

template <Scalar T>
class RandomForest {
 public:
  using scalar_type = T;

  // An Index is a count, a double a fraction (scikit-learn's int / float).
  struct Params {
    Index n_estimators = 100;  // trees, >= 1
    Criterion criterion = Criterion::gini;
    std::optional<Index> max_depth = std::nullopt;  // none: grow until pure or too small; else >= 1
    // Rows a node needs to be split: a count >= 2 | a fraction in (0, 1] of
    // the training rows, ceil(fraction * n) and at least 2.
    std::variant<Index, double> min_samples_split = Index{2};
    // Rows each side of a split keeps: a count >= 1 | a fraction in (0, 1),
    // ceil(fraction * n).
    std::variant<Index, double> min_samples_leaf = Index{1};
    double min_impurity_decrease = 0.0;  // >= 0, weighted as in scikit-learn
    std::variant<Sqrt, Log2, Index, double> max_features = Sqrt{};  // count in [1, d] | fraction in (0, 1]
    bool bootstrap = true;
    bool oob_score = false;  // out-of-bag accuracy (needs bootstrap)
    std::optional<std::variant<Index, double>> max_samples = std::nullopt;  // bootstrap draws: none = n | count | fraction
    std::variant<ClassWeight, std::map<Label, double>> class_weight = ClassWeight::none;
    // Histogram bins per column for split search, in [2, 256]; a column with
    // at most max_bins distinct values is searched exactly.
    Index max_bins = 255;
    std::uint64_t random_state = 0;
    int n_jobs = 1;  // 1 serial, -1 all cores; not saved with the model
  };

  static constexpr std::string_view model_type = "RandomForestClassifier";
  // 2: min_samples_split / min_samples_leaf may be fractions. Format 1 files load.
  static constexpr std::uint32_t format_version = 2;

  RandomForest() = default;
  explicit RandomForest(const Params& params) : params_(params) {}

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
  // averaged over trees and normalised again (scikit-learn's definition).
  [[nodiscard]] Vector<T> feature_importances() const {
    require_fitted("feature_importances");
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
    if (!state_.has_oob) detail::raise<invalid_argument>(at("oob_score"), "fit with oob_score = true first");
    return state_.oob_score;
  }

  // Per training row, the class probabilities averaged over the trees that
  // did not draw it (all zero for a row every tree drew, as scikit-learn).
  // One row per training row, so it is not saved with the model.
  [[nodiscard]] const Matrix<T>& oob_decision_function() const {
    require_fitted("oob_decision_function");
    if (oob_decision_.size() == 0) {
      detail::raise<invalid_argument>(at("oob_decision_function"),
                                      state_.has_oob ? "the out-of-bag decision function is not saved with the model"
                                                     : "fit with oob_score = true first");
    }
    return oob_decision_;
  }

  // Exact path-dependent TreeSHAP of each class's probability, averaged
  // over trees, with covers = weighted training rows per node.
  [[nodiscard]] ClassExplanation<T> explain(const MatrixRef<T>& X) const {
    require_input(X, "explain");
    const std::size_t n_trees = state_.trees.tree_count();
    const std::size_t k_count = state_.classes.size();
    const auto d = static_cast<std::size_t>(X.cols());
    const double per_tree = 1.0 / static_cast<double>(n_trees);
    ClassExplanation<T> result;
    result.feature_names = state_.schema.names();
    result.classes = classes();
    result.expected_value = Vector<T>::Zero(static_cast<Index>(k_count));
    for (std::size_t k = 0; k < k_count; ++k) {
      double sum = 0.0;
      for (std::size_t t = 0; t < n_trees; ++t) {
        sum += detail::forest::expected_value(detail::forest::ClassTreeView<T>(state_.trees, t), k);
      }
      result.expected_value(static_cast<Index>(k)) = static_cast<T>(sum * per_tree);
    }
    result.contributions.assign(k_count, Matrix<T>(X.rows(), X.cols()));
    result.probabilities = probabilities(X);
    int deepest = 0;
    for (const auto depth : state_.trees.depth) deepest = std::max(deepest, depth);
    const auto stride = static_cast<std::size_t>(X.outerStride());
    parallel_for(
        static_cast<std::size_t>(X.rows()), params_.n_jobs,
        [&](std::size_t begin, std::size_t end) {
          detail::forest::TreeShapWorkspace workspace;
          workspace.reserve(deepest);
          std::vector<double> phi(d * k_count);
          for (std::size_t r = begin; r < end; ++r) {
            const T* x = X.data() + r * stride;
            std::fill(phi.begin(), phi.end(), 0.0);
            for (std::size_t t = 0; t < n_trees; ++t) {
              detail::forest::add_tree_shap(detail::forest::ClassTreeView<T>(state_.trees, t), x,
                                            std::span<double>(phi), workspace);
            }
            for (std::size_t j = 0; j < d; ++j) {
              for (std::size_t k = 0; k < k_count; ++k) {
                result.contributions[k](static_cast<Index>(r), static_cast<Index>(j)) =
                    static_cast<T>(phi[j * k_count + k] * per_tree);
              }
            }
          }
        },
        {.grain = 16});
    return result;
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

  // Throws invalid_argument naming the first parameter out of its range;
  // data-dependent checks (max_features <= d, class_weight's classes) happen in fit.
  static void validate_params(const Params& params, std::string_view where) {
    using detail::require_parameter;
    require_parameter(params.n_estimators >= 1, where, "n_estimators", ">= 1", params.n_estimators);
    const auto criterion = static_cast<std::uint8_t>(params.criterion);
    require_parameter(criterion <= 1, where, "criterion", "gini or entropy", criterion);
    if (params.max_depth) require_parameter(*params.max_depth >= 1, where, "max_depth", "none or >= 1", *params.max_depth);
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
    require_parameter(params.max_bins >= 2 && params.max_bins <= 256, where, "max_bins", "in [2, 256]",
                      params.max_bins);
    if (params.oob_score && !params.bootstrap) {
      detail::raise<invalid_argument>(where, "oob_score = true needs bootstrap = true");
    }
    if (const auto* kind = std::get_if<ClassWeight>(&params.class_weight)) {
      const auto code = static_cast<std::uint8_t>(*kind);
      require_parameter(code <= 2, where, "class_weight", "none, balanced, balanced_subsample or a map", code);
    } else {
      for (const auto& [label, weight] : std::get<std::map<Label, double>>(params.class_weight)) {
        require_parameter(std::isfinite(weight) && weight >= 0.0, where,
                          "class_weight[" + std::to_string(label) + "]", "finite and >= 0", weight);
      }
    }
  }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    if (version < 1 || version > format_version) {
      throw serialization_error("redflag::load: RandomForestClassifier format version " + std::to_string(version) +
                                " is not supported (this build reads 1 to " + std::to_string(format_version) + ")");
    }
    if constexpr (Archive::is_loading::value) {
      RandomForest loaded;
      serialize_params(archive, loaded.params_, version);
      loaded.state_.serialize(archive, version);
      try {
        validate_params(loaded.params_, "load");
      } catch (const invalid_argument& failure) {
        throw serialization_error(std::string(failure.what()) + " (in a RandomForestClassifier)");
      }
      loaded.state_.check_loaded(loaded.params_.n_estimators);
      loaded.classes_ = to_labels(loaded.state_.classes);
      *this = std::move(loaded);
    } else {
      serialize_params(archive, params_, version);
      state_.serialize(archive, version);
    }
  }

 private:
  static std::string at(std::string_view method) { return "RandomForestClassifier::" + std::string(method); }

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
      detail::raise<data_error>(where, "y has a single class (" + std::to_string(out.classes.front()) +
                                           "); a classifier needs at least 2");
    }
    const auto n = static_cast<std::size_t>(y.size());
    out.codes.resize(n);
    std::vector<double> class_rows(out.classes.size(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const auto code = std::lower_bound(out.classes.begin(), out.classes.end(), y(static_cast<Index>(i))) - out.classes.begin();
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
          detail::raise<data_error>(where, "sample_weight[" + std::to_string(i) + "] = " + detail::format_number(value) +
                                               " (finite values >= 0 required)");
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
          detail::raise<invalid_argument>(where, "class_weight names class " + std::to_string(label) +
                                                     ", which is not in y");
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
    return kind != nullptr && (*kind == ClassWeight::balanced ||
                               (*kind == ClassWeight::balanced_subsample && !params_.bootstrap));
  }

  bool balanced_per_tree() const {
    const auto* kind = std::get_if<ClassWeight>(&params_.class_weight);
    return kind != nullptr && *kind == ClassWeight::balanced_subsample && params_.bootstrap;
  }

  Index bootstrap_draws(Index n, std::string_view where) const {
    if (!params_.max_samples) return n;
    if (const auto* count = std::get_if<Index>(&*params_.max_samples)) {
      detail::require_parameter(*count <= n, where, "max_samples", "<= the " + std::to_string(n) + " rows of X", *count);
      return *count;
    }
    // scikit-learn: max(round(n * fraction), 1).
    return std::max<Index>(1, static_cast<Index>(std::round(static_cast<double>(n) * std::get<double>(*params_.max_samples))));
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
      detail::require_parameter(*count <= d, where, "max_features", "in [1, " + std::to_string(d) + "] (the columns of X)",
                                *count);
      return *count;
    }
    return std::max<Index>(1, static_cast<Index>(std::get<double>(setting) * static_cast<double>(d)));
  }

  RandomForest& fit_impl(const MatrixRef<T>& X, const LabelsRef& y, const VectorRef<T>* sample_weight,
                         const Schema& schema) {
    const std::string where = at("fit");
    validate_params(params_, where);
    resolve_n_jobs(params_.n_jobs, where);
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
      detail::raise<invalid_argument>(where, "n_estimators * 2 * rows per tree must be <= 2147483647 "
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
    const auto present = static_cast<double>(std::count_if(drawn.begin(), drawn.end(), [](double c) { return c > 0.0; }));
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
    parallel_for(
        static_cast<std::size_t>(X.rows()), params_.n_jobs,
        [&](std::size_t begin, std::size_t end) {
          std::vector<double> sum((end - begin) * k_count, 0.0);
          state_.trees.add_probabilities(X.data() + begin * stride, stride, end - begin, sum.data());
          for (std::size_t r = begin; r < end; ++r) {
            for (std::size_t k = 0; k < k_count; ++k) {
              out(static_cast<Index>(r), static_cast<Index>(k)) = static_cast<T>(sum[(r - begin) * k_count + k] * per_tree);
            }
          }
        },
        {.grain = block_rows});
    return out;
  }

  // Variants as a kind code plus value, so files need no variant support.
  // Format 1 held min_samples_split / min_samples_leaf as counts only.
  template <class Archive>
  static void serialize_params(Archive& archive, Params& params, std::uint32_t version) {
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
    if (const auto* kind = std::get_if<ClassWeight>(&params.class_weight)) class_weight_kind = static_cast<std::uint8_t>(*kind);
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
            cereal::make_nvp("class_weight_kind", class_weight_kind),
            cereal::make_nvp("class_weights", class_weights), cereal::make_nvp("max_bins", params.max_bins),
            cereal::make_nvp("random_state", params.random_state));
    if constexpr (loading) {
      const auto fail = [](const std::string& what) { throw serialization_error("redflag::load: " + what); };
      if (criterion > 1) fail("criterion " + std::to_string(criterion) + " is unknown");
      if (has_max_depth > 1) fail("has_max_depth " + std::to_string(has_max_depth) + " is not 0 or 1");
      if (max_features_kind > 3) fail("max_features kind " + std::to_string(max_features_kind) + " is unknown");
      if (max_samples_kind > 2) fail("max_samples kind " + std::to_string(max_samples_kind) + " is unknown");
      if (class_weight_kind > 3) fail("class_weight kind " + std::to_string(class_weight_kind) + " is unknown");
      if (version < 2 && (split_count < 0 || leaf_count < 0)) fail("min_samples_split or min_samples_leaf is negative");
      params.min_samples_split = split_count < 0 ? std::variant<Index, double>(split_fraction)
                                                 : std::variant<Index, double>(split_count);
      params.min_samples_leaf = leaf_count < 0 ? std::variant<Index, double>(leaf_fraction)
                                               : std::variant<Index, double>(leaf_count);
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

  Params params_;
  detail::forest::ClassForestState<T> state_;
  LabelVector classes_;
  Matrix<T> oob_decision_;  // not saved: a row per training row
};

}  // namespace redflag
