#pragma once

// Input checks shared by every public function. Eigen only asserts in debug
// builds, so redflag validates shapes, values and parameters itself and
// throws the matching redflag::error naming the offending row and column.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace redflag::detail {

inline std::string format_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Inf" : "-Inf";
  // Fixed notation would print 1e-7 as "0" and 1e300 with 300 digits.
  if (value != 0 && (std::abs(value) < 1e-4 || std::abs(value) >= 1e15)) {
    std::array<char, 32> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%g", value);
    return buffer.data();
  }
  std::string text = std::to_string(value);
  // std::to_string prints six decimals; drop the trailing zeros for readability.
  if (text.find('.') != std::string::npos) {
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

// Throws data_error when `values` has no rows.
template <class Derived>
void require_non_empty(const Eigen::DenseBase<Derived>& values, std::string_view where, std::string_view name) {
  if (values.rows() == 0 || values.cols() == 0) {
    raise<data_error>(where, std::string(name) + " is empty (" + std::to_string(values.rows()) + " rows, " +
                                 std::to_string(values.cols()) + " columns)");
  }
}

// True when no value is NaN or Inf. x * 0 is 0 for every finite x and NaN
// otherwise, so running sums of x * 0 stay 0 exactly when all values are
// finite: a branch-free loop the compiler vectorises, several times faster
// than Eigen's allFinite() on large matrices (validation dominates subsampled
// fits such as IsolationForest's). Rows stored back to back are scanned as
// one run, so the sums never wait on a short row's tail.
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& values) {
  using Value = typename Derived::Scalar;
  if constexpr (std::is_floating_point_v<Value> && bool(Derived::Flags & Eigen::DirectAccessBit) &&
                bool(Derived::IsRowMajor)) {
    constexpr std::size_t lanes = 16;
    const Derived& matrix = values.derived();
    const auto columns = static_cast<std::size_t>(matrix.cols());
    const bool packed = matrix.outerStride() == matrix.cols();
    const std::size_t run = packed ? columns * static_cast<std::size_t>(matrix.rows()) : columns;
    const Index runs = packed ? (matrix.rows() > 0 ? 1 : 0) : matrix.rows();
    std::array<Value, lanes> sums{};
    Value tail = 0;
    for (Index r = 0; r < runs; ++r) {
      const Value* x = matrix.data() + r * matrix.outerStride();
      std::size_t i = 0;
      for (; i + lanes <= run; i += lanes) {
        for (std::size_t k = 0; k < lanes; ++k) sums[k] += x[i + k] * Value(0);
      }
      for (; i < run; ++i) tail += x[i] * Value(0);
    }
    for (const Value sum : sums) tail += sum;
    return tail == 0;
  } else {
    return values.allFinite();
  }
}

// Throws data_error naming the first NaN or Inf cell (row, column).
template <class Derived>
void require_finite(const Eigen::DenseBase<Derived>& values, std::string_view where, std::string_view name) {
  if (all_finite(values)) return;  // fast path; locate the cell only on failure
  for (Index row = 0; row < values.rows(); ++row) {
    for (Index col = 0; col < values.cols(); ++col) {
      const double value = static_cast<double>(values(row, col));
      if (!std::isfinite(value)) {
        raise<data_error>(where, std::string(name) + " has " + format_number(value) + " at row " + std::to_string(row) +
                                     ", column " + std::to_string(col) + " (finite values required)");
      }
    }
  }
}

// Throws schema_mismatch when `values` does not have `expected` columns.
template <class Derived>
void require_columns(const Eigen::DenseBase<Derived>& values, Index expected, std::string_view where,
                     std::string_view name) {
  if (values.cols() != expected) {
    raise<schema_mismatch>(where, std::string(name) + " has " + std::to_string(values.cols()) + " columns, expected " +
                                      std::to_string(expected));
  }
}

// Throws invalid_argument when two inputs disagree on the number of rows.
inline void require_same_length(Index first, Index second, std::string_view where, std::string_view first_name,
                                std::string_view second_name) {
  if (first != second) {
    raise<invalid_argument>(where, std::string(first_name) + " has " + std::to_string(first) + " rows but " +
                                       std::string(second_name) + " has " + std::to_string(second));
  }
}

// Throws invalid_argument "<parameter> must be <requirement>, got <value>".
template <class Value>
void require_parameter(bool condition, std::string_view where, std::string_view parameter, std::string_view requirement,
                       const Value& got) {
  if (condition) return;
  std::string got_text;
  if constexpr (std::is_arithmetic_v<Value>) {
    got_text = format_number(static_cast<double>(got));
  } else {
    got_text = std::string(got);
  }
  raise<invalid_argument>(where, std::string(parameter) + " must be " + std::string(requirement) + ", got " + got_text);
}

// Throws invalid_argument unless `contamination` is auto or a fraction in (0, 0.5].
inline void require_contamination(const Contamination& contamination, std::string_view where) {
  if (const auto* fraction = std::get_if<double>(&contamination)) {
    require_parameter(*fraction > 0.0 && *fraction <= 0.5, where, "contamination", "auto or a fraction in (0, 0.5]",
                      *fraction);
  }
}

// Throws data_error naming the first label that is neither 0 nor 1.
template <class Derived>
void require_binary_labels(const Eigen::DenseBase<Derived>& labels, std::string_view where, std::string_view name) {
  for (Index i = 0; i < labels.size(); ++i) {
    const auto label = labels(i);
    if (!(label == 0 || label == 1)) {
      raise<data_error>(where, std::string(name) + "[" + std::to_string(i) +
                                   "] = " + format_number(static_cast<double>(label)) +
                                   " is not a binary label (expected 0 or 1)");
    }
  }
}

}  // namespace redflag::detail
