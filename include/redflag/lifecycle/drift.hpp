#pragma once

// Data drift between a model's training data (the reference) and live data:
// per-feature Population Stability Index and two-sample Kolmogorov–Smirnov
// statistic, and the same for the model's score distribution. Memory is
// bounded by the number of bins, never by the number of rows.
//
// Reference (DriftReference::fit, once, on the training window): for each
// feature, `ks_bins` - 1 fine edges at the reference quantiles j / ks_bins
// (duplicates from ties merged) and the reference share of rows in each fine
// bin. The PSI bins are the quantiles i / psi_bins, a subset of the fine edges,
// so both statistics come from the same counts; a feature with at most
// psi_bins fine bins (few distinct values) gets one PSI bin per fine bin. The
// rows are not kept.
//
// Live window (DriftMonitor): per feature, counts over the same fine bins for
// a sliding window of `window_blocks` blocks of `block_rows` rows. When the
// newest block is full the oldest is dropped, so the window covers between
// (window_blocks - 1) * block_rows and window_blocks * block_rows of the most
// recent rows (fewer until it has filled). Memory: window_blocks x features
// x (ks_bins + 1) counts.
//
// PSI = sum over bins of (live - ref) * ln(live / ref), shares floored at
// 1e-4 so an empty bin gives a large but finite value. Usual reading
// (Siddiqi, "Credit Risk Scorecards", 2006): < 0.1 stable, 0.1-0.25 some
// shift, > 0.25 major shift — the default threshold.
//
// KS: D = sup_x |F_ref(x) - F_live(x)|. Both CDFs are known exactly at the
// fine edges, so the monitor reports D_edges = max over edges, and
//   D_edges <= D <= D_edges + max_j r_j
// where r_j is the reference share of fine bin j (about 1 / ks_bins, more
// where ties merged edges): inside a bin both CDFs are non-decreasing, so the
// gap can exceed its value at the bin's edges by at most the reference mass
// in the bin. FeatureDrift::ks_error_bound reports max_j r_j; drift is
// flagged on D_edges, the lower bound, so a flag is never an artefact of
// binning.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace redflag {

struct DriftReferenceParams {
  Index psi_bins = 10;  // PSI bins (deciles), >= 2
  Index ks_bins = 100;  // fine bins for KS (percentiles), a multiple of psi_bins
};

// Per-feature binned summary of a reference sample (see the header comment).
class DriftReference {
 public:
  DriftReference() = default;

  // Summarises the columns of X (the training window). `names` label the
  // report (default x0, x1, ...). data_error for an empty or non-finite X.
  template <class Derived>
  static DriftReference fit(const Eigen::MatrixBase<Derived>& X, const DriftReferenceParams& params = {},
                            std::vector<std::string> names = {}) {
    static_assert(Scalar<typename Derived::Scalar>, "DriftReference::fit takes float or double values");
    const std::string where = "DriftReference::fit";
    detail::require_parameter(params.psi_bins >= 2, where, "psi_bins", ">= 2", params.psi_bins);
    detail::require_parameter(params.ks_bins >= params.psi_bins && params.ks_bins % params.psi_bins == 0, where,
                              "ks_bins", "a multiple of psi_bins = " + std::to_string(params.psi_bins), params.ks_bins);
    if (X.rows() == 0) detail::raise<data_error>(where, "the reference window has no rows");
    detail::require_non_empty(X, where, "X");
    detail::require_finite(X, where, "X");
    if (names.empty()) {
      for (Index j = 0; j < X.cols(); ++j) names.push_back("x" + std::to_string(j));
    }
    if (static_cast<Index>(names.size()) != X.cols()) {
      detail::raise<schema_mismatch>(where, "X has " + std::to_string(X.cols()) + " columns but " +
                                                std::to_string(names.size()) + " names were given");
    }
    DriftReference reference;
    reference.rows_ = X.rows();
    std::vector<double> column(static_cast<std::size_t>(X.rows()));
    for (Index j = 0; j < X.cols(); ++j) {
      for (Index i = 0; i < X.rows(); ++i) column[static_cast<std::size_t>(i)] = static_cast<double>(X(i, j));
      std::sort(column.begin(), column.end());
      reference.features_.push_back(summarise(column, params, names[static_cast<std::size_t>(j)]));
    }
    return reference;
  }

  // One-column reference of a model's anomaly scores (feature name "score").
  template <Scalar T>
  static DriftReference fit_scores(const Vector<T>& scores, const DriftReferenceParams& params = {}) {
    return fit(scores, params, {"score"});
  }

  [[nodiscard]] Index rows() const { return rows_; }
  [[nodiscard]] Index n_features() const { return static_cast<Index>(features_.size()); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(cereal::make_nvp("rows", rows_), cereal::make_nvp("features", features_));
  }

  // One feature's bins. Fine bin b holds x with edges[b-1] <= x < edges[b]
  // (bin 0: x < edges[0]; last bin: x >= edges.back()).
  struct Feature {
    std::string name;
    std::vector<double> edges;
    std::vector<double> shares;               // reference share per fine bin (edges.size() + 1)
    std::vector<std::uint32_t> psi_bin_ends;  // exclusive fine-bin end of each PSI bin

