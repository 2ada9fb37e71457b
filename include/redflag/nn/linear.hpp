#pragma once

// Linear: y = x W + b over rows. W is inputs x outputs so that a row-major
// batch multiplies it directly.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/module.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace redflag::nn {

template <Scalar T>
class Linear {
 public:
  using scalar_type = T;

  Matrix<T> weight;  // inputs x outputs
  Matrix<T> bias;    // 1 x outputs

  Linear() = default;

  // Weights and bias uniform in +-1/sqrt(inputs) (PyTorch's nn.Linear default),
  // drawn weight row by weight row, then the bias, from `random`.
  Linear(Index inputs, Index outputs, Random& random) : weight(inputs, outputs), bias(1, outputs) {
    if (inputs < 1 || outputs < 1) {
      redflag::detail::raise<invalid_argument>(
          "nn::Linear",
          "inputs and outputs must be >= 1, got " + std::to_string(inputs) + " and " + std::to_string(outputs));
    }
    const T bound = T(1) / std::sqrt(static_cast<T>(inputs));
    detail::fill_uniform(weight, bound, random);
    detail::fill_uniform(bias, bound, random);
  }

  [[nodiscard]] Index inputs() const noexcept { return weight.rows(); }
  [[nodiscard]] Index outputs() const noexcept { return weight.cols(); }

  template <class F, class... Layers>
  static void visit(F&& f, Layers&... layers) {
    f(layers.weight...);
    f(layers.bias...);
  }

  // Y = X W + b. Y is resized only when its shape changes.
  void forward(const MatrixRef<T>& X, Matrix<T>& Y) const {
    // Bias first, then accumulate the product: one pass fewer over Y than
    // X W (which Eigen starts by zeroing Y) followed by adding the bias.
    Y.resize(X.rows(), outputs());
    for (Index r = 0; r < Y.rows(); ++r) Y.row(r) = bias.row(0);
    for (Index k = 0; k < inputs(); k += depth_slice) {
      const Index depth = std::min(depth_slice, inputs() - k);
      Y.noalias() += X.middleCols(k, depth) * weight.middleRows(k, depth);
    }
  }

  // Adds dLoss/dW and dLoss/db to `gradient`; writes dLoss/dX into *dX when
  // dX is not null (the first layer of a network does not need it).
  void backward(const MatrixRef<T>& X, const MatrixRef<T>& dY, Linear& gradient, Matrix<T>* dX) const {
    for (Index r = 0; r < X.rows(); r += depth_slice) {
      const Index depth = std::min(depth_slice, X.rows() - r);
      gradient.weight.noalias() += X.middleRows(r, depth).transpose() * dY.middleRows(r, depth);
    }
    gradient.bias.row(0) += dY.colwise().sum();
    if (dX != nullptr) {
      dX->resize(dY.rows(), inputs());
      dX->setZero();
      for (Index k = 0; k < outputs(); k += depth_slice) {
        const Index depth = std::min(depth_slice, outputs() - k);
        dX->noalias() += dY.middleCols(k, depth) * weight.middleCols(k, depth).transpose();
      }
    }
  }

  // Products are summed over slices of at most this many terms (of their
  // inner dimension) in a fixed order. Eigen packs a product's operands into
  // blocks of (rows or columns) x depth values, on the stack up to
  // EIGEN_STACK_ALLOCATION_LIMIT (128 KiB) and on the heap beyond; with a
  // depth of 64 a block stays on the stack up to 256 rows or columns in
  // double, so no product allocates at the default sizes, even for a group
  // of four 60-position windows.
  static constexpr Index depth_slice = 64;
};

}  // namespace redflag::nn
