#pragma once

// StandardScaler: z = (x - mean) / std per column, as scikit-learn's
// StandardScaler. The variance is the population variance (ddof = 0), computed
// with the corrected two-pass algorithm in double precision for float input
// too, so results match scikit-learn to ~1e-12 relative in double.
//
// Columns indistinguishable from constant get scale 1 (they become 0 after
// centring) by scikit-learn's rule: var <= n*eps*var + (n*mean*eps)^2 with
// eps = 2^-52, the error bound of the two-pass algorithm (Chan, Golub &
// LeVeque, 1983).
//
// mean(), var() and scale() are always computed; with_mean / with_std only
// decide whether transform() subtracts the mean and divides by the scale.

#include <redflag/core/eigen_cereal.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>
#include <redflag/preprocessing/scaler_support.hpp>

#include <cereal/cereal.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

namespace redflag {

template <Scalar T>
class StandardScaler {
 public:
  struct Params {
    bool with_mean = true;  // subtract the column mean
    bool with_std = true;   // divide by the column standard deviation
  };

  static constexpr std::string_view model_type = "StandardScaler";
  static constexpr std::uint32_t format_version = 1;
  using scalar_type = T;

  StandardScaler() = default;
  explicit StandardScaler(const Params& params) : params_(params) {}

  // Fits on X with columns named x0, x1, ...
  StandardScaler& fit(const MatrixRef<T>& X) { return fit(X, Schema::numeric(X.cols())); }

  StandardScaler& fit(const MatrixRef<T>& X, const Schema& schema) {
    constexpr std::string_view where = "StandardScaler::fit";
    detail::require_non_empty(X, where, "X");
    schema.require_columns(X.cols(), where);
    detail::require_finite(X, where, "X");

    const Index n = X.rows();
    const Index d = X.cols();
    const auto n_double = static_cast<double>(n);
    // Sums in blocks of rows: cheap, and keeps the rounding error of long
    // columns near O(block + n / block) ulps instead of O(n).
    constexpr Index block_rows = 256;
    Vector<double> mean = Vector<double>::Zero(d);
    Vector<double> block(d);
    for (Index start = 0; start < n; start += block_rows) {
      block.setZero();
      double* b = block.data();
      for (Index i = start; i < std::min(n, start + block_rows); ++i) {
        const T* x = X.row(i).data();
        for (Index j = 0; j < d; ++j) b[j] += static_cast<double>(x[j]);
      }
      mean += block;
    }
    mean /= n_double;

    // Second pass: squared deviations, plus the correction term sum(x - mean)
    // that cancels most of the rounding error of the mean (the "corrected
    // two-pass algorithm" scikit-learn uses).
    Vector<double> correction = Vector<double>::Zero(d);
    Vector<double> squares = Vector<double>::Zero(d);
    Vector<double> block_squares(d);
    const double* m = mean.data();
    for (Index start = 0; start < n; start += block_rows) {
      block.setZero();
      block_squares.setZero();
      double* b = block.data();
      double* b2 = block_squares.data();
      for (Index i = start; i < std::min(n, start + block_rows); ++i) {
        const T* x = X.row(i).data();
        for (Index j = 0; j < d; ++j) {
          const double deviation = static_cast<double>(x[j]) - m[j];
          b[j] += deviation;
          b2[j] += deviation * deviation;
        }
      }
      correction += block;
      squares += block_squares;
    }

    Vector<double> var(d), scale(d);
    constexpr double eps = std::numeric_limits<double>::epsilon();
    for (Index j = 0; j < d; ++j) {
      var(j) = (squares(j) - correction(j) * correction(j) / n_double) / n_double;
      if (var(j) < 0.0) var(j) = 0.0;  // rounding; a NaN from overflow stays NaN
      const double mean_error = n_double * mean(j) * eps;
      const bool constant = var(j) <= n_double * eps * var(j) + mean_error * mean_error;
      scale(j) = constant ? 1.0 : std::sqrt(var(j));
    }
    detail::preprocessing::require_finite_statistic(mean, schema, where, "mean");
    detail::preprocessing::require_finite_statistic(var, schema, where, "variance");

    mean_ = std::move(mean);
    var_ = std::move(var);
    scale_ = std::move(scale);
    n_samples_seen_ = n;
    schema_ = schema;
    return *this;
  }

  [[nodiscard]] Matrix<T> transform(const MatrixRef<T>& X) const {
    Matrix<T> out(X.rows(), X.cols());
    transform_into(X, out, "StandardScaler::transform");
    return out;
  }

