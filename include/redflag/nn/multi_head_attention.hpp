#pragma once

// MultiHeadAttention: self-attention of every position of a sequence over all
// positions of the same sequence (no mask), as in "Attention Is All You Need":
//
//   [Q K V] = X W_in + b_in,  head h: P = softmax(Q_h K_h^T / sqrt(d_head)),
//   C_h = P V_h,  Y = [C_1 ... C_heads] W_out + b_out.
//
// Q, K and V come from one fused projection (one GEMM instead of three), and
// the softmax is applied in place on each head's score block as soon as it is
// computed, while the block is in cache.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/linear.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/simd/detail/nn_kernels.hpp>

#include <cmath>
#include <string>

namespace redflag::nn {

template <Scalar T>
class MultiHeadAttention {
 public:
  using scalar_type = T;

  Linear<T> input_projection;   // d_model -> 3 d_model: [Q | K | V], heads side by side
  Linear<T> output_projection;  // d_model -> d_model

  // Each head's probabilities are stored transposed, keys down the rows and
  // queries across the columns, so the softmax over the keys of a query is a
  // reduction down a column: the queries are the vector lanes, and every
  // query's maximum, sum and dot product run over the keys in order, the
  // same on every SIMD path (simd/detail/nn_kernels.hpp). The columns are
  // padded to a multiple of 16, a whole number of registers for every SIMD
  // width; the padding columns hold finite values that no result depends on.
  struct Workspace {
    Matrix<T> qkv;             // rows x 3 d_model
    Matrix<T> probabilities;   // (sequences * heads * L) x padded L: block (s, h), at row (s * heads + h) * L, is P^T
    Matrix<T> context;         // rows x d_model, heads side by side
    Matrix<T> transposed;      // d_head x padded L: one head's scaled Q^T, then C^T; backward: dC^T, then dQ^T
    Matrix<T> d_context;       // backward: rows x d_model
    Matrix<T> d_qkv;           // backward: rows x 3 d_model
    Matrix<T> d_scores;        // backward: L x padded L, dP^T then dS^T of one head
    Matrix<T> weight_scratch;  // backward: the input projection's W^T
    Matrix<T> output_weight_scratch;  // backward: the output projection's W^T (its own: no reshaping, no allocation)
  };

  MultiHeadAttention() = default;

  MultiHeadAttention(Index d_model, Index heads, Random& random) : heads_(heads) {
    if (heads < 1 || d_model < 1 || d_model % heads != 0) {
      redflag::detail::raise<invalid_argument>("nn::MultiHeadAttention",
                                               "d_model must be a positive multiple of heads, got d_model = " +
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
    namespace kernels = simd::detail::nn;
    const Index L = sequence_length;
    const Index sequences = X.rows() / L;
    const Index d = d_model();
    const Index dh = d / heads_;
    const Index padded = padded_length(L);
    const T scale = T(1) / std::sqrt(static_cast<T>(dh));
    input_projection.forward(X, work.qkv);
    // Zeroed when (re)shaped, so the padding columns hold finite values.
    if (work.probabilities.rows() != sequences * heads_ * L || work.probabilities.cols() != padded) {
      work.probabilities.setZero(sequences * heads_ * L, padded);
    }
    if (work.transposed.rows() != dh || work.transposed.cols() != padded) work.transposed.setZero(dh, padded);
    work.context.resize(X.rows(), d);
    const Index ld = 3 * d;
    for (Index s = 0; s < sequences; ++s) {
      for (Index h = 0; h < heads_; ++h) {
        const T* q = work.qkv.data() + s * L * ld + h * dh;
        const T* k = q + d;
        const T* v = q + 2 * d;
        T* pt = work.probabilities.data() + (s * heads_ + h) * L * padded;
        // (scale Q)^T, the scores transposed, S^T = K (scale Q)^T, their softmax
        // down the columns, and C_h = P V_h (computed as C_h^T = V_h^T P^T, full
        // registers across the queries), in one kernel call.
        kernels::attention_forward<T>(L, padded, dh, q, k, v, ld, scale, work.transposed.data(), pt,
                                      work.context.data() + s * L * d + h * dh, d);
      }
    }
    output_projection.forward(work.context, Y);
  }

  void backward(const MatrixRef<T>& X, const MatrixRef<T>& dY, Index sequence_length, Workspace& work,
                MultiHeadAttention& gradient, Matrix<T>& dX) const {
    namespace kernels = simd::detail::nn;
    using simd::detail::GemmStart;
    const Index L = sequence_length;
    const Index sequences = X.rows() / L;
    const Index d = d_model();
    const Index dh = d / heads_;
    const Index padded = padded_length(L);
    const T scale = T(1) / std::sqrt(static_cast<T>(dh));
    output_projection.backward(work.context, dY, gradient.output_projection, &work.d_context,
                               &work.output_weight_scratch);
    work.d_qkv.resize(X.rows(), 3 * d);
    // Zeroed when (re)shaped: products write every column, the padding ones included.
    if (work.d_scores.rows() != L || work.d_scores.cols() != padded) work.d_scores.setZero(L, padded);
    if (work.transposed.rows() != dh || work.transposed.cols() != padded) work.transposed.setZero(dh, padded);
    const Index ld = 3 * d;
    T* dst = work.d_scores.data();
    for (Index s = 0; s < sequences; ++s) {
      for (Index h = 0; h < heads_; ++h) {
        const T* q = work.qkv.data() + s * L * ld + h * dh;
        const T* k = q + d;
        const T* v = q + 2 * d;
        T* dq = work.d_qkv.data() + s * L * ld + h * dh;
        T* dk = dq + d;
        T* dv = dq + 2 * d;
        const T* pt = work.probabilities.data() + (s * heads_ + h) * L * padded;
        const T* dc = work.d_context.data() + s * L * d + h * dh;
        // dV_h = P^T dC_h.
        kernels::gemm<T>(L, dh, L, pt, padded, 1, dc, d, dv, ld, GemmStart::zero);
        // dP^T = V_h dC_h^T.
        for (Index i = 0; i < L; ++i) {
          for (Index c = 0; c < dh; ++c) work.transposed(c, i) = dc[i * d + c];
        }
        work.transposed.rightCols(padded - L).setZero();
        kernels::gemm<T>(L, padded, dh, v, ld, 1, work.transposed.data(), padded, dst, padded, GemmStart::zero);
        // Softmax backward with the 1/sqrt(d_head) folded in: dS = scale * P . (dP - rowsum(dP . P)), transposed.
        kernels::softmax_backward_columns<T>(dst, pt, L, padded, padded, scale);
        // dQ_h = dS K_h, computed as dQ_h^T = K_h^T dS^T (full registers) and
        // transposed into place; dK_h = dS^T Q_h.
        kernels::gemm<T>(dh, padded, L, k, 1, ld, dst, padded, work.transposed.data(), padded, GemmStart::zero);
        for (Index i = 0; i < L; ++i) {
          for (Index c = 0; c < dh; ++c) dq[i * ld + c] = work.transposed(c, i);
        }
        kernels::gemm<T>(L, dh, L, dst, padded, 1, q, ld, dk, ld, GemmStart::zero);
      }
    }
    input_projection.backward(X, work.d_qkv, gradient.input_projection, &dX, &work.weight_scratch);
  }

 private:
  static Index padded_length(Index L) { return (L + 15) / 16 * 16; }

  Index heads_ = 1;
};

}  // namespace redflag::nn
