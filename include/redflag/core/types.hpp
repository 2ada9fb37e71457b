#pragma once

// Matrix and vector aliases used across redflag. Rows are observations,
// columns are features (scikit-learn's orientation), stored row-major so a
// row is contiguous.

#include <Eigen/Core>

#include <concepts>
#include <cstdint>
#include <string_view>
#include <variant>

namespace redflag {

// The scalar types models are instantiated with.
template <class T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

template <Scalar T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <Scalar T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// Read-only view of any row-major matrix (or block of one) without a copy.
template <Scalar T>
using MatrixRef = Eigen::Ref<const Matrix<T>>;

template <Scalar T>
using VectorRef = Eigen::Ref<const Vector<T>>;

// Class labels and anomaly flags (predict() returns 1 = anomaly, 0 = normal).
using Label = std::int64_t;
using LabelVector = Eigen::Matrix<Label, Eigen::Dynamic, 1>;
using LabelsRef = Eigen::Ref<const LabelVector>;

using Index = Eigen::Index;

// scikit-learn's "auto" for a parameter: `.max_samples = redflag::Auto{}`.
struct Auto {
  friend bool operator==(Auto, Auto) = default;
};

// The share of training rows a detector's fitted threshold flags, the same
// type in every detector's Params: auto (each component documents what it
// means) or a fraction in (0, 0.5].
using Contamination = std::variant<Auto, double>;

// Name recorded in model files and messages: "float32" or "float64".
template <Scalar T>
inline constexpr std::string_view scalar_name = std::same_as<T, float> ? "float32" : "float64";

}  // namespace redflag
