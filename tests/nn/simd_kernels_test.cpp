// The TransformerAutoencoder's kernels (simd/detail/nn_kernels.hpp) on every
// SIMD path this CPU has: each path's output must be bit-identical to the
// scalar path's (paths the CPU lacks are reported and skipped), and the
// scalar results must match a plain double-precision computation within a
// tolerance: 1e-5 relative for float and 1e-12 for double on products, layer
// norm and sums; the softmax's exp within 3e-7 (float) and 1e-14 (double)
// relative. End to end, a small TransformerAutoencoder fitted under each
// path must save the same bytes and give the same scores, and the layers
// must agree with the straightforward Eigen formulas they replaced (the
// arithmetic, not the mathematics, changed: fused multiply-adds in a fixed
// order, a polynomial exp).

#include <redflag/core/random.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/nn/layer_norm.hpp>
#include <redflag/nn/linear.hpp>
#include <redflag/nn/multi_head_attention.hpp>
#include <redflag/nn/transformer_autoencoder.hpp>
#include <redflag/simd/detail/nn_kernels.hpp>
#include <redflag/simd/path.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using redflag::Index;
using redflag::Matrix;
using redflag::Random;
namespace simd = redflag::simd;
namespace kernels = redflag::simd::detail::nn;
using redflag::simd::detail::GemmStart;

template <class T>
std::vector<T> sk_random(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  Random random(seed);
  std::vector<T> values(n);
  for (T& v : values) v = static_cast<T>(scale * random.normal());
  return values;
}

template <class T>
bool sk_same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Runs `kernel` (which returns the values it produced) on the scalar path,
// then on every other path the CPU has, requiring the same bits. Returns the
// scalar path's values.
template <class T>
std::vector<T> sk_on_every_path(const std::string& what, const std::function<std::vector<T>()>& kernel) {
  std::vector<T> scalar;
  {
    const simd::ScopedPath path(simd::Path::scalar);
    scalar = kernel();
  }
  for (const simd::Path path : simd::all_paths) {
    if (path == simd::Path::scalar) continue;
    if (!simd::supported(path)) {
      MESSAGE("skipped on the ", simd::name(path), " path (this CPU lacks it): ", what);
      continue;
    }
    const simd::ScopedPath forced(path);
    const std::vector<T> values = kernel();
    INFO(what, " on the ", simd::name(path), " path");
    CHECK(sk_same_bits(values, scalar));
  }
  return scalar;
}

template <class T>
double sk_tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

}  // namespace

