#pragma once

// portable_exp2 (core/detail/portable_math.hpp) for 8 arguments at a time,
// for AVX-512: the same IEEE operations in the same order, so the same
// doubles. Exact products take one fused multiply-add (a * b - hi is exact
// either way, so it equals Dekker's product of the scalar path), and every
// other operation goes through the explicitly rounded intrinsics, which the
// compiler never contracts into a fused one. Lanes the fast formula does not
// cover (NaN, overflow, a subnormal result) are left to the scalar function.

#include <redflag/core/detail/portable_math.hpp>
#include <redflag/simd/detail/complete_tree_view.hpp>
#include <redflag/simd/path.hpp>

#include <cstddef>

#if REDFLAG_SIMD_X86
#include <immintrin.h>

#include <cstdint>

#define REDFLAG_EXP2_INLINE __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"), always_inline))

namespace redflag::simd::detail {

namespace exp2_avx512 {

constexpr int nearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

REDFLAG_EXP2_INLINE inline __m512d add(__m512d a, __m512d b) { return _mm512_maskz_add_round_pd(0xff, a, b, nearest); }
REDFLAG_EXP2_INLINE inline __m512d sub(__m512d a, __m512d b) { return _mm512_maskz_sub_round_pd(0xff, a, b, nearest); }
REDFLAG_EXP2_INLINE inline __m512d mul(__m512d a, __m512d b) { return _mm512_maskz_mul_round_pd(0xff, a, b, nearest); }
REDFLAG_EXP2_INLINE inline __m512d constant(double value) { return _mm512_set1_pd(value); }

struct Pair {
  __m512d hi;
  __m512d lo;
};

REDFLAG_EXP2_INLINE inline Pair exact_product(__m512d a, __m512d b) {
  const __m512d hi = mul(a, b);
  return {hi, _mm512_fmsub_round_pd(a, b, hi, nearest)};
}

REDFLAG_EXP2_INLINE inline Pair exact_sum(__m512d a, __m512d b) {
  const __m512d hi = add(a, b);
  const __m512d b_part = sub(hi, a);
  return {hi, add(sub(a, sub(hi, b_part)), sub(b, b_part))};
}

}  // namespace exp2_avx512

// out[i] = portable_exp2(x[i]) for i < n.
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) inline void portable_exp2_avx512(const double* x,
                                                                                               double* out,
                                                                                               std::size_t n) {
  using namespace exp2_avx512;
  using redflag::detail::exp2_detail::powers;
  const auto* table = reinterpret_cast<const double*>(powers);  // hi, lo, hi, lo, ...
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512d v = _mm512_loadu_pd(x + i);
    const __m512d shifter = constant(0x1.8p52);
    const __m512d k_real = sub(add(mul(v, constant(64.0)), shifter), shifter);
    const __m512d r = sub(v, _mm512_maskz_div_round_pd(0xff, k_real, constant(64.0), nearest));
    const __m256i k = _mm512_maskz_cvtpd_epi32(0xff, k_real);  // integral already
    const __m256i j = _mm256_and_si256(k, _mm256_set1_epi32(63));
    const __m256i e = _mm256_srai_epi32(k, 6);  // (k - j) / 64
    const Pair rl = exact_product(r, constant(0x1.62e42fefa39efp-1));
    const Pair t = exact_sum(rl.hi, add(rl.lo, mul(r, constant(0x1.abc9e3b39803fp-56))));
    const Pair square = exact_product(t.hi, t.hi);
    const __m512d square_lo = add(square.lo, mul(mul(constant(2.0), t.hi), t.lo));
    __m512d q = constant(0x1.a01a01a01a01ap-13);
    q = add(mul(q, t.hi), constant(0x1.6c16c16c16c17p-10));
    q = add(mul(q, t.hi), constant(0x1.1111111111111p-7));
    q = add(mul(q, t.hi), constant(0x1.5555555555555p-5));
    q = add(mul(q, t.hi), constant(0x1.5555555555555p-3));
    const __m512d cubic = mul(mul(square.hi, t.hi), q);
    const Pair lead = exact_sum(t.hi, mul(constant(0.5), square.hi));
    const Pair m = exact_sum(lead.hi, add(lead.lo, add(t.lo, add(mul(constant(0.5), square_lo), cubic))));
    const __m256i pair = _mm256_add_epi32(j, j);
    const __m512d power_hi = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), 0xff, pair, table, 8);
    const __m512d power_lo = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), 0xff, pair, table + 1, 8);
    const Pair pm = exact_product(power_hi, m.hi);
    const __m512d small = add(power_lo, add(add(pm.lo, mul(power_lo, m.hi)), mul(power_hi, m.lo)));
    const Pair h = exact_sum(power_hi, pm.hi);
    const __m512d mantissa = add(h.hi, add(h.lo, small));
    const __m512i bits = _mm512_maskz_slli_epi64(
        0xff, _mm512_maskz_cvtepi32_epi64(0xff, _mm256_add_epi32(e, _mm256_set1_epi32(1023))), 52);
    _mm512_storeu_pd(out + i, mul(mantissa, _mm512_castsi512_pd(bits)));
    // NaN, x >= 1024, x < -1100 or e < -1021 (a subnormal result): the scalar function.
    const __mmask8 usual = _mm512_cmp_pd_mask(v, constant(1024.0), _CMP_LT_OQ) &
                           _mm512_cmp_pd_mask(v, constant(-1100.0), _CMP_GE_OQ) &
                           _mm256_cmp_epi32_mask(e, _mm256_set1_epi32(-1021), _MM_CMPINT_NLT);
    if (usual != 0xff) {
      double argument[8];  // out may be x, already overwritten
      _mm512_storeu_pd(argument, v);
      for (int lane = 0; lane < 8; ++lane) {
        if (((usual >> lane) & 1) == 0) out[i + lane] = redflag::detail::portable_exp2(argument[lane]);
      }
    }
  }
  for (; i < n; ++i) out[i] = redflag::detail::portable_exp2(x[i]);
}

}  // namespace redflag::simd::detail

#undef REDFLAG_EXP2_INLINE

#endif

namespace redflag::simd::detail {

// out[i] = portable_exp2(x[i]) for i < n (out may be x), 8 at a time where
// the active path is AVX-512.
inline void portable_exp2_each(const double* x, double* out, std::size_t n) {
#if REDFLAG_SIMD_X86
  if (kernel_path(Path::avx512) == Path::avx512) {
    portable_exp2_avx512(x, out, n);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = redflag::detail::portable_exp2(x[i]);
}

}  // namespace redflag::simd::detail
