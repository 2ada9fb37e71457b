#include <redflag/core/random.hpp>
#include <redflag/nn/feed_forward.hpp>
#include <redflag/nn/layer_norm.hpp>
#include <redflag/nn/linear.hpp>
#include <redflag/nn/multi_head_attention.hpp>
#include <redflag/nn/positional_encoding.hpp>
#include <redflag/nn/transformer_block.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include "gradient_check.hpp"

using redflag::Index;
using redflag::Matrix;
using redflag::Random;
using namespace redflag::nn;
using namespace redflag::test::nn;

static_assert(Module<Linear<double>>);
static_assert(Module<LayerNorm<float>>);
static_assert(Module<MultiHeadAttention<double>>);
static_assert(Module<FeedForward<float>>);
static_assert(Module<TransformerBlock<double>>);

namespace {

constexpr double tolerance = 1e-6;

void check_report(const GradientReport& report) {
  for (std::size_t k = 0; k < report.parameter_errors.size(); ++k) {
    INFO("parameter matrix " << k);
    CHECK(report.parameter_errors[k] < tolerance);
  }
  CHECK(report.input_error < tolerance);
}

}  // namespace

TEST_CASE("Linear forward is X W + b and its backward matches finite differences") {
  Random random(7);
  const Linear<double> layer(3, 4, random);
  const Matrix<double> X = random_matrix(5, 3, 1);
  const Matrix<double> R = random_matrix(5, 4, 2);
  Matrix<double> Y;
  layer.forward(X, Y);
  CHECK((Y - ((X * layer.weight).rowwise() + layer.bias.row(0))).norm() < 1e-14);
  CHECK(layer.weight.cwiseAbs().maxCoeff() <= 1 / std::sqrt(3.0));

  Linear<double> gradient = zeros_like(layer);
  Matrix<double> dX;
  layer.backward(X, R, gradient, &dX);
  const auto loss = [&](const Linear<double>& l, const Matrix<double>& x) {
    Matrix<double> y;
    l.forward(x, y);
    return (y.array() * R.array()).sum();
  };
  check_report(check_gradients(layer, X, gradient, dX, loss));

  SUBCASE("backward accumulates into the gradient") {
    Linear<double> twice = gradient;
    layer.backward(X, R, twice, nullptr);
    CHECK((twice.weight - 2 * gradient.weight).norm() < 1e-12);
    CHECK((twice.bias - 2 * gradient.bias).norm() < 1e-12);
  }
}

TEST_CASE("Linear's products at sizes beyond every register tile match Eigen's") {
  // More inputs, outputs and rows than a tile of any SIMD path covers, none
  // a multiple of a register's width, so every tile and tail shape is used.
  Random random(8);
  const Linear<double> layer(130, 70, random);
  const Matrix<double> X = random_matrix(150, 130, 9);
  const Matrix<double> R = random_matrix(150, 70, 10);
  Matrix<double> Y, dX;
  layer.forward(X, Y);
  const Matrix<double> expected = (X * layer.weight).rowwise() + layer.bias.row(0);
  CHECK((Y - expected).norm() < 1e-12 * expected.norm());
  Linear<double> gradient = zeros_like(layer);
  layer.backward(X, R, gradient, &dX);
  const Matrix<double> weight_gradient = X.transpose() * R;
  const Matrix<double> input_gradient = R * layer.weight.transpose();
  CHECK((gradient.weight - weight_gradient).norm() < 1e-12 * weight_gradient.norm());
  CHECK((gradient.bias - R.colwise().sum()).norm() < 1e-12 * gradient.bias.norm());
  CHECK((dX - input_gradient).norm() < 1e-12 * input_gradient.norm());
}

