#pragma once

// Internals shared by the ranking metrics (ROC, precision-recall, threshold
// selection): input validation and one pass over the distinct score values in
// descending order, which is what scikit-learn's _binary_clf_curve computes.

#include <redflag/core/error.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace redflag {

// Marks the third argument of precision_score & co. as a score threshold
// (predict 1 when score >= value) rather than a 0/1 prediction vector.
struct AtThreshold {
  double value;
};

namespace detail {

// Accepts column vectors, row vectors and n x 1 / 1 x n dynamic matrices.
template <class Derived>
void require_vector(const Eigen::MatrixBase<Derived>& values, std::string_view where, std::string_view name) {
  if (values.rows() != 1 && values.cols() != 1) {
    raise<invalid_argument>(where, std::string(name) + " must be a vector, got a " + std::to_string(values.rows()) +
                                       " x " + std::to_string(values.cols()) + " matrix");
  }
}

// Every vector input seen as one type: a strided column view. Storage-backed
// inputs (matrices, maps, Refs, blocks, rows and columns of row-major
// matrices) are viewed in place; expressions without storage (-scores,
// X * w, casts) are evaluated once into a temporary so later passes neither
// recompute them nor need linear coefficient access.
template <class S>
using VectorView = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>, 0, Eigen::InnerStride<>>;

template <class Derived>
class VectorInput {
 public:
  using Scalar = typename Derived::Scalar;

  VectorInput(const Eigen::MatrixBase<Derived>& values, std::string_view where, std::string_view name) {
    require_vector(values, where, name);
    if constexpr ((static_cast<unsigned>(Derived::Flags) & Eigen::DirectAccessBit) != 0) {
      const Index stride = values.rows() == 1 ? values.derived().colStride() : values.derived().rowStride();
      new (&view_) VectorView<Scalar>(values.derived().data(), values.size(), Eigen::InnerStride<>(stride));
    } else {
      if constexpr (Derived::IsVectorAtCompileTime) {
        storage_ = values;  // Eigen transposes row vectors on assignment
      } else if (values.rows() == 1) {
        storage_ = values.transpose();
      } else {
        storage_ = values;
      }
      new (&view_) VectorView<Scalar>(storage_.data(), storage_.size(), Eigen::InnerStride<>(1));
    }
  }
  VectorInput(const VectorInput&) = delete;  // the view may point into storage_
  VectorInput& operator=(const VectorInput&) = delete;

  const VectorView<Scalar>& operator*() const { return view_; }

