#pragma once

// Linear: y = x W + b over rows, one GEMM per call. W is inputs x outputs so
// that a row-major batch multiplies it directly.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/module.hpp>

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
          "nn::Linear", "inputs and outputs must be >= 1, got " + std::to_string(inputs) + " and " +
                            std::to_string(outputs));
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
    Y.resize(X.rows(), outputs());
    Y.noalias() = X * weight;
    Y.rowwise() += bias.row(0);
  }

  // Adds dLoss/dW and dLoss/db to `gradient`; writes dLoss/dX into *dX when
  // dX is not null (the first layer of a network does not need it).
  void backward(const MatrixRef<T>& X, const MatrixRef<T>& dY, Linear& gradient, Matrix<T>* dX) const {
    gradient.weight.noalias() += X.transpose() * dY;
    gradient.bias.row(0) += dY.colwise().sum();
    if (dX != nullptr) {
      dX->resize(dY.rows(), inputs());
      dX->noalias() = dY * weight.transpose();
    }
  }
};

}  // namespace redflag::nn
