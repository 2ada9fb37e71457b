#pragma once

// WindowBatches: runs a TransformerNetwork over batches of windows,
// reconstructing each window and, when training, accumulating the gradient of
// the batch's mean squared error.
//
// Every window of a batch has its own input copy, workspace and gradient, so
// windows run on any number of threads, and their squared errors and
// gradients are added in window order afterwards: the result is
// bit-identical for every n_jobs. Buffers keep their shapes from one batch to
// the next, so after the first batch no step allocates. (Per-window rather
// than per-several-windows work also keeps the depth of the weight-gradient
// GEMMs, X^T dY, at one window, so Eigen's packing buffers stay under its
// stack-allocation limit at the default sizes instead of being allocated on
// every product.)

#include <redflag/core/error.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/nn/transformer_network.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace redflag::nn {

template <Scalar T>
class WindowBatches {
 public:
  WindowBatches() = default;

  WindowBatches(const TransformerNetwork<T>& network, Index batch_size, bool with_gradients)
      : states_(static_cast<std::size_t>(batch_size)) {
    if (with_gradients) {
      for (State& state : states_) state.gradient = zeros_like(network);
    }
  }

  // Reconstructs windows[indices] (rows of `windows`, each window * features
  // values, position-major; at most batch_size of them). With `gradient` not
  // null, sets it to the gradient of the batch's mean squared error; with
  // `window_errors` not empty, writes each window's mean squared error there.
  // Returns the batch's sum of squared errors.
  double run(const TransformerNetwork<T>& network, const MatrixRef<T>& windows, std::span<const Index> indices,
             int n_jobs, TransformerNetwork<T>* gradient, std::span<T> window_errors = {}) {
    if (indices.size() > states_.size()) {
      redflag::detail::raise<invalid_argument>("nn::WindowBatches::run", "got " + std::to_string(indices.size()) +
                                                                             " windows, more than the batch size " +
                                                                             std::to_string(states_.size()));
    }
    const Index window = network.window();
    const Index features = network.features();
    const T gradient_scale = T(2) / static_cast<T>(static_cast<Index>(indices.size()) * window * features);
    parallel_for(indices.size(), n_jobs, [&](std::size_t begin, std::size_t end) {
      for (std::size_t k = begin; k < end; ++k) {
        State& state = states_[k];
        // A row of a row-major Ref is contiguous even when the rows are not.
        state.input = Eigen::Map<const Matrix<T>>(windows.row(indices[k]).data(), window, features);
        network.forward(state.input, state.work, state.output);
        state.output -= state.input;  // the residual, in place
        state.squared_error = static_cast<double>(state.output.squaredNorm());
        if (!window_errors.empty()) {
          window_errors[k] = static_cast<T>(state.squared_error / static_cast<double>(window * features));
        }
        if (gradient != nullptr) {
          state.output *= gradient_scale;
          set_zero(state.gradient);
          network.backward(state.input, state.output, state.work, state.gradient);
        }
      }
    });
    double total = 0.0;
    if (gradient != nullptr) set_zero(*gradient);
    for (std::size_t k = 0; k < indices.size(); ++k) {
      total += states_[k].squared_error;
      if (gradient != nullptr) add_to(*gradient, states_[k].gradient);
    }
    return total;
  }

 private:
  struct State {
    Matrix<T> input;   // window x features
    Matrix<T> output;  // reconstruction, then residual, then loss gradient
    typename TransformerNetwork<T>::Workspace work;
    TransformerNetwork<T> gradient;
    double squared_error = 0.0;
  };

  std::vector<State> states_;
};

}  // namespace redflag::nn
