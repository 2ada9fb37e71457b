#pragma once

// The TransformerAutoencoder's kernels (nn/linear.hpp, multi_head_attention.hpp,
// layer_norm.hpp, window_batches.hpp call them): matrix products, the
// attention softmax and its backward pass, layer norm forward and backward,
// column sums and sums of squares, for float and double.
//
// Each is compiled for every path into any build (nn_kernels_body.hpp,
// instantiated with scalar, AVX2+FMA and AVX-512 operations) and chooses
// one per call with simd::kernel_path. Every path gives bit-identical
// results (see nn_kernels_body.hpp for how), so a model trained on one CPU
// scores the same on any other, x86-64 or aarch64, whatever the build flags.
//
// Widest paths: products and the softmax use AVX-512; layer norm and the
// sums along a row use AVX2 on AVX-512 CPUs too (their 8 partial sums fill
// an AVX2 register of floats exactly, and a row of 64 values is too short
// for the wider register to pay).

#include <redflag/simd/detail/nn_vectors.hpp>
#include <redflag/simd/path.hpp>

#include <cmath>
#include <cstddef>
#include <type_traits>

#define REDFLAG_NN_NS nn_scalar
#define REDFLAG_NN_TARGET
#include <redflag/simd/detail/nn_kernels_body.hpp>
#undef REDFLAG_NN_NS
#undef REDFLAG_NN_TARGET

#if REDFLAG_NN_SIMD_X86
#define REDFLAG_NN_NS nn_avx2
#define REDFLAG_NN_TARGET REDFLAG_NN_AVX2
#include <redflag/simd/detail/nn_kernels_body.hpp>
#undef REDFLAG_NN_NS
#undef REDFLAG_NN_TARGET

#define REDFLAG_NN_NS nn_avx512
#define REDFLAG_NN_TARGET REDFLAG_NN_AVX512
#include <redflag/simd/detail/nn_kernels_body.hpp>
#undef REDFLAG_NN_NS
#undef REDFLAG_NN_TARGET
#endif

namespace redflag::simd::detail::nn {

using std::ptrdiff_t;
using Start = GemmStart;

// REDFLAG_NN_DISPATCH: calls KERNEL<ops>(args...) of the active path, up to
// AVX-512; REDFLAG_NN_DISPATCH_AVX2: up to AVX2 (which AVX-512 CPUs also take).
#if REDFLAG_NN_SIMD_X86
#define REDFLAG_NN_DISPATCH(T, KERNEL, ...)                                 \
  switch (kernel_path(Path::avx512)) {                                      \
    case Path::avx512: return nn_avx512::KERNEL<Avx512Ops<T>>(__VA_ARGS__); \
    case Path::avx2: return nn_avx2::KERNEL<Avx2Ops<T>>(__VA_ARGS__);       \
    case Path::scalar: break;                                               \
  }                                                                         \
  return nn_scalar::KERNEL<ScalarOps<T>>(__VA_ARGS__)
#define REDFLAG_NN_DISPATCH_AVX2(T, KERNEL, ...)                                              \
  if (kernel_path(Path::avx2) == Path::avx2) return nn_avx2::KERNEL<Avx2Ops<T>>(__VA_ARGS__); \
  return nn_scalar::KERNEL<ScalarOps<T>>(__VA_ARGS__)
#else
#define REDFLAG_NN_DISPATCH(T, KERNEL, ...)     \
  static_cast<void>(kernel_path(Path::scalar)); \
  return nn_scalar::KERNEL<ScalarOps<T>>(__VA_ARGS__)
#define REDFLAG_NN_DISPATCH_AVX2 REDFLAG_NN_DISPATCH
#endif

// C (M x N, row stride ldc) = start + A B, where A(i, p) = a[i * a_row + p * a_col]
// (a_row = lda, a_col = 1 for a row-major A; a_row = 1, a_col = lda for the
// transpose of a row-major matrix) and B is row-major K x N (row stride
// ldb). start: Start::zero, Start::bias (bias[j], N values) or
// Start::accumulate (C's own values). Every C[i, j] is
// fma(A(i, K-1), B[K-1, j], ... fma(A(i, 0), B[0, j], start)).
template <class T>
void gemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const T* a, ptrdiff_t a_row, ptrdiff_t a_col, const T* b,
          ptrdiff_t ldb, T* c, ptrdiff_t ldc, Start start, const T* bias = nullptr) {
  REDFLAG_NN_DISPATCH(T, gemm, M, N, K, a, a_row, a_col, b, ldb, c, ldc, bias, start);
}

// Softmax down each column of S (rows x cols, cols a multiple of 16).
template <class T>
void softmax_columns(T* s, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld) {
  REDFLAG_NN_DISPATCH(T, softmax_columns, s, rows, cols, ld);
}

// D <- scale * P . (D - colsum(D . P)), down each column (cols a multiple of 16).
template <class T>
void softmax_backward_columns(T* d, const T* p, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, T scale) {
  REDFLAG_NN_DISPATCH(T, softmax_backward_columns, d, p, rows, cols, ld, scale);
}

// One head of self-attention over one sequence (see nn_kernels_body.hpp):
// qt (d_head x padded scratch) = (scale Q)^T, pt (L x padded) = P^T =
// softmax down the columns of K (scale Q)^T, context (L x d_head, row
// stride ldc) = P V. Every value as the separate products and softmax
// compute it.
template <class T>
void attention_forward(ptrdiff_t L, ptrdiff_t padded, ptrdiff_t dh, const T* q, const T* k, const T* v, ptrdiff_t ld,
                       T scale, T* qt, T* pt, T* context, ptrdiff_t ldc) {
  REDFLAG_NN_DISPATCH(T, attention_forward, L, padded, dh, q, k, v, ld, scale, qt, pt, context, ldc);
}

template <class T>
void layer_norm_forward(ptrdiff_t rows, ptrdiff_t n, const T* x, ptrdiff_t ldx, const T* gamma, const T* beta,
                        T epsilon, T* xhat, T* inverse_std, T* y) {
  REDFLAG_NN_DISPATCH_AVX2(T, layer_norm_forward, rows, n, x, ldx, gamma, beta, epsilon, xhat, inverse_std, y);
}

template <class T>
void layer_norm_backward(ptrdiff_t rows, ptrdiff_t n, const T* dy, ptrdiff_t lddy, const T* gamma, const T* xhat,
                         const T* inverse_std, T* d_gamma, T* d_beta, T* dx) {
  REDFLAG_NN_DISPATCH_AVX2(T, layer_norm_backward, rows, n, dy, lddy, gamma, xhat, inverse_std, d_gamma, d_beta, dx);
}

// sums[j] += x[0, j] + x[1, j] + ... in row order.
template <class T>
void add_column_sums(ptrdiff_t rows, ptrdiff_t n, const T* x, ptrdiff_t ldx, T* sums) {
  REDFLAG_NN_DISPATCH(T, add_column_sums, rows, n, x, ldx, sums);
}

// d[i] <- h[i] > 0 ? d[i] : 0, the ReLU's gradient (h is its output).
template <class T>
void relu_backward(ptrdiff_t n, const T* h, T* d) {
  REDFLAG_NN_DISPATCH_AVX2(T, relu_backward, n, h, d);
}

// sum of x[i]^2 through 8 partial sums combined by a fixed tree.
template <class T>
T sum_of_squares(const T* x, ptrdiff_t n) {
  REDFLAG_NN_DISPATCH_AVX2(T, sum_of_squares, x, n);
}

#undef REDFLAG_NN_DISPATCH
#undef REDFLAG_NN_DISPATCH_AVX2

}  // namespace redflag::simd::detail::nn