TEST_CASE("LayerNorm normalises rows and its backward matches finite differences") {
  LayerNorm<double> layer(6);
  // Non-trivial gamma and beta so their gradients and their effect on dX are exercised.
  layer.gamma = random_matrix(1, 6, 3);
  layer.beta = random_matrix(1, 6, 4);
  const Matrix<double> X = random_matrix(4, 6, 5, 3.0);
  const Matrix<double> R = random_matrix(4, 6, 6);
  LayerNorm<double>::Workspace work;
  Matrix<double> Y;
  layer.forward(X, work, Y);
  for (Index r = 0; r < 4; ++r) {
    CHECK(std::abs(work.normalized.row(r).mean()) < 1e-12);
    // Not exactly 1: epsilon = 1e-5 is added to the variance.
    CHECK(work.normalized.row(r).squaredNorm() / 6 == doctest::Approx(1.0).epsilon(1e-4));
  }
  LayerNorm<double> gradient = zeros_like(layer);
  Matrix<double> dX;
  layer.backward(R, work, gradient, dX);
  const auto loss = [&](const LayerNorm<double>& l, const Matrix<double>& x) {
    LayerNorm<double>::Workspace w;
    Matrix<double> y;
    l.forward(x, w, y);
    return (y.array() * R.array()).sum();
  };
  check_report(check_gradients(layer, X, gradient, dX, loss));
}

TEST_CASE("MultiHeadAttention matches a direct computation and finite differences") {
  // L = 5 is not a multiple of the 16-column padding of the probabilities.
  constexpr Index L = 5, d = 6, heads = 3, sequences = 2;
  Random random(11);
  const MultiHeadAttention<double> layer(d, heads, random);
  const Matrix<double> X = random_matrix(sequences * L, d, 12);
  const Matrix<double> R = random_matrix(sequences * L, d, 13);
  MultiHeadAttention<double>::Workspace work;
  Matrix<double> Y;
  layer.forward(X, L, work, Y);

  SUBCASE("forward agrees with the textbook formula, sequences kept apart") {
    const Index dh = d / heads;
    Matrix<double> context(sequences * L, d);
    for (Index s = 0; s < sequences; ++s) {
      const Matrix<double> x = X.middleRows(s * L, L);
      const Matrix<double> qkv = (x * layer.input_projection.weight).rowwise() + layer.input_projection.bias.row(0);
      for (Index h = 0; h < heads; ++h) {
        const Matrix<double> scores = qkv.block(0, h * dh, L, dh) * qkv.block(0, d + h * dh, L, dh).transpose() /
                                      std::sqrt(static_cast<double>(dh));
        Matrix<double> p = scores.array().exp();
        for (Index i = 0; i < L; ++i) p.row(i) /= p.row(i).sum();
        context.block(s * L, h * dh, L, dh) = p * qkv.block(0, 2 * d + h * dh, L, dh);
      }
    }
    const Matrix<double> expected =
        (context * layer.output_projection.weight).rowwise() + layer.output_projection.bias.row(0);
    CHECK((Y - expected).norm() < 1e-12);
  }

  MultiHeadAttention<double> gradient = zeros_like(layer);
  Matrix<double> dX;
  layer.backward(X, R, L, work, gradient, dX);
  const auto loss = [&](const MultiHeadAttention<double>& l, const Matrix<double>& x) {
    MultiHeadAttention<double>::Workspace w;
    Matrix<double> y;
    l.forward(x, L, w, y);
    return (y.array() * R.array()).sum();
  };
  check_report(check_gradients(layer, X, gradient, dX, loss));
}

TEST_CASE("MultiHeadAttention rejects d_model not divisible by heads") {
  Random random(1);
  CHECK_THROWS_AS(MultiHeadAttention<float>(6, 4, random), redflag::invalid_argument);
  CHECK_THROWS_WITH(MultiHeadAttention<float>(6, 4, random),
                    doctest::Contains("d_model must be a positive multiple of heads, got d_model = 6, heads = 4"));
  CHECK_THROWS_AS(MultiHeadAttention<float>(6, 0, random), redflag::invalid_argument);
}