    [[nodiscard]] std::size_t bin(double x) const {
      return static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
    }

    template <class Archive>
    void serialize(Archive& archive) {
      archive(cereal::make_nvp("name", name), cereal::make_nvp("edges", edges), cereal::make_nvp("shares", shares),
              cereal::make_nvp("psi_bin_ends", psi_bin_ends));
    }
  };

  [[nodiscard]] const std::vector<Feature>& features() const { return features_; }

 private:
  // `sorted` is one column in ascending order.
  static Feature summarise(const std::vector<double>& sorted, const DriftReferenceParams& params, std::string name) {
    Feature feature;
    feature.name = std::move(name);
    const auto n = sorted.size();
    const auto quantile = [&](Index numerator, Index denominator) {
      // Lower empirical quantile: an observed value, so ties stay together.
      const auto position = static_cast<std::size_t>(static_cast<double>(numerator) / static_cast<double>(denominator) *
                                                     static_cast<double>(n - 1));
      return sorted[position];
    };
    for (Index j = 1; j < params.ks_bins; ++j) feature.edges.push_back(quantile(j, params.ks_bins));
    feature.edges.erase(std::unique(feature.edges.begin(), feature.edges.end()), feature.edges.end());
    // Share below each edge, from the sorted column.
    double below_previous = 0.0;
    for (const double edge : feature.edges) {
      const auto below = static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), edge) - sorted.begin());
      feature.shares.push_back((below - below_previous) / static_cast<double>(n));
      below_previous = below;
    }
    feature.shares.push_back((static_cast<double>(n) - below_previous) / static_cast<double>(n));
    // Few distinct values (a discrete feature): one PSI bin per fine bin, or
    // decile edges could merge all of them.
    if (static_cast<Index>(feature.shares.size()) <= params.psi_bins) {
      for (std::uint32_t b = 1; b <= feature.shares.size(); ++b) feature.psi_bin_ends.push_back(b);
      return feature;
    }
    const Index step = params.ks_bins / params.psi_bins;
    for (Index i = 1; i < params.psi_bins; ++i) {
      // PSI edges are fine edges, so a PSI bin is a run of fine bins.
      const double edge = quantile(i * step, params.ks_bins);
      const auto position = static_cast<std::uint32_t>(
          std::lower_bound(feature.edges.begin(), feature.edges.end(), edge) - feature.edges.begin());
      if (feature.psi_bin_ends.empty() || feature.psi_bin_ends.back() != position + 1) {
        feature.psi_bin_ends.push_back(position + 1);
      }
    }
    feature.psi_bin_ends.push_back(static_cast<std::uint32_t>(feature.shares.size()));
    return feature;
  }

  Index rows_ = 0;
  std::vector<Feature> features_;
};

struct FeatureDrift {
  std::string feature;
  double psi = 0.0;
  double ks = 0.0;              // D at the fine edges: a lower bound of the two-sample KS statistic
  double ks_error_bound = 0.0;  // D is at most ks + ks_error_bound
  bool psi_drift = false;       // psi > psi_threshold
  bool ks_drift = false;        // ks > ks_threshold
  [[nodiscard]] bool drifted() const { return psi_drift || ks_drift; }
};

struct DriftReport {
  std::vector<FeatureDrift> features;  // in column order
  Index reference_rows = 0;
  Index live_rows = 0;

  [[nodiscard]] bool drifted() const {
    return std::any_of(features.begin(), features.end(), [](const FeatureDrift& f) { return f.drifted(); });
  }
  [[nodiscard]] std::vector<std::string> drifted_features() const {
    std::vector<std::string> names;
    for (const auto& feature : features) {
      if (feature.drifted()) names.push_back(feature.feature);
    }
    return names;
  }
};

// Live-window counts against a DriftReference. Not thread-safe: feed it from
// one thread (or guard it), it is cheap next to scoring.
class DriftMonitor {
 public:
  struct Params {
    Index block_rows = 1000;   // rows per block, >= 1
    Index window_blocks = 10;  // blocks in the sliding window, >= 1
    double psi_threshold = 0.25;
    double ks_threshold = 0.1;  // largest CDF gap tolerated (10 percentage points)
  };

  explicit DriftMonitor(DriftReference reference) : DriftMonitor(std::move(reference), Params{}) {}
  DriftMonitor(DriftReference reference, const Params& params) : reference_(std::move(reference)), params_(params) {
    const std::string where = "DriftMonitor::DriftMonitor";
    if (reference_.n_features() == 0) detail::raise<invalid_argument>(where, "the reference is empty (fit it first)");
    detail::require_parameter(params.block_rows >= 1, where, "block_rows", ">= 1", params.block_rows);
    detail::require_parameter(params.window_blocks >= 1, where, "window_blocks", ">= 1", params.window_blocks);
    detail::require_parameter(params.psi_threshold > 0, where, "psi_threshold", "> 0", params.psi_threshold);
    detail::require_parameter(params.ks_threshold > 0 && params.ks_threshold <= 1, where, "ks_threshold", "in (0, 1]",
                              params.ks_threshold);
    for (const auto& feature : reference_.features()) {
      offsets_.push_back(bins_);
      bins_ += feature.shares.size();
    }
    blocks_.assign(static_cast<std::size_t>(params.window_blocks), Block{std::vector<std::int64_t>(bins_, 0), 0});
    totals_.assign(bins_, 0);
  }

