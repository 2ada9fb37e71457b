#pragma once

// The register types and operations the TransformerAutoencoder's kernels
// (simd/detail/nn_kernels.hpp) are written with, one traits struct per path
// and scalar type:
//
//   ScalarOps<T>   one T per "register" (every CPU, aarch64 included)
//   Avx2Ops<T>     __m256 / __m256d, target avx2,fma
//   Avx512Ops<T>   __m512 / __m512d, target avx512f,...; its `half` is Avx2Ops<T>
//
// Each operation is one IEEE operation per lane with the same result on
// every path: fma is fused everywhere (std::fma is the hardware instruction
// on FMA CPUs and on aarch64), max(a, b) is `a > b ? a : b` (the semantics
// of MAXPS, NaN included), and pow2 builds 2^n from the integer that
// `n + magic` holds in its low bits, exactly.
//
// (The AVX-512 maximum and shifts are written in their masked forms with
// every lane on: the plain forms leave GCC 12 warning that they read an
// uninitialised register.)
//
// opaque(x) hides a value from the optimiser: GNU dialects let the compiler
// contract a product followed by a sum into a fused multiply-add wherever
// FMA is enabled (target attribute or -march), which would make a path's
// results depend on where the compiler found one. The kernels write every
// fused operation explicitly and pass products that feed a sum through
// opaque.

#include <bit>
#include <cmath>
#include <cstdint>

// Under clang's sanitizers (the fuzz targets) only the scalar kernels are
// compiled, without forced unrolling: there the vector copies, inlined and
// unrolled, only multiplied the instrumented code (the TransformerAutoencoder
// fuzz target: 176 s of CPU to compile with them at -O1, 103 s at -O0 without
// the unrolling). GCC's AddressSanitizer build compiles every path and runs
// the nn tests on each (nn.simd_<path>). Results are the same on every path.
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define REDFLAG_NN_CLANG_SANITIZED
#endif
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(REDFLAG_NN_CLANG_SANITIZED)
#define REDFLAG_NN_SIMD_X86 1
#include <immintrin.h>
#else
#define REDFLAG_NN_SIMD_X86 0
#endif

#define REDFLAG_NN_AVX2 __attribute__((target("avx2,fma")))
#define REDFLAG_NN_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define REDFLAG_NN_INLINE inline __attribute__((always_inline))
// Complete unrolling of the loops over a tile's registers, early enough for
// GCC to keep the accumulator arrays in registers.
#if defined(REDFLAG_NN_CLANG_SANITIZED)
#define REDFLAG_NN_UNROLL
#elif defined(__clang__)
#define REDFLAG_NN_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define REDFLAG_NN_UNROLL _Pragma("GCC unroll 32")
#else
#define REDFLAG_NN_UNROLL
#endif

