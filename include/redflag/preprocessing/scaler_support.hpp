#pragma once

// Internals shared by StandardScaler, MinMaxScaler and RobustScaler: the
// per-element kernels, input checks, the checks applied to a scaler read from
// a model file, and ColumnScaler, the public surface the three have in
// common. Nothing here is API except what ColumnScaler passes on.

#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace redflag {

namespace detail::preprocessing {

// Fitted statistics are double for both scalar types (as scikit-learn keeps
// StandardScaler's), and the kernels compute in double and round the result
// to T once, so float input loses nothing to a rounded mean or scale.

// out(i, j) = op(X(i, j), j), computed in double and rounded once to T, row by
// row over contiguous rows. Element (i, j) is read before it is written, so
// `out` may be X itself.
template <Scalar T, class Op>
void map_elements(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out, Op op) {
  const Index cols = X.cols();
  for (Index i = 0; i < X.rows(); ++i) {
    const T* x = X.row(i).data();
    T* o = out.row(i).data();
    for (Index j = 0; j < cols; ++j) o[j] = static_cast<T>(op(static_cast<double>(x[j]), j));
  }
}

// out(i, j) = (X(i, j) - offset(j)) / divisor(j). Division rather than
// multiplication by a reciprocal reproduces scikit-learn's
// `X -= mean_; X /= scale_` to the last bit.
template <Scalar T>
void center_and_divide(const MatrixRef<T>& X, const Vector<double>& offset, const Vector<double>& divisor,
                       Eigen::Ref<Matrix<T>> out) {
  const double* off = offset.data();
  const double* div = divisor.data();
  map_elements<T>(X, out, [off, div](double x, Index j) { return (x - off[j]) / div[j]; });
}

// out(i, j) = X(i, j) * factor(j) + offset(j): the inverse of the above.
template <Scalar T>
void multiply_and_add(const MatrixRef<T>& X, const Vector<double>& factor, const Vector<double>& offset,
                      Eigen::Ref<Matrix<T>> out) {
  const double* fac = factor.data();
  const double* off = offset.data();
  map_elements<T>(X, out, [fac, off](double x, Index j) { return x * fac[j] + off[j]; });
}

// transform_into's output must have X's shape.
template <Scalar T>
void require_output_shape(const MatrixRef<T>& X, const Eigen::Ref<Matrix<T>>& out, std::string_view where) {
  if (out.rows() != X.rows() || out.cols() != X.cols()) {
    raise<invalid_argument>(where, "out is " + std::to_string(out.rows()) + " x " + std::to_string(out.cols()) +
                                       ", expected " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) +
                                       " (the shape of X)");
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
void require_finite_statistic(const Eigen::DenseBase<Derived>& values, const Schema& schema, std::string_view where,
                              std::string_view statistic) {
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
    throw serialization_error("redflag::" + where + " has " + std::to_string(values.size()) + " entries, expected " +
                              std::to_string(expected) + " (one per column)");
  }
  for (Index j = 0; j < values.size(); ++j) {
    const double value = values(j);
    const bool ok = std::isfinite(value) && (!positive || value > 0) && (!non_negative || value >= 0);
    if (!ok) {
      throw serialization_error("redflag::" + where + "[" + std::to_string(j) + "] = " + format_number(value) +
                                " is invalid");
    }
  }
}

// A fitted scaler has at least one column; an unfitted one has none.
inline void require_loaded_schema(bool fitted, const Schema& schema, std::string_view model) {
  if (fitted == schema.empty()) {
    throw serialization_error("redflag::load: " + std::string(model) + " is " +
                              (fitted ? "fitted but its schema has no columns"
                                      : "not fitted but its schema has " + std::to_string(schema.size()) + " columns"));
  }
}

// "<Component>::<method>" built at compile time, so a method can name itself
// in its messages without allocating.
class MethodName {
 public:
  consteval MethodName(std::string_view component, std::string_view method) {
    append(component);
    append("::");
    append(method);
  }
  constexpr operator std::string_view() const { return {chars_.data(), size_}; }

 private:
  consteval void append(std::string_view text) {
    if (text.size() > chars_.size() - size_) throw std::length_error("MethodName: name too long");
    for (const char c : text) chars_[size_++] = c;
  }

