#include <redflag/core/random.hpp>
#include <redflag/nn/adam.hpp>
#include <redflag/nn/transformer_network.hpp>
#include <redflag/nn/window_batches.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <numeric>
#include <span>
#include <vector>

#include "gradient_check.hpp"

using redflag::Index;
using redflag::Matrix;
using redflag::Random;
using namespace redflag::nn;
using namespace redflag::test::nn;

static_assert(Module<TransformerNetwork<double>>);
static_assert(Module<TransformerNetwork<float>>);

namespace {

constexpr TransformerShape tiny{
    .features = 2, .window = 4, .d_model = 4, .heads = 2, .encoder_layers = 2, .decoder_layers = 1, .ffn = 6};

template <class Layer>
bool bitwise_equal(const Layer& a, const Layer& b) {
  bool equal = true;
  visit_parameters(
      [&](const auto& x, const auto& y) {
        equal = equal && x.rows() == y.rows() && x.cols() == y.cols() &&
                std::memcmp(x.data(), y.data(), sizeof(*x.data()) * static_cast<std::size_t>(x.size())) == 0;
      },
      a, b);
  return equal;
}

}  // namespace

TEST_CASE("TransformerNetwork: the whole stack's MSE gradient matches finite differences") {
  Random random(17);
  TransformerNetwork<double> network(tiny, random);
  // Perturb the layer norms away from (1, 0) so their gradients are tested in general position.
  visit_parameters([&](Matrix<double>& m) { m.array() += 0.1 * random_matrix(m.rows(), m.cols(), 18).array(); },
                   network);
  const Matrix<double> X = random_matrix(3 * tiny.window, tiny.features, 19);
  TransformerNetwork<double>::Workspace work;
  Matrix<double> Y, dY;
  network.forward(X, work, Y);
  CHECK(Y.rows() == X.rows());
  CHECK(Y.cols() == X.cols());
  const double loss_value = mse_loss<double>(Y, X, dY);
  CHECK(loss_value == doctest::Approx((Y - X).squaredNorm() / static_cast<double>(X.size())));
  TransformerNetwork<double> gradient = zeros_like(network);
  network.backward(X, dY, work, gradient);

  // The embedding is the first layer, so backward computes no input
  // gradient; every parameter's is compared.
  const std::vector<double> errors = parameter_errors(network, gradient, [&](const TransformerNetwork<double>& n) {
    TransformerNetwork<double>::Workspace w;
    Matrix<double> y, g;
    n.forward(X, w, y);
    return mse_loss<double>(y, X, g);
  });
  CHECK(errors.size() == 2 + 3 * 12 + 2);
  for (std::size_t k = 0; k < errors.size(); ++k) {
    INFO("parameter matrix " << k);
    CHECK(errors[k] < 1e-6);
  }
}

TEST_CASE("TransformerNetwork: same seed, same weights bit for bit; training is reproducible") {
  Random a(99), b(99), c(100);
  const TransformerNetwork<float> first(tiny, a), second(tiny, b), other(tiny, c);
  CHECK(bitwise_equal(first, second));
  CHECK_FALSE(bitwise_equal(first, other));

  const auto train = [&](TransformerNetwork<float> network) {
    const Matrix<float> X = random_matrix(2 * tiny.window, tiny.features, 5).cast<float>();
    Adam<TransformerNetwork<float>> adam(network, {.learning_rate = 0.01, .clip_norm = 1.0});
    TransformerNetwork<float> gradient = zeros_like(network);
    TransformerNetwork<float>::Workspace work;
    Matrix<float> Y, dY;
    float first_loss = 0, last_loss = 0;
    for (int step = 0; step < 20; ++step) {
      network.forward(X, work, Y);
      last_loss = mse_loss<float>(Y, X, dY);
      if (step == 0) first_loss = last_loss;
      set_zero(gradient);
      network.backward(X, dY, work, gradient);
      adam.step(network, gradient);
    }
    CHECK(last_loss < first_loss);
    return network;
  };
  CHECK(bitwise_equal(train(first), train(second)));
}

