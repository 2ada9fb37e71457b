#pragma once

// Central finite-difference checks of the nn layers' backward passes. The
// loss is L(X, params) = sum(forward(X) .* R) for a fixed random R, so its
// gradient with respect to the output is exactly R.

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>
#include <redflag/nn/module.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace redflag::test::nn {

using redflag::Index;
using redflag::Matrix;

inline Matrix<double> random_matrix(Index rows, Index cols, std::uint64_t seed, double scale = 1.0) {
  redflag::Random random(seed);
  Matrix<double> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = random.normal<double>(0.0, scale);
  return m;
}

// ||analytic - numeric|| / max(||analytic||, ||numeric||). Both below 1e-8
// counts as agreement on zero: some gradients vanish identically (the key
// bias of attention: softmax ignores a constant added to a row of scores).
inline double relative_error(const Matrix<double>& analytic, const Matrix<double>& numeric) {
  const double scale = std::max(analytic.norm(), numeric.norm());
  if (scale < 1e-8) return 0.0;
  return (analytic - numeric).norm() / scale;
}

struct GradientReport {
  std::vector<double> parameter_errors;  // one per parameter matrix, in visit order
  double input_error = 0.0;

  [[nodiscard]] double worst() const {
    double worst = input_error;
    for (const double e : parameter_errors) worst = std::max(worst, e);
    return worst;
  }
};

// Central difference of loss() with respect to every cell of `cells`.
template <class Loss>
Matrix<double> numeric_gradient(Matrix<double>& cells, const Loss& loss, double step) {
  Matrix<double> numeric(cells.rows(), cells.cols());
  for (Index i = 0; i < cells.size(); ++i) {
    const double saved = cells.data()[i];
    cells.data()[i] = saved + step;
    const double up = loss();
    cells.data()[i] = saved - step;
    const double down = loss();
    cells.data()[i] = saved;
    numeric.data()[i] = (up - down) / (2 * step);
  }
  return numeric;
}

// Relative error of each analytic parameter gradient in `gradient` (visit
// order) against loss(layer)'s finite differences.
template <class Layer, class Loss>
std::vector<double> parameter_errors(Layer layer, const Layer& gradient, const Loss& loss, double step = 1e-5) {
  std::vector<Matrix<double>*> values;
  std::vector<const Matrix<double>*> analytic;
  redflag::nn::visit_parameters(
      [&](Matrix<double>& value, const Matrix<double>& grad) {
        values.push_back(&value);
        analytic.push_back(&grad);
      },
      layer, gradient);
  std::vector<double> errors;
  for (std::size_t k = 0; k < values.size(); ++k) {
    errors.push_back(relative_error(*analytic[k], numeric_gradient(
                                                      *values[k], [&] { return loss(layer); }, step)));
  }
  return errors;
}

// loss(layer, X) -> double; `gradient` and `d_input` are the analytic
// gradients of that loss for `layer` at X.
template <class Layer, class Loss>
GradientReport check_gradients(const Layer& layer, Matrix<double> X, const Layer& gradient,
                               const Matrix<double>& d_input, const Loss& loss, double step = 1e-5) {
  GradientReport report;
  report.parameter_errors = parameter_errors(
      layer, gradient, [&](const Layer& l) { return loss(l, X); }, step);
  report.input_error = relative_error(d_input, numeric_gradient(
                                                   X, [&] { return loss(layer, X); }, step));
  return report;
}

}  // namespace redflag::test::nn
