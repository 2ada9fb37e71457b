#pragma once

// MultiHeadAttention: self-attention of every position of a sequence over all
// positions of the same sequence (no mask), as in "Attention Is All You Need":
//
//   [Q K V] = X W_in + b_in,  head h: P = softmax(Q_h K_h^T / sqrt(d_head)),
//   C_h = P V_h,  Y = [C_1 ... C_heads] W_out + b_out.
//
// Q, K and V come from one fused projection (one GEMM instead of three), and
// the softmax is applied in place on the score block as soon as it is
// computed, so scores never make a second trip through memory.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/linear.hpp>
#include <redflag/nn/module.hpp>

#include <cmath>
#include <string>

namespace redflag::nn {

template <Scalar T>
class MultiHeadAttention {
 public:
  using scalar_type = T;

  Linear<T> input_projection;   // d_model -> 3 d_model: [Q | K | V], heads side by side
  Linear<T> output_projection;  // d_model -> d_model

  struct Workspace {
    Matrix<T> qkv;            // rows x 3 d_model
    Matrix<T> probabilities;  // (sequences * heads * L) x L, block (s, h) at row (s * heads + h) * L
    Matrix<T> context;        // rows x d_model, heads side by side
    Matrix<T> d_context;      // backward: rows x d_model
    Matrix<T> d_qkv;          // backward: rows x 3 d_model
    Matrix<T> d_probabilities;  // backward: L x L
  };

  MultiHeadAttention() = default;

  MultiHeadAttention(Index d_model, Index heads, Random& random) : heads_(heads) {
    if (heads < 1 || d_model < 1 || d_model % heads != 0) {
      redflag::detail::raise<invalid_argument>(
          "nn::MultiHeadAttention", "d_model must be a positive multiple of heads, got d_model = " +
                                        std::to_string(d_model) + ", heads = " + std::to_string(heads));
    }
    input_projection = Linear<T>(d_model, 3 * d_model, random);
    output_projection = Linear<T>(d_model, d_model, random);
  }

  [[nodiscard]] Index d_model() const noexcept { return output_projection.outputs(); }
  [[nodiscard]] Index heads() const noexcept { return heads_; }

  template <class F, class... Layers>
  static void visit(F&& f, Layers&... layers) {
    Linear<T>::visit(f, layers.input_projection...);
    Linear<T>::visit(f, layers.output_projection...);
  }

  // X holds X.rows() / sequence_length sequences one after another.
  void forward(const MatrixRef<T>& X, Index sequence_length, Workspace& work, Matrix<T>& Y) const {
    const Index L = sequence_length;
    const Index sequences = X.rows() / L;
    const Index d = d_model();
    const Index dh = d / heads_;
    const T scale = T(1) / std::sqrt(static_cast<T>(dh));
    input_projection.forward(X, work.qkv);
    work.probabilities.resize(sequences * heads_ * L, L);
    work.context.resize(X.rows(), d);
    for (Index s = 0; s < sequences; ++s) {
      for (Index h = 0; h < heads_; ++h) {
        const auto q = work.qkv.block(s * L, h * dh, L, dh);
        const auto k = work.qkv.block(s * L, d + h * dh, L, dh);
        const auto v = work.qkv.block(s * L, 2 * d + h * dh, L, dh);
        auto p = work.probabilities.block((s * heads_ + h) * L, 0, L, L);
        p.noalias() = q * k.transpose();
        for (Index i = 0; i < L; ++i) {
          // Softmax of scale * scores, shifted by the row maximum against overflow.
          auto row = p.row(i);
          const T max = row.maxCoeff();
          row = ((row.array() - max) * scale).exp();
          row /= row.sum();
        }
        work.context.block(s * L, h * dh, L, dh).noalias() = p * v;
      }
    }
    output_projection.forward(work.context, Y);
  }

  void backward(const MatrixRef<T>& X, const MatrixRef<T>& dY, Index sequence_length, Workspace& work,
                MultiHeadAttention& gradient, Matrix<T>& dX) const {
    const Index L = sequence_length;
    const Index sequences = X.rows() / L;
    const Index d = d_model();
    const Index dh = d / heads_;
    const T scale = T(1) / std::sqrt(static_cast<T>(dh));
    output_projection.backward(work.context, dY, gradient.output_projection, &work.d_context);
    work.d_qkv.resize(X.rows(), 3 * d);
    work.d_probabilities.resize(L, L);
    auto& dp = work.d_probabilities;
    for (Index s = 0; s < sequences; ++s) {
      for (Index h = 0; h < heads_; ++h) {
        const auto q = work.qkv.block(s * L, h * dh, L, dh);
        const auto k = work.qkv.block(s * L, d + h * dh, L, dh);
        const auto v = work.qkv.block(s * L, 2 * d + h * dh, L, dh);
        const auto p = work.probabilities.block((s * heads_ + h) * L, 0, L, L);
        const auto dc = work.d_context.block(s * L, h * dh, L, dh);
        work.d_qkv.block(s * L, 2 * d + h * dh, L, dh).noalias() = p.transpose() * dc;
        dp.noalias() = dc * v.transpose();
        // Softmax backward, with the 1/sqrt(d_head) folded in: dS = scale * P . (dP - rowsum(dP . P)).
        for (Index i = 0; i < L; ++i) {
          const T dot = dp.row(i).dot(p.row(i));
          dp.row(i) = (scale * p.row(i).array() * (dp.row(i).array() - dot)).matrix();
        }
        work.d_qkv.block(s * L, h * dh, L, dh).noalias() = dp * k;
        work.d_qkv.block(s * L, d + h * dh, L, dh).noalias() = dp.transpose() * q;
      }
    }
    input_projection.backward(X, work.d_qkv, gradient.input_projection, &dX);
  }

 private:
  Index heads_ = 1;
};

}  // namespace redflag::nn
