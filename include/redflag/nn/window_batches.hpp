#pragma once

// WindowBatches: runs a TransformerNetwork over batches of windows,
// reconstructing each window and, when training, accumulating the gradient of
// the batch's mean squared error.
//
// A batch is cut into groups of `windows_per_group` consecutive windows.
// A group's windows are stacked into one matrix and run through the network
// together (forward, then backward when training), so every position-wise
// product multiplies the weights by G windows' rows at once (240 rows at the
// default window of 60, a whole number of the product kernels' 6-row
// tiles). Attention stays within each window. Each group's gradient goes
// into its own gradient object, and the groups' gradients are added in
// group order afterwards. The groups depend on the batch alone, never on
// n_jobs, so the result is bit-identical for every n_jobs (and, the kernels
// being so, for every SIMD path).
//
// Threads ("lanes") take whole groups: lane l runs groups l, l + lanes, ...
// Each lane owns its workspaces (one per group size it has met, as the last
// group of a batch may be smaller), so memory grows with the number of
// threads, not with the batch size. Buffers keep their shapes from one batch
// to the next, so after the first batches no step allocates (for a given
// n_jobs).

#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/nn/transformer_network.hpp>
#include <redflag/simd/detail/nn_kernels.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace redflag::nn {

template <Scalar T>
class WindowBatches {
 public:
  // Windows run together and whose gradients accumulate in one object:
  // enough for large products, and giving enough groups per training batch
  // (8 at 32 windows) to balance a few threads.
  static constexpr Index windows_per_group = 4;

  WindowBatches() = default;

  WindowBatches(const TransformerNetwork<T>& network, Index batch_size, bool with_gradients) : batch_size_(batch_size) {
    if (batch_size < 1) {
      redflag::detail::raise<invalid_argument>("nn::WindowBatches",
                                               "batch_size must be >= 1, got " + std::to_string(batch_size));
    }
    squared_errors_.resize(static_cast<std::size_t>(batch_size));
    if (with_gradients) {
      groups_.assign(static_cast<std::size_t>(group_count(batch_size)), zeros_like(network));
    }
  }

  // Reconstructs windows[indices] (rows of `windows`, each window * features
  // values, position-major; at most batch_size of them). With `gradient` not
  // null, sets it to the gradient of the batch's mean squared error; with
  // `window_errors` not empty, writes each window's mean squared error there.
  // Returns the batch's sum of squared errors.
  double run(const TransformerNetwork<T>& network, const MatrixRef<T>& windows, std::span<const Index> indices,
             int n_jobs, TransformerNetwork<T>* gradient, std::span<T> window_errors = {}) {
    const auto count = static_cast<Index>(indices.size());
    if (count > batch_size_) {
      redflag::detail::raise<invalid_argument>(
          "nn::WindowBatches::run",
          "got " + std::to_string(count) + " windows, more than the batch size " + std::to_string(batch_size_));
    }
    if (gradient != nullptr && groups_.empty()) {
      redflag::detail::raise<invalid_argument>("nn::WindowBatches::run",
                                               "asked for a gradient, but was built without gradients");
    }
    if (count == 0) {
      if (gradient != nullptr) set_zero(*gradient);
      return 0.0;
    }
    const Index window = network.window();
    const Index features = network.features();
    const T gradient_scale = T(2) / static_cast<T>(count * window * features);
    const Index groups = group_count(count);
    const auto lanes = static_cast<Index>(
        std::min<long long>(resolve_n_jobs(n_jobs, "nn::WindowBatches::run"), static_cast<long long>(groups)));
    if (static_cast<Index>(lanes_.size()) < lanes) lanes_.resize(static_cast<std::size_t>(lanes));

    parallel_for(static_cast<std::size_t>(lanes), n_jobs, [&](std::size_t begin, std::size_t end) {
      for (std::size_t lane_index = begin; lane_index < end; ++lane_index) {
        for (auto group = static_cast<Index>(lane_index); group < groups; group += lanes) {
          const Index first = group * windows_per_group;
          const Index size = std::min(count, first + windows_per_group) - first;
          Stack& stack = lanes_[lane_index][static_cast<std::size_t>(size - 1)];
          stack.input.resize(size * window, features);
          for (Index w = 0; w < size; ++w) {
            // A row of a row-major Ref is contiguous even when the rows are not.
            stack.input.middleRows(w * window, window) = Eigen::Map<const Matrix<T>>(
                windows.row(indices[static_cast<std::size_t>(first + w)]).data(), window, features);
          }
          network.forward(stack.input, stack.work, stack.output);
          stack.output -= stack.input;  // the residual, in place
          for (Index w = 0; w < size; ++w) {
            const double squared_error = static_cast<double>(
                simd::detail::nn::sum_of_squares<T>(stack.output.data() + w * window * features, window * features));
            squared_errors_[static_cast<std::size_t>(first + w)] = squared_error;
            if (!window_errors.empty()) {
              window_errors[static_cast<std::size_t>(first + w)] =
                  static_cast<T>(squared_error / static_cast<double>(window * features));
            }
          }
          if (gradient != nullptr) {
            TransformerNetwork<T>& group_gradient = groups_[static_cast<std::size_t>(group)];
            set_zero(group_gradient);
            stack.output *= gradient_scale;
            network.backward(stack.input, stack.output, stack.work, group_gradient);
          }
        }
      }
    });

    double total = 0.0;
    for (Index k = 0; k < count; ++k) total += squared_errors_[static_cast<std::size_t>(k)];
    if (gradient != nullptr) {
      // Same shapes: copying assigns in place, without allocating.
      *gradient = groups_[0];
      for (Index group = 1; group < groups; ++group) add_to(*gradient, groups_[static_cast<std::size_t>(group)]);
    }
    return total;
  }

 private:
  static Index group_count(Index windows) { return (windows + windows_per_group - 1) / windows_per_group; }

  // What one thread needs to run a group of a given size.
  struct Stack {
    Matrix<T> input;   // (group size * window) x features
    Matrix<T> output;  // reconstruction, then residual, then loss gradient
    typename TransformerNetwork<T>::Workspace work;
  };
  using Lane = std::array<Stack, static_cast<std::size_t>(windows_per_group)>;  // by group size - 1

  Index batch_size_ = 0;
  std::vector<double> squared_errors_;         // per window of the batch
  std::vector<TransformerNetwork<T>> groups_;  // per group: the gradient of its windows
  std::vector<Lane> lanes_;
};

}  // namespace redflag::nn
