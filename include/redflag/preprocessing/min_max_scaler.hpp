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
class MinMaxScaler {
 public:
  struct Params {
    double feature_min = 0.0;  // lower end of the output range (scikit-learn's feature_range[0])
    double feature_max = 1.0;  // upper end, > feature_min
    bool clip = false;         // clamp transformed values into [feature_min, feature_max]
  };

  static constexpr std::string_view model_type = "MinMaxScaler";
  static constexpr std::uint32_t format_version = 1;
  using scalar_type = T;

  MinMaxScaler() = default;
  explicit MinMaxScaler(const Params& params) : params_(params) {
    validate_params(params_, "MinMaxScaler::MinMaxScaler");
  }

  MinMaxScaler& fit(const MatrixRef<T>& X) { return fit(X, Schema::numeric(X.cols())); }

  MinMaxScaler& fit(const MatrixRef<T>& X, const Schema& schema) {
    constexpr std::string_view where = "MinMaxScaler::fit";
    detail::require_non_empty(X, where, "X");
    schema.require_columns(X.cols(), where);
    detail::require_finite(X, where, "X");

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
    n_samples_seen_ = X.rows();
    schema_ = schema;
    return *this;
  }

  [[nodiscard]] Matrix<T> transform(const MatrixRef<T>& X) const {
    Matrix<T> out(X.rows(), X.cols());
    transform_into(X, out, "MinMaxScaler::transform");
    return out;
  }

  // transform() into a caller-owned matrix of X's shape (no allocation; `out`
  // may be X itself).
  void transform_into(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    transform_into(X, out, "MinMaxScaler::transform_into");
  }

  // Also checks that `schema` names the columns the scaler was fitted on.
  [[nodiscard]] Matrix<T> transform(const MatrixRef<T>& X, const Schema& schema) const {
    constexpr std::string_view where = "MinMaxScaler::transform";
    require_fitted(where);
    schema_.require_same(schema, where);
    return transform(X);
  }

  Matrix<T> fit_transform(const MatrixRef<T>& X) { return fit(X).transform(X); }
  Matrix<T> fit_transform(const MatrixRef<T>& X, const Schema& schema) { return fit(X, schema).transform(X); }

  // (x - offset) / scale, as scikit-learn; clipped values do not come back.
  [[nodiscard]] Matrix<T> inverse_transform(const MatrixRef<T>& X) const {
    constexpr std::string_view where = "MinMaxScaler::inverse_transform";
    require_fitted(where);
    detail::preprocessing::require_scaler_input(X, schema_, where);
    Matrix<T> out(X.rows(), X.cols());
    detail::preprocessing::center_and_divide<T>(X, min_, scale_, out);
    return out;
  }

  [[nodiscard]] const Params& params() const { return params_; }
  [[nodiscard]] bool is_fitted() const { return n_samples_seen_ > 0; }
  [[nodiscard]] const Schema& schema() const { return schema_; }
  [[nodiscard]] Index n_samples_seen() const { return n_samples_seen_; }
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

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    detail::preprocessing::require_loaded_version(version, format_version, model_type);
    if constexpr (Archive::is_loading::value) {
      MinMaxScaler loaded;
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
    detail::preprocessing::multiply_and_add<T>(X, scale_, min_, out);
    if (params_.clip) {
      out = out.cwiseMax(static_cast<T>(params_.feature_min)).cwiseMin(static_cast<T>(params_.feature_max));
    }
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
  void fields(Archive& archive) {
    auto n_samples = static_cast<std::uint64_t>(n_samples_seen_);
    archive(cereal::make_nvp("feature_min", params_.feature_min),
            cereal::make_nvp("feature_max", params_.feature_max), cereal::make_nvp("clip", params_.clip),
            cereal::make_nvp("n_samples_seen", n_samples), cereal::make_nvp("data_min", data_min_),
            cereal::make_nvp("data_max", data_max_), cereal::make_nvp("schema", schema_));
    if (n_samples > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
      throw serialization_error("redflag::load: MinMaxScaler n_samples_seen " + std::to_string(n_samples) +
                                " is out of range");
    }
    n_samples_seen_ = static_cast<Index>(n_samples);
  }

  void validate_loaded() {
    try {
      validate_params(params_, "load");
    } catch (const invalid_argument& failure) {
      throw serialization_error(std::string(failure.what()) + " (in a MinMaxScaler)");
    }
    detail::preprocessing::require_loaded_schema(is_fitted(), schema_, model_type);
    const Index expected = schema_.size();
    detail::preprocessing::require_loaded_vector(data_min_, expected, model_type, "data_min");
    detail::preprocessing::require_loaded_vector(data_max_, expected, model_type, "data_max");
    for (Index j = 0; j < expected; ++j) {
      if (!(data_min_(j) <= data_max_(j)) || !std::isfinite(data_max_(j) - data_min_(j))) {
        throw serialization_error("redflag::load: MinMaxScaler column " + std::to_string(j) + " has data_min " +
                                  detail::format_number(data_min_(j)) + " > data_max " +
                                  detail::format_number(data_max_(j)) +
                                  " or an infinite range");
      }
    }
    derive_scale(params_, data_min_, data_max_, scale_, min_);
    detail::preprocessing::require_loaded_vector(scale_, expected, model_type, "scale", true);
    detail::preprocessing::require_loaded_vector(min_, expected, model_type, "offset");
  }

  void require_fitted(std::string_view where) const {
    if (!is_fitted()) detail::raise<not_fitted>(where, "call fit() before using the scaler");
  }

  Params params_;
  Vector<double> data_min_;
  Vector<double> data_max_;
  Vector<double> scale_;
  Vector<double> min_;
  Index n_samples_seen_ = 0;
  Schema schema_;
};

}  // namespace redflag