  // transform() into a caller-owned matrix of X's shape (no allocation; `out`
  // may be X itself).
  void transform_into(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    transform_into(X, out, "StandardScaler::transform_into");
  }

  // Also checks that `schema` names the columns the scaler was fitted on.
  [[nodiscard]] Matrix<T> transform(const MatrixRef<T>& X, const Schema& schema) const {
    constexpr std::string_view where = "StandardScaler::transform";
    require_fitted(where);
    schema_.require_same(schema, where);
    return transform(X);
  }

  Matrix<T> fit_transform(const MatrixRef<T>& X) { return fit(X).transform(X); }
  Matrix<T> fit_transform(const MatrixRef<T>& X, const Schema& schema) { return fit(X, schema).transform(X); }

  [[nodiscard]] Matrix<T> inverse_transform(const MatrixRef<T>& X) const {
    constexpr std::string_view where = "StandardScaler::inverse_transform";
    require_fitted(where);
    detail::preprocessing::require_scaler_input(X, schema_, where);
    Matrix<T> out(X.rows(), X.cols());
    detail::preprocessing::multiply_and_add<T>(X, divisor(), offset(), out);
    return out;
  }

  [[nodiscard]] const Params& params() const { return params_; }
  [[nodiscard]] bool is_fitted() const { return n_samples_seen_ > 0; }
  [[nodiscard]] const Schema& schema() const { return schema_; }
  [[nodiscard]] Index n_samples_seen() const { return n_samples_seen_; }
  // Column means (always computed, subtracted only when with_mean). The
  // statistics are double for float scalers too, as in scikit-learn.
  [[nodiscard]] const Vector<double>& mean() const { return mean_; }
  // Population variances (ddof = 0).
  [[nodiscard]] const Vector<double>& var() const { return var_; }
  // Standard deviations, 1 for constant columns (used only when with_std).
  [[nodiscard]] const Vector<double>& scale() const { return scale_; }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    detail::preprocessing::require_loaded_version(version, format_version, model_type);
    if constexpr (Archive::is_loading::value) {
      // Load into a fresh scaler so a rejected file leaves *this untouched.
      StandardScaler loaded;
      loaded.fields(archive);
      loaded.validate_loaded();
      *this = std::move(loaded);
    } else {
      fields(archive);
    }
  }

 private:
  void transform_into(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out, std::string_view where) const {
    require_fitted(where);
    detail::preprocessing::require_scaler_input(X, schema_, where);
    detail::preprocessing::require_output_shape<T>(X, out, where);
    detail::preprocessing::center_and_divide<T>(X, offset(), divisor(), out);
  }

  template <class Archive>
  void fields(Archive& archive) {
    auto n_samples = static_cast<std::uint64_t>(n_samples_seen_);
    archive(cereal::make_nvp("with_mean", params_.with_mean), cereal::make_nvp("with_std", params_.with_std),
            cereal::make_nvp("n_samples_seen", n_samples), cereal::make_nvp("mean", mean_),
            cereal::make_nvp("var", var_), cereal::make_nvp("scale", scale_),
            cereal::make_nvp("schema", schema_));
    if (n_samples > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
      throw serialization_error("redflag::load: StandardScaler n_samples_seen " + std::to_string(n_samples) +
                                " is out of range");
    }
    n_samples_seen_ = static_cast<Index>(n_samples);
  }

  void validate_loaded() const {
    detail::preprocessing::require_loaded_schema(is_fitted(), schema_, model_type);
    const Index expected = schema_.size();
    detail::preprocessing::require_loaded_vector(mean_, expected, model_type, "mean");
    detail::preprocessing::require_loaded_vector(var_, expected, model_type, "var", false, true);
    detail::preprocessing::require_loaded_vector(scale_, expected, model_type, "scale", true);
  }

  void require_fitted(std::string_view where) const {
    if (!is_fitted()) detail::raise<not_fitted>(where, "call fit() before using the scaler");
  }

  [[nodiscard]] Vector<double> offset() const {
    return params_.with_mean ? mean_ : Vector<double>::Zero(mean_.size());
  }
  [[nodiscard]] Vector<double> divisor() const {
    return params_.with_std ? scale_ : Vector<double>::Ones(scale_.size());
  }

  Params params_;
  Vector<double> mean_;
  Vector<double> var_;
  Vector<double> scale_;
  Index n_samples_seen_ = 0;
  Schema schema_;
};

}  // namespace redflag
