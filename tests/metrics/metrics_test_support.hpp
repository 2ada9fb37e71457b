#pragma once

// Helpers shared by the metrics tests: turning the scikit-learn reference
// literals into Eigen inputs and comparing vectors element by element.

#include "sklearn_reference.hpp"

#include <redflag/core/types.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <type_traits>
#include <vector>

namespace metrics_test {

inline redflag::LabelVector labels(const std::vector<int>& values) {
  redflag::LabelVector out(static_cast<redflag::Index>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) out(static_cast<redflag::Index>(i)) = values[i];
  return out;
}

// Rounds to T like numpy's astype(float32).
template <class T>
redflag::Vector<T> scores(const std::vector<double>& values) {
  redflag::Vector<T> out(static_cast<redflag::Index>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) {
    out(static_cast<redflag::Index>(i)) = static_cast<T>(values[i]);
  }
  return out;
}

template <class T>
const sklearn_reference::Curves& curves_for(const sklearn_reference::RankingCase& c) {
  if constexpr (std::is_same_v<T, float>) {
    return c.float32;
  } else {
    return c.float64;
  }
}

// Element-wise |got - expected| <= tolerance (0 = bit-for-bit equal values).
inline void check_vector(const redflag::Vector<double>& got, const std::vector<double>& expected,
                         double tolerance = 0.0) {
  REQUIRE(got.size() == static_cast<redflag::Index>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double value = got(static_cast<redflag::Index>(i));
    INFO("index " << i << ": got " << value << ", expected " << expected[i]);
    if (std::isinf(expected[i])) {
      CHECK(value == expected[i]);
    } else {
      CHECK(std::abs(value - expected[i]) <= tolerance);
    }
  }
}

// Random labels (about `rate` positives) and scores rounded to `decimals`
// so that many are tied.
struct RandomData {
  redflag::LabelVector y;
  redflag::Vector<double> scores;
};

inline RandomData random_data(redflag::Index n, double rate, int decimals, unsigned seed) {
  std::mt19937_64 engine(seed);
  std::bernoulli_distribution label(rate);
  std::normal_distribution<double> noise;
  const double scale = std::pow(10.0, decimals);
  RandomData data{redflag::LabelVector(n), redflag::Vector<double>(n)};
  for (redflag::Index i = 0; i < n; ++i) {
    data.y(i) = label(engine) ? 1 : 0;
    data.scores(i) = std::round((noise(engine) + static_cast<double>(data.y(i))) * scale) / scale;
  }
  return data;
}

}  // namespace metrics_test
