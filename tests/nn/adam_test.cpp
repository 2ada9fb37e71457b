#include <redflag/core/random.hpp>
#include <redflag/nn/adam.hpp>
#include <redflag/nn/linear.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "gradient_check.hpp"

using redflag::Index;
using redflag::Matrix;
using redflag::Random;
using namespace redflag::nn;
using namespace redflag::test::nn;

namespace {

// Adam written out cell by cell, for comparison.
struct ReferenceAdam {
  AdamParams p;
  std::vector<double> m, v;
  int t = 0;
  double lr;

  ReferenceAdam(AdamParams params, std::size_t n) : p(params), m(n, 0.0), v(n, 0.0), lr(params.learning_rate) {}

  void step(std::vector<double>& x, std::vector<double> g) {
    double norm = 0;
    for (const double gi : g) norm += gi * gi;
    norm = std::sqrt(norm);
    if (p.clip_norm > 0 && p.clip_norm / (norm + 1e-6) < 1) {
      for (double& gi : g) gi *= p.clip_norm / (norm + 1e-6);
    }
    ++t;
    for (std::size_t i = 0; i < x.size(); ++i) {
      m[i] = p.beta1 * m[i] + (1 - p.beta1) * g[i];
      v[i] = p.beta2 * v[i] + (1 - p.beta2) * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(p.beta1, t));
      const double v_hat = v[i] / (1 - std::pow(p.beta2, t));
      x[i] -= lr * m_hat / (std::sqrt(v_hat) + p.epsilon);
    }
  }
};

std::vector<double> flatten(const Linear<double>& layer) {
  std::vector<double> values;
  visit_parameters([&](const Matrix<double>& m) { values.insert(values.end(), m.data(), m.data() + m.size()); }, layer);
  return values;
}

}  // namespace

TEST_CASE("Adam follows the textbook update, with decay and clipping") {
  for (const double clip : {0.0, 0.5}) {
    CAPTURE(clip);
    const AdamParams params{.learning_rate = 0.01, .decay = 0.5, .clip_norm = clip};
    Random random(3);
    Linear<double> layer(3, 2, random);
    Adam<Linear<double>> adam(layer, params);
    std::vector<double> reference_values = flatten(layer);
    ReferenceAdam reference(params, reference_values.size());
    for (int step = 0; step < 4; ++step) {
      Linear<double> gradient = zeros_like(layer);
      gradient.weight = random_matrix(3, 2, 100 + step, 1.0 + step);
      gradient.bias = random_matrix(1, 2, 200 + step);
      const double norm = adam.step(layer, gradient);
      CHECK(norm == doctest::Approx(global_norm(gradient)));
      reference.step(reference_values, flatten(gradient));
      if (step == 1) {
        adam.end_epoch();
        reference.lr *= params.decay;
      }
      const std::vector<double> values = flatten(layer);
      for (std::size_t i = 0; i < values.size(); ++i) {
        CHECK(values[i] == doctest::Approx(reference_values[i]).epsilon(1e-14));
      }
    }
    CHECK(adam.steps() == 4);
    CHECK(adam.learning_rate() == 0.005);
  }
}

TEST_CASE("Adam clipping bounds the first moment by the clipped gradient") {
  Random random(5);
  Linear<double> layer(2, 1, random);
  Adam<Linear<double>> clipped(layer, {.learning_rate = 0.1, .epsilon = 100.0, .clip_norm = 1.0});
  Adam<Linear<double>> free(layer, {.learning_rate = 0.1, .epsilon = 100.0});
  Linear<double> a = layer, b = layer;
  Linear<double> gradient = zeros_like(layer);
  gradient.weight << 30.0, 40.0;  // norm 50
  CHECK(clipped.step(a, gradient) == 50.0);
  free.step(b, gradient);
  // With a large epsilon the step is nearly proportional to the gradient, so
  // clipping the norm from 50 to 1 shrinks it more than 20-fold.
  const double clipped_step = (a.weight - layer.weight).norm();
  const double free_step = (b.weight - layer.weight).norm();
  CHECK(clipped_step < free_step / 20);
}

TEST_CASE("Adam fits a linear regression") {
  Random random(9);
  Linear<double> truth(4, 2, random);
  Linear<double> model(4, 2, random);
  const Matrix<double> X = random_matrix(64, 4, 10);
  Matrix<double> target, prediction, d_prediction;
  truth.forward(X, target);
  Adam<Linear<double>> adam(model, {.learning_rate = 0.05});
  Linear<double> gradient = zeros_like(model);
  const auto loss = [&] {
    model.forward(X, prediction);
    d_prediction = 2.0 * (prediction - target) / static_cast<double>(target.size());
    return (prediction - target).squaredNorm() / static_cast<double>(target.size());
  };
  const double initial = loss();
  for (int step = 0; step < 300; ++step) {
    loss();
    set_zero(gradient);
    model.backward(X, d_prediction, gradient, nullptr);
    adam.step(model, gradient);
  }
  CHECK(loss() < initial * 1e-4);
}

TEST_CASE("Adam rejects bad parameters") {
  Random random(1);
  const Linear<float> layer(2, 2, random);
  CHECK_THROWS_AS(Adam<Linear<float>>(layer, {.learning_rate = 0}), redflag::invalid_argument);
  CHECK_THROWS_AS(Adam<Linear<float>>(layer, {.beta1 = 1}), redflag::invalid_argument);
  CHECK_THROWS_AS(Adam<Linear<float>>(layer, {.decay = 1.5}), redflag::invalid_argument);
  CHECK_THROWS_WITH(Adam<Linear<float>>(layer, {.clip_norm = -1}), doctest::Contains("clip_norm must be"));
}
