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
  // reduction down a column: element-wise maxima and sums of whole rows,
  // packet by packet, with no horizontal reduction per query (row-wise, the
  // serial max, sum and scalar exp tail were most of the forward pass at
  // L = 60). The columns are padded to a multiple of 16, a whole number of
  // packets for every SIMD width; the padding columns hold finite values
  // that no result depends on.
  struct Workspace {
    Matrix<T> qkv;            // rows x 3 d_model
    Matrix<T> probabilities;  // (sequences * heads * L) x padded L: block (s, h), at row (s * heads + h) * L, is P^T
    Matrix<T> context;        // rows x d_model, heads side by side
    Eigen::Array<T, 1, Eigen::Dynamic> column_scratch;  // padded L: per-query maxima; backward: dots
    Eigen::Array<T, 1, Eigen::Dynamic> column_sums;     // padded L: per-query sums of exponentials
    Matrix<T> d_context;                                // backward: rows x d_model
    Matrix<T> d_qkv;                                    // backward: rows x 3 d_model
    Matrix<T> d_scores;                                 // backward: L x padded L, dP^T then dS^T of one head
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
    const Index L = sequence_length;
    const Index sequences = X.rows() / L;
    const Index d = d_model();
    const Index dh = d / heads_;
    const Index padded = padded_length(L);
    const T scale = T(1) / std::sqrt(static_cast<T>(dh));
    input_projection.forward(X, work.qkv);
    // Zeroed when (re)shaped, so the padding columns, which products never write, hold finite values.
    if (work.probabilities.rows() != sequences * heads_ * L || work.probabilities.cols() != padded) {
      work.probabilities.setZero(sequences * heads_ * L, padded);
    }
    work.column_scratch.resize(padded);
    work.context.resize(X.rows(), d);
    for (Index s = 0; s < sequences; ++s) {
      for (Index h = 0; h < heads_; ++h) {
        const auto q = work.qkv.block(s * L, h * dh, L, dh);
        const auto k = work.qkv.block(s * L, d + h * dh, L, dh);
        const auto v = work.qkv.block(s * L, 2 * d + h * dh, L, dh);
        auto pt = work.probabilities.middleRows((s * heads_ + h) * L, L);
        // Scores transposed: S^T = K Q^T, then the softmax of each column.
        pt.leftCols(L).noalias() = k * q.transpose();
        auto& max = work.column_scratch;
        max = pt.row(0).array();
        for (Index j = 1; j < L; ++j) max = max.max(pt.row(j).array());
        auto& sum = work.column_sums;
        sum.setZero(padded);
        for (Index j = 0; j < L; ++j) {
          pt.row(j).array() = ((pt.row(j).array() - max) * scale).exp();
          sum += pt.row(j).array();
        }
        sum = sum.inverse();
        for (Index j = 0; j < L; ++j) pt.row(j).array() *= sum;
        work.context.block(s * L, h * dh, L, dh).noalias() = pt.leftCols(L).transpose() * v;
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
    const Index padded = padded_length(L);
    const T scale = T(1) / std::sqrt(static_cast<T>(dh));
    output_projection.backward(work.context, dY, gradient.output_projection, &work.d_context);
    work.d_qkv.resize(X.rows(), 3 * d);
    // Zeroed when (re)shaped: products write the first L columns only.
    if (work.d_scores.rows() != L || work.d_scores.cols() != padded) work.d_scores.setZero(L, padded);
    auto dst = work.d_scores.leftCols(L);
    for (Index s = 0; s < sequences; ++s) {
      for (Index h = 0; h < heads_; ++h) {
        const auto q = work.qkv.block(s * L, h * dh, L, dh);
        const auto k = work.qkv.block(s * L, d + h * dh, L, dh);
        const auto v = work.qkv.block(s * L, 2 * d + h * dh, L, dh);
        const auto pt = work.probabilities.middleRows((s * heads_ + h) * L, L);
        const auto dc = work.d_context.block(s * L, h * dh, L, dh);
        work.d_qkv.block(s * L, 2 * d + h * dh, L, dh).noalias() = pt.leftCols(L) * dc;
        dst.noalias() = v * dc.transpose();
        // Softmax backward, with the 1/sqrt(d_head) folded in, column by column:
        // dS = scale * P . (dP - rowsum(dP . P)), here transposed.
        auto& dot = work.column_scratch;
        dot = work.d_scores.row(0).array() * pt.row(0).array();
        for (Index j = 1; j < L; ++j) dot += work.d_scores.row(j).array() * pt.row(j).array();
        for (Index j = 0; j < L; ++j) {
          work.d_scores.row(j).array() = scale * pt.row(j).array() * (work.d_scores.row(j).array() - dot);
        }
        work.d_qkv.block(s * L, h * dh, L, dh).noalias() = dst.transpose() * k;
        work.d_qkv.block(s * L, d + h * dh, L, dh).noalias() = dst * q;
      }
    }
    input_projection.backward(X, work.d_qkv, gradient.input_projection, &dX);
  }

 private:
  static Index padded_length(Index L) { return (L + 15) / 16 * 16; }

  Index heads_ = 1;
};

}  // namespace redflag::nn
