#pragma once

// MinMaxScaler: maps each column's [min, max] seen at fit onto
// [feature_min, feature_max], as scikit-learn's MinMaxScaler:
//   scale = (feature_max - feature_min) / (max - min),
//   x' = x * scale + (feature_min - min * scale).
// A column whose range is below 10 * epsilon of T (scikit-learn's
// _handle_zeros_in_scale) uses range 1, so its values map to feature_min.
// Values outside the fitted range map outside [feature_min, feature_max]
// unless clip is set.

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
class MinMaxScaler : public detail::preprocessing::ColumnScaler<MinMaxScaler<T>, T> {
 public:
  struct Params {
    double feature_min = 0.0;  // lower end of the output range (scikit-learn's feature_range[0])
    double feature_max = 1.0;  // upper end, > feature_min
    bool clip = false;         // clamp transformed values into [feature_min, feature_max]

    // Throws invalid_argument naming the first field out of its range. Called
    // by the constructor and again by fit.
    void validate(std::string_view where = "MinMaxScaler::Params::validate") const {
      MinMaxScaler::validate_params(*this, where);
    }
  };

  static constexpr std::string_view model_type = "MinMaxScaler";
  static constexpr std::uint32_t format_version = 1;

  MinMaxScaler() = default;
  explicit MinMaxScaler(const Params& params) : params_(params) { params_.validate("MinMaxScaler::MinMaxScaler"); }

  MinMaxScaler& fit(const MatrixRef<T>& X) { return fit(X, Schema::numeric(X.cols())); }

  MinMaxScaler& fit(const MatrixRef<T>& X, const Schema& schema) {
    constexpr std::string_view where = "MinMaxScaler::fit";
    params_.validate(where);
    detail::preprocessing::require_scaler_input(X, schema, where);

    const Index d = X.cols();
    Vector<T> data_min = X.row(0).transpose();
    Vector<T> data_max = data_min;
    for (Index i = 1; i < X.rows(); ++i) {
      const T* x = X.row(i).data();
      for (Index j = 0; j < d; ++j) {
        data_min(j) = std::min(data_min(j), x[j]);
        data_max(j) = std::max(data_max(j), x[j]);
      }
    }
    const Vector<double> range = data_max.template cast<double>() - data_min.template cast<double>();
    detail::preprocessing::require_finite_statistic(range, schema, where, "range (max - min)");

    Vector<double> low = data_min.template cast<double>();
    Vector<double> high = data_max.template cast<double>();
    Vector<double> scale, offset;
    derive_scale(params_, low, high, scale, offset);
    detail::preprocessing::require_finite_statistic(scale, schema, where, "scale");
    detail::preprocessing::require_finite_statistic(offset, schema, where, "offset");

    data_min_ = std::move(low);
    data_max_ = std::move(high);
    scale_ = std::move(scale);
    min_ = std::move(offset);
    this->record_fit(X.rows(), schema);
    return *this;
  }

  // transform, transform_into, fit_transform, inverse_transform, params,
  // is_fitted, schema, n_samples_seen and serialize: see ColumnScaler.

  // Column minima and maxima seen at fit (exact: values of X, held in double
  // like every fitted statistic of redflag's scalers).
  [[nodiscard]] const Vector<double>& data_min() const { return data_min_; }
  [[nodiscard]] const Vector<double>& data_max() const { return data_max_; }
  // max - min per column (0 for a constant column, unlike the divisor used).
  [[nodiscard]] Vector<double> data_range() const { return data_max_ - data_min_; }
  // Per-column factor of transform (scikit-learn's scale_).
  [[nodiscard]] const Vector<double>& scale() const { return scale_; }
  // Per-column offset added after scaling (scikit-learn's min_).
  [[nodiscard]] const Vector<double>& min() const { return min_; }

 private:
  friend detail::preprocessing::ColumnScaler<MinMaxScaler, T>;

