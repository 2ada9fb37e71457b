#pragma once

// FeedForward: the position-wise network of a transformer block,
// Linear(d_model -> hidden), ReLU, Linear(hidden -> d_model).

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/linear.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/simd/detail/nn_kernels.hpp>

namespace redflag::nn {

template <Scalar T>
class FeedForward {
 public:
  using scalar_type = T;

  Linear<T> first;   // d_model -> hidden
  Linear<T> second;  // hidden -> d_model

  struct Workspace {
    Matrix<T> hidden;          // ReLU output; its zeros are where the gradient is cut
    Matrix<T> d_hidden;        // backward scratch
    Matrix<T> weight_scratch;  // backward: a layer's W^T
  };

  FeedForward() = default;

  FeedForward(Index d_model, Index hidden, Random& random)
      : first(d_model, hidden, random), second(hidden, d_model, random) {}

  [[nodiscard]] Index d_model() const noexcept { return first.inputs(); }
  [[nodiscard]] Index hidden() const noexcept { return first.outputs(); }

  template <class F, class... Layers>
  static void visit(F&& f, Layers&... layers) {
    Linear<T>::visit(f, layers.first...);
    Linear<T>::visit(f, layers.second...);
  }

  void forward(const MatrixRef<T>& X, Workspace& work, Matrix<T>& Y) const {
    first.forward(X, work.hidden);
    work.hidden = work.hidden.cwiseMax(T(0));
    second.forward(work.hidden, Y);
  }

  void backward(const MatrixRef<T>& X, const MatrixRef<T>& dY, Workspace& work, FeedForward& gradient,
                Matrix<T>* dX) const {
    second.backward(work.hidden, dY, gradient.second, &work.d_hidden, &work.weight_scratch);
    // ReLU passes the gradient where its output was positive (its input was > 0);
    // a vector select (Eigen's select compiled to a branch per value without AVX).
    simd::detail::nn::relu_backward<T>(work.hidden.size(), work.hidden.data(), work.d_hidden.data());
    first.backward(X, work.d_hidden, gradient.first, dX, &work.weight_scratch);
  }
};

}  // namespace redflag::nn