  std::array<char, 64> chars_{};
  std::size_t size_ = 0;
};

// What StandardScaler, MinMaxScaler and RobustScaler have in common: the
// fitted state every scaler keeps (sample count and schema), the checked
// transform / inverse_transform entry points, the accessors, and the
// load-into-a-temporary-then-validate serialization. Derived provides:
//   static constexpr model_type, format_version; a params_ member;
//   fit(X, schema), which ends with record_fit(rows, schema);
//   apply(X, out) and invert(X, out): the forward and inverse kernels on
//     validated input (`out` has X's shape and may be X itself);
//   fields(archive, n_samples, schema): every field in file order;
//   validate_loaded(): checks its statistics after a load (params and schema
//     are checked before it is called);
//   Params::validate(where), rechecked on load.
// Derived befriends ColumnScaler so these can stay private.
template <class Derived, Scalar T>
class ColumnScaler {
 public:
  using scalar_type = T;

  [[nodiscard]] Matrix<T> transform(const MatrixRef<T>& X) const {
    static constexpr MethodName where{Derived::model_type, "transform"};
    Matrix<T> out(X.rows(), X.cols());
    transform_into(X, out, where);
    return out;
  }

  // transform() into a caller-owned matrix of X's shape (the output is not
  // allocated; `out` may be X itself).
  void transform_into(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) const {
    static constexpr MethodName where{Derived::model_type, "transform_into"};
    transform_into(X, out, where);
  }

  // Also checks that `schema` names the columns the scaler was fitted on.
  [[nodiscard]] Matrix<T> transform(const MatrixRef<T>& X, const Schema& schema) const {
    static constexpr MethodName where{Derived::model_type, "transform"};
    require_fitted(where);
    schema_.require_same(schema, where);
    return transform(X);
  }

  Matrix<T> fit_transform(const MatrixRef<T>& X) { return derived().fit(X).transform(X); }
  Matrix<T> fit_transform(const MatrixRef<T>& X, const Schema& schema) { return derived().fit(X, schema).transform(X); }

  [[nodiscard]] Matrix<T> inverse_transform(const MatrixRef<T>& X) const {
    static constexpr MethodName where{Derived::model_type, "inverse_transform"};
    require_fitted(where);
    require_scaler_input(X, schema_, where);
    Matrix<T> out(X.rows(), X.cols());
    derived().invert(X, out);
    return out;
  }

  [[nodiscard]] const auto& params() const { return derived().params_; }
  [[nodiscard]] bool is_fitted() const { return n_samples_seen_ > 0; }
  [[nodiscard]] const Schema& schema() const { return schema_; }
  [[nodiscard]] Index n_samples_seen() const { return n_samples_seen_; }

  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    check_format_version(Derived::model_type, version, Derived::format_version);
    if constexpr (Archive::is_loading::value) {
      // Load into a fresh scaler so a rejected file leaves *this untouched.
      Derived loaded;
      ColumnScaler& fresh = loaded;
      fresh.archive_fields(archive);
      fresh.check_loaded();
      derived() = std::move(loaded);
    } else {
      archive_fields(archive);
    }
  }

 protected:
  ColumnScaler() = default;

  // Called last by fit, after every check has passed, so a failed refit
  // leaves the previous fit intact.
  void record_fit(Index n_samples, const Schema& schema) {
    n_samples_seen_ = n_samples;
    schema_ = schema;
  }

 private:
  const Derived& derived() const { return static_cast<const Derived&>(*this); }
  Derived& derived() { return static_cast<Derived&>(*this); }

  void transform_into(const MatrixRef<T>& X, Eigen::Ref<Matrix<T>> out, std::string_view where) const {
    require_fitted(where);
    require_scaler_input(X, schema_, where);
    require_output_shape<T>(X, out, where);
    derived().apply(X, out);
  }

  void require_fitted(std::string_view where) const {
    if (!is_fitted()) raise<not_fitted>(where, "call fit() before using the scaler");
  }

  template <class Archive>
  void archive_fields(Archive& archive) {
    auto n_samples = static_cast<std::uint64_t>(n_samples_seen_);
    derived().fields(archive, n_samples, schema_);
    if (n_samples > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
      throw serialization_error("redflag::load: " + std::string(Derived::model_type) + " n_samples_seen " +
                                std::to_string(n_samples) + " is out of range");
    }
    n_samples_seen_ = static_cast<Index>(n_samples);
  }

  // Params first, then the schema, then the statistics that must match it:
  // the order decides which error a file with several faults reports.
  void check_loaded() {
    Derived& self = derived();
    try {
      self.params_.validate("load");
    } catch (const invalid_argument& failure) {
      throw serialization_error(std::string(failure.what()) + " (in a " + std::string(Derived::model_type) + ")");
    }
    require_loaded_schema(is_fitted(), schema_, Derived::model_type);
    self.validate_loaded();
  }

  Index n_samples_seen_ = 0;
  Schema schema_;
};

}  // namespace detail::preprocessing

}  // namespace redflag