  void apply(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    detail::preprocessing::multiply_and_add<T>(X, scale_, min_, out);
    if (params_.clip) {
      out = out.cwiseMax(static_cast<T>(params_.feature_min)).cwiseMin(static_cast<T>(params_.feature_max));
    }
  }
  // (x - offset) / scale, as scikit-learn; clipped values do not come back.
  void invert(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    detail::preprocessing::center_and_divide<T>(X, min_, scale_, out);
  }

  static void validate_params(const Params& params, std::string_view where) {
    // Bounds are used in T, so they must be finite there (1e300 is not a float).
    const auto low = static_cast<T>(params.feature_min);
    const auto high = static_cast<T>(params.feature_max);
    const std::string finite = "finite in " + std::string(scalar_name<T>);
    detail::require_parameter(std::isfinite(low), where, "feature_min", finite, params.feature_min);
    detail::require_parameter(std::isfinite(high), where, "feature_max", finite, params.feature_max);
    if (!(low < high) || !std::isfinite(high - low)) {
      detail::raise<invalid_argument>(
          where, "feature_min must be less than feature_max (with a finite difference), got feature_min = " +
                     detail::format_number(params.feature_min) +
                     ", feature_max = " + detail::format_number(params.feature_max));
    }
  }

  // scale and offset (scikit-learn's scale_ and min_) from the fitted range
  // and the params, so fit and load derive bit-identical values. The
  // near-zero range test uses epsilon of T, the precision the data came in
  // (scikit-learn's _handle_zeros_in_scale).
  static void derive_scale(const Params& params, const Vector<double>& data_min, const Vector<double>& data_max,
                           Vector<double>& scale, Vector<double>& offset) {
    const double width = params.feature_max - params.feature_min;
    constexpr double tiny = 10.0 * static_cast<double>(std::numeric_limits<T>::epsilon());
    scale.resize(data_min.size());
    offset.resize(data_min.size());
    for (Index j = 0; j < data_min.size(); ++j) {
      const double range = data_max(j) - data_min(j);
      scale(j) = width / (range < tiny ? 1.0 : range);
      offset(j) = params.feature_min - data_min(j) * scale(j);
    }
  }

  template <class Archive>
  void fields(Archive& archive, std::uint64_t& n_samples, Schema& schema) {
    archive(cereal::make_nvp("feature_min", params_.feature_min), cereal::make_nvp("feature_max", params_.feature_max),
            cereal::make_nvp("clip", params_.clip), cereal::make_nvp("n_samples_seen", n_samples),
            cereal::make_nvp("data_min", data_min_), cereal::make_nvp("data_max", data_max_),
            cereal::make_nvp("schema", schema));
  }

  // The scale and offset are not stored: they are derived again from the
  // loaded range and params.
  void validate_loaded() {
    const Index expected = this->schema().size();
    detail::preprocessing::require_loaded_vector(data_min_, expected, model_type, "data_min");
    detail::preprocessing::require_loaded_vector(data_max_, expected, model_type, "data_max");
    for (Index j = 0; j < expected; ++j) {
      if (!(data_min_(j) <= data_max_(j)) || !std::isfinite(data_max_(j) - data_min_(j))) {
        throw serialization_error("redflag::load: MinMaxScaler column " + std::to_string(j) + " has data_min " +
                                  detail::format_number(data_min_(j)) + " > data_max " +
                                  detail::format_number(data_max_(j)) + " or an infinite range");
      }
    }
    derive_scale(params_, data_min_, data_max_, scale_, min_);
    detail::preprocessing::require_loaded_vector(scale_, expected, model_type, "scale", true);
    detail::preprocessing::require_loaded_vector(min_, expected, model_type, "offset");
  }

  Params params_;
  Vector<double> data_min_;
  Vector<double> data_max_;
  Vector<double> scale_;
  Vector<double> min_;
};

}  // namespace redflag
