#pragma once

// RobustScaler: x' = (x - median) / (Q(quantile_max) - Q(quantile_min)) per
// column, as scikit-learn's RobustScaler. Medians and outliers in finance data
// (fat tails, fraud spikes) barely move these statistics, unlike mean and std.
//
// Quantiles use numpy's default "linear" method (Hyndman & Fan type 7):
// virtual index h = (n - 1) * q, interpolated between the neighbouring order
// statistics exactly as numpy.percentile does, so results match scikit-learn
// to the last bits. An interquantile range below 10 * 2^-52 counts as zero and
// gives scale 1. With unit_variance, the scale is further divided by
// Phi^-1(quantile_max) - Phi^-1(quantile_min) (1.3490 for 25-75), so normal
// data ends up with unit variance.
//
// center() and scale() are always computed; with_centering / with_scaling
// only decide whether transform() uses them.

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
#include <string_view>
#include <utility>
#include <vector>

namespace redflag {

namespace detail::preprocessing {

// Inverse of the standard normal CDF, Wichura's algorithm AS 241 (PPND16,
// Applied Statistics 37, 1988): relative error about 1e-16 on (0, 1).
inline double normal_quantile(double p) {
  const double q = p - 0.5;
  if (std::abs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    return q *
           (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r +
                45921.953931549871457) *
                   r +
               13731.693765509461125) *
                  r +
              1971.5909503065514427) *
                 r +
             133.14166789178437745) *
                r +
            3.387132872796366608) /
           (((((((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r +
                21213.794301586595867) *
                   r +
               5394.1960214247511077) *
                  r +
              687.1870074920579083) *
                 r +
             42.313330701600911252) *
                r +
            1.0);
  }
  double r = q < 0 ? p : 1.0 - p;
  r = std::sqrt(-std::log(r));
  double value = 0.0;
  if (r <= 5.0) {
    r -= 1.6;
    value = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r +
                 1.27045825245236838258) *
                    r +
                3.64784832476320460504) *
                   r +
               5.7694972214606914055) *
                  r +
              4.6303378461565452959) *
                 r +
             1.42343711074968357734) /
            (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r +
                 0.14810397642748007459) *
                    r +
                0.68976733498510000455) *
                   r +
               1.6763848301838038494) *
                  r +
              2.05319162663775882187) *
                 r +
             1.0);
  } else {
    r -= 5.0;
    value = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r +
                 0.026532189526576123093) *
                    r +
                0.29656057182850489123) *
                   r +
               1.7848265399172913358) *
                  r +
              5.4637849111641143699) *
                 r +
             6.6579046435011037772) /
            (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
                 7.868691311456132591e-4) *
                    r +
                0.0148753612908506148525) *
                   r +
               0.13692988092273580531) *
                  r +
              0.59983220655588793769) *
                 r +
             1.0);
  }
  return q < 0 ? -value : value;
}

// numpy.percentile(values, percent) with method="linear", given `sorted_at`
// returning order statistic k. Mirrors numpy's _lerp, which switches to
// b - (b - a) * (1 - t) for t >= 0.5 so the result is monotonic in t.
template <class SortedAt>
double linear_percentile(Index n, double percent, SortedAt sorted_at) {
  const double virtual_index = static_cast<double>(n - 1) * (percent / 100.0);
  if (virtual_index >= static_cast<double>(n - 1)) return static_cast<double>(sorted_at(n - 1));
  if (virtual_index < 0) return static_cast<double>(sorted_at(0));
  const double below = std::floor(virtual_index);
  const double t = virtual_index - below;
  const auto k = static_cast<Index>(below);
  // In double for float input too, like every statistic of the scalers.
  const auto a = static_cast<double>(sorted_at(k));
  const auto b = static_cast<double>(sorted_at(k + 1));
  const double difference = b - a;
  return t >= 0.5 ? b - difference * (1.0 - t) : a + difference * t;
}

// Virtual indices numpy reads for a percentile: k and k + 1 around (n-1)*q.
inline void percentile_indices(Index n, double percent, std::vector<Index>& out) {
  const double virtual_index = static_cast<double>(n - 1) * (percent / 100.0);
  if (virtual_index >= static_cast<double>(n - 1)) {
    out.push_back(n - 1);
    return;
  }
  const auto k = static_cast<Index>(std::floor(std::max(virtual_index, 0.0)));
  out.push_back(k);
  out.push_back(k + 1);
}

}  // namespace detail::preprocessing

template <Scalar T>
class RobustScaler : public detail::preprocessing::ColumnScaler<RobustScaler<T>, T> {
 public:
  struct Params {
    bool with_centering = true;  // subtract the median
    bool with_scaling = true;    // divide by the interquantile range
    double quantile_min = 25.0;  // lower percentile of the range, in [0, 100)
    double quantile_max = 75.0;  // upper percentile, in (quantile_min, 100]
    bool unit_variance = false;  // rescale so normal data gets variance 1

    // Throws invalid_argument naming the first field out of its range. Called
    // by the constructor and again by fit.
    void validate(std::string_view where = "RobustScaler::Params::validate") const {
      RobustScaler::validate_params(*this, where);
    }
  };

  static constexpr std::string_view model_type = "RobustScaler";
  static constexpr std::uint32_t format_version = 1;

  RobustScaler() = default;
  explicit RobustScaler(const Params& params) : params_(params) { params_.validate("RobustScaler::RobustScaler"); }

  RobustScaler& fit(const MatrixRef<T>& X) { return fit(X, Schema::numeric(X.cols())); }