TEST_CASE("TransformerNetwork rejects inputs of the wrong shape") {
  Random random(1);
  const TransformerNetwork<double> network(tiny, random);
  TransformerNetwork<double>::Workspace work;
  Matrix<double> Y;
  CHECK_THROWS_WITH_AS(network.forward(Matrix<double>::Zero(6, 2), work, Y),
                       doctest::Contains("X must have 2 columns and a multiple of 4 rows, got 6 x 2"),
                       redflag::invalid_argument);
  CHECK_THROWS_AS(network.forward(Matrix<double>::Zero(4, 3), work, Y), redflag::invalid_argument);
  TransformerShape bad = tiny;
  bad.heads = 3;
  CHECK_THROWS_AS(TransformerNetwork<double>(bad, random), redflag::invalid_argument);
}

TEST_CASE("WindowBatches: the batch's MSE gradient and errors, the same for any n_jobs and on every run") {
  Random random(23);
  const TransformerNetwork<double> network(tiny, random);
  const Index cells = tiny.window * tiny.features;
  const Matrix<double> windows = random_matrix(9, cells, 24);
  // Seven windows, in shuffled order: a group of four and a group of three.
  const std::vector<Index> batch{8, 2, 5, 0, 7, 3, 6};
  WindowBatches<double> batches(network, 8, true);
  TransformerNetwork<double> gradient = zeros_like(network), threaded = zeros_like(network),
                             again = zeros_like(network);
  std::vector<double> errors(batch.size()), threaded_errors(batch.size());
  const double total = batches.run(network, windows, batch, 1, &gradient, errors);
  CHECK(batches.run(network, windows, batch, 3, &threaded, threaded_errors) == total);
  CHECK(bitwise_equal(gradient, threaded));
  CHECK(errors == threaded_errors);
  batches.run(network, windows, batch, 1, &again);
  CHECK(bitwise_equal(gradient, again));

  // Reference: each window through the network on its own, its MSE
  // gradient scaled to the batch's share and summed.
  TransformerNetwork<double> expected = zeros_like(network);
  TransformerNetwork<double>::Workspace work;
  double expected_total = 0.0;
  for (std::size_t k = 0; k < batch.size(); ++k) {
    const Matrix<double> X = Eigen::Map<const Matrix<double>>(windows.row(batch[k]).data(), tiny.window, tiny.features);
    Matrix<double> Y, dY;
    network.forward(X, work, Y);
    const double mse = mse_loss<double>(Y, X, dY);
    CHECK(errors[k] == doctest::Approx(mse).epsilon(1e-12));
    expected_total += mse * static_cast<double>(cells);
    dY /= static_cast<double>(batch.size());
    network.backward(X, dY, work, expected);
  }
  CHECK(total == doctest::Approx(expected_total).epsilon(1e-12));
  visit_parameters([](const Matrix<double>& got,
                      const Matrix<double>& want) { CHECK((got - want).norm() <= 1e-12 * (1.0 + want.norm())); },
                   gradient, expected);

  // Scoring needs no gradient and gives the same errors.
  WindowBatches<double> scoring(network, 8, false);
  std::vector<double> scores(batch.size());
  CHECK(scoring.run(network, windows, batch, 2, nullptr, scores) == total);
  CHECK(scores == errors);
  CHECK_THROWS_WITH_AS(scoring.run(network, windows, batch, 1, &gradient), doctest::Contains("without gradients"),
                       redflag::invalid_argument);
  const std::vector<Index> too_many(9, 0);
  CHECK_THROWS_WITH_AS(batches.run(network, windows, too_many, 1, &gradient),
                       doctest::Contains("got 9 windows, more than the batch size 8"), redflag::invalid_argument);
}
