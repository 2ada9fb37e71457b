#pragma once

// WindowScaler: scales windows of OHLCV-like series (the layout of
// sliding_windows: one row per window, column t * features + f = feature f at
// position t) so that a model fitted on one price level works at any other.
//
// Per window, before any fitted statistic:
//   price columns (default open, high, low, close):
//       x'[t, c] = log(x[t, c] / x[0, anchor])   anchor = the window's first open
//   volume columns (default volume):
//       x'[t, c] = log1p(x[t, c]) - mean over the window's positions of log1p(x[., c])
//   other columns: unchanged.
// Then every feature is standardised, z = (x' - mean_f) / scale_f, with mean
// and standard deviation fitted over all positions of the training windows
// (scale 1 for a constant feature).
//
// Why anchor per window: a MinMaxScaler or StandardScaler fitted on training
// prices breaks on a trending series — later prices leave the training range
// and every window looks anomalous. Log prices relative to the window's own
// first open are unchanged when the whole series is multiplied by a constant,
// so they depend on the shape of the window, not on the price level.
//
// A small value type (two short vectors of statistics plus the column roles)
// meant to be stored inside a model file: serialize() writes it with any
// cereal archive and rejects inconsistent data on load.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redflag {

template <Scalar T>
class WindowScaler {
 public:
  struct Params {
    std::vector<Index> price_columns = {0, 1, 2, 3};  // log(price / anchor) per window
    Index anchor_column = 0;                          // one of price_columns; its value at position 0 is the anchor
    std::vector<Index> volume_columns = {4};          // log1p(volume) minus its window mean

    friend bool operator==(const Params&, const Params&) = default;
  };

  WindowScaler() = default;
  explicit WindowScaler(Params params) : params_(std::move(params)) {}

  // Fits the per-feature statistics on `windows` with `features` features per
  // position (windows.cols() must be a positive multiple of it). On any error
  // the scaler is left as it was.
  WindowScaler& fit(const MatrixRef<T>& windows, Index features) {
    constexpr std::string_view where = "WindowScaler::fit";
    detail::require_parameter(features >= 1, where, "features", ">= 1", features);
    check_params(params_, features, [&](const std::string& what) { detail::raise<invalid_argument>(where, what); });
    if (windows.rows() == 0) detail::raise<data_error>(where, "windows is empty (0 rows)");
    if (windows.cols() < features || windows.cols() % features != 0) {
      detail::raise<invalid_argument>(where,
                                      "windows must have window * features columns, a positive multiple of "
                                      "features = " +
                                          std::to_string(features) + ", got " + std::to_string(windows.cols()));
    }
    const Index window = windows.cols() / features;
    const auto cells = static_cast<std::size_t>(windows.cols());
    // Two passes (mean, then squared deviations with the correction term
    // sum(x - mean)), as StandardScaler: accurate for long, offset columns.
    std::vector<double> sum(static_cast<std::size_t>(features), 0.0);
    for (Index r = 0; r < windows.rows(); ++r) {
      anchored(std::span<const T>(windows.row(r).data(), cells), window, features, where, r,
               [&](std::size_t i, double value) { sum[i % static_cast<std::size_t>(features)] += value; });
    }
    const double count = static_cast<double>(windows.rows()) * static_cast<double>(window);
    std::vector<double> mean(sum.size()), deviation(sum.size(), 0.0), squares(sum.size(), 0.0);
    for (std::size_t f = 0; f < sum.size(); ++f) mean[f] = sum[f] / count;
    for (Index r = 0; r < windows.rows(); ++r) {
      anchored(std::span<const T>(windows.row(r).data(), cells), window, features, where, r,
               [&](std::size_t i, double value) {
                 const std::size_t f = i % static_cast<std::size_t>(features);
                 const double d = value - mean[f];
                 deviation[f] += d;
                 squares[f] += d * d;
               });
    }
    std::vector<double> scale(sum.size());
    constexpr double eps = std::numeric_limits<double>::epsilon();
    for (std::size_t f = 0; f < sum.size(); ++f) {
      const double var = std::max(0.0, (squares[f] - deviation[f] * deviation[f] / count) / count);
      const double mean_error = count * mean[f] * eps;
      // scikit-learn's test for a column indistinguishable from constant.
      scale[f] = var <= count * eps * var + mean_error * mean_error ? 1.0 : std::sqrt(var);
      if (!std::isfinite(mean[f]) || !std::isfinite(scale[f])) {
        detail::raise<data_error>(
            where, "feature " + std::to_string(f) + " overflows after scaling (mean or variance is not finite)");
      }
    }
    window_ = window;
    features_ = features;
    mean_ = std::move(mean);
    scale_ = std::move(scale);
    return *this;
  }

