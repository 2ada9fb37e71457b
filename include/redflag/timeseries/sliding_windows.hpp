#pragma once

// Sliding windows over a multivariate series (rows = timesteps), in the layout
// TransformerAutoencoder reads, and the way back from window results to
// timesteps.
//
// Window k starts at timestep k * stride and covers `window` timesteps; there
// are (n - window) / stride + 1 windows, so when stride does not divide
// n - window the last (n - window) % stride timesteps fall in no window.
//
// Layout: one row per window, window * features columns, position-major —
// column t * features + f is feature f at position t (a row is a window x
// features row-major matrix).

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <limits>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

namespace redflag {

namespace detail {

// Number of windows over n timesteps; throws on bad sizes.
inline Index window_count(Index n, Index window, Index stride, std::string_view where) {
  require_parameter(window >= 1, where, "window", ">= 1", window);
  require_parameter(stride >= 1, where, "stride", ">= 1", stride);
  if (n < window) {
    raise<data_error>(where, "the series has " + std::to_string(n) + " timesteps, fewer than one window of " +
                                 std::to_string(window));
  }
  return (n - window) / stride + 1;
}

}  // namespace detail

// First timestep of each window: 0, stride, 2 * stride, ...
inline std::vector<Index> window_starts(Index n, Index window, Index stride = 1) {
  const Index count = detail::window_count(n, window, stride, "window_starts");
  std::vector<Index> starts(static_cast<std::size_t>(count));
  for (Index k = 0; k < count; ++k) starts[static_cast<std::size_t>(k)] = k * stride;
  return starts;
}

// One row per window of `series` (see the layout above). Throws data_error on
// NaN or Inf, naming the timestep.
template <class Derived>
  requires Scalar<typename Derived::Scalar> Matrix<typename Derived::Scalar> sliding_windows(
      const Eigen::MatrixBase<Derived>& series, Index window, Index stride = 1) {
    using T = typename Derived::Scalar;
    constexpr std::string_view where = "sliding_windows";
    const Index count = detail::window_count(series.rows(), window, stride, where);
    if (series.cols() == 0) detail::raise<data_error>(where, "series has no columns");
    const MatrixRef<T> view(series.derived());
    detail::require_finite(view, where, "series");
    const Index features = view.cols();
    Matrix<T> windows(count, window * features);
    for (Index k = 0; k < count; ++k) {
      for (Index t = 0; t < window; ++t) windows.row(k).segment(t * features, features) = view.row(k * stride + t);
    }
    return windows;
  }

// 1 for each window holding at least one anomalous timestep (label 1), else 0:
// a window is anomalous if any of its timesteps is. Labels must be 0 or 1.
// Accepts any sized random-access range of integers (std::vector<std::uint8_t>,
// LabelVector, ...); returns the LabelVector the metrics take.
template <std::ranges::random_access_range Labels>
  requires std::ranges::sized_range<Labels> && std::integral<std::ranges::range_value_t<Labels>> LabelVector
  window_labels(const Labels& timestep_labels, Index window, Index stride = 1) {
    constexpr std::string_view where = "window_labels";
    const auto n = static_cast<Index>(std::ranges::size(timestep_labels));
    const Index count = detail::window_count(n, window, stride, where);
    const auto first = std::ranges::begin(timestep_labels);
    using Difference = std::iter_difference_t<std::ranges::iterator_t<const Labels>>;
    // Distance from each timestep to the next anomalous one (at or after it),
    // so each window is answered in O(1).
    std::vector<Index> next_anomaly(static_cast<std::size_t>(n) + 1, std::numeric_limits<Index>::max());
    for (Index i = n - 1; i >= 0; --i) {
      const auto label = first[static_cast<Difference>(i)];
      if (label != 0 && label != 1) {
        detail::raise<data_error>(where, "timestep_labels[" + std::to_string(i) +
                                             "] = " + std::to_string(static_cast<long long>(label)) +
                                             " is not a binary label (expected 0 or 1)");
      }
      next_anomaly[static_cast<std::size_t>(i)] = label == 1 ? i : next_anomaly[static_cast<std::size_t>(i) + 1];
    }
    LabelVector labels(count);
    for (Index k = 0; k < count; ++k) {
      labels(k) = next_anomaly[static_cast<std::size_t>(k * stride)] < k * stride + window ? 1 : 0;
    }
    return labels;
  }

// How timestep_scores combines the scores a timestep gets from the windows
// that contain it.
enum class TimestepAggregate {
  // The mean, not the max: with a max, every timestep within window - 1 of an
  // anomaly inherits the same score (a flat plateau 2 * window - 1 wide),
  // while the mean peaks where the most high-scoring windows overlap — at the
  // anomaly — and averages the reconstructions of the same timestep seen in
  // different contexts.
  mean,
  // The median (the mean of the two middle values for an even count): a
  // timestep keeps the score most of its windows give it, so a few windows
  // that go wrong as a whole — windows anchored inside a crash, say, with
  // window-anchored scaling — do not spread their error to their other
  // timesteps. Costs n * window values of memory.
  median,
  // The lowest error any containing window gives the timestep's
  // neighbourhood: for a radius r, the smallest over those windows of the
  // root mean square of the per-position scores within r positions of the
  // timestep; the result is the geometric mean of that for r = 1 and r = 10
  // (one score per window: the smallest window score). A normal timestep
  // next to an anomaly, or after a level change, is still reconstructed well
  // by the windows on its far side; an anomalous one by none. The short
  // radius keeps one-bar anomalies sharp, the long one sees level shifts and
  // trend changes. Scores must be non-negative (reconstruction errors are).
  // Costs windows * window values of memory.
  neighbourhood_min,
};

// One score per timestep from results per window, for comparison with
// per-timestep labels. `window_scores` is either
//   - a column of one score per window (e.g. anomaly_score), or
//   - a windows x window matrix of per-position scores (e.g. timestep_errors),
// with the windows of window_starts(n, window, stride). Each timestep gets the
// mean (or median, or neighbourhood minimum: see TimestepAggregate) over the
// windows that contain it of the window's score, or of the score at its
// position in each window.
// Timesteps in no window (the tail when stride does not divide n - window)
// get NaN.
template <class Derived>
  requires Scalar<typename Derived::Scalar> Vector<typename Derived::Scalar> timestep_scores(
      const Eigen::MatrixBase<Derived>& window_scores, Index n, Index window, Index stride = 1,
      TimestepAggregate aggregate = TimestepAggregate::mean) {
    using T = typename Derived::Scalar;
    constexpr std::string_view where = "timestep_scores";
    const Index count = detail::window_count(n, window, stride, where);
    if (window_scores.rows() != count || (window_scores.cols() != 1 && window_scores.cols() != window)) {
      detail::raise<invalid_argument>(
          where, "window_scores is " + std::to_string(window_scores.rows()) + " x " +
                     std::to_string(window_scores.cols()) + ", expected " + std::to_string(count) +
                     " windows (n = " + std::to_string(n) + ", window = " + std::to_string(window) + ", stride = " +
                     std::to_string(stride) + ") x 1 score or x " + std::to_string(window) + " positions");
    }
    detail::require_finite(window_scores, where, "window_scores");
    const bool per_position = window_scores.cols() == window && window > 1;
    const auto score_at = [&](Index k, Index t) {
      return static_cast<double>(per_position ? window_scores(k, t) : window_scores(k, 0));
    };
    Vector<T> scores = Vector<T>::Constant(n, std::numeric_limits<T>::quiet_NaN());
    if (aggregate == TimestepAggregate::neighbourhood_min) {
      if ((window_scores.array() < 0).any()) {
        detail::raise<invalid_argument>(where,
                                        "TimestepAggregate::neighbourhood_min needs non-negative window_scores "
                                        "(reconstruction errors), got a negative one");
      }
      // prefix[k * (window + 1) + t]: the sum of the squares of window k's
      // first t scores, so a neighbourhood's mean square costs two lookups.
      const auto width = static_cast<std::size_t>(window + 1);
      std::vector<double> prefix(static_cast<std::size_t>(count) * width, 0.0);
      for (Index k = 0; k < count; ++k) {
        double* row = prefix.data() + static_cast<std::size_t>(k) * width;
        for (Index t = 0; t < window; ++t) row[t + 1] = row[t] + score_at(k, t) * score_at(k, t);
      }
      constexpr Index radii[] = {1, 10};
      for (Index i = 0; i < n; ++i) {
        const Index first = i < window ? 0 : (i - window) / stride + 1;  // windows k with k * stride + window > i
        const Index last = std::min(i / stride, count - 1);
        if (first > last) continue;
        double product = 1.0;
        for (const Index radius : radii) {
          double lowest = std::numeric_limits<double>::infinity();
          for (Index k = first; k <= last; ++k) {
            const Index at = i - k * stride;
            // One score per window: every position holds it, any radius gives it.
            const Index from = per_position ? std::max<Index>(0, at - radius) : 0;
            const Index to = per_position ? std::min(window - 1, at + radius) : 0;
            const double* row = prefix.data() + static_cast<std::size_t>(k) * width;
            lowest = std::min(lowest, (row[to + 1] - row[from]) / static_cast<double>(to - from + 1));
          }
          product *= lowest;  // a mean square
        }
        scores(i) = static_cast<T>(std::sqrt(std::sqrt(product)));
      }
      return scores;
    }
    if (aggregate == TimestepAggregate::median) {
      std::vector<std::vector<double>> seen(static_cast<std::size_t>(n));
      for (Index k = 0; k < count; ++k) {
        for (Index t = 0; t < window; ++t) seen[static_cast<std::size_t>(k * stride + t)].push_back(score_at(k, t));
      }
      for (Index i = 0; i < n; ++i) {
        std::vector<double>& values = seen[static_cast<std::size_t>(i)];
        if (values.empty()) continue;
        const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
        std::nth_element(values.begin(), middle, values.end());
        double median = *middle;
        if (values.size() % 2 == 0) median = 0.5 * (median + *std::max_element(values.begin(), middle));
        scores(i) = static_cast<T>(median);
      }
      return scores;
    }
    std::vector<double> sum(static_cast<std::size_t>(n), 0.0);
    std::vector<Index> covered(static_cast<std::size_t>(n), 0);
    for (Index k = 0; k < count; ++k) {
      for (Index t = 0; t < window; ++t) {
        const auto i = static_cast<std::size_t>(k * stride + t);
        sum[i] += score_at(k, t);
        ++covered[i];
      }
    }
    for (Index i = 0; i < n; ++i) {
      const auto c = covered[static_cast<std::size_t>(i)];
      if (c != 0) scores(i) = static_cast<T>(sum[static_cast<std::size_t>(i)] / static_cast<double>(c));
    }
    return scores;
  }

}  // namespace redflag