TEST_CASE("FeedForward backward matches finite differences") {
  Random random(21);
  const FeedForward<double> layer(4, 7, random);
  const Matrix<double> X = random_matrix(6, 4, 22);
  const Matrix<double> R = random_matrix(6, 4, 23);
  FeedForward<double>::Workspace work;
  Matrix<double> Y;
  layer.forward(X, work, Y);
  // Both ReLU regimes occur, so the mask is exercised.
  CHECK((work.hidden.array() == 0).count() > 0);
  CHECK((work.hidden.array() > 0).count() > 0);
  FeedForward<double> gradient = zeros_like(layer);
  Matrix<double> dX;
  layer.backward(X, R, work, gradient, &dX);
  const auto loss = [&](const FeedForward<double>& l, const Matrix<double>& x) {
    FeedForward<double>::Workspace w;
    Matrix<double> y;
    l.forward(x, w, y);
    return (y.array() * R.array()).sum();
  };
  check_report(check_gradients(layer, X, gradient, dX, loss));
}

TEST_CASE("PositionalEncoding is the sinusoidal table, added per sequence") {
  const PositionalEncoding<double> encoding(10, 6);
  CHECK(encoding.table()(0, 0) == 0.0);
  CHECK(encoding.table()(0, 1) == 1.0);
  CHECK(encoding.table()(3, 2) == doctest::Approx(std::sin(3.0 / std::pow(10000.0, 2.0 / 6))).epsilon(1e-15));
  CHECK(encoding.table()(7, 5) == doctest::Approx(std::cos(7.0 / std::pow(10000.0, 4.0 / 6))).epsilon(1e-15));
  Matrix<double> X = Matrix<double>::Zero(8, 6);
  encoding.add_to(X, 4);
  CHECK(X.topRows(4) == encoding.table().topRows(4));
  CHECK(X.bottomRows(4) == encoding.table().topRows(4));
  CHECK_THROWS_AS(encoding.add_to(X, 11), redflag::invalid_argument);
  const PositionalEncoding<float> single(10, 6);
  CHECK((single.table().cast<double>() - encoding.table()).cwiseAbs().maxCoeff() < 1e-7);
}

TEST_CASE("TransformerBlock backward matches finite differences") {
  constexpr Index L = 4, d = 4, heads = 2, sequences = 2;
  Random random(31);
  TransformerBlock<double> layer(d, heads, 5, random);
  layer.norm1.gamma = 1.0 + 0.3 * random_matrix(1, d, 32).array();
  layer.norm2.beta = random_matrix(1, d, 33);
  const Matrix<double> X = random_matrix(sequences * L, d, 34);
  const Matrix<double> R = random_matrix(sequences * L, d, 35);
  TransformerBlock<double>::Workspace work;
  Matrix<double> Y;
  layer.forward(X, L, work, Y);
  TransformerBlock<double> gradient = zeros_like(layer);
  Matrix<double> dX;
  layer.backward(X, R, L, work, gradient, dX);
  const auto loss = [&](const TransformerBlock<double>& l, const Matrix<double>& x) {
    TransformerBlock<double>::Workspace w;
    Matrix<double> y;
    l.forward(x, L, w, y);
    return (y.array() * R.array()).sum();
  };
  check_report(check_gradients(layer, X, gradient, dX, loss));
}

TEST_CASE("float layers agree with double ones") {
  constexpr Index L = 6, d = 8;
  Random random_double(41), random_float(41);
  const TransformerBlock<double> block_double(d, 2, 16, random_double);
  const TransformerBlock<float> block_float(d, 2, 16, random_float);
  const Matrix<double> X = random_matrix(2 * L, d, 42);
  TransformerBlock<double>::Workspace work_double;
  TransformerBlock<float>::Workspace work_float;
  Matrix<double> Y_double;
  Matrix<float> Y_float;
  block_double.forward(X, L, work_double, Y_double);
  block_float.forward(X.cast<float>(), L, work_float, Y_float);
  CHECK((Y_float.cast<double>() - Y_double).cwiseAbs().maxCoeff() < 1e-4);
}
