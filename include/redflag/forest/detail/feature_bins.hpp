#pragma once

// Histogram binning of the training columns for RandomForest's split search.
//
// Each column is cut once per fit into at most max_bins (<= 256) bins, so a
// row's bin fits a byte. A column with at most max_bins distinct values gets
// one bin per value and edges at the midpoints between neighbours: every cut
// the exact CART splitter could make is still available, with the same
// threshold. Otherwise the edges sit at quantiles of the column (with
// duplicates, so each bin holds about n / max_bins rows), each one the
// midpoint between the last value below the quantile and the next distinct
// value. Bin b holds the values v with edge[b - 1] < v <= edge[b], so a split
// "bin <= b" on the training rows is the split "x <= edge[b]" a fitted tree
// applies to any row.

#include <redflag/core/parallel.hpp>
#include <redflag/core/types.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace redflag::detail::forest {

// A threshold t with low <= t < high: the midpoint, or low when the
// midpoint rounds up to high (adjacent floats).
template <Scalar T>
T split_midpoint(T low, T high) {
  const auto middle = static_cast<T>((static_cast<double>(low) + static_cast<double>(high)) / 2.0);
  return (middle >= low && middle < high) ? middle : low;
}

template <Scalar T>
struct FeatureBins {
  std::size_t rows = 0, cols = 0;
  std::vector<std::uint8_t> codes;    // row-major: codes[row * cols + column]
  std::vector<std::vector<T>> edges;  // per column: upper edges of all bins but the last, ascending
  std::size_t max_bin_count = 1;      // the largest bin count over the columns

  [[nodiscard]] std::size_t bin_count(std::size_t column) const { return edges[column].size() + 1; }
  [[nodiscard]] const std::uint8_t* row(std::size_t r) const { return codes.data() + r * cols; }
};

// Upper edges of at most max_bins quantile bins of `values` (sorted in place).
template <Scalar T>
std::vector<T> quantile_edges(std::vector<T>& values, std::size_t max_bins) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < n; ++i) distinct += (i == 0 || values[i - 1] < values[i]) ? 1 : 0;
  std::vector<T> edges;
  // Bin i ends once the values so far reach (i + 1) * n / max_bins, or at
  // every distinct value when there are few enough.
  std::size_t bin = 1;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (!(values[i] < values[i + 1])) continue;
    const std::size_t seen = i + 1;
    const bool cut = distinct <= max_bins || seen * max_bins >= bin * n;
    if (!cut) continue;
    edges.push_back(split_midpoint(values[i], values[i + 1]));
    while (bin * n <= seen * max_bins) ++bin;
    if (edges.size() + 1 == max_bins) break;
  }
  return edges;
}

// Bins every column of X (finite values) on up to n_jobs threads; the result
// does not depend on n_jobs.
template <Scalar T>
FeatureBins<T> bin_features(const MatrixRef<T>& X, std::size_t max_bins, int n_jobs) {
  FeatureBins<T> bins;
  bins.rows = static_cast<std::size_t>(X.rows());
  bins.cols = static_cast<std::size_t>(X.cols());
  bins.codes.resize(bins.rows * bins.cols);
  bins.edges.resize(bins.cols);
  const auto stride = static_cast<std::size_t>(X.outerStride());
  const T* data = X.data();
  parallel_for(bins.cols, n_jobs,
               [&](std::size_t begin, std::size_t end) {
                 std::vector<T> column(bins.rows);
                 for (std::size_t j = begin; j < end; ++j) {
                   for (std::size_t r = 0; r < bins.rows; ++r) column[r] = data[r * stride + j];
                   bins.edges[j] = quantile_edges(column, max_bins);
                 }
               },
               {.grain = 1});
  // Codes by blocks of rows, so threads do not share cache lines.
  parallel_for(bins.rows, n_jobs,
               [&](std::size_t begin, std::size_t end) {
                 for (std::size_t r = begin; r < end; ++r) {
                   for (std::size_t j = 0; j < bins.cols; ++j) {
                     const std::vector<T>& edge = bins.edges[j];
                     bins.codes[r * bins.cols + j] = static_cast<std::uint8_t>(
                         std::lower_bound(edge.begin(), edge.end(), data[r * stride + j]) - edge.begin());
                   }
                 }
               },
               {.grain = 4096});
  for (std::size_t j = 0; j < bins.cols; ++j) bins.max_bin_count = std::max(bins.max_bin_count, bins.bin_count(j));
  return bins;
}

}  // namespace redflag::detail::forest
