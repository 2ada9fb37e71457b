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
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/preprocessing/scaler_support.hpp>

#include <cereal/cereal.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>

namespace redflag {

template <Scalar T>
class StandardScaler : public detail::preprocessing::ColumnScaler<StandardScaler<T>, T> {
 public:
  struct Params {
    bool with_mean = true;  // subtract the column mean
    bool with_std = true;   // divide by the column standard deviation

    // Every combination is valid; present so every component's Params is
    // checked the same way (docs/writing-a-component.md).
    void validate(std::string_view /*where*/ = "StandardScaler::Params::validate") const {}
  };

  static constexpr std::string_view model_type = "StandardScaler";
  static constexpr std::uint32_t format_version = 1;

  StandardScaler() = default;
  explicit StandardScaler(const Params& params) : params_(params) {}

  // Fits on X with columns named x0, x1, ...
  StandardScaler& fit(const MatrixRef<T>& X) { return fit(X, Schema::numeric(X.cols())); }

  StandardScaler& fit(const MatrixRef<T>& X, const Schema& schema) {
    constexpr std::string_view where = "StandardScaler::fit";
    detail::preprocessing::require_scaler_input(X, schema, where);

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
    this->record_fit(n, schema);
    return *this;
  }

  // transform, transform_into, fit_transform, inverse_transform, params,
  // is_fitted, schema, n_samples_seen and serialize: see ColumnScaler.

  // Column means (always computed, subtracted only when with_mean). The
  // statistics are double for float scalers too, as in scikit-learn.
  [[nodiscard]] const Vector<double>& mean() const { return mean_; }
  // Population variances (ddof = 0).
  [[nodiscard]] const Vector<double>& var() const { return var_; }
  // Standard deviations, 1 for constant columns (used only when with_std).
  [[nodiscard]] const Vector<double>& scale() const { return scale_; }

 private:
  friend detail::preprocessing::ColumnScaler<StandardScaler, T>;

  void apply(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    detail::preprocessing::center_and_divide<T>(X, offset(), divisor(), out);
  }
  void invert(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    detail::preprocessing::multiply_and_add<T>(X, divisor(), offset(), out);
  }

  template <class Archive>
  void fields(Archive& archive, std::uint64_t& n_samples, Schema& schema) {
    archive(cereal::make_nvp("with_mean", params_.with_mean), cereal::make_nvp("with_std", params_.with_std),
            cereal::make_nvp("n_samples_seen", n_samples), cereal::make_nvp("mean", mean_),
            cereal::make_nvp("var", var_), cereal::make_nvp("scale", scale_), cereal::make_nvp("schema", schema));
  }

  void validate_loaded() const {
    const Index expected = this->schema().size();
    detail::preprocessing::require_loaded_vector(mean_, expected, model_type, "mean");
    detail::preprocessing::require_loaded_vector(var_, expected, model_type, "var", false, true);
    detail::preprocessing::require_loaded_vector(scale_, expected, model_type, "scale", true);
  }

  [[nodiscard]] Vector<double> offset() const { return params_.with_mean ? mean_ : Vector<double>::Zero(mean_.size()); }
  [[nodiscard]] Vector<double> divisor() const {
    return params_.with_std ? scale_ : Vector<double>::Ones(scale_.size());
  }

  Params params_;
  Vector<double> mean_;
  Vector<double> var_;
  Vector<double> scale_;
};

}  // namespace redflag
