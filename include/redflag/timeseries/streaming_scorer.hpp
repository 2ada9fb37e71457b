#pragma once

// StreamingWindowScorer: scores a live series one bar at a time with a
// fitted window detector (a TransformerAutoencoder, or any model with the
// same window() / n_features() / anomaly_score / threshold() interface).
//
// The last `window` bars sit in a ring buffer. Each push() copies the ring
// into one contiguous window (window * features values, oldest first — the
// layout of sliding_windows) and scores it, so a bar costs one window's copy
// and one model evaluation however long the series has run. The scores are
// those of anomaly_score(sliding_windows(series, window)) for the same bars —
// up to the last bits of floating-point rounding, as batch scoring stacks
// windows in groups and a lone window's products round slightly differently.
// The same bars always give the same streamed scores.
//
// The model is shared and never modified: any number of scorers (one per
// instrument, on any threads) can use one fitted model. A scorer itself is
// for one thread at a time.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace redflag {

template <class Model>
concept WindowDetector = requires(const Model& model, MatrixRef<typename Model::scalar_type> windows) {
  { model.window() } -> std::convertible_to<Index>;
  { model.n_features() } -> std::convertible_to<Index>;
  { model.anomaly_score(windows) } -> std::same_as<Vector<typename Model::scalar_type>>;
  { model.threshold() } -> std::same_as<typename Model::scalar_type>;
  { model.is_fitted() } -> std::same_as<bool>;
};

template <WindowDetector Model>
class StreamingWindowScorer {
 public:
  using T = typename Model::scalar_type;

  struct Score {
    Index bar = 0;         // 0-based index of the newest bar: the window is bars bar - window + 1 .. bar
    T score = T(0);        // the window's anomaly_score
    bool anomaly = false;  // score >= the model's threshold
  };

  explicit StreamingWindowScorer(std::shared_ptr<const Model> model) : model_(std::move(model)) {
    constexpr const char* where = "StreamingWindowScorer";
    if (!model_) detail::raise<invalid_argument>(where, "model is null");
    if (!model_->is_fitted()) detail::raise<not_fitted>(where, "the model must be fitted first");
    window_ = model_->window();
    features_ = model_->n_features();
    ring_.resize(static_cast<std::size_t>(window_ * features_));
    contiguous_.resize(ring_.size());
  }

  // Adds one bar (n_features() values). Returns its window's score once
  // `window` bars have arrived, nothing before. A bar with the wrong size or a
  // NaN/Inf value is rejected (invalid_argument / data_error naming the bar)
  // and the scorer is left as it was.
  std::optional<Score> push(std::span<const T> bar) {
    constexpr const char* where = "StreamingWindowScorer::push";
    if (static_cast<Index>(bar.size()) != features_) {
      detail::raise<invalid_argument>(where, "bar " + std::to_string(bars_) + " has " + std::to_string(bar.size()) +
                                                 " values, the model takes " + std::to_string(features_));
    }
    for (std::size_t f = 0; f < bar.size(); ++f) {
      if (!std::isfinite(static_cast<double>(bar[f]))) {
        detail::raise<data_error>(where, "bar " + std::to_string(bars_) + " has " +
                                             detail::format_number(static_cast<double>(bar[f])) + " in column " +
                                             std::to_string(f));
      }
    }
    const auto slot = static_cast<std::size_t>((bars_ % window_) * features_);
    std::copy(bar.begin(), bar.end(), ring_.begin() + static_cast<std::ptrdiff_t>(slot));
    ++bars_;
    if (bars_ < window_) return std::nullopt;

    // Oldest bar first: the ring from the slot after the newest, then from the start.
    const auto oldest = static_cast<std::ptrdiff_t>((bars_ % window_) * features_);
    const auto tail = std::copy(ring_.begin() + oldest, ring_.end(), contiguous_.begin());
    std::copy(ring_.begin(), ring_.begin() + oldest, tail);
    const Eigen::Map<const Matrix<T>> row(contiguous_.data(), 1, window_ * features_);
    const T score = model_->anomaly_score(row)(0);
    return Score{.bar = bars_ - 1, .score = score, .anomaly = score >= model_->threshold()};
  }

  // Bars pushed so far.
  [[nodiscard]] Index bars() const noexcept { return bars_; }
  [[nodiscard]] const Model& model() const noexcept { return *model_; }

  // Forgets the bars (a new session or instrument); keeps the model.
  void reset() noexcept { bars_ = 0; }

 private:
  std::shared_ptr<const Model> model_;
  Index window_ = 0;
  Index features_ = 0;
  Index bars_ = 0;
  std::vector<T> ring_;        // bar k at slot k % window
  std::vector<T> contiguous_;  // the current window, oldest bar first
};

}  // namespace redflag