namespace redflag::simd::detail {

// Where a product's accumulation starts: 0, a bias row, or the output's own values.
enum class GemmStart { zero, bias, accumulate };

// Constants of the exponential (see exp_nonpositive in nn_kernels_body.hpp).
template <class T>
struct ExpConstants;

template <>
struct ExpConstants<float> {
  static constexpr float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr float log2e = 1.44269504088896341f;
  static constexpr float ln2_hi = 0.693359375f;
  static constexpr float ln2_lo = -2.12194440e-4f;
  static constexpr float lowest = -87.0f;  // exp(lowest) is a normal float
  // Cephes expf: exp(r) = 1 + r + r^2 P(r), |r| <= ln 2 / 2.
  static constexpr int degree = 5;
  static constexpr float poly[degree + 1] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                             4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
  using bits = std::int32_t;
  static constexpr int mantissa_bits = 23;
  static constexpr bits exponent_bias = 127;
};

template <>
struct ExpConstants<double> {
  static constexpr double magic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double log2e = 1.4426950408889634074;
  static constexpr double ln2_hi = 6.93145751953125e-1;
  static constexpr double ln2_lo = 1.42860682030941723212e-6;
  static constexpr double lowest = -708.0;
  // exp(r) = 1 + r + r^2 P(r) with P the Taylor coefficients 1/13! .. 1/2!.
  static constexpr int degree = 11;
  static constexpr double poly[degree + 1] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                              1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
                                              1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
  using bits = std::int64_t;
  static constexpr int mantissa_bits = 52;
  static constexpr bits exponent_bias = 1023;
};

template <class T>
REDFLAG_NN_INLINE T opaque_scalar(T x) {
#if REDFLAG_NN_SIMD_X86
  asm("" : "+x"(x));
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
  asm("" : "+w"(x));
#elif defined(__GNUC__) || defined(__clang__)
  asm("" : "+g"(x));
#endif
  return x;
}

template <class Scalar>
struct ScalarOps {
  using T = Scalar;
  using reg = T;
  static constexpr int lanes = 1;
  static constexpr int tile_rows = 4;
  static constexpr int tile_vectors = 4;
  static REDFLAG_NN_INLINE reg load(const T* p) { return *p; }
  static REDFLAG_NN_INLINE void store(T* p, reg x) { *p = x; }
  static REDFLAG_NN_INLINE reg set1(T x) { return x; }
  static REDFLAG_NN_INLINE reg zero() { return T(0); }
  static REDFLAG_NN_INLINE reg fma(reg a, reg b, reg c) { return std::fma(a, b, c); }
  static REDFLAG_NN_INLINE reg fnma(reg a, reg b, reg c) { return std::fma(-a, b, c); }
  static REDFLAG_NN_INLINE reg add(reg a, reg b) { return a + b; }
  static REDFLAG_NN_INLINE reg sub(reg a, reg b) { return a - b; }
  static REDFLAG_NN_INLINE reg mul(reg a, reg b) { return a * b; }
  static REDFLAG_NN_INLINE reg div(reg a, reg b) { return a / b; }
  static REDFLAG_NN_INLINE reg max(reg a, reg b) { return a > b ? a : b; }
  static REDFLAG_NN_INLINE reg opaque(reg x) { return opaque_scalar(x); }
  // h > 0 ? d : 0 (the ReLU's gradient).
  static REDFLAG_NN_INLINE reg where_positive(reg h, reg d) { return h > T(0) ? d : T(0); }
  // 2^n for t = n + magic (|n| small): the integer is t's low bits.
  static REDFLAG_NN_INLINE reg pow2(reg t) {
    using C = ExpConstants<T>;
    using B = typename C::bits;
    const B n = std::bit_cast<B>(t) - std::bit_cast<B>(C::magic);
    return std::bit_cast<T>(static_cast<B>((n + C::exponent_bias) << C::mantissa_bits));
  }
};

#if REDFLAG_NN_SIMD_X86

template <class T>
struct Avx2Ops;

template <>
struct Avx2Ops<float> {
  using T = float;
  using reg = __m256;
  static constexpr int lanes = 8;
  static constexpr int tile_rows = 6;
  static constexpr int tile_vectors = 2;
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg load(const T* p) { return _mm256_loadu_ps(p); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE void store(T* p, reg x) { _mm256_storeu_ps(p, x); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg set1(T x) { return _mm256_set1_ps(x); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg zero() { return _mm256_setzero_ps(); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg fnma(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg where_positive(reg h, reg d) {
    return _mm256_and_ps(_mm256_cmp_ps(h, _mm256_setzero_ps(), _CMP_GT_OQ), d);
  }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg opaque(reg x) {
    asm("" : "+x"(x));
    return x;
  }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg pow2(reg t) {
    const __m256i n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(_mm256_set1_ps(12582912.0f)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
  }
  // x[i] lane j <- x[j] lane i (moves only).
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE void transpose8(reg* x) {
    const reg t0 = _mm256_unpacklo_ps(x[0], x[1]), t1 = _mm256_unpackhi_ps(x[0], x[1]);
    const reg t2 = _mm256_unpacklo_ps(x[2], x[3]), t3 = _mm256_unpackhi_ps(x[2], x[3]);
    const reg t4 = _mm256_unpacklo_ps(x[4], x[5]), t5 = _mm256_unpackhi_ps(x[4], x[5]);
    const reg t6 = _mm256_unpacklo_ps(x[6], x[7]), t7 = _mm256_unpackhi_ps(x[6], x[7]);
    const reg u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    const reg u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    const reg u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    const reg u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    x[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    x[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    x[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    x[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    x[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    x[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    x[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    x[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
  }
};

template <>
struct Avx2Ops<double> {
  using T = double;
  using reg = __m256d;
  static constexpr int lanes = 4;
  static constexpr int tile_rows = 6;
  static constexpr int tile_vectors = 2;
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg load(const T* p) { return _mm256_loadu_pd(p); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE void store(T* p, reg x) { _mm256_storeu_pd(p, x); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg set1(T x) { return _mm256_set1_pd(x); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg zero() { return _mm256_setzero_pd(); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg fma(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg fnma(reg a, reg b, reg c) { return _mm256_fnmadd_pd(a, b, c); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg sub(reg a, reg b) { return _mm256_sub_pd(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg div(reg a, reg b) { return _mm256_div_pd(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg max(reg a, reg b) { return _mm256_max_pd(a, b); }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg where_positive(reg h, reg d) {
    return _mm256_and_pd(_mm256_cmp_pd(h, _mm256_setzero_pd(), _CMP_GT_OQ), d);
  }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg opaque(reg x) {
    asm("" : "+x"(x));
    return x;
  }
  REDFLAG_NN_AVX2 static REDFLAG_NN_INLINE reg pow2(reg t) {
    const __m256i n = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_castpd_si256(_mm256_set1_pd(6755399441055744.0)));
    return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(n, _mm256_set1_epi64x(1023)), 52));
  }
};

template <class T>
struct Avx512Ops;

template <>
struct Avx512Ops<float> {
  using T = float;
  using reg = __m512;
  using half = Avx2Ops<float>;
  static constexpr int lanes = 16;
  static constexpr int tile_rows = 6;
  static constexpr int tile_vectors = 2;
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg load(const T* p) { return _mm512_loadu_ps(p); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE void store(T* p, reg x) { _mm512_storeu_ps(p, x); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg set1(T x) { return _mm512_set1_ps(x); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg zero() { return _mm512_setzero_ps(); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg fnma(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg max(reg a, reg b) {
    return _mm512_mask_max_ps(a, __mmask16(0xffff), a, b);
  }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg opaque(reg x) {
    asm("" : "+v"(x));
    return x;
  }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg pow2(reg t) {
    const __m512i n = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(_mm512_set1_ps(12582912.0f)));
    const __m512i e = _mm512_add_epi32(n, _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_mask_slli_epi32(e, __mmask16(0xffff), e, 23));
  }
};

template <>
struct Avx512Ops<double> {
  using T = double;
  using reg = __m512d;
  using half = Avx2Ops<double>;
  static constexpr int lanes = 8;
  static constexpr int tile_rows = 6;
  static constexpr int tile_vectors = 2;
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg load(const T* p) { return _mm512_loadu_pd(p); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE void store(T* p, reg x) { _mm512_storeu_pd(p, x); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg set1(T x) { return _mm512_set1_pd(x); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg zero() { return _mm512_setzero_pd(); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg fma(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg fnma(reg a, reg b, reg c) { return _mm512_fnmadd_pd(a, b, c); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg sub(reg a, reg b) { return _mm512_sub_pd(a, b); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg div(reg a, reg b) { return _mm512_div_pd(a, b); }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg max(reg a, reg b) {
    return _mm512_mask_max_pd(a, __mmask8(0xff), a, b);
  }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg opaque(reg x) {
    asm("" : "+v"(x));
    return x;
  }
  REDFLAG_NN_AVX512 static REDFLAG_NN_INLINE reg pow2(reg t) {
    const __m512i n = _mm512_sub_epi64(_mm512_castpd_si512(t), _mm512_castpd_si512(_mm512_set1_pd(6755399441055744.0)));
    const __m512i e = _mm512_add_epi64(n, _mm512_set1_epi64(1023));
    return _mm512_castsi512_pd(_mm512_mask_slli_epi64(e, __mmask8(0xff), e, 52));
  }
};

#endif  // REDFLAG_NN_SIMD_X86

}  // namespace redflag::simd::detail
