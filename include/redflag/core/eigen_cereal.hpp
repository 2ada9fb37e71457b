#pragma once

// cereal support for Eigen matrices and vectors, so model members of Eigen
// type serialize with a plain ar(member).
//
// Binary layout: element count as a size tag (lets a bounded archive reject
// absurd sizes before allocating), rows, cols, then the elements in storage
// order as one block. Text (JSON) layout: {"rows", "cols", "values": [...]}.

#include <redflag/core/error.hpp>

#include <Eigen/Core>
#include <cereal/cereal.hpp>

#include <algorithm>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace cereal {

template <class Archive, class Scalar, int Rows, int Cols, int Options, int MaxRows, int MaxCols>
void save(Archive& archive, const Eigen::Matrix<Scalar, Rows, Cols, Options, MaxRows, MaxCols>& matrix) {
  const auto count = static_cast<std::uint64_t>(matrix.size());
  const auto rows = static_cast<std::uint64_t>(matrix.rows());
  const auto cols = static_cast<std::uint64_t>(matrix.cols());
  if constexpr (traits::is_text_archive<Archive>::value) {
    const std::vector<Scalar> values(matrix.data(), matrix.data() + matrix.size());
    archive(make_nvp("rows", rows), make_nvp("cols", cols), make_nvp("values", values));
  } else {
    archive(make_size_tag(count), rows, cols);
    archive(binary_data(matrix.data(), static_cast<std::size_t>(count) * sizeof(Scalar)));
  }
}

template <class Archive, class Scalar, int Rows, int Cols, int Options, int MaxRows, int MaxCols>
void load(Archive& archive, Eigen::Matrix<Scalar, Rows, Cols, Options, MaxRows, MaxCols>& matrix) {
  std::uint64_t count = 0;
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::vector<Scalar> values;  // text archives only
  if constexpr (traits::is_text_archive<Archive>::value) {
    archive(make_nvp("rows", rows), make_nvp("cols", cols), make_nvp("values", values));
    count = values.size();
  } else {
    archive(make_size_tag(count), rows, cols);
  }
  const auto limit = static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max());
  const bool consistent = rows <= limit && cols <= limit && (cols == 0 || rows <= limit / cols) &&
                          rows * cols == count &&
                          (Rows == Eigen::Dynamic || rows == static_cast<std::uint64_t>(Rows)) &&
                          (Cols == Eigen::Dynamic || cols == static_cast<std::uint64_t>(Cols));
  if (!consistent) {
    throw redflag::serialization_error("redflag::load: matrix header is inconsistent (" + std::to_string(rows) + " x " +
                                       std::to_string(cols) + " with " + std::to_string(count) + " elements)");
  }
  matrix.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  if constexpr (traits::is_text_archive<Archive>::value) {
    std::copy(values.begin(), values.end(), matrix.data());
  } else {
    archive(binary_data(matrix.data(), static_cast<std::size_t>(count) * sizeof(Scalar)));
  }
}

}  // namespace cereal
