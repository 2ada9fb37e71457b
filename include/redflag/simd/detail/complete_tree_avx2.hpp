#pragma once

// The complete-tree walk (forest/detail/complete_tree.hpp) for AVX2, float
// rows only: 64 rows a round, 8 vectors of 8 floats. The splits of the top
// five levels (slots 1-31) come from registers by permutes, deeper ones by
// gathers; the row values are always gathered. Row offsets are 32-bit lanes
// (stride * 8 must fit an int32). For double rows the same walk, 4 lanes of
// 64-bit gathers, measured slower than the scalar walk on AVX2 CPUs
// (docs/performance.md), so they keep the scalar walk there.

#include <redflag/simd/detail/complete_tree_view.hpp>

#if REDFLAG_SIMD_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace redflag::simd::detail {

// Gathers in their masked form with a zero source and every lane on: the
// plain forms leave GCC 12 warning that they read an uninitialised register.
template <int Scale>
__attribute__((target("avx2,fma"))) inline __m256i gather_i32(const int* base, __m256i index) {
  return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), base, index, _mm256_set1_epi32(-1), Scale);
}
__attribute__((target("avx2,fma"))) inline __m256 gather_ps(const float* base, __m256i index) {
  return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, index, _mm256_castsi256_ps(_mm256_set1_epi32(-1)), 4);
}
__attribute__((target("avx2,fma"))) inline __m256d gather_pd(const double* base, __m128i index) {
  return _mm256_mask_i32gather_pd(_mm256_setzero_pd(), base, index, _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), 8);
}

template <class Leaf>
__attribute__((target("avx2,fma"))) void complete_tree_leaves_avx2(const CompleteTreeView<float, Leaf>& tree,
                                                                   const float* X, std::size_t stride,
                                                                   std::size_t count, Out<Leaf>* out) {
  constexpr int vectors = 8;
  const auto* packed = reinterpret_cast<const __m128i*>(tree.feature);
  const __m256i feature_0 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed));      // slots 0-7
  const __m256i feature_8 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 1));  // slots 8-15
  const __m256 value_0 = _mm256_loadu_ps(tree.value);
  const __m256 value_8 = _mm256_loadu_ps(tree.value + 8);
  const __m256i feature_16 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 2));  // slots 16-23
  const __m256i feature_24 = _mm256_cvtepu16_epi32(_mm_loadu_si128(packed + 3));  // slots 24-31
  const __m256 value_16 = _mm256_loadu_ps(tree.value + 16);
  const __m256 value_24 = _mm256_loadu_ps(tree.value + 24);
  const __m256i low_16 = _mm256_set1_epi32(0xffff);
  const __m256i width = _mm256_set1_epi32(std::int32_t{1} << tree.depth);
  const __m256i lane = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                          _mm256_set1_epi32(static_cast<std::int32_t>(stride)));
  const __m256i one = _mm256_set1_epi32(1);
  const int* feature_words = reinterpret_cast<const int*>(tree.feature);
  for (std::size_t r = 0; r < count; r += complete_tree_rows) {
    __m256i at[vectors];
    for (int v = 0; v < vectors; ++v) at[v] = one;
    for (std::int32_t level = 0; level < tree.depth; ++level) {
      for (int v = 0; v < vectors; ++v) {
        __m256i split_feature;
        __m256 split_value;
        if (level < 3) {  // permutes read an index's low three bits: slots 0-7, then 8-15
          split_feature = _mm256_permutevar8x32_epi32(feature_0, at[v]);
          split_value = _mm256_permutevar8x32_ps(value_0, at[v]);
        } else if (level == 3) {
          split_feature = _mm256_permutevar8x32_epi32(feature_8, at[v]);
          split_value = _mm256_permutevar8x32_ps(value_8, at[v]);
        } else if (level == 4) {  // slots 16-31: two tables, picked by bit 3
          const __m256 upper = _mm256_castsi256_ps(_mm256_slli_epi32(at[v], 28));
          split_feature = _mm256_castps_si256(
              _mm256_blendv_ps(_mm256_castsi256_ps(_mm256_permutevar8x32_epi32(feature_16, at[v])),
                               _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(feature_24, at[v])), upper));
          split_value = _mm256_blendv_ps(_mm256_permutevar8x32_ps(value_16, at[v]),
                                         _mm256_permutevar8x32_ps(value_24, at[v]), upper);
        } else {
          split_feature = _mm256_and_si256(gather_i32<2>(feature_words, at[v]), low_16);
          split_value = gather_ps(tree.value, at[v]);
        }
        const __m256 x = gather_ps(X + (r + 8 * v) * stride, _mm256_add_epi32(lane, split_feature));
        // All ones where x > value (false for NaN): twice minus -1 takes the right child.
        const __m256i right = _mm256_castps_si256(_mm256_cmp_ps(split_value, x, _CMP_LT_OQ));
        at[v] = _mm256_sub_epi32(_mm256_add_epi32(at[v], at[v]), right);
      }
    }
    for (int v = 0; v < vectors; ++v) {
      const __m256i slot = _mm256_sub_epi32(at[v], width);
      if constexpr (std::is_same_v<Leaf, double>) {
        double* sum = out + r + 8 * v;
        const __m256d low = gather_pd(tree.bottom, _mm256_castsi256_si128(slot));
        const __m256d high = gather_pd(tree.bottom, _mm256_extracti128_si256(slot, 1));
        _mm256_storeu_pd(sum, _mm256_add_pd(_mm256_loadu_pd(sum), low));
        _mm256_storeu_pd(sum + 4, _mm256_add_pd(_mm256_loadu_pd(sum + 4), high));
      } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r + 8 * v),
                            gather_i32<4>(reinterpret_cast<const int*>(tree.bottom), slot));
      }
    }
  }
}

}  // namespace redflag::simd::detail

#endif
