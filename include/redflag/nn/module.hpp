#pragma once

// What the layers under redflag/nn have in common. A layer is a value type
// holding its parameters as row-major matrices (a bias is a 1 x n matrix); its
// gradient is another object of the same type, so "a gradient", "Adam's
// moments" and "the best weights so far" are all plain copies of the layer.
//
// Every layer has a static `visit(f, a, b, ...)` that calls f on the matching
// parameter matrices of several objects of its type, always in the same
// order. Optimisers, gradient reduction and serialization are built on it,
// so a composite layer only has to list its parts once.
//
// Activations are matrices of rows = positions (sequence after sequence, each
// `sequence_length` rows long) and columns = features. Forward passes write
// what backward needs into a caller-owned Workspace; the layer itself is
// never written during forward or backward, so threads can share one layer
// and each use their own Workspace and gradient.

#include <redflag/core/random.hpp>
#include <redflag/core/types.hpp>

#include <cmath>
#include <concepts>
#include <type_traits>

namespace redflag::nn {

template <class Layer>
concept Module = requires(Layer& layer) {
  typename std::remove_cvref_t<Layer>::scalar_type;
  std::remove_cvref_t<Layer>::visit([](auto&...) {}, layer);
};

// f(matrix_of_first, matrix_of_second, ...) for every parameter matrix.
template <class F, class First, class... Rest>
void visit_parameters(F&& f, First& first, Rest&... rest) {
  std::remove_cvref_t<First>::visit(f, first, rest...);
}

// A copy of `layer` with every parameter set to zero: a gradient accumulator.
template <Module Layer>
[[nodiscard]] Layer zeros_like(const Layer& layer) {
  Layer zero = layer;
  visit_parameters([](auto& matrix) { matrix.setZero(); }, zero);
  return zero;
}

template <Module Layer>
void set_zero(Layer& layer) {
  visit_parameters([](auto& matrix) { matrix.setZero(); }, layer);
}

// target += source, parameter by parameter (gradient reduction).
template <Module Layer>
void add_to(Layer& target, const Layer& source) {
  visit_parameters([](auto& t, const auto& s) { t += s; }, target, source);
}

template <Module Layer>
[[nodiscard]] Index parameter_count(const Layer& layer) {
  Index count = 0;
  visit_parameters([&](const auto& matrix) { count += matrix.size(); }, layer);
  return count;
}

// Euclidean norm of all parameters taken as one vector, accumulated in a
// fixed order (so it is reproducible) and in double.
template <Module Layer>
[[nodiscard]] double global_norm(const Layer& layer) {
  double sum = 0.0;
  visit_parameters(
      [&](const auto& matrix) {
        for (Index i = 0; i < matrix.size(); ++i) {
          const double value = static_cast<double>(matrix.data()[i]);
          sum += value * value;
        }
      },
      layer);
  return std::sqrt(sum);
}

// True when every parameter is finite.
template <Module Layer>
[[nodiscard]] bool all_parameters_finite(const Layer& layer) {
  bool finite = true;
  visit_parameters([&](const auto& matrix) { finite = finite && matrix.allFinite(); }, layer);
  return finite;
}

namespace detail {

// U(-bound, bound) in every cell, row by row, from one generator.
template <Scalar T>
void fill_uniform(Matrix<T>& matrix, T bound, Random& random) {
  for (Index i = 0; i < matrix.size(); ++i) matrix.data()[i] = random.uniform<T>(-bound, bound);
}

}  // namespace detail
}  // namespace redflag::nn