 private:
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> storage_;
  VectorView<Scalar> view_{nullptr, 0, Eigen::InnerStride<>(1)};
};

// NaN/Inf check that names the vector index ("scores[3] = NaN").
template <class Derived>
void require_finite_entries(const Eigen::MatrixBase<Derived>& values, std::string_view where, std::string_view name) {
  if (values.allFinite()) return;  // vectorised fast path; locate the entry only on failure
  for (Index i = 0; i < values.size(); ++i) {
    const double value = static_cast<double>(values(i));
    if (!std::isfinite(value)) {
      raise<data_error>(where,
                        std::string(name) + "[" + std::to_string(i) + "] = " + format_number(value) + " is not finite");
    }
  }
}

template <class Derived>
void require_label_vector(const Eigen::MatrixBase<Derived>& labels, std::string_view where, std::string_view name) {
  static_assert(std::is_arithmetic_v<typename Derived::Scalar>,
                "labels must be an Eigen vector of integers, floats or bools holding 0/1");
  require_non_empty(labels, where, name);
  require_binary_labels(labels, where, name);
}

template <class Derived>
void require_score_vector(const Eigen::MatrixBase<Derived>& scores, std::string_view where, std::string_view name) {
  static_assert(Scalar<typename Derived::Scalar>, "scores must be an Eigen vector of float or double");
  require_non_empty(scores, where, name);
  require_finite_entries(scores, where, name);
}

// y_true of 0/1 labels and finite scores of the same length (both views
// from VectorInput, so already known to be vectors).
template <class DerivedY, class DerivedS>
void require_labels_and_scores(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedS>& scores,
                               std::string_view where, std::string_view score_name = "scores") {
  require_same_length(y_true.size(), scores.size(), where, "y_true", score_name);
  require_label_vector(y_true, where, "y_true");
  require_score_vector(scores, where, score_name);
}

inline void require_threshold(AtThreshold threshold, std::string_view where) {
  require_parameter(!std::isnan(threshold.value), where, "threshold", "a number (not NaN)", threshold.value);
}

// Order-preserving map from a float/double to an unsigned integer, so the
// sort below is an integer radix sort. -0.0 is folded into +0.0 because the
// two compare equal and must form one tie group.
template <Scalar T>
using SortKey = std::conditional_t<std::same_as<T, float>, std::uint32_t, std::uint64_t>;

template <Scalar T>
SortKey<T> to_sort_key(T value) {
  using Key = SortKey<T>;
  constexpr Key sign = Key{1} << (sizeof(Key) * 8 - 1);
  const Key bits = std::bit_cast<Key>(value == T(0) ? T(0) : value);
  return (bits & sign) != 0 ? static_cast<Key>(~bits) : static_cast<Key>(bits | sign);
}

template <Scalar T>
T from_sort_key(SortKey<T> key) {
  using Key = SortKey<T>;
  constexpr Key sign = Key{1} << (sizeof(Key) * 8 - 1);
  return std::bit_cast<T>((key & sign) != 0 ? static_cast<Key>(key ^ sign) : static_cast<Key>(~key));
}

// Ascending LSD radix sort on 11-bit digits (6 passes for 64-bit keys, 3 for
// 32-bit); passes where every key has the same digit (typical for exponent
// bits) are skipped. O(n) versus std::sort's O(n log n) comparisons, several
// times faster at 1e6 scores.
template <class Key>
void radix_sort(std::vector<Key>& keys, std::vector<Key>& scratch) {
  constexpr int digit_bits = 11;
  constexpr std::size_t buckets = std::size_t{1} << digit_bits;
  constexpr int passes = (static_cast<int>(sizeof(Key)) * 8 + digit_bits - 1) / digit_bits;
  if (keys.size() < 1024) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  const auto digit = [](Key key, int pass) {
    return static_cast<std::size_t>((key >> (digit_bits * pass)) & (buckets - 1));
  };
  std::vector<std::size_t> counts(passes * buckets, 0);  // all histograms in one read
  for (const Key key : keys) {
    for (int pass = 0; pass < passes; ++pass) ++counts[pass * buckets + digit(key, pass)];
  }
  scratch.resize(keys.size());
  for (int pass = 0; pass < passes; ++pass) {
    const auto count = counts.begin() + static_cast<std::ptrdiff_t>(pass * buckets);
    if (count[static_cast<std::ptrdiff_t>(digit(keys.front(), pass))] == keys.size()) continue;
    std::size_t offset = 0;
    for (std::size_t b = 0; b < buckets; ++b) {
      const std::size_t size = count[static_cast<std::ptrdiff_t>(b)];
      count[static_cast<std::ptrdiff_t>(b)] = offset;
      offset += size;
    }
    for (const Key key : keys) scratch[count[static_cast<std::ptrdiff_t>(digit(key, pass))]++] = key;
    keys.swap(scratch);
  }
}

// Calls visit(threshold, tp, fp) once per distinct score, from the highest
// score down, where tp/fp count positives/negatives with score >= threshold.
// Positives and negatives are sorted separately so no label travels with the
// keys; the walk merges the two sorted runs.
template <class DerivedY, class DerivedS, class Visit>
void for_each_threshold(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedS>& scores,
                        Visit&& visit) {
  using T = typename DerivedS::Scalar;
  using Key = SortKey<T>;
  const Index n = scores.size();
  Index positives = 0;
  for (Index i = 0; i < n; ++i) positives += y_true(i) == 1 ? 1 : 0;
  std::vector<Key> pos;
  std::vector<Key> neg;
  pos.reserve(static_cast<std::size_t>(positives));
  neg.reserve(static_cast<std::size_t>(n - positives));
  for (Index i = 0; i < n; ++i) {
    (y_true(i) == 1 ? pos : neg).push_back(to_sort_key(scores(i)));
  }
  std::vector<Key> scratch;
  scratch.reserve(std::max(pos.size(), neg.size()));
  radix_sort(pos, scratch);
  radix_sort(neg, scratch);

  std::int64_t tp = 0;
  std::int64_t fp = 0;
  auto p = pos.size();  // one past the next unvisited key, walking downwards
  auto q = neg.size();
  while (p > 0 || q > 0) {
    const Key current = p == 0 ? neg[q - 1] : q == 0 ? pos[p - 1] : std::max(pos[p - 1], neg[q - 1]);
    while (p > 0 && pos[p - 1] == current) {
      --p;
      ++tp;
    }
    while (q > 0 && neg[q - 1] == current) {
      --q;
      ++fp;
    }
    visit(static_cast<double>(from_sort_key<T>(current)), tp, fp);
  }
}

// Class counts of a validated 0/1 vector.
template <class Derived>
std::int64_t count_positives(const Eigen::MatrixBase<Derived>& y_true) {
  std::int64_t positives = 0;
  for (Index i = 0; i < y_true.size(); ++i) positives += y_true(i) == 1 ? 1 : 0;
  return positives;
}

// The validated (y_true, scores) pair every ranking metric starts from:
// both read as vectors (without a copy when possible), checked for equal
// length, 0/1 labels and finite scores, with the positives counted once.
template <class DerivedY, class DerivedS>
class LabelledScores {
 public:
  LabelledScores(const Eigen::MatrixBase<DerivedY>& y_true, const Eigen::MatrixBase<DerivedS>& scores,
                 std::string_view where)
      : labels_(y_true, where, "y_true"), scores_(scores, where, "scores") {
    require_labels_and_scores(labels(), this->scores(), where);
    positives_ = count_positives(labels());
  }

  [[nodiscard]] const auto& labels() const { return *labels_; }
  [[nodiscard]] const auto& scores() const { return *scores_; }
  [[nodiscard]] std::int64_t positives() const { return positives_; }
  [[nodiscard]] std::int64_t negatives() const { return static_cast<std::int64_t>(labels().size()) - positives_; }

 private:
  VectorInput<DerivedY> labels_;
  VectorInput<DerivedS> scores_;
  std::int64_t positives_ = 0;
};

}  // namespace detail
}  // namespace redflag
