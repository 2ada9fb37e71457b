#pragma once

// Sinusoidal positional encoding ("Attention Is All You Need", section 3.5):
//
//   PE(pos, 2i) = sin(pos / 10000^(2i / d_model)),
//   PE(pos, 2i + 1) = cos(pos / 10000^(2i / d_model)).
//
// It has no parameters and adds a fixed table, so its backward pass is the
// identity: the gradient flows through unchanged.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>

#include <cmath>
#include <string>

namespace redflag::nn {

template <Scalar T>
class PositionalEncoding {
 public:
  PositionalEncoding() = default;

  // Computed in double and rounded once, so float and double tables agree
  // to float precision.
  PositionalEncoding(Index max_length, Index d_model) : table_(max_length, d_model) {
    if (max_length < 1 || d_model < 1) {
      redflag::detail::raise<invalid_argument>(
          "nn::PositionalEncoding",
          "max_length and d_model must be >= 1, got " + std::to_string(max_length) + " and " + std::to_string(d_model));
    }
    for (Index pos = 0; pos < max_length; ++pos) {
      for (Index col = 0; col < d_model; ++col) {
        const double exponent = static_cast<double>(col - col % 2) / static_cast<double>(d_model);
        const double angle = static_cast<double>(pos) / std::pow(10000.0, exponent);
        table_(pos, col) = static_cast<T>(col % 2 == 0 ? std::sin(angle) : std::cos(angle));
      }
    }
  }

  [[nodiscard]] const Matrix<T>& table() const noexcept { return table_; }
  [[nodiscard]] Index max_length() const noexcept { return table_.rows(); }

  // Adds the encoding of positions 0 .. sequence_length - 1 to every sequence
  // of X (X.rows() / sequence_length sequences one after another).
  void add_to(Matrix<T>& X, Index sequence_length) const {
    if (sequence_length > max_length() || X.cols() != table_.cols()) {
      redflag::detail::raise<invalid_argument>(
          "nn::PositionalEncoding::add_to", "needs sequences of at most " + std::to_string(max_length()) +
                                                " positions and " + std::to_string(table_.cols()) + " columns, got " +
                                                std::to_string(sequence_length) + " and " + std::to_string(X.cols()));
    }
    for (Index start = 0; start + sequence_length <= X.rows(); start += sequence_length) {
      X.middleRows(start, sequence_length) += table_.topRows(sequence_length);
    }
  }

 private:
  Matrix<T> table_;
};

}  // namespace redflag::nn
