#pragma once

// Linear: y = x W + b over rows. W is inputs x outputs so that a row-major
// batch multiplies it directly.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/simd/detail/nn_kernels.hpp>

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

  // Y = X W + b. Y is resized only when its shape changes. Each output is
  // the bias followed by one fused multiply-add per input, in input order
  // (simd/detail/nn_kernels.hpp), on every SIMD path.
  void forward(const MatrixRef<T>& X, Matrix<T>& Y) const {
    Y.resize(X.rows(), outputs());
    simd::detail::nn::gemm<T>(X.rows(), outputs(), inputs(), X.data(), X.outerStride(), 1, weight.data(), outputs(),
                              Y.data(), outputs(), simd::detail::GemmStart::bias, bias.data());
  }

  // Adds dLoss/dW and dLoss/db to `gradient`; writes dLoss/dX into *dX when
  // dX is not null (the first layer of a network does not need it).
  // `transposed` holds W^T for the dX product; pass a matrix kept from call
  // to call so that it is not allocated every time.
  void backward(const MatrixRef<T>& X, const MatrixRef<T>& dY, Linear& gradient, Matrix<T>* dX,
                Matrix<T>* transposed = nullptr) const {
    namespace kernels = simd::detail::nn;
    // dW += X^T dY: over the rows in order.
    kernels::gemm<T>(inputs(), outputs(), X.rows(), X.data(), 1, X.outerStride(), dY.data(), dY.outerStride(),
                     gradient.weight.data(), outputs(), simd::detail::GemmStart::accumulate);
    kernels::add_column_sums<T>(dY.rows(), outputs(), dY.data(), dY.outerStride(), gradient.bias.data());
    if (dX != nullptr) {
      Matrix<T> local;
      Matrix<T>& wt = transposed != nullptr ? *transposed : local;
      wt.resize(outputs(), inputs());
      for (Index k = 0; k < inputs(); ++k) {
        for (Index j = 0; j < outputs(); ++j) wt(j, k) = weight(k, j);
      }
      dX->resize(dY.rows(), inputs());
      kernels::gemm<T>(dY.rows(), inputs(), outputs(), dY.data(), dY.outerStride(), 1, wt.data(), inputs(), dX->data(),
                       inputs(), simd::detail::GemmStart::zero);
    }
  }
};

}  // namespace redflag::nn
