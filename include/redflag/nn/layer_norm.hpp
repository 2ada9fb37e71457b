#pragma once

// LayerNorm: each row normalised to zero mean and unit variance (biased
// variance, as PyTorch), then scaled by gamma and shifted by beta.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/module.hpp>

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

  void forward(const MatrixRef<T>& X, Workspace& work, Matrix<T>& Y) const {
    const Index rows = X.rows();
    const T inverse_features = T(1) / static_cast<T>(features());
    work.normalized.resize(rows, features());
    work.inverse_std.resize(rows);
    Y.resize(rows, features());
    for (Index r = 0; r < rows; ++r) {
      const T mean = X.row(r).sum() * inverse_features;
      work.normalized.row(r) = X.row(r).array() - mean;
      const T variance = work.normalized.row(r).squaredNorm() * inverse_features;
      const T inverse_std = T(1) / std::sqrt(variance + epsilon);
      work.inverse_std(r) = inverse_std;
      work.normalized.row(r) *= inverse_std;
      // Row by row while the row is in cache, rather than two more passes over Y.
      Y.row(r) = work.normalized.row(r).cwiseProduct(gamma.row(0)) + beta.row(0);
    }
  }

  // dX = inv_std * (g - mean(g) - xhat * mean(g . xhat)) with g = dY . gamma.
  void backward(const MatrixRef<T>& dY, Workspace& work, LayerNorm& gradient, Matrix<T>& dX) const {
    const Index rows = dY.rows();
    const T inverse_features = T(1) / static_cast<T>(features());
    gradient.gamma.row(0) += (dY.array() * work.normalized.array()).colwise().sum().matrix();
    gradient.beta.row(0) += dY.colwise().sum();
    dX.resize(rows, features());
    dX.noalias() = dY * gamma.row(0).asDiagonal();
    for (Index r = 0; r < rows; ++r) {
      const T mean_g = dX.row(r).sum() * inverse_features;
      const T mean_gx = dX.row(r).dot(work.normalized.row(r)) * inverse_features;
      dX.row(r) =
          work.inverse_std(r) * (dX.row(r).array() - mean_g - work.normalized.row(r).array() * mean_gx).matrix();
    }
  }
};

}  // namespace redflag::nn
