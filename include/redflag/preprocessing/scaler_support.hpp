#pragma once

// Internals shared by StandardScaler, MinMaxScaler and RobustScaler: the
// per-element kernels, input checks, and the checks applied to a scaler read
// from a model file. Nothing here is API.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace redflag {

namespace detail::preprocessing {

// Fitted statistics are double for both scalar types (as scikit-learn keeps
// StandardScaler's), and the kernels compute in double and round the result
// to T once, so float input loses nothing to a rounded mean or scale.

// out(i, j) = (X(i, j) - offset(j)) / divisor(j), row by row over contiguous
// rows. Division rather than multiplication by a reciprocal reproduces
// scikit-learn's `X -= mean_; X /= scale_` to the last bit. Element (i, j) is
// read before it is written, so `out` may be X itself.
template <Scalar T>
void center_and_divide(const MatrixRef<T>& X, const Vector<double>& offset, const Vector<double>& divisor,
                       Eigen::Ref<Matrix<T>> out) {
  const Index cols = X.cols();
  const double* off = offset.data();
  const double* div = divisor.data();
  for (Index i = 0; i < X.rows(); ++i) {
    const T* x = X.row(i).data();
    T* o = out.row(i).data();
    for (Index j = 0; j < cols; ++j) o[j] = static_cast<T>((static_cast<double>(x[j]) - off[j]) / div[j]);
  }
}

// out(i, j) = X(i, j) * factor(j) + offset(j): the inverse of the above.
template <Scalar T>
void multiply_and_add(const MatrixRef<T>& X, const Vector<double>& factor, const Vector<double>& offset,
                      Eigen::Ref<Matrix<T>> out) {
  const Index cols = X.cols();
  const double* fac = factor.data();
  const double* off = offset.data();
  for (Index i = 0; i < X.rows(); ++i) {
    const T* x = X.row(i).data();
    T* o = out.row(i).data();
    for (Index j = 0; j < cols; ++j) o[j] = static_cast<T>(static_cast<double>(x[j]) * fac[j] + off[j]);
  }
}

// transform_into's output must have X's shape.
template <Scalar T>
void require_output_shape(const MatrixRef<T>& X, const Eigen::Ref<Matrix<T>>& out, std::string_view where) {
  if (out.rows() != X.rows() || out.cols() != X.cols()) {
    raise<invalid_argument>(where, "out is " + std::to_string(out.rows()) + " x " + std::to_string(out.cols()) +
                                       ", expected " + std::to_string(X.rows()) + " x " +
                                       std::to_string(X.cols()) + " (the shape of X)");
  }
}

// Shared input checks of every scaler method: rows present, column count as
// the schema says, every value finite.
template <Scalar T>
void require_scaler_input(const MatrixRef<T>& X, const Schema& schema, std::string_view where) {
  require_non_empty(X, where, "X");
  schema.require_columns(X.cols(), where);
  require_finite(X, where, "X");
}

// Fitted statistics must be finite: huge inputs can overflow a sum or a range.
template <class Derived>
void require_finite_statistic(const Eigen::DenseBase<Derived>& values, const Schema& schema,
                              std::string_view where, std::string_view statistic) {
  for (Index j = 0; j < values.size(); ++j) {
    if (!std::isfinite(static_cast<double>(values(j)))) {
      raise<data_error>(where, "the " + std::string(statistic) + " of column " + std::to_string(j) + " ('" +
                                   schema[j].name + "') overflows double precision; rescale the input");
    }
  }
}

// Checks a vector read from a model file: one entry per schema column, each
// finite and, when `positive`, > 0 (or >= 0 when `non_negative`).
inline void require_loaded_vector(const Vector<double>& values, Index expected, std::string_view model,
                                  std::string_view name, bool positive = false, bool non_negative = false) {
  const std::string where = "load: " + std::string(model) + " " + std::string(name);
  if (values.size() != expected) {
    throw serialization_error("redflag::" + where + " has " + std::to_string(values.size()) +
                              " entries, expected " + std::to_string(expected) + " (one per column)");
  }
  for (Index j = 0; j < values.size(); ++j) {
    const double value = values(j);
    const bool ok = std::isfinite(value) && (!positive || value > 0) && (!non_negative || value >= 0);
    if (!ok) {
      throw serialization_error("redflag::" + where + "[" + std::to_string(j) + "] = " +
                                format_number(value) + " is invalid");
    }
  }
}

// A fitted scaler has at least one column; an unfitted one has none.
inline void require_loaded_schema(bool fitted, const Schema& schema, std::string_view model) {
  if (fitted == schema.empty()) {
    throw serialization_error("redflag::load: " + std::string(model) + " is " +
                              (fitted ? "fitted but its schema has no columns"
                                      : "not fitted but its schema has " + std::to_string(schema.size()) +
                                            " columns"));
  }
}

inline void require_loaded_version(std::uint32_t version, std::uint32_t supported, std::string_view model) {
  // cereal passes 0 when a model is archived without redflag's envelope.
  if (version > supported) {
    throw serialization_error("redflag::load: " + std::string(model) + " format version " +
                              std::to_string(version) + " is newer than this build supports (" +
                              std::to_string(supported) + ")");
  }
}

}  // namespace detail::preprocessing

}  // namespace redflag
