#pragma once

// TransformerBlock: one encoder layer in the post-norm arrangement of
// "Attention Is All You Need" (PyTorch's default, norm_first = false):
//
//   H = LayerNorm1(X + SelfAttention(X)),  Y = LayerNorm2(H + FeedForward(H)).
//
// The decoder of an autoencoder reconstructs from the encoder's output alone
// (it has no target sequence to attend from), so its layers are this same
// block applied to the encoder's output.

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/feed_forward.hpp>
#include <redflag/nn/layer_norm.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/nn/multi_head_attention.hpp>

namespace redflag::nn {

template <Scalar T>
class TransformerBlock {
 public:
  using scalar_type = T;

  MultiHeadAttention<T> attention;
  LayerNorm<T> norm1;
  FeedForward<T> feed_forward;
  LayerNorm<T> norm2;

  struct Workspace {
    typename MultiHeadAttention<T>::Workspace attention;
    typename LayerNorm<T>::Workspace norm1;
    typename FeedForward<T>::Workspace feed_forward;
    typename LayerNorm<T>::Workspace norm2;
    Matrix<T> sum1;    // X + attention(X); backward: its gradient
    Matrix<T> hidden;  // H
    Matrix<T> sum2;    // H + feed_forward(H); backward: its gradient
    Matrix<T> scratch;
  };

  TransformerBlock() = default;

  // Parameters drawn in order: attention, feed-forward.
  TransformerBlock(Index d_model, Index heads, Index ffn, Random& random)
      : attention(d_model, heads, random), norm1(d_model), feed_forward(d_model, ffn, random), norm2(d_model) {}

  template <class F, class... Layers>
  static void visit(F&& f, Layers&... layers) {
    MultiHeadAttention<T>::visit(f, layers.attention...);
    LayerNorm<T>::visit(f, layers.norm1...);
    FeedForward<T>::visit(f, layers.feed_forward...);
    LayerNorm<T>::visit(f, layers.norm2...);
  }

  void forward(const MatrixRef<T>& X, Index sequence_length, Workspace& work, Matrix<T>& Y) const {
    attention.forward(X, sequence_length, work.attention, work.sum1);
    work.sum1 += X;
    norm1.forward(work.sum1, work.norm1, work.hidden);
    feed_forward.forward(work.hidden, work.feed_forward, work.sum2);
    work.sum2 += work.hidden;
    norm2.forward(work.sum2, work.norm2, Y);
  }

  // Uses what forward left in `work`; the residual connections add the
  // gradient of each sum to its branch's input gradient.
  void backward(const MatrixRef<T>& X, const MatrixRef<T>& dY, Index sequence_length, Workspace& work,
                TransformerBlock& gradient, Matrix<T>& dX) const {
    norm2.backward(dY, work.norm2, gradient.norm2, work.sum2);
    feed_forward.backward(work.hidden, work.sum2, work.feed_forward, gradient.feed_forward, &work.scratch);
    work.scratch += work.sum2;
    norm1.backward(work.scratch, work.norm1, gradient.norm1, work.sum1);
    attention.backward(X, work.sum1, sequence_length, work.attention, gradient.attention, dX);
    dX += work.sum1;
  }
};

}  // namespace redflag::nn
