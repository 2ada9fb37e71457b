#pragma once

// TransformerNetwork: the sequence-to-sequence network of a transformer
// autoencoder, built from the nn layers:
//
//   input embedding Linear(features -> d_model) + sinusoidal positions,
//   encoder blocks, decoder blocks (TransformerBlock each),
//   output projection Linear(d_model -> features).
//
// Its input and output are windows laid out as rows = positions (window after
// window) and columns = features.

#include <redflag/core/error.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/linear.hpp>
#include <redflag/nn/module.hpp>
#include <redflag/nn/positional_encoding.hpp>
#include <redflag/nn/transformer_block.hpp>

#include <cstddef>
#include <string>
#include <tuple>
#include <vector>

namespace redflag::nn {

struct TransformerShape {
  Index features = 1;
  Index window = 60;
  Index d_model = 64;
  Index heads = 8;
  Index encoder_layers = 3;
  Index decoder_layers = 3;
  Index ffn = 128;
};

template <Scalar T>
class TransformerNetwork {
 public:
  using scalar_type = T;

  Linear<T> embedding;
  std::vector<TransformerBlock<T>> encoder;
  std::vector<TransformerBlock<T>> decoder;
  Linear<T> output;

  struct Workspace {
    std::vector<typename TransformerBlock<T>::Workspace> blocks;
    std::vector<Matrix<T>> activations;  // activations[k] is the input of block k (encoder then decoder)
    Matrix<T> gradient;                  // backward: gradient of the current block's output
    Matrix<T> gradient_next;             // backward: gradient of its input
    Matrix<T> weight_scratch;            // backward: the output layer's W^T
  };

  TransformerNetwork() = default;

  // Parameters drawn in order: embedding, encoder blocks, decoder blocks, output.
  TransformerNetwork(const TransformerShape& shape, Random& random)
      : embedding(shape.features, shape.d_model, random), positions_(shape.window, shape.d_model) {
    if (shape.encoder_layers < 0 || shape.decoder_layers < 0) {
      redflag::detail::raise<invalid_argument>("nn::TransformerNetwork",
                                               "encoder_layers and decoder_layers must be >= 0, got " +
                                                   std::to_string(shape.encoder_layers) + " and " +
                                                   std::to_string(shape.decoder_layers));
    }
    for (Index i = 0; i < shape.encoder_layers; ++i) {
      encoder.emplace_back(shape.d_model, shape.heads, shape.ffn, random);
    }
    for (Index i = 0; i < shape.decoder_layers; ++i) {
      decoder.emplace_back(shape.d_model, shape.heads, shape.ffn, random);
    }
    output = Linear<T>(shape.d_model, shape.features, random);
  }

  [[nodiscard]] Index features() const noexcept { return embedding.inputs(); }
  [[nodiscard]] Index window() const noexcept { return positions_.max_length(); }
  [[nodiscard]] std::size_t blocks() const noexcept { return encoder.size() + decoder.size(); }

  template <class F, class... Layers>
  static void visit(F&& f, Layers&... layers) {
    Linear<T>::visit(f, layers.embedding...);
    // All objects come from copies of one network, so the first one's block counts hold for all.
    const auto& head = std::get<0>(std::tie(layers...));
    for (std::size_t i = 0; i < head.encoder.size(); ++i) TransformerBlock<T>::visit(f, layers.encoder[i]...);
    for (std::size_t i = 0; i < head.decoder.size(); ++i) TransformerBlock<T>::visit(f, layers.decoder[i]...);
    Linear<T>::visit(f, layers.output...);
  }

  // X: (windows * window) x features. Y: the reconstruction, same shape.
  void forward(const MatrixRef<T>& X, Workspace& work, Matrix<T>& Y) const {
    if (X.cols() != features() || X.rows() % window() != 0) {
      redflag::detail::raise<invalid_argument>(
          "nn::TransformerNetwork::forward",
          "X must have " + std::to_string(features()) + " columns and a multiple of " + std::to_string(window()) +
              " rows, got " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()));
    }
    const std::size_t n_blocks = blocks();
    work.blocks.resize(n_blocks);
    work.activations.resize(n_blocks + 1);
    embedding.forward(X, work.activations[0]);
    positions_.add_to(work.activations[0], window());
    for (std::size_t k = 0; k < n_blocks; ++k) {
      block(k).forward(work.activations[k], window(), work.blocks[k], work.activations[k + 1]);
    }
    output.forward(work.activations[n_blocks], Y);
  }

  // Adds to `gradient` the gradient of a loss whose gradient with respect to
  // the output is dY, after forward(X, work, ...) on the same X.
  void backward(const MatrixRef<T>& X, const MatrixRef<T>& dY, Workspace& work, TransformerNetwork& gradient) const {
    const std::size_t n_blocks = blocks();
    output.backward(work.activations[n_blocks], dY, gradient.output, &work.gradient, &work.weight_scratch);
    for (std::size_t k = n_blocks; k-- > 0;) {
      block(k).backward(work.activations[k], work.gradient, window(), work.blocks[k], gradient.block(k),
                        work.gradient_next);
      work.gradient.swap(work.gradient_next);
    }
    // Positions are a constant: the embedding's output gradient is the sum's.
    embedding.backward(X, work.gradient, gradient.embedding, nullptr);
  }

 private:
  [[nodiscard]] const TransformerBlock<T>& block(std::size_t k) const {
    return k < encoder.size() ? encoder[k] : decoder[k - encoder.size()];
  }
  [[nodiscard]] TransformerBlock<T>& block(std::size_t k) {
    return k < encoder.size() ? encoder[k] : decoder[k - encoder.size()];
  }

  PositionalEncoding<T> positions_;
};

// Mean squared error of `reconstruction` against `target` over every cell,
// and its gradient 2 (reconstruction - target) / cells into `gradient`.
template <Scalar T>
T mse_loss(const MatrixRef<T>& reconstruction, const MatrixRef<T>& target, Matrix<T>& gradient) {
  const T inverse_cells = T(1) / static_cast<T>(target.size());
  gradient.resize(target.rows(), target.cols());
  gradient = reconstruction - target;
  const T loss = gradient.squaredNorm() * inverse_cells;
  gradient *= T(2) * inverse_cells;
  return loss;
}

}  // namespace redflag::nn