  // Scaled copy of `windows` (same layout and shape as in fit).
  [[nodiscard]] Matrix<T> transform(const MatrixRef<T>& windows) const {
    constexpr std::string_view where = "WindowScaler::transform";
    require_fitted(where);
    detail::require_columns(windows, window_ * features_, where, "windows");
    Matrix<T> out(windows.rows(), windows.cols());
    const auto cells = static_cast<std::size_t>(windows.cols());
    for (Index r = 0; r < windows.rows(); ++r) {
      apply(std::span<const T>(windows.row(r).data(), cells), std::span<T>(out.row(r).data(), cells), where, r);
    }
    return out;
  }

  // Scales one window (window() * features() values, position-major) into
  // `out` of the same size without allocating — the per-bar step of a
  // streaming scorer. `out` may be `window` itself (in place).
  void transform_window(std::span<const T> window, std::span<T> out) const {
    constexpr std::string_view where = "WindowScaler::transform_window";
    require_fitted(where);
    const auto cells = static_cast<std::size_t>(window_ * features_);
    if (window.size() != cells || out.size() != cells) {
      detail::raise<invalid_argument>(where, "window and out must hold window * features = " + std::to_string(cells) +
                                                 " values, got " + std::to_string(window.size()) + " and " +
                                                 std::to_string(out.size()));
    }
    apply(window, out, where, 0);
  }

  [[nodiscard]] bool is_fitted() const noexcept { return window_ > 0; }
  [[nodiscard]] const Params& params() const noexcept { return params_; }
  [[nodiscard]] Index window() const noexcept { return window_; }      // positions per window (0 before fit)
  [[nodiscard]] Index features() const noexcept { return features_; }  // features per position (0 before fit)
  // Per-feature statistics of the anchored values, subtracted and divided by.
  [[nodiscard]] const std::vector<double>& mean() const noexcept { return mean_; }
  [[nodiscard]] const std::vector<double>& scale() const noexcept { return scale_; }

  friend bool operator==(const WindowScaler&, const WindowScaler&) = default;

  // Column roles, shape and statistics. Loading checks them all and throws
  // serialization_error (leaving *this untouched) on anything inconsistent.
  template <class Archive>
  void serialize(Archive& archive) {
    if constexpr (Archive::is_loading::value) {
      WindowScaler loaded;
      loaded.fields(archive);
      loaded.validate_loaded();
      *this = std::move(loaded);
    } else {
      fields(archive);
    }
  }

 private:
  template <class Fail>
  static void check_params(const Params& p, Index features, Fail fail) {
    std::vector<bool> used(static_cast<std::size_t>(features), false);
    const auto claim = [&](Index c, std::string_view role) {
      if (c < 0 || c >= features) {
        fail(std::string(role) + " column " + std::to_string(c) + " is outside [0, " + std::to_string(features) +
             ") (features = " + std::to_string(features) + ")");
      }
      if (used[static_cast<std::size_t>(c)]) {
        fail("column " + std::to_string(c) + " appears twice in price_columns and volume_columns");
      }
      used[static_cast<std::size_t>(c)] = true;
    };
    for (const Index c : p.price_columns) claim(c, "price");
    for (const Index c : p.volume_columns) claim(c, "volume");
    if (!p.price_columns.empty() &&
        std::find(p.price_columns.begin(), p.price_columns.end(), p.anchor_column) == p.price_columns.end()) {
      fail("anchor_column " + std::to_string(p.anchor_column) + " is not one of price_columns");
    }
  }

  void require_fitted(std::string_view where) const {
    if (!is_fitted()) detail::raise<not_fitted>(where, "call fit() first");
  }