  // Adds rows (columns as in the reference). A rejected batch changes nothing.
  template <class Derived>
  void observe(const Eigen::MatrixBase<Derived>& X) {
    static_assert(Scalar<typename Derived::Scalar>, "DriftMonitor::observe takes float or double values");
    const std::string where = "DriftMonitor::observe";
    detail::require_columns(X, reference_.n_features(), where, "X");
    detail::require_finite(X, where, "X");
    for (Index i = 0; i < X.rows(); ++i) {
      Block& block = blocks_[current_];
      if (block.rows == params_.block_rows) advance();
      Block& target = blocks_[current_];
      for (Index j = 0; j < X.cols(); ++j) {
        const auto& feature = reference_.features()[static_cast<std::size_t>(j)];
        const std::size_t slot = offsets_[static_cast<std::size_t>(j)] + feature.bin(static_cast<double>(X(i, j)));
        ++target.counts[slot];
        ++totals_[slot];
      }
      ++target.rows;
      ++rows_;
    }
  }

  // Adds anomaly scores (for a reference made with fit_scores).
  template <Scalar T>
  void observe_scores(const Vector<T>& scores) {
    observe(scores);
  }

  [[nodiscard]] Index live_rows() const { return rows_; }

  // PSI and KS per feature for the current window; data_error before any row.
  [[nodiscard]] DriftReport report() const {
    if (rows_ == 0) detail::raise<data_error>("DriftMonitor::report", "the live window has no rows yet");
    DriftReport report;
    report.reference_rows = reference_.rows();
    report.live_rows = rows_;
    const auto live_total = static_cast<double>(rows_);
    for (std::size_t f = 0; f < reference_.features().size(); ++f) {
      const auto& feature = reference_.features()[f];
      const std::int64_t* live = totals_.data() + offsets_[f];
      FeatureDrift drift;
      drift.feature = feature.name;
      double reference_cdf = 0.0, live_cdf = 0.0;
      for (std::size_t b = 0; b + 1 < feature.shares.size(); ++b) {
        reference_cdf += feature.shares[b];
        live_cdf += static_cast<double>(live[b]) / live_total;
        drift.ks = std::max(drift.ks, std::abs(reference_cdf - live_cdf));
      }
      drift.ks_error_bound = *std::max_element(feature.shares.begin(), feature.shares.end());
      std::size_t begin = 0;
      for (const std::uint32_t end : feature.psi_bin_ends) {
        double expected = 0.0, actual = 0.0;
        for (std::size_t b = begin; b < end; ++b) {
          expected += feature.shares[b];
          actual += static_cast<double>(live[b]) / live_total;
        }
        expected = std::max(expected, share_floor);
        actual = std::max(actual, share_floor);
        drift.psi += (actual - expected) * std::log(actual / expected);
        begin = end;
      }
      drift.psi_drift = drift.psi > params_.psi_threshold;
      drift.ks_drift = drift.ks > params_.ks_threshold;
      report.features.push_back(std::move(drift));
    }
    return report;
  }

  // Empties the live window (e.g. after promoting a model with a new reference).
  void reset() {
    for (auto& block : blocks_) {
      std::fill(block.counts.begin(), block.counts.end(), 0);
      block.rows = 0;
    }
    std::fill(totals_.begin(), totals_.end(), 0);
    rows_ = 0;
    current_ = 0;
  }

  [[nodiscard]] const DriftReference& reference() const { return reference_; }
  [[nodiscard]] const Params& params() const { return params_; }

 private:
  static constexpr double share_floor = 1e-4;

  struct Block {
    std::vector<std::int64_t> counts;
    Index rows = 0;
  };

  // Starts a new block, dropping the oldest one's rows from the window.
  void advance() {
    current_ = (current_ + 1) % blocks_.size();
    Block& oldest = blocks_[current_];
    for (std::size_t b = 0; b < bins_; ++b) totals_[b] -= oldest.counts[b];
    std::fill(oldest.counts.begin(), oldest.counts.end(), 0);
    rows_ -= oldest.rows;
    oldest.rows = 0;
  }

  DriftReference reference_;
  Params params_;
  std::vector<std::size_t> offsets_;  // first bin of each feature in a block
  std::size_t bins_ = 0;
  std::vector<Block> blocks_;
  std::vector<std::int64_t> totals_;  // sum of the blocks' counts
  std::size_t current_ = 0;
  Index rows_ = 0;
};

}  // namespace redflag