TEST_CASE_TEMPLATE("nn kernels: products are bit-identical on every path and match double arithmetic", T, float,
                   double) {
  // Shapes around every tile: rows 1..13 (tiles of 4 and 6 rows and their
  // rests), columns below, at and beyond each register width and tile.
  for (const Index M : {1, 5, 13}) {
    for (const Index N : {1, 5, 8, 16, 37, 64}) {
      for (const Index K : {1, 8, 19}) {
        for (const bool transposed : {false, true}) {
          for (const GemmStart start : {GemmStart::zero, GemmStart::bias, GemmStart::accumulate}) {
            const std::vector<T> a = sk_random<T>(static_cast<std::size_t>(M * K), 1);
            const std::vector<T> b = sk_random<T>(static_cast<std::size_t>(K * N), 2);
            const std::vector<T> bias = sk_random<T>(static_cast<std::size_t>(N), 3);
            const std::vector<T> c0 = sk_random<T>(static_cast<std::size_t>(M * N), 4);
            // A stored row-major (M x K) or as its transpose (K x M).
            const Index a_row = transposed ? 1 : K;
            const Index a_col = transposed ? M : 1;
            const std::string what = "gemm " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
                                     (transposed ? " A^T" : "") + " start " + std::to_string(static_cast<int>(start));
            const std::vector<T> c = sk_on_every_path<T>(what, [&] {
              std::vector<T> out = c0;
              kernels::gemm<T>(M, N, K, a.data(), a_row, a_col, b.data(), N, out.data(), N, start, bias.data());
              return out;
            });
            for (Index i = 0; i < M; ++i) {
              for (Index j = 0; j < N; ++j) {
                double expected = start == GemmStart::bias         ? static_cast<double>(bias[j])
                                  : start == GemmStart::accumulate ? static_cast<double>(c0[i * N + j])
                                                                   : 0.0;
                double magnitude = std::abs(expected);
                for (Index p = 0; p < K; ++p) {
                  const double term = static_cast<double>(a[i * a_row + p * a_col]) * static_cast<double>(b[p * N + j]);
                  expected += term;
                  magnitude += std::abs(term);
                }
                INFO(what, " at ", i, ", ", j);
                CHECK(std::abs(static_cast<double>(c[i * N + j]) - expected) <=
                      sk_tolerance<T>() * (magnitude + 1e-30));
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("nn kernels: the attention softmax and its backward pass are bit-identical on every path", T, float,
                   double) {
  const Index rows = 60;
  const Index cols = 64;
  // Scores over a wide range, a column of equal scores and one of very different ones.
  std::vector<T> s = sk_random<T>(static_cast<std::size_t>(rows * cols), 5, 4.0);
  for (Index r = 0; r < rows; ++r) s[r * cols + 3] = T(1.5);
  for (Index r = 0; r < rows; ++r)
    s[r * cols + 7] = static_cast<T>(r % 2 == 0 ? -200.0 : 30.0 + static_cast<double>(r));
  const std::vector<T> p = sk_on_every_path<T>("softmax_columns", [&] {
    std::vector<T> out = s;
    kernels::softmax_columns<T>(out.data(), rows, cols, cols);
    return out;
  });
  const double exp_tolerance = std::is_same_v<T, float> ? 3e-7 : 1e-14;
  const double exp_floor = std::exp(std::is_same_v<T, float> ? -87.0 : -708.0);
  for (Index j = 0; j < cols; ++j) {
    double max = static_cast<double>(s[j]);
    for (Index r = 1; r < rows; ++r) max = std::max(max, static_cast<double>(s[r * cols + j]));
    double sum = 0.0;
    for (Index r = 0; r < rows; ++r) sum += std::exp(static_cast<double>(s[r * cols + j]) - max);
    for (Index r = 0; r < rows; ++r) {
      const double expected = std::exp(static_cast<double>(s[r * cols + j]) - max) / sum;
      INFO("column ", j, ", row ", r);
      // exp's error, the sum's rounding over 60 terms and the final product;
      // exp gives exp(lowest) (about 1.6e-38 in float) below lowest = -87
      // (float) or -708 (double) instead of smaller values.
      CHECK(std::abs(static_cast<double>(p[r * cols + j]) - expected) <=
            (8 * exp_tolerance + 64 * sk_tolerance<T>() / 1e3) * expected + 2 * exp_floor);
    }
  }

  const std::vector<T> dp = sk_random<T>(static_cast<std::size_t>(rows * cols), 6);
  const T scale = T(0.35);
  const std::vector<T> ds = sk_on_every_path<T>("softmax_backward_columns", [&] {
    std::vector<T> out = dp;
    kernels::softmax_backward_columns<T>(out.data(), p.data(), rows, cols, cols, scale);
    return out;
  });
  for (Index j = 0; j < cols; ++j) {
    double dot = 0.0, magnitude = 0.0;
    for (Index r = 0; r < rows; ++r) {
      dot += static_cast<double>(dp[r * cols + j]) * static_cast<double>(p[r * cols + j]);
      magnitude += std::abs(static_cast<double>(dp[r * cols + j]) * static_cast<double>(p[r * cols + j]));
    }
    for (Index r = 0; r < rows; ++r) {
      const double pr = static_cast<double>(p[r * cols + j]);
      const double expected = static_cast<double>(scale) * pr * (static_cast<double>(dp[r * cols + j]) - dot);
      CHECK(std::abs(static_cast<double>(ds[r * cols + j]) - expected) <=
            sk_tolerance<T>() * pr * (std::abs(static_cast<double>(dp[r * cols + j])) + magnitude) + 1e-300);
    }
  }
}

TEST_CASE_TEMPLATE(
    "nn kernels: one head's attention in one call is bit-identical on every path and to the separate "
    "kernels",
    T, float, double) {
  // Head sizes of 8 (the 8 x 8 register transposes), 4 and 12 (the other
  // column groups), sequences of 60 (padded to 64), 7 and 33.
  for (const Index dh : {Index(8), Index(4), Index(12)}) {
    for (const Index L : {Index(60), Index(7), Index(33)}) {
      const Index d = 2 * dh, ld = 3 * d, padded = (L + 15) / 16 * 16;
      const std::vector<T> qkv = sk_random<T>(static_cast<std::size_t>(L * ld), 11, 2.0);
      const T* q = qkv.data() + dh;  // the second head
      const T* k = q + d;
      const T* v = q + 2 * d;
      const T scale = T(1) / std::sqrt(static_cast<T>(dh));
      // Reference: the separate kernels on the scalar path.
      std::vector<T> qt(static_cast<std::size_t>(dh * padded), T(0));
      std::vector<T> pt(static_cast<std::size_t>(L * padded)), ct(static_cast<std::size_t>(dh * padded));
      std::vector<T> context(static_cast<std::size_t>(L * d), T(0));
      {
        const simd::ScopedPath path(simd::Path::scalar);
        for (Index i = 0; i < L; ++i) {
          for (Index c = 0; c < dh; ++c) qt[c * padded + i] = q[i * ld + c] * scale;
        }
        kernels::gemm<T>(L, padded, dh, k, ld, 1, qt.data(), padded, pt.data(), padded, GemmStart::zero);
        kernels::softmax_columns<T>(pt.data(), L, padded, padded);
        kernels::gemm<T>(dh, padded, L, v, 1, ld, pt.data(), padded, ct.data(), padded, GemmStart::zero);
        for (Index i = 0; i < L; ++i) {
          for (Index c = 0; c < dh; ++c) context[i * d + c] = ct[c * padded + i];
        }
      }
      std::vector<T> expected = qt;
      expected.insert(expected.end(), pt.begin(), pt.end());
      expected.insert(expected.end(), context.begin(), context.end());
      INFO("d_head ", dh, ", L ", L);
      const std::vector<T> fused = sk_on_every_path<T>("attention_forward", [&] {
        std::vector<T> qt_out(qt.size(), T(5)), pt_out(pt.size(), T(7)), context_out(context.size(), T(0));
        kernels::attention_forward<T>(L, padded, dh, q, k, v, ld, scale, qt_out.data(), pt_out.data(),
                                      context_out.data(), d);
        qt_out.insert(qt_out.end(), pt_out.begin(), pt_out.end());
        qt_out.insert(qt_out.end(), context_out.begin(), context_out.end());
        return qt_out;
      });
      CHECK(sk_same_bits(fused, expected));
    }
  }
}

TEST_CASE_TEMPLATE("nn kernels: the ReLU's backward pass is a select on every path", T, float, double) {
  std::vector<T> h = sk_random<T>(67, 12);
  h[3] = T(0);
  h[4] = -T(0);
  const std::vector<T> d = sk_random<T>(67, 13);
  const std::vector<T> out = sk_on_every_path<T>("relu_backward", [&] {
    std::vector<T> x = d;
    kernels::relu_backward<T>(static_cast<Index>(x.size()), h.data(), x.data());
    return x;
  });
  for (std::size_t i = 0; i < d.size(); ++i) CHECK(out[i] == (h[i] > T(0) ? d[i] : T(0)));
}

TEST_CASE_TEMPLATE("nn kernels: layer norm, column sums and sums of squares are bit-identical on every path", T, float,
                   double) {
  for (const Index n : {1, 7, 13, 64, 67}) {
    const Index rows = 9;
    const std::vector<T> x = sk_random<T>(static_cast<std::size_t>(rows * n), 7, 3.0);
    const std::vector<T> gamma = sk_random<T>(static_cast<std::size_t>(n), 8);
    const std::vector<T> beta = sk_random<T>(static_cast<std::size_t>(n), 9);
    const std::vector<T> dy = sk_random<T>(static_cast<std::size_t>(rows * n), 10);
    const std::string size = " n = " + std::to_string(n);
    std::vector<T> xhat(static_cast<std::size_t>(rows * n)), inverse_std(static_cast<std::size_t>(rows));
    const std::vector<T> forward = sk_on_every_path<T>("layer_norm_forward" + size, [&] {
      std::vector<T> y(static_cast<std::size_t>(rows * n));
      kernels::layer_norm_forward<T>(rows, n, x.data(), n, gamma.data(), beta.data(), T(1e-5), xhat.data(),
                                     inverse_std.data(), y.data());
      std::vector<T> out = y;
      out.insert(out.end(), xhat.begin(), xhat.end());
      out.insert(out.end(), inverse_std.begin(), inverse_std.end());
      return out;
    });
    for (Index r = 0; r < rows; ++r) {
      double mean = 0.0, variance = 0.0;
      for (Index i = 0; i < n; ++i) mean += static_cast<double>(x[r * n + i]) / static_cast<double>(n);
      for (Index i = 0; i < n; ++i) {
        const double centered = static_cast<double>(x[r * n + i]) - mean;
        variance += centered * centered / static_cast<double>(n);
      }
      for (Index i = 0; i < n; ++i) {
        const double h = (static_cast<double>(x[r * n + i]) - mean) / std::sqrt(variance + 1e-5);
        const double expected = h * static_cast<double>(gamma[i]) + static_cast<double>(beta[i]);
        INFO("layer norm" << size << ", row " << r << ", column " << i);
        CHECK(std::abs(static_cast<double>(forward[r * n + i]) - expected) <=
              10 * sk_tolerance<T>() * (std::abs(h * static_cast<double>(gamma[i])) + std::abs(beta[i]) + 1.0));
      }
    }
    const std::vector<T> backward = sk_on_every_path<T>("layer_norm_backward" + size, [&] {
      std::vector<T> d_gamma = gamma, d_beta = beta, dx(static_cast<std::size_t>(rows * n));
      kernels::layer_norm_backward<T>(rows, n, dy.data(), n, gamma.data(), xhat.data(), inverse_std.data(),
                                      d_gamma.data(), d_beta.data(), dx.data());
      dx.insert(dx.end(), d_gamma.begin(), d_gamma.end());
      dx.insert(dx.end(), d_beta.begin(), d_beta.end());
      return dx;
    });
    for (Index r = 0; r < rows; ++r) {
      double mean_g = 0.0, mean_gx = 0.0;
      for (Index i = 0; i < n; ++i) {
        const double g = static_cast<double>(dy[r * n + i]) * static_cast<double>(gamma[i]);
        mean_g += g / static_cast<double>(n);
        mean_gx += g * static_cast<double>(xhat[r * n + i]) / static_cast<double>(n);
      }
      for (Index i = 0; i < n; ++i) {
        const double g = static_cast<double>(dy[r * n + i]) * static_cast<double>(gamma[i]);
        const double h = static_cast<double>(xhat[r * n + i]);
        const double expected = static_cast<double>(inverse_std[r]) * (g - mean_g - h * mean_gx);
        CHECK(std::abs(static_cast<double>(backward[r * n + i]) - expected) <=
              100 * sk_tolerance<T>() * static_cast<double>(inverse_std[r]) *
                  (std::abs(g) + std::abs(mean_g) + std::abs(h * mean_gx) + 1.0));
      }
    }

    const std::vector<T> sums = sk_on_every_path<T>("add_column_sums" + size, [&] {
      std::vector<T> out = beta;
      kernels::add_column_sums<T>(rows, n, x.data(), n, out.data());
      return out;
    });
    for (Index i = 0; i < n; ++i) {
      double expected = static_cast<double>(beta[i]), magnitude = std::abs(expected);
      for (Index r = 0; r < rows; ++r) {
        expected += static_cast<double>(x[r * n + i]);
        magnitude += std::abs(static_cast<double>(x[r * n + i]));
      }
      CHECK(std::abs(static_cast<double>(sums[i]) - expected) <= sk_tolerance<T>() * magnitude);
    }

    const std::vector<T> squares = sk_on_every_path<T>(
        "sum_of_squares" + size, [&] { return std::vector<T>{kernels::sum_of_squares<T>(x.data(), rows * n)}; });
    double expected = 0.0;
    for (const T v : x) expected += static_cast<double>(v) * static_cast<double>(v);
    CHECK(std::abs(static_cast<double>(squares[0]) - expected) <= sk_tolerance<T>() * expected);
  }
}

TEST_CASE_TEMPLATE("nn layers built on the kernels match the Eigen formulas they replaced", T, float, double) {
  // Tolerance: 2e-5 (float) and 1e-12 (double) relative to the norm of the
  // result; the kernels fuse multiply-adds and compute exp by a polynomial,
  // so the bits differ from Eigen's, not the values beyond rounding.
  const double layer_tolerance = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  Random random(11);
  const Index L = 12, d = 16, heads = 2, sequences = 2;
  const redflag::nn::MultiHeadAttention<T> attention(d, heads, random);
  Matrix<T> X(sequences * L, d);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = random.normal<T>();
  typename redflag::nn::MultiHeadAttention<T>::Workspace work;
  Matrix<T> Y;
  attention.forward(X, L, work, Y);
  // Reference: the textbook formula in Eigen, head by head.
  const Matrix<T> qkv = (X * attention.input_projection.weight).rowwise() + attention.input_projection.bias.row(0);
  Matrix<T> context(sequences * L, d);
  const Index dh = d / heads;
  for (Index s = 0; s < sequences; ++s) {
    for (Index h = 0; h < heads; ++h) {
      const Matrix<T> q = qkv.block(s * L, h * dh, L, dh), k = qkv.block(s * L, d + h * dh, L, dh),
                      v = qkv.block(s * L, 2 * d + h * dh, L, dh);
      Matrix<T> scores = (q * k.transpose()) / std::sqrt(static_cast<T>(dh));
      for (Index i = 0; i < L; ++i) {
        scores.row(i).array() = (scores.row(i).array() - scores.row(i).maxCoeff()).exp();
        scores.row(i) /= scores.row(i).sum();
      }
      context.block(s * L, h * dh, L, dh) = scores * v;
    }
  }
  const Matrix<T> expected =
      (context * attention.output_projection.weight).rowwise() + attention.output_projection.bias.row(0);
  CHECK((Y - expected).norm() <= layer_tolerance * expected.norm());

  redflag::nn::LayerNorm<T> norm(d);
  for (Index i = 0; i < d; ++i) norm.gamma(0, i) = random.normal<T>();
  typename redflag::nn::LayerNorm<T>::Workspace norm_work;
  Matrix<T> Z;
  norm.forward(X, norm_work, Z);
  Matrix<T> expected_norm(X.rows(), d);
  for (Index r = 0; r < X.rows(); ++r) {
    const T mean = X.row(r).mean();
    const T variance = (X.row(r).array() - mean).square().mean();
    expected_norm.row(r) =
        ((X.row(r).array() - mean) / std::sqrt(variance + T(1e-5))).matrix().cwiseProduct(norm.gamma);
  }
  CHECK((Z - expected_norm).norm() <= layer_tolerance * expected_norm.norm());
}

TEST_CASE_TEMPLATE("A TransformerAutoencoder fitted on each SIMD path saves the same bytes and scores the same", T,
                   float, double) {
  Matrix<T> X(40, 24);
  Random random(12);
  for (Index i = 0; i < X.rows(); ++i) {
    const double phase = random.uniform(0.0, 6.0);
    for (Index j = 0; j < X.cols(); ++j) {
      X(i, j) = static_cast<T>(std::sin(phase + 0.3 * static_cast<double>(j / 3)) + 0.1 * random.normal());
    }
  }
  const auto fit = [&](simd::Path path, std::string& bytes, redflag::Vector<T>& scores) {
    const simd::ScopedPath forced(path);
    redflag::TransformerAutoencoder<T> model({.window = 8,
                                              .d_model = 16,
                                              .heads = 2,
                                              .encoder_layers = 1,
                                              .decoder_layers = 1,
                                              .ffn = 24,
                                              .batch_size = 8,
                                              .epochs = 2,
                                              .random_state = 5});
    model.fit(X);
    std::ostringstream out;
    redflag::save(model, out, redflag::Format::portable_binary);
    bytes = out.str();
    scores = model.anomaly_score(X);
  };
  std::string scalar_bytes;
  redflag::Vector<T> scalar_scores;
  fit(simd::Path::scalar, scalar_bytes, scalar_scores);
  REQUIRE(scalar_scores.allFinite());
  for (const simd::Path path : simd::all_paths) {
    if (path == simd::Path::scalar) continue;
    if (!simd::supported(path)) {
      MESSAGE("skipped on the ", simd::name(path), " path (this CPU lacks it): TransformerAutoencoder fit");
      continue;
    }
    std::string bytes;
    redflag::Vector<T> scores;
    fit(path, bytes, scores);
    INFO("path ", simd::name(path));
    CHECK(bytes == scalar_bytes);
    REQUIRE(scores.size() == scalar_scores.size());
    CHECK(std::memcmp(scores.data(), scalar_scores.data(), sizeof(T) * static_cast<std::size_t>(scores.size())) == 0);
  }
}
