#pragma once

// LayerNorm: each row normalised to zero mean and unit variance (biased
// variance, as PyTorch), then scaled by gamma and shifted by beta.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/simd/detail/nn_kernels.hpp>

#include <cmath>
#include <string>

namespace redflag::nn {

template <Scalar T>
class LayerNorm {
 public:
  using scalar_type = T;

  Matrix<T> gamma;  // 1 x features, starts at 1
  Matrix<T> beta;   // 1 x features, starts at 0
  T epsilon = T(1e-5);

  // What backward needs from forward.
  struct Workspace {
    Matrix<T> normalized;   // (x - mean) / sqrt(var + epsilon), rows x features
    Vector<T> inverse_std;  // 1 / sqrt(var + epsilon) per row
  };

  LayerNorm() = default;

  explicit LayerNorm(Index features, T epsilon_ = T(1e-5))
      : gamma(Matrix<T>::Ones(1, features)), beta(Matrix<T>::Zero(1, features)), epsilon(epsilon_) {
    if (features < 1) {
      redflag::detail::raise<invalid_argument>("nn::LayerNorm",
                                               "features must be >= 1, got " + std::to_string(features));
    }
  }

  [[nodiscard]] Index features() const noexcept { return gamma.cols(); }

  template <class F, class... Layers>
  static void visit(F&& f, Layers&... layers) {
    f(layers.gamma...);
    f(layers.beta...);
  }

  // Row by row (simd/detail/nn_kernels.hpp): the mean and the variance are
  // sums through 8 partial sums and a fixed tree, the same on every SIMD
  // path; y = fma(xhat, gamma, beta).
  void forward(const MatrixRef<T>& X, Workspace& work, Matrix<T>& Y) const {
    const Index rows = X.rows();
    work.normalized.resize(rows, features());
    work.inverse_std.resize(rows);
    Y.resize(rows, features());
    simd::detail::nn::layer_norm_forward<T>(rows, features(), X.data(), X.outerStride(), gamma.data(), beta.data(),
                                            epsilon, work.normalized.data(), work.inverse_std.data(), Y.data());
  }

  // dX = inv_std * (g - mean(g) - xhat * mean(g . xhat)) with g = dY . gamma.
  void backward(const MatrixRef<T>& dY, Workspace& work, LayerNorm& gradient, Matrix<T>& dX) const {
    const Index rows = dY.rows();
    dX.resize(rows, features());
    simd::detail::nn::layer_norm_backward<T>(rows, features(), dY.data(), dY.outerStride(), gamma.data(),
                                             work.normalized.data(), work.inverse_std.data(), gradient.gamma.data(),
                                             gradient.beta.data(), dX.data());
  }
};

}  // namespace redflag::nn