  // Calls emit(i, value) with the anchored value (log price relative to the
  // anchor, centred log1p volume, or the input) of every cell i of one window,
  // after checking the whole window; `row` names the window in messages. Each
  // cell's value is computed from its own input, the anchor and its column's
  // mean, all read before the column is emitted, so emit may overwrite `in`.
  template <class Emit>
  void anchored(std::span<const T> in, Index window, Index features, std::string_view where, Index row,
                Emit&& emit) const {
    const auto F = static_cast<std::size_t>(features);
    const auto W = static_cast<std::size_t>(window);
    const auto is_in = [](const std::vector<Index>& columns, std::size_t f) {
      return std::find(columns.begin(), columns.end(), static_cast<Index>(f)) != columns.end();
    };
    for (std::size_t f = 0; f < F; ++f) {
      const bool price = is_in(params_.price_columns, f), volume = is_in(params_.volume_columns, f);
      for (std::size_t t = 0; t < W; ++t) {
        const double value = static_cast<double>(in[t * F + f]);
        std::string_view need;
        if (!std::isfinite(value)) {
          need = "finite values required";
        } else if (price && !(value > 0)) {
          need = "prices must be positive";
        } else if (volume && value < 0) {
          need = "volumes must be >= 0";
        }
        if (!need.empty()) {
          detail::raise<data_error>(where, "window " + std::to_string(row) + " has " + detail::format_number(value) +
                                               " at position " + std::to_string(t) + ", feature " + std::to_string(f) +
                                               " (" + std::string(need) + ")");
        }
      }
    }
    const double log_first = params_.price_columns.empty()
                                 ? 0.0
                                 : std::log(static_cast<double>(in[static_cast<std::size_t>(params_.anchor_column)]));
    for (std::size_t f = 0; f < F; ++f) {
      if (is_in(params_.price_columns, f)) {
        for (std::size_t t = 0; t < W; ++t) emit(t * F + f, std::log(static_cast<double>(in[t * F + f])) - log_first);
      } else if (is_in(params_.volume_columns, f)) {
        double total = 0.0;
        for (std::size_t t = 0; t < W; ++t) total += std::log1p(static_cast<double>(in[t * F + f]));
        const double centre = total / static_cast<double>(W);
        for (std::size_t t = 0; t < W; ++t) emit(t * F + f, std::log1p(static_cast<double>(in[t * F + f])) - centre);
      } else {
        for (std::size_t t = 0; t < W; ++t) emit(t * F + f, static_cast<double>(in[t * F + f]));
      }
    }
  }

  // Anchoring then standardisation, written straight into `out`.
  void apply(std::span<const T> in, std::span<T> out, std::string_view where, Index row) const {
    const auto F = static_cast<std::size_t>(features_);
    anchored(in, window_, features_, where, row, [&](std::size_t i, double value) {
      const std::size_t f = i % F;
      out[i] = static_cast<T>((value - mean_[f]) / scale_[f]);
    });
  }

  template <class Archive>
  void fields(Archive& archive) {
    archive(cereal::make_nvp("price_columns", params_.price_columns),
            cereal::make_nvp("anchor_column", params_.anchor_column),
            cereal::make_nvp("volume_columns", params_.volume_columns), cereal::make_nvp("window", window_),
            cereal::make_nvp("features", features_), cereal::make_nvp("mean", mean_),
            cereal::make_nvp("scale", scale_));
  }

  void validate_loaded() const {
    const auto fail = [](const std::string& what) { throw serialization_error("redflag::load: WindowScaler " + what); };
    if (window_ == 0 && features_ == 0 && mean_.empty() && scale_.empty()) return;  // saved before fit
    if (window_ < 1 || features_ < 1 || features_ > (std::numeric_limits<Index>::max() / window_)) {
      fail("has window " + std::to_string(window_) + " and features " + std::to_string(features_) +
           ", expected both >= 1");
    }
    if (mean_.size() != static_cast<std::size_t>(features_) || scale_.size() != static_cast<std::size_t>(features_)) {
      fail("holds " + std::to_string(mean_.size()) + " means and " + std::to_string(scale_.size()) +
           " scales, expected " + std::to_string(features_));
    }
    check_params(params_, features_, fail);
    for (std::size_t f = 0; f < mean_.size(); ++f) {
      if (!std::isfinite(mean_[f]) || !std::isfinite(scale_[f]) || !(scale_[f] > 0)) {
        fail("feature " + std::to_string(f) + " has mean " + detail::format_number(mean_[f]) + " and scale " +
             detail::format_number(scale_[f]) + " (finite mean and positive finite scale required)");
      }
    }
  }

  Params params_;
  Index window_ = 0;
  Index features_ = 0;
  std::vector<double> mean_;
  std::vector<double> scale_;
};

}  // namespace redflag