  RobustScaler& fit(const MatrixRef<T>& X, const Schema& schema) {
    constexpr std::string_view where = "RobustScaler::fit";
    params_.validate(where);
    detail::preprocessing::require_scaler_input(X, schema, where);

    const Index n = X.rows();
    const Index d = X.cols();
    // Order statistics needed: the median's and both percentiles' neighbours.
    std::vector<Index> needed;
    needed.push_back((n - 1) / 2);
    needed.push_back(n / 2);
    detail::preprocessing::percentile_indices(n, params_.quantile_min, needed);
    detail::preprocessing::percentile_indices(n, params_.quantile_max, needed);
    std::sort(needed.begin(), needed.end());
    needed.erase(std::unique(needed.begin(), needed.end()), needed.end());

    const double adjust = params_.unit_variance
                              ? detail::preprocessing::normal_quantile(params_.quantile_max / 100.0) -
                                    detail::preprocessing::normal_quantile(params_.quantile_min / 100.0)
                              : 1.0;
    Vector<double> center(d), scale(d);
    std::vector<T> column(static_cast<std::size_t>(n));
    for (Index j = 0; j < d; ++j) {
      for (Index i = 0; i < n; ++i) column[static_cast<std::size_t>(i)] = X(i, j);
      // Successive selections on the shrinking tail put each needed order
      // statistic in place in O(n) each, without a full sort. The statistic
      // right after a placed one is just the minimum of the tail.
      auto unsorted = column.begin();
      for (const Index k : needed) {
        const auto kth = column.begin() + k;
        if (kth == unsorted) {
          std::iter_swap(kth, std::min_element(kth, column.end()));
        } else {
          std::nth_element(unsorted, kth, column.end());
        }
        unsorted = kth + 1;
      }
      const auto sorted_at = [&column](Index k) { return column[static_cast<std::size_t>(k)]; };
      // numpy's median is the mean of the two middle values (0.5*a + 0.5*b
      // rounds identically and cannot overflow).
      center(j) = 0.5 * static_cast<double>(sorted_at((n - 1) / 2)) + 0.5 * static_cast<double>(sorted_at(n / 2));
      const double low = detail::preprocessing::linear_percentile(n, params_.quantile_min, sorted_at);
      const double high = detail::preprocessing::linear_percentile(n, params_.quantile_max, sorted_at);
      double range = high - low;
      if (range < 10 * std::numeric_limits<double>::epsilon()) range = 1.0;
      scale(j) = range / adjust;
    }
    detail::preprocessing::require_finite_statistic(scale, schema, where, "interquantile range");

    center_ = std::move(center);
    scale_ = std::move(scale);
    this->record_fit(n, schema);
    return *this;
  }

  // transform, transform_into, fit_transform, inverse_transform, params,
  // is_fitted, schema, n_samples_seen and serialize: see ColumnScaler.

  // Column medians (subtracted only when with_centering); double for float
  // scalers too.
  [[nodiscard]] const Vector<double>& center() const { return center_; }
  // Interquantile ranges, 1 where zero, divided by the normal IQR when
  // unit_variance (used only when with_scaling).
  [[nodiscard]] const Vector<double>& scale() const { return scale_; }

 private:
  friend detail::preprocessing::ColumnScaler<RobustScaler, T>;

  void apply(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    detail::preprocessing::center_and_divide<T>(X, offset(), divisor(), out);
  }
  void invert(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    detail::preprocessing::multiply_and_add<T>(X, divisor(), offset(), out);
  }

  static void validate_params(const Params& params, std::string_view where) {
    detail::require_parameter(params.quantile_min >= 0.0 && params.quantile_min < 100.0, where, "quantile_min",
                              "in [0, 100)", params.quantile_min);
    detail::require_parameter(params.quantile_max > 0.0 && params.quantile_max <= 100.0, where, "quantile_max",
                              "in (0, 100]", params.quantile_max);
    if (!(params.quantile_min < params.quantile_max)) {
      detail::raise<invalid_argument>(where, "quantile_min must be less than quantile_max, got quantile_min = " +
                                                 detail::format_number(params.quantile_min) +
                                                 ", quantile_max = " + detail::format_number(params.quantile_max));
    }
    if (params.unit_variance && (params.quantile_min == 0.0 || params.quantile_max == 100.0)) {
      // Phi^-1(0) and Phi^-1(1) are infinite: the adjustment would zero the scale.
      detail::raise<invalid_argument>(
          where, "unit_variance needs quantile_min > 0 and quantile_max < 100, got quantile_min = " +
                     detail::format_number(params.quantile_min) +
                     ", quantile_max = " + detail::format_number(params.quantile_max));
    }
  }

  template <class Archive>
  void fields(Archive& archive, std::uint64_t& n_samples, Schema& schema) {
    archive(cereal::make_nvp("with_centering", params_.with_centering),
            cereal::make_nvp("with_scaling", params_.with_scaling),
            cereal::make_nvp("quantile_min", params_.quantile_min),
            cereal::make_nvp("quantile_max", params_.quantile_max),
            cereal::make_nvp("unit_variance", params_.unit_variance), cereal::make_nvp("n_samples_seen", n_samples),
            cereal::make_nvp("center", center_), cereal::make_nvp("scale", scale_), cereal::make_nvp("schema", schema));
  }

  void validate_loaded() const {
    const Index expected = this->schema().size();
    detail::preprocessing::require_loaded_vector(center_, expected, model_type, "center");
    detail::preprocessing::require_loaded_vector(scale_, expected, model_type, "scale", true);
  }

  [[nodiscard]] Vector<double> offset() const {
    return params_.with_centering ? center_ : Vector<double>::Zero(center_.size());
  }
  [[nodiscard]] Vector<double> divisor() const {
    return params_.with_scaling ? scale_ : Vector<double>::Ones(scale_.size());
  }

  Params params_;
  Vector<double> center_;
  Vector<double> scale_;
};

}  // namespace redflag
